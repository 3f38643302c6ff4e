"""The one training loop: Keras ``fit`` with early stopping on a validation slice, timed.

Every study trains through `fit` / `fit_frames` (incremental updates, transfer source
and target models, compression fine-tuning), so epochs, early stopping and timing mean
the same everywhere.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pandas as pd
import tensorflow as tf
from tqdm.auto import tqdm

from tfrec_inc.config import ModelConfig
from tfrec_inc.data.catalog import Catalog
from tfrec_inc.data.windows import make_dataset


@dataclasses.dataclass(frozen=True)
class FitResult:
    """What one training run cost.

    Attributes:
      epochs: epochs actually run (early stopping may cut them short).
      seconds: wall time of ``fit``.
      examples: training examples processed (epochs × slice size).
    """

    epochs: int
    seconds: float
    examples: int


class _EpochBar(tf.keras.callbacks.Callback):
    """A tqdm bar over epochs that shows the latest losses."""

    def __init__(self, epochs: int, desc: str) -> None:
        super().__init__()
        self.bar = tqdm(total=epochs, desc=desc, unit="epoch", leave=False)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        shown = {k: f"{v:.4g}" for k, v in logs.items() if k in ("loss", "val_loss")}
        self.bar.set_postfix(shown)
        self.bar.update(1)

    def on_train_end(self, logs=None):
        self.bar.close()


def fit(
    model: tf.keras.Model,
    train: tf.data.Dataset,
    valid: tf.data.Dataset | None,
    cfg: ModelConfig,
    num_examples: int,
    progress: bool = True,
    desc: str = "train",
    callbacks: list[tf.keras.callbacks.Callback] | None = None,
) -> FitResult:
    """Trains ``model`` for up to ``cfg.epochs``, early-stopping on validation loss.

    With a validation set and ``cfg.patience > 0``, training stops after ``patience``
    epochs without improvement and the best epoch's weights are restored.

    Args:
      model: a compiled TFRS model.
      train: batched training data.
      valid: batched validation data, or None.
      cfg: the model config (epochs, patience).
      num_examples: size of the training slice (for the examples count).
      progress: show a tqdm bar over epochs.
      desc: the bar's label.
      callbacks: extra Keras callbacks (e.g. TF-MOT's ``UpdatePruningStep``).

    Returns:
      A `FitResult`.
    """
    callbacks = list(callbacks or [])
    if valid is not None and cfg.patience > 0:
        callbacks.append(
            tf.keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=cfg.patience, restore_best_weights=True
            )
        )
    if progress:
        callbacks.append(_EpochBar(cfg.epochs, desc))
    start = time.perf_counter()
    history = model.fit(
        train, validation_data=valid, epochs=cfg.epochs, callbacks=callbacks, verbose=0
    )
    seconds = time.perf_counter() - start
    epochs = len(history.history.get("loss", []))
    return FitResult(epochs=epochs, seconds=seconds, examples=epochs * num_examples)


def fit_frames(
    model: tf.keras.Model,
    catalog: Catalog,
    train: pd.DataFrame,
    valid: pd.DataFrame | None,
    row_history: np.ndarray | None,
    cfg: ModelConfig,
    seed: int,
    progress: bool = True,
    desc: str = "train",
) -> tuple[FitResult, tf.data.Dataset]:
    """`fit` on interaction frames: encodes them into shuffled / plain `tf.data` batches first.

    Args:
      model: a compiled TFRS model.
      catalog: the dataset's `tfrec_inc.data.catalog.Catalog`.
      train: training interactions (``user_id``, ``item_id``, ``timestamp``, ...).
      valid: validation interactions (early stopping), or None / empty for none.
      row_history: per-row item history for history-pooling towers, or None.
      cfg: the model config (batch size, shuffle buffer, epochs, patience).
      seed: the shuffling seed.
      progress, desc: as for `fit`.

    Returns:
      ``(FitResult, training dataset)``: the dataset for follow-up passes (e.g. EWC's Fisher).

    Example (one epoch on a tiny domain's first window):
      >>> from tfrec_inc import config
      >>> from tfrec_inc.models.factory import build
      >>> from tfrec_inc.prepare import prepare
      >>> cfg = config.from_dict({"data": {"options": {"num_users": 60, "num_items": 40,
      ...     "num_interactions": 600}}, "windows": {"num_windows": 2}, "models": [{"epochs": 1}]})
      >>> prepared = prepare(cfg)
      >>> window = prepared.windows[0]
      >>> model = build(cfg.models[0], prepared, window.train)
      >>> fitted, ds = fit_frames(model, prepared.catalog, window.train, window.valid, None,
      ...                         cfg.models[0], seed=0, progress=False)
      >>> fitted.epochs, fitted.examples == len(window.train)
      (1, True)
    """
    enc = catalog.encode(train, row_history, model.history_length)
    train_ds = make_dataset(enc, cfg.batch_size, shuffle=True, seed=seed, shuffle_buffer=cfg.shuffle_buffer)
    valid_ds = None
    if valid is not None and len(valid):
        valid_ds = make_dataset(catalog.encode(valid, row_history, model.history_length), cfg.batch_size)
    return fit(model, train_ds, valid_ds, cfg, len(train), progress=progress, desc=desc), train_ds
