"""Serving: final models kept in results, SavedModel export with TFRS indexes, reload, refresh."""

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

import tfrec_inc
from tfrec_inc import cli
from tfrec_inc.config import ModelConfig
from tfrec_inc.evaluation.protocol import rank_items
from tfrec_inc.models.factory import build
from tfrec_inc.models.weights import warm_start
from tfrec_inc.prepare import Prepared, prepare
from tfrec_inc.serving.export import ExportError, export, load_trained
from tfrec_inc.serving.module import KnownInteractions, ServingModule, save_module
from tfrec_inc.serving.recommender import Recommender

ROOT = Path(__file__).resolve().parents[1]
K_MAX = 20
# The quickstart's ids two-tower on a small synthetic set: two windows, one seed, 2 epochs.
CONFIG = {
    "experiment": "serving",
    "seeds": [0],
    "data": {"dataset": "synthetic",
             "options": {"num_users": 250, "num_items": 160, "num_interactions": 5000, "num_periods": 3}},
    "windows": {"mode": "time", "num_windows": 2},
    "models": [{"name": "ids", "type": "retrieval", "embedding_dim": 16, "item_features": False,
                "logq_correction": True, "batch_size": 512, "epochs": 2}],
    "strategies": ["full_retrain"],
    "evaluation": {"ks": [10]},
    "report": {"metrics": ["recall@10"]},
}

# Runs in a fresh interpreter: nothing of the exporting process (Python objects, traced
# functions, custom classes) is available there, only the SavedModel on disk.
FRESH = textwrap.dedent("""
    import json, sys
    import tfrec_inc  # Keras 2 before TensorFlow
    import tensorflow as tf
    from tfrec_inc.serving.recommender import Recommender

    user, recent, exact, approx = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3], sys.argv[4]
    rec = Recommender.load(exact)
    out = {
        "short": rec.recommend(user, k=5),
        "long": rec.recommend(user, k=12),
        "recent": rec.recommend(user, recent_items=recent, k=12),
        "cold": rec.recommend(None, k=7),
        "scann": Recommender.load(approx).recommend(user, k=12),
    }
    # The raw TF Serving signature, with k as a tensor input.
    raw = tf.saved_model.load(exact).signatures["serving_default"]
    res = raw(user_id=tf.constant([user]), recent_items=tf.constant([[""]]), k=tf.constant(3))
    out["signature"] = [x.decode() for x in res["item_ids"].numpy()[0]]
    print(json.dumps(out))
""")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The experiment's results folder, its two exports, and the rebuilt model."""
    root = tmp_path_factory.mktemp("serving")
    results = tfrec_inc.run(CONFIG, output=root / "results", quiet=True)
    exact = export(results, root / "exact", index="brute_force", k_max=K_MAX)
    approx = root / "approx"
    assert cli.main(["export", str(results), "--out", str(approx), "--index", "scann",
                     "--k-max", str(K_MAX), "--model", "ids"]) == 0
    return results, exact, approx, load_trained(results)


def _config(results):
    from tfrec_inc import config as config_lib

    return config_lib.load(results / "config.yaml")


def _seen(trained, user):
    return set(trained.known.loc[trained.known["user_id"] == user, "item_id"])


def _exact_top(trained, user, k, extra_seen=()):
    """The in-process model's full-ranking top-k, seen items excluded (the evaluation protocol)."""
    catalog = trained.catalog
    u = catalog.users.lookup([user])
    items = catalog.items.lookup(sorted(_seen(trained, user) | set(extra_seen)))
    seen = pd.DataFrame({"user": np.repeat(u, len(items)), "item": items})
    ranked = rank_items(trained.model, u, trained.candidates, seen, k)[0]
    return [catalog.items.ids[i - 1] for i in ranked if i > 0]


def test_results_keep_each_jobs_final_model(run):
    results, _, _, _ = run
    assert not (results / "checkpoints").exists()
    assert sorted(p.name for p in (results / "models").iterdir()) == ["ids__full_retrain__seed0"]
    assert sorted(p.name for p in (results / "models" / "ids__full_retrain__seed0").iterdir()) == [
        "vocab.json", "weights.npz"]
    manifest = json.loads((run[1] / "manifest.json").read_text())
    assert manifest["model"] == "ids" and manifest["strategy"] == "full_retrain" and manifest["seed"] == 0
    assert manifest["index"] == "brute_force" and manifest["k_max"] == K_MAX
    assert manifest["num_items"] == len(run[3].candidates)
    assert manifest["source"] == str(results.resolve())


def test_export_reloads_in_a_fresh_process_and_matches_full_ranking(run):
    _, exact, approx, trained = run
    counts = trained.known["user_id"].value_counts()
    user = counts.index[0]  # the most active user: the most seen items to exclude
    seen = _seen(trained, user)
    assert len(seen) > 10
    expected = _exact_top(trained, user, 12)
    recent = expected[:2]
    proc = subprocess.run(
        [sys.executable, "-c", FRESH, json.dumps(user), json.dumps(recent), str(exact), str(approx)],
        capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])

    short, long = got["short"], got["long"]
    assert len(short) == 5 and len(long) == 12
    assert [i for i, _ in long[:5]] == [i for i, _ in short]
    for lst in (short, long, got["recent"], got["scann"]):
        scores = [s for _, s in lst]
        assert scores == sorted(scores, reverse=True)
        assert not seen & {i for i, _ in lst}
    # Same list as the evaluation protocol's full ranking of the in-process model.
    assert [i for i, _ in long] == expected
    user_vec = trained.model.user_tower({"user": trained.catalog.users.lookup([user])}).numpy()[0]
    item_vec = trained.model.item_tower(
        {"item": trained.catalog.items.lookup(expected)}).numpy()
    np.testing.assert_allclose([s for _, s in long], item_vec @ user_vec, rtol=1e-5, atol=1e-5)
    # Recent items are excluded too: the list moves up by two.
    assert [i for i, _ in got["recent"]] == _exact_top(trained, user, 12, extra_seen=recent)
    assert len(got["cold"]) == 7
    assert got["signature"] == [i for i, _ in long[:3]]
    # ScaNN is approximate (reordered): nearly the exact list.
    assert len(got["scann"]) == 12
    assert len({i for i, _ in got["scann"]} & set(expected)) >= 10


def test_k_outside_range_is_refused(run):
    rec = Recommender.load(run[1])
    with pytest.raises(ValueError, match="k must be in 1..20"):
        rec.recommend("u00001", k=K_MAX + 1)
    assert len(rec.recommend("u00001", k=K_MAX)) == K_MAX


def test_refreshed_index_serves_newly_arrived_items(run):
    _, exact, _, trained = run
    old, catalog = trained.model, trained.catalog
    # An item the model never trained on (it arrived in the last window's valid/test slice).
    arrived = [catalog.items.ids[i - 1] for i in trained.candidates
               if catalog.items.ids[i - 1] not in old.item_vocab]
    assert arrived
    new_item = arrived[0]
    before_items = [catalog.items.ids[i - 1] for i in trained.candidates
                    if catalog.items.ids[i - 1] != new_item]
    # The incremental update: the vocabulary grows by the new item, old rows are copied.
    cfg = _config(run[0])
    new = build(cfg.models[0], prepare(cfg), trained.known,
                vocabs=(old.user_vocab, old.item_vocab.extended([new_item])))
    warm_start(old, new)
    table = new.item_tower.embedding.embeddings
    row = len(new.item_vocab) - 1
    direction = np.random.default_rng(0).normal(size=table.shape[1]).astype("float32")
    table.assign(tf.tensor_scatter_nd_update(table, [[row]], [10.0 * direction]))
    query = new.item_tower({"item": catalog.items.lookup([new_item])}).numpy()

    rec = Recommender.from_model(old, catalog, before_items, k_max=K_MAX)
    assert new_item not in {i for i, _ in rec.search(query, k=K_MAX)[0]}
    seconds = rec.refresh_index(new, catalog, before_items + [new_item])
    assert rec.search(query, k=1)[0][0][0] == new_item
    assert 0 < seconds < 60
    print(f"\nindex refresh (in process, {len(before_items) + 1} items): {seconds:.3f} s")

    # The same on a loaded export: seen items carry over from the SavedModel's tables.
    loaded = Recommender.load(exact)
    seconds = loaded.refresh_index(new, catalog, before_items + [new_item])
    print(f"index refresh (loaded export): {seconds:.3f} s")
    assert loaded.search(query, k=1)[0][0][0] == new_item
    user = trained.known["user_id"].value_counts().index[0]
    assert not _seen(trained, user) & {i for i, _ in loaded.recommend(user, k=K_MAX)}
    # And the refreshed recommender can be written as a new export.
    again = Recommender.load(loaded.save(exact.parent / "refreshed"))
    assert again.search(query, k=1)[0][0][0] == new_item


def test_history_pooling_export_matches_full_ranking(tmp_path):
    from tfrec_inc import data as data_lib
    from tfrec_inc.data.catalog import Catalog
    from tfrec_inc.data.history import last_items
    from tfrec_inc.serving.realtime import recommend

    data = data_lib.load("synthetic", num_users=200, num_items=120, num_interactions=3000, num_periods=2)
    catalog = Catalog.from_interactions(data)
    inter = data.interactions
    vectors = np.random.default_rng(0).normal(size=(len(catalog.items), 12)).astype("float32")
    vectors[0] = 0
    cfg = ModelConfig(user_features=False, item_features=False, item_text=True, user_history="mean",
                      history_length=5, embedding_dim=8)
    tf.keras.utils.set_random_seed(0)
    model = build(cfg, Prepared.from_parts(data, (), text_vectors=vectors, catalog=catalog), inter)
    known = KnownInteractions.from_interactions(inter, model.history_length)
    module = ServingModule(model, catalog, catalog.items.ids, known, k_max=K_MAX)
    rec = Recommender.load(save_module(module, tmp_path / "export", {"model": "history"}))

    user = inter["user_id"].value_counts().index[0]
    recent = ["i00003", "i00100"]
    u = catalog.users.lookup([user])
    stored = last_items(catalog.users.lookup(inter["user_id"]), catalog.items.lookup(inter["item_id"]),
                        inter["timestamp"].to_numpy(), u, 5)[0]
    # The history the tower reads: the user's latest known items, then the recent ones.
    latest = np.concatenate([stored[stored > 0], catalog.items.lookup(recent)])[-5:]
    seen_items = np.unique(np.concatenate([catalog.items.lookup(inter.loc[inter["user_id"] == user,
                                                                          "item_id"]), latest]))
    seen = pd.DataFrame({"user": np.repeat(u, len(seen_items)), "item": seen_items})
    expected = rank_items(model, u, np.arange(1, len(catalog.items)), seen, 10, history=latest[None, :])[0]
    got = rec.recommend(user, recent_items=recent, k=10)
    assert [i for i, _ in got] == [catalog.items.ids[i - 1] for i in expected]
    # A cold user with only recent items: the real-time path's answer.
    cold = rec.recommend(None, recent_items=recent, k=10)
    assert [i for i, _ in cold] == recommend(model, catalog, "nobody", recent, k=10)


def test_export_of_a_folder_without_models_is_a_one_line_error(run, tmp_path, capsys):
    bare = tmp_path / "committed"
    bare.mkdir()
    shutil.copy(run[0] / "config.yaml", bare / "config.yaml")
    shutil.copy(run[0] / "metrics.csv", bare / "metrics.csv")
    with pytest.raises(ExportError, match="re-run the experiment"):
        export(bare, tmp_path / "out")
    assert cli.main(["export", str(bare), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "re-run the experiment" in err and "\n" not in err
    assert not (tmp_path / "out").exists()
    assert cli.main(["export", str(run[0]), "--out", str(tmp_path / "out"), "--strategy", "static"]) == 2
    assert "no saved model matches" in capsys.readouterr().err
