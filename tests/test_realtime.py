import numpy as np
import tensorflow as tf

from tfrec_inc import data as data_lib
from tfrec_inc.config import ModelConfig
from tfrec_inc.data.catalog import Catalog
from tfrec_inc.data.history import previous_items
from tfrec_inc.data.windows import make_dataset
from tfrec_inc.models.factory import build
from tfrec_inc.prepare import Prepared
from tfrec_inc.serving.realtime import recommend


def test_a_new_interaction_changes_a_cold_users_recommendations_without_retraining():
    data = data_lib.load("synthetic", num_users=300, num_items=200, num_interactions=6000, num_periods=3)
    catalog = Catalog.from_interactions(data)
    inter = data.interactions
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(len(catalog.items), 16)).astype("float32")
    vectors[0] = 0
    history = previous_items(catalog.users.lookup(inter["user_id"]), catalog.items.lookup(inter["item_id"]),
                             inter["timestamp"].to_numpy(), 10)
    cfg = ModelConfig(user_id=False, user_features=False, user_history="mean", history_length=10,
                      item_text=True, item_features=False, optimizer="adam", learning_rate=0.01)
    train = inter.iloc[:5000]
    tf.keras.utils.set_random_seed(0)
    prepared = Prepared.from_parts(data, (), text_vectors=vectors, row_history=history, catalog=catalog)
    model = build(cfg, prepared, train)
    model.fit(make_dataset(catalog.encode(train, history, 10), 256, shuffle=True, seed=0),
              epochs=2, verbose=0)
    weights = [w.numpy().copy() for w in model.weights]

    newcomer = "someone-never-seen"
    empty = recommend(model, catalog, newcomer, [], k=10)
    first = recommend(model, catalog, newcomer, ["i00003"], k=10)
    second = recommend(model, catalog, newcomer, ["i00003", "i00150"], k=10)
    assert len(empty) == len(first) == len(second) == 10
    assert first != empty and second != first
    assert "i00003" not in first and "i00150" not in second
    # Same input, same list; and nothing was trained in between.
    assert recommend(model, catalog, newcomer, ["i00003"], k=10) == first
    for before, w in zip(weights, model.weights, strict=True):
        np.testing.assert_array_equal(before, w.numpy())
