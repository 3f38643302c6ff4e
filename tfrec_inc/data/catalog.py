"""Dense indices and side-feature tables for every user and item of a dataset.

Models take *catalog indices* as inputs and look their features up in these tables,
so a `tf.data` pipeline carries only integers, and an item first seen in a later
window already has its text and genres available to a content tower.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from tfrec_inc.data.interactions import Interactions
from tfrec_inc.data.vocab import Vocabulary


@dataclasses.dataclass(frozen=True)
class Catalog:
    """Users and items of one dataset with their feature tables.

    Attributes:
      users: every user id (index 0 is the unknown user).
      items: every catalog item id (index 0 is the unknown item).
      item_genres: float32 [len(items), n_genres] multi-hot rows, L1-normalised, so
        a Dense layer on it is the mean of genre embeddings. Row 0 is zeros.
      genre_names: column names of ``item_genres``.
      item_text: the text of each item, index-aligned (``""`` for index 0).
      user_features: name -> int64 [len(users)] category codes (0 = unknown).
      user_feature_sizes: name -> number of codes, including the unknown code.
      item_arrival: float64 [len(items)] Unix seconds from which each item is available
        (the items frame's ``arrival`` column); NaN when unknown (then always available)
        and for index 0. ``None`` means unknown for every item.
    """

    users: Vocabulary
    items: Vocabulary
    item_genres: np.ndarray
    genre_names: list[str]
    item_text: list[str]
    user_features: dict[str, np.ndarray]
    user_feature_sizes: dict[str, int]
    item_arrival: np.ndarray | None = None

    @classmethod
    def from_interactions(cls, data: Interactions) -> Catalog:
        """Indexes all users (interactions and user table) and all catalog items."""
        users = Vocabulary(data.interactions["user_id"].unique())
        if data.users is not None:
            users.add(data.users["user_id"])
        items = Vocabulary(data.items["item_id"])

        split = data.items["genres"].str.split("|")
        genre_names = sorted({g for row in split for g in row if g})
        col = {g: j for j, g in enumerate(genre_names)}
        genres = np.zeros((len(items), len(genre_names)), dtype=np.float32)
        for row, names in enumerate(split, start=1):
            cols = [col[g] for g in names if g]
            if cols:
                genres[row, cols] = 1.0 / len(cols)

        feats: dict[str, np.ndarray] = {}
        sizes: dict[str, int] = {}
        if data.users is not None:
            rows = users.lookup(data.users["user_id"])
            for name in data.user_feature_names:
                codes, uniques = pd.factorize(data.users[name], sort=True)
                table = np.zeros(len(users), dtype=np.int64)
                table[rows] = codes + 1
                feats[name] = table
                sizes[name] = len(uniques) + 1
        text = [""] + data.items["text"].tolist()
        arrival = np.full(len(items), np.nan)
        if "arrival" in data.items.columns:
            arrival[1:] = data.items["arrival"].to_numpy(np.float64)
        return cls(users, items, genres, genre_names, text, feats, sizes, arrival)

    def encode(self, frame: pd.DataFrame, row_history: np.ndarray | None = None,
               history_length: int = 0, with_time: bool = False) -> dict[str, np.ndarray]:
        """Interactions -> model features.

        Args:
          frame: interactions whose index is their row in the dataset's sorted frame.
          row_history: int64 [n_dataset_rows, N] items before each row (see
            `tfrec_inc.data.history.previous_items`), needed when ``history_length``.
          history_length: the last this many history items go in ``"history"``.
          with_time: also give each row's ``timestamp`` as ``"time"`` (time-aware models).

        Returns:
          ``{"user": int64, "item": int64[, "rating": float32][, "history": int64 [n, L]]
          [, "time": int64]}``.
        """
        out = {
            "user": self.users.lookup(frame["user_id"]),
            "item": self.items.lookup(frame["item_id"]),
        }
        if "rating" in frame.columns:
            out["rating"] = frame["rating"].to_numpy(np.float32)
        if history_length:
            assert row_history is not None, "a history-pooling model needs row_history"
            out["history"] = row_history[frame.index.to_numpy(), -history_length:]
        if with_time:
            out["time"] = frame["timestamp"].to_numpy(np.int64)
        return out
