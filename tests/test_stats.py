"""Holm correction, seed averaging and the paired cluster bootstrap, on hand-computed cases."""

import numpy as np
import pandas as pd
import pytest

from tfrec_inc.evaluation import stats
from tfrec_inc.reporting import significance


def test_holm_matches_the_textbook_example():
    # Sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04; the running
    # maximum makes the last 0.06; back in input order:
    np.testing.assert_allclose(stats.holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    # Capped at 1; NaN (untested) stays NaN and is not counted in m (here m = 2).
    np.testing.assert_allclose(stats.holm([0.6, np.nan, 0.2]), [0.6, np.nan, 0.4])
    np.testing.assert_allclose(stats.holm([0.5, 0.9]), [1.0, 1.0])
    assert stats.holm([]).size == 0
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        stats.holm([1.5])


def test_seed_average_makes_a_user_count_once():
    rows = pd.DataFrame({"strategy": "s", "window": 1, "user": ["a", "a", "a", "b"],
                         "seed": [0, 1, 2, 0], "value": [0.1, 0.2, 0.6, 1.0]})
    out = stats.seed_average(rows)
    assert list(out.columns) == ["strategy", "window", "user", "value", "seeds"]
    assert out["user"].tolist() == ["a", "b"]
    np.testing.assert_allclose(out["value"], [0.3, 1.0])
    assert out["seeds"].tolist() == [3, 1]


def test_cluster_bootstrap_two_clusters_exact():
    # Resample means of {0, 1}: 0, 0.5 or 1 with probabilities 1/4, 1/2, 1/4.
    r = stats.cluster_bootstrap(np.array([0.0, 1.0]), np.array(["a", "b"]), n_boot=4000, seed=3)
    assert (r.estimate, r.low, r.high) == (0.5, 0.0, 1.0)


def test_cluster_bootstrap_resamples_users_not_rows():
    rng = np.random.default_rng(0)
    values = rng.normal(size=40)
    users = np.arange(40)
    once = stats.cluster_bootstrap(values, users, seed=7)
    # Every user's row three times (three windows, or three seeds): each user is still one
    # draw, so the interval is exactly the same; an i.i.d. bootstrap over rows would shrink it.
    thrice = stats.cluster_bootstrap(np.repeat(values, 3), np.repeat(users, 3), seed=7)
    assert (thrice.estimate, thrice.low, thrice.high, thrice.p) == pytest.approx(
        (once.estimate, once.low, once.high, once.p), rel=1e-12)
    rows = stats.cluster_bootstrap(np.repeat(values, 3), np.arange(120), seed=7)
    assert rows.high - rows.low < 0.7 * (once.high - once.low)


def test_weights_give_the_mean_of_window_means():
    # Window 1 has users a, b (values 0, 1), window 2 has user a (value 1): weights 1/2, 1/2, 1
    # make the estimate (0.5 + 1) / 2 = 0.75, the mean of the per-window means.
    r = stats.cluster_bootstrap(np.array([0.0, 1.0, 1.0]), np.array(["a", "b", "a"]),
                                np.array([0.5, 0.5, 1.0]))
    assert r.estimate == pytest.approx(0.75)
    # Resamples: {a, a} -> (2 x 1) / (2 x 1.5) = 2/3 (prob. 1/4), {a, b} -> 0.75 (1/2),
    # {b, b} -> 1 (1/4): the 2.5 % and 97.5 % quantiles are 2/3 and 1.
    assert (r.low, r.high) == pytest.approx((2 / 3, 1.0))


def test_paired_bootstrap_covers_the_true_difference_and_is_deterministic():
    # One fixed sample (a 95 % interval misses the truth in 1 sample of 20; this one is not it).
    rng = np.random.default_rng(0)
    n_users, windows = 300, 3
    users = np.repeat(np.arange(n_users), windows)
    skill = np.repeat(rng.uniform(0, 0.5, n_users), windows)  # shared by both systems: paired
    b = skill + rng.normal(0, 0.05, users.size)
    a = b + 0.02 + rng.normal(0, 0.05, users.size)  # true mean difference 0.02
    r = stats.paired_bootstrap(a, b, users, seed=11)
    assert r.low < 0.02 < r.high
    assert r.estimate == pytest.approx(np.mean(a - b))
    assert r.p < 1e-6 and r.low > 0
    assert stats.paired_bootstrap(a, b, users, seed=11) == r
    assert stats.paired_bootstrap(a, b, users, seed=12) != r
    null = stats.paired_bootstrap(b, b, users)
    assert (null.estimate, null.low, null.high, null.p) == (0.0, 0.0, 0.0, 1.0)


def test_bootstrap_errors():
    with pytest.raises(ValueError, match="aligned"):
        stats.cluster_bootstrap(np.array([1.0, 2.0]), np.array([0]))
    with pytest.raises(ValueError, match="finite"):
        stats.cluster_bootstrap(np.array([np.nan]), np.array([0]))
    with pytest.raises(ValueError, match="positive"):
        stats.cluster_bootstrap(np.array([1.0]), np.array([0]), np.array([0.0]))
    with pytest.raises(ValueError, match="n_boot"):
        stats.cluster_bootstrap(np.array([1.0]), np.array([0]), n_boot=1)
    with pytest.raises(ValueError, match="same shape"):
        stats.paired_bootstrap(np.array([1.0]), np.array([1.0, 2.0]), np.array([0]))


def _seeded_rows(offsets: list[float], n_users: int = 400) -> pd.DataFrame:
    """One row's per-user values: user u scores 0.3 + tiny noise + the seed's offset."""
    rng = np.random.default_rng(0)
    base = 0.3 + rng.normal(0, 0.01, n_users)
    return pd.DataFrame([{"column": "d", "model": "m", "strategy": "s", "metric": "recall", "seed": seed,
                          "window": 0, "user": u, "value": base[u] + offset}
                         for seed, offset in enumerate(offsets) for u in range(n_users)])


def test_intervals_cover_the_training_seeds_not_only_the_test_users():
    # Before: the bootstrap resampled users of the seed-averaged values only, so a row whose
    # seeds disagree by ±0.05 got an interval ~0.002 wide around their mean.
    spread = significance.row_intervals(_seeded_rows([-0.05, 0.0, 0.05]))[("d", "m", "s", "recall")]
    calm = significance.row_intervals(_seeded_rows([0.0, 0.0, 0.0]))[("d", "m", "s", "recall")]
    assert calm.high - calm.low < 0.005
    # s = 0.05, s / sqrt(3) = 0.0289: half-width >= 1.96 * 0.0289
    assert spread.low < 0.3 - 0.056 and spread.high > 0.3 + 0.056
    assert spread.estimate == pytest.approx(calm.estimate)


def test_paired_differences_carry_the_seed_spread_of_the_differences():
    a = _seeded_rows([-0.05, 0.0, 0.05]).assign(model="a")
    b = _seeded_rows([0.0, 0.0, 0.0]).assign(model="b", value=lambda f: f["value"] - 0.01)
    values = pd.concat([a, b], ignore_index=True)
    found = significance.comparisons(values, [("baseline", "d", "recall", ("a", "s"), ("b", "s"))])
    row = found.iloc[0]
    assert row["diff"] == pytest.approx(0.01, abs=1e-9)
    assert row["low"] < 0 < row["high"] and row["p"] > 0.05  # 0.01 is well within the seed spread
    same = pd.concat([_seeded_rows([0.0] * 3).assign(model="a"), b], ignore_index=True)
    tight = significance.comparisons(same, [("baseline", "d", "recall", ("a", "s"), ("b", "s"))]).iloc[0]
    assert tight["p"] < 1e-6
