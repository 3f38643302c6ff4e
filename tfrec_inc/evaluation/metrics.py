"""Top-K ranking metrics over ranked lists (Recall, Precision, NDCG, HitRate, MRR, MAP).

TFRS ships only sampled/categorical top-K accuracy, so the per-user list metrics that
papers report are written here, vectorised with NumPy. Definitions (binary relevance,
``rel`` = the user's relevant set, ``hit_i`` = 1 if the item at rank ``i`` is relevant):

- precision@K = Σ_{i≤K} hit_i / K
- recall@K = Σ_{i≤K} hit_i / |rel|
- ndcg@K = Σ_{i≤K} hit_i / log2(i+1), divided by the ideal DCG over min(|rel|, K) hits
- hit_rate@K = 1 if any hit within K else 0
- mrr@K = 1 / rank of the first hit within K, else 0
- map@K = Σ_{i≤K} precision@i · hit_i / min(|rel|, K)

Users without relevant items are left out of every average. A ranked list shorter
than K is padded with -1, which is never a hit. Ties in scores are broken before this
point (`tfrec_inc.evaluation.protocol.rank_items`: a seeded random order).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

import numpy as np

METRICS = ("recall", "precision", "ndcg", "hit_rate", "mrr", "map")


def hit_matrix(ranked: np.ndarray, relevant: Sequence[Collection[int]]) -> np.ndarray:
    """bool [n_users, K_max]: whether ``ranked[u, i]`` is in ``relevant[u]``.

    Args:
      ranked: int [n_users, K_max] item indices, best first; negative entries (the -1
        padding of a short list) are never hits.
      relevant: per user, the relevant item indices.

    Returns:
      The hit matrix.
    """
    ranked = np.asarray(ranked, dtype=np.int64)
    if ranked.ndim != 2 or ranked.shape[0] != len(relevant):
        raise ValueError(
            f"ranked must be [n_users, K_max] with n_users={len(relevant)}, got {ranked.shape}"
        )
    # One code per (user, item) pair makes membership a single vectorised np.isin.
    width = int(max(ranked.max(initial=0), max((max(r, default=0) for r in relevant), default=0))) + 1
    rel_codes = np.fromiter(
        (u * width + int(i) for u, rel in enumerate(relevant) for i in rel), dtype=np.int64
    )
    codes = np.arange(len(relevant), dtype=np.int64)[:, None] * width + ranked
    # A -1 pad would read as the previous user's item ``width - 1``: mask it out.
    return np.isin(codes, rel_codes) & (ranked >= 0)


def per_user_metrics(
    ranked: np.ndarray, relevant: Sequence[Collection[int]], ks: Iterable[int]
) -> dict[str, np.ndarray]:
    """Each metric@K for each user that has at least one relevant item.

    Args:
      ranked: int [n_users, K_max] item indices, best first.
      relevant: per user, the relevant item indices.
      ks: cut-offs, each ≤ K_max.

    Returns:
      ``{"recall@10": float64 [n_valid_users], ...}`` for every metric in `METRICS`.
    """
    ranked = np.asarray(ranked)
    ks = sorted(set(int(k) for k in ks))
    if ks and ks[-1] > ranked.shape[1]:
        raise ValueError(f"K={ks[-1]} exceeds the ranked list length {ranked.shape[1]}")
    n_rel = np.array([len(set(r)) for r in relevant], dtype=np.float64)
    keep = n_rel > 0
    hits = hit_matrix(ranked, relevant)[keep].astype(np.float64)
    n_rel = n_rel[keep]
    k_max = ranked.shape[1]
    ranks = np.arange(1, k_max + 1, dtype=np.float64)
    discounts = 1.0 / np.log2(ranks + 1.0)
    cum_hits = np.cumsum(hits, axis=1)
    ideal = np.cumsum(discounts)
    first = np.where(hits.any(axis=1), hits.argmax(axis=1) + 1, 0)
    prec_at_i = cum_hits / ranks

    out = {}
    for k in ks:
        h = cum_hits[:, k - 1]
        denom = np.minimum(n_rel, k)
        out[f"recall@{k}"] = h / n_rel
        out[f"precision@{k}"] = h / k
        out[f"ndcg@{k}"] = (hits[:, :k] @ discounts[:k]) / ideal[denom.astype(int) - 1]
        out[f"hit_rate@{k}"] = (h > 0).astype(np.float64)
        out[f"mrr@{k}"] = np.where((first > 0) & (first <= k), 1.0 / np.maximum(first, 1), 0.0)
        out[f"map@{k}"] = (prec_at_i[:, :k] * hits[:, :k]).sum(axis=1) / denom
    return out


def ranking_metrics(
    ranked: np.ndarray, relevant: Sequence[Collection[int]], ks: Iterable[int]
) -> dict[str, float]:
    """Mean of each metric@K over users with at least one relevant item.

    Args:
      ranked: int array [n_users, K_max] of item indices, best first.
      relevant: sequence (one per user) of collections of relevant item indices.
      ks: cut-offs.

    Returns:
      ``{"recall@10": float, "precision@10": ..., "ndcg@10": ..., "hit_rate@10": ...,
      "mrr@10": ..., "map@10": ...}``; NaN when no user has a relevant item.

    Example:
      >>> ranking_metrics(np.array([[3, 1, 2]]), [{1, 9}], ks=[2])["recall@2"]
      0.5
    """
    per_user = per_user_metrics(ranked, relevant, ks)
    return {k: float(v.mean()) if v.size else float("nan") for k, v in per_user.items()}


def recall_precision_curve(
    ranked: np.ndarray, relevant: Sequence[Collection[int]]
) -> tuple[np.ndarray, np.ndarray]:
    """Mean recall@K and precision@K for K = 1..K_max (one curve point per K)."""
    ranked = np.asarray(ranked)
    n_rel = np.array([len(set(r)) for r in relevant], dtype=np.float64)
    keep = n_rel > 0
    cum_hits = np.cumsum(hit_matrix(ranked, relevant)[keep], axis=1)
    ks = np.arange(1, ranked.shape[1] + 1, dtype=np.float64)
    if not keep.any():
        nan = np.full(ranked.shape[1], np.nan)
        return nan, nan
    return (cum_hits / n_rel[keep, None]).mean(axis=0), (cum_hits / ks).mean(axis=0)
