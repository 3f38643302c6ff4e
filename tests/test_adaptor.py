"""UniSRec's MoE adaptor: a gated mixture of whitened projections, shared like the linear one."""

import numpy as np
import tensorflow as tf

from tfrec_inc import config
from tfrec_inc.models import factory
from tfrec_inc.models.adaptor import MoEAdaptor
from tfrec_inc.prepare import prepare


def test_moe_is_the_gate_weighted_sum_of_whitened_maps_by_hand():
    adaptor = MoEAdaptor(3, experts=2, dropout=0.5)
    x = np.random.default_rng(0).normal(size=(4, 5)).astype("float32")
    adaptor(x)
    rng = np.random.default_rng(1)
    for w in adaptor.weights:
        w.assign(rng.normal(size=w.shape).astype("float32"))
    b, k, g = (w.numpy() for w in (adaptor.centers, adaptor.kernels, adaptor.gate))
    gate = np.exp(x @ g) / np.exp(x @ g).sum(axis=1, keepdims=True)
    expected = sum(gate[:, [e]] * ((x - b[e]) @ k[e]) for e in range(2))
    np.testing.assert_allclose(adaptor(x).numpy(), expected, rtol=1e-4, atol=1e-5)  # no dropout at inference
    assert not np.allclose(adaptor(x, training=True).numpy(), expected)


def test_text_adaptor_moe_is_the_one_projection_of_item_text_and_the_sequential_history():
    cfg = config.from_dict({
        "data": {"options": {"num_users": 60, "num_items": 40, "num_interactions": 600}},
        "windows": {"num_windows": 2},
        "models": [{"item_text": True, "user_history": "sequential", "history_length": 5, "embedding_dim": 8,
                    "text_adaptor": "moe", "adaptor_experts": 3, "combine": "sum"}]})
    prepared = prepare(cfg)
    model = factory.build(cfg.models[0], prepared, prepared.windows[0].train)
    adaptors = {id(layer) for layer in model._flatten_layers() if isinstance(layer, MoEAdaptor)}
    assert len(adaptors) == 1
    assert model.item_tower.dense_projections["text"] is model.user_tower.history.projection
    assert tf.reduce_all(tf.math.is_finite(model.item_tower({"item": np.arange(5)})))
