"""Transfer `fusion_score`: its scratch model early-stops on validation half A and its
weight is tuned on half B, so the weight is never chosen on users the epoch was chosen on.

Before the fix the transfer study reused the `scratch` model (stopped on the whole
validation slice) and tuned the weight on that same slice.
"""

import tfrec_inc
from tfrec_inc.evaluation import protocol
from tfrec_inc.models import training
from tfrec_inc.results import read_metrics

SMALL = {"num_users": 120, "num_items": 80, "num_interactions": 2000, "num_periods": 3, "domains": 2}
CFG = {
    "experiment": "fusion_split",
    "seeds": [0],
    "data": {"dataset": "synthetic", "options": SMALL, "domain": "B"},
    "windows": {"mode": "count", "num_windows": 1},
    # No `scratch` mode: the only target model trained is fusion_score's own.
    "transfer": {"source": {"dataset": "synthetic", "options": SMALL, "domain": "A"},
                 "fractions": [1.0], "modes": ["zero_shot", "fusion_score"]},
    "models": [{"name": "ids", "type": "retrieval", "embedding_dim": 8, "epochs": 2, "batch_size": 256,
                "user_features": False, "item_features": False, "item_text": False}],
    "evaluation": {"ks": [20]},
    "report": {"metrics": ["recall@20"]},
}


def test_fusion_score_weight_is_tuned_on_users_its_model_never_stopped_on(tmp_path, monkeypatch):
    scored: dict[str, list[tuple[int, set]]] = {"fit": [], "tune": []}
    where, recall, fit = ["tune"], protocol.validation_recall, training.fit_frames

    def spy_recall(model, catalog, window, cfg, *args, **kwargs):
        scored[where[0]].append((id(catalog), set(window.valid["user_id"])))
        return recall(model, catalog, window, cfg, *args, **kwargs)

    def spy_fit(*args, **kwargs):
        where[0] = "fit"
        try:
            return fit(*args, **kwargs)
        finally:
            where[0] = "tune"

    monkeypatch.setattr(protocol, "validation_recall", spy_recall)
    monkeypatch.setattr(training, "fit_frames", spy_fit)
    frame = read_metrics(tfrec_inc.run(CFG, output=tmp_path / "out", quiet=True))
    assert scored["tune"], "the weight must be tuned on validation users"
    target = {c for c, _ in scored["tune"]}  # the source model's fit scores the source's users
    assert len(target) == 1
    stop_users = set().union(*(u for c, u in scored["fit"] if c in target))
    tune_users = set().union(*(u for _, u in scored["tune"]))
    assert stop_users and tune_users and not stop_users & tune_users
    weight = frame[(frame["strategy"] == "fusion_score") & (frame["metric"] == "fusion_weight")]["value"]
    assert len(weight) == 1 and 0.0 <= weight.iloc[0] <= 1.0
