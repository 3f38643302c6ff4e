"""A SASRec-style sequential encoder of the user's recent items, on their text vectors.

Kang & McAuley (ICDM 2018, SASRec) encode a user's item sequence with causal self-attention
and read the user's state at the last position. Here each item's input is its frozen text
vector (e.g. MiniLM) through the projection the item tower also uses, plus a learned
position embedding, so an item never trained on is still a meaningful input and a user's
vector follows each new interaction with no weight update (the serving model reads the
history as an input).

Every training row already carries its own prefix (`tfrec_inc.data.history`: the items
strictly before the row, most recent last, left-padded with 0), so training on every row
is SASRec's next-item objective at every position, one position per row; the encoder
reads the state at the last position of each prefix.

Built from tf-keras layers (``MultiHeadAttention``, ``LayerNormalization``, ``Dropout``,
``Dense``); the block wiring (pre-layer-norm, residuals, a final layer norm) is written
here because no library on this stack ships a Keras 2 SASRec block.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tfrec_inc.models.towers import id_part


class _Block(tf.keras.layers.Layer):
    """One pre-layer-norm transformer block: causal self-attention, then a position-wise FFN."""

    def __init__(self, units: int, heads: int, dropout: float, **kwargs) -> None:
        super().__init__(**kwargs)
        self.attention_norm = tf.keras.layers.LayerNormalization(epsilon=1e-6, name="attention_norm")
        self.attention = tf.keras.layers.MultiHeadAttention(
            num_heads=heads, key_dim=max(1, units // heads), dropout=dropout, name="attention")
        self.ffn_norm = tf.keras.layers.LayerNormalization(epsilon=1e-6, name="ffn_norm")
        self.ffn_in = tf.keras.layers.Dense(units, activation="relu", name="ffn_in")
        self.ffn_out = tf.keras.layers.Dense(units, name="ffn_out")
        self.dropout = tf.keras.layers.Dropout(dropout)

    def call(self, x: tf.Tensor, mask: tf.Tensor, training=None) -> tf.Tensor:
        h = self.attention_norm(x)
        x = x + self.dropout(self.attention(h, h, attention_mask=mask, training=training), training=training)
        h = self.ffn_norm(x)
        return x + self.dropout(self.ffn_out(self.ffn_in(h)), training=training)


class SequentialHistory(tf.keras.layers.Layer):
    """Causal self-attention over a user's last items; the user's state at the last position.

    Each position's input is the item's own item-tower parts, shared with the item tower as
    in SASRec: its projected text vector and/or its id embedding (zero for an item without a
    trained id row, so new items enter a history by their text alone).

    Args:
      item_vectors: float32 [n_items, d_text] frozen text vectors (row 0: padding), or None
        for an id-only sequence.
      projection: layer mapping d_text -> width (shared with the item tower), or None
        with ``item_vectors``.
      length: positions (``history_length``).
      blocks: transformer blocks.
      heads: attention heads per block.
      dropout: dropout on the inputs, the attention weights and each residual branch.
      ids: ``(rows, embedding)`` of the item tower (catalog index -> id row, the id
        table), or None: no id part.
      id_dropout: training only: the probability, per position, that its id part is zeroed
        (the item tower's DropoutNet rate), so text alone also learns to carry a history.

    Example:
      >>> encoder = SequentialHistory(np.eye(4, dtype="float32"), tf.keras.layers.Dense(8), 3)
      >>> encoder(tf.constant([[0, 1, 2], [0, 0, 0]])).numpy().shape
      (2, 8)
    """

    def __init__(self, item_vectors: np.ndarray | None, projection: tf.keras.layers.Layer | None,
                 length: int, blocks: int = 2, heads: int = 1, dropout: float = 0.2,
                 ids: tuple[tf.Tensor, tf.keras.layers.Embedding] | None = None, id_dropout: float = 0.0,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if (item_vectors is None) != (projection is None):
            raise ValueError("give item_vectors with their projection")
        self.item_vectors = None if item_vectors is None else tf.constant(item_vectors, dtype=tf.float32)
        self.projection = projection
        self.ids = ids
        self.id_dropout = id_dropout
        if projection is not None:
            units = projection.units
        elif ids is not None:
            units = ids[1].output_dim
        else:
            raise ValueError("a sequence needs text (item_vectors, projection), ids, or both")
        self.positions = self.add_weight(name="positions", shape=(length, units),
                                         initializer=tf.keras.initializers.TruncatedNormal(stddev=0.02))
        self.input_dropout = tf.keras.layers.Dropout(dropout)
        self.blocks = [_Block(units, heads, dropout, name=f"block_{b}") for b in range(blocks)]
        self.final_norm = tf.keras.layers.LayerNormalization(epsilon=1e-6, name="final_norm")

    def call(self, history: tf.Tensor, training=None) -> tf.Tensor:
        history = tf.cast(history, tf.int64)
        valid = history > 0  # [B, N]
        n = tf.shape(history)[1]
        x = self._inputs(history, training) + self.positions[-n:]
        x = self.input_dropout(x, training=training) * tf.cast(valid, tf.float32)[..., None]
        causal = tf.linalg.band_part(tf.ones([n, n], tf.bool), -1, 0)  # query i sees keys <= i
        mask = tf.logical_and(causal[None], valid[:, None, :])  # [B, N (queries), N (keys)]
        for block in self.blocks:
            x = block(x, mask, training=training)
        state = self.final_norm(x[:, -1])  # the most recent position (right-aligned rows)
        # A user with no history: zero, as `HistoryPooling` gives (other parts still serve).
        return state * tf.cast(tf.reduce_any(valid, axis=1), tf.float32)[:, None]

    def _inputs(self, history: tf.Tensor, training) -> tf.Tensor:
        """[B, N, units]: each position's projected text plus its id embedding."""
        parts = []
        if self.projection is not None:
            parts.append(self.projection(tf.gather(self.item_vectors, history)))
        if self.ids is not None:
            table, embedding = self.ids
            parts.append(id_part(table, embedding, history, self.id_dropout, training))
        return tf.add_n(parts)
