"""The one container every loader returns and everything downstream consumes."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from tfrec_inc.data.synthetic_types import SyntheticTruth
from tfrec_inc.errors import DataError

INTERACTION_COLUMNS = ("user_id", "item_id", "timestamp")
ITEM_COLUMNS = ("item_id", "text", "genres")
SPLITS = ("train", "valid", "test")


@dataclasses.dataclass(frozen=True)
class Interactions:
    """Interactions plus the item catalog (with text) and optional user features.

    Attributes:
      name: dataset name, e.g. ``"ml-100k"``.
      interactions: one row per event, sorted by ``timestamp`` (stable). Columns
        ``user_id`` (str), ``item_id`` (str), ``timestamp`` (int64; Unix seconds, or
        an order index where the source has no clock), and ``rating`` (float32) when
        the source has explicit ratings. May carry a ``domain`` column (str), and a
        ``split`` column (str: ``train``, ``valid`` or ``test``): the source's own split,
        when a loader is asked for it (``windows.mode: given``).
      items: one row per catalog item. Columns ``item_id`` (str, unique), ``text``
        (str, the text a sentence encoder reads: title plus description/categories),
        ``genres`` (str, ``|``-separated, may be empty), and optionally ``arrival``
        (float64 Unix seconds from which the item is available, e.g. a release date;
        NaN when unknown), which decides the evaluation's candidates (see
        `tfrec_inc.evaluation.protocol.candidate_items`). Extra columns are allowed.
      users: one row per user with categorical feature columns (all str) besides
        ``user_id``, or ``None`` when the source has no user features.
      truth: the latent truth behind generated data
        (`tfrec_inc.data.synthetic_types.SyntheticTruth`, which the ``oracle`` model ranks
        by), or ``None`` for real data.

    Example:
      >>> data = Interactions.create("toy", pd.DataFrame(
      ...     {"user_id": ["1"], "item_id": ["a"], "timestamp": [3]}),
      ...     pd.DataFrame({"item_id": ["a"], "text": ["A film"], "genres": [""]}))
      >>> data.num_items
      1
    """

    name: str
    interactions: pd.DataFrame
    items: pd.DataFrame
    users: pd.DataFrame | None = None
    truth: SyntheticTruth | None = dataclasses.field(default=None, compare=False, repr=False)

    @classmethod
    def create(
        cls,
        name: str,
        interactions: pd.DataFrame,
        items: pd.DataFrame,
        users: pd.DataFrame | None = None,
    ) -> Interactions:
        """Normalises dtypes, sorts by time and validates the schema.

        Raises:
          DataError: a column is missing, an id is unknown to the catalog, or a value is
            NaN.
        """
        inter = interactions.copy()
        for col in INTERACTION_COLUMNS:
            if col not in inter.columns:
                raise DataError(f"{name}: interactions lack column {col!r}")
        inter["user_id"] = inter["user_id"].astype(str)
        inter["item_id"] = inter["item_id"].astype(str)
        if inter["timestamp"].isna().any():
            raise DataError(f"{name}: interactions have a missing timestamp")
        inter["timestamp"] = inter["timestamp"].astype(np.int64)
        if "rating" in inter.columns:
            if inter["rating"].isna().any():
                raise DataError(f"{name}: interactions have a missing rating")
            inter["rating"] = inter["rating"].astype(np.float32)
        if inter.empty:
            raise DataError(f"{name}: no interactions")
        if "split" in inter.columns:
            bad = ~inter["split"].isin(SPLITS)
            if bad.any():
                raise DataError(f"{name}: split {inter['split'][bad].iloc[0]!r} is not one of "
                                f"{', '.join(SPLITS)}")
        inter = inter.sort_values("timestamp", kind="stable").reset_index(drop=True)

        cat = items.copy()
        for col in ("item_id", "text"):
            if col not in cat.columns:
                raise DataError(f"{name}: item catalog lacks column {col!r}")
        if "genres" not in cat.columns:
            cat["genres"] = ""
        cat["item_id"] = cat["item_id"].astype(str)
        cat["text"] = cat["text"].fillna("").astype(str)
        cat["genres"] = cat["genres"].fillna("").astype(str)
        if "arrival" in cat.columns:
            try:
                cat["arrival"] = pd.to_numeric(cat["arrival"]).astype(np.float64)
            except (TypeError, ValueError):
                raise DataError(f"{name}: item arrival must be Unix seconds or NaN") from None
        if cat["item_id"].duplicated().any():
            dup = cat.loc[cat["item_id"].duplicated(), "item_id"].iloc[0]
            raise DataError(f"{name}: item {dup!r} appears twice in the catalog")
        unknown = set(inter["item_id"].unique()) - set(cat["item_id"])
        if unknown:
            raise DataError(
                f"{name}: {len(unknown)} interacted items are not in the catalog, "
                f"e.g. {sorted(unknown)[0]!r}"
            )
        cat = cat.reset_index(drop=True)

        if users is not None:
            users = users.copy()
            if "user_id" not in users.columns:
                raise DataError(f"{name}: user table lacks column 'user_id'")
            users = users.astype(str).drop_duplicates("user_id").reset_index(drop=True)
        return cls(name=name, interactions=inter, items=cat, users=users)

    @property
    def has_ratings(self) -> bool:
        return "rating" in self.interactions.columns

    @property
    def user_feature_names(self) -> list[str]:
        if self.users is None:
            return []
        return [c for c in self.users.columns if c != "user_id"]

    @property
    def num_items(self) -> int:
        return len(self.items)

    @property
    def num_users(self) -> int:
        return int(self.interactions["user_id"].nunique())
