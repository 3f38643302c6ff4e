"""Quantization-aware training (TF-MOT, default 8-bit scheme) of the towers.

Why not the whole model at once: ``quantize_model`` / ``quantize_apply`` accept only
Sequential and functional Keras models (they clone the model from its config and re-wire
it), and the towers are subclassed models inside a subclassed ``tfrs.Model``; the default
8-bit registry also has no ``Embedding``. Rebuilding each tower as a functional model
would duplicate `Tower.call` (table lookups, masking of unseen ids, history pooling) in a
second, divergent form. So the closest faithful thing is done per part, with TF-MOT's
own API:

- each group of Dense layers (every dense projection — genres, text, the text projection
  shared with ``HistoryPooling`` — and the tower's MLP) becomes a small Sequential model,
  its layers marked with ``quantize_annotate_layer`` and quantized by ``quantize_apply``:
  fake-quant of the kernels (per tensor, symmetric) and of the activations (input and
  outputs, moving-average ranges);
- id and categorical ``Embedding`` layers are wrapped in ``QuantizeWrapperV2`` with a
  custom `EmbeddingQuantizeConfig` (fake-quant of the table, 8 bit per tensor) — the
  extension point TF-MOT provides for layers its registry lacks;
- the constant lookup tables (genres, text vectors) and the glue ops (concatenation,
  masking, pooling) stay float during training.

The TFLite conversion of the QAT model (``Optimize.DEFAULT``) turns fake-quant kernels
and tables into int8 with the learned ranges and gives the constant float tables
dynamic-range int8 weights. `AnyRank` (hand-written: a functional model is bound to the
rank of its ``Input``) lets the shared text projection serve both item rows [B, d] and
histories [B, N, d].

Example (a copy of an untrained model of a tiny domain, fine-tuned for one epoch of 3
batches; ``run_eagerly`` because tracing the fake-quant model costs more than 3 eager steps):
  >>> from tfrec_inc import config
  >>> from tfrec_inc.models.factory import build
  >>> from tfrec_inc.prepare import prepare
  >>> cfg = config.from_dict({"data": {"options": {"num_users": 60, "num_items": 40,
  ...     "num_interactions": 600}}, "windows": {"num_windows": 2}})
  >>> prepared = prepare(cfg)
  >>> from tfrec_inc.compression.layers import copy_model
  >>> train = prepared.base_train
  >>> model = build(cfg.models[0], prepared, train)
  >>> twin = copy_model(model, lambda: build(cfg.models[0], prepared, train, (model.user_vocab,
  ...                                                                         model.item_vocab)))
  >>> train_ds = tf.data.Dataset.from_tensor_slices(dict(prepared.catalog.encode(train, None, 0)))
  >>> make_quantization_aware(twin)  # doctest: +NORMALIZE_WHITESPACE
  ['user_tower/id_embedding', 'user_tower/age_group_embedding', 'user_tower/region_embedding',
   'item_tower/id_embedding', 'genres_projection', 'user_tower/mlp', 'item_tower/mlp']
  >>> twin.compile(tf.keras.optimizers.Adagrad(0.1), run_eagerly=True)
  >>> len(twin.fit(train_ds.batch(64), epochs=1, verbose=0).history["loss"])
  1
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf
import tensorflow_model_optimization as tfmot

from tfrec_inc.compression.layers import projections, replace_projection, towers_of
from tfrec_inc.models.weights import build_weights


class AnyRank(tf.keras.layers.Layer):
    """Applies a model on [batch, d] inputs to the last axis of an input of any rank.

    Args:
      inner: a Keras model mapping [batch, d] -> [batch, units].
      units: its output width.

    Example:
      >>> dense = tf.keras.Sequential([tf.keras.layers.InputLayer((3,)), tf.keras.layers.Dense(2)])
      >>> AnyRank(dense, 2)(tf.zeros((4, 5, 3))).shape
      TensorShape([4, 5, 2])
    """

    def __init__(self, inner: tf.keras.Model, units: int, **kwargs) -> None:
        super().__init__(name=kwargs.pop("name", f"{inner.name}_any_rank"), **kwargs)
        self.inner = inner
        self.units = units  # HistoryPooling reads ``projection.units``

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        shape = tf.shape(inputs)
        flat = tf.reshape(inputs, [-1, inputs.shape[-1]])
        out = self.inner(flat)
        return tf.reshape(out, tf.concat([shape[:-1], [self.units]], axis=0))


class EmbeddingQuantizeConfig(tfmot.quantization.keras.QuantizeConfig):
    """Fake-quantizes an ``Embedding``'s table (8-bit, symmetric, per tensor); outputs stay float.

    TF-MOT's default 8-bit registry has no ``Embedding``; this is the custom
    ``QuantizeConfig`` its API is designed for. The lookup output is not quantized here: it
    feeds the tower's concatenation, whose quantization is the MLP's input quantizer.

    Example:
      >>> embedding = tf.keras.layers.Embedding(10, 4, name="ids")
      >>> wrapped = tfmot.quantization.keras.QuantizeWrapperV2(embedding, EmbeddingQuantizeConfig())
      >>> wrapped(tf.constant([1, 2])).shape
      TensorShape([2, 4])
      >>> sorted(w.name.split("/")[-1] for w in wrapped.weights)  # the table and its range
      ['embeddings:0', 'embeddings_max:0', 'embeddings_min:0', 'optimizer_step:0']
    """

    def get_weights_and_quantizers(self, layer):
        quantizer = tfmot.quantization.keras.quantizers.LastValueQuantizer(
            num_bits=8, per_axis=False, symmetric=True, narrow_range=True)
        return [(layer.embeddings, quantizer)]

    def get_activations_and_quantizers(self, layer):
        return []

    def set_quantize_weights(self, layer, quantize_weights):
        layer.embeddings = quantize_weights[0]

    def set_quantize_activations(self, layer, quantize_activations):
        pass

    def get_output_quantizers(self, layer):
        return []

    def get_config(self):
        return {}


def quantized(layers: Sequence[tf.keras.layers.Layer], input_dim: int, name: str) -> tf.keras.Model:
    """A QAT Sequential model of trained Dense ``layers`` (their weights copied).

    Args:
      layers: Dense layers applied in order.
      input_dim: width of their input.
      name: the model's name.

    Returns:
      ``quantize_apply`` of the annotated Sequential: fake-quant weights and activations.
    """
    annotate = tfmot.quantization.keras.quantize_annotate_layer
    annotated = tf.keras.Sequential(
        [tf.keras.layers.InputLayer((input_dim,)), *[annotate(layer) for layer in layers]], name=name)
    return tfmot.quantization.keras.quantize_apply(annotated)


def make_quantization_aware(model) -> list[str]:
    """Makes every Dense and Embedding part of ``model``'s towers quantization-aware, in place.

    Pass a copy (`tfrec_inc.compression.layers.copy_model`): the weight list changes.
    Then fine-tune (recompile first) and convert with `tfrec_inc.compression.tflite.convert`.

    Args:
      model: a built two-tower model.

    Returns:
      Names of the quantized parts.
    """
    towers = towers_of(model)
    done = []
    wrap = tfmot.quantization.keras.QuantizeWrapperV2
    for tower in towers:
        # Embeddings are wrapped directly (quantize_apply would put a float input quantizer
        # on the integer ids of a model built around them).
        if tower.embedding is not None:
            tower.embedding = wrap(tower.embedding, EmbeddingQuantizeConfig())
            done.append(f"{tower.name}/id_embedding")
        for feat in list(tower.categorical_embeddings):
            tower.categorical_embeddings[feat] = wrap(tower.categorical_embeddings[feat],
                                                      EmbeddingQuantizeConfig())
            done.append(f"{tower.name}/{feat}_embedding")
    for layer in projections(towers):
        part = quantized([layer], layer.kernel.shape[0], f"qat_{layer.name}")
        replace_projection(towers, layer, AnyRank(part, layer.units))
        done.append(layer.name)
    for tower in towers:
        if tower.mlp is not None:
            dense = tower.mlp.layers
            tower.mlp = quantized(dense, dense[0].kernel.shape[0], f"qat_{tower.name}_mlp")
            done.append(f"{tower.name}/mlp")
    build_weights(model)  # the new quantize wrappers create their variables now
    return done
