"""tfrec_inc: incremental learning of recommenders built on pretrained text encoders (TFRS).

TFRS, TF Hub and TF-MOT are Keras 2 libraries, so Keras 2 (tf-keras) is selected here,
before anything can import TensorFlow.

Example (``tfrec_inc.run("experiments/quickstart.yaml")`` is the full quickstart; here a
tiny synthetic run of the popularity baseline, written to a temporary folder):
  >>> import shutil, tempfile
  >>> import tfrec_inc
  >>> out = tempfile.mkdtemp()
  >>> results_dir = tfrec_inc.run({"seeds": [0], "windows": {"num_windows": 2},
  ...     "data": {"options": {"num_users": 60, "num_items": 40, "num_interactions": 600}},
  ...     "models": [{"name": "popularity", "type": "popularity"}], "strategies": ["static"]},
  ...     output=out, quiet=True)
  >>> sorted(p.name for p in results_dir.glob("*.*"))
  ['config.yaml', 'manifest.json', 'metrics.csv', 'per_user.csv.gz', 'table.md', 'table.tex']
  >>> shutil.rmtree(out)
"""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
# TensorFlow's C++ start-up chatter (CUDA probing, oneDNN notes) is noise on CPU machines.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"


def run(config, output=None, overrides=(), quiet=False, resume=False):
    """Runs an experiment and returns its results folder.

    Args:
      config: a YAML path, a plain dict, or an `ExperimentConfig`.
      output: results folder (default ``results/<experiment>``).
      overrides: ``"a.b=c"`` strings applied to a YAML path or dict.
      quiet: no progress bars.
      resume: continue an interrupted run from its checkpoints.

    Returns:
      `pathlib.Path` of the results folder.
    """
    import copy

    from tfrec_inc import config as config_lib
    from tfrec_inc.experiment import run as run_experiment

    if isinstance(config, config_lib.ExperimentConfig):
        cfg = config
    elif isinstance(config, dict):
        raw = copy.deepcopy(config)
        for item in overrides:
            config_lib.apply_override(raw, item)
        cfg = config_lib.from_dict(raw)
    else:
        cfg = config_lib.load(config, overrides)
    return run_experiment(cfg, output=output, quiet=quiet, resume=resume)
