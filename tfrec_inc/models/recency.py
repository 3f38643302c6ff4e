"""A time-aware score term: each item's recent interaction counts at the moment of scoring.

On these datasets popularity drifts fast, and "most popular lately" is a strong ranker. A
dot-product two-tower cannot express it: an item vector is the same at every moment. This
layer adds ``bias(u, i, τ)`` to the score, computed from leak-free features at the
scoring time τ, from events *strictly before* τ:

- item i: ``log1p`` of its interaction count over each horizon ``[τ - h, τ)`` of
  ``recency_days``, of its count over all time before τ, ``log1p`` of its age in days
  since its first interaction, and whether it has one;
- user u: ``log1p`` of the days since their last interaction, and whether they have one.

τ is the start of the UTC day of the example (training: each interaction's own time;
evaluation: the start of the scored slice), so one feature table per distinct day serves
a whole batch. ``bias = a(user) · h(item)``: a small MLP ``h`` of the item features (4
outputs) weighted by a linear map ``a`` of the user features, so users who were away for
long can weigh long horizons differently from users active today. The counts read the
whole interaction log held by the layer, but only events before τ: training rows see
their own past, the evaluation sees the history of the scored slice (as history towers do).

Used with the full softmax (``negatives: full``), where every catalog item is scored at the
query's own τ: with in-batch negatives each negative would carry the features of its own
interaction time, which are "popular when consumed" for positives and negatives alike.

Written here: no TFRS or Keras layer computes time-windowed counts from an event log.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

DAY = 86_400
_SHIFT = np.int64(2**34)  # key = index * 2^34 + seconds: times up to year 2514, 2^29 indices
_RANK = 4


def _keys(index: np.ndarray, times: np.ndarray) -> np.ndarray:
    return np.sort(index.astype(np.int64) * _SHIFT + times.astype(np.int64))


class RecencyScore(tf.keras.layers.Layer):
    """``(users [B], items [M], times [B]) -> float32 [B, M]``: the time-aware score term.

    Args:
      user_events: int catalog user index of each logged interaction.
      item_events: int catalog item index of each logged interaction.
      times: int Unix seconds of each logged interaction (>= 0).
      num_items: catalog size (rows of the first-seen table).
      horizons_days: the count horizons in days.

    Example:
      >>> score = RecencyScore(np.array([1, 2, 1]), np.array([1, 1, 2]), np.array([0, 86_400, 86_400]),
      ...                      3, [1.0])
      >>> at_day_2 = tf.constant([2 * 86_400], tf.int64)
      >>> score.item_features(tf.constant([1, 2], tf.int64), at_day_2)[0, :, 0].numpy()  # last-day counts
      array([0.6931472, 0.6931472], dtype=float32)
    """

    def __init__(self, user_events: np.ndarray, item_events: np.ndarray, times: np.ndarray,
                 num_items: int, horizons_days: Sequence[float], **kwargs) -> None:
        super().__init__(**kwargs)
        self.item_keys = tf.constant(_keys(item_events, times))
        self.user_keys = tf.constant(_keys(user_events, times))
        first = np.full(num_items, np.iinfo(np.int64).max, np.int64)
        np.minimum.at(first, item_events.astype(np.int64), times.astype(np.int64))
        self.first_seen = tf.constant(first)
        self.horizons = tf.constant([int(round(h * DAY)) for h in horizons_days], tf.int64)
        self.item_mlp = tf.keras.Sequential([tf.keras.layers.Dense(16, activation="relu"),
                                             tf.keras.layers.Dense(_RANK)], name="recency_item")
        self.user_weights = tf.keras.layers.Dense(_RANK, name="recency_user")

    def _count_before(self, keys: tf.Tensor, index: tf.Tensor, start: tf.Tensor, end: tf.Tensor) -> tf.Tensor:
        """Events of ``index`` with ``start <= time < end`` (same shapes; ``start`` clipped at 0)."""
        base = index * _SHIFT
        flat = tf.reshape(base + end, [1, -1])
        low = tf.reshape(base + tf.maximum(start, 0), [1, -1])
        sorted_keys = keys[None]
        count = tf.searchsorted(sorted_keys, flat) - tf.searchsorted(sorted_keys, low)
        return tf.reshape(count, tf.shape(index))

    def item_features(self, items: tf.Tensor, days: tf.Tensor) -> tf.Tensor:
        """float32 [U, M, F] item features at each of ``days`` (τ values, seconds)."""
        index = tf.broadcast_to(items[None, :], [tf.shape(days)[0], tf.shape(items)[0]])
        tau = tf.broadcast_to(days[:, None], tf.shape(index))
        parts = [self._count_before(self.item_keys, index, tau - h, tau) for h in tf.unstack(self.horizons)]
        parts.append(self._count_before(self.item_keys, index, tf.zeros_like(tau), tau))
        logs = [tf.math.log1p(tf.cast(p, tf.float32)) for p in parts]
        first = tf.gather(self.first_seen, index)
        seen = first < tau
        age = tf.where(seen, tf.cast(tau - first, tf.float32) / DAY, 0.0)
        return tf.stack([*logs, tf.math.log1p(age), tf.cast(seen, tf.float32)], axis=-1)

    def user_features(self, users: tf.Tensor, days: tf.Tensor) -> tf.Tensor:
        """float32 [B, 2]: ``log1p`` days since the user's last interaction before τ, and whether any."""
        base = users * _SHIFT
        query = tf.reshape(base + days, [1, -1])
        position = tf.reshape(tf.searchsorted(self.user_keys[None], query), [-1]) - 1
        last = tf.gather(self.user_keys, tf.maximum(position, 0))
        has = (position >= 0) & (last >= base)
        gap = tf.where(has, tf.cast(base + days - last, tf.float32) / DAY, 0.0)
        return tf.stack([tf.math.log1p(gap), tf.cast(has, tf.float32)], axis=-1)

    def call(self, users, items, times, training=None) -> tf.Tensor:
        users, items = tf.cast(users, tf.int64), tf.cast(items, tf.int64)
        days = tf.cast(times, tf.int64) // DAY * DAY
        unique, which = tf.unique(days)
        h = self.item_mlp(self.item_features(items, unique))  # [U, M, r]
        a = self.user_weights(self.user_features(users, days))  # [B, r]
        return tf.einsum("bmr,br->bm", tf.gather(h, which), a)
