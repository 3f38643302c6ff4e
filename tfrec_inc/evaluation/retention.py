"""Forgetting: how the model updated at window ``t`` scores on earlier windows' test slices.

Design (chosen so that nothing from a measured period is trained on after it): every
window's test slice is an evaluation period only. No strategy ever trains on it, not
at its own window and not later (`held_out` gives the rows the incremental study drops
from every update's data). Retention is then measured on the *whole* test slice of every
earlier window, with that window's history and candidates, so later updates cannot have
learnt the measured period from other users of the same slice.

Two numbers per step ``t >= 1`` and cut-off ``K``:

- ``retention@K``: mean over earlier windows ``s < t`` of ``R[t, s]``, the Recall@K of the
  model after update ``t`` on window ``s``'s test slice;
- ``bwt@K`` (backward transfer, Lopez-Paz & Ranzato 2017): mean over ``s < t`` of
  ``R[t, s] - R[s, s]``, where ``R[s, s]`` is the recall the model had on that slice when
  it was window ``s``'s model (its own test recall). Negative is forgetting; a model
  that never changes (``static``) has exactly 0.

Written here because no TFRS or Keras component measures continual-learning retention.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from tfrec_inc.config import EvaluationConfig
from tfrec_inc.data.catalog import Catalog
from tfrec_inc.data.windows import Window
from tfrec_inc.evaluation.protocol import evaluate_retrieval
from tfrec_inc.results import Record, record

OwnRecall = Mapping[tuple[int, int], float]
"""``(window index s, K) -> R[s, s]``: each window's own test Recall@K."""


def held_out(windows: Sequence[Window]) -> pd.Index:
    """Rows no update may train on: the test slice of every window but the last.

    (Nothing trains after the last window, so its test slice needs no exclusion.)

    Example:
      >>> from tfrec_inc.config import WindowsConfig
      >>> from tfrec_inc.data import load
      >>> from tfrec_inc.data.windows import split
      >>> data = load("synthetic", num_users=60, num_items=40, num_interactions=600)
      >>> ws = split(data.interactions, WindowsConfig(num_windows=4))
      >>> len(held_out(ws)) == sum(len(w.test) for w in ws[:-1])
      True
    """
    if len(windows) < 2:
        return pd.Index([])
    return pd.Index(np.concatenate([w.test.index.to_numpy() for w in windows[:-1]]))


def own_recall(records: Sequence[Record], window: int) -> dict[tuple[int, int], float]:
    """``R[s, s]`` entries from one step's records (group ``all`` recall at each K)."""
    return {(window, int(r["k"])): r["value"] for r in records
            if r["metric"] == "recall" and r["group"] == "all" and r["k"] is not None}


def evaluate_retention(model, catalog: Catalog, earlier: Sequence[Window], cfg: EvaluationConfig,
                       own: OwnRecall, seed: int = 0) -> list[Record]:
    """``retention@K`` and ``bwt@K`` of ``model`` over the ``earlier`` windows.

    Args:
      model: the model after the current update.
      catalog: the dataset's catalog.
      earlier: windows before the current one (their test slices were never trained on).
      cfg: evaluation settings (``ks``).
      own: each earlier window's own test recall ``R[s, s]`` (see `own_recall`); a
        window missing from it (no users) is left out of ``bwt``.
      seed: tie-breaking seed, the same as the test evaluation's, so that an unchanged
        model reproduces ``R[s, s]`` exactly.

    Returns:
      Records ``{"group": "all", "metric": "retention" | "bwt", "k", "value"}`` (none if
      ``earlier`` is empty).
    """
    now: dict[int, list[float]] = {}
    delta: dict[int, list[float]] = {}
    for window in earlier:
        for r in _recall_at(model, catalog, window, cfg, seed):
            k, value = int(r["k"]), r["value"]
            now.setdefault(k, []).append(value)
            if (window.index, k) in own:
                delta.setdefault(k, []).append(value - own[(window.index, k)])
    return ([record("retention", float(np.mean(v)), "all", k) for k, v in sorted(now.items())]
            + [record("bwt", float(np.mean(v)), "all", k) for k, v in sorted(delta.items())])


def _recall_at(model, catalog: Catalog, window: Window, cfg: EvaluationConfig, seed: int) -> list[Record]:
    found = evaluate_retrieval(model, catalog, window, cfg, groups=("all",), seed=seed)
    return [r for r in found if r["metric"] == "recall" and r["k"] in cfg.ks]
