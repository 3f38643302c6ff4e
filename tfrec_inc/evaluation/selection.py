"""Tuning a computed baseline on validation: one stated grid, the same procedure for every model.

A model's ``grid`` (`tfrec_inc.config.ModelConfig.grid`) lists values per key; every
combination is built and scored by `tfrec_inc.evaluation.protocol.validation_recall`
on the window's validation slice only (the test slice is never read), and the best
one is kept, ties going to the first combination in grid order (keys in the order
given, the last key varying fastest). The studies record the chosen values as
``param_<key>`` metrics.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from typing import Any

import pandas as pd
import tensorflow as tf

from tfrec_inc.config import EvaluationConfig, ModelConfig
from tfrec_inc.data.windows import Window
from tfrec_inc.evaluation import protocol
from tfrec_inc.models.base import TwoTower
from tfrec_inc.models.factory import build
from tfrec_inc.prepare import Prepared
from tfrec_inc.results import Record, record

PARAM_PREFIX = "param_"


def grid_points(model_cfg: ModelConfig) -> list[dict[str, Any]]:
    """Every combination of ``model_cfg.grid`` in grid order (``[{}]`` for an empty grid).

    Example:
      >>> grid_points(ModelConfig(type="ease", grid={"ease_lambda": [1.0, 10.0]}))
      [{'ease_lambda': 1.0}, {'ease_lambda': 10.0}]
    """
    keys = list(model_cfg.grid)
    return [dict(zip(keys, values, strict=True))
            for values in itertools.product(*(model_cfg.grid[k] for k in keys))]


def tuned(model_cfg: ModelConfig, prepared: Prepared, train: pd.DataFrame, window: Window,
          eval_cfg: EvaluationConfig, current: pd.DataFrame | None = None,
          seed: int | None = None) -> tuple[TwoTower, dict[str, Any]]:
    """The best grid point of ``model_cfg`` by validation recall, built on ``train``.

    Args:
      model_cfg: a computed type's config; each grid point is
        ``dataclasses.replace(model_cfg, **point)``.
      prepared: the domain.
      train: the data each model is built on.
      window: the window whose validation slice scores the points (``window.test`` is
        never read).
      eval_cfg: evaluation settings (cut-offs, seen-item exclusion).
      current: the current window's training slice (see `tfrec_inc.models.factory.build`).
      seed: when given, ``tf.keras.utils.set_random_seed(seed)`` before each build, so
        every point starts from the same random state (``ials``); also the seed of the
        validation ranking's tie order (0 when not given).

    Returns:
      ``(model, chosen point)``; with an empty grid, the one model and ``{}`` (nothing
      is scored on validation).
    """
    points = grid_points(model_cfg)
    best: tuple[float, TwoTower, dict[str, Any]] | None = None
    for point in points:
        if seed is not None:
            tf.keras.utils.set_random_seed(seed)
        model = build(dataclasses.replace(model_cfg, **point), prepared, train, current=current)
        if len(points) == 1:
            return model, point
        # Positional: tests stand in for validation_recall with ``lambda *a``.
        score = protocol.validation_recall(model, prepared.catalog, window, eval_cfg,
                                           0 if seed is None else seed)
        if best is None or score > best[0]:
            best = (score, model, point)
    assert best is not None  # a grid has at least one point
    return best[1], best[2]


def param_records(point: dict[str, Any]) -> list[Record]:
    """``param_<key>`` records of a chosen grid point (none for an empty grid)."""
    return [record(f"{PARAM_PREFIX}{key}", value) for key, value in point.items()]


def chosen_config(model_cfg: ModelConfig, records: Sequence[Record]) -> ModelConfig:
    """``model_cfg`` with the grid values that ``param_<key>`` records say were chosen.

    Records hold floats; each is mapped back to the grid value it came from, so an
    integer key (``factors``) stays an integer. Used to rebuild a checkpointed model
    with the chosen shapes on ``--resume``.
    """
    found = {}
    for r in records:
        key = r["metric"].removeprefix(PARAM_PREFIX)
        if r["metric"].startswith(PARAM_PREFIX) and key in model_cfg.grid:
            found[key] = next(v for v in model_cfg.grid[key] if float(v) == float(r["value"]))
    return dataclasses.replace(model_cfg, **found)
