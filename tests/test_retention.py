"""Retention: no update trains on a measured test slice; backward transfer of a frozen model is 0."""

from pathlib import Path

import pandas as pd
import pytest

from tfrec_inc.cli import main
from tfrec_inc.config import WindowsConfig
from tfrec_inc.data import load
from tfrec_inc.data.windows import before_valid, split
from tfrec_inc.evaluation.retention import held_out

ROOT = Path(__file__).resolve().parents[1]
# Test slices with more than 200 users: the old design held out only a 200-user sample of
# each, and later updates trained on the other users of the measured period.
OPTIONS = "{num_users: 3000, num_items: 120, num_interactions: 12000, num_periods: 3}"


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("retention") / "run"
    args = ["run", str(ROOT / "experiments/quickstart.yaml"), "--output", str(out), "--quiet",
            "--set", "seeds=[0]", "--set", f"data.options={OPTIONS}",
            "--set", "windows={mode: time, num_windows: 3}",
            "--set", "strategies=[static, full_retrain, fine_tune]",
            "--set", "models=[{name: ids, type: retrieval, user_features: false, item_features: false, "
            "epochs: 1, patience: 0, batch_size: 512}, {name: pop_all, type: popularity, popularity: all}]"]
    assert main(args) == 0
    return pd.read_csv(out / "metrics.csv")


def _windows():
    data = load("synthetic", num_users=3000, num_items=120, num_interactions=12000, num_periods=3)
    return split(data.interactions, WindowsConfig(mode="time", num_windows=3))


def test_earlier_test_slices_are_never_trained_on(study):
    windows = _windows()
    assert windows[0].test["user_id"].nunique() > 200  # the case the old sample missed
    examples = study[study["metric"] == "train_examples"].set_index(["strategy", "window"])["value"]
    for t in (1, 2):
        measured = sum(len(w.test) for w in windows[:t])
        assert examples[("full_retrain", t)] == len(before_valid(windows[t])) - measured
    # fine_tune at window 1: what arrived since window 0's update (its validation slice and
    # window 1's training slice), but not window 0's test slice.
    assert examples[("fine_tune", 1)] == len(windows[0].valid) + len(windows[1].train)


def test_held_out_is_every_test_slice_but_the_last():
    windows = _windows()
    rows = held_out(windows)
    assert set(rows) == set(windows[0].test.index) | set(windows[1].test.index)
    assert not set(rows) & set(windows[2].test.index)


def _metric(frame, strategy, model, metric, k=20):
    sel = frame[(frame["strategy"] == strategy) & (frame["model"] == model) & (frame["metric"] == metric)
                & (frame["k"] == k) & (frame["group"] == "all")]
    return sel.set_index("window")["value"]


def test_static_model_has_zero_backward_transfer_and_retention_is_its_old_recall(study):
    recall = _metric(study, "static", "ids", "recall")
    retention = _metric(study, "static", "ids", "retention")
    bwt = _metric(study, "static", "ids", "bwt")
    assert list(bwt.index) == [1, 2]
    assert (bwt == 0.0).all()  # same model, same slices, same tie order
    assert retention[1] == pytest.approx(recall[0])
    assert retention[2] == pytest.approx((recall[0] + recall[1]) / 2)


def test_bwt_is_retention_minus_own_recall(study):
    recall = _metric(study, "full_retrain", "ids", "recall")
    retention = _metric(study, "full_retrain", "ids", "retention")
    bwt = _metric(study, "full_retrain", "ids", "bwt")
    assert bwt[2] == pytest.approx(retention[2] - (recall[0] + recall[1]) / 2)
