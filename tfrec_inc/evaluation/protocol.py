"""Full-ranking evaluation of a trained model on a window's test slice.

Protocol (all of it decided by the data, never by the model, so every model and
strategy is scored on the same users and items):

- candidates: every catalog item available at the end of the test slice (its last
  timestamp), whether or not anybody consumes it there: an item whose catalog
  ``arrival`` is no later than that, or unknown (the catalog is known in advance), or
  that has an interaction in the history. Which items the test slice holds plays no
  part, so a cold candidate (no interaction in the history) is not relevant by
  construction. Each evaluation reports ``candidates`` and ``cold_candidates``;
- history: every interaction before the test slice; a user's history items are
  excluded from their ranking (``exclude_seen``) and from their relevant set;
- relevant: the user's test-slice items (rated ≥ ``relevance_threshold`` when set);
- groups: ``all`` users with a relevant item; ``warm_users`` with history;
  ``cold_users`` without; ``cold_items``: the relevant set cut down to items with no
  interaction before the test slice, over users who have one;
- time: a time-aware model (``recency_days``) is scored at the first timestamp of the
  test slice (`scoring_time`), its features read from events before that moment only;
- ties: scores are ranked in a seeded random order of the candidates, so tied items
  (e.g. every item, for a zero user vector) come out in random order, not catalog
  order; each group reports ``constant_users``, whose scores are all equal.

Scoring is one matrix product per batch of users and `tf.math.top_k`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import tensorflow as tf

from tfrec_inc.config import EvaluationConfig
from tfrec_inc.data.catalog import Catalog
from tfrec_inc.data.history import last_items
from tfrec_inc.data.windows import Window, before_valid, make_dataset
from tfrec_inc.evaluation.metrics import per_user_metrics, recall_precision_curve
from tfrec_inc.models.item_based import Computed
from tfrec_inc.models.retrieval import RetrievalModel
from tfrec_inc.results import record


def candidate_items(catalog: Catalog, window: Window) -> np.ndarray:
    """Sorted catalog indices of every item available at the end of the window's test slice.

    Available: catalog arrival no later than the last timestamp of the test slice (or
    of the history, when the test slice is empty), arrival unknown, or an interaction
    in the history (a consumed item was available whatever its catalog date says, e.g.
    a film rated before its listed release). The test slice's items play no part.

    Args:
      catalog: the dataset's catalog (``item_arrival``).
      window: the window whose test slice is scored.

    Returns:
      int64 catalog indices (never 0, the unknown item).
    """
    times = np.concatenate([window.history["timestamp"].to_numpy(np.float64),
                            window.test["timestamp"].to_numpy(np.float64)])
    end = times.max(initial=-np.inf)
    arrival = catalog.item_arrival
    if arrival is None:
        arrival = np.full(len(catalog.items), np.nan)
    # NaN > end is False: an unknown arrival is always available.
    available = ~(arrival > end)
    available[catalog.items.lookup(window.history["item_id"].unique())] = True
    available[0] = False
    return np.flatnonzero(available).astype(np.int64)


def embed_items(tower: tf.keras.Model, index: np.ndarray, batch: int = 8192) -> tf.Tensor:
    parts = [tower({"item": index[i : i + batch]}) for i in range(0, len(index), batch)]
    return tf.concat(parts, axis=0)


def rank_items(
    model,
    users: np.ndarray,
    candidates: np.ndarray,
    seen: pd.DataFrame | None,
    k: int,
    batch_size: int = 1024,
    history: np.ndarray | None = None,
    seed: int = 0,
    time: int | None = None,
) -> np.ndarray:
    """Top-``k`` catalog item indices for each user, seen items masked out.

    Tied scores are ranked in a random order fixed by ``seed`` (see `rank_and_flag`).

    Args:
      model: has ``user_tower`` and ``item_tower`` (catalog index -> vector).
      users: catalog user indices.
      candidates: catalog item indices to rank (all of them: full ranking).
      seen: frame with int columns ``user``/``item`` (catalog indices) to exclude.
      k: list length; lists are padded with -1 when there are fewer candidates.
      batch_size: users per matrix product.
      history: int64 [len(users), N] recent items per user, for history-pooling towers.
      seed: fixes the order of tied items.
      time: the scoring moment (Unix seconds) of time-aware models (`time_bias`).

    Returns:
      int64 [len(users), k].
    """
    return rank_and_flag(model, users, candidates, seen, k, batch_size, history, seed, time)[0]


def rank_and_flag(
    model,
    users: np.ndarray,
    candidates: np.ndarray,
    seen: pd.DataFrame | None,
    k: int,
    batch_size: int = 1024,
    history: np.ndarray | None = None,
    seed: int = 0,
    time: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """`rank_items`, plus which users score every candidate alike.

    `tf.math.top_k` puts the lower index first among equal scores, so ranking the
    candidates in catalog order would present "lowest catalog index first" as model
    skill. The candidate columns are permuted with ``np.random.default_rng(seed)``
    first, so the lower-index rule picks a uniformly random tied item, exactly and for
    free; the same seed gives the same lists (a resumed run scores identically).

    Args: as `rank_items`.

    Returns:
      ``(ranked, constant)``: int64 [len(users), k] and bool [len(users)], True where
      the user's scores are equal over all candidates (before seen items are masked),
      e.g. a zero user vector: such a user's list is pure tie-breaking.
    """
    candidates = candidates[np.random.default_rng(seed).permutation(len(candidates))]
    item_vectors = embed_items(model.item_tower, candidates)
    column = np.full(int(candidates.max(initial=0)) + 1, -1, dtype=np.int64)
    column[candidates] = np.arange(len(candidates))
    if seen is not None and len(seen):
        seen = seen[seen["item"] < len(column)]
        seen = seen.assign(col=column[seen["item"].to_numpy()])
        seen = seen[seen["col"] >= 0]
    else:
        seen = pd.DataFrame({"user": [], "col": []}, dtype=np.int64)
    k_eff = min(k, len(candidates))
    out = np.full((len(users), k), -1, dtype=np.int64)
    constant = np.zeros(len(users), dtype=bool)
    for start in range(0, len(users), batch_size):
        batch = users[start : start + batch_size]
        inputs = {"user": batch}
        if history is not None:
            inputs["history"] = history[start : start + batch_size]
        scores = tf.matmul(model.user_tower(inputs), item_vectors, transpose_b=True)
        scores += time_bias(model, batch, candidates, time)
        if len(candidates):
            spread = tf.reduce_max(scores, axis=1) - tf.reduce_min(scores, axis=1)
            constant[start : start + len(batch)] = spread.numpy() == 0
        sel = seen[seen["user"].isin(batch)]
        if len(sel):
            row_of = pd.Series(np.arange(len(batch)), index=batch)
            idx = np.stack([row_of[sel["user"]].to_numpy(), sel["col"].to_numpy()], axis=1)
            scores = tf.tensor_scatter_nd_update(
                scores, idx, tf.fill([len(idx)], tf.constant(-np.inf, scores.dtype))
            )
        top = tf.math.top_k(scores, k=k_eff).indices.numpy()
        out[start : start + len(batch), :k_eff] = candidates[top]
    return out, constant


def time_bias(model, users: np.ndarray, items: np.ndarray, time: int | None) -> tf.Tensor | float:
    """A time-aware model's score term for ``users`` × ``items`` at ``time`` (0 for others; ValueError
    when it is time-aware and ``time`` is None)."""
    if not isinstance(model, RetrievalModel) or model.recency is None:
        return 0.0
    if time is None:
        raise ValueError("a time-aware model (recency_days) is scored at a moment: pass time")
    return model.recency(users, items, np.full(len(users), time, np.int64))


def scoring_time(window: Window) -> int:
    """The moment a window's test slice is scored at: its first timestamp (or after the history)."""
    if len(window.test):
        return int(window.test["timestamp"].min())
    return int(window.history["timestamp"].to_numpy().max(initial=0)) + 1


def evaluate_retrieval(
    model, catalog: Catalog, window: Window, cfg: EvaluationConfig,
    per_user: list[dict] | None = None, groups: tuple[str, ...] | None = None, seed: int = 0,
    per_user_ks: Sequence[int] = (),
) -> list[dict]:
    """Full-ranking metrics of a retrieval model on ``window.test``, per group.

    Args:
      model: a trained `RetrievalModel`.
      catalog: the dataset's catalog.
      window: the window whose test slice is scored.
      cfg: evaluation settings.
      per_user: if given, receives ``{"user", "metric", "k", "value"}`` rows of recall
        and NDCG for group ``all`` (for intervals and paired tests).
      groups: overrides ``cfg.groups``.
      seed: fixes the random order of tied scores (`rank_and_flag`); pass the run's seed.
      per_user_ks: the cut-offs of the ``per_user`` rows (`paired_ks`); empty: K = 20
        (or the largest K).

    A computed baseline (`tfrec_inc.models.item_based.Computed`) is scored with its users
    folded in from ``window.history``: the history the trained models' towers read.

    Returns:
      Records ``{"group", "metric", "k", "value"}``: every metric at ``cfg.ks``, the
      group sizes (``users``) and how many of them score every candidate alike
      (``constant_users``); for group ``all``, the number of ``candidates`` and of
      ``cold_candidates`` (no interaction in the history) and recall/precision at every
      K in ``1..max(ks)`` (recall-precision curve points).
    """
    hist, relevant = _relevant(catalog, window, cfg)
    if relevant.empty:
        return []
    if isinstance(model, Computed):
        # Baselines see each user's whole history before the slice, as history towers do.
        model = model.folded_in(catalog, window.history)
    users = relevant.index.to_numpy(np.int64)
    k_max = max(cfg.ks)
    recent = None
    if model.history_length:
        # The user's latest items before the test slice: what a deployed model would know.
        past = window.history
        recent = last_items(catalog.users.lookup(past["user_id"]), catalog.items.lookup(past["item_id"]),
                            past["timestamp"].to_numpy(), users, model.history_length)
    candidates = candidate_items(catalog, window)
    ranked, constant = rank_and_flag(
        model, users, candidates, hist if cfg.exclude_seen else None, k_max, cfg.user_batch_size,
        recent, seed, scoring_time(window),
    )
    old_items = set(hist["item"].unique())
    records = [record("candidates", len(candidates), "all"),
               record("cold_candidates", int(np.sum(~np.isin(candidates, list(old_items)))), "all")]
    warm = np.isin(users, hist["user"].unique())
    rel_lists = relevant.tolist()
    table = {
        "all": (np.ones(len(users), bool), rel_lists),
        "warm_users": (warm, rel_lists),
        "cold_users": (~warm, rel_lists),
        "cold_items": (np.ones(len(users), bool), [r - old_items for r in rel_lists]),
    }
    for group in groups if groups is not None else tuple(cfg.groups):
        mask, rel = table[group]
        records += _group_records(group, ranked[mask], constant[mask],
                                  [r for r, m in zip(rel, mask, strict=True) if m], cfg.ks)
        if per_user is not None and group == "all":
            values_by_name = per_user_metrics(ranked, rel_lists, cfg.ks)
            per_user.extend(_per_user_rows(catalog, users, values_by_name,
                                           per_user_ks or paired_ks((), cfg.ks)))
    return records


def _group_records(group: str, ranked: np.ndarray, constant: np.ndarray, rel: list[set[int]],
                   ks: Sequence[int]) -> list[dict]:
    """One group's records (see `evaluate_retrieval`).

    Args:
      group: the group's name.
      ranked: the group's users' lists.
      constant: whether each of them scores every candidate alike.
      rel: each one's relevant set (may be empty: not counted).
      ks: the cut-offs.

    Returns:
      ``users``, ``constant_users`` and each metric at ``ks`` (with curve points for
      group ``all``).
    """
    has = np.array([bool(r) for r in rel], dtype=bool)
    n = int(has.sum())
    records = [record("users", n, group), record("constant_users", int(constant[has].sum()), group)]
    if n == 0:
        return records
    for name, values in per_user_metrics(ranked, rel, ks).items():
        metric, at = name.split("@")
        records.append(record(metric, values.mean(), group, int(at)))
    if group != "all":
        return records  # curve points only for everyone: that is what the plots draw
    recall, precision = recall_precision_curve(ranked, rel)
    for k in range(1, ranked.shape[1] + 1):
        if k not in ks:
            records.append(record("recall", recall[k - 1], group, k))
            records.append(record("precision", precision[k - 1], group, k))
    return records


def _relevant(catalog: Catalog, window: Window, cfg: EvaluationConfig) -> tuple[pd.DataFrame, pd.Series]:
    """``(seen (user, item) pairs, user -> set of relevant test items)`` of a window."""
    hist = pd.DataFrame(catalog.encode(window.history)).drop(columns="rating", errors="ignore")
    test = window.test
    if cfg.relevance_threshold is not None and "rating" in test.columns:
        test = test[test["rating"] >= cfg.relevance_threshold]
    test = pd.DataFrame(catalog.encode(test)).drop(columns="rating", errors="ignore")
    hist = hist.drop_duplicates()
    if cfg.exclude_seen:
        # A re-consumed item is excluded from the ranking, so it cannot be relevant.
        pairs = test.merge(hist, on=["user", "item"], how="left", indicator=True)
        test = pairs[pairs["_merge"] == "left_only"][["user", "item"]]
    test = test.drop_duplicates()
    return hist, test.groupby("user")["item"].agg(set)


def paired_ks(metrics: Sequence[str], ks: Sequence[int]) -> list[int]:
    """The cut-offs to keep per-user values at: those of the recall/NDCG table columns.

    Per-user values give a table cell its interval and a row its paired test, so they
    are kept at every K a ``recall@K`` or ``ndcg@K`` column shows (and that ``ks`` has);
    with none, at K = 20 (or the largest K).

    Args:
      metrics: the report's ``metric@k`` names (``report.metrics``).
      ks: the evaluated cut-offs (``evaluation.ks``).

    Returns:
      The cut-offs, ascending.

    Example:
      >>> paired_ks(["recall@10", "ndcg@50", "hit_rate@20", "mrr@5"], [10, 20, 50])
      [10, 50]
      >>> paired_ks(["hit_rate@20"], [10, 20, 50])
      [20]
    """
    found = set()
    for name in metrics:
        metric, _, k = name.partition("@")
        if metric in ("recall", "ndcg") and k.isdigit() and int(k) in ks:
            found.add(int(k))
    return sorted(found) or [20 if 20 in ks else max(ks)]


def _per_user_rows(catalog: Catalog, users: np.ndarray, values_by_name: dict[str, np.ndarray],
                   ks: Sequence[int]) -> list[dict]:
    """Per-user recall and NDCG at each K of ``ks``, for intervals and paired tests."""
    return [{"user": catalog.users.ids[u - 1], "metric": metric, "k": k, "value": float(v)}
            for k in ks for metric in ("recall", "ndcg")
            for u, v in zip(users, values_by_name[f"{metric}@{k}"], strict=True)]


def valid_as_test(window: Window) -> Window:
    """The window with its validation slice in the test slot, history everything before it."""
    return dataclasses.replace(window, test=window.valid, history=before_valid(window))


def validation_recall(model, catalog: Catalog, window: Window, cfg: EvaluationConfig,
                      seed: int = 0) -> float:
    """Recall@20 (or the largest K) on the window's validation slice (for tuning, e.g. fusion).

    The validation slice is scored like a test slice whose history is everything before it.

    Args:
      model: the model to score.
      catalog: the dataset's catalog.
      window: the window whose validation slice is scored.
      cfg: evaluation settings.
      seed: fixes the order of tied scores (see `evaluate_retrieval`).

    Returns:
      The recall (0 when the validation slice is empty).
    """
    if not len(window.valid):
        return 0.0
    as_test = valid_as_test(window)
    k = 20 if 20 in cfg.ks else max(cfg.ks)
    found = evaluate_retrieval(model, catalog, as_test, cfg, groups=("all",), seed=seed)
    return next((r["value"] for r in found if r["metric"] == "recall" and r["k"] == k), 0.0)


def validation_monitor(model_type: str, catalog: Catalog, window: Window, cfg: EvaluationConfig,
                       row_history: np.ndarray | None = None, seed: int = 0) -> Callable[[Any], float] | None:
    """What early stopping watches (`tfrec_inc.models.training.fit`): higher is better.

    The model itself is scored on the whole validation slice, so neither the last batch's
    size nor a strategy's penalty terms (EWC, distillation) enter the value.

    Args:
      model_type: ``ranking`` (rating models) or a retrieval type.
      catalog: the dataset's catalog.
      window: the window whose validation slice is scored (e.g. one of
        `tfrec_inc.data.windows.valid_halves`).
      cfg: evaluation settings.
      row_history: per-row item history (rating models with history towers), or None.
      seed: tie-breaking seed of the validation ranking (the run's).

    Returns:
      ``monitor(model) -> float``: `validation_recall` for retrieval models, minus the
      validation RMSE for rating models; None when the slice is empty (every epoch runs).
    """
    if not len(window.valid):
        return None
    if model_type != "ranking":
        return lambda model: validation_recall(model, catalog, window, cfg, seed)
    as_test = valid_as_test(window)
    only_all = dataclasses.replace(cfg, groups=["all"])

    def minus_rmse(model) -> float:
        found = evaluate_ranking(model, catalog, as_test, only_all, row_history)
        return -next((r["value"] for r in found if r["metric"] == "rmse"), np.inf)

    return minus_rmse


def evaluate_tfrs_topk(model, catalog: Catalog, window: Window, row_history: np.ndarray | None = None,
                       ks=(1, 5, 10, 50, 100)) -> list[dict]:
    """TFRS ``FactorizedTopK`` top-K categorical accuracy on the test slice (tutorial metric).

    It ranks the true item among all candidates without excluding seen items, exactly as
    the TFRS tutorials do, so it is comparable with their published numbers.
    """
    model.attach_topk_metric(candidate_items(catalog, window), ks=ks)
    ds = make_dataset(catalog.encode(window.test, row_history, model.history_length), batch_size=4096)
    result = model.evaluate(ds, return_dict=True, verbose=0)
    model.detach_topk_metric()
    return [
        record("tfrs_top_k_accuracy", result[f"factorized_top_k/top_{k}_categorical_accuracy"], "all", k)
        for k in ks
    ]


def evaluate_ranking(model, catalog: Catalog, window: Window, cfg: EvaluationConfig,
                     row_history: np.ndarray | None = None) -> list[dict]:
    """RMSE and MAE of a rating model on the test slice, per group."""
    enc = catalog.encode(window.test, row_history, model.history_length)
    if "rating" not in enc:
        return []
    pred = np.concatenate([model(b).numpy() for b in make_dataset(enc, 8192)])
    err = pred - enc["rating"]
    hist = catalog.encode(window.history)
    warm = np.isin(enc["user"], hist["user"])
    old_item = np.isin(enc["item"], hist["item"])
    masks = {
        "all": np.ones(len(err), bool),
        "warm_users": warm,
        "cold_users": ~warm,
        "cold_items": ~old_item,
    }
    records = []
    for group in cfg.groups:
        e = err[masks[group]]
        records.append(record("ratings", e.size, group))
        if e.size:
            records.append(record("rmse", np.sqrt(np.mean(e**2)), group))
            records.append(record("mae", np.mean(np.abs(e)), group))
    return records
