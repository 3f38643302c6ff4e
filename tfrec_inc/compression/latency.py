"""Single-query serving latency: user tower + brute-force scoring of every candidate item.

One query at a time (batch 1), as a recommendation request would arrive: the user tower
runs, its vector is scored against the precomputed item vectors of all candidates and the
top K are selected and sorted. Percentiles are over queries after a short warm-up.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

import numpy as np


def single_query_latency(user_tower: Callable[[Mapping[str, np.ndarray]], np.ndarray],
                         item_vectors: np.ndarray, queries: Sequence[Mapping[str, np.ndarray]],
                         k: int = 20, warmup: int = 10) -> dict[str, float]:
    """p50 / p99 wall time (milliseconds) of one recommendation request.

    Args:
      user_tower: feature dict of one user (batch 1) -> [1, dim] vector.
      item_vectors: float32 [n_items, dim] candidate vectors (computed once, offline).
      queries: one feature dict per request.
      k: list length.
      warmup: untimed requests first (allocation, caches).

    Returns:
      ``{"latency_p50_ms": ..., "latency_p99_ms": ...}``.

    Example (a stand-in user tower that looks vectors up; times vary, so only keys are shown):
      >>> vectors = np.random.default_rng(0).normal(size=(1000, 32)).astype("float32")
      >>> queries = [{"user": np.array([i])} for i in range(50)]
      >>> times = single_query_latency(lambda f: vectors[f["user"]], vectors, queries, k=10)
      >>> sorted(times), times["latency_p50_ms"] <= times["latency_p99_ms"]
      (['latency_p50_ms', 'latency_p99_ms'], True)
    """
    item_vectors = np.asarray(item_vectors, dtype=np.float32)
    k = min(k, len(item_vectors))

    def request(query):
        scores = item_vectors @ np.asarray(user_tower(query), dtype=np.float32)[0]
        top = np.argpartition(-scores, k - 1)[:k]
        return top[np.argsort(-scores[top])]

    for query in list(queries)[:warmup]:
        request(query)
    times = []
    for query in queries:
        start = time.perf_counter()
        request(query)
        times.append(time.perf_counter() - start)
    ms = np.asarray(times) * 1000.0
    return {"latency_p50_ms": float(np.percentile(ms, 50)), "latency_p99_ms": float(np.percentile(ms, 99))}
