"""Keras weight surgery on two-tower models: build, warm-start with grown tables, copy, freeze.

These act on a model's variables only; the id bookkeeping behind grown tables is
`tfrec_inc.data.vocab.Vocabulary`. Used by the incremental strategies (warm starts,
content-initialised rows), transfer (content paths across domains), fusion and persistence.
"""

from __future__ import annotations

import re

import numpy as np

from tfrec_inc.data.catalog import Catalog
from tfrec_inc.models.base import TwoTower
from tfrec_inc.models.multitask import MultitaskModel
from tfrec_inc.models.ranking import RankingModel
from tfrec_inc.models.retrieval import RetrievalModel


def build_weights(model: TwoTower) -> None:
    """Creates a model's weights by calling it once on a one-example batch.

    `tfrec_inc.models.factory.build` does this for every model it returns; call it again
    only after replacing layers (e.g. TF-MOT wrappers create their variables on first call).
    """
    features = {"user": np.array([0]), "item": np.array([0]), "rating": np.array([0.0], "float32")}
    if model.history_length:
        features["history"] = np.zeros((1, model.history_length), dtype=np.int64)
    model.user_tower(features)
    model.item_tower(features)
    if isinstance(model, RetrievalModel) and model.recency is not None:
        model.recency(features["user"], features["item"], np.array([0]))
    if isinstance(model, RankingModel | MultitaskModel):
        model(features)  # the rating head


def _scope_free(name: str) -> str:
    """``layer/variable`` of a weight name, without Keras' ``_N`` uniquifying suffixes.

    Outer scopes are dropped: a layer shared by two towers is named after whichever
    called it first.
    """
    return "/".join(re.sub(r"_\d+$", "", p) for p in name.split(":")[0].split("/")[-2:])


def warm_start(old: TwoTower, new: TwoTower, new_rows: dict[str, np.ndarray] | None = None) -> None:
    """Copies every weight of ``old`` into ``new``, growing id tables row-wise.

    Both models must have the same architecture; ``new`` may have more rows in its id
    embeddings (a grown vocabulary). Old rows are copied bit for bit, so every known
    user and item keeps its exact vector; rows of new ids keep ``new``'s random
    initialisation unless ``new_rows`` gives them values. This is
    ``tf.keras.utils.warmstart_embedding_matrix`` for append-only vocabularies, applied
    to every table of the model at once.

    Args:
      old: the trained model.
      new: a freshly built model with the grown vocabularies.
      new_rows: optional ``{part of a weight name: float32 [n_new, dim]}`` values for
        the appended rows of a table, e.g. ``{"item_tower/id_embedding": rows}`` for
        content initialisation of new item rows.

    Raises:
      ValueError: the architectures differ.

    Example (a model of window 0, grown with window 1's ids):
      >>> from tfrec_inc import config
      >>> from tfrec_inc.models.factory import build
      >>> from tfrec_inc.prepare import prepare
      >>> cfg = config.from_dict({"data": {"options": {"num_users": 60, "num_items": 40,
      ...     "num_interactions": 600}}, "windows": {"num_windows": 2}})
      >>> prepared = prepare(cfg)
      >>> old = build(cfg.models[0], prepared, prepared.windows[0].train)
      >>> train = prepared.windows[1].train
      >>> new = build(cfg.models[0], prepared, train, vocabs=(old.user_vocab.extended(train["user_id"]),
      ...                                                     old.item_vocab.extended(train["item_id"])))
      >>> warm_start(old, new)
      >>> known = prepared.catalog.items.lookup(old.item_vocab.ids)  # old items keep their vectors
      >>> len(new.item_vocab) > len(old.item_vocab), np.array_equal(
      ...     old.item_tower({"item": known}), new.item_tower({"item": known}))
      (True, True)
    """
    old_w, new_w = old.weights, new.weights
    if len(old_w) != len(new_w):
        raise ValueError(f"models differ: {len(old_w)} vs {len(new_w)} weights")
    for o, n in zip(old_w, new_w, strict=True):
        name = _scope_free(n.name)
        if _scope_free(o.name) != name:
            raise ValueError(f"models differ: {o.name} vs {n.name}")
        if o.shape == n.shape:
            n.assign(o)
            continue
        if o.shape[1:] != n.shape[1:] or n.shape[0] < o.shape[0]:
            raise ValueError(f"{n.name}: cannot grow {o.shape} into {n.shape}")
        value = n.numpy()
        value[: o.shape[0]] = o.numpy()
        for part, rows in (new_rows or {}).items():
            if part in n.name:
                value[o.shape[0] :] = rows
        n.assign(value)


def content_rows(previous: TwoTower, new: TwoTower, catalog: Catalog,
                 text_vectors: np.ndarray | None) -> dict[str, np.ndarray] | None:
    """Initial id rows for items new in ``new``: their text vector through the current projection.

    Args:
      previous: the trained model (its item tower has an id table and a text projection).
      new: the model with the grown item vocabulary.
      catalog: the dataset's `Catalog`.
      text_vectors: float32 [len(catalog.items), d] item text vectors.

    Returns:
      ``{"item_tower/id_embedding": rows}`` for `warm_start`, or None when the model has
      no item id table or no text projection (new rows then stay random).
    """
    tower = previous.item_tower
    projection = tower.dense_projections.get("text")
    if text_vectors is None or projection is None or tower.embedding is None:
        return None
    new_ids = new.item_vocab.ids[len(previous.item_vocab.ids):]
    if not new_ids:
        return None
    return {"item_tower/id_embedding": projection(text_vectors[catalog.items.lookup(new_ids)]).numpy()}


def copy_content(source: TwoTower, target: TwoTower) -> list[str]:
    """Copies every weight but the id embeddings from ``source`` into ``target``.

    Both models must come from the same `ModelConfig` (same architecture); only their id
    tables differ in size.

    Args:
      source: the model trained on the source domain.
      target: an untrained model for the target domain.

    Returns:
      Names of the copied weights.

    Raises:
      ValueError: the architectures differ.
    """
    if len(source.weights) != len(target.weights):
        raise ValueError("source and target models differ in architecture")
    copied = []
    for s, t in zip(source.weights, target.weights, strict=True):
        if "id_embedding" in t.name:
            continue
        if s.shape != t.shape:
            raise ValueError(f"{t.name}: source shape {s.shape} != target shape {t.shape}")
        t.assign(s)
        copied.append(t.name)
    return copied


def freeze_text(model: TwoTower) -> None:
    """Freezes the text projection (shared by item text and user history pooling).

    Recompile the model afterwards: Keras reads ``trainable`` when it compiles.
    """
    projection = model.item_tower.dense_projections.get("text")
    if projection is None and model.user_tower.history is not None:
        projection = model.user_tower.history.projection
    if projection is None:
        raise ValueError("freeze_text needs a model with item text or user history")
    projection.trainable = False
