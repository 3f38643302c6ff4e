"""Growing vocabularies, strategy data selection, penalties, and exact resume."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from tfrec_inc import data as data_lib
from tfrec_inc.config import IncrementalConfig, ModelConfig, WindowsConfig
from tfrec_inc.data.vocab import Vocabulary
from tfrec_inc.data.windows import make_dataset, split
from tfrec_inc.incremental import strategies
from tfrec_inc.models.factory import build
from tfrec_inc.models.weights import warm_start
from tfrec_inc.prepare import Prepared

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def small():
    data = data_lib.load("synthetic", num_users=300, num_items=200, num_interactions=6000,
                         num_periods=4)
    windows = split(data.interactions, WindowsConfig(mode="time", num_windows=4))
    return data, windows, Prepared.from_parts(data, windows)


def _train(model, catalog, frame, epochs=2):
    model.fit(make_dataset(catalog.encode(frame), 256, shuffle=True, seed=0), epochs=epochs, verbose=0)


def test_growing_vocabulary_keeps_old_rows_bit_identical(small):
    data, windows, prepared = small
    catalog = prepared.catalog
    cfg = ModelConfig(item_features=False)
    tf.keras.utils.set_random_seed(0)
    old = build(cfg, prepared, windows[0].train)
    _train(old, catalog, windows[0].train)
    nxt = strategies.new_data(windows, 1)
    new = build(cfg, prepared, nxt, vocabs=(old.user_vocab.extended(nxt["user_id"]),
                                            old.item_vocab.extended(nxt["item_id"])))
    warm_start(old, new)
    for tower in ("user_tower", "item_tower"):
        before = getattr(old, tower).embedding.embeddings.numpy()
        after = getattr(new, tower).embedding.embeddings.numpy()
        assert after.shape[0] > before.shape[0]  # new ids got rows
        np.testing.assert_array_equal(after[: before.shape[0]], before)
    # An item first seen in window 1 is scored by its own row after the update.
    fresh = [i for i in nxt["item_id"].unique() if i not in old.item_vocab]
    assert fresh
    index = catalog.items.lookup(fresh[:1])
    assert not np.any(old.item_tower({"item": index}).numpy())  # unknown before: zero vector
    assert np.any(new.item_tower({"item": index}).numpy())
    # Old ids keep their index in the grown vocabulary.
    assert new.item_vocab.ids[: len(old.item_vocab.ids)] == old.item_vocab.ids


def test_vocabulary_is_append_only():
    vocab = Vocabulary(["a", "b"])
    bigger = vocab.extended(["c", "a"])
    assert bigger.lookup(["a", "b", "c", "x"]).tolist() == [1, 2, 3, 0]
    assert len(vocab) == 3 and len(bigger) == 4


def test_strategies_train_on_the_right_data(small):
    _, windows, _ = small
    t = 2
    full = strategies.get("full_retrain").update(windows, t)
    fine = strategies.get("fine_tune").update(windows, t)
    slide = strategies.get("sliding_retrain", IncrementalConfig(sliding_windows=2)).update(windows, t)
    assert not full.warm_start and fine.warm_start
    # Nothing from a validation or test slice of window t; everything before valid is used.
    assert full.data["timestamp"].max() < windows[t].valid["timestamp"].min()
    assert len(full.data) == len(windows[t].history) - len(windows[t].valid)
    # Fine-tuning sees only what arrived since the last update (incl. last window's test).
    assert fine.data.index.min() == windows[t - 1].valid.index.min()
    assert fine.data.index.max() == windows[t].train.index.max()
    assert slide.data.index.min() == windows[t - 1].train.index.min()
    assert strategies.get("static").update(windows, t) is None
    replay = strategies.get("replay", IncrementalConfig(replay_size=500), seed=3).update(windows, t)
    past = replay.data[replay.data.index < fine.data.index.min()]
    assert len(past) == 500 and len(replay.data) == 500 + len(fine.data)
    again = strategies.get("replay", IncrementalConfig(replay_size=500), seed=3).update(windows, t)
    assert replay.data.index.equals(again.data.index)
    other = strategies.get("replay", IncrementalConfig(replay_size=500), seed=4).update(windows, t)
    assert not replay.data.index.equals(other.data.index)


def _drift(cfg_name, small, **kw):
    """How far the item embeddings move when fine-tuning under a strategy's penalty."""
    data, windows, prepared = small
    catalog = prepared.catalog
    cfg = ModelConfig(item_features=False, user_features=False, optimizer="adam", learning_rate=0.05)
    tf.keras.utils.set_random_seed(0)
    old = build(cfg, prepared, windows[0].train)
    strategy = strategies.get(cfg_name, IncrementalConfig(**kw))
    _train(old, catalog, windows[0].train)
    strategy.after_fit(old, make_dataset(catalog.encode(windows[0].train), 256))
    nxt = strategies.new_data(windows, 1)
    new = build(cfg, prepared, nxt, vocabs=(old.user_vocab.extended(nxt["user_id"]),
                                            old.item_vocab.extended(nxt["item_id"])))
    warm_start(old, new)
    penalty = strategy.penalty(old, new)
    if penalty is not None:
        new.penalties.append(penalty)
    _train(new, catalog, nxt, epochs=3)
    before = old.item_tower.embedding.embeddings.numpy()
    return float(np.abs(new.item_tower.embedding.embeddings.numpy()[: len(before)] - before).mean())


def test_ewc_and_distillation_hold_the_model_closer_to_the_previous_one(small):
    free = _drift("fine_tune", small)
    anchored = _drift("ewc", small, ewc_weight=1e4, ewc_mode="l2")
    distilled = _drift("distill", small, distill_weight=50.0)
    assert anchored < 0.5 * free
    assert distilled < free


SMALL_RUN = [
    "--set", "seeds=[0]",
    "--set", "data.options={num_users: 250, num_items: 160, num_interactions: 5000, num_periods: 4}",
    "--set", "windows={mode: time, num_windows: 4}",
    "--set", "strategies=[full_retrain, fine_tune, ewc]",
    "--set", "models.0.epochs=2",
    "--set", "models.1.epochs=2",
    "--set", "models.2.epochs=2",
    "--quiet",
]


def _run(out, *extra):
    return subprocess.Popen(
        [sys.executable, "-m", "tfrec_inc.cli", "run", str(ROOT / "experiments/quickstart.yaml"),
         "--output", str(out), *SMALL_RUN, *extra],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )


def _comparable(path):
    frame = pd.read_csv(path)
    # Wall-clock time differs between any two runs; every other number must match.
    timed = frame["metric"] == "train_seconds"
    return frame[~timed].reset_index(drop=True), frame[timed][["model", "strategy", "seed", "window"]]


def test_killed_run_resumes_to_identical_metrics(tmp_path):
    reference = _run(tmp_path / "ref")
    interrupted = _run(tmp_path / "cut")
    checkpoints = tmp_path / "cut.partial" / "checkpoints"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and interrupted.poll() is None:
        if len(list(checkpoints.glob("*/w*/DONE"))) >= 12:
            break
        time.sleep(0.2)  # polling the child, not waiting on timing
    assert interrupted.poll() is None, "the run finished before it could be interrupted"
    interrupted.send_signal(signal.SIGKILL)
    interrupted.wait()
    done_before = len(list(checkpoints.glob("*/w*/DONE")))
    assert done_before >= 12 and not (tmp_path / "cut").exists()

    resumed = _run(tmp_path / "cut", "--resume")
    _, err = resumed.communicate(timeout=900)
    assert resumed.returncode == 0, err
    _, err = reference.communicate(timeout=900)
    assert reference.returncode == 0, err

    ref, ref_timed = _comparable(tmp_path / "ref" / "metrics.csv")
    got, got_timed = _comparable(tmp_path / "cut" / "metrics.csv")
    pd.testing.assert_frame_equal(got, ref)
    pd.testing.assert_frame_equal(got_timed.reset_index(drop=True), ref_timed.reset_index(drop=True))
    assert not (tmp_path / "cut.partial").exists()


def test_content_init_puts_new_item_rows_at_their_projected_text(small):
    from tfrec_inc.models.weights import content_rows

    data, windows, prepared = small
    catalog = prepared.catalog
    vectors = np.random.default_rng(0).normal(size=(len(catalog.items), 12)).astype("float32")
    vectors[0] = 0
    prepared = Prepared.from_parts(data, windows, text_vectors=vectors, catalog=catalog)
    cfg = ModelConfig(item_text=True, item_features=False)
    old = build(cfg, prepared, windows[0].train)
    nxt = strategies.new_data(windows, 1)
    new = build(cfg, prepared, nxt,
                vocabs=(old.user_vocab.extended(nxt["user_id"]), old.item_vocab.extended(nxt["item_id"])))
    warm_start(old, new, content_rows(old, new, catalog, vectors))
    n_old = len(old.item_vocab)
    rows = new.item_tower.embedding.embeddings.numpy()
    added = new.item_vocab.ids[n_old - 1:]
    projected = old.item_tower.dense_projections["text"](vectors[catalog.items.lookup(added)]).numpy()
    np.testing.assert_allclose(rows[n_old:], projected, rtol=1e-6)
    np.testing.assert_array_equal(rows[:n_old], old.item_tower.embedding.embeddings.numpy())
