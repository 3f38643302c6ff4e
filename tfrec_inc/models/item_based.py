"""Towers and the model shape shared by the computed baselines (``itemknn``, ``ease``, ``rp3beta``, ...).

Every baseline is scored by the same full-ranking protocol as the trained models, so it
meets `tfrec_inc.models.base.TwoTower`: ``score(u, j) = user_tower(u) · item_tower(j)``.
For an item-item model with weights W (``W[i, j]``: how much having item i speaks for
item j) the user tower is the user's multi-hot row x_u and the item tower column j of W,
so the dot product is the usual ``(x_u W)[j]``.

The data a baseline is built on gives X, the binary user × item matrix (a repeated
interaction counts once), from which its weights are computed. At evaluation the user
side is *folded in* (`Computed.folded_in`): each user is described by everything before
the slice being scored — the same items the history towers of the trained models read,
e.g. the validation item of a leave-one-out split. Users without any such interaction get
an all-zero user vector and so score every item 0 (the protocol then ranks in its seeded
random order and counts them as ``constant_users``); items without a column in X get an
all-zero item vector.

Everything is indexed by catalog index (row 0: unknown), so a model rebuilt from a
checkpoint has the same shapes whatever data it is rebuilt on.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import scipy.sparse as sp
import tensorflow as tf

from tfrec_inc.data.catalog import Catalog
from tfrec_inc.data.vocab import Vocabulary


def interaction_matrix(catalog: Catalog, data: pd.DataFrame) -> sp.csr_matrix:
    """Binary float32 CSR [len(catalog.users), len(catalog.items)]: 1 where the user had the item.

    Example:
      >>> X = interaction_matrix(catalog, window.train)  # doctest: +SKIP
    """
    users = catalog.users.lookup(data["user_id"])
    items = catalog.items.lookup(data["item_id"])
    known = (users > 0) & (items > 0)
    shape = (len(catalog.users), len(catalog.items))
    x = sp.csr_matrix((np.ones(int(known.sum()), np.float32), (users[known], items[known])), shape=shape)
    x.sum_duplicates()
    x.data[:] = 1.0
    return x


class Rows(tf.keras.layers.Layer):
    """A fixed table: ``{key: int [B]} -> table[key]`` (float32 [B, d]; not trained)."""

    def __init__(self, table: np.ndarray, key: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.key = key
        self.table = tf.Variable(np.asarray(table, np.float32), trainable=False, name="table")

    def call(self, features, training=None):
        return tf.gather(self.table, tf.cast(features[self.key], tf.int64))


class Profile(tf.keras.layers.Layer):
    """User side: the user's items in the data the model was built on.

    Stored as CSR row splits and item indices (the number of interactions varies, so the
    index variable has no fixed length and a checkpoint of any size loads into it).
    ``call`` gives the multi-hot rows float32 [B, n_items]; `items` the ragged item lists.
    """

    def __init__(self, x: sp.csr_matrix, **kwargs) -> None:
        super().__init__(**kwargs)
        self.n_items = int(x.shape[1])
        self.splits = tf.Variable(x.indptr.astype(np.int64), trainable=False, name="row_splits")
        self.indices = tf.Variable(x.indices.astype(np.int64), trainable=False, name="item_indices",
                                   shape=tf.TensorShape([None]))

    def items(self, users) -> tf.RaggedTensor:
        """int64 [B, None]: each user's items (empty for users without any)."""
        rows = tf.RaggedTensor.from_row_splits(self.indices, self.splits, validate=False)
        return tf.gather(rows, tf.cast(users, tf.int64))

    def call(self, features, training=None):
        picked = self.items(features["user"])
        where = tf.stack([picked.value_rowids(), picked.flat_values], axis=1)
        shape = tf.stack([tf.shape(picked.row_splits, out_type=tf.int64)[0] - 1, self.n_items])
        return tf.scatter_nd(where, tf.ones([tf.shape(where)[0]], tf.float32), shape)


# ``X [len(catalog.users), len(catalog.items)] -> the user tower`` of a profile X.
UserSide = Callable[[sp.csr_matrix], tf.keras.layers.Layer]


class Computed(tf.keras.Model):
    """A baseline computed at build time: fixed towers, nothing to train.

    Args:
      user_tower: a Keras layer ``{"user": int [B]} -> float32 [B, d]``.
      item_tower: a Keras layer ``{"item": int [B]} -> float32 [B, d]``.
      vocabs: (users, items) ids of the data it was built on (`TwoTower` bookkeeping;
        the towers are indexed by catalog index and do not read them).
      user_side: how a user tower is made from a profile matrix (`folded_in`); None:
        the user tower does not depend on a profile.
    """

    history_length = 0

    def __init__(self, user_tower: tf.keras.layers.Layer, item_tower: tf.keras.layers.Layer,
                 vocabs: tuple[Vocabulary, Vocabulary], user_side: UserSide | None = None) -> None:
        super().__init__()
        self.user_tower = user_tower
        self.item_tower = item_tower
        self.penalties: list = []
        self.user_vocab, self.item_vocab = vocabs
        self.user_side = user_side

    def folded_in(self, catalog: Catalog, history: pd.DataFrame) -> Computed:
        """The same weights with every user described by ``history`` (fold-in).

        Args:
          catalog: the dataset's catalog.
          history: the interactions that profile the users (e.g. everything before the
            slice being scored).

        Returns:
          A `Computed` sharing this item tower, or this model when it has no ``user_side``.
        """
        if self.user_side is None:
            return self
        return Computed(self.user_side(interaction_matrix(catalog, history)), self.item_tower,
                        (self.user_vocab, self.item_vocab), self.user_side)


def item_item_model(catalog: Catalog, data: pd.DataFrame, weights: Callable[[sp.csr_matrix], np.ndarray],
                    vocabs: tuple[Vocabulary, Vocabulary]) -> Computed:
    """An item-item model: user tower the multi-hot row, item tower column j of W.

    ``weights`` gets X restricted to the items present in ``data`` (an item without
    interactions has no weight into or out of it in any of these methods, so this is
    exact and keeps the n² work to the items seen) and returns W [m, m] for them; it is
    placed into a dense float32 [n_items, n_items] matrix over the catalog (n² memory:
    400 MB at 10k items, the scale of these catalogs).

    Args:
      catalog: the dataset's catalog.
      data: the interactions it is built on.
      weights: ``X [users, m] -> W [m, m]`` (see `tfrec_inc.models.similarity`).
      vocabs: the ids of ``data``.

    Returns:
      The `Computed` model.
    """
    x = interaction_matrix(catalog, data)
    seen = np.flatnonzero(x.getnnz(axis=0))
    columns = np.zeros((x.shape[1], x.shape[1]), np.float32)  # row j = column j of W
    if len(seen):
        columns[np.ix_(seen, seen)] = np.asarray(weights(x[:, seen].tocsr()), np.float32).T
    return Computed(Profile(x, name="user_tower"), Rows(columns, "item", name="item_tower"), vocabs,
                    lambda profile: Profile(profile, name="user_tower"))
