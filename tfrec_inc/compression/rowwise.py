"""Row-wise int8 embedding tables: one scale per row, dequantised at lookup time.

Neither TF-MOT nor the TFLite converter offers this for Keras 2: TF-MOT's QAT rejects
``Embedding``, and TFLite's post-training quantization gives a gather table one scale
for the whole tensor. (Keras 3's ``Embedding.quantize("int8")`` does exactly this, but
the stack is Keras 2 / tf-keras.) So it is written here, by hand and small:

- `quantize_rows` / `dequantize_rows`: symmetric int8 with ``scale = max|row| / 127``, so
  every element's round-trip error is at most half its row's scale;
- `QuantizedTable`: a `tf.experimental.ExtensionType` holding the int8 rows and their
  scales, with `tf.gather` dispatched to "gather int8 rows, cast, multiply by their
  scales". Only the looked-up rows are dequantised, so the int8 table is what a SavedModel
  or a TFLite flatbuffer stores (the converter keeps int8 constants and a CAST);
- `RowwiseInt8Embedding`: a Keras layer that looks ids up in a `QuantizedTable`;
- `quantize_tables`: swaps every table of a two-tower model (id and categorical
  embeddings, genre and text-vector tables, the history pooling's text vectors) for its
  row-wise int8 version, in place.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tfrec_inc.compression.layers import towers_of


def quantize_rows(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 quantization with one scale per row.

    Args:
      table: float [n, d].

    Returns:
      ``(values, scales)``: int8 [n, d] in [-127, 127] and float32 [n] with
      ``table ≈ values * scales[:, None]`` and an error of at most ``scales / 2`` per element.
      All-zero rows get scale 1 (any scale represents them exactly).

    Example:
      >>> q, s = quantize_rows(np.array([[0.5, -1.0], [0.0, 0.0]], "float32"))
      >>> q.tolist(), s.tolist()
      ([[64, -127], [0, 0]], [0.007874015718698502, 1.0])
    """
    table = np.asarray(table, dtype=np.float32)
    peak = np.abs(table).max(axis=1)
    scales = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
    values = np.clip(np.rint(table / scales[:, None]), -127, 127).astype(np.int8)
    return values, scales


def dequantize_rows(values: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """float32 ``values * scales[:, None]`` (the inverse of `quantize_rows`, up to rounding)."""
    return values.astype(np.float32) * np.asarray(scales, np.float32)[:, None]


class QuantizedTable(tf.experimental.ExtensionType):
    """An int8 table with one float32 scale per row; `tf.gather` returns dequantised rows.

    Attributes:
      values: int8 [n, d].
      scales: float32 [n].

    Example:
      >>> table = QuantizedTable.from_array(np.eye(3, dtype="float32"))
      >>> tf.gather(table, [2, 0]).numpy().tolist()
      [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
    """

    values: tf.Tensor
    scales: tf.Tensor

    @classmethod
    def from_array(cls, table: np.ndarray) -> QuantizedTable:
        """Quantizes a float table row-wise (see `quantize_rows`)."""
        values, scales = quantize_rows(table)
        return cls(tf.constant(values), tf.constant(scales))

    @property
    def nbytes(self) -> int:
        """Bytes of the stored int8 values and float32 scales."""
        return int(self.values.shape.num_elements() + 4 * self.scales.shape.num_elements())


# The signature is given explicitly: postponed annotations are strings dispatch cannot read.
@tf.experimental.dispatch_for_api(tf.gather, {"params": QuantizedTable})
def _gather_quantized(params, indices, validate_indices=None, axis=None, batch_dims=0,
                      name=None):
    # Only row lookups are needed (towers gather rows by catalog index, any index rank).
    if axis not in (None, 0) or batch_dims != 0:
        raise NotImplementedError("QuantizedTable supports row gathers only (axis=0, batch_dims=0)")
    rows = tf.cast(tf.gather(params.values, indices), tf.float32)
    return rows * tf.expand_dims(tf.gather(params.scales, indices), -1)


class RowwiseInt8Embedding(tf.keras.layers.Layer):
    """Drop-in replacement of a trained ``Embedding``: looks ids up in a row-wise int8 table.

    Args:
      embedding: the trained (built) ``tf.keras.layers.Embedding``.

    Example:
      >>> embedding = tf.keras.layers.Embedding(10, 32)
      >>> embedding.build((None,))
      >>> layer = RowwiseInt8Embedding(embedding)
      >>> layer(tf.constant([1, 2])).shape
      TensorShape([2, 32])
      >>> error = tf.abs(layer(tf.constant([1, 2])) - embedding(tf.constant([1, 2])))
      >>> bool(tf.reduce_max(error) < 1e-3)  # at most half a row's scale
      True
    """

    def __init__(self, embedding: tf.keras.layers.Layer, **kwargs) -> None:
        super().__init__(name=kwargs.pop("name", f"{embedding.name}_int8"), trainable=False, **kwargs)
        self.table = QuantizedTable.from_array(embedding.embeddings.numpy())

    def call(self, ids: tf.Tensor) -> tf.Tensor:
        return tf.gather(self.table, tf.cast(ids, tf.int64))


def quantize_tables(model) -> dict[str, int]:
    """Replaces every embedding and lookup table of ``model``'s towers by row-wise int8, in place.

    Id and categorical ``Embedding`` layers become `RowwiseInt8Embedding`; the constant
    tables (``Tower.dense_tables``: genres, text vectors; ``HistoryPooling.item_vectors``)
    become `QuantizedTable`. Dense kernels stay float32 (they are small). Pass a copy:
    the model's weight list changes.

    Args:
      model: a built two-tower model (``user_tower`` / ``item_tower`` are `Tower`s).

    Returns:
      ``{table name: stored bytes}`` of the quantized tables (int8 values + scales).

    Example (on a copy of an untrained model of a tiny domain):
      >>> from tfrec_inc import config
      >>> from tfrec_inc.models.factory import build
      >>> from tfrec_inc.prepare import prepare
      >>> cfg = config.from_dict({"data": {"options": {"num_users": 60, "num_items": 40,
      ...     "num_interactions": 600}}, "windows": {"num_windows": 2}})
      >>> prepared = prepare(cfg)
      >>> from tfrec_inc.compression.layers import copy_model
      >>> model = build(cfg.models[0], prepared, prepared.base_train)
      >>> twin = copy_model(model, lambda: build(cfg.models[0], prepared, prepared.base_train,
      ...                                        (model.user_vocab, model.item_vocab)))
      >>> sorted(quantize_tables(twin))  # doctest: +NORMALIZE_WHITESPACE
      ['item_tower/genres_table', 'item_tower/id_embedding', 'user_tower/age_group_embedding',
       'user_tower/id_embedding', 'user_tower/region_embedding']
      >>> twin.item_tower({"item": np.array([1, 2])}).shape
      TensorShape([2, 32])
    """
    stored: dict[str, int] = {}
    for tower in towers_of(model):
        if tower.embedding is not None:
            tower.embedding = RowwiseInt8Embedding(tower.embedding)
            stored[f"{tower.name}/id_embedding"] = tower.embedding.table.nbytes
        for feat in list(tower.categorical_embeddings):
            layer = RowwiseInt8Embedding(tower.categorical_embeddings[feat])
            tower.categorical_embeddings[feat] = layer
            stored[f"{tower.name}/{feat}_embedding"] = layer.table.nbytes
        for feat in list(tower.dense_tables):
            table = QuantizedTable.from_array(tower.dense_tables[feat].numpy())
            tower.dense_tables[feat] = table
            stored[f"{tower.name}/{feat}_table"] = table.nbytes
        if tower.history is not None:
            table = QuantizedTable.from_array(tower.history.item_vectors.numpy())
            tower.history.item_vectors = table
            stored[f"{tower.name}/history_vectors"] = table.nbytes
    return stored
