"""The serving graph: a trained two-tower model and a top-K index as one `tf.Module`.

`ServingModule` embeds every candidate item once into a TFRS
`tfrs.layers.factorized_top_k.BruteForce` or `ScaNN` index; `save_module` writes it as a
SavedModel whose functions need nothing from this package to run:

- ``serve(user_id, recent_items, k)``: ``user_id`` string ``[B]`` (``""`` or an unknown id:
  a cold user), ``recent_items`` string ``[B, R]`` padded with ``""`` (oldest first),
  ``k`` int32 scalar in ``1..k_max`` -> ``{"item_ids": string [B, k], "scores": float32
  [B, k]}``, best first. The user's known interactions (everything up to the end of the
  run's last window) and the recent items are excluded; a history-pooling user tower
  reads the user's latest known items followed by the recent ones.
- ``search(query, k)``: a raw query embedding float32 ``[B, D]`` -> the same dict, no
  exclusions (diagnostics, index checks).

``serve`` is also the ``serving_default`` signature (TF Serving).

Why ``k`` is a tensor: a TFRS index called with a Python ``k`` bakes that ``k`` into the
traced graph, and after `tf.saved_model.load` no other ``k`` matches a concrete function
(tensorflow/recommenders#744). Here every call retrieves ``k_max`` with
``query_with_exclusions`` and slices the first ``k``: one traced graph answers every ``k``.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import tensorflow as tf
import tensorflow_recommenders as tfrs

from tfrec_inc import atomic
from tfrec_inc.data.catalog import Catalog
from tfrec_inc.data.history import last_items
from tfrec_inc.errors import TfrecIncError
from tfrec_inc.evaluation.protocol import embed_items
from tfrec_inc.models.base import TwoTower

INDEXES = ("brute_force", "scann")
# Recent items one query may pass; older ones beyond this are neither pooled nor excluded.
# Fixed because TFRS's query_with_exclusions needs a static exclusion width.
MAX_RECENT = 50


class ExportError(TfrecIncError):
    """A results folder cannot be exported (no saved models, ambiguous choice, ...)."""


@dataclasses.dataclass(frozen=True)
class KnownInteractions:
    """What the server knows about each user: items to exclude and latest items.

    Kept as id strings, not catalog indices, so a model with a different catalog (e.g.
    after an incremental update) can reuse it.

    Attributes:
      users: user ids with known interactions, one row each.
      seen_splits: int64 ``[len(users) + 1]`` row splits of ``seen_items``.
      seen_items: the distinct items of each user, concatenated.
      history: string ``[len(users), L]`` each user's latest ``L`` items, most recent
        last, left-padded with ``""`` (``L`` = the model's ``history_length``, maybe 0).
    """

    users: np.ndarray
    seen_splits: np.ndarray
    seen_items: np.ndarray
    history: np.ndarray

    @classmethod
    def from_interactions(cls, frame: pd.DataFrame, history_length: int = 0) -> KnownInteractions:
        """Builds the tables from interactions with ``user_id``, ``item_id``, ``timestamp``.

        Args:
          frame: everything the server may know (e.g. all interactions up to now).
          history_length: latest items kept per user for a history-pooling user tower.

        Returns:
          The `KnownInteractions` of ``frame``'s users.

        Example:
          >>> frame = pd.DataFrame({"user_id": ["u1", "u1", "u2"], "item_id": ["a", "b", "a"],
          ...                       "timestamp": [1, 2, 3]})
          >>> known = KnownInteractions.from_interactions(frame, history_length=1)
          >>> known.users.tolist(), known.seen_splits.tolist(), known.seen_items.tolist()
          (['u1', 'u2'], [0, 2, 3], ['a', 'b', 'a'])
          >>> known.history.tolist()  # each user's latest item
          [['b'], ['a']]
        """
        # Stable sort by time: among equal timestamps, file order decides "latest",
        # as in `tfrec_inc.data.history.last_items`.
        frame = pd.DataFrame({
            "user_id": frame["user_id"].astype(str).to_numpy(),
            "item_id": frame["item_id"].astype(str).to_numpy(),
            "timestamp": frame["timestamp"].to_numpy(),
            "_row": np.arange(len(frame)),
        }).sort_values(["user_id", "timestamp", "_row"], kind="stable")
        users = frame["user_id"].unique()
        pairs = frame[["user_id", "item_id"]].drop_duplicates()
        lists = pairs.groupby("user_id", sort=False)["item_id"].agg(list).reindex(users)
        lengths = np.array([len(x) for x in lists], dtype=np.int64)
        splits = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        seen = np.array([i for row in lists for i in row], dtype=object)
        history = np.full((len(users), history_length), "", dtype=object)
        if history_length:
            # The tails `last_items` picks for the models, on codes (0 = padding, as there).
            item_codes, item_ids = pd.factorize(frame["item_id"])
            user_codes = pd.Index(users).get_indexer(frame["user_id"])
            tails = last_items(user_codes, item_codes + 1, frame["timestamp"].to_numpy(),
                               np.arange(len(users)), history_length)
            history = np.concatenate([[""], np.asarray(item_ids, dtype=object)])[tails]
        return cls(np.asarray(users, dtype=object), splits, seen, history)


class _ClippedBruteForce(tfrs.layers.factorized_top_k.BruteForce):
    """`BruteForce` that returns all candidates when asked for more than it holds.

    ``query_with_exclusions`` asks for ``k + exclusions``, which can exceed the index
    size for heavy users; plain ``tf.math.top_k`` would then fail.
    """

    def call(self, queries, k=None):
        k = self._k if k is None else k
        return super().call(queries, k=min(k, int(self._candidates.shape[0])))


def _make_index(kind: str, k_max: int, num_items: int, dim: int,
                wanted: int) -> tfrs.layers.factorized_top_k.TopK:
    """The TFRS index; ``wanted`` is the most neighbours one query asks for (k_max + exclusions)."""
    if kind == "brute_force":
        return _ClippedBruteForce(k=k_max, name="index")
    if kind == "scann":
        class _ClippedScaNN(tfrs.layers.factorized_top_k.ScaNN):
            def call(self, queries, k=None):
                k = self._k if k is None else k
                return super().call(queries, k=min(k, num_items))

        # About sqrt(n) leaves, exact re-scoring of the best candidates. The leaves
        # searched must hold about twice the neighbours a query asks for: a heavy user's
        # seen items are over-fetched and then dropped, and a search confined to a few
        # leaves would run out of unseen items (short lists).
        leaves = max(1, min(1000, int(np.sqrt(num_items))))
        search = min(leaves, max(1, leaves // 4, int(np.ceil(leaves * 2 * wanted / num_items))))
        return _ClippedScaNN(
            k=k_max, num_leaves=leaves, num_leaves_to_search=search,
            dimensions_per_block=min(2, dim), num_reordering_candidates=min(num_items, 4 * k_max),
            name="index")
    raise ExportError(f"index must be one of {', '.join(INDEXES)}, got {kind!r}")


def _finish(scores: tf.Tensor, ids: tf.Tensor, exclusions: tf.Tensor | None, k: tf.Tensor,
            k_max_: int) -> dict[str, tf.Tensor]:
    """The first ``k`` of ``k_max`` results, excluded or missing ones blanked (score -inf)."""
    invalid = tf.equal(ids, "")
    if exclusions is not None:
        # With fewer candidates than k_max + exclusions, excluded items can come
        # back at the tail: blank them rather than serve a seen item.
        invalid |= tf.reduce_any(tf.equal(ids[:, :, None], exclusions[:, None, :]), axis=-1)
    ids = tf.where(invalid, tf.constant("", tf.string), ids)
    scores = tf.where(invalid, tf.constant(-np.inf, tf.float32), tf.cast(scores, tf.float32))
    pad = k_max_ - tf.shape(ids)[1]
    ids = tf.pad(ids, [[0, 0], [0, pad]], constant_values="")
    scores = tf.pad(scores, [[0, 0], [0, pad]], constant_values=-np.inf)
    checks = [tf.debugging.assert_greater_equal(k, 1, message="k must be >= 1"),
              tf.debugging.assert_less_equal(k, k_max_, message=f"k must be <= k_max={k_max_}")]
    with tf.control_dependencies(checks):
        return {"item_ids": ids[:, :k], "scores": scores[:, :k]}



def _last_nonzero(items: tf.Tensor, length: int) -> tf.Tensor:
    """The last ``length`` non-zero entries of each row, kept in order, left-padded with 0."""
    keep = items > 0
    # Count of kept entries at or after each position: the newest ``length`` survive.
    from_end = tf.cumsum(tf.cast(keep, tf.int32), axis=1, reverse=True)
    keep &= from_end <= length
    positions = tf.range(1, tf.shape(items)[1] + 1)[None, :]
    key = tf.where(keep, positions, tf.zeros_like(positions))
    order = tf.argsort(key, axis=1, stable=True)[:, -length:]
    out = tf.gather(tf.where(keep, items, tf.zeros_like(items)), order, batch_dims=1)
    # Fewer columns than ``length`` (a short input): pad on the left.
    out = tf.pad(out, [[0, 0], [length - tf.shape(out)[1], 0]])
    return tf.reshape(out, [-1, length])


class ServingModule(tf.Module):
    """A retrieval model's user tower plus a top-K index over candidate items.

    Only the user tower runs per request; candidate item vectors are computed once here.
    The Keras towers are not tracked as attributes (Keras' own SavedModel serialisation
    of subclassed towers is not needed and is fragile), only their variables are.

    Args:
      model: a trained model with ``user_tower`` / ``item_tower`` (retrieval or popularity).
      catalog: the dataset's catalog (the towers take catalog indices).
      items: candidate item ids; ids not in the catalog are dropped.
      known: users' seen items and latest items (see `KnownInteractions`).
      index: ``brute_force`` (exact) or ``scann`` (approximate).
      k_max: the largest ``k`` a query may ask for.
      max_recent: recent items a query may pass (see `MAX_RECENT`).

    Example (a popularity model counting items ``c`` 3, ``b`` 2 and ``a`` 1 times; the known
    user has seen ``c``, the cold user ``""`` has just seen ``a``):
      >>> from tfrec_inc.data import load
      >>> from tfrec_inc.models.popularity import PopularityModel
      >>> catalog = Catalog.from_interactions(load("synthetic", num_users=60, num_items=40,
      ...                                          num_interactions=600))
      >>> (a, b, c), user = catalog.items.ids[:3], catalog.users.ids[0]
      >>> model = PopularityModel(catalog, pd.DataFrame({"item_id": [c, c, c, b, b, a]}))
      >>> known = KnownInteractions.from_interactions(
      ...     pd.DataFrame({"user_id": [user], "item_id": [c], "timestamp": [0]}))
      >>> module = ServingModule(model, catalog, [a, b, c], known, k_max=3)
      >>> out = module.serve(tf.constant([user, ""]), tf.constant([[""], [a]]), tf.constant(2))
      >>> out["item_ids"].numpy().astype(str).tolist() == [[b, a], [c, b]]
      True
      >>> out["scores"].numpy().tolist()
      [[2.0, 1.0], [3.0, 2.0]]
    """

    def __init__(self, model: TwoTower, catalog: Catalog, items: Sequence[str], known: KnownInteractions,
                 index: str = "brute_force", k_max: int = 100, max_recent: int = MAX_RECENT) -> None:
        super().__init__(name="recommender")
        if int(k_max) < 1:
            raise ExportError(f"k_max must be >= 1, got {k_max}")
        rows = np.unique(catalog.items.lookup([str(i) for i in items]))
        rows = rows[rows > 0]
        if not len(rows):
            raise ExportError("no candidate item is in the catalog")
        self.k_max = int(k_max)
        self.max_recent = int(max_recent)
        self.history_length = int(model.history_length)
        self.index_kind = index
        item_ids = np.array([""] + catalog.items.ids, dtype=object)
        # Candidates in catalog order, so exact ties go to the lower catalog index (the
        # evaluation's `rank_items` orders ties by a seeded permutation instead; trained
        # models' float scores practically never tie exactly).
        vectors = embed_items(model.item_tower, rows)
        self.num_items = len(rows)
        self.dim = int(vectors.shape[1])
        self.max_seen = int(np.diff(known.seen_splits).max(initial=0))
        self.index = _make_index(index, self.k_max, self.num_items, self.dim,
                                 self.k_max + self.max_seen + self.max_recent)
        self.index.index(vectors, tf.constant(item_ids[rows].astype(str)))

        self._tables(catalog, known)
        self.user_variables = list(model.user_tower.variables)

        self.serve, self.search = self._functions(model.user_tower)
        # Traced now: the first request does not pay for it, and Keras builds the index.
        self.serve(tf.constant([""]), tf.zeros([1, 0], tf.string), tf.constant(1))
        self.search(tf.zeros([1, self.dim]), tf.constant(1))

    def _tables(self, catalog: Catalog, known: KnownInteractions) -> None:
        """Id -> catalog index lookups and the known users' seen/latest-item tables."""
        self.item_lookup = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(catalog.items.ids, tf.string),
                tf.range(1, len(catalog.items), dtype=tf.int64)), default_value=0)
        self.user_lookup = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(catalog.users.ids, tf.string),
                tf.range(1, len(catalog.users), dtype=tf.int64)), default_value=0)
        # Known users -> row of the tables below; unknown users -> the empty last row.
        n_known = len(known.users)
        keys, rows_of = known.users.astype(str), np.arange(n_known, dtype=np.int64)
        if not n_known:
            # Hash tables cannot be empty; this key leads to the (empty) default row anyway.
            keys, rows_of = np.array(["\0"]), np.zeros(1, dtype=np.int64)
        self.known_lookup = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(tf.constant(keys, tf.string), tf.constant(rows_of)),
            default_value=n_known)
        # Variables, not graph constants: a loaded export can hand them to `refresh_index`.
        self.known_users = tf.Variable(known.users.astype(str), trainable=False, dtype=tf.string)
        self.seen_splits = tf.Variable(np.append(known.seen_splits, known.seen_splits[-1]),
                                       trainable=False, dtype=tf.int64)
        self.seen_items = tf.Variable(known.seen_items.astype(str).reshape(-1), trainable=False,
                                      dtype=tf.string)
        width = self.history_length
        history = np.full((n_known + 1, width), "", dtype=object)
        if width and known.history.shape[1]:
            take = min(width, known.history.shape[1])
            history[:n_known, width - take:] = known.history[:, -take:]
        self.known_history = tf.Variable(history.astype(str).reshape(n_known + 1, width),
                                         trainable=False, dtype=tf.string)

    def _functions(self, user_tower: tf.keras.layers.Layer) -> tuple[tf.types.experimental.GenericFunction,
                                                                     tf.types.experimental.GenericFunction]:
        """The traced ``serve`` and ``search`` functions of the module."""
        k_max_ = self.k_max


        @tf.function(input_signature=[
            tf.TensorSpec([None], tf.string, name="user_id"),
            tf.TensorSpec([None, None], tf.string, name="recent_items"),
            tf.TensorSpec([], tf.int32, name="k"),
        ])
        def serve(user_id, recent_items, k):
            r = self.max_recent
            recent = recent_items[:, -r:]
            recent = tf.pad(recent, [[0, 0], [r - tf.shape(recent)[1], 0]], constant_values="")
            recent = tf.reshape(recent, [-1, r])  # static width for the exclusions
            row = self.known_lookup.lookup(user_id)
            features = {"user": self.user_lookup.lookup(user_id)}
            if self.history_length:
                latest = tf.concat([tf.gather(self.known_history, row), recent], axis=1)
                features["history"] = _last_nonzero(self.item_lookup.lookup(latest), self.history_length)
            query = user_tower(features, training=False)
            seen = tf.RaggedTensor.from_row_splits(self.seen_items, self.seen_splits)
            seen = tf.gather(seen, row).to_tensor(default_value="", shape=[None, self.max_seen])
            exclusions = tf.concat([seen, recent], axis=1)
            scores, ids = self.index.query_with_exclusions(query, exclusions, k=k_max_)
            return _finish(scores, ids, exclusions, k, k_max_)

        @tf.function(input_signature=[
            tf.TensorSpec([None, self.dim], tf.float32, name="query"),
            tf.TensorSpec([], tf.int32, name="k"),
        ])
        def search(query, k):
            scores, ids = self.index(query, k=k_max_)
            return _finish(scores, ids, None, k, k_max_)

        return serve, search

    def known(self) -> KnownInteractions:
        """The seen/latest-item tables this module serves with."""
        return known_from(self)


def known_from(module) -> KnownInteractions:
    """`KnownInteractions` read back from a `ServingModule` or a loaded export."""
    splits = module.seen_splits.numpy()[:-1]
    history = module.known_history.numpy()[:-1].astype(str).astype(object)
    return KnownInteractions(module.known_users.numpy().astype(str).astype(object), splits,
                             module.seen_items.numpy().astype(str).astype(object), history)


def save_module(module: ServingModule, out_dir: str | Path, manifest: dict) -> Path:
    """Writes ``module`` as a SavedModel plus ``manifest.json``, atomically.

    Args:
      module: the serving module.
      out_dir: the export folder (replaced if it exists).
      manifest: extra manifest fields (model label, source, ...).

    Returns:
      ``out_dir`` as a `Path`.
    """
    out = Path(out_dir)
    tmp = atomic.make_temp_dir(out)
    options = None
    if module.index_kind == "scann":
        # ScaNN's searcher is a custom op; SavedModel refuses unknown op namespaces.
        options = tf.saved_model.SaveOptions(namespace_whitelist=["Scann"])
    tf.saved_model.save(module, str(tmp), signatures={"serving_default": module.serve},
                        options=options)
    full = {**manifest, "index": module.index_kind, "k_max": module.k_max,
            "num_items": module.num_items, "embedding_dim": module.dim,
            "history_length": module.history_length, "max_recent_items": module.max_recent,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    (tmp / "manifest.json").write_text(json.dumps(full, indent=2))
    atomic.replace_dir(tmp, out)
    return out


