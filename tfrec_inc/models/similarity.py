"""Item-item weight matrices of the neighbourhood and linear baselines, in numpy/scipy.

Each function maps the binary user × item matrix X (scipy CSR, the items seen in the
data) to W [m, m], float32, where ``W[i, j]`` is what having item i contributes to the
score of item j, so a user's scores are ``x_u W`` (`tfrec_inc.models.item_based`).

Why by hand: the maintained library of this stack, ``implicit`` 0.7.3, has item-item
neighbours (``implicit.nearest_neighbours.CosineRecommender`` / ``ItemItemRecommender``),
but their similarity has no shrinkage term, and their top-K is taken on the unshrunk
values, so ``itemknn`` with ``shrink`` cannot be expressed through them (with
``shrink: 0`` and all neighbours kept the two agree: ``tests/test_baselines.py`` checks
it). ``implicit`` has neither EASE nor RP3beta, and no other library for TensorFlow /
numpy ships them, so all three are written out here, each a few matrix operations.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def _top_k(w: np.ndarray, k: int | None, axis: int) -> np.ndarray:
    """``w`` with all but the ``k`` largest entries along ``axis`` set to 0 (in place)."""
    if k is None or k >= w.shape[axis]:
        return w
    keep = np.argpartition(-w, k - 1, axis=axis).take(np.arange(k), axis=axis)
    mask = np.zeros(w.shape, bool)
    np.put_along_axis(mask, keep, True, axis=axis)
    w[~mask] = 0.0
    return w


def item_knn(x: sp.csr_matrix, neighbors: int | None, shrink: float) -> np.ndarray:
    """Item-item cosine with shrinkage, the top ``neighbors`` per candidate item.

    sim(i, j) = x_i·x_j / (|x_i| |x_j| + shrink) over the item columns x_i of X, with
    sim(j, j) = 0; column j keeps its ``neighbors`` largest entries (the items most
    similar to j), as in the Dacrema et al. (RecSys 2019) ItemKNN-CF baseline.

    Args:
      x: binary CSR [users, m].
      neighbors: entries kept per column (None: all).
      shrink: shrinkage term (0: plain cosine).

    Returns:
      float32 [m, m].
    """
    gram = (x.T @ x).toarray().astype(np.float32)
    norms = np.sqrt(np.diag(gram))
    sim = gram / (np.outer(norms, norms) + np.float32(shrink))
    np.fill_diagonal(sim, 0.0)
    return _top_k(sim, neighbors, axis=0)


def ease(x: sp.csr_matrix, lam: float) -> np.ndarray:
    """EASE (Steck, WWW 2019): B = I - P·diag(1/diag(P)), P = (XᵀX + λI)⁻¹; diag(B) = 0.

    The closed form of ``min_B |X - XB|² + λ|B|²`` subject to ``diag(B) = 0``. The inverse
    is taken in float64 (the Gram matrix of counts is ill-conditioned for small λ; a
    transient 8·m² bytes) and the result returned as float32.

    Args:
      x: binary CSR [users, m].
      lam: λ > 0.

    Returns:
      float32 [m, m].
    """
    gram = (x.T @ x).toarray().astype(np.float64)
    gram[np.diag_indices_from(gram)] += lam
    p = np.linalg.inv(gram)
    b = -p / np.diag(p)[None, :]
    np.fill_diagonal(b, 0.0)
    return b.astype(np.float32)


def rp3beta(x: sp.csr_matrix, alpha: float, beta: float, neighbors: int | None) -> np.ndarray:
    """RP3beta (Paudel et al., TiiS 2017), as in the Dacrema et al. (RecSys 2019) study.

    The random walk item i -> user -> item j: P_iu = x_ui / deg(i) and P_uj = x_uj / deg(u)
    (rows normalised to sum 1), each raised elementwise to α; W[i, j] = (P_iu P_uj)[i, j] /
    deg(j)^β (β penalises popular targets), W[i, i] = 0, and row i keeps its ``neighbors``
    largest entries (Dacrema et al.'s ``topK``; no final row normalisation).

    Args:
      x: binary CSR [users, m].
      alpha: exponent of the transition probabilities.
      beta: popularity penalty (0: P3α).
      neighbors: entries kept per row (None: all).

    Returns:
      float32 [m, m].
    """
    x = x.astype(np.float32)
    user_degree = np.asarray(x.sum(axis=1)).ravel()
    item_degree = np.asarray(x.sum(axis=0)).ravel()
    p_ui = sp.diags(1.0 / np.maximum(user_degree, 1.0)) @ x
    p_iu = sp.diags(1.0 / np.maximum(item_degree, 1.0)) @ x.T.tocsr()
    if alpha != 1.0:
        p_ui, p_iu = p_ui.power(alpha), p_iu.power(alpha)
    w = (p_iu @ p_ui).toarray().astype(np.float32)
    w *= np.power(np.maximum(item_degree, 1.0), -beta).astype(np.float32)[None, :]
    np.fill_diagonal(w, 0.0)
    return _top_k(w, neighbors, axis=1)
