"""Two-tower retrieval on `tfrs.tasks.Retrieval`: in-batch, mixed or full-catalog softmax.

``in_batch`` and ``mixed`` negatives are TFRS's own task (``mixed``: the batch's items plus
uniformly sampled ones, Yang et al. 2020, as extra candidate columns). The ``full``
softmax over every catalog item is written here: TFRS's task places each query's positive
on the diagonal of the candidate matrix, which a fixed catalog-wide candidate set cannot.
"""

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
      negatives: ``in_batch`` (the batch's other items), ``mixed`` (those plus
        ``uniform_negatives`` items drawn uniformly from the catalog per step; accidental
        hits removed; with ``item_probability`` the logQ correction uses each candidate's
        probability under the mixture) or ``full`` (a softmax over every catalog item;
        no sampling, so no correction).
      num_items: catalog size (``mixed`` and ``full``: index 0, the unknown item, is
        never a candidate).
      uniform_negatives: ``mixed`` only: uniform samples per step.
      recency: ``full`` only: a time-aware score term added to every logit
        (`tfrec_inc.models.recency.RecencyScore`; the batches then carry ``"time"``).

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
        negatives: str = "in_batch",
        num_items: int = 0,
        uniform_negatives: int = 0,
        recency: tf.keras.layers.Layer | None = None,
    ) -> None:
        super().__init__()
        if negatives != "in_batch" and num_items < 2:
            raise ValueError(f"negatives={negatives!r} needs num_items (the catalog size)")
        if recency is not None and negatives != "full":
            raise ValueError("a recency term needs negatives='full' (each item scored at the query's time)")
        self.recency = recency
        self.negatives, self.num_items, self.uniform_negatives = negatives, num_items, uniform_negatives
        self.temperature = temperature
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
            # Uniform samples can be the positive itself.
            remove_accidental_hits=remove_accidental_hits or negatives == "mixed",
        )
        # Extra loss terms of incremental strategies (distillation, EWC): callables
        # (features, outputs) -> scalar, set before `fit` traces the train step.
        self.penalties: list = []

    @property
    def history_length(self) -> int:
        """Items of user history the user tower reads (0: none)."""
        return self.user_tower.history_length

    @property
    def reads_time(self) -> bool:
        """Whether scores depend on the scoring moment (batches carry ``"time"``)."""
        return self.recency is not None

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
        # TFRS's FactorizedTopK evaluation expects one candidate per query: not gathered.
        with_topk = metrics and bool(self.task.factorized_metrics)
        if self.negatives == "full" and not with_topk:
            return self._full_softmax(users, features, training), {"users": users, "items": items}
        probability = None
        if self.item_probability is not None:
            probability = tf.gather(self.item_probability, tf.cast(features["item"], tf.int64))
        mixed = self.negatives == "mixed" and not with_topk
        candidates, ids = items, features["item"] if self.remove_accidental_hits or mixed else None
        if self.cross_replica_negatives and not with_topk:
            candidates, ids, probability = _global_candidates(items, ids, probability)
        if mixed:
            candidates, ids, probability = self._add_uniform(candidates, ids, probability, training)
        loss = self.task(
            users,
            candidates,
            candidate_sampling_probability=probability,
            candidate_ids=ids,
            compute_metrics=metrics,
        )
        return loss, {"users": users, "items": items}

    def _full_softmax(self, users: tf.Tensor, features: dict[str, tf.Tensor], training: bool) -> tf.Tensor:
        """Softmax cross-entropy over every catalog item (index 0 masked), summed like TFRS's."""
        every = tf.range(self.num_items, dtype=tf.int64)
        catalog = self.item_tower({"item": every}, training=training)
        logits = tf.matmul(users, catalog, transpose_b=True)
        if self.recency is not None:
            logits += self.recency(features["user"], every, features["time"], training=training)
        logits = logits / self.temperature
        logits += tf.one_hot(0, self.num_items, on_value=-1e9, off_value=0.0)[None]
        labels = tf.cast(features["item"], tf.int64)
        return tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))

    def _add_uniform(self, candidates: tf.Tensor, ids: tf.Tensor, probability: tf.Tensor | None,
                     training: bool) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor | None]:
        """Appends uniformly drawn catalog items to the in-batch candidates (mixed negatives).

        With logQ correction an item's probability becomes its chance under the mixture:
        its in-batch frequency plus ``uniform / (batch · (n − 1))`` (a constant factor does
        not change the softmax).
        """
        drawn = tf.random.uniform([self.uniform_negatives], 1, self.num_items, dtype=tf.int64)
        extra = self.item_tower({"item": drawn}, training=training)
        ids = tf.concat([tf.cast(ids, tf.int64), drawn], axis=0)
        if probability is not None:
            assert self.item_probability is not None
            share = self.uniform_negatives / (tf.cast(tf.shape(candidates)[0], tf.float32)
                                              * (self.num_items - 1))
            probability = tf.gather(self.item_probability, ids) + share
        return tf.concat([candidates, extra], axis=0), ids, probability

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
