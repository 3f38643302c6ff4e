"""Paired significance tests and confidence intervals for comparing strategies.

Per-user metric values of two strategies on the same (seed, window, user) are paired
observations; the Wilcoxon signed-rank test makes no normality assumption, which matters
for recall@K and NDCG@K (bounded, zero-inflated, heavily skewed per user).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from scipy import stats as scipy_stats

METHODS = ("wilcoxon", "ttest")


def paired_test(a: np.ndarray, b: np.ndarray, method: str = "wilcoxon") -> float:
    """Two-sided p-value of a paired test that ``a`` and ``b`` come from the same distribution.

    Wilcoxon uses ``zero_method="wilcox"``: pairs with a zero difference carry no
    information about the direction and are dropped before ranking.

    Args:
      a: 1-D values of the first system, one per pair.
      b: 1-D values of the second system, aligned with ``a``.
      method: ``"wilcoxon"`` (signed-rank, `scipy.stats.wilcoxon`) or ``"ttest"``
        (`scipy.stats.ttest_rel`).

    Returns:
      The p-value; 1.0 when every difference is zero (no evidence of any difference, where
      SciPy would raise or return NaN).

    Raises:
      ValueError: unknown method, shapes differ, not 1-D, empty, or non-finite values.

    Example:
      >>> paired_test(np.array([0.1, 0.2, 0.3]), np.array([0.1, 0.2, 0.3]))
      1.0
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"a and b must be 1-D of the same length, got {a.shape} and {b.shape}")
    if a.size == 0:
        raise ValueError("a and b are empty")
    # NaN would be silently dropped or propagated by SciPy; in per-user metrics it means a bug.
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("a and b must be finite")
    diff = a - b
    if not diff.any():
        return 1.0
    if method == "wilcoxon":
        result = scipy_stats.wilcoxon(a, b, zero_method="wilcox", alternative="two-sided")
    else:
        result = scipy_stats.ttest_rel(a, b, alternative="two-sided")
    return float(result.pvalue)


def mean_ci(values: Iterable[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean and Student-t confidence interval of the mean.

    Args:
      values: the sample (e.g. one value per seed).
      confidence: coverage of the interval, in (0, 1).

    Returns:
      ``(mean, low, high)``; ``low`` and ``high`` are NaN for a single value (no spread
      can be estimated) and equal the mean when all values are equal.

    Raises:
      ValueError: empty sample, non-finite values or confidence outside (0, 1).

    Example:
      >>> [round(float(v), 2) for v in mean_ci([1.0, 2.0, 3.0])]  # t(2 dof) = 4.30, sem = 0.58
      [2.0, -0.48, 4.48]
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    x = np.asarray(list(values), dtype=np.float64)
    if x.size == 0:
        raise ValueError("values is empty")
    if not np.isfinite(x).all():
        raise ValueError("values must be finite")
    mean = float(x.mean())
    if x.size == 1:
        return mean, float("nan"), float("nan")
    sem = float(x.std(ddof=1)) / np.sqrt(x.size)
    half = float(scipy_stats.t.ppf((1.0 + confidence) / 2.0, df=x.size - 1)) * sem
    return mean, mean - half, mean + half
