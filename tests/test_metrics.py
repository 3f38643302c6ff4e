import math

import numpy as np
import pytest

from tfrec_inc.evaluation.metrics import (
    hit_matrix,
    per_user_metrics,
    ranking_metrics,
    recall_precision_curve,
)

L2, L3, L4, L5 = (math.log2(x) for x in (2, 3, 4, 5))


def test_single_user_hand_computed():
    # Relevant items 3 and 1 sit at ranks 2 and 4; item 7 is never retrieved.
    m = ranking_metrics(np.array([[5, 3, 9, 1]]), [{3, 1, 7}], ks=[2, 4])
    assert m["recall@2"] == pytest.approx(1 / 3)
    assert m["precision@2"] == pytest.approx(1 / 2)
    assert m["ndcg@2"] == pytest.approx((1 / L3) / (1 / L2 + 1 / L3))
    assert m["hit_rate@2"] == 1.0
    assert m["mrr@2"] == pytest.approx(1 / 2)
    assert m["map@2"] == pytest.approx((1 / 2) / 2)
    assert m["recall@4"] == pytest.approx(2 / 3)
    assert m["precision@4"] == pytest.approx(2 / 4)
    assert m["ndcg@4"] == pytest.approx((1 / L3 + 1 / L5) / (1 / L2 + 1 / L3 + 1 / L4))
    assert m["map@4"] == pytest.approx((1 / 2 + 2 / 4) / 3)


def test_more_relevant_than_k_and_users_without_relevant_items():
    ranked = np.array([[1, 2, 3, 4], [8, 9, 1, 2], [1, 2, 3, 4]])
    relevant = [{1, 2, 3, 4, 5, 6}, set(), {4}]
    m = ranking_metrics(ranked, relevant, ks=[2])
    # User 2 has no relevant item and is left out; users 1 and 3 are averaged.
    u1 = {"recall": 2 / 6, "precision": 1.0, "ndcg": 1.0, "hit_rate": 1.0, "mrr": 1.0, "map": 1.0}
    u3 = {"recall": 0.0, "precision": 0.0, "ndcg": 0.0, "hit_rate": 0.0, "mrr": 0.0, "map": 0.0}
    for name in u1:
        assert m[f"{name}@2"] == pytest.approx((u1[name] + u3[name]) / 2), name
    per_user = per_user_metrics(ranked, relevant, ks=[4])
    assert per_user["recall@4"].tolist() == pytest.approx([4 / 6, 1.0])
    assert per_user["mrr@4"].tolist() == pytest.approx([1.0, 1 / 4])
    # map@4 of user 3: one hit at rank 4, precision@4 = 1/4, divided by min(|rel|, 4) = 1.
    assert per_user["map@4"].tolist() == pytest.approx([1.0, 1 / 4])


def test_no_relevant_at_all_is_nan_and_k_beyond_list_fails():
    m = ranking_metrics(np.array([[1, 2]]), [set()], ks=[1])
    assert math.isnan(m["recall@1"])
    with pytest.raises(ValueError):
        ranking_metrics(np.array([[1, 2]]), [{1}], ks=[3])


def test_recall_precision_curve_matches_pointwise_metrics():
    rng = np.random.default_rng(0)
    ranked = np.stack([rng.permutation(50)[:10] for _ in range(30)])
    relevant = [set(rng.choice(50, size=rng.integers(0, 6), replace=False).tolist())
                for _ in range(30)]
    recall, precision = recall_precision_curve(ranked, relevant)
    m = ranking_metrics(ranked, relevant, ks=range(1, 11))
    assert recall.tolist() == pytest.approx([m[f"recall@{k}"] for k in range(1, 11)])
    assert precision.tolist() == pytest.approx([m[f"precision@{k}"] for k in range(1, 11)])
    assert np.all(np.diff(recall) >= 0)


def test_padding_is_never_a_hit():
    # User 1's list is padded with -1. With one code per (user, item), ``1 * width - 1`` is
    # user 0's item ``width - 1`` (here 4, which user 0 finds relevant): no hit may follow.
    ranked = np.array([[3, 4], [2, -1]])
    relevant = [{4}, {1}]
    assert hit_matrix(ranked, relevant).tolist() == [[False, True], [False, False]]
    m = per_user_metrics(ranked, relevant, ks=[2])
    assert m["recall@2"].tolist() == [1.0, 0.0]
    assert m["mrr@2"].tolist() == [0.5, 0.0]
