"""``tfrec-inc tune CONFIG``: search every model's space on the first window, write the chosen config.

Every model with a space (`tfrec_inc.evaluation.search.space`: its ``search``, or a computed
type's ``grid``) is tuned with the same number of trials on the first window's validation
slice (`tfrec_inc.evaluation.search.search`). The output is the input YAML with each tuned
model's chosen values set and its ``search`` and ``grid`` removed, so ``tfrec-inc run`` on
it trains and builds every tuned model with fixed settings (baselines are then no longer
re-tuned per window: every row was tuned once, alike), plus ``<output>.trials.csv`` with
every trial's point and validation recall.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml
from tqdm.auto import tqdm

from tfrec_inc import atomic, config
from tfrec_inc.config import model_label
from tfrec_inc.errors import ConfigError, DataError
from tfrec_inc.prepare import load_domain, prepare


def tune(path: str | Path, trials: int, output: str | Path, seed: int = 0, quiet: bool = False) -> Path:
    """Tunes the models of the config at ``path`` and writes the tuned config to ``output``.

    Args:
      path: an experiment YAML.
      trials: the budget of every model (points scored on validation).
      output: the YAML to write (its trials go next to it, ``<stem>.trials.csv``).
      seed: the sampler and training seed.
      quiet: no progress bar.

    Returns:
      ``output``.

    Raises:
      ConfigError: a bad config, ``trials < 1``, or no model with a space to search.
      DataError: unreadable data.

    Example (trains every trial: minutes, so not run by the tests; `tests/test_tune.py` tunes a toy):
      >>> tune("experiments/movielens_100k.yaml", 20, "/tmp/tuned.yaml")  # doctest: +SKIP
    """
    from tfrec_inc.evaluation.search import search, space

    if trials < 1:
        raise ConfigError(f"--trials must be >= 1, got {trials}")
    cfg = config.load(path)
    raw = _raw(Path(path))
    todo = [i for i, m in enumerate(cfg.models) if space(m)]
    if not todo:
        raise ConfigError(f"{path}: no model has a search (or grid) space to tune")
    prepared = prepare(cfg, quiet=True, loaded=load_domain(cfg))
    window = prepared.windows[0]
    frames = []
    for i in tqdm(todo, desc="tune", unit="model", disable=quiet):
        model = cfg.models[i]
        chosen, frame = search(model, prepared, window, cfg.evaluation, trials, seed)
        frames.append(frame.assign(model=model_label(model)))
        entry = raw["models"][i] = dict(raw["models"][i])  # YAML aliases may share one mapping
        entry.pop("search", None)
        entry.pop("grid", None)
        entry.update(chosen)
    output = Path(output)
    atomic.write_text(output.with_suffix(".trials.csv"), pd.concat(frames).to_csv(index=False))
    header = f"# Tuned by `tfrec-inc tune {path} --trials {trials}` on window 0's validation slice.\n"
    atomic.write_text(output, header + yaml.safe_dump(raw, sort_keys=False))
    return output


def _raw(path: Path) -> dict:
    """The YAML as plain data (anchors and merges resolved), to write back with chosen values."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DataError(f"{path}: unreadable ({exc})") from None
    return raw
