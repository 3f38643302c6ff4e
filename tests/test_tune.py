"""``tfrec-inc tune``: one budget per model, validation only, a config with the chosen values."""

import numpy as np
import pandas as pd
import pytest
import yaml

from tfrec_inc import cli, config
from tfrec_inc.evaluation import protocol, search
from tfrec_inc.prepare import prepare

CONFIG = """
experiment: tune_toy
seeds: [0]
data: {options: {num_users: 100, num_items: 60, num_interactions: 1500, num_periods: 3}}
windows: {num_windows: 3, mode: time}
models:
  - &tt
    name: ids
    epochs: 2
    batch_size: 256
    search: {learning_rate: [0.001, 0.3], embedding_dim: [8, 16]}
  - {name: ease, type: ease, grid: {ease_lambda: [1.0, 10.0, 100.0, 1000.0]}}
  - {name: pop, type: popularity}
"""


def test_tune_writes_the_config_with_each_models_best_validation_point(tmp_path, monkeypatch):
    path = tmp_path / "toy.yaml"
    path.write_text(CONFIG)
    seen_slices = []
    real = protocol.validation_recall

    def spy(model, catalog, window, *args):
        seen_slices.append(window.valid.index.min())
        return real(model, catalog, window, *args)

    monkeypatch.setattr(protocol, "validation_recall", spy)
    out = tmp_path / "tuned.yaml"
    assert cli.main(["tune", str(path), "--trials", "3", "--out", str(out), "--quiet"]) == 0
    tuned = yaml.safe_load(out.read_text())
    trials = pd.read_csv(tmp_path / "tuned.trials.csv", dtype=str)
    trials["valid_recall"] = trials["valid_recall"].astype(float)
    # The same budget: 3 trials for each searched model; pop has no space and is left alone.
    assert trials.groupby("model").size().to_dict() == {"ids": 3, "ease": 3}
    for name in ("ids", "ease"):
        rows = trials[trials["model"] == name]
        best = rows.loc[rows["valid_recall"].idxmax()]
        model = next(m for m in tuned["models"] if m["name"] == name)
        assert "search" not in model and "grid" not in model
        for key in ("learning_rate", "embedding_dim") if name == "ids" else ("ease_lambda",):
            assert repr(model[key]) == best[key]
    assert tuned["models"][2] == {"name": "pop", "type": "popularity"}
    config.from_dict(tuned)  # a valid config
    # Only the first window's validation slice was ever scored.
    cfg = config.from_dict(yaml.safe_load(CONFIG))
    first_valid = prepare(cfg).windows[0].valid.index.min()
    assert seen_slices and set(seen_slices) == {first_valid}


def test_a_space_no_larger_than_the_budget_is_enumerated_once_each():
    cfg = config.from_dict(yaml.safe_load(CONFIG))
    prepared = prepare(cfg)
    _, frame = search.search(cfg.models[1], prepared, prepared.windows[0], cfg.evaluation, trials=10)
    assert sorted(frame["ease_lambda"]) == sorted(repr(v) for v in [1.0, 10.0, 100.0, 1000.0])
    assert np.isfinite(frame["valid_recall"]).all()


def test_bad_spaces_and_budgets_are_one_line_errors(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(CONFIG.replace("embedding_dim: [8, 16]", "embedding_dim: [8, -1]"))
    assert cli.main(["tune", str(path), "--trials", "2", "--out", str(tmp_path / "o.yaml")]) == 2
    assert "models[0].search.embedding_dim[1]" in capsys.readouterr().err
    path.write_text(CONFIG)
    assert cli.main(["tune", str(path), "--trials", "0", "--out", str(tmp_path / "o.yaml")]) == 2
    with pytest.raises(SystemExit):
        cli.main(["tune", "--help"])
