"""Retrieval and rating prediction in one model (the TFRS multitask tutorial's design).

The towers are shared: the retrieval task is `RetrievalModel`'s (in-batch, mixed or full
softmax) and a rating head on the concatenated tower outputs is trained with TFRS's
`Ranking` task (MSE). The loss is ``retrieval_weight · retrieval + rating_weight · MSE``.
It is scored like any retrieval model (full ranking over the dot products) and also by
RMSE/MAE of ``model(features)``, the predicted rating.
"""

from __future__ import annotations

import tensorflow as tf

from tfrec_inc.models.ranking import rating_loss, rating_task
from tfrec_inc.models.retrieval import RetrievalModel


class MultitaskModel(RetrievalModel):
    """A `RetrievalModel` whose towers also feed a rating head.

    Args:
      user_tower, item_tower: as for `RetrievalModel`.
      retrieval_weight: weight of the retrieval loss.
      rating_weight: weight of the rating MSE.
      hidden: ReLU layer sizes of the rating head (TFRS tutorial: 256, 64).
      **retrieval: the other `RetrievalModel` arguments (temperature, negatives, ...).

    Example (two tiny id towers; `tfrec_inc.models.factory.build` makes real ones):
      >>> import numpy as np
      >>> from tfrec_inc.models.towers import Tower
      >>> model = MultitaskModel(Tower("user", 8, rows=np.arange(5), num_rows=5),
      ...                        Tower("item", 8, rows=np.arange(4), num_rows=4))
      >>> model.compile(tf.keras.optimizers.Adam(0.01))
      >>> batch = {"user": tf.constant([1, 2]), "item": tf.constant([3, 1]), "rating": tf.constant([4., 2.])}
      >>> model(batch).shape
      TensorShape([2])
    """

    def __init__(self, user_tower: tf.keras.Model, item_tower: tf.keras.Model, retrieval_weight: float = 1.0,
                 rating_weight: float = 1.0, hidden: tuple[int, ...] = (256, 64), **retrieval) -> None:
        super().__init__(user_tower, item_tower, **retrieval)
        self.retrieval_weight, self.rating_weight = retrieval_weight, rating_weight
        self.rating_head = tf.keras.Sequential(
            [tf.keras.layers.Dense(h, activation="relu") for h in hidden] + [tf.keras.layers.Dense(1)])
        self.rating_task = rating_task()

    def call(self, features: dict[str, tf.Tensor], training: bool | None = None) -> tf.Tensor:
        """The predicted rating, float32 [B]."""
        return self._rating(self.user_tower(features, training=training),
                            self.item_tower(features, training=training))

    def _rating(self, users: tf.Tensor, items: tf.Tensor) -> tf.Tensor:
        return tf.squeeze(self.rating_head(tf.concat([users, items], axis=-1)), axis=-1)

    def _task(self, features: dict[str, tf.Tensor], training: bool,
              metrics: bool) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
        """The weighted sum of the retrieval loss and the rating MSE (from the same tower outputs)."""
        retrieval, outputs = super()._task(features, training, metrics)
        predictions = self._rating(outputs["users"], outputs["items"])
        rating = rating_loss(self.rating_task, features["rating"], predictions,
                             metrics and not tf.distribute.in_cross_replica_context())
        return self.retrieval_weight * retrieval + self.rating_weight * rating, outputs
