"""Real-time recommendations: a user's latest interactions change the list at once.

A history-pooling user tower reads the user's recent items at request time, so a new
interaction changes the user vector — and the recommendations — without retraining.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tfrec_inc.data.catalog import Catalog
from tfrec_inc.evaluation.protocol import rank_items


def recommend(
    model,
    catalog: Catalog,
    user_id: str,
    recent_items: Sequence[str] = (),
    k: int = 10,
    candidates: Sequence[str] | None = None,
    exclude_recent: bool = True,
) -> list[str]:
    """Top-``k`` item ids for one user given their latest interactions.

    Args:
      model: a trained retrieval model (``user_tower`` / ``item_tower``).
      catalog: the dataset's catalog.
      user_id: the user; an id the model never trained on is served by its features
        and history only (cold start).
      recent_items: the user's interactions so far, oldest first; the last
        ``model.history_length`` feed a history-pooling tower.
      k: list length.
      candidates: item ids to rank (default: the whole catalog).
      exclude_recent: leave ``recent_items`` out of the list.

    Returns:
      Item ids, best first.

    Example (an untrained history-pooling model of a tiny domain, with random stand-ins
    for the item text vectors; a user it never saw is served by their two recent items):
      >>> from tfrec_inc import config
      >>> from tfrec_inc.data import load
      >>> from tfrec_inc.data.windows import split
      >>> from tfrec_inc.models.factory import build
      >>> from tfrec_inc.prepare import Prepared
      >>> cfg = config.from_dict({"windows": {"num_windows": 2},
      ...                         "models": [{"user_history": "mean", "history_length": 5}]})
      >>> data = load("synthetic", num_users=60, num_items=40, num_interactions=600)
      >>> vectors = np.random.default_rng(0).normal(size=(41, 8)).astype("float32")  # row 0: padding
      >>> prepared = Prepared.from_parts(data, split(data.interactions, cfg.windows), text_vectors=vectors)
      >>> model = build(cfg.models[0], prepared, prepared.base_train)
      >>> a, b = prepared.catalog.items.ids[:2]
      >>> recs = recommend(model, prepared.catalog, "new-user", [a, b], k=5)
      >>> len(recs), a in recs, b in recs  # recent items are left out
      (5, False, False)
    """
    users = catalog.users.lookup([user_id])
    recent = catalog.items.lookup(list(recent_items))
    history = None
    if model.history_length:
        last = recent[recent > 0][-model.history_length :]
        history = np.zeros((1, model.history_length), dtype=np.int64)
        if len(last):
            history[0, -len(last) :] = last
    pool = (np.arange(1, len(catalog.items), dtype=np.int64) if candidates is None
            else np.unique(catalog.items.lookup(list(candidates))))
    pool = pool[pool > 0]
    seen = None
    if exclude_recent and len(recent):
        import pandas as pd

        seen = pd.DataFrame({"user": np.repeat(users, len(recent)), "item": recent})
    ranked = rank_items(model, users, pool, seen, k, history=history)[0]
    return [catalog.items.ids[i - 1] for i in ranked if i > 0]
