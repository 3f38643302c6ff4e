"""The SASRec-style sequential user tower (`tfrec_inc.models.sequential`)."""

import dataclasses

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

import tfrec_inc
from tfrec_inc import config
from tfrec_inc.config import ModelConfig
from tfrec_inc.data.catalog import Catalog
from tfrec_inc.data.interactions import Interactions
from tfrec_inc.errors import ConfigError
from tfrec_inc.evaluation.protocol import rank_items
from tfrec_inc.models.factory import build
from tfrec_inc.models.persist import load_model, save_model
from tfrec_inc.models.sequential import SequentialHistory
from tfrec_inc.prepare import Prepared
from tfrec_inc.results import read_metrics

SEQUENTIAL = ModelConfig(user_id=False, user_features=False, item_features=False, item_text=True,
                         user_history="sequential", history_length=4, embedding_dim=8, combine="sum")


def _encoder(seed: int = 0, length: int = 4) -> SequentialHistory:
    tf.keras.utils.set_random_seed(seed)
    vectors = np.random.default_rng(seed).normal(size=(6, 5)).astype("float32")
    vectors[0] = 0
    return SequentialHistory(vectors, tf.keras.layers.Dense(8), length, blocks=2, heads=2)


def test_left_padding_and_length_do_not_change_the_state():
    long, short = _encoder(length=5), _encoder(length=3)
    short(tf.constant([[1, 2, 3]]))
    long(tf.constant([[0, 1, 2, 3, 4]]))
    # The same weights; the 3 positions nearest the end are the long encoder's last 3.
    short.set_weights([w.numpy()[-3:] if "positions" in w.name else w.numpy() for w in long.weights])
    a = long(tf.constant([[0, 0, 0, 1, 2], [0, 0, 3, 4, 5]])).numpy()
    b = short(tf.constant([[0, 1, 2], [3, 4, 5]])).numpy()
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_order_matters_and_an_empty_history_is_zero():
    encoder = _encoder()
    out = encoder(tf.constant([[0, 0, 1, 2], [0, 0, 2, 1], [0, 0, 0, 0]])).numpy()
    assert not np.allclose(out[0], out[1], atol=1e-4)  # mean pooling could not tell them apart
    np.testing.assert_array_equal(out[2], np.zeros(8))


def test_dropout_only_in_training():
    encoder = _encoder()
    history = tf.constant([[1, 2, 3, 4]])
    np.testing.assert_allclose(encoder(history).numpy(), encoder(history).numpy())
    assert not np.allclose(encoder(history, training=True).numpy(), encoder(history).numpy())


@pytest.fixture
def toy():
    inter = pd.DataFrame({"user_id": ["u1", "u1", "u2", "u2", "u3"], "item_id": ["a", "b", "a", "c", "d"],
                          "timestamp": [1, 2, 3, 4, 5]})
    items = pd.DataFrame({"item_id": list("abcdefgh"), "text": list("abcdefgh"), "genres": [""] * 8})
    data = Interactions.create("toy", inter, items)
    catalog = Catalog.from_interactions(data)
    vectors = np.random.default_rng(1).normal(size=(len(catalog.items), 6)).astype("float32")
    vectors[0] = 0
    return inter, catalog, Prepared.from_parts(data, (), text_vectors=vectors, catalog=catalog)


def test_a_new_interaction_changes_the_list_without_a_weight_update(toy):
    inter, catalog, prepared = toy
    tf.keras.utils.set_random_seed(0)
    model = build(SEQUENTIAL, prepared, inter)
    before_weights = [w.copy() for w in model.get_weights()]
    user = catalog.users.lookup(["u1"])
    history = np.zeros((1, 4), np.int64)
    history[0, -2:] = catalog.items.lookup(["a", "b"])
    candidates = np.arange(1, len(catalog.items))
    lists = []
    for step in range(2):
        if step:  # u1 consumes "e": the serving input changes, nothing else
            history = np.concatenate([history[:, 1:], catalog.items.lookup(["e"])[None]], axis=1)
        vector = model.user_tower({"user": user, "history": history}).numpy()
        lists.append(rank_items(model, user, candidates, None, 5, history=history, seed=0)[0])
        assert np.abs(vector).sum() > 0
    assert lists[0].tolist() != lists[1].tolist()
    for old, new in zip(before_weights, model.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)


def test_saved_and_reloaded_model_gives_the_same_user_vectors(toy, tmp_path):
    inter, catalog, prepared = toy
    tf.keras.utils.set_random_seed(0)
    model = build(SEQUENTIAL, prepared, inter)
    features = {"user": catalog.users.lookup(["u1", "u2"]), "history": np.array([[0, 0, 1, 2], [0, 3, 1, 4]])}
    want = model.user_tower(features).numpy()
    save_model(model, tmp_path)
    tf.keras.utils.set_random_seed(5)  # a different initialisation, then the saved weights
    again = load_model(tmp_path, lambda vocabs: build(SEQUENTIAL, prepared, inter, vocabs))
    np.testing.assert_allclose(again.user_tower(features).numpy(), want, atol=1e-6)


def test_config_accepts_sequential_and_checks_its_keys():
    assert dataclasses.replace(SEQUENTIAL).user_history == "sequential"
    SEQUENTIAL.check("models[0]")
    for key, value, message in [("sequence_heads", 0, "must be > 0"), ("sequence_blocks", 0, "must be > 0"),
                                ("sequence_dropout", 1.0, r"must be in \[0, 1\)")]:
        with pytest.raises(ConfigError, match=f"models\\[0\\].{key}: {message}"):
            dataclasses.replace(SEQUENTIAL, **{key: value}).check("models[0]")


def test_a_study_trains_and_scores_the_sequential_model(tmp_path):
    cfg = {
        "experiment": "sequential",
        "seeds": [0],
        "data": {"dataset": "synthetic",
                 "options": {"num_users": 150, "num_items": 90, "num_interactions": 2400, "num_periods": 2}},
        "windows": {"num_windows": 1},
        "models": [{"name": "seq", "type": "retrieval", "embedding_dim": 16, "epochs": 2, "batch_size": 256,
                    "user_id": False, "user_features": False, "item_features": False, "item_text": True,
                    "combine": "sum", "user_history": "sequential", "history_length": 5}],
        "strategies": ["full_retrain"],
        "evaluation": {"ks": [20], "groups": ["all"]},
        "report": {"metrics": ["recall@20"]},
    }
    config.from_dict(cfg)
    frame = read_metrics(tfrec_inc.run(cfg, output=tmp_path / "out", quiet=True))
    recall = frame[(frame["metric"] == "recall") & (frame["k"] == 20)]["value"]
    assert len(recall) == 1 and 0.0 <= recall.iloc[0] <= 1.0
    assert frame[frame["metric"] == "best_epoch"]["value"].between(1, 2).all()


def test_positions_read_the_item_towers_own_id_rows_and_untrained_ids_add_nothing(toy):
    inter, catalog, prepared = toy
    tf.keras.utils.set_random_seed(0)
    cfg = dataclasses.replace(SEQUENTIAL, item_id=True, sequence_dropout=0.0)
    model = build(cfg, prepared, inter)
    history_layer = model.user_tower.history
    assert history_layer.ids[1] is model.item_tower.embedding  # SASRec: one item embedding
    known, new = catalog.items.lookup(["a", "e"])  # "e" was never trained on: id row 0
    inputs = history_layer._inputs(tf.constant([[known, new]]), training=False).numpy()[0]
    projected = history_layer.projection(tf.gather(history_layer.item_vectors, [known, new])).numpy()
    row = model.item_tower.rows.numpy()[known]
    id_part = model.item_tower.embedding(tf.constant([row])).numpy()[0]
    np.testing.assert_allclose(inputs[0], projected[0] + id_part, atol=1e-6)
    np.testing.assert_allclose(inputs[1], projected[1], atol=1e-6)
    before = model.user_tower({"user": catalog.users.lookup(["u1"]), "history": np.array([[0, 0, 0, known]])})
    table = model.item_tower.embedding.embeddings  # a random move (layer norm ignores uniform shifts)
    table.assign_add(tf.random.normal(tf.shape(table), seed=1))
    after = model.user_tower({"user": catalog.users.lookup(["u1"]), "history": np.array([[0, 0, 0, known]])})
    assert not np.allclose(before.numpy(), after.numpy())  # the shared table moves the user state


def test_an_id_only_sequence_needs_no_text_and_a_sequence_needs_ids_or_text(toy):
    inter, catalog, prepared = toy
    cfg = dataclasses.replace(SEQUENTIAL, item_id=True, item_text=False)
    cfg.check("models[0]")
    no_text = Prepared.from_parts(prepared.data, (), catalog=catalog)
    model = build(cfg, no_text, inter)
    assert model.user_tower.history.projection is None
    state = model.user_tower({"user": catalog.users.lookup(["u1"]), "history": np.array([[0, 0, 1, 2]])})
    assert state.shape == (1, 8) and np.abs(state.numpy()).sum() > 0
    with pytest.raises(ConfigError, match="sequential reads the items' ids or text"):
        dataclasses.replace(SEQUENTIAL, item_id=False, item_text=False, item_features=True).check("models[0]")
