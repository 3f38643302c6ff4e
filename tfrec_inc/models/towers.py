"""User and item towers: feature dict -> vector.

A tower reads catalog indices from its input dict (``"user"`` or ``"item"``) and looks
everything else up in tables held as constants, so `tf.data` carries only integers and
an item first seen in a later window already has its text for a content tower.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from tfrec_inc.data.catalog import Catalog
from tfrec_inc.data.vocab import Vocabulary


def id_rows(catalog_vocab: Vocabulary, trained: Vocabulary) -> np.ndarray:
    """Catalog index -> embedding row; ids the model never trained on map to row 0."""
    rows = trained.lookup([""] + catalog_vocab.ids)
    rows[0] = 0
    return rows


class HistoryPooling(tf.keras.layers.Layer):
    """Pools the projected text vectors of a user's recent items (0 = padding).

    ``mean`` averages them; ``attention`` weights them by a softmax over scores against
    a learned query (a single-head attention pooling). A user with no history gets a
    zero vector.

    Args:
      item_vectors: float32 [n_items, d_text] frozen text vectors (row 0 unused).
      projection: layer mapping d_text -> embedding_dim (shared with the item tower).
      mode: ``mean`` or ``attention``.

    Example:
      >>> pool = HistoryPooling(np.eye(3, dtype="float32"), tf.keras.layers.Dense(4))
      >>> pool(tf.constant([[0, 1, 2]])).shape
      TensorShape([1, 4])
    """

    def __init__(self, item_vectors: np.ndarray, projection: tf.keras.layers.Layer,
                 mode: str = "mean", **kwargs) -> None:
        super().__init__(**kwargs)
        self.item_vectors = tf.constant(item_vectors, dtype=tf.float32)
        self.projection = projection
        self.mode = mode
        self.query = None
        if mode == "attention":
            self.query = self.add_weight(
                name="query", shape=(projection.units,), initializer="glorot_uniform")

    def call(self, history: tf.Tensor) -> tf.Tensor:
        history = tf.cast(history, tf.int64)
        mask = tf.cast(history > 0, tf.float32)  # [B, N]
        vectors = self.projection(tf.gather(self.item_vectors, history))  # [B, N, D]
        if self.mode == "attention":
            scores = tf.einsum("bnd,d->bn", vectors, self.query)
            scores += (mask - 1.0) * 1e9
            weights = tf.nn.softmax(scores, axis=-1) * mask
        else:
            weights = mask
        # No epsilon: a float16 export (TFLite) would round 1e-9 to 0 and give users
        # without history NaN vectors; divide_no_nan gives them 0 in every precision.
        weights = tf.math.divide_no_nan(weights, tf.reduce_sum(weights, axis=-1, keepdims=True))
        return tf.einsum("bn,bnd->bd", weights, vectors)


class EncodedText(tf.keras.layers.Layer):
    """Runs a (trainable) ``hub.KerasLayer`` on the item texts inside the tower.

    Args:
      encoder: the Hub layer (string batch -> vectors).
      texts: the item texts, index-aligned with the catalog.
      projection: layer mapping the encoder output to embedding_dim.
    """

    def __init__(self, encoder, texts: Sequence[str], projection, **kwargs) -> None:
        super().__init__(**kwargs)
        self.encoder = encoder
        self.texts = tf.constant(list(texts), dtype=tf.string)
        self.projection = projection

    def call(self, index: tf.Tensor) -> tf.Tensor:
        return self.projection(self.encoder(tf.gather(self.texts, index)))


def id_part(rows: tf.Tensor, embedding: tf.keras.layers.Embedding, index: tf.Tensor, id_dropout: float,
            training: bool | None) -> tf.Tensor:
    """Id embeddings of catalog ``index`` (any shape), zero for ids never trained (row 0).

    An untrained random vector would only add noise to the content parts of a cold user or
    item. In training each id is also zeroed with probability ``id_dropout`` (DropoutNet).
    """
    rows = tf.gather(rows, index)
    keep = tf.cast(rows > 0, tf.float32)
    if training and id_dropout > 0:
        keep *= tf.cast(tf.random.uniform(tf.shape(keep)) >= id_dropout, tf.float32)
    return embedding(rows) * keep[..., None]


class Tower(tf.keras.Model):
    """Embeds one side (users or items) from an id table, feature tables and text.

    Parts (each ``embedding_dim`` wide): the id embedding (zeros for ids unseen in
    training), one embedding per categorical feature, a projection of each dense
    feature table (e.g. genre multi-hots or frozen text vectors), and optionally the
    pooled history. With a single part and no hidden layers the output is that part
    itself (the TFRS tutorial model); otherwise the parts are combined: ``concat``
    concatenates them and an MLP maps them to ``embedding_dim``; ``sum`` adds them (and
    applies the MLP only if ``layers`` is set), so an id embedding is a residual on top of
    the content parts and, with the text projection shared by items and user histories,
    a cold user or item scores by (projected) text similarity.

    Args:
      key: the input-dict key holding the catalog index (``"user"`` or ``"item"``).
      embedding_dim: output size.
      rows: catalog index -> id-embedding row, or None for no id embedding.
      num_rows: rows of the id table (including row 0).
      categorical: name -> (int64 [n_catalog] codes, number of codes).
      dense: name -> (float32 [n_catalog, width] rows, projection layer or None).
      text: an `EncodedText` part (trainable encoder), or None.
      history: a `HistoryPooling` or `tfrec_inc.models.sequential.SequentialHistory`
        over ``features["history"]`` (int [B, history_length] -> [B, embedding_dim]), or None.
      history_length: items of history the input pipeline must provide.
      id_dropout: DropoutNet-style training: the probability, per training example, that
        the id embedding is zeroed, so the content parts learn to stand alone (as they
        must for ids never trained on, whose id part is always zero).
      layers: hidden sizes of the MLP.
      combine: ``concat`` or ``sum`` (see above).

    Example:
      >>> tower = Tower("item", 8, rows=np.arange(4), num_rows=4)
      >>> tower({"item": tf.constant([1, 3])}).shape
      TensorShape([2, 8])
    """

    def __init__(
        self,
        key: str,
        embedding_dim: int,
        rows: np.ndarray | None = None,
        num_rows: int = 0,
        categorical: dict[str, tuple[np.ndarray, int]] | None = None,
        dense: dict[str, tuple[np.ndarray, tf.keras.layers.Layer | None]] | None = None,
        text: EncodedText | None = None,
        history: tf.keras.layers.Layer | None = None,
        history_length: int = 0,
        layers: Sequence[int] = (),
        id_dropout: float = 0.0,
        combine: str = "concat",
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        self.key = key
        self.rows = None if rows is None else tf.constant(rows, dtype=tf.int64)
        self.embedding = None
        if rows is not None:
            self.embedding = tf.keras.layers.Embedding(num_rows, embedding_dim, name="id_embedding")
        self.categorical_tables = {}
        self.categorical_embeddings = {}
        for feat, (codes, size) in (categorical or {}).items():
            self.categorical_tables[feat] = tf.constant(codes, dtype=tf.int64)
            self.categorical_embeddings[feat] = tf.keras.layers.Embedding(
                size, embedding_dim, name=f"{feat}_embedding")
        self.dense_tables = {}
        self.dense_projections = {}
        for feat, (table, projection) in (dense or {}).items():
            self.dense_tables[feat] = tf.constant(table, dtype=tf.float32)
            self.dense_projections[feat] = projection or tf.keras.layers.Dense(
                embedding_dim, use_bias=False, name=f"{feat}_projection")
        self.text = text
        self.history = history
        self.history_length = history_length if history is not None else 0
        self.id_dropout = id_dropout
        n_parts = ((self.embedding is not None) + len(self.categorical_tables)
                   + len(self.dense_tables) + (text is not None) + (history is not None))
        if n_parts == 0:
            raise ValueError(f"tower {name!r} has no input part")
        self.combine = combine
        self.mlp = None
        if layers or (n_parts > 1 and combine == "concat"):
            self.mlp = tf.keras.Sequential(
                [tf.keras.layers.Dense(size, activation="relu") for size in layers]
                + [tf.keras.layers.Dense(embedding_dim)],
                name="mlp",
            )

    def call(self, features: dict[str, tf.Tensor], training: bool | None = None) -> tf.Tensor:
        index = tf.cast(features[self.key], tf.int64)
        parts = []
        if self.embedding is not None:
            parts.append(id_part(self.rows, self.embedding, index, self.id_dropout, training))
        for feat, table in self.categorical_tables.items():
            parts.append(self.categorical_embeddings[feat](tf.gather(table, index)))
        for feat, table in self.dense_tables.items():
            parts.append(self.dense_projections[feat](tf.gather(table, index)))
        if self.text is not None:
            parts.append(self.text(index))
        if self.history is not None:
            parts.append(self.history(features["history"]))
        if self.combine == "sum":
            joined = tf.add_n(parts)
        else:
            joined = parts[0] if len(parts) == 1 else tf.concat(parts, axis=-1)
        return joined if self.mlp is None else self.mlp(joined)


def user_tower(catalog: Catalog, trained: Vocabulary, embedding_dim: int, layers: Sequence[int],
               use_id: bool = True, use_features: bool = True,
               history: tf.keras.layers.Layer | None = None, history_length: int = 0,
               id_dropout: float = 0.0, combine: str = "concat") -> Tower:
    """The user tower: id, the dataset's categorical user features, pooled history."""
    categorical = {}
    if use_features:
        categorical = {name: (codes, catalog.user_feature_sizes[name])
                       for name, codes in catalog.user_features.items()}
    rows = id_rows(catalog.users, trained) if use_id else None
    return Tower("user", embedding_dim, rows=rows, num_rows=len(trained), categorical=categorical,
                 history=history, history_length=history_length, layers=layers,
                 id_dropout=id_dropout, combine=combine, name="user_tower")


def item_tower(catalog: Catalog, trained: Vocabulary, embedding_dim: int, layers: Sequence[int],
               use_id: bool = True, use_features: bool = True,
               text_vectors: np.ndarray | None = None,
               text_projection: tf.keras.layers.Layer | None = None,
               text: EncodedText | None = None, id_dropout: float = 0.0,
               combine: str = "concat") -> Tower:
    """The item tower: id, genres/categories, and frozen or fine-tuned text."""
    dense = {}
    if use_features and catalog.item_genres.shape[1]:
        dense["genres"] = (catalog.item_genres, None)
    if text_vectors is not None:
        dense["text"] = (text_vectors, text_projection)
    rows = id_rows(catalog.items, trained) if use_id else None
    return Tower("item", embedding_dim, rows=rows, num_rows=len(trained), dense=dense, text=text,
                 layers=layers, id_dropout=id_dropout, combine=combine, name="item_tower")
