"""Growable id vocabularies: index 0 is the unknown id, known ids keep their index forever."""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np


class Vocabulary:
    """Maps string ids to dense indices ``1..n``; unknown ids map to ``0``.

    Ids are only ever appended, so an index, and the embedding row behind it, never
    changes meaning when the vocabulary grows with a new window.

    Example:
      >>> vocab = Vocabulary(["a", "b"])
      >>> vocab.lookup(["b", "zzz"]).tolist()
      [2, 0]
      >>> vocab.add(["c", "a"])
      ['c']
      >>> len(vocab)  # rows an embedding table needs, including the unknown row
      4
    """

    def __init__(self, ids: Iterable[str] = ()) -> None:
        self._index: dict[str, int] = {}
        self._ids: list[str] = []
        self.add(ids)

    def add(self, ids: Iterable[str]) -> list[str]:
        """Appends ids not seen before (in first-seen order).

        Args:
          ids: ids to add; duplicates and known ids are ignored.

        Returns:
          The ids that were new.
        """
        new = []
        for raw in ids:
            key = str(raw)
            if key not in self._index:
                self._index[key] = len(self._ids) + 1
                self._ids.append(key)
                new.append(key)
        return new

    def lookup(self, ids: Iterable[str]) -> np.ndarray:
        """Returns the int64 index of each id, 0 for unknown ids."""
        get = self._index.get
        return np.fromiter((get(str(x), 0) for x in ids), dtype=np.int64)

    @property
    def ids(self) -> list[str]:
        """Known ids in index order (index ``i`` is ``ids[i - 1]``)."""
        return list(self._ids)

    def __contains__(self, key: object) -> bool:
        return key in self._index

    def __len__(self) -> int:
        return len(self._ids) + 1


def grown(vocab: Vocabulary, ids: Iterable[str]) -> Vocabulary:
    """A copy of ``vocab`` with ``ids`` appended (the original is left unchanged)."""
    out = Vocabulary(vocab.ids)
    out.add(ids)
    return out


def ensure_built(model) -> None:
    """Creates a model's weights by calling it once on a one-example batch."""
    features = {"user": np.array([0]), "item": np.array([0]), "rating": np.array([0.0], "float32")}
    if model.history_length:
        features["history"] = np.zeros((1, model.history_length), dtype=np.int64)
    model.user_tower(features)
    model.item_tower(features)
    if hasattr(model, "head"):
        model(features)


def _scope_free(name: str) -> str:
    """``layer/variable`` of a weight name, without Keras' ``_N`` uniquifying suffixes.

    Outer scopes are dropped: a layer shared by two towers is named after whichever
    called it first.
    """
    return "/".join(re.sub(r"_\d+$", "", p) for p in name.split(":")[0].split("/")[-2:])


def warm_start(old, new, new_rows: dict[str, np.ndarray] | None = None) -> None:
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

    Example:
      >>> new = build(cfg, catalog, train, vocabs=(grown(old.user_vocab, ids_u),
      ...                                          grown(old.item_vocab, ids_i)))
      >>> warm_start(old, new)
    """
    ensure_built(old)
    ensure_built(new)
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


def content_rows(previous, new, catalog, text_vectors: np.ndarray | None) -> dict[str, np.ndarray] | None:
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
