"""Model fusion: score-level ensembles and parameter averaging with vocabulary alignment.

Neither TFRS nor Keras ships these for two-tower models, so they are written here.

- `ScoreEnsemble`: ``score(u, i) = Σ_m w_m · s_m(u, i) / σ_m`` with ``σ_m`` the spread of
  model m's scores. A weighted sum of dot products is itself a dot product, of the
  concatenated, scaled user vectors with the concatenated item vectors, so the ensemble
  has a ``user_tower`` and an ``item_tower`` and is scored by the same full-ranking code.
- `average`: a new model whose weights are ``α·a + (1-α)·b``; id-embedding rows are
  matched by id string, and ids known to only one model keep that model's row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import tensorflow as tf

from tfrec_inc.data.vocab import Vocabulary
from tfrec_inc.models.base import TwoTower


def score_scale(model: TwoTower, users: np.ndarray, items: np.ndarray) -> float:
    """Standard deviation of a model's scores over the given user × item sample."""
    u = model.user_tower({"user": users, "history": np.zeros((len(users), model.history_length),
                                                             dtype=np.int64)})
    i = model.item_tower({"item": items})
    return float(tf.math.reduce_std(tf.matmul(u, i, transpose_b=True))) or 1.0


class _FusedUsers(tf.keras.layers.Layer):
    def __init__(self, models, scales, **kwargs):
        super().__init__(**kwargs)
        self.models, self.scales = models, scales

    def call(self, features, training=None):
        parts = []
        for m, s in zip(self.models, self.scales, strict=True):
            f = dict(features)
            if m.history_length and "history" in f:
                f["history"] = f["history"][:, -m.history_length :]
            parts.append(m.user_tower(f) * s)
        return tf.concat(parts, axis=-1)


class _FusedItems(tf.keras.layers.Layer):
    def __init__(self, models, **kwargs):
        super().__init__(**kwargs)
        self.models = models

    def call(self, features, training=None):
        return tf.concat([m.item_tower(features) for m in self.models], axis=-1)


class ScoreEnsemble(tf.keras.Model):
    """Weighted sum of per-model normalised scores, as one two-tower model.

    Args:
      models: trained retrieval models (any architectures, same catalog).
      weights: one weight per model.
      scales: per-model score spread ``σ_m`` (see `score_scale`); 1 when omitted.

    Example (two untrained 32-d models of a tiny domain, one per window):
      >>> from tfrec_inc import config
      >>> from tfrec_inc.evaluation.protocol import rank_items
      >>> from tfrec_inc.models.factory import build
      >>> from tfrec_inc.prepare import prepare
      >>> cfg = config.from_dict({"data": {"options": {"num_users": 60, "num_items": 40,
      ...     "num_interactions": 600}}, "windows": {"num_windows": 2}})
      >>> prepared = prepare(cfg)
      >>> old, new = (build(cfg.models[0], prepared, w.train) for w in prepared.windows)
      >>> fused = ScoreEnsemble([old, new], weights=[0.3, 0.7])
      >>> fused.user_tower({"user": np.array([1, 2, 3])}).shape  # both user vectors, scaled
      TensorShape([3, 64])
      >>> rank_items(fused, np.array([1, 2, 3]), np.arange(1, 41), None, k=5).shape
      (3, 5)
    """

    def __init__(self, models: Sequence, weights: Sequence[float],
                 scales: Sequence[float] | None = None) -> None:
        super().__init__()
        scales = scales or [1.0] * len(models)
        factors = [float(w) / float(s) for w, s in zip(weights, scales, strict=True)]
        self.members = list(models)
        self.weights_used = [float(w) for w in weights]
        self.history_length = max(m.history_length for m in models)
        self.user_tower = _FusedUsers(self.members, factors, name="user_tower")
        self.item_tower = _FusedItems(self.members, name="item_tower")
        self.user_vocab, self.item_vocab = Vocabulary(), Vocabulary()
        for m in self.members:  # every id some member has a row for
            self.user_vocab.add(m.user_vocab.ids)
            self.item_vocab.add(m.item_vocab.ids)
        self.penalties: list = []


# The first model's weight. Both ends belong in the grid: 0.0 serves the second model
# alone, 1.0 the first alone (e.g. the previous model when the update made things worse).
WEIGHT_GRID = (0.0, 0.25, 0.5, 0.75, 1.0)


def tuned_ensemble(first: TwoTower, second: TwoTower, scales: Sequence[float],
                   tune: Callable[[TwoTower], float], weight: float | None = None
                   ) -> tuple[ScoreEnsemble, float]:
    """A two-model `ScoreEnsemble` whose first-model weight is given or tuned.

    Args:
      first, second: trained retrieval models.
      scales: their score spreads (see `score_scale`).
      tune: ``tune(candidate) -> float`` validation quality of a candidate ensemble, on
        data neither model chose its epoch on (e.g. half B of
        `tfrec_inc.data.windows.valid_halves` when early stopping watched half A).
      weight: the first model's weight; None picks the best of `WEIGHT_GRID` by ``tune``
        (ties go to the smaller weight, i.e. towards the second model).

    Returns:
      ``(ensemble, weight)``.
    """
    if weight is None:
        weight = max(WEIGHT_GRID, key=lambda w: (
            tune(ScoreEnsemble([first, second], [w, 1 - w], scales)), -w))
    return ScoreEnsemble([first, second], [weight, 1 - weight], scales), weight


def average(a: TwoTower, b: TwoTower, alpha: float,
            build: Callable[[tuple[Vocabulary, Vocabulary]], TwoTower]) -> TwoTower:
    """Parameter average ``alpha·a + (1-alpha)·b`` of two models of one architecture.

    Args:
      a, b: trained models (``user_vocab``/``item_vocab`` attributes give their ids).
      alpha: weight of ``a``.
      build: ``build(vocabs) -> model``, making an untrained model of the architecture
        with the given (users, items) vocabularies; the result uses ``b``'s vocabularies
        extended by ``a``'s, so every id either model knows keeps a row.

    Returns:
      The averaged model.
    """
    vocabs = (b.user_vocab.extended(a.user_vocab.ids), b.item_vocab.extended(a.item_vocab.ids))
    out = build(vocabs)
    tables = {"user_tower": vocabs[0], "item_tower": vocabs[1]}
    for wa, wb, wo in zip(a.weights, b.weights, out.weights, strict=True):
        tower = next((t for t in tables if t in wo.name and "id_embedding" in wo.name), None)
        if tower is None:
            if wa.shape != wo.shape or wb.shape != wo.shape:
                raise ValueError(f"cannot average {wo.name}: shapes {wa.shape}, {wb.shape}")
            wo.assign(alpha * wa + (1.0 - alpha) * wb)
            continue
        vocab = tables[tower]
        src_a = a.user_vocab if tower == "user_tower" else a.item_vocab
        src_b = b.user_vocab if tower == "user_tower" else b.item_vocab
        rows = np.zeros(wo.shape, np.float32)
        ids = vocab.ids
        ra, rb = src_a.lookup(ids), src_b.lookup(ids)
        va, vb = wa.numpy(), wb.numpy()
        rows[0] = alpha * wa.numpy()[0] + (1.0 - alpha) * wb.numpy()[0]  # the unknown-id row
        both = (ra > 0) & (rb > 0)
        rows[1:][both] = alpha * va[ra[both]] + (1.0 - alpha) * vb[rb[both]]
        rows[1:][(ra > 0) & ~both] = va[ra[(ra > 0) & ~both]]
        rows[1:][(rb > 0) & ~both] = vb[rb[(rb > 0) & ~both]]
        wo.assign(rows)
    return out
