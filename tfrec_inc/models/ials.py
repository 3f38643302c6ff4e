"""``ials``: implicit-feedback ALS (Hu, Koren & Volinsky 2008) from the ``implicit`` library.

Nothing here re-implements the factorisation: `implicit.als.AlternatingLeastSquares`
(CPU, conjugate-gradient solver) is fitted on the binary user × item matrix of the data
the model is built on, restricted to the users and items present in it, and its
``user_factors`` / ``item_factors`` become the two towers, so the protocol's dot product
is exactly ``implicit``'s own ``user_factors @ item_factors.T``. Users and items absent
from the data get all-zero factors (score 0): ``implicit`` would otherwise give them
their random initialisation.

At evaluation the users are folded in (`tfrec_inc.models.item_based.Computed.folded_in`):
each user's factors are recomputed from everything before the scored slice with the item
factors fixed, by ``implicit``'s own exact least-squares user step (``recalculate_user``),
so a user's latest items count as they do for the history towers.

Incremental updates of the item side (``partial_fit_items``) are not used: every build
is a fit from scratch on the strategy's data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from tfrec_inc.config import ModelConfig
from tfrec_inc.data.catalog import Catalog
from tfrec_inc.data.vocab import Vocabulary
from tfrec_inc.models.item_based import Computed, Rows, interaction_matrix


def random_state() -> int:
    """The ALS seed: drawn from numpy's global generator, which the studies seed per step.

    ``tf.keras.utils.set_random_seed(step_seed)`` (run seed × 1000 + window) seeds it, so
    the factors follow from the run seed and a resumed step draws the same numbers.
    """
    return int(np.random.randint(0, 2**31 - 1))


def ials_model(cfg: ModelConfig, catalog: Catalog, data: pd.DataFrame,
               vocabs: tuple[Vocabulary, Vocabulary], seed: int | None = None) -> Computed:
    """An iALS model fitted on ``data``.

    Args:
      cfg: ``factors``, ``regularization``, ``iterations``, ``ials_alpha``.
      catalog: the dataset's catalog.
      data: the interactions it is fitted on.
      vocabs: the ids of ``data``.
      seed: ``random_state`` of ``implicit`` (default: `random_state`).

    Returns:
      The `Computed` model: float32 factor tables [len(catalog.users), factors] and
      [len(catalog.items), factors].
    """
    import implicit
    from threadpoolctl import threadpool_limits

    x = interaction_matrix(catalog, data)
    users, items = np.flatnonzero(x.getnnz(axis=1)), np.flatnonzero(x.getnnz(axis=0))
    user_factors = np.zeros((x.shape[0], cfg.factors), np.float32)
    item_factors = np.zeros((x.shape[1], cfg.factors), np.float32)
    if len(users):
        # implicit's own advice: BLAS single-threaded while it runs its threads.
        with threadpool_limits(1, "blas"):
            als = implicit.als.AlternatingLeastSquares(
                factors=cfg.factors, regularization=cfg.regularization, alpha=cfg.ials_alpha,
                iterations=cfg.iterations, use_gpu=False,
                random_state=random_state() if seed is None else seed)
            als.fit(x[users][:, items].tocsr(), show_progress=False)
        user_factors[users] = als.user_factors
        item_factors[items] = als.item_factors

    def user_side(profile: sp.csr_matrix) -> Rows:
        return Rows(fold_in(cfg, item_factors, profile), "user", name="user_tower")

    return Computed(Rows(user_factors, "user", name="user_tower"),
                    Rows(item_factors, "item", name="item_tower"), vocabs, user_side)


def fold_in(cfg: ModelConfig, item_factors: np.ndarray, profile: sp.csr_matrix) -> np.ndarray:
    """User factors solved from ``profile`` with the item factors fixed (one exact ALS user step).

    Args:
      cfg: ``factors``, ``regularization``, ``ials_alpha`` (as fitted).
      item_factors: float32 [len(catalog.items), factors] (zeros for items never fitted).
      profile: binary CSR [len(catalog.users), len(catalog.items)].

    Returns:
      float32 [len(catalog.users), factors]; zeros for users without interactions.
    """
    import implicit
    from threadpoolctl import threadpool_limits

    users = np.flatnonzero(profile.getnnz(axis=1))
    out = np.zeros((profile.shape[0], cfg.factors), np.float32)
    if len(users):
        with threadpool_limits(1, "blas"):
            als = implicit.als.AlternatingLeastSquares(
                factors=cfg.factors, regularization=cfg.regularization, alpha=cfg.ials_alpha, use_gpu=False)
            als.item_factors = np.ascontiguousarray(item_factors, np.float32)
            out[users] = als.recalculate_user(users, profile[users].tocsr())
    return out
