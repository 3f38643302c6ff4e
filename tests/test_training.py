"""Early stopping: on the whole validation slice's Recall@K, best epoch restored, and
fusion_score's weight tuned on validation users the epoch was not chosen on."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

import tfrec_inc
from tfrec_inc import config
from tfrec_inc import data as data_lib
from tfrec_inc.config import EvaluationConfig, ModelConfig, WindowsConfig
from tfrec_inc.data.windows import make_dataset, split
from tfrec_inc.evaluation import protocol
from tfrec_inc.models import fusion, training
from tfrec_inc.models.factory import build
from tfrec_inc.prepare import Prepared, load_domain

TINY = {
    "experiment": "early_stopping",
    "seeds": [0],
    "data": {"dataset": "synthetic",
             "options": {"num_users": 150, "num_items": 90, "num_interactions": 2400, "num_periods": 3}},
    "windows": {"num_windows": 2},
    "models": [{"name": "ids", "type": "retrieval", "embedding_dim": 8, "epochs": 3, "patience": 1,
                "batch_size": 256, "item_text": False}],
    "evaluation": {"ks": [5, 20]},
    "report": {"metrics": ["recall@20"]},
}


@pytest.fixture(scope="module")
def small():
    data = data_lib.load("synthetic", num_users=150, num_items=90, num_interactions=2400, num_periods=2)
    windows = split(data.interactions, WindowsConfig(num_windows=1, valid_fraction=0.2))
    prepared = Prepared.from_parts(data, windows)
    cfg = ModelConfig(item_features=False, user_features=False, embedding_dim=8, batch_size=256,
                      epochs=6, patience=2)
    return prepared, windows[0], cfg


def _model(prepared, window, cfg):
    tf.keras.utils.set_random_seed(0)
    return build(cfg, prepared, window.train)


def _train_ds(prepared, window, cfg):
    return make_dataset(prepared.catalog.encode(window.train), cfg.batch_size, shuffle=True, seed=0)


def test_best_monitored_epoch_is_restored_and_patience_stops(small):
    prepared, window, cfg = small
    model = _model(prepared, window, cfg)
    scores = iter([0.1, 0.3, 0.2, 0.25, 0.9, 0.9])  # best at epoch 2; epochs 3, 4 don't improve
    seen = []

    def monitor(m):
        seen.append(m.get_weights())
        return next(scores)

    fitted = training.fit(model, _train_ds(prepared, window, cfg), monitor, cfg, len(window.train),
                          progress=False)
    assert (fitted.epochs, fitted.best_epoch) == (4, 2)  # patience 2: stops after epoch 4
    assert len(seen) == 4 and fitted.monitor_seconds > 0
    for got, want in zip(model.get_weights(), seen[1], strict=True):
        np.testing.assert_array_equal(got, want)  # epoch 2's weights, not epoch 4's


def test_best_epoch_is_restored_even_when_epochs_run_out(small):
    prepared, window, cfg = small
    model = _model(prepared, window, cfg)
    scores = iter([0.1, 0.5, 0.4, 0.6, 0.5, 0.55])
    seen = []

    def monitor(m):
        seen.append(m.get_weights())
        return next(scores)

    fitted = training.fit(model, _train_ds(prepared, window, cfg), monitor, cfg, len(window.train),
                          progress=False)
    assert (fitted.epochs, fitted.best_epoch) == (6, 4)
    for got, want in zip(model.get_weights(), seen[3], strict=True):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("monitor, patience", [(None, 2), (lambda m: 0.0, 0)])
def test_no_monitor_or_no_patience_trains_every_epoch(small, monitor, patience):
    prepared, window, cfg = small
    cfg = ModelConfig(**{**cfg.__dict__, "patience": patience, "epochs": 3})
    fitted = training.fit(_model(prepared, window, cfg), _train_ds(prepared, window, cfg), monitor, cfg,
                          len(window.train), progress=False)
    assert (fitted.epochs, fitted.best_epoch) == (3, 3)


def test_a_validation_dataset_is_refused_as_a_monitor(small):
    prepared, window, cfg = small
    valid_ds = make_dataset(prepared.catalog.encode(window.valid), cfg.batch_size)
    with pytest.raises(TypeError, match="monitor"):
        training.fit(_model(prepared, window, cfg), _train_ds(prepared, window, cfg), valid_ds, cfg,
                     len(window.train), progress=False)


def test_monitor_ignores_penalties_and_the_last_batch(small):
    """The old ``val_loss`` was the last (partial) batch's loss, penalties included."""
    prepared, window, cfg = small
    catalog, ev = prepared.catalog, EvaluationConfig(ks=[5, 20])
    model = _model(prepared, window, cfg)
    model.fit(_train_ds(prepared, window, cfg), epochs=1, verbose=0)
    enc = catalog.encode(window.valid)
    batch = len(window.valid) - 3  # the last validation batch holds 3 rows
    last = {k: v[batch:] for k, v in enc.items()}
    keras_loss = model.evaluate(make_dataset(enc, batch), return_dict=True, verbose=0)["loss"]
    np.testing.assert_allclose(keras_loss, float(model.compute_loss(last)), rtol=1e-5)  # the flaw
    monitor = protocol.validation_monitor("retrieval", catalog, window, ev)
    clean = monitor(model)
    assert clean == protocol.validation_recall(model, catalog, window, ev)
    model.penalties.append(lambda features, outputs: tf.constant(1e6))
    assert monitor(model) == clean
    model.test_function = None  # retrace: the loss's penalty loop is read at trace time
    penalised = model.evaluate(make_dataset(enc, batch), return_dict=True, verbose=0)["loss"]
    assert penalised > keras_loss + 1e5  # what Keras's early stopping used to watch
    model.penalties.clear()


def test_fusion_grid_has_both_ends():
    assert 0.0 in fusion.WEIGHT_GRID and 1.0 in fusion.WEIGHT_GRID
    assert list(fusion.WEIGHT_GRID) == sorted(fusion.WEIGHT_GRID)


def _spied_run(tmp_path: Path, monkeypatch, strategy: str) -> tuple[list, list, pd.DataFrame]:
    """Runs TINY with one strategy; returns validation users scored inside / outside ``fit``."""
    inside, outside, in_fit = [], [], [False]
    recall, fit = protocol.validation_recall, training.fit

    def spy_recall(model, catalog, window, cfg, *args, **kwargs):
        (inside if in_fit[0] else outside).append((window.index, set(window.valid["user_id"])))
        return recall(model, catalog, window, cfg, *args, **kwargs)

    def spy_fit(*args, **kwargs):
        in_fit[0] = True
        try:
            return fit(*args, **kwargs)
        finally:
            in_fit[0] = False

    monkeypatch.setattr(protocol, "validation_recall", spy_recall)
    monkeypatch.setattr(training, "fit", spy_fit)
    out = tfrec_inc.run({**TINY, "strategies": [strategy]}, output=tmp_path / strategy, quiet=True)
    return inside, outside, pd.read_csv(out / "metrics.csv")


def test_fusion_score_tunes_on_users_early_stopping_never_saw(tmp_path, monkeypatch):
    inside, outside, frame = _spied_run(tmp_path, monkeypatch, "fusion_score")
    stop_users = {t: set().union(*(u for i, u in inside if i == t)) for t, _ in inside}
    tune_users = {t: set().union(*(u for i, u in outside if i == t)) for t, _ in outside}
    assert 1 in stop_users and 1 in tune_users, "window 1 must early-stop and tune on validation"
    assert stop_users[1] and tune_users[1]
    assert not stop_users[1] & tune_users[1]
    assert 0 in stop_users and 0 not in tune_users  # nothing to fuse at the base window
    assert frame[frame["metric"] == "fusion_weight"]["value"].between(0, 1).all()


def test_other_strategies_early_stop_on_the_whole_validation_slice(tmp_path, monkeypatch):
    inside, outside, frame = _spied_run(tmp_path, monkeypatch, "fine_tune")
    assert not outside
    _, windows, _ = load_domain(config.from_dict({**TINY, "strategies": ["fine_tune"]}))
    for w in windows:
        scored = [u for i, u in inside if i == w.index]
        assert scored and all(u == set(w.valid["user_id"]) for u in scored)
    epochs = frame[frame["metric"] == "epochs"]["value"].to_numpy()
    best = frame[frame["metric"] == "best_epoch"]["value"].to_numpy()
    assert len(best) == len(epochs) and (best <= epochs).all() and (best >= 1).all()


def test_tensorboard_logs_one_run_per_fit_with_the_monitor(tmp_path):
    logged = {**TINY, "strategies": ["fine_tune"], "runtime": {"tensorboard": str(tmp_path / "tb")}}
    out = tfrec_inc.run(logged, output=tmp_path / "run", quiet=True)
    runs = sorted(p.name for p in (tmp_path / "tb").iterdir())
    assert runs == ["0000_ids_fine_tune_seed_0_window_0", "0001_ids_fine_tune_seed_0_window_1"]
    tags = set()
    for event_file in (tmp_path / "tb" / runs[1]).rglob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(event_file)):
            tags |= {(event_file.parent.name, v.tag) for v in event.summary.value}
    # Keras writes ``val_*`` logs to the run's validation/ folder without the prefix.
    assert {("train", "epoch_loss"), ("validation", "epoch_monitor")} <= tags
    assert not (out / "tb").exists()  # logs go where asked, not into the results folder


def test_no_tensorboard_logs_by_default(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    tfrec_inc.run({**TINY, "strategies": ["static"]}, output=tmp_path / "run", quiet=True)
    assert not list(tmp_path.rglob("events.out.tfevents.*"))
