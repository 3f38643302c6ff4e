"""End to end through the CLI: a small run, rebuilding reports, and one-line errors."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tfrec_inc import config
from tfrec_inc.cli import main
from tfrec_inc.data import DATASETS

ROOT = Path(__file__).resolve().parents[1]
SMALL = [
    "seeds=[0,1]",
    "data.options={num_users: 300, num_items: 200, num_interactions: 6000, num_periods: 3}",
    "windows.num_windows=3",
    "models.0.epochs=2",
    "models.1.epochs=2",
    "models.2.epochs=2",
]


def _cli(*args, env=None):
    """Runs the real console entry point in a fresh process."""
    return subprocess.run(
        [sys.executable, "-m", "tfrec_inc.cli", *args], capture_output=True, text=True,
        env={**os.environ, **(env or {})}, cwd=ROOT, timeout=600,
    )


def test_config_lists_every_registered_dataset():
    assert set(config.DATASETS) == set(DATASETS)


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "quick"
    args = ["run", str(ROOT / "experiments/quickstart.yaml"), "--output", str(out), "--quiet"]
    for item in SMALL:
        args += ["--set", item]
    assert main(args) == 0
    return out


def test_run_writes_every_result_file(small_run):
    for name in ("config.yaml", "metrics.csv", "table.md", "table.tex", "manifest.json",
                 "plots/recall_precision.png", "plots/recall_precision.pdf",
                 "plots/recall_at_20_by_window.png"):
        assert (small_run / name).is_file(), name
    assert not small_run.with_name("quick.partial").exists()
    frame = pd.read_csv(small_run / "metrics.csv")
    assert list(frame.columns) == ["experiment", "dataset", "model", "strategy", "seed", "window",
                                   "group", "metric", "k", "value"]
    assert set(frame["strategy"]) == {"static", "full_retrain"}
    assert set(frame["model"]) == {"ids", "ids_text", "ids_text_history", "pop_window", "pop_all",
                                   "pop_decay", "itemknn", "ials", "ease", "rp3beta", "text_knn"}
    assert set(frame["seed"]) == {0, 1} and set(frame["window"]) == {0, 1, 2}
    curve = frame[(frame["metric"] == "recall") & (frame["group"] == "all")]
    assert set(curve["k"]) == set(range(1, 101))  # every recall-precision curve point
    recall = frame[(frame["metric"] == "recall") & (frame["k"] == 20)]["value"]
    assert recall.between(0, 1).all() and recall.max() > 0
    # static trains once (window 0); full_retrain trains at every window.
    epochs = frame[frame["metric"] == "epochs"]
    assert set(epochs[epochs["strategy"] == "static"]["window"]) == {0}
    assert set(epochs[epochs["strategy"] == "full_retrain"]["window"]) == {0, 1, 2}
    manifest = json.loads((small_run / "manifest.json").read_text())
    assert manifest["text_vectors"]["encoder"].startswith("minilm:")
    assert manifest["text_vectors"]["dim"] == 384
    assert manifest["versions"]["tensorflow"].startswith("2.20")
    assert manifest["config_hash"] == config.load(small_run / "config.yaml").digest()
    assert "**" in (small_run / "table.md").read_text()
    assert r"\textbf" in (small_run / "table.tex").read_text()


def test_table_and_plot_rebuild_from_metrics_alone(small_run, tmp_path):
    copy = tmp_path / "copy"
    copy.mkdir()
    shutil.copy(small_run / "metrics.csv", copy / "metrics.csv")
    shutil.copy(small_run / "per_user.csv.gz", copy / "per_user.csv.gz")  # the intervals' source
    shutil.copy(small_run / "config.yaml", copy / "config.yaml")
    assert main(["table", str(copy)]) == 0
    assert main(["plot", str(copy)]) == 0
    assert (copy / "table.md").read_text() == (small_run / "table.md").read_text()
    assert (copy / "table.tex").read_text() == (small_run / "table.tex").read_text()
    assert (copy / "plots/recall_precision.png").stat().st_size > 10_000


def _assert_one_line_error(res, *needles):
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    for needle in needles:
        assert needle in lines[0]


def test_config_typo_and_wrong_type_are_one_line_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("experiment: bad\nmodels:\n  - optimzer: adam\n")
    _assert_one_line_error(_cli("run", str(bad), "--output", str(tmp_path / "r")),
                           "models[0].optimzer", "did you mean 'optimizer'")
    res = _cli("run", str(ROOT / "experiments/quickstart.yaml"), "--set", "seeds=zero",
               "--output", str(tmp_path / "r"))
    _assert_one_line_error(res, "seeds", "expected list of integer")
    assert not (tmp_path / "r").exists()


def test_missing_data_dir_is_a_one_line_error(tmp_path):
    res = _cli("run", str(ROOT / "experiments/movielens_100k.yaml"), "--set",
               f"data.data_dir={tmp_path / 'nowhere'}", "--output", str(tmp_path / "r"),
               env={"TFREC_INC_DATA": str(tmp_path / "empty"), "HOME": str(tmp_path)})
    _assert_one_line_error(res, "ml-100k", "not found")
    assert not (tmp_path / "r").exists() and not (tmp_path / "r.partial").exists()


def test_corrupted_u_data_line_is_a_one_line_error(tmp_path, shared_data):
    src = shared_data / "ml-100k"
    dst = tmp_path / "ml-100k"
    shutil.copytree(src, dst)  # a scratch copy in tmp, never in the repo
    lines = (dst / "u.data").read_text().splitlines(keepends=True)
    lines[41] = "196\t242\tthree\t881250949\n"
    (dst / "u.data").write_text("".join(lines))
    res = _cli("run", str(ROOT / "experiments/movielens_100k.yaml"), "--set",
               f"data.data_dir={dst}", "--output", str(tmp_path / "r"))
    _assert_one_line_error(res, "u.data", "42")
    assert not (tmp_path / "r").exists() and not (tmp_path / "r.partial").exists()
