"""Paired significance tests, confidence intervals and multiplicity correction.

The reports compare systems on per-user values. A user's values in different seeds are
not independent observations (the test users are the same in every seed), nor are a
user's values in different windows: `seed_average` first makes each (window, user) one
value, and `cluster_bootstrap` / `paired_bootstrap` then resample users (all of a user's
windows together). `holm` corrects the p-values of all the comparisons of one table.
`paired_test` (Wilcoxon signed-rank or paired t) is kept for pairs that are independent.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import numpy as np
import pandas as pd
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


def holm(p_values: Iterable[float]) -> np.ndarray:
    """Holm step-down adjusted p-values (family-wise error control over all the given tests).

    Written here rather than taken from statsmodels, which is not a dependency: sort the m
    p-values, multiply the i-th smallest (from 0) by ``m - i``, make the sequence monotone
    with a running maximum, cap at 1, and put it back in the original order. Reject a test
    at level alpha when its adjusted p-value is below alpha.

    Args:
      p_values: raw p-values; NaN entries (untested) stay NaN and do not count in m.

    Returns:
      The adjusted p-values, in the input order.

    Raises:
      ValueError: a p-value outside [0, 1].

    Example:
      >>> holm([0.01, 0.04, 0.03, 0.005]).round(3).tolist()  # sorted: 0.005*4, 0.01*3, 0.03*2, 0.04*1
      [0.03, 0.06, 0.06, 0.02]
    """
    p = np.asarray(list(p_values), dtype=np.float64)
    tested = ~np.isnan(p)
    if ((p[tested] < 0) | (p[tested] > 1)).any():
        raise ValueError("p-values must be in [0, 1]")
    out = np.full(p.shape, np.nan)
    idx = np.flatnonzero(tested)
    order = idx[np.argsort(p[idx], kind="stable")]
    m = order.size
    scaled = (m - np.arange(m)) * p[order]
    out[order] = np.minimum(1.0, np.maximum.accumulate(scaled))
    return out


def seed_average(frame: pd.DataFrame, seed: str = "seed", value: str = "value") -> pd.DataFrame:
    """Per-user values averaged over seeds, so that each (…, window, user) is one observation.

    The test users of a window are the same in every seed: pairing (seed, window, user)
    would count each user once per seed and shrink p-values and intervals by about
    √(number of seeds) for no new information about users.

    Args:
      frame: long per-user values (e.g. `tfrec_inc.results.PER_USER_COLUMNS`).
      seed: the seed column, averaged out.
      value: the value column.

    Returns:
      One row per combination of the other columns, with the mean ``value`` over seeds
      and ``seeds`` = how many seeds it averages; the ``seed`` column is gone.

    Example:
      >>> rows = pd.DataFrame({"user": [1, 1, 2], "seed": [0, 1, 0], "value": [0.2, 0.4, 1.0]})
      >>> seed_average(rows).to_dict("list")
      {'user': [1, 2], 'value': [0.30000000000000004, 1.0], 'seeds': [2, 1]}
    """
    keys = [c for c in frame.columns if c not in (seed, value)]
    grouped = frame.groupby(keys, sort=False, dropna=False)[value]
    return grouped.agg(value="mean", seeds="size").reset_index()


@dataclasses.dataclass(frozen=True)
class Interval:
    """A bootstrap estimate: the point value, its percentile interval and a two-sided p-value.

    Attributes:
      estimate: the statistic on the original sample.
      low: lower end of the percentile interval.
      high: upper end.
      p: two-sided p-value of "the statistic is 0" (meaningful for differences).
      se: the standard error behind ``p``.
    """

    estimate: float
    low: float
    high: float
    p: float
    se: float = float("nan")


def cluster_bootstrap(values: np.ndarray, clusters: np.ndarray, weights: np.ndarray | None = None,
                      n_boot: int = 2000, seed: int = 0, confidence: float = 0.95) -> Interval:
    """Cluster bootstrap of a weighted mean: clusters (users) are resampled with replacement.

    All rows of a cluster (a user's values across windows) enter or leave a resample
    together, so a user seen in several windows counts as one independent unit. The
    statistic is ``sum(w * x) / sum(w)`` over the resampled rows (with ``w`` = 1 / users in
    the row's window it is the mean over windows of the per-window means). The interval is
    the percentile interval. ``p`` is the two-sided normal p-value of estimate / bootstrap
    standard error: unlike a count of resamples beyond 0 it has no floor at 1 / n_boot,
    which a Holm correction over dozens of tests would otherwise turn into "never significant".

    Args:
      values: 1-D values (for a paired difference: ``a - b``, see `paired_bootstrap`).
      clusters: 1-D cluster id of each value (any hashable dtype).
      weights: 1-D positive weights, or None for equal weights.
      n_boot: number of resamples.
      seed: seed of the resampling (the result is a function of the inputs and the seed).
        n_boot must be at least 2.
      confidence: coverage of the interval, in (0, 1).

    Returns:
      The `Interval` of the weighted mean.

    Raises:
      ValueError: empty, non-finite or misaligned inputs, non-positive weights, n_boot < 2
        or confidence outside (0, 1).

    Example:
      >>> r = cluster_bootstrap(np.array([0.0, 1.0]), np.array([0, 1]), seed=0)
      >>> r.estimate, r.low, r.high  # resample means are 0, 0.5 or 1
      (0.5, 0.0, 1.0)
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if n_boot < 2:
        raise ValueError(f"n_boot must be at least 2, got {n_boot}")
    x = np.asarray(values, dtype=np.float64)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=np.float64)
    clusters = np.asarray(clusters)
    if x.ndim != 1 or x.size == 0 or clusters.shape != x.shape or w.shape != x.shape:
        raise ValueError("values, clusters and weights must be 1-D, non-empty and aligned")
    if not (np.isfinite(x).all() and np.isfinite(w).all()) or (w <= 0).any():
        raise ValueError("values must be finite and weights finite and positive")
    _, codes = np.unique(clusters, return_inverse=True)
    sums = np.bincount(codes, weights=w * x)
    mass = np.bincount(codes, weights=w)
    estimate = float(sums.sum() / mass.sum())
    rng = np.random.default_rng(seed)
    n = sums.size
    # Chunks of resamples keep the (chunk, clusters) index matrix near 4M entries.
    chunk = max(1, 4_000_000 // n)
    stats = np.concatenate([
        sums[idx].sum(axis=1) / mass[idx].sum(axis=1)
        for idx in (rng.integers(0, n, size=(min(chunk, n_boot - start), n))
                    for start in range(0, n_boot, chunk))
    ])
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(stats, [tail, 1.0 - tail])
    se = float(stats.std(ddof=1))
    return Interval(estimate, float(low), float(high), _normal_p(estimate, se), se)


def _normal_p(estimate: float, se: float) -> float:
    """Two-sided normal p-value of estimate / se (se 0: 1 for a zero estimate, else 0)."""
    if se > 0:
        return float(2.0 * scipy_stats.norm.sf(abs(estimate) / se))
    return 1.0 if estimate == 0 else 0.0  # every resample gives the same value


def with_seed_spread(interval: Interval, seed_estimates: np.ndarray, confidence: float = 0.95) -> Interval:
    """Widens a bootstrap over users by the training randomness seen across seeds.

    The bootstrap of seed-averaged per-user values covers the sampling of test users
    only. The seed average itself varies with the training seeds: its variance is
    estimated by s² / n from the ``n`` per-seed estimates and added in quadrature to
    each half of the interval (scaled by the normal quantile) and to the standard error
    behind ``p``. A single seed gives no estimate: the interval is returned unchanged.

    Args:
      interval: the bootstrap interval of the seed-averaged statistic.
      seed_estimates: the statistic computed in each seed separately.
      confidence: coverage of the interval, in (0, 1).

    Returns:
      The widened `Interval` (same estimate).

    Example:
      >>> iv = Interval(0.5, 0.4, 0.6, 0.0, 0.05)
      >>> wide = with_seed_spread(iv, np.array([0.4, 0.5, 0.6]))
      >>> round(wide.low, 4), round(wide.high, 4), round(wide.se, 4)
      (0.349, 0.651, 0.0764)
    """
    x = np.asarray(seed_estimates, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size < 2:
        return interval
    extra = float(x.var(ddof=1)) / x.size
    z = float(scipy_stats.norm.ppf((1.0 + confidence) / 2.0))
    est = interval.estimate
    low = est - np.sqrt((est - interval.low) ** 2 + z * z * extra)
    high = est + np.sqrt((interval.high - est) ** 2 + z * z * extra)
    se = float(np.sqrt(np.nan_to_num(interval.se) ** 2 + extra))
    return Interval(est, float(low), float(high), _normal_p(est, se), se)


def paired_bootstrap(a: np.ndarray, b: np.ndarray, clusters: np.ndarray,
                     weights: np.ndarray | None = None, n_boot: int = 2000, seed: int = 0,
                     confidence: float = 0.95) -> Interval:
    """Paired cluster bootstrap of the mean difference ``a - b`` (see `cluster_bootstrap`).

    Args:
      a: 1-D values of the first system, one per pair (e.g. per (window, user), seed-averaged).
      b: 1-D values of the second system, aligned with ``a``.
      clusters: 1-D cluster (user) of each pair.
      weights, n_boot, seed, confidence: as for `cluster_bootstrap`.

    Returns:
      The `Interval` of mean(a) − mean(b); its ``p`` tests a zero difference.

    Raises:
      ValueError: as for `cluster_bootstrap`, or ``a`` and ``b`` of different shapes.

    Example:
      >>> r = paired_bootstrap(np.array([0.3, 0.5]), np.array([0.2, 0.4]), np.array([1, 2]))
      >>> round(r.estimate, 6), round(r.low, 6), round(r.high, 6), round(r.p, 4)
      (0.1, 0.1, 0.1, 0.0)
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {a.shape} and {b.shape}")
    return cluster_bootstrap(a - b, clusters, weights, n_boot, seed, confidence)
