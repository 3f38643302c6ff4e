"""Keras ``fit`` with early stopping on the window's validation slice, timed."""

from __future__ import annotations

import dataclasses
import time

import tensorflow as tf
from tqdm.auto import tqdm

from tfrec_inc.config import ModelConfig


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
