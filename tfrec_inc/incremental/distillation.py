"""The distillation terms of the ``distill`` strategy, masked to what the teacher knows.

The teacher is the previous model. Its output for an id it never trained on comes from
the untrained row 0, so rows (and in-batch candidates) with such ids are left out; see
`tfrec_inc.incremental.strategies.Distill` for the reductions and why.
"""

from __future__ import annotations

import tensorflow as tf

from tfrec_inc.models.base import TwoTower
from tfrec_inc.models.towers import Tower
from tfrec_inc.runtime import replica_share


def teacher_knows(tower, index: tf.Tensor) -> tf.Tensor:
    """bool [B]: whether each catalog index has its own trained id row in ``tower``.

    A `Tower`'s ``rows`` are ``id_rows(catalog, vocab)``: row 0 for every id outside the
    model's vocabulary, so this is membership in its ``user_vocab`` / ``item_vocab``.

    Args:
      tower: the previous model's user or item tower.
      index: int [B] catalog indices.

    Returns:
      True where known; all True for a tower without an id table.
    """
    index = tf.cast(index, tf.int64)
    if isinstance(tower, Tower) and tower.rows is not None:
        return tf.gather(tower.rows, index) > 0
    return tf.ones_like(index, dtype=tf.bool)


def ranking(previous: TwoTower, features: dict, predictions: tf.Tensor) -> tf.Tensor:
    """Mean squared gap to the teacher over the rows whose user and item it knows.

    Args:
      previous: the teacher (a `RankingModel`).
      features: the batch.
      predictions: float [B] the student's predictions.

    Returns:
      The scalar mean (times `replica_share`), 0 when no row is kept.
    """
    keep = tf.logical_and(teacher_knows(previous.user_tower, features["user"]),
                          teacher_knows(previous.item_tower, features["item"]))
    teacher = tf.stop_gradient(previous(features))
    sq = tf.boolean_mask(tf.square(predictions - teacher), keep)
    # A mean: 1/R of it per replica (see `runtime.replica_share`); no kept row (e.g. an
    # empty replica slice of the last, partial batch) adds 0, not NaN.
    mean = tf.where(tf.size(sq) > 0, tf.reduce_mean(sq), 0.0)
    return mean * replica_share()


def retrieval(previous: TwoTower, features: dict, outputs: dict, temp: float) -> tf.Tensor:
    """``Σ_kept rows KL(p_teacher || p_student)`` over the candidates the teacher knows.

    See `tfrec_inc.incremental.strategies.Distill` for why rows are dropped but unknown
    candidates renormalised away.

    Args:
      previous: the teacher (a `RetrievalModel`).
      features: the batch.
      outputs: the student's ``{"users": [B, d], "items": [B, d]}``.
      temp: softmax temperature.

    Returns:
      The scalar sum (without ``weight · T²``), 0 when no row is kept.
    """
    rows = tf.cast(teacher_knows(previous.user_tower, features["user"]), tf.float32)
    known = teacher_knows(previous.item_tower, features["item"])
    cols = tf.cast(known, tf.float32)
    t_scores = tf.matmul(previous.user_tower(features), previous.item_tower(features), transpose_b=True)
    s_scores = tf.matmul(outputs["users"], outputs["items"], transpose_b=True)
    # Unknown candidates leave both softmaxes: a large finite negative logit gives them
    # probability 0 without the NaN an all -inf row would give.
    off = (1.0 - cols)[None, :] * -1e9
    log_teacher = tf.stop_gradient(tf.nn.log_softmax(t_scores / temp + off))
    log_student = tf.nn.log_softmax(s_scores / temp + off)
    kl = tf.reduce_sum(cols[None, :] * tf.exp(log_teacher) * (log_teacher - log_student), axis=-1)
    return tf.reduce_sum(rows * kl)
