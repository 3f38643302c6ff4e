"""Rating prediction on `tfrs.tasks.Ranking` (MSE loss, RMSE metric)."""

from __future__ import annotations

import tensorflow as tf
import tensorflow_recommenders as tfrs

from tfrec_inc.data.vocab import Vocabulary
from tfrec_inc.runtime import replica_share


def rating_task() -> tfrs.tasks.Ranking:
    """TFRS's rating task: MSE loss, RMSE metric (shared by `RankingModel` and the multitask model)."""
    # No reduction: a [batch] rating vector is one MSE "sample", so the loss is the
    # batch mean either way, and Keras refuses mean reductions under tf.distribute.
    return tfrs.tasks.Ranking(
        loss=tf.keras.losses.MeanSquaredError(reduction=tf.keras.losses.Reduction.NONE),
        metrics=[tf.keras.metrics.RootMeanSquaredError()],
    )


def rating_loss(task: tfrs.tasks.Ranking, labels: tf.Tensor, predictions: tf.Tensor,
                metrics: bool) -> tf.Tensor:
    """``task``'s loss of ``predictions``, scaled for replicas (0 for an empty slice)."""
    loss = task(labels=labels, predictions=predictions, compute_metrics=metrics)
    # Replica gradients are summed: each replica's mean counts 1/R (R = replicas), and
    # an empty replica slice (the last, partial batch) adds nothing instead of NaN.
    return tf.where(tf.size(predictions) > 0, loss, 0.0) * replica_share()


class RankingModel(tfrs.Model):
    """Predicts a rating from the concatenated user and item tower outputs.

    Args:
      user_tower: catalog user index -> vector.
      item_tower: catalog item index -> vector.
      hidden: sizes of the ReLU layers before the scalar output (TFRS tutorial: 256, 64).
      user_vocab, item_vocab: the ids that have their own rows in the towers' id tables.

    Example (two tiny id towers; `tfrec_inc.models.factory.build` makes real ones):
      >>> import numpy as np
      >>> from tfrec_inc.models.towers import Tower
      >>> model = RankingModel(Tower("user", 8, rows=np.arange(5), num_rows=5),
      ...                      Tower("item", 8, rows=np.arange(4), num_rows=4))
      >>> model.compile(tf.keras.optimizers.Adagrad(0.1))
      >>> model({"user": tf.constant([1, 2]), "item": tf.constant([3, 1])}).shape
      TensorShape([2])
    """

    def __init__(
        self, user_tower: tf.keras.Model, item_tower: tf.keras.Model, hidden: tuple[int, ...] = (256, 64),
        user_vocab: Vocabulary | None = None, item_vocab: Vocabulary | None = None,
    ) -> None:
        super().__init__()
        self.user_vocab = user_vocab if user_vocab is not None else Vocabulary()
        self.item_vocab = item_vocab if item_vocab is not None else Vocabulary()
        self.user_tower = user_tower
        self.item_tower = item_tower
        self.head = tf.keras.Sequential(
            [tf.keras.layers.Dense(h, activation="relu") for h in hidden]
            + [tf.keras.layers.Dense(1)]
        )
        self.task = rating_task()
        # Extra loss terms of incremental strategies: (features, outputs) -> scalar.
        self.penalties: list = []

    @property
    def history_length(self) -> int:
        """Items of user history the user tower reads (0: none)."""
        return self.user_tower.history_length

    def call(self, features: dict[str, tf.Tensor], training: bool | None = None) -> tf.Tensor:
        both = tf.concat([self.user_tower(features, training=training),
                          self.item_tower(features, training=training)], axis=-1)
        return tf.squeeze(self.head(both), axis=-1)

    def compute_loss(self, features: dict[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        predictions = self(features, training=training)
        # Outside a replica step the synced RMSE metric cannot be updated; not needed there.
        loss = self._task(features, predictions, not tf.distribute.in_cross_replica_context())
        for penalty in self.penalties:
            loss += penalty(features, {"predictions": predictions})
        return loss

    def task_loss(self, features: dict[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        """The rating MSE alone: no strategy penalties, no metric updates (EWC's Fisher).

        Args:
          features: a batch with ``"rating"``.
          training: run the towers in training mode (id dropout on).

        Returns:
          The scalar batch-mean loss (times `replica_share`).
        """
        return self._task(features, self(features, training=training), False)

    def _task(self, features: dict[str, tf.Tensor], predictions: tf.Tensor, metrics: bool) -> tf.Tensor:
        """TFRS's rating loss of ``predictions``."""
        return rating_loss(self.task, features["rating"], predictions, metrics)
