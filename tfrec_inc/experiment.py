"""Runs one experiment config end to end: prepare -> study -> write -> publish.

The data is loaded and checked before TensorFlow starts (bad data fails fast), the
runtime (``tf.distribute`` strategy) is started before the first TensorFlow op, the study
named by ``cfg.study`` runs under the strategy's scope, and the results store writes
``metrics.csv``, reports and the manifest into ``<dir>.partial`` and renames it into
place only when everything succeeded. Studies checkpoint finished steps in the store, so
``resume=True`` continues an interrupted run; TensorFlow ops run deterministically, so
the resumed run's metrics equal an uninterrupted run's (wall times aside).
"""

from __future__ import annotations

import platform
import subprocess
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from tfrec_inc.config import ExperimentConfig, resolve_study
from tfrec_inc.prepare import Prepared, load_domain, prepare

PACKAGES = (
    "tensorflow", "tf-keras", "tensorflow-recommenders", "tensorflow-hub", "tensorflow-text",
    "tensorflow-model-optimization", "scann", "numpy", "pandas",
)


def run(cfg: ExperimentConfig, output: str | Path | None = None, quiet: bool = False,
        resume: bool = False) -> Path:
    """Runs the study of ``cfg`` and writes its results folder.

    Args:
      cfg: a validated experiment config (see `tfrec_inc.config.load`).
      output: results folder; defaults to ``results/<experiment>``.
      quiet: no progress bars.
      resume: continue an interrupted run from the checkpoints in ``<output>.partial``.

    Returns:
      The results folder: ``config.yaml``, ``metrics.csv``, ``per_user.csv.gz``,
      tables, ``plots/``, ``models/`` and ``manifest.json``.

    Example (the full quickstart trains for minutes and writes ``results/quickstart``, so it
    is not run by the tests; the `tfrec_inc` package example runs a tiny study):
      >>> from tfrec_inc import config
      >>> run(config.load("experiments/quickstart.yaml"))  # doctest: +SKIP
      PosixPath('results/quickstart')
    """
    started = time.time()
    out = Path(output) if output is not None else Path("results") / cfg.experiment
    loaded = load_domain(cfg)  # before TensorFlow: bad data fails fast

    import tensorflow as tf

    from tfrec_inc import runtime as runtime_lib
    from tfrec_inc import studies
    from tfrec_inc.models import training
    from tfrec_inc.reporting.reports import write_reports
    from tfrec_inc.results import ResultsStore

    # Before any TensorFlow op: logical devices and collective ops are fixed at start-up.
    rt = runtime_lib.start(cfg.runtime)
    out = rt.output_dir(out)  # multi-worker: only the chief writes `output`
    # Same seed, same data -> same numbers, which is what makes --resume exact.
    tf.config.experimental.enable_op_determinism()
    prepared = prepare(cfg, quiet=quiet, loaded=loaded)
    store = ResultsStore(out, cfg, resume)
    kind = resolve_study(cfg)  # a loaded config has it resolved already
    # Models are built (and so trained) under the strategy; `fit` splits each global batch.
    with rt.strategy.scope(), training.tensorboard_logs(cfg.runtime.tensorboard):
        output_records = studies.get(kind)(cfg, prepared, store, quiet)
    frame, per_user = store.write(output_records)
    write_reports(frame, per_user, store.staging, cfg.report.metrics, study=kind)
    store.write_manifest(_manifest(cfg, prepared, rt.describe(), resume, started))
    return store.publish()


def _manifest(cfg: ExperimentConfig, prepared: Prepared, runtime: dict[str, Any], resume: bool,
              started: float) -> dict[str, Any]:
    """Provenance of a run: study kind, config hash, commit, versions, data and window sizes."""
    data = prepared.data
    return {
        "experiment": cfg.experiment,
        "study": cfg.study,
        "config_hash": cfg.digest(),
        "git_commit": _git_commit(),
        "versions": _versions(),
        "dataset": {
            "name": data.name,
            "users": data.num_users,
            "items": data.num_items,
            "interactions": len(data.interactions),
        },
        "text_vectors": prepared.text_info,
        "windows": [
            {"train": len(w.train), "valid": len(w.valid), "test": len(w.test)} for w in prepared.windows
        ],
        "runtime": runtime,
        "resumed": bool(resume),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "wall_seconds": round(time.time() - started, 2),
    }


def _versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def _git_commit() -> str | None:
    try:
        res = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10,
            cwd=Path(__file__).resolve().parent,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return res.stdout.strip() or None if res.returncode == 0 else None
