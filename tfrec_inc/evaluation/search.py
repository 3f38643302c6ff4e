"""``tfrec-inc tune``: one search procedure and one budget for every model, on validation only.

Each model with a ``search`` space (`tfrec_inc.config.ModelConfig.search`; a computed
baseline without one is searched over its ``grid``) gets the same number of trials. A trial
is a point of the space; the model is built on the window's training slice, trained (the
trained types, early-stopped on the same validation monitor as in the studies) and scored
by full-ranking validation Recall@20 (`tfrec_inc.evaluation.protocol.validation_recall`).
The test slice is never read. The best point (ties: the earliest trial) is the choice.

Optuna (not Keras Tuner) samples the points: the baselines are numpy/`implicit` models that
Keras Tuner's model-building hypermodels cannot wrap, and one sampler for every row is what
makes the budget the same. A space with no more points than trials is enumerated (every
point once, in grid order as `selection` does); a larger one is sampled by the seeded TPE sampler, and
a point it proposes twice is scored once (the repeat still spends a trial). A space
smaller than the budget thus uses fewer trials: all it has.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from typing import Any

import pandas as pd

from tfrec_inc.config import EvaluationConfig, ModelConfig
from tfrec_inc.data.windows import Window
from tfrec_inc.evaluation import protocol
from tfrec_inc.models import training
from tfrec_inc.models.factory import build, is_trained
from tfrec_inc.prepare import Prepared


def space(model_cfg: ModelConfig) -> dict[str, list[Any]]:
    """The values the tuner tries per key: ``search``, else a computed type's ``grid``, else none.

    Example:
      >>> space(ModelConfig(type="ease", grid={"ease_lambda": [1.0, 10.0]}))
      {'ease_lambda': [1.0, 10.0]}
    """
    if model_cfg.search:
        return model_cfg.search
    return {} if is_trained(model_cfg) else model_cfg.grid


def _score(point: dict[str, Any], model_cfg: ModelConfig, prepared: Prepared, window: Window,
           eval_cfg: EvaluationConfig, seed: int) -> float:
    """Validation Recall@20 of ``model_cfg`` at ``point``, built (and trained) on ``window.train``."""
    import tensorflow as tf

    tf.keras.utils.set_random_seed(seed)
    cfg = dataclasses.replace(model_cfg, grid={}, search={}, **point)
    model = build(cfg, prepared, window.train)

    def recall(m) -> float:
        return protocol.validation_recall(m, prepared.catalog, window, eval_cfg, seed)

    if is_trained(cfg):
        training.fit_frames(model, prepared.catalog, window.train, recall, prepared.row_history, cfg,
                            seed=seed, progress=False)
    return recall(model)


def search(model_cfg: ModelConfig, prepared: Prepared, window: Window, eval_cfg: EvaluationConfig,
           trials: int, seed: int = 0) -> tuple[dict[str, Any], pd.DataFrame]:
    """Tunes one model: ``trials`` points of its `space`, scored on ``window``'s validation slice.

    Args:
      model_cfg: the model (its `space` must not be empty).
      prepared: the domain.
      window: the window to tune on (its ``train`` and ``valid`` slices).
      eval_cfg: evaluation settings (seen-item exclusion, cut-offs).
      trials: the budget (points scored, repeats included).
      seed: the sampler's seed, each build's random seed and the ranking's tie order.

    Returns:
      ``(best point, trials)``: the point with the highest validation recall (the earliest
      of ties) and one row per trial (``trial``, each key, ``valid_recall``).

    Raises:
      ValueError: an empty space or ``trials < 1``.
    """
    values = space(model_cfg)
    if not values or trials < 1:
        raise ValueError(f"{model_cfg.name or model_cfg.type}: nothing to tune "
                         f"(space {values}, trials {trials})")
    proposals = _Proposals({key: len(v) for key, v in values.items()}, trials, seed)
    scored: dict[tuple[int, ...], float] = {}
    rows, points = [], []
    for number in range(proposals.budget):
        picks = proposals.ask(number)
        point = {key: values[key][i] for key, i in zip(values, picks, strict=True)}
        if picks not in scored:
            scored[picks] = _score(point, model_cfg, prepared, window, eval_cfg, seed)
        proposals.tell(scored[picks])
        points.append(point)
        shown = {key: repr(value) for key, value in point.items()}
        rows.append({"trial": number, **shown, "valid_recall": scored[picks]})
    frame = pd.DataFrame(rows)
    return points[int(frame["valid_recall"].to_numpy().argmax())], frame  # argmax: the first of ties


class _Proposals:
    """The points to score, as value indices: the whole grid in order when it fits the budget,
    else Optuna's seeded TPE (ask/tell). Indices keep list values (``layers``) and mixed types exact.

    Args:
      sizes: key -> number of values.
      trials: the budget.
      seed: TPE's seed.
    """

    def __init__(self, sizes: dict[str, int], trials: int, seed: int) -> None:
        self.sizes = sizes
        self.grid: list[tuple[int, ...]] | None = None
        if math.prod(sizes.values()) <= trials:
            self.grid = list(itertools.product(*(range(n) for n in sizes.values())))
            self.budget = len(self.grid)
            return
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
        self.budget = trials

    def ask(self, number: int) -> tuple[int, ...]:
        if self.grid is not None:
            return self.grid[number]
        self.trial = self.study.ask()
        return tuple(self.trial.suggest_categorical(key, list(range(n))) for key, n in self.sizes.items())

    def tell(self, value: float) -> None:
        if self.grid is None:
            self.study.tell(self.trial, value)
