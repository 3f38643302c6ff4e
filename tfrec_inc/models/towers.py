"""User and item towers: catalog index -> id embedding (+ side features) -> vector."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from tfrec_inc.data.catalog import Catalog
from tfrec_inc.models.vocab import Vocabulary


def id_rows(catalog_vocab: Vocabulary, trained: Vocabulary) -> np.ndarray:
    """Catalog index -> embedding row; ids the model never trained on map to row 0."""
    rows = trained.lookup([""] + catalog_vocab.ids)
    rows[0] = 0
    return rows


class Tower(tf.keras.Model):
    """Embeds catalog indices from an id table and side-feature tables.

    Parts: the id embedding (row 0 for ids unseen in training), one embedding per
    categorical feature table, and a linear map of dense feature rows (e.g. L1-
    normalised genre multi-hots = mean genre embedding). With a single part and no
    hidden layers the output is the id embedding itself (the TFRS tutorial model);
    otherwise the parts are concatenated and mapped by an MLP to ``embedding_dim``.

    Args:
      rows: int64 [n_catalog] catalog index -> id-embedding row.
      num_rows: rows of the id embedding table (including row 0).
      embedding_dim: output size.
      categorical: name -> (int64 [n_catalog] codes, number of codes).
      dense: name -> float32 [n_catalog, width] feature rows.
      layers: hidden sizes of the MLP.

    Example:
      >>> tower = Tower(np.arange(4), 4, 8)
      >>> tower(tf.constant([1, 3])).shape
      TensorShape([2, 8])
    """

    def __init__(
        self,
        rows: np.ndarray,
        num_rows: int,
        embedding_dim: int,
        categorical: dict[str, tuple[np.ndarray, int]] | None = None,
        dense: dict[str, np.ndarray] | None = None,
        layers: Sequence[int] = (),
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        self.rows = tf.constant(rows, dtype=tf.int64)
        self.embedding = tf.keras.layers.Embedding(num_rows, embedding_dim, name="id_embedding")
        self.categorical_tables = {}
        self.categorical_embeddings = {}
        for feat, (codes, size) in (categorical or {}).items():
            self.categorical_tables[feat] = tf.constant(codes, dtype=tf.int64)
            self.categorical_embeddings[feat] = tf.keras.layers.Embedding(
                size, embedding_dim, name=f"{feat}_embedding"
            )
        self.dense_tables = {}
        self.dense_projections = {}
        for feat, table in (dense or {}).items():
            self.dense_tables[feat] = tf.constant(table, dtype=tf.float32)
            self.dense_projections[feat] = tf.keras.layers.Dense(
                embedding_dim, use_bias=False, name=f"{feat}_projection"
            )
        n_parts = 1 + len(self.categorical_tables) + len(self.dense_tables)
        self.mlp = None
        if n_parts > 1 or layers:
            self.mlp = tf.keras.Sequential(
                [tf.keras.layers.Dense(size, activation="relu") for size in layers]
                + [tf.keras.layers.Dense(embedding_dim)],
                name="mlp",
            )

    def call(self, index: tf.Tensor) -> tf.Tensor:
        index = tf.cast(index, tf.int64)
        parts = [self.embedding(tf.gather(self.rows, index))]
        for feat, table in self.categorical_tables.items():
            parts.append(self.categorical_embeddings[feat](tf.gather(table, index)))
        for feat, table in self.dense_tables.items():
            parts.append(self.dense_projections[feat](tf.gather(table, index)))
        if self.mlp is None:
            return parts[0]
        return self.mlp(tf.concat(parts, axis=-1))


def user_tower(
    catalog: Catalog, trained: Vocabulary, embedding_dim: int, layers: Sequence[int],
    use_features: bool,
) -> Tower:
    """The user tower: id plus the dataset's categorical user features when asked."""
    categorical = {}
    if use_features:
        categorical = {
            name: (codes, catalog.user_feature_sizes[name])
            for name, codes in catalog.user_features.items()
        }
    return Tower(
        id_rows(catalog.users, trained), len(trained), embedding_dim,
        categorical=categorical, layers=layers, name="user_tower",
    )


def item_tower(
    catalog: Catalog, trained: Vocabulary, embedding_dim: int, layers: Sequence[int],
    use_features: bool,
) -> Tower:
    """The item tower: id plus genres/categories when asked and present."""
    dense = {}
    if use_features and catalog.item_genres.shape[1]:
        dense["genres"] = catalog.item_genres
    return Tower(
        id_rows(catalog.items, trained), len(trained), embedding_dim,
        dense=dense, layers=layers, name="item_tower",
    )
