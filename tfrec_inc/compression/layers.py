"""Where the compressible layers of a two-tower model live, and how to copy a model.

TF-MOT's model-level entry points (``prune_low_magnitude(model)``, ``quantize_model``,
``strip_pruning``) accept only Sequential and functional Keras models; the towers are
subclassed `tfrec_inc.models.towers.Tower` models inside a subclassed ``tfrs.Model``. The
compression modules therefore work per layer, on the attributes a `Tower` calls:
``embedding``, ``categorical_embeddings``, ``dense_projections`` (a text projection shared
with the user tower's ``HistoryPooling``) and the ``mlp`` Sequential. Replacing an
attribute changes the model's weight list, so compression always works on a copy
(`copy_model`) and the trained model stays intact for the next incremental update.
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

from tfrec_inc.models.base import TwoTower
from tfrec_inc.models.towers import Tower


def towers_of(model: TwoTower) -> tuple[tf.keras.Model, tf.keras.Model]:
    """``(user_tower, item_tower)`` of a two-tower model.

    Raises:
      ValueError: a tower runs a trainable text encoder (``EncodedText``): a Hub encoder
        with string ops cannot be pruned, quantized or converted to TFLite here.
    """
    towers = (model.user_tower, model.item_tower)
    for tower in towers:
        if isinstance(tower, Tower) and tower.text is not None:
            raise ValueError(f"{tower.name}: compression does not support a trainable text encoder "
                             "(encoder.trainable: true); use frozen text vectors")
    return towers


def copy_model(model: TwoTower, rebuild: Callable[[], TwoTower]) -> TwoTower:
    """A new model of the same architecture with ``model``'s weights (vocabularies kept).

    Args:
      model: the trained model.
      rebuild: returns an untrained, built model of the same architecture and vocabularies
        (e.g. ``lambda: build(cfg, prepared, train, (m.user_vocab, m.item_vocab))``).

    Returns:
      The copy, built and compiled as ``rebuild`` left it.

    Example:
      >>> from tfrec_inc import config
      >>> from tfrec_inc.models.factory import build
      >>> from tfrec_inc.prepare import prepare
      >>> cfg = config.from_dict({"data": {"options": {"num_users": 60, "num_items": 40,
      ...     "num_interactions": 600}}, "windows": {"num_windows": 2}})
      >>> prepared = prepare(cfg)
      >>> model = build(cfg.models[0], prepared, prepared.base_train)
      >>> twin = copy_model(model, lambda: build(cfg.models[0], prepared, prepared.base_train,
      ...                                        (model.user_vocab, model.item_vocab)))
      >>> twin is not model, all((a.numpy() == b.numpy()).all() for a, b in zip(model.weights, twin.weights))
      (True, True)
    """
    twin = rebuild()
    if len(twin.weights) != len(model.weights):
        raise ValueError(f"copy_model: {len(model.weights)} weights vs {len(twin.weights)} in the copy")
    for source, target in zip(model.weights, twin.weights, strict=True):
        target.assign(source)
    return twin


def replace_projection(towers, old: tf.keras.layers.Layer, new: tf.keras.layers.Layer) -> None:
    """Puts ``new`` wherever ``old`` is a dense projection (also the shared history projection)."""
    for tower in towers:
        for feat, layer in list(tower.dense_projections.items()):
            if layer is old:
                tower.dense_projections[feat] = new
        if tower.history is not None and tower.history.projection is old:
            tower.history.projection = new


def projections(towers) -> list[tf.keras.layers.Layer]:
    """Every distinct dense projection of the towers (a shared one once)."""
    found: dict[int, tf.keras.layers.Layer] = {}
    for tower in towers:
        for layer in tower.dense_projections.values():
            found.setdefault(id(layer), layer)
        if tower.history is not None:
            found.setdefault(id(tower.history.projection), tower.history.projection)
    return list(found.values())
