"""The transfer study on a target domain smaller than its score-scale sample.

`fusion_score` estimates each model's score spread on a sample of users and items; the
sample was ``np.arange(1, 200)`` users whatever the catalog, which indexes past the end of a
target catalog with fewer than 200 users (tf.gather fails on CPU). It is now clamped.
"""

import tfrec_inc
from tfrec_inc.results import read_metrics

SMALL = {"num_users": 120, "num_items": 80, "num_interactions": 2000, "num_periods": 3, "domains": 2}


def test_fusion_score_runs_on_a_target_with_fewer_than_200_users(tmp_path):
    cfg = {
        "experiment": "small_target",
        "seeds": [0],
        "data": {"dataset": "synthetic", "options": SMALL, "domain": "B"},
        "windows": {"mode": "count", "num_windows": 1},
        "transfer": {"source": {"dataset": "synthetic", "options": SMALL, "domain": "A"},
                     "fractions": [1.0], "modes": ["scratch", "zero_shot", "fusion_score"]},
        "models": [{"name": "ids", "type": "retrieval", "embedding_dim": 8, "epochs": 1, "batch_size": 256,
                    "user_features": False, "item_features": False, "item_text": False}],
        "evaluation": {"ks": [20]},
        "report": {"metrics": ["recall@20"]},
    }
    frame = read_metrics(tfrec_inc.run(cfg, output=tmp_path / "out", quiet=True))
    fused = frame[(frame["strategy"] == "fusion_score") & (frame["metric"] == "fusion_weight")]
    assert len(fused) == 1 and 0.0 <= fused["value"].iloc[0] <= 1.0
    assert not frame[(frame["strategy"] == "fusion_score") & (frame["metric"] == "recall")].empty
