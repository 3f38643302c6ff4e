import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from tfrec_inc.config import EvaluationConfig
from tfrec_inc.data.catalog import Catalog
from tfrec_inc.data.interactions import Interactions
from tfrec_inc.data.windows import Window
from tfrec_inc.evaluation.metrics import ranking_metrics
from tfrec_inc.evaluation.protocol import candidate_items, evaluate_retrieval, paired_ks, rank_items


class _FixedModel:
    """Towers returning fixed vectors, so scores (and their ties) are known exactly."""

    history_length = 0

    def __init__(self, users: np.ndarray, items: np.ndarray) -> None:
        self._u = tf.constant(users, tf.float32)
        self._i = tf.constant(items, tf.float32)

    def user_tower(self, features):
        return tf.gather(self._u, features["user"])

    def item_tower(self, features):
        return tf.gather(self._i, features["item"])


def test_rank_items_orders_ties_by_seed_and_excludes_seen():
    # Item scores for user 1: item 1 -> 1, items 2 and 3 tie at 2, item 4 -> 3.
    items = np.array([[0.0], [1.0], [2.0], [2.0], [3.0]])
    users = np.array([[0.0], [1.0], [-1.0]])
    model = _FixedModel(users, items)
    candidates = np.array([1, 2, 3, 4])
    # The tie (2, 3) comes out in a seeded random order; both orders occur over seeds.
    orders = {tuple(rank_items(model, np.array([1]), candidates, None, k=4, seed=s)[0])
              for s in range(20)}
    assert orders == {(4, 2, 3, 1), (4, 3, 2, 1)}
    ranked = rank_items(model, np.array([1, 2]), candidates, None, k=4)
    assert ranked[0, [0, 3]].tolist() == [4, 1] and ranked[1, [0, 3]].tolist() == [1, 4]
    seen = pd.DataFrame({"user": [1, 2], "item": [4, 1]})
    ranked = rank_items(model, np.array([1, 2]), candidates, seen, k=3, batch_size=1)
    assert set(ranked[0, :2]) == {2, 3} and ranked[0, 2] == 1
    assert set(ranked[1, :2]) == {2, 3} and ranked[1, 2] == 4


def test_rank_items_pads_when_fewer_candidates_than_k():
    model = _FixedModel(np.array([[0.0], [1.0]]), np.array([[0.0], [1.0], [2.0]]))
    ranked = rank_items(model, np.array([1]), np.array([1, 2]), None, k=4)
    assert ranked.tolist() == [[2, 1, -1, -1]]


# --------------------------------------------------------------------------- ties


def test_zero_user_vector_ranks_at_random_not_by_catalog_index():
    # Every score is 0, so the list is pure tie-breaking. The relevant items are the two
    # lowest catalog indices: "lowest index first" would score recall@5 = 1.
    n_items, k = 50, 5
    model = _FixedModel(np.zeros((4, 8)), np.random.default_rng(7).normal(size=(n_items + 1, 8)))
    candidates = np.arange(1, n_items + 1)
    users = np.array([1, 2, 3])
    relevant = [{1, 2}] * 3
    ranked = rank_items(model, users, candidates, None, k=k)
    assert ranked[0].tolist() != [1, 2, 3, 4, 5]
    recalls = [ranking_metrics(rank_items(model, users, candidates, None, k=k, seed=s), relevant,
                               ks=[k])["recall@5"] for s in range(300)]
    # Expectation of a uniformly random list: k / n = 0.1 (sd of the mean over 300 seeds ~0.012).
    assert np.mean(recalls) == pytest.approx(k / n_items, abs=0.04)


def test_same_seed_same_lists():
    model = _FixedModel(np.zeros((3, 2)), np.ones((31, 2)))
    candidates = np.arange(1, 31)
    users = np.array([1, 2])
    first = rank_items(model, users, candidates, None, k=10, seed=5)
    assert (rank_items(model, users, candidates, None, k=10, seed=5) == first).all()
    assert (first[0] == first[1]).all()  # one permutation per call: tied users alike
    assert not (rank_items(model, users, candidates, None, k=10, seed=6) == first).all()


def _toy(users: list[str], items: list[str], hist: list[tuple[str, str, int]],
         test: list[tuple[str, str, int]], arrival: list[float] | None = None) -> tuple[Catalog, Window]:
    """A catalog and one window: ``hist`` rows are the history, ``test`` rows the test slice."""
    cols = ["user_id", "item_id", "timestamp"]
    frame = pd.DataFrame(hist + test, columns=cols)
    table = pd.DataFrame({"item_id": items, "text": items})
    if arrival is not None:
        table["arrival"] = arrival
    data = Interactions.create("toy", frame, table, pd.DataFrame({"user_id": users}))
    inter = data.interactions
    cut = inter["timestamp"] <= max(t for _, _, t in hist)
    empty = inter.iloc[:0]
    window = Window(0, inter[cut], empty, inter[~cut], inter[cut])
    return Catalog.from_interactions(data), window


def test_constant_users_are_counted_per_group():
    # u1, u2 score everything alike (zero vector); u3 does not.
    users = ["u1", "u2", "u3"]
    items = [f"i{j}" for j in range(6)]
    hist = [("u1", "i0", 1), ("u3", "i1", 2)]
    test = [("u1", "i2", 3), ("u2", "i3", 3), ("u3", "i4", 3)]
    catalog, window = _toy(users, items, hist, test)
    user_vectors = np.zeros((len(catalog.users), 1))
    user_vectors[catalog.users.lookup(["u3"])] = 1.0
    model = _FixedModel(user_vectors, np.arange(len(catalog.items), dtype=float)[:, None])
    found = evaluate_retrieval(model, catalog, window,
                               EvaluationConfig(ks=[1, 3], groups=["all", "warm_users", "cold_users"]))
    got = {(r["group"], r["metric"]): r["value"] for r in found if r["k"] is None}
    assert got[("all", "users")] == 3 and got[("all", "constant_users")] == 2
    assert got[("warm_users", "constant_users")] == 1 and got[("cold_users", "constant_users")] == 1


# --------------------------------------------------------------------------- candidates


def _newest_first(n_users: int = 40, seed: int = 0):
    """Old items o0..o19 consumed in the history; new items n0..n29 arrive during the test
    slice, but its users consume only n0..n9 (one each); f0..f4 arrive after it.

    Returns:
      ``(catalog, window, model)``: the model scores items by their first interaction in
      the history, newest first; an item without one scores highest (all tied).
    """
    rng = np.random.default_rng(seed)
    users = [f"u{j}" for j in range(n_users)]
    old = [f"o{j}" for j in range(20)]
    new = [f"n{j}" for j in range(30)]
    future = [f"f{j}" for j in range(5)]
    hist = [(u, old[(j + d) % 20], 1 + (j + d) % 20) for j, u in enumerate(users) for d in range(2)]
    test = [(u, new[int(rng.integers(0, 10))], 100 + j) for j, u in enumerate(users)]
    arrival = [0.0] * 20 + [100.0 + j for j in range(30)] + [10_000.0] * 5
    catalog, window = _toy(users, old + new + future, hist, test, arrival)
    first = window.history.groupby("item_id")["timestamp"].min()
    score = np.full(len(catalog.items), 1e6)
    score[catalog.items.lookup(first.index)] = first.to_numpy()
    return catalog, window, _FixedModel(np.ones((len(catalog.users), 1)), score[:, None])


def test_candidates_do_not_depend_on_test_labels():
    catalog, window, _ = _newest_first()
    found = candidate_items(catalog, window)
    # Every old and new item; not the items arriving after the test slice.
    assert sorted(catalog.items.ids[i - 1] for i in found) == sorted(
        [f"o{j}" for j in range(20)] + [f"n{j}" for j in range(30)])
    # The same test times with other items consumed: the same candidates.
    other = window.test.assign(item_id="n29")
    assert (candidate_items(catalog, Window(0, window.train, window.valid, other, window.history))
            == found).all()


def test_newest_first_gains_nothing_from_the_candidates():
    # Under "candidates = items seen in history or test", the cold candidates were exactly
    # n0..n9, all relevant: newest-first scored cold_items recall@10 = 1 by construction.
    catalog, window, model = _newest_first()
    cfg = EvaluationConfig(ks=[10], groups=["all", "cold_items"])

    def cold_recall(found):
        return next(r["value"] for r in found
                    if (r["group"], r["metric"], r["k"]) == ("cold_items", "recall", 10))

    found = evaluate_retrieval(model, catalog, window, cfg)
    counts = {r["metric"]: r["value"] for r in found if r["metric"] in ("candidates", "cold_candidates")}
    assert counts == {"candidates": 50, "cold_candidates": 30}
    assert cold_recall(found) < 0.9
    # Now the cold candidates are n0..n29: newest-first is a random order of them, whose
    # expected recall@10 is 10/30 (sd of the mean over 40 seeds ~0.02).
    recalls = [cold_recall(evaluate_retrieval(model, catalog, window, cfg, seed=s)) for s in range(40)]
    assert np.mean(recalls) == pytest.approx(10 / 30, abs=0.08)


# --------------------------------------------------------------------------- per-user values


def test_per_user_values_at_every_tested_k_average_to_the_records():
    # Before: per-user rows only at K = 20 (or the largest K), so a table of @10 and @50
    # columns (the given-split studies) had no intervals and no paired tests.
    catalog, window, model = _newest_first()
    cfg = EvaluationConfig(ks=[5, 10, 20, 50], groups=["all"])
    users: list[dict] = []
    found = evaluate_retrieval(model, catalog, window, cfg, per_user=users, seed=3, per_user_ks=[10, 50])
    assert sorted({(u["metric"], u["k"]) for u in users}) == [
        ("ndcg", 10), ("ndcg", 50), ("recall", 10), ("recall", 50)]
    for metric, k in [("recall", 10), ("ndcg", 50)]:
        values = [u["value"] for u in users if (u["metric"], u["k"]) == (metric, k)]
        assert len(values) == 40
        mean = next(r["value"] for r in found if (r["group"], r["metric"], r["k"]) == ("all", metric, k))
        assert np.mean(values) == pytest.approx(mean)
    default: list[dict] = []
    evaluate_retrieval(model, catalog, window, cfg, per_user=default, seed=3)
    assert {u["k"] for u in default} == {20}


def test_paired_ks_are_the_recall_and_ndcg_columns():
    assert paired_ks(["recall@10", "ndcg@10", "recall@50", "ndcg@50"], [10, 20, 50]) == [10, 50]
    assert paired_ks(["recall@100", "hit_rate@20"], [10, 50]) == [50]  # @100 is not evaluated
