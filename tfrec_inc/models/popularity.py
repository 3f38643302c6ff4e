"""The most-popular baseline, shaped like a two-tower model so the same protocol scores it.

Which interactions are counted is the config's ``popularity`` form: the factory hands
this model the current window's training slice (``window``, the default) or all the
data it is built on (``all``, and ``decay`` with ``half_life_days``); see
`tfrec_inc.models.factory`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import tensorflow as tf

from tfrec_inc.data.catalog import Catalog
from tfrec_inc.data.vocab import Vocabulary


class _Ones(tf.keras.layers.Layer):
    """User side: the same vector for everyone (popularity is not personalised)."""

    def call(self, features, training=None):
        return tf.ones([tf.shape(features["user"])[0], 1])


class _Counts(tf.keras.layers.Layer):
    """Item side: the item's (possibly time-decayed) interaction count (0 for items with none)."""

    def __init__(self, counts: np.ndarray, **kwargs) -> None:
        super().__init__(**kwargs)
        self.counts = tf.Variable(counts[:, None].astype(np.float32), trainable=False, name="counts")

    def call(self, features, training=None):
        return tf.gather(self.counts, tf.cast(features["item"], tf.int64))


class PopularityModel(tf.keras.Model):
    """Scores every item by how often it was interacted with in ``data``.

    Each row of ``data`` counts (a repeated interaction counts again): weight 1, or with
    ``half_life_days`` the weight 0.5^(age / half-life), age = the latest timestamp in
    ``data`` minus the row's timestamp, in days. Full ranking then orders items by count
    (ties: the protocol's seeded random order), with the user's seen items excluded like for any
    other model. Nothing is trained.

    Args:
      catalog: the dataset's catalog.
      data: interactions to count (``popularity: window``: the current window's train
        slice, "most popular in the last window"; ``all`` / ``decay``: the data the
        strategy gives, e.g. everything so far for ``full_retrain``).
      half_life_days: decay the counts with this half-life (None: plain counts).

    Example (counting three interactions with the first two items of a tiny catalog):
      >>> from tfrec_inc.data import load
      >>> catalog = Catalog.from_interactions(load("synthetic", num_users=60, num_items=40,
      ...                                          num_interactions=600))
      >>> a, b = catalog.items.ids[:2]  # catalog indices 1 and 2
      >>> model = PopularityModel(catalog, pd.DataFrame({"item_id": [b, a, b]}))
      >>> model.item_tower({"item": np.array([1, 2, 3])}).numpy().ravel().tolist()
      [1.0, 2.0, 0.0]
    """

    history_length = 0

    def __init__(self, catalog: Catalog, data: pd.DataFrame, half_life_days: float | None = None) -> None:
        super().__init__()
        weights = None
        if half_life_days is not None and len(data):
            age_days = (data["timestamp"].max() - data["timestamp"].to_numpy()) / 86_400
            weights = np.power(0.5, age_days / half_life_days)
        counts = np.bincount(catalog.items.lookup(data["item_id"]), weights, minlength=len(catalog.items))
        counts[0] = 0
        self.user_tower = _Ones(name="user_tower")
        self.item_tower = _Counts(counts, name="item_tower")
        self.penalties: list = []
        self.user_vocab, self.item_vocab = Vocabulary(), Vocabulary()
