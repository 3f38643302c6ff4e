"""The computed baselines against hand computations, the grid tuner, and a tiny incremental run."""

import dataclasses

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import tensorflow as tf

from tfrec_inc import config
from tfrec_inc import data as data_lib
from tfrec_inc.config import EvaluationConfig, ModelConfig, WindowsConfig
from tfrec_inc.data.catalog import Catalog
from tfrec_inc.data.interactions import Interactions
from tfrec_inc.data.windows import split
from tfrec_inc.evaluation import protocol, selection
from tfrec_inc.incremental import study as incremental_study
from tfrec_inc.models import factory
from tfrec_inc.models.popularity import PopularityModel
from tfrec_inc.prepare import Prepared, uses_text
from tfrec_inc.results import ResultsStore

DAY = 86_400
COMPUTED = ("itemknn", "ials", "ease", "rp3beta", "text_knn")

# u1: a b (a twice), u2: a c, u3: b c d, u4: a d. u5 is in the catalog but never interacts here.
TOY = pd.DataFrame({
    "user_id": ["u1", "u1", "u1", "u2", "u2", "u3", "u3", "u3", "u4", "u4", "u5"],
    "item_id": ["a", "b", "a", "a", "c", "b", "c", "d", "a", "d", "e"],
    "timestamp": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
})


@pytest.fixture(scope="module")
def toy():
    items = pd.DataFrame({"item_id": list("abcde"), "text": list("abcde"), "genres": [""] * 5})
    data = Interactions.create("toy", TOY, items)
    catalog = Catalog.from_interactions(data)
    vectors = np.random.default_rng(0).normal(size=(len(catalog.items), 6)).astype(np.float32)
    vectors[0] = 0
    prepared = Prepared.from_parts(data, (), text_vectors=vectors, catalog=catalog)
    return prepared, TOY.iloc[:10]  # u5's only row left out: an unseen user


def _index(prepared, users, items):
    return prepared.catalog.users.lookup(users), prepared.catalog.items.lookup(items)


def _hand_x(prepared, frame, users, items):
    """The binary users × items matrix of ``frame``, by hand."""
    x = np.zeros((len(users), len(items)))
    for u, i in zip(frame["user_id"], frame["item_id"], strict=True):
        x[users.index(u), items.index(i)] = 1.0
    return x


def _scores(model, u, i):
    return (model.user_tower({"user": u}).numpy() @ model.item_tower({"item": i}).numpy().T)


USERS, ITEMS = ["u1", "u2", "u3", "u4"], ["a", "b", "c", "d"]


def test_ease_matches_the_closed_form_by_hand(toy):
    prepared, train = toy
    lam = 2.0
    x = _hand_x(prepared, train, USERS, ITEMS)
    p = np.linalg.inv(x.T @ x + lam * np.eye(4))
    b = np.eye(4) - p @ np.diag(1.0 / np.diag(p))
    assert np.allclose(np.diag(b), 0)
    model = factory.build(ModelConfig(type="ease", ease_lambda=lam), prepared, train)
    np.testing.assert_allclose(_scores(model, *_index(prepared, USERS, ITEMS)), x @ b, rtol=1e-5, atol=1e-6)


def test_itemknn_is_shrunk_cosine_by_hand(toy):
    prepared, train = toy
    model = factory.build(ModelConfig(type="itemknn", shrink=1.0, neighbors=None), prepared, train)
    u, i = _index(prepared, ["u1"], ["c"])
    # u1 has a, b. a: {u1,u2,u4}, b: {u1,u3}, c: {u2,u3}; each shares one user with c.
    expected = 1 / (np.sqrt(3 * 2) + 1) + 1 / (np.sqrt(2 * 2) + 1)
    np.testing.assert_allclose(_scores(model, u, i)[0, 0], expected, rtol=1e-6)
    # Top-1 neighbour per candidate: column j keeps only its largest similarity.
    one = factory.build(ModelConfig(type="itemknn", shrink=1.0, neighbors=1), prepared, train)
    columns = one.item_tower({"item": _index(prepared, [], ITEMS)[1]}).numpy()
    full = model.item_tower({"item": _index(prepared, [], ITEMS)[1]}).numpy()
    assert ((columns != 0).sum(axis=1) == 1).all()
    np.testing.assert_allclose(columns.max(axis=1), full.max(axis=1))


def test_itemknn_without_shrinkage_agrees_with_implicit_cosine(toy):
    from implicit.nearest_neighbours import CosineRecommender

    prepared, train = toy
    x = _hand_x(prepared, train, USERS, ITEMS)
    knn = CosineRecommender(K=10, num_threads=1)
    with pytest.warns(match="expects CSR input"):  # implicit's own COO -> CSR inside CosineRecommender
        knn.fit(sp.csr_matrix(x.astype(np.float32)), show_progress=False)
    theirs = knn.similarity.toarray()
    np.fill_diagonal(theirs, 0)
    model = factory.build(ModelConfig(type="itemknn", shrink=0.0, neighbors=None), prepared, train)
    _, items = _index(prepared, [], ITEMS)
    ours = model.item_tower({"item": items}).numpy()[:, items]
    np.testing.assert_allclose(ours.T, theirs, rtol=1e-5)


def test_rp3beta_matches_the_explicit_random_walk(toy):
    prepared, train = toy
    alpha, beta = 0.8, 0.3
    x = _hand_x(prepared, train, USERS, ITEMS)
    deg_u, deg_i = x.sum(axis=1), x.sum(axis=0)
    w = np.zeros((4, 4))
    for i in range(4):
        for j in range(4):
            if i != j:
                walk = sum((x[u, i] / deg_i[i]) ** alpha * (x[u, j] / deg_u[u]) ** alpha for u in range(4))
                w[i, j] = walk / deg_i[j] ** beta
    cfg = ModelConfig(type="rp3beta", rp3_alpha=alpha, rp3_beta=beta, neighbors=None)
    model = factory.build(cfg, prepared, train)
    u, i = _index(prepared, USERS, ITEMS)
    np.testing.assert_allclose(_scores(model, u, i), x @ w, rtol=1e-5)
    # neighbors: each history item i keeps its two largest transitions (row i of W; ties either way).
    pruned = factory.build(dataclasses.replace(cfg, neighbors=2), prepared, train)
    kept = pruned.item_tower({"item": i}).numpy()[:, i].T  # [i, j] = W[i, j]
    assert ((kept != 0).sum(axis=1) == 2).all()
    np.testing.assert_allclose(np.sort(kept, axis=1)[:, -2:], np.sort(w, axis=1)[:, -2:], rtol=1e-5)
    assert np.all((kept == 0) | np.isclose(kept, w, rtol=1e-5))


def test_ials_scores_are_implicits_own_factors(toy):
    import implicit
    from threadpoolctl import threadpool_limits

    prepared, train = toy
    cfg = ModelConfig(type="ials", factors=3, regularization=0.1, iterations=5, ials_alpha=2.0)
    tf.keras.utils.set_random_seed(7)
    model = factory.build(cfg, prepared, train)
    np.random.seed(7)  # what the study's step seed does; the model draws implicit's seed from it
    x = _hand_x(prepared, train, USERS, ITEMS)  # rows and columns in catalog order, as the model fits
    assert all(np.diff(idx).min() > 0 for idx in _index(prepared, USERS, ITEMS))
    with threadpool_limits(1, "blas"):
        als = implicit.als.AlternatingLeastSquares(
            factors=3, regularization=0.1, alpha=2.0, iterations=5, use_gpu=False,
            random_state=np.random.randint(0, 2**31 - 1))
        als.fit(sp.csr_matrix(x.astype(np.float32)), show_progress=False)
    np.testing.assert_allclose(_scores(model, *_index(prepared, USERS, ITEMS)),
                               als.user_factors @ als.item_factors.T, rtol=1e-5, atol=1e-6)


def test_text_knn_is_the_mean_cosine_by_hand(toy):
    prepared, train = toy
    cfg = ModelConfig(type="text_knn")
    assert uses_text(cfg)
    model = factory.build(cfg, prepared, train)
    v = prepared.text_vectors
    cos = lambda a, b: v[a] @ v[b] / np.linalg.norm(v[a]) / np.linalg.norm(v[b])  # noqa: E731
    (u3,), items = _index(prepared, ["u3"], ["b", "c", "d", "e"])
    expected = [np.mean([cos(h, j) for h in items[:3]]) for j in items]
    np.testing.assert_allclose(_scores(model, [u3], items)[0], expected, rtol=1e-5)


@pytest.mark.parametrize("kind", COMPUTED)
def test_unseen_users_score_all_zeros(toy, kind):
    prepared, train = toy
    model = factory.build(ModelConfig(type=kind, factors=2), prepared, train)
    u, i = _index(prepared, ["u5", "nobody"], list("abcde"))
    assert not np.any(model.user_tower({"user": u}).numpy())
    assert not np.any(_scores(model, u, i))
    assert np.any(_scores(model, *_index(prepared, ["u1"], list("abcd"))))


def test_popularity_forms_count_what_they_say(toy):
    prepared, _ = toy
    data = TOY.assign(timestamp=TOY["timestamp"] * DAY)  # one row a day
    window = data.iloc[6:]  # the "current window's training slice": rows 6..10
    _, idx = _index(prepared, [], list("abcde"))

    def counts(**keys):
        model = factory.build(ModelConfig(type="popularity", **keys), prepared, data, current=window)
        return model.item_tower({"item": idx}).numpy()[:, 0]

    np.testing.assert_array_equal(counts(), [1, 0, 1, 2, 1])  # default: window (c, d, a, d, e)
    np.testing.assert_array_equal(counts(popularity="window"), counts())
    np.testing.assert_array_equal(counts(popularity="all"), [4, 2, 2, 2, 1])
    # decay, half-life 2 days, age from day 10: a on days 0, 2, 3, 8; b on 1, 5; ...
    w = lambda *days: sum(0.5 ** ((10 - d) / 2) for d in days)  # noqa: E731
    np.testing.assert_allclose(counts(popularity="decay", half_life_days=2.0),
                               [w(0, 2, 3, 8), w(1, 5), w(4, 6), w(7, 9), w(10)], rtol=1e-6)
    # Without a current slice (transfer, rebuilds) the window form counts the data given: as before.
    before = PopularityModel(prepared.catalog, data).item_tower({"item": idx}).numpy()
    np.testing.assert_array_equal(factory.build(ModelConfig(type="popularity"), prepared, data)
                                  .item_tower({"item": idx}).numpy(), before)


@pytest.fixture(scope="module")
def small():
    data = data_lib.load("synthetic", num_users=150, num_items=90, num_interactions=2400, num_periods=3)
    windows = split(data.interactions, WindowsConfig(num_windows=3))
    vectors = np.random.default_rng(1).normal(size=(len(data.items) + 1, 8)).astype(np.float32)
    return data, Prepared.from_parts(data, windows, text_vectors=vectors)


class _Poison:
    """Stands in for a test slice: any use of it fails the test."""

    def __getattr__(self, name):
        raise AssertionError(f"the tuner read the test slice ({name})")

    def __len__(self):
        raise AssertionError("the tuner read the test slice (len)")


def test_tuner_keeps_the_best_validation_point_first_on_ties(small, monkeypatch):
    _, prepared = small
    cfg = ModelConfig(type="itemknn", grid={"neighbors": [1, 5, 20], "shrink": [0.0, 50.0]})
    points = selection.grid_points(cfg)
    assert points[:2] == [{"neighbors": 1, "shrink": 0.0}, {"neighbors": 1, "shrink": 50.0}]
    scripted = iter([0.1, 0.3, 0.2, 0.3, 0.05, 0.3])
    monkeypatch.setattr(protocol, "validation_recall", lambda *a: next(scripted))
    window = prepared.windows[1]
    model, chosen = selection.tuned(cfg, prepared, window.train, window, EvaluationConfig())
    assert chosen == points[1]  # 0.3 first reached at the second point; later ties lose
    assert model.item_tower({"item": np.arange(1, 5)}).numpy().shape[1] == len(prepared.catalog.items)


def test_tuner_scores_validation_only_and_never_the_test_slice(small):
    _, prepared = small
    cfg = ModelConfig(type="ease", grid={"ease_lambda": [0.5, 50.0, 5000.0]})
    window = prepared.windows[1]
    train = window.history.drop(index=window.valid.index)
    by_hand = [protocol.validation_recall(factory.build(dataclasses.replace(cfg, **p), prepared, train),
                                          prepared.catalog, window, EvaluationConfig())
               for p in selection.grid_points(cfg)]
    blind = dataclasses.replace(window, test=_Poison())
    _, chosen = selection.tuned(cfg, prepared, train, blind, EvaluationConfig())
    assert chosen == selection.grid_points(cfg)[int(np.argmax(by_hand))]
    assert len(set(by_hand)) > 1  # the grid matters here


def test_grid_and_baseline_keys_are_checked():
    ok = {"experiment": "t", "models": [{"type": "ease", "grid": {"ease_lambda": [1, 10]}}]}
    assert config.from_dict(ok).models[0].grid == {"ease_lambda": [1, 10]}
    bad = [({"type": "ease", "grid": {"lambda": [1]}}, "grid.lambda: not a tunable key"),
           ({"type": "ease", "grid": {"ease_lambda": []}}, "give at least one value"),
           ({"type": "ease", "grid": {"ease_lambda": [0]}}, r"grid.ease_lambda\[0\]: .*must be > 0"),
           ({"type": "ials", "grid": {"factors": [2.5]}}, "expected a number"),
           ({"type": "retrieval", "grid": {"epochs": [1]}}, "only computed"),
           ({"type": "popularity", "popularity": "recent"}, "unknown value 'recent'"),
           ({"type": "itemknn", "shrink": -1}, "shrink: must be >= 0"),
           ({"type": "popularity", "half_life_days": 0}, "half_life_days: must be > 0")]
    for model, message in bad:
        with pytest.raises(config.ConfigError, match=message):
            config.from_dict({"experiment": "t", "models": [model]})


def test_registry_trained_flags_match_the_config():
    assert {n for n, t in factory.MODEL_TYPES.items() if t.trained} == set(config.TRAINED_TYPES)


TINY_MODELS = [
    {"name": "popularity", "type": "popularity"},
    {"name": "popularity_decay", "type": "popularity", "popularity": "decay", "half_life_days": 3},
    {"name": "itemknn", "type": "itemknn", "grid": {"neighbors": [5, 50]}},
    {"name": "ials", "type": "ials", "iterations": 3, "grid": {"factors": [4, 8]}},
    {"name": "ease", "type": "ease", "ease_lambda": 10},
    {"name": "rp3beta", "type": "rp3beta", "neighbors": 20},
    {"name": "text_knn", "type": "text_knn"},
    {"name": "oracle", "type": "oracle"},  # not a baseline, but computed the same way
]


def test_tiny_incremental_run_with_every_baseline(small, tmp_path):
    data, prepared = small
    cfg = config.from_dict({
        "experiment": "baselines", "seeds": [0], "windows": {"num_windows": 3},
        "data": {"options": {"num_users": 150, "num_items": 90, "num_interactions": 2400, "num_periods": 3}},
        "models": TINY_MODELS, "strategies": ["full_retrain", "static"], "evaluation": {"ks": [5, 20]}})
    out = incremental_study.run(cfg, prepared, ResultsStore(tmp_path / "out", cfg, resume=False), quiet=True)
    frame = pd.DataFrame(out.records)
    recall = frame[(frame["metric"] == "recall") & (frame["k"] == 20) & (frame["group"] == "all")]
    assert len(recall) == len(TINY_MODELS) * 2 * 3 and recall["value"].notna().all()
    assert (recall.groupby("model")["value"].max() > 0).all()
    params = frame[frame["metric"].str.startswith("param_")]
    assert set(params["metric"]) == {"param_neighbors", "param_factors"}
    # Tuned at every full_retrain update, once for static (later windows keep the model).
    assert sorted(params[params["strategy"] == "static"]["window"].unique()) == [0]
    assert sorted(params[params["strategy"] == "full_retrain"]["window"].unique()) == [0, 1, 2]
    # The default popularity form is today's: the count of each window's training slice.
    for window in prepared.windows:
        mine = recall[(recall["model"] == "popularity") & (recall["strategy"] == "full_retrain")
                      & (recall["window"] == window.index)]["value"].item()
        found = protocol.evaluate_retrieval(PopularityModel(prepared.catalog, window.train), prepared.catalog,
                                            window, cfg.evaluation, groups=("all",))
        assert mine == next(r["value"] for r in found if r["metric"] == "recall" and r["k"] == 20)
    # Resume reads every step back; the last iALS checkpoint loads with the factors it chose.
    again = incremental_study.run(cfg, prepared, ResultsStore(tmp_path / "out", cfg, resume=True), quiet=True)
    assert pd.DataFrame(again.records).equals(frame)


def test_transfer_untrained_branch_tunes_and_keeps_popularity_on_the_share(small):
    from tfrec_inc.data.windows import recent_fraction
    from tfrec_inc.results import StudyOutput
    from tfrec_inc.transfer import study as transfer_study

    _, prepared = small
    cfg = config.from_dict({"experiment": "t", "evaluation": {"ks": [20]},
                            "models": [{"type": "popularity"}]})
    found = {}
    tuned_ease = ModelConfig(type="ease", grid={"ease_lambda": [1, 100]})
    for model_cfg in (ModelConfig(type="popularity"), tuned_ease):
        job = transfer_study._Seeded(cfg, prepared, model_cfg, 0, StudyOutput(),
                                     prepared.train_before_valid())
        transfer_study._fraction(job, 0.5, quiet=True)
        found[model_cfg.type] = pd.DataFrame(job.out.records)
    share = recent_fraction(prepared.train_before_valid(), 0.5)
    by_hand = protocol.evaluate_retrieval(PopularityModel(prepared.catalog, share), prepared.catalog,
                                          prepared.windows[-1], cfg.evaluation, groups=("all",))
    pop = found["popularity"]
    recall = pop[(pop["metric"] == "recall") & (pop["group"] == "all") & (pop["k"] == 20)]["value"].item()
    assert recall == next(r["value"] for r in by_hand if r["metric"] == "recall" and r["k"] == 20)
    assert not pop["metric"].str.startswith("param_").any()
    ease = found["ease"]
    assert ease[ease["metric"] == "param_ease_lambda"]["value"].item() in (1.0, 100.0)
    assert set(ease["strategy"]) == {"scratch"} and set(ease["window"]) == {50}


# --------------------------------------------------------------------------- fold-in


def _given_split(toy):
    """u5 (never in the build data) consumed "b" in validation and "a" in test; u4 "b" in test."""
    prepared, train = toy
    inter = prepared.data.interactions
    valid = pd.DataFrame({"user_id": ["u5"], "item_id": ["b"], "timestamp": [11]})
    test = pd.DataFrame({"user_id": ["u5", "u4"], "item_id": ["a", "b"], "timestamp": [12, 12]})
    history = pd.concat([train, valid], ignore_index=True)
    from tfrec_inc.data.windows import Window

    return prepared, train, Window(0, train, valid, test, history), inter


@pytest.mark.parametrize("kind", ["itemknn", "ease", "rp3beta", "ials", "text_knn"])
def test_baselines_profile_users_by_everything_before_the_test_slice(toy, kind):
    # Before: the profile was the build data only, so u5 (whose only item before the test
    # slice is her validation item) scored every item 0 and got a random list, while the
    # history towers of the trained models read that validation item.
    prepared, train, window, _ = _given_split(toy)
    cfg = dataclasses.replace(ModelConfig(type=kind, factors=2, iterations=3), neighbors=None)
    model = factory.build(cfg, prepared, train)
    (u5,), _ = _index(prepared, ["u5"], [])
    folded = model.folded_in(prepared.catalog, window.history)
    assert not np.allclose(folded.user_tower({"user": [u5]}).numpy(), 0.0)
    assert np.allclose(model.user_tower({"user": [u5]}).numpy(), 0.0)  # the built model is unchanged
    found = protocol.evaluate_retrieval(model, prepared.catalog, window,
                                        EvaluationConfig(ks=[4], groups=["all"]))
    constant = next(r["value"] for r in found if r["metric"] == "constant_users")
    assert constant == 0


def test_ials_fold_in_is_implicits_recalculate_user(toy):
    import implicit
    from threadpoolctl import threadpool_limits

    prepared, train, window, _ = _given_split(toy)
    cfg = ModelConfig(type="ials", factors=3, regularization=0.1, iterations=5, ials_alpha=2.0)
    model = factory.build(cfg, prepared, train)
    folded = model.folded_in(prepared.catalog, window.history)
    users, items = _index(prepared, ["u1", "u2", "u3", "u4", "u5"], ["a", "b", "c", "d"])
    item_factors = model.item_tower({"item": np.arange(len(prepared.catalog.items))}).numpy()
    x = _hand_x(prepared, window.history, ["u1", "u2", "u3", "u4", "u5"], ["a", "b", "c", "d"])
    with threadpool_limits(1, "blas"):
        als = implicit.als.AlternatingLeastSquares(factors=3, regularization=0.1, alpha=2.0, use_gpu=False)
        als.item_factors = item_factors[items]
        want = als.recalculate_user(np.arange(5), sp.csr_matrix(x.astype(np.float32)))
    np.testing.assert_allclose(folded.user_tower({"user": users}).numpy(), want, rtol=1e-4, atol=1e-5)


# --------------------------------------------------------------------------- iALS fine_tune


def test_ials_refit_is_one_als_sweep_over_the_new_data_and_keeps_other_rows(toy):
    import implicit
    from threadpoolctl import threadpool_limits

    prepared, train = toy
    cfg = ModelConfig(type="ials", factors=3, regularization=0.1, iterations=5, ials_alpha=2.0)
    old, new = train.iloc[:6], train.iloc[6:]  # new: u3's c, d and u4's a, d
    previous = factory.build(cfg, prepared, old)
    before_u = previous.user_tower.table.numpy().copy()
    before_i = previous.item_tower.table.numpy().copy()
    updated = factory.refit(cfg, prepared, new, previous)
    after_u, after_i = updated.user_tower.table.numpy(), updated.item_tower.table.numpy()
    (u1, u2, u3, u4), (a, b, c, d) = _index(prepared, ["u1", "u2", "u3", "u4"], ["a", "b", "c", "d"])
    np.testing.assert_array_equal(after_u[[u1, u2]], before_u[[u1, u2]])  # not in the new data
    np.testing.assert_array_equal(after_i[b], before_i[b])
    # The reference: implicit's own user step, then item step, on the new rows only.
    x = sp.csr_matrix(protocol_free_matrix(prepared, new))
    with threadpool_limits(1, "blas"):
        als = implicit.als.AlternatingLeastSquares(factors=3, regularization=0.1, alpha=2.0, use_gpu=False)
        als.item_factors = before_i.copy()
        users = np.array([u3, u4])
        want_u = before_u.copy()
        want_u[users] = als.recalculate_user(users, x[users])
        als.user_factors = want_u
        items = np.array([a, c, d])
        want_i = before_i.copy()
        want_i[items] = als.recalculate_item(items, x.T.tocsr()[items])
    np.testing.assert_allclose(after_u, want_u, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(after_i, want_i, rtol=1e-5, atol=1e-6)
    assert set(updated.item_vocab.ids) >= {"a", "c", "d"}


def protocol_free_matrix(prepared, frame):
    """The binary catalog-indexed user × item matrix of ``frame``, by hand."""
    x = np.zeros((len(prepared.catalog.users), len(prepared.catalog.items)), np.float32)
    x[prepared.catalog.users.lookup(frame["user_id"]), prepared.catalog.items.lookup(frame["item_id"])] = 1
    return x


def test_ials_runs_under_fine_tune_and_other_baselines_do_not(tmp_path):
    import tfrec_inc
    from tfrec_inc.results import read_metrics

    cfg = {
        "experiment": "ials_ft", "seeds": [0],
        "data": {"dataset": "synthetic",
                 "options": {"num_users": 150, "num_items": 90, "num_interactions": 2400, "num_periods": 3}},
        "windows": {"num_windows": 3},
        "models": [{"name": "ials", "type": "ials", "iterations": 3, "grid": {"factors": [4, 8]}},
                   {"name": "itemknn", "type": "itemknn"}],
        "strategies": ["full_retrain", "fine_tune"],
        "evaluation": {"ks": [20], "groups": ["all"]},
        "report": {"metrics": ["recall@20"]},
    }
    frame = read_metrics(tfrec_inc.run(cfg, output=tmp_path / "out", quiet=True))
    jobs = set(frame[frame["metric"] == "recall"][["model", "strategy"]].itertuples(index=False, name=None))
    assert jobs == {("ials", "full_retrain"), ("ials", "fine_tune"), ("itemknn", "full_retrain")}
    tuned = frame[(frame["strategy"] == "fine_tune") & (frame["metric"] == "param_factors")]
    assert tuned["window"].tolist() == [0]  # tuned once; the later windows keep its factors
    recall = frame[(frame["metric"] == "recall") & (frame["model"] == "ials")].pivot_table(
        index="window", columns="strategy", values="value")
    assert recall.loc[0, "fine_tune"] == recall.loc[0, "full_retrain"]  # the same window-0 fit
    assert (recall.loc[1:, "fine_tune"] != recall.loc[1:, "full_retrain"]).all()
