"""Magnitude pruning of the towers' Dense and Embedding layers with TF-MOT.

``tfmot.sparsity.keras.prune_low_magnitude`` wraps each layer (id and categorical
embeddings, dense projections, the MLP's Dense layers) in a ``PruneLowMagnitude`` wrapper
with a ``PolynomialDecay`` schedule from 0 to the target sparsity; a short fine-tuning with
the ``UpdatePruningStep`` callback lets the remaining weights recover; then the wrappers
are stripped, leaving plain layers whose kernels hold exact zeros.

TF-MOT's model-level functions accept only Sequential/functional models, so:

- layers are wrapped one by one in place of the `Tower` attributes (the MLP as a
  Sequential of wrapped Dense layers, stripped with ``strip_pruning`` itself);
- single wrapped layers are stripped by taking ``wrapper.layer``, which is what
  ``strip_pruning``'s clone function does per layer (it cannot clone a subclassed model);
- `UpdatePruningStep` is TF-MOT's callback, extended to find wrappers held by a plain
  layer (``HistoryPooling.projection``): ``collect_prunable_layers`` only recurses into
  ``keras.Model`` children.

Example (a copy of an untrained model of a tiny domain, pruned over its 3 training batches;
``run_eagerly`` because tracing the wrapped model costs more than 3 eager steps):
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
  >>> _ = prune(twin, 0.8, steps=3)
  >>> twin.compile(tf.keras.optimizers.Adagrad(0.1), run_eagerly=True)
  >>> _ = twin.fit(train_ds.batch(64), epochs=1, callbacks=[UpdatePruningStep()], verbose=0)
  >>> strip(twin)
  >>> round(sparsity(model), 2), round(sparsity(twin), 2)
  (0.0, 0.8)
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tensorflow_model_optimization as tfmot
from tensorflow_model_optimization.python.core.sparsity.keras.pruning_wrapper import PruneLowMagnitude

from tfrec_inc.compression.layers import projections, replace_projection, towers_of
from tfrec_inc.models.weights import build_weights


def polynomial_schedule(final_sparsity: float, steps: int) -> tfmot.sparsity.keras.PolynomialDecay:
    """Sparsity from 0 to ``final_sparsity`` over the first ~80 % of ``steps`` training steps.

    The mask is updated about ten times; the last update lands exactly on ``end_step``
    (a multiple of the frequency), so the target is reached, and the remaining steps
    fine-tune the surviving weights.

    Args:
      final_sparsity: target fraction of zeros per pruned weight, in (0, 1).
      steps: training steps (batches) of the fine-tuning.

    Returns:
      The TF-MOT schedule.
    """
    end = max(1, int(0.8 * steps))
    frequency = max(1, end // 10)
    end = max(frequency, frequency * (end // frequency))
    return tfmot.sparsity.keras.PolynomialDecay(
        initial_sparsity=0.0, final_sparsity=final_sparsity, begin_step=0, end_step=end,
        frequency=frequency)


class UpdatePruningStep(tfmot.sparsity.keras.UpdatePruningStep):
    """TF-MOT's ``UpdatePruningStep`` that also reaches wrappers held by plain layers.

    Use it as ``model.fit(train_ds, callbacks=[UpdatePruningStep()])`` after `prune` (the
    module example runs it).
    """

    prunable_layers: list  # set by TF-MOT's on_train_begin

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        known = {id(layer) for layer in self.prunable_layers}
        extra = [m for m in self.model.submodules if isinstance(m, PruneLowMagnitude) and id(m) not in known]
        unset = [(layer.pruning_step, 0) for layer in extra if int(layer.pruning_step.numpy()) == -1]
        if unset:
            tf.keras.backend.batch_set_value(unset)
        self.prunable_layers = [*self.prunable_layers, *extra]


def _kernel(layer: tf.keras.layers.Layer) -> tf.Variable:
    layer = getattr(layer, "layer", layer)  # through a pruning wrapper
    return layer.embeddings if isinstance(layer, tf.keras.layers.Embedding) else layer.kernel


def prunable_layers(model) -> dict[str, tf.keras.layers.Layer]:
    """``{name: layer}`` of every Embedding and Dense layer of the towers (shared ones once)."""
    towers = towers_of(model)
    found: dict[str, tf.keras.layers.Layer] = {}
    for tower in towers:
        if tower.embedding is not None:
            found[f"{tower.name}/id_embedding"] = tower.embedding
        for feat, layer in tower.categorical_embeddings.items():
            found[f"{tower.name}/{feat}_embedding"] = layer
        if tower.mlp is not None:
            for i, layer in enumerate(tower.mlp.layers):
                found[f"{tower.name}/mlp/{i}"] = layer
    for layer in projections(towers):
        found[f"projection/{getattr(layer, 'layer', layer).name}"] = layer
    return found


def prune(model, final_sparsity: float, steps: int) -> list[PruneLowMagnitude]:
    """Wraps every Embedding and Dense layer of ``model``'s towers for magnitude pruning, in place.

    Pass a copy (`tfrec_inc.compression.layers.copy_model`): the weight list changes.
    Then fine-tune with `UpdatePruningStep` and call `strip`.

    Args:
      model: a built two-tower model.
      final_sparsity: target fraction of zeros per kernel, e.g. 0.8.
      steps: fine-tuning steps (batches), for the schedule.

    Returns:
      The wrappers.
    """
    if not 0 < final_sparsity < 1:
        raise ValueError(f"final_sparsity must be in (0, 1), got {final_sparsity}")
    schedule = polynomial_schedule(final_sparsity, steps)
    towers = towers_of(model)
    wrappers: list[PruneLowMagnitude] = []

    def wrap(layer):
        wrapped = tfmot.sparsity.keras.prune_low_magnitude(layer, pruning_schedule=schedule)
        wrappers.append(wrapped)
        return wrapped

    for tower in towers:
        if tower.embedding is not None:
            tower.embedding = wrap(tower.embedding)
        for feat in list(tower.categorical_embeddings):
            tower.categorical_embeddings[feat] = wrap(tower.categorical_embeddings[feat])
        if tower.mlp is not None:
            dense = tower.mlp.layers
            tower.mlp = tf.keras.Sequential(
                [tf.keras.layers.InputLayer((dense[0].kernel.shape[0],)), *[wrap(d) for d in dense]],
                name=tower.mlp.name)
    for layer in projections(towers):
        # A shared text projection is one wrapper called twice per batch (items and user
        # history), and a wrapper counts its calls: its schedule then runs twice as fast.
        replace_projection(towers, layer, wrap(layer))
    build_weights(model)  # the new wrappers create their masks now: the callback reads them at train begin
    return wrappers


def strip(model) -> None:
    """Removes the pruning wrappers of ``model``'s towers in place, keeping the masked weights."""
    towers = towers_of(model)
    for layer in prunable_layers(model).values():
        if isinstance(layer, PruneLowMagnitude):
            layer.pruning_obj.weight_mask_op()  # weights = mask * weights, whatever ran last
    for tower in towers:
        if isinstance(tower.embedding, PruneLowMagnitude):
            tower.embedding = tower.embedding.layer
        for feat, layer in list(tower.categorical_embeddings.items()):
            if isinstance(layer, PruneLowMagnitude):
                tower.categorical_embeddings[feat] = layer.layer
        if tower.mlp is not None:
            tower.mlp = tfmot.sparsity.keras.strip_pruning(tower.mlp)
    for layer in projections(towers):
        if isinstance(layer, PruneLowMagnitude):
            replace_projection(towers, layer, layer.layer)


def layer_sparsity(model) -> dict[str, float]:
    """Fraction of exact zeros in each prunable kernel / embedding table of the towers."""
    return {name: float(np.mean(_kernel(layer).numpy() == 0))
            for name, layer in prunable_layers(model).items()}


def sparsity(model) -> float:
    """Fraction of exact zeros over all prunable kernels and embedding tables (size-weighted).

    Example (an untrained model has no exact zeros; the module example prunes one):
      >>> from tfrec_inc import config
      >>> from tfrec_inc.models.factory import build
      >>> from tfrec_inc.prepare import prepare
      >>> cfg = config.from_dict({"data": {"options": {"num_users": 60, "num_items": 40,
      ...     "num_interactions": 600}}, "windows": {"num_windows": 2}})
      >>> prepared = prepare(cfg)
      >>> sparsity(build(cfg.models[0], prepared, prepared.base_train)) < 0.01
      True
    """
    values = [_kernel(layer).numpy() for layer in prunable_layers(model).values()]
    total = sum(v.size for v in values)
    return float(sum(int(np.sum(v == 0)) for v in values) / max(total, 1))
