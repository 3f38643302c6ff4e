"""The time-aware score term: leak-free counts at the scoring moment, wired into training and the protocol."""

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from tfrec_inc import config
from tfrec_inc.errors import ConfigError
from tfrec_inc.evaluation import protocol
from tfrec_inc.models import factory
from tfrec_inc.models.recency import DAY, RecencyScore
from tfrec_inc.models.training import fit_frames
from tfrec_inc.prepare import prepare

# (user, item, day + seconds): item 1 on days 0, 3, 9 (twice), item 2 on day 9 at noon.
LOG = pd.DataFrame({"user": [1, 2, 1, 3, 2], "item": [1, 1, 1, 1, 2],
                    "time": [0, 3 * DAY, 9 * DAY, 9 * DAY + 10, 9 * DAY + DAY // 2]})


def _layer(log=LOG):
    return RecencyScore(log["user"].to_numpy(), log["item"].to_numpy(), log["time"].to_numpy(), 4, [1.0, 7.0])


def test_item_and_user_features_count_only_strictly_earlier_days_by_hand():
    layer = _layer()
    at = tf.constant([9 * DAY, 10 * DAY], tf.int64)
    f = layer.item_features(tf.constant([1, 2, 3], tf.int64), at).numpy()  # [2 days, 3 items, 5]
    log1p = np.log1p
    # τ = day 9: item 1 has day 3 within 7 days, day 0 before; nothing in the last day.
    np.testing.assert_allclose(f[0, 0], [0.0, log1p(1), log1p(2), log1p(9), 1.0], rtol=1e-6)
    # Item 2's first event is on day 9 itself: not before τ = day 9.
    np.testing.assert_allclose(f[0, 1], [0, 0, 0, 0, 0])
    # τ = day 10: day 9's three events count in every horizon.
    np.testing.assert_allclose(f[1, 0], [log1p(2), log1p(3), log1p(4), log1p(10), 1.0], rtol=1e-6)
    np.testing.assert_allclose(f[1, 1], [log1p(1), log1p(1), log1p(1), log1p(0.5), 1.0], rtol=1e-6)
    np.testing.assert_allclose(f[:, 2], 0.0)  # never interacted
    # User 2: last event on day 3 before τ = day 9 (six days); user 3 had none before day 9.
    u = layer.user_features(tf.constant([2, 3, 4], tf.int64), tf.constant([9 * DAY] * 3, tf.int64)).numpy()
    np.testing.assert_allclose(u, [[log1p(6), 1.0], [0.0, 0.0], [0.0, 0.0]], rtol=1e-6)


def test_the_score_term_ignores_every_event_from_the_scoring_day_on():
    """The same weights on the log cut at τ and on the whole log: identical terms at τ (no leak)."""
    whole, cut = _layer(), _layer(LOG[LOG["time"] < 9 * DAY])
    users, items = tf.constant([1, 2, 3], tf.int64), tf.constant([1, 2, 3], tf.int64)
    at = tf.constant([9 * DAY + 500, 9 * DAY + 7, 9 * DAY], tf.int64)  # all on day 9
    whole(users, items, at)
    cut(users, items, at)
    for w, c in zip(whole.weights, cut.weights, strict=True):
        c.assign(w + tf.random.normal(w.shape))
        w.assign(c)
    np.testing.assert_allclose(whole(users, items, at).numpy(), cut(users, items, at).numpy(), rtol=1e-6)
    later = tf.constant([10 * DAY] * 3, tf.int64)
    assert not np.allclose(whole(users, items, later).numpy(), cut(users, items, later).numpy())


def _cfg(**model):
    return config.from_dict({
        "data": {"options": {"num_users": 120, "num_items": 80, "num_interactions": 2400, "num_periods": 3}},
        "windows": {"num_windows": 3, "mode": "time"}, "seeds": [0],
        "models": [{"type": "retrieval", "negatives": "full", "recency_days": [1.0, 7.0], "epochs": 2,
                    "batch_size": 256, "learning_rate": 0.05, **model}]})


def test_a_time_aware_model_trains_and_the_protocol_scores_it_at_the_slice_start():
    cfg = _cfg()
    prepared = prepare(cfg, quiet=True)
    window = prepared.windows[1]
    model = factory.build(cfg.models[0], prepared, window.train)
    assert model.reads_time and any("recency" in w.name for w in model.trainable_weights)
    before = [w.numpy().copy() for w in model.recency.trainable_weights]
    fit_frames(model, prepared.catalog, window.train, None, None, cfg.models[0], seed=0, progress=False)
    assert any(not np.array_equal(b, w.numpy()) for b, w in zip(before, model.recency.trainable_weights,
                                                                 strict=True))
    rows = protocol.evaluate_retrieval(model, prepared.catalog, window, cfg.evaluation, groups=("all",))
    assert next(r["value"] for r in rows if r["metric"] == "recall" and r["k"] == 20) > 0
    # The ranking depends on the moment: scored a period later, the lists change.
    users = prepared.catalog.users.lookup(window.test["user_id"].unique()[:20])
    items = protocol.candidate_items(prepared.catalog, window)
    at = protocol.scoring_time(window)
    now = protocol.rank_items(model, users, items, None, 10, time=at)
    assert not np.array_equal(now, protocol.rank_items(model, users, items, None, 10, time=at + 30 * DAY))
    with pytest.raises(ValueError, match="pass time"):
        protocol.rank_items(model, users, items, None, 10)


def test_recency_needs_a_full_softmax_retrieval_model_outside_transfer_compression_and_score_fusion():
    with pytest.raises(ConfigError, match=r"models\[0\].recency_days: needs type: retrieval with negatives"):
        _cfg(negatives="in_batch")
    with pytest.raises(ConfigError, match=r"recency_days\[1\]"):
        _cfg(recency_days=[1.0, 0.0])
    raw = _cfg().to_dict()
    with pytest.raises(ConfigError, match="fusion_score"):
        config.from_dict({**raw, "strategies": ["full_retrain", "fusion_score"]})
