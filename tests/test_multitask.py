"""The multitask model: retrieval and rating prediction on shared towers (TFRS multitask tutorial)."""

import numpy as np
import pytest
import tensorflow as tf

import tfrec_inc
from tfrec_inc import config
from tfrec_inc.config import ModelConfig
from tfrec_inc.errors import ConfigError
from tfrec_inc.models.multitask import MultitaskModel
from tfrec_inc.models.retrieval import RetrievalModel
from tfrec_inc.models.towers import Tower
from tfrec_inc.prepare import load_domain
from tfrec_inc.results import read_metrics

BATCH = {"user": tf.constant([1, 2, 3]), "item": tf.constant([2, 1, 3]),
         "rating": tf.constant([5.0, 1.0, 3.0])}


def _model(retrieval_weight: float, rating_weight: float) -> MultitaskModel:
    tf.keras.utils.set_random_seed(0)
    model = MultitaskModel(Tower("user", 4, rows=np.arange(4), num_rows=4),
                           Tower("item", 4, rows=np.arange(4), num_rows=4),
                           retrieval_weight=retrieval_weight, rating_weight=rating_weight, hidden=(8,))
    model(BATCH)
    return model


def test_loss_is_the_weighted_sum_of_retrieval_and_rating_mse():
    model = _model(2.0, 3.0)
    retrieval = float(RetrievalModel._task(model, BATCH, False, False)[0])
    mse = float(np.mean((model(BATCH).numpy() - BATCH["rating"].numpy()) ** 2))
    assert float(model.task_loss(BATCH)) == pytest.approx(2.0 * retrieval + 3.0 * mse, rel=1e-5)
    only_retrieval = _model(1.0, 0.0)
    assert float(only_retrieval.task_loss(BATCH)) == pytest.approx(
        float(RetrievalModel._task(only_retrieval, BATCH, False, False)[0]), rel=1e-6)


def test_config_checks_the_weights_and_the_ratings(monkeypatch):
    with pytest.raises(ConfigError, match="both 0: nothing to learn"):
        ModelConfig(type="multitask", retrieval_weight=0.0, rating_weight=0.0).check("models[0]")
    with pytest.raises(ConfigError, match=r"models\[0\].rating_weight: must be >= 0"):
        ModelConfig(type="multitask", rating_weight=-1.0).check("models[0]")
    cfg = config.from_dict({"data": {"options": {"num_users": 60, "num_items": 40, "num_interactions": 600}},
                            "models": [{"name": "mt", "type": "multitask", "item_text": False}]})
    monkeypatch.setattr(type(load_domain(cfg)[0]), "has_ratings", property(lambda self: False))
    with pytest.raises(ConfigError, match="'mt' is a multitask model .* has no ratings"):
        load_domain(cfg)


def test_a_study_scores_ranking_and_rating_error(tmp_path):
    cfg = {
        "experiment": "multitask", "seeds": [0],
        "data": {"dataset": "synthetic",
                 "options": {"num_users": 150, "num_items": 90, "num_interactions": 2400, "num_periods": 2}},
        "windows": {"num_windows": 2},
        "models": [{"name": "mt", "type": "multitask", "embedding_dim": 8, "epochs": 2, "batch_size": 256,
                    "item_text": False, "optimizer": "adam", "learning_rate": 0.01}],
        "strategies": ["fine_tune"],
        "evaluation": {"ks": [20], "groups": ["all"]},
        "report": {"metrics": ["recall@20", "rmse"]},
    }
    frame = read_metrics(tfrec_inc.run(cfg, output=tmp_path / "out", quiet=True))
    for metric in ("recall", "rmse", "mae", "ratings"):
        assert len(frame[frame["metric"] == metric].groupby("window")) == 2, metric
    users = frame[(frame["metric"] == "users") & (frame["group"] == "all")]
    assert len(users) == 2  # one per window: the ranking part's counts are not duplicated
    assert (frame[frame["metric"] == "rmse"]["value"] < 4.0).all()
