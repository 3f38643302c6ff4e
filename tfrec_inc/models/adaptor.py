"""UniSRec's MoE adaptor over frozen text vectors (Hou et al., KDD 2022, section 3.1).

Each of ``experts`` parametric whitening maps ``(x - b_k) W_k`` turns the frozen sentence
vector into the model's space; a softmax gate over the same vector mixes them. It replaces
the single linear text projection (``text_adaptor: moe``): the item tower's text part and
the user-history encoders share it, as they share the linear one, so a text vector means the
same wherever it enters. Written here: no Keras 2 library ships it.
"""

from __future__ import annotations

import tensorflow as tf


class MoEAdaptor(tf.keras.layers.Layer):
    """``[..., d_text] -> [..., units]``: a gated mixture of whitened projections.

    Args:
      units: output width (``embedding_dim``); `SequentialHistory` reads it.
      experts: whitening experts.
      dropout: dropout on the input vector while training (UniSRec uses 0.2).

    Example:
      >>> adaptor = MoEAdaptor(8, experts=3)
      >>> adaptor(tf.ones([2, 5, 16])).shape
      TensorShape([2, 5, 8])
    """

    def __init__(self, units: int, experts: int = 8, dropout: float = 0.2, **kwargs) -> None:
        super().__init__(**kwargs)
        self.units, self.experts = units, experts
        self.dropout = tf.keras.layers.Dropout(dropout)

    def build(self, input_shape) -> None:
        d = int(input_shape[-1])
        self.centers = self.add_weight(name="centers", shape=(self.experts, d), initializer="zeros")
        self.kernels = self.add_weight(name="kernels", shape=(self.experts, d, self.units),
                                       initializer="glorot_uniform")
        self.gate = self.add_weight(name="gate", shape=(d, self.experts), initializer="zeros")
        super().build(input_shape)

    def call(self, x: tf.Tensor, training=None) -> tf.Tensor:
        x = self.dropout(x, training=training)
        whitened = tf.einsum("...kd,kdu->...ku", x[..., None, :] - self.centers, self.kernels)
        weights = tf.nn.softmax(tf.einsum("...d,dk->...k", x, self.gate), axis=-1)
        return tf.einsum("...k,...ku->...u", weights, whitened)
