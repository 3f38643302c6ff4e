"""``text_knn``: the user's items' text, no training.

The user vector is the mean of the L2-normalised text vectors (``prepared.text_vectors``,
the configured encoder) of the user's items (at evaluation: everything before the scored
slice, `tfrec_inc.models.item_based.Computed.folded_in`); the item
vector is the item's L2-normalised text vector. Their dot product is the mean cosine
similarity between a candidate and the user's items, so cold items (text, no
interactions) are scored like any other. A user without items in the data gets an
all-zero vector (score 0 everywhere). Nothing to fit and no library needed: one
gather and a mean.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import tensorflow as tf

from tfrec_inc.data.catalog import Catalog
from tfrec_inc.data.vocab import Vocabulary
from tfrec_inc.models.item_based import Computed, Profile, Rows, interaction_matrix


def normalized(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (all-zero rows, e.g. row 0, stay zero); float32."""
    vectors = np.asarray(vectors, np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)


class _MeanText(tf.keras.layers.Layer):
    """User side: mean of the unit text vectors of the user's items (0 for none)."""

    def __init__(self, profile: Profile, text: np.ndarray, **kwargs) -> None:
        super().__init__(**kwargs)
        self.profile = profile
        self.text = tf.Variable(text, trainable=False, name="unit_text")

    def call(self, features, training=None):
        items = self.profile.items(features["user"])
        total = tf.reduce_sum(tf.gather(self.text, items), axis=1)
        count = tf.cast(items.row_lengths(), tf.float32)[:, None]
        return total / tf.maximum(count, 1.0)


def text_knn_model(catalog: Catalog, data: pd.DataFrame, text_vectors: np.ndarray | None,
                   vocabs: tuple[Vocabulary, Vocabulary]) -> Computed:
    """The text-kNN model of ``data``.

    Args:
      catalog: the dataset's catalog.
      data: the interactions that make up the user profiles.
      text_vectors: float32 [len(catalog.items), d] item text vectors.
      vocabs: the ids of ``data``.

    Returns:
      The `Computed` model.

    Raises:
      ValueError: no text vectors.
    """
    if text_vectors is None:
        raise ValueError("text_knn reads item text: pass text_vectors")
    unit = normalized(text_vectors)
    def user_side(x):
        return _MeanText(Profile(x, name="profile"), unit, name="user_tower")

    return Computed(user_side(interaction_matrix(catalog, data)), Rows(unit, "item", name="item_tower"),
                    vocabs, user_side)
