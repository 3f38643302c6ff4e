"""The synthetic upper bound: rank items by the generator's true choice probabilities.

On generated data (`tfrec_inc.data.synthetic`) the truth is known: each user's taste in
each period, each item's topics, popularity and arrival. The ``oracle`` model scores
``log P(item | user, period)`` exactly as the generator draws events
(`tfrec_inc.data.synthetic_types.SyntheticTruth.choice_scores`), for the period of the
latest interaction it is built on — the period the next slice (the test slice of the same
window) falls in. Scored by the same protocol as every other row (seen items excluded,
candidates by arrival), it is the best any model of this data can expect to do, so "how far
from the best possible" is a number. It is a reference row, not a baseline: built on the
training data under ``static`` it keeps window 0's period (a perfect model that never
updates), under the retrain strategies it follows the current period.

Written here because it is a property of this framework's own generator.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tfrec_inc.data.catalog import Catalog
from tfrec_inc.data.synthetic_types import SyntheticTruth
from tfrec_inc.data.vocab import Vocabulary
from tfrec_inc.models.item_based import Computed, Rows


def oracle_model(truth: SyntheticTruth, catalog: Catalog, data: pd.DataFrame,
                 vocabs: tuple[Vocabulary, Vocabulary]) -> Computed:
    """The true-probability ranker for the period of ``data``'s latest interaction.

    Args:
      truth: the generator's latents (`tfrec_inc.data.interactions.Interactions.truth`).
      catalog: the dataset's catalog (its user and item ids are rows of ``truth``).
      data: the interactions it is "built on" (only their latest timestamp is read).
      vocabs: the ids of ``data`` (`TwoTower` bookkeeping).

    Returns:
      A `Computed` model: user row · item row = log P(item | user, period); unknown rows 0.

    Example:
      >>> from tfrec_inc.data.synthetic import generate_with_truth
      >>> data, truth = generate_with_truth(num_users=60, num_items=40, num_interactions=600)
      >>> catalog = Catalog.from_interactions(data)
      >>> model = oracle_model(truth, catalog, data.interactions, (Vocabulary(), Vocabulary()))
      >>> bool(model.user_tower({"user": np.array([0])}).numpy().any())  # the unknown row
      False
    """
    period = int(truth.period_of(np.array([data["timestamp"].max()]))[0]) if len(data) else 0
    users, items = truth.choice_scores(period)
    return Computed(Rows(_by_catalog(users, truth.user_ids, catalog.users), "user", name="user_tower"),
                    Rows(_by_catalog(items, truth.item_ids, catalog.items), "item", name="item_tower"),
                    vocabs)


def _by_catalog(table: np.ndarray, ids: np.ndarray, vocab: Vocabulary) -> np.ndarray:
    """``table``'s rows (in ``ids`` order) placed at each id's catalog index; row 0 and absent ids 0."""
    out = np.zeros((len(vocab), table.shape[1]), np.float32)
    index = vocab.lookup(pd.Series(ids.astype(str)))
    known = index > 0
    out[index[known]] = table[known]
    return out
