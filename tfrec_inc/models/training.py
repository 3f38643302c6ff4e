"""The one training loop: Keras ``fit`` with early stopping on a validation monitor, timed.

Every study trains through `fit` / `fit_frames` (incremental updates, transfer source
and target models, compression fine-tuning), so epochs, early stopping and timing mean
the same everywhere.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import tensorflow as tf
from tqdm.auto import tqdm

from tfrec_inc.config import ModelConfig
from tfrec_inc.data.catalog import Catalog
from tfrec_inc.data.windows import make_dataset

# ``monitor(model) -> float``: the model's quality on a validation slice, higher is better.
# The evaluation layer (above this one) supplies it, e.g. full-ranking validation Recall@20.
Monitor = Callable[[Any], float]
MONITORED = "val_monitor"  # the logs key `BestEpoch` writes (for the bar and History)
_TENSORBOARD: list[tuple[Path, Iterator[int]]] = []  # the active `tensorboard_logs` folder


@contextlib.contextmanager
def tensorboard_logs(folder: str | Path | None) -> Iterator[None]:
    """Within the block, every `fit` also writes Keras TensorBoard logs under ``folder``.

    Each call gets its own run folder ``<nnnn>_<desc>`` (a counter, then its label), holding
    per-epoch ``loss`` and the early-stopping ``val_monitor``. ``None``: no logs.

    Example:
      >>> with tensorboard_logs(None):
      ...     pass
    """
    if folder is None:
        yield
        return
    _TENSORBOARD.append((Path(folder), itertools.count()))
    try:
        yield
    finally:
        _TENSORBOARD.pop()


def _tensorboard_callback(desc: str) -> tf.keras.callbacks.Callback | None:
    if not _TENSORBOARD:
        return None
    folder, counter = _TENSORBOARD[-1]
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", desc).strip("_") or "fit"
    return tf.keras.callbacks.TensorBoard(log_dir=str(folder / f"{next(counter):04d}_{name}"),
                                          write_graph=False, profile_batch=0)


@dataclasses.dataclass(frozen=True)
class FitResult:
    """What one training run cost.

    Attributes:
      epochs: epochs actually run (early stopping may cut them short).
      seconds: wall time of ``fit`` (the per-epoch monitor calls included).
      examples: training examples processed (epochs × slice size).
      best_epoch: the 1-based epoch whose weights the model ends with: the monitor's best
        (the first of ties) when early stopping ran, else the last epoch.
      monitor_seconds: the part of ``seconds`` spent in monitor calls.
    """

    epochs: int
    seconds: float
    examples: int
    best_epoch: int = 0
    monitor_seconds: float = 0.0


class _EpochBar(tf.keras.callbacks.Callback):
    """A tqdm bar over epochs that shows the latest loss and monitored value."""

    def __init__(self, epochs: int, desc: str) -> None:
        super().__init__()
        self.bar = tqdm(total=epochs, desc=desc, unit="epoch", leave=False)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        shown = {k: f"{v:.4g}" for k, v in logs.items() if k in ("loss", MONITORED)}
        self.bar.set_postfix(shown)
        self.bar.update(1)

    def on_train_end(self, logs=None):
        self.bar.close()


class BestEpoch(tf.keras.callbacks.Callback):
    """Early stopping on ``monitor(model)`` (higher is better), restoring the best epoch.

    Keras's ``EarlyStopping(monitor="val_loss")`` cannot be used: TFRS's ``test_step``
    returns the raw per-batch loss and ``evaluate`` keeps the last step's logs, so
    ``val_loss`` is the loss of the final, partial validation batch, penalty terms
    included. The monitor here scores the whole model on the whole slice instead.

    Unlike ``EarlyStopping``, the best weights are restored also when training runs out of
    epochs, so the model always ends at its best monitored epoch.

    Args:
      monitor: ``monitor(model) -> float``, called after every epoch.
      patience: epochs without strict improvement before training stops (>= 1).
    """

    def __init__(self, monitor: Monitor, patience: int) -> None:
        super().__init__()
        self.monitor, self.patience = monitor, patience
        self.scores: list[float] = []
        self.best, self.best_epoch = -np.inf, 0
        self.seconds = 0.0
        self._best_weights: list[np.ndarray] | None = None

    def on_epoch_end(self, epoch, logs=None):
        start = time.perf_counter()
        score = float(self.monitor(self.model))
        self.seconds += time.perf_counter() - start
        self.scores.append(score)
        if logs is not None:
            logs[MONITORED] = score
        if score > self.best:  # strict: ties keep the earlier (less trained) epoch
            self.best, self.best_epoch = score, len(self.scores)
            self._best_weights = self.model.get_weights()
        elif len(self.scores) - self.best_epoch >= self.patience:
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self._best_weights is not None and self.best_epoch != len(self.scores):
            self.model.set_weights(self._best_weights)


def fit(
    model: tf.keras.Model,
    train: tf.data.Dataset,
    monitor: Monitor | None,
    cfg: ModelConfig,
    num_examples: int,
    progress: bool = True,
    desc: str = "train",
    callbacks: list[tf.keras.callbacks.Callback] | None = None,
) -> FitResult:
    """Trains ``model`` for up to ``cfg.epochs``, early-stopping on ``monitor``.

    With a monitor and ``cfg.patience > 0``, ``monitor(model)`` is called after every
    epoch; training stops after ``patience`` epochs without improvement and the best
    epoch's weights are restored (`BestEpoch`). Otherwise every epoch runs.

    Args:
      model: a compiled TFRS model.
      train: batched training data.
      monitor: ``monitor(model) -> float``, validation quality, higher is better (e.g.
        ``lambda m: protocol.validation_recall(m, catalog, window, cfg.evaluation)``); None
        when there is no validation data.
      cfg: the model config (epochs, patience).
      num_examples: size of the training slice (for the examples count).
      progress: show a tqdm bar over epochs.
      desc: the bar's label.
      callbacks: extra Keras callbacks (e.g. TF-MOT's ``UpdatePruningStep``).

    Returns:
      A `FitResult`.

    Raises:
      TypeError: ``monitor`` is not callable (e.g. a validation dataset, as this argument
        used to be: Keras's last-batch ``val_loss`` is no longer used).
    """
    if monitor is not None and not callable(monitor):
        raise TypeError(f"monitor must be a callable model -> float, got {type(monitor).__name__}")
    callbacks = list(callbacks or [])
    stopper = BestEpoch(monitor, cfg.patience) if monitor is not None and cfg.patience > 0 else None
    if stopper is not None:
        callbacks.append(stopper)
    board = _tensorboard_callback(desc)
    if board is not None:
        callbacks.append(board)  # after the stopper, like the bar: it logs the monitored value
    if progress:
        callbacks.append(_EpochBar(cfg.epochs, desc))  # after the stopper: it shows its score
    start = time.perf_counter()
    history = model.fit(train, epochs=cfg.epochs, callbacks=callbacks, verbose=0)
    seconds = time.perf_counter() - start
    epochs = len(history.history.get("loss", []))
    best = stopper.best_epoch if stopper is not None and stopper.best_epoch else epochs
    return FitResult(epochs=epochs, seconds=seconds, examples=epochs * num_examples, best_epoch=best,
                     monitor_seconds=stopper.seconds if stopper is not None else 0.0)


def fit_frames(
    model: tf.keras.Model,
    catalog: Catalog,
    train: pd.DataFrame,
    monitor: Monitor | None,
    row_history: np.ndarray | None,
    cfg: ModelConfig,
    seed: int,
    progress: bool = True,
    desc: str = "train",
) -> tuple[FitResult, tf.data.Dataset]:
    """`fit` on an interaction frame: encodes it into shuffled `tf.data` batches first.

    Args:
      model: a compiled TFRS model.
      catalog: the dataset's `tfrec_inc.data.catalog.Catalog`.
      train: training interactions (``user_id``, ``item_id``, ``timestamp``, ...).
      monitor: validation quality for early stopping, or None (see `fit`).
      row_history: per-row item history for history-pooling towers, or None.
      cfg: the model config (batch size, shuffle buffer, epochs, patience).
      seed: the shuffling seed.
      progress, desc: as for `fit`.

    Returns:
      ``(FitResult, training dataset)``: the dataset for follow-up passes (e.g. EWC's Fisher).

    Example (up to three epochs on a tiny domain's first window, early-stopped on its
    validation Recall@20):
      >>> from tfrec_inc import config
      >>> from tfrec_inc.evaluation import protocol
      >>> from tfrec_inc.models.factory import build
      >>> from tfrec_inc.prepare import prepare
      >>> cfg = config.from_dict({"data": {"options": {"num_users": 60, "num_items": 40,
      ...     "num_interactions": 600}}, "windows": {"num_windows": 2}, "models": [{"epochs": 3}]})
      >>> prepared = prepare(cfg)
      >>> window = prepared.windows[0]
      >>> model = build(cfg.models[0], prepared, window.train)
      >>> recall = lambda m: protocol.validation_recall(m, prepared.catalog, window, cfg.evaluation)
      >>> fitted, ds = fit_frames(model, prepared.catalog, window.train, recall, None,
      ...                         cfg.models[0], seed=0, progress=False)
      >>> 1 <= fitted.best_epoch <= fitted.epochs <= 3, fitted.examples == fitted.epochs * len(window.train)
      (True, True)
    """
    enc = catalog.encode(train, row_history, model.history_length, with_time=bool(cfg.recency_days))
    train_ds = make_dataset(enc, cfg.batch_size, shuffle=True, seed=seed, shuffle_buffer=cfg.shuffle_buffer)
    return fit(model, train_ds, monitor, cfg, len(train), progress=progress, desc=desc), train_ds
