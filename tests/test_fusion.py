import numpy as np
import pytest
import tensorflow as tf

from tfrec_inc import data as data_lib
from tfrec_inc.config import ModelConfig
from tfrec_inc.data.catalog import Catalog
from tfrec_inc.data.windows import make_dataset
from tfrec_inc.evaluation.protocol import rank_items
from tfrec_inc.models.factory import build
from tfrec_inc.models.fusion import ScoreEnsemble, average, score_scale
from tfrec_inc.models.weights import warm_start
from tfrec_inc.prepare import Prepared


@pytest.fixture(scope="module")
def trained():
    data = data_lib.load("synthetic", num_users=200, num_items=150, num_interactions=4000, num_periods=2)
    catalog = Catalog.from_interactions(data)
    prepared = Prepared.from_parts(data, (), catalog=catalog)
    inter = data.interactions
    cfg = ModelConfig(item_features=False, optimizer="adam", learning_rate=0.01)
    tf.keras.utils.set_random_seed(0)
    first = build(cfg, prepared, inter.iloc[:2000])
    first.fit(make_dataset(catalog.encode(inter.iloc[:2000]), 256, shuffle=True, seed=0), epochs=2, verbose=0)
    rest = inter.iloc[2000:]
    second = build(cfg, prepared, rest, vocabs=(first.user_vocab.extended(rest["user_id"]),
                                               first.item_vocab.extended(rest["item_id"])))
    warm_start(first, second)
    second.fit(make_dataset(catalog.encode(rest), 256, shuffle=True, seed=1), epochs=2, verbose=0)
    return cfg, prepared, first, second


def _rank(model, catalog):
    users = np.arange(1, 60)
    return rank_items(model, users, np.arange(1, len(catalog.items)), None, k=20)


def test_fusing_a_model_with_itself_gives_the_model(trained):
    cfg, prepared, first, second = trained
    catalog = prepared.catalog
    scale = score_scale(second, np.arange(1, 50), np.arange(1, 100))
    ensemble = ScoreEnsemble([second, second], [0.5, 0.5], [scale, scale])
    np.testing.assert_array_equal(_rank(ensemble, catalog), _rank(second, catalog))
    averaged = average(second, second, 0.5, lambda v: build(cfg, prepared, None, vocabs=v))
    for a, b in zip(averaged.weights, second.weights, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=0, atol=1e-7)
    np.testing.assert_array_equal(_rank(averaged, catalog), _rank(second, catalog))


def test_parameter_average_aligns_rows_by_id(trained):
    cfg, prepared, first, second = trained
    averaged = average(first, second, 0.25, lambda v: build(cfg, prepared, None, vocabs=v))
    old = first.item_tower.embedding.embeddings.numpy()
    new = second.item_tower.embedding.embeddings.numpy()
    out = averaged.item_tower.embedding.embeddings.numpy()
    n_old = old.shape[0]
    np.testing.assert_allclose(out[1:n_old], 0.25 * old[1:] + 0.75 * new[1:n_old], atol=1e-6)
    np.testing.assert_array_equal(out[n_old:], new[n_old:])  # ids only the new model knows


def test_score_ensemble_weight_one_is_that_model(trained):
    _, prepared, first, second = trained
    catalog = prepared.catalog
    ensemble = ScoreEnsemble([first, second], [1.0, 0.0])
    np.testing.assert_array_equal(_rank(ensemble, catalog), _rank(first, catalog))
