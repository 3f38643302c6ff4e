"""The retrieval softmax's negatives: in-batch (TFRS), mixed (in-batch + uniform), full catalog."""

import numpy as np
import pytest
import tensorflow as tf

import tfrec_inc
from tfrec_inc.config import ModelConfig
from tfrec_inc.errors import ConfigError
from tfrec_inc.models.retrieval import RetrievalModel
from tfrec_inc.models.towers import Tower
from tfrec_inc.results import read_metrics

N_USERS, N_ITEMS, DIM = 6, 9, 4


def _model(negatives: str, temperature: float = 1.0, probability=None, uniform: int = 0) -> RetrievalModel:
    tf.keras.utils.set_random_seed(0)
    model = RetrievalModel(Tower("user", DIM, rows=np.arange(N_USERS), num_rows=N_USERS),
                           Tower("item", DIM, rows=np.arange(N_ITEMS), num_rows=N_ITEMS),
                           temperature=temperature, item_probability=probability, negatives=negatives,
                           num_items=N_ITEMS, uniform_negatives=uniform)
    model.user_tower({"user": tf.constant([1])})
    model.item_tower({"item": tf.constant([1])})
    return model


BATCH = {"user": tf.constant([1, 2, 3, 4]), "item": tf.constant([2, 5, 5, 8])}


def test_full_softmax_is_the_cross_entropy_over_every_catalog_item():
    model = _model("full", temperature=0.5)
    users = model.user_tower(BATCH).numpy()
    items = model.item_tower({"item": tf.range(N_ITEMS)}).numpy()
    logits = users @ items[1:].T / 0.5  # items 1..8: index 0 (unknown) is never a candidate
    log_softmax = logits - np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1, keepdims=True)) \
        - logits.max(1, keepdims=True)
    want = -sum(log_softmax[r, i - 1] for r, i in enumerate(BATCH["item"].numpy()))
    assert float(model.task_loss(BATCH)) == pytest.approx(want, rel=1e-5)


def test_mixed_negatives_only_add_to_the_denominator():
    # Each extra negative adds exp(logit) > 0 to a softmax denominator (accidental hits are
    # removed), so the loss over the same batch and weights strictly grows.
    in_batch, mixed = _model("in_batch"), _model("mixed", uniform=64)
    assert float(mixed.task_loss(BATCH)) > float(in_batch.task_loss(BATCH))
    # With a single uniform sample that is always the positive, nothing is added.
    one_item = RetrievalModel(Tower("user", DIM, rows=np.arange(N_USERS), num_rows=N_USERS),
                              Tower("item", DIM, rows=np.arange(2), num_rows=2), negatives="mixed",
                              num_items=2, uniform_negatives=1)
    batch = {"user": tf.constant([1]), "item": tf.constant([1])}
    assert float(one_item.task_loss(batch)) == pytest.approx(0.0, abs=1e-6)


def test_mixed_logq_uses_the_mixture_probability(monkeypatch):
    probability = np.full(N_ITEMS, 0.1, np.float32)
    model = _model("mixed", probability=probability, uniform=8)
    seen = {}
    task = model.task

    def spy(users, candidates, candidate_sampling_probability=None, **kwargs):
        seen["p"] = candidate_sampling_probability.numpy()
        seen["n"] = int(candidates.shape[0])
        p = candidate_sampling_probability
        return task(users, candidates, candidate_sampling_probability=p, **kwargs)

    monkeypatch.setattr(model, "task", spy)
    model.task_loss(BATCH)
    assert seen["n"] == 4 + 8
    np.testing.assert_allclose(seen["p"], 0.1 + 8 / (4 * (N_ITEMS - 1)), rtol=1e-6)


def test_config_checks_negatives():
    ModelConfig(negatives="full").check("models[0]")
    with pytest.raises(ConfigError, match=r"models\[0\].negatives: unknown value 'all'"):
        ModelConfig(negatives="all").check("models[0]")
    with pytest.raises(ConfigError, match=r"models\[0\].uniform_negatives: must be > 0"):
        ModelConfig(negatives="mixed", uniform_negatives=0).check("models[0]")


@pytest.mark.parametrize("negatives", ["full", "mixed"])
def test_a_study_trains_with_each_kind_of_negatives(tmp_path, negatives):
    cfg = {
        "experiment": negatives, "seeds": [0],
        "data": {"dataset": "synthetic",
                 "options": {"num_users": 150, "num_items": 90, "num_interactions": 2400, "num_periods": 2}},
        "windows": {"num_windows": 1},
        "models": [{"name": "ids", "embedding_dim": 8, "epochs": 2, "batch_size": 256, "item_text": False,
                    "optimizer": "adam", "learning_rate": 0.01, "negatives": negatives,
                    "uniform_negatives": 64, "logq_correction": True}],
        "strategies": ["full_retrain"],
        "evaluation": {"ks": [20], "groups": ["all"]},
        "report": {"metrics": ["recall@20"]},
    }
    frame = read_metrics(tfrec_inc.run(cfg, output=tmp_path / "out", quiet=True))
    recall = frame[(frame["metric"] == "recall") & (frame["k"] == 20)]["value"]
    assert len(recall) == 1 and 0.0 < recall.iloc[0] <= 1.0
