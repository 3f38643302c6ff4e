"""Two-tower retrieval on `tfrs.tasks.Retrieval` (in-batch softmax)."""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tensorflow_recommenders as tfrs

from tfrec_inc.data.vocab import Vocabulary


class RetrievalModel(tfrs.Model):
    """Scores ``user_tower(user) · item_tower(item)``, trained with in-batch softmax.

    Metrics are only computed outside training (``compute_metrics=not training``): the
    FactorizedTopK metric scores every candidate and would dominate the epoch time.

    Args:
      user_tower: catalog user index -> vector.
      item_tower: catalog item index -> vector.
      temperature: softmax temperature of the task.
      remove_accidental_hits: mask in-batch negatives equal to the positive item.
      item_probability: float [n_catalog] probability of each item appearing as an
        in-batch candidate (its training frequency); when given, TFRS's logQ correction
        subtracts log p from each candidate's logit, so popular items are not penalised
        for being sampled as negatives more often.
      cross_replica_negatives: under a strategy with several replicas, all-gather the
        items (and their ids and probabilities) of every replica, so each replica scores
        its users against the whole global batch: the loss and its summed gradients are
        then those of one device. False: each replica's softmax has only its own
        ``batch / replicas`` candidates (plain TFRS; TFRS issue #733). Distillation
        penalties keep using the replica's own items.
      user_vocab, item_vocab: the ids that have their own rows in the towers' id tables
        (persisted with the weights; grown by incremental updates).

    Example (two tiny id towers; `tfrec_inc.models.factory.build` makes real ones):
      >>> from tfrec_inc.models.towers import Tower
      >>> model = RetrievalModel(Tower("user", 8, rows=np.arange(5), num_rows=5),
      ...                        Tower("item", 8, rows=np.arange(4), num_rows=4))
      >>> model.compile(tf.keras.optimizers.Adagrad(0.1))
      >>> train_ds = tf.data.Dataset.from_tensor_slices({"user": [1, 2, 3, 4], "item": [1, 2, 3, 1]})
      >>> len(model.fit(train_ds.batch(2), epochs=3, verbose=0).history["loss"])
      3
    """

    def __init__(
        self,
        user_tower: tf.keras.Model,
        item_tower: tf.keras.Model,
        temperature: float = 1.0,
        remove_accidental_hits: bool = False,
        item_probability: np.ndarray | None = None,
        cross_replica_negatives: bool = True,
        user_vocab: Vocabulary | None = None,
        item_vocab: Vocabulary | None = None,
    ) -> None:
        super().__init__()
        self.user_vocab = user_vocab if user_vocab is not None else Vocabulary()
        self.item_vocab = item_vocab if item_vocab is not None else Vocabulary()
        self.item_probability = None
        if item_probability is not None:
            self.item_probability = tf.constant(item_probability, dtype=tf.float32)
        self.user_tower = user_tower
        self.item_tower = item_tower
        self.remove_accidental_hits = remove_accidental_hits
        self.cross_replica_negatives = cross_replica_negatives
        self.task = tfrs.tasks.Retrieval(
            temperature=None if temperature == 1.0 else temperature,
            remove_accidental_hits=remove_accidental_hits,
        )
        # Extra loss terms of incremental strategies (distillation, EWC): callables
        # (features, outputs) -> scalar, set before `fit` traces the train step.
        self.penalties: list = []

    @property
    def history_length(self) -> int:
        """Items of user history the user tower reads (0: none)."""
        return self.user_tower.history_length

    def compute_loss(self, features: dict[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        loss, outputs = self._task(features, training, metrics=not training)
        for penalty in self.penalties:
            loss += penalty(features, outputs)
        return loss

    def task_loss(self, features: dict[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        """The in-batch softmax loss alone: no strategy penalties, no metric updates.

        EWC's Fisher is the gradient of this: a penalty (its own, from the update that
        trained the model) would otherwise leak into the importance of every weight.

        Args:
          features: a batch (``"user"``, ``"item"``, optional ``"history"``).
          training: run the towers in training mode (id dropout on).

        Returns:
          The scalar loss, summed over the batch like TFRS's.
        """
        return self._task(features, training, metrics=False)[0]

    def _task(self, features: dict[str, tf.Tensor], training: bool,
              metrics: bool) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
        """TFRS's retrieval loss and the tower outputs the penalties read."""
        users = self.user_tower(features, training=training)
        items = self.item_tower(features, training=training)
        probability = None
        if self.item_probability is not None:
            probability = tf.gather(self.item_probability, tf.cast(features["item"], tf.int64))
        candidates, ids = items, features["item"] if self.remove_accidental_hits else None
        # TFRS's FactorizedTopK evaluation expects one candidate per query: not gathered.
        if self.cross_replica_negatives and (training or not self.task.factorized_metrics):
            candidates, ids, probability = _global_candidates(items, ids, probability)
        loss = self.task(
            users,
            candidates,
            candidate_sampling_probability=probability,
            candidate_ids=ids,
            compute_metrics=metrics,
        )
        return loss, {"users": users, "items": items}

    def attach_topk_metric(self, candidates: tf.Tensor, ks=(1, 5, 10, 50, 100)) -> None:
        """Adds TFRS's FactorizedTopK top-K categorical accuracy over ``candidates``.

        Args:
          candidates: catalog item indices that form the candidate set.
          ks: cut-offs of the metric.
        """
        ds = tf.data.Dataset.from_tensor_slices({"item": candidates}).batch(1024).map(self.item_tower)
        # A list: TFRS 0.7.7's setter silently drops a bare (non-sequence) metric.
        self.task.factorized_metrics = [tfrs.metrics.FactorizedTopK(candidates=ds, ks=ks)]
        # A test step traced during fit's validation would silently skip the new metric.
        self.test_function = None

    def detach_topk_metric(self) -> None:
        """Removes the FactorizedTopK metric (validation stays cheap)."""
        self.task.factorized_metrics = []
        self.test_function = None


def _global_candidates(items: tf.Tensor, ids: tf.Tensor | None, probability: tf.Tensor | None):
    """Every replica's in-batch candidates, this replica's own first.

    Outside a multi-replica step the inputs are returned as they are. Inside one, the
    rows of all replicas are gathered and rolled so this replica's rows come first:
    TFRS's labels (the identity over the first ``len(users)`` columns) then still mark
    each user's own item, and the other replicas' items are extra negatives. Replica
    slices may differ in size (the last, partial batch). The all-gather's gradient sums
    every replica's contribution back to the rows' own replica.

    Args:
      items: [b, d] this replica's candidate embeddings.
      ids: [b] their item indices, or None.
      probability: [b] their sampling probabilities, or None.

    Returns:
      (items, ids, probability) over the global batch, None kept as None.
    """
    ctx = tf.distribute.get_replica_context()
    if ctx is None or ctx.num_replicas_in_sync == 1:
        return items, ids, probability
    sizes = ctx.all_gather(tf.shape(items)[:1], axis=0)
    shift = -tf.reduce_sum(sizes[: ctx.replica_id_in_sync_group])
    # Separate gathers: only the embeddings carry a gradient.
    out = [tf.roll(ctx.all_gather(items, axis=0), shift, axis=0)]
    for extra in (ids, probability):
        out.append(None if extra is None else tf.roll(ctx.all_gather(extra, axis=0), shift, axis=0))
    return tuple(out)
