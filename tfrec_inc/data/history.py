"""Each interaction's preceding items: the input of history-pooling user towers.

For every row, the user's ``length`` most recent items with a *strictly earlier*
timestamp, so an example never sees its own item or anything at or after its time
(ties are not history). Rows are right-aligned and left-padded with 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def previous_items(users: np.ndarray, items: np.ndarray, timestamps: np.ndarray,
                   length: int) -> np.ndarray:
    """Item history before each event.

    Args:
      users: int [n] user indices.
      items: int [n] item indices (non-zero).
      timestamps: int [n] event times.
      length: items kept per row (the most recent ones).

    Returns:
      int64 [n, length], row ``i`` aligned with event ``i``; most recent item last.

    Example:
      >>> previous_items(np.array([1, 1, 1]), np.array([7, 8, 9]), np.array([0, 5, 5]), 2)
      array([[0, 0],
             [0, 7],
             [0, 7]])
    """
    n = len(users)
    order = np.lexsort((np.arange(n), timestamps, users))
    u, t, it = users[order], timestamps[order], items[order]
    frame = pd.DataFrame({"u": u, "t": t})
    pos = np.arange(n)
    block_start = pos - frame.groupby("u", sort=False).cumcount().to_numpy()
    cut = pos - frame.groupby(["u", "t"], sort=False).cumcount().to_numpy()  # first tied row
    out_sorted = np.zeros((n, length), dtype=np.int64)
    for back in range(1, length + 1):
        src = cut - back
        ok = src >= block_start
        out_sorted[ok, length - back] = it[src[ok]]
    out = np.empty_like(out_sorted)
    out[order] = out_sorted
    return out


def last_items(users: np.ndarray, items: np.ndarray, timestamps: np.ndarray,
               query_users: np.ndarray, length: int) -> np.ndarray:
    """Each query user's ``length`` most recent items among the given events.

    Args:
      users, items, timestamps: the history events (e.g. everything before a test slice).
      query_users: users to report (may include users without history: all-zero rows).
      length: items kept per user.

    Returns:
      int64 [len(query_users), length], most recent item last, left-padded with 0.
    """
    frame = pd.DataFrame({"u": users, "i": items, "t": timestamps}).reset_index()
    frame = frame.sort_values(["u", "t", "index"], kind="stable")
    tail = frame.groupby("u", sort=False).tail(length)
    rank_from_end = tail.groupby("u", sort=False).cumcount(ascending=False).to_numpy()
    row_of = pd.Series(np.arange(len(query_users)), index=query_users)
    keep = tail["u"].isin(row_of.index).to_numpy()
    out = np.zeros((len(query_users), length), dtype=np.int64)
    rows = row_of.reindex(tail["u"].to_numpy()[keep]).to_numpy()
    out[rows, length - 1 - rank_from_end[keep]] = tail["i"].to_numpy()[keep]
    return out
