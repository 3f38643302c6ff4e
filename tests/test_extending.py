"""The worked examples of docs/architecture.md run as written, and the registries match the config.

Each example block is executed from the document itself (so the page cannot drift from
the code), its name is allowed in the config's list for the test's duration, and a small
experiment runs through it.
"""

import re
import sys
from pathlib import Path

import pandas as pd
import pytest

import tfrec_inc
from tfrec_inc import config, studies
from tfrec_inc.incremental import strategies
from tfrec_inc.models import factory
from tfrec_inc.results import read_manifest, read_metrics

DOC = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"

TINY = {
    "experiment": "extending",
    "seeds": [0],
    "data": {"dataset": "synthetic",
             "options": {"num_users": 150, "num_items": 90, "num_interactions": 2400, "num_periods": 3}},
    "windows": {"num_windows": 3},
    "models": [{"name": "ids", "type": "retrieval", "embedding_dim": 8, "epochs": 2, "batch_size": 256,
                "item_text": False}],
    "strategies": ["full_retrain"],
    "evaluation": {"ks": [5, 20]},
    "report": {"metrics": ["recall@20"]},
}


def _example(name: str) -> str:
    blocks = dict(re.findall(r"```python\n# example: (.+?)\n(.*?)```", DOC.read_text(), re.S))
    assert name in blocks, f"docs/architecture.md has no '# example: {name}' block"
    return blocks[name]


def _allow(monkeypatch, constant: str, name: str) -> None:
    """Adds ``name`` to a config list (as editing tfrec_inc/config/schema.py would)."""
    for module in list(sys.modules.values()):
        if module.__name__.startswith("tfrec_inc.config") and constant in vars(module):
            monkeypatch.setattr(module, constant, (*getattr(module, constant), name))


def _run(tmp_path: Path, **changes) -> tuple[pd.DataFrame, Path]:
    out = tfrec_inc.run({**TINY, **changes}, output=tmp_path / "out", quiet=True)
    return read_metrics(out), out


def test_registries_match_the_config_lists():
    assert set(strategies.REGISTRY) == set(config.STRATEGIES)
    assert set(factory.MODEL_TYPES) == set(config.MODEL_TYPES)
    assert set(studies.REGISTRY) == set(config.STUDIES)
    for kind in studies.REGISTRY:
        assert callable(studies.get(kind))


def test_strategy_example(tmp_path, monkeypatch):
    monkeypatch.setattr(strategies, "REGISTRY", dict(strategies.REGISTRY))
    exec(_example("strategy"), {})
    _allow(monkeypatch, "STRATEGIES", "last_window_only")
    frame, _ = _run(tmp_path, strategies=["last_window_only", "full_retrain"])
    examples = frame[frame["metric"] == "train_examples"].pivot_table(
        index="window", columns="strategy", values="value")
    epochs = frame[frame["metric"] == "epochs"].pivot_table(
        index="window", columns="strategy", values="value")
    per_epoch = examples / epochs
    # The first window trains on the same slice; later ones on one window instead of all so far.
    assert per_epoch.loc[0, "last_window_only"] == per_epoch.loc[0, "full_retrain"]
    assert (per_epoch.loc[1:, "last_window_only"] < per_epoch.loc[1:, "full_retrain"]).all()
    assert not frame[(frame["strategy"] == "last_window_only") & (frame["metric"] == "recall")].empty


def test_model_type_example(tmp_path, monkeypatch):
    monkeypatch.setattr(factory, "MODEL_TYPES", dict(factory.MODEL_TYPES))
    exec(_example("model type"), {})
    _allow(monkeypatch, "MODEL_TYPES", "popularity_week")
    frame, _ = _run(tmp_path, models=[{"name": "week", "type": "popularity_week"},
                                      {"name": "all_time", "type": "popularity"}])
    recall = frame[(frame["metric"] == "recall") & (frame["k"] == 20) & (frame["group"] == "all")]
    assert set(recall["model"]) == {"week", "all_time"}
    # Nothing was trained: no fit, no epochs recorded.
    assert frame[frame["metric"] == "epochs"].empty
    by_model = recall.pivot_table(index="window", columns="model", values="value")
    assert (by_model["week"] != by_model["all_time"]).any()  # it counts a different slice


def test_study_kind_example(tmp_path, monkeypatch):
    module = tmp_path / "lagged_popularity.py"
    module.write_text(_example("study kind"))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(studies, "REGISTRY", {**studies.REGISTRY, "lagged_popularity": "lagged_popularity"})
    _allow(monkeypatch, "STUDIES", "lagged_popularity")
    frame, out = _run(tmp_path, study="lagged_popularity",
                      models=[{"name": "popularity", "type": "popularity"}])
    assert read_manifest(out)["study"] == "lagged_popularity"
    assert set(frame["strategy"]) == {"lagged"}
    assert sorted(frame["window"].unique()) == [1, 2]  # scored on the next window's test slice
    assert (out / "table.md").is_file()  # generic reports for a kind without its own


def test_unknown_names_are_refused_until_listed():
    with pytest.raises(config.ConfigError, match="strategies\\[0\\]"):
        config.from_dict({**TINY, "strategies": ["last_window_only"]})
    with pytest.raises(config.ConfigError, match="study"):
        config.from_dict({**TINY, "study": "lagged_popularity"})
