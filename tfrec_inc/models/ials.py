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

Under the retrain strategies every build is a fit from scratch on the strategy's data;
under ``fine_tune``, `refit` updates the previous factors with one ALS sweep over the new
window (``partial_fit_users`` / ``partial_fit_items`` semantics).
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
    return _model(cfg, user_factors, item_factors, vocabs)


def _model(cfg: ModelConfig, user_factors: np.ndarray, item_factors: np.ndarray,
           vocabs: tuple[Vocabulary, Vocabulary]) -> Computed:
    item_tower = Rows(item_factors, "item", name="item_tower")

    def user_side(profile: sp.csr_matrix) -> Rows:
        # The item table as it is now (a checkpoint may have been loaded into it).
        return Rows(fold_in(cfg, item_tower.table.numpy(), profile), "user", name="user_tower")

    return Computed(Rows(user_factors, "user", name="user_tower"), item_tower, vocabs, user_side)


def refit(cfg: ModelConfig, catalog: Catalog, data: pd.DataFrame, previous: Computed) -> Computed:
    """``fine_tune`` for iALS: one ALS sweep over the new data, from the previous factors.

    The users of ``data`` are re-solved against the previous item factors, then the items
    of ``data`` against those user factors (``implicit``'s exact least-squares steps
    ``recalculate_user`` / ``recalculate_item``, i.e. ``partial_fit_users`` /
    ``partial_fit_items``), each from its interactions in ``data`` only; every other row
    keeps its factors. New items start from zero, so the user step ignores them and the
    item step gives them their first factors.

    Args:
      cfg: the fitted model's ``factors``, ``regularization``, ``ials_alpha``.
      catalog: the dataset's catalog.
      data: the new interactions (the strategy's data).
      previous: the model to update (catalog-indexed factor tables).

    Returns:
      The updated `Computed` model (the previous one is not changed).
    """
    import implicit
    from threadpoolctl import threadpool_limits

    assert isinstance(previous.user_tower, Rows) and isinstance(previous.item_tower, Rows)
    user_factors = previous.user_tower.table.numpy().copy()
    item_factors = previous.item_tower.table.numpy().copy()
    x = interaction_matrix(catalog, data)
    users, items = np.flatnonzero(x.getnnz(axis=1)), np.flatnonzero(x.getnnz(axis=0))
    if len(users):
        with threadpool_limits(1, "blas"):
            als = implicit.als.AlternatingLeastSquares(
                factors=cfg.factors, regularization=cfg.regularization, alpha=cfg.ials_alpha, use_gpu=False)
            als.item_factors = item_factors
            user_factors[users] = als.recalculate_user(users, x[users])
            als.user_factors = user_factors
            item_factors[items] = als.recalculate_item(items, x.T.tocsr()[items])
    vocabs = (previous.user_vocab.extended(data["user_id"].unique()),
              previous.item_vocab.extended(data["item_id"].unique()))
    return _model(cfg, user_factors, item_factors, vocabs)


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
