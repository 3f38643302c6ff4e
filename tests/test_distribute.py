"""runtime.distribute: mirrored (2 logical CPUs) and multi_worker (2 local processes) runs.

Each distributed run is a fresh `tfrec-inc run` process (logical devices and collective
ops are fixed when TensorFlow starts) on the same tiny synthetic config as a
single-process reference run. All four processes start at once: distributed steps on
CPU spend most of their time waiting for each other, so they overlap well.
"""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tfrec_inc import config as config_lib
from tfrec_inc.errors import ConfigError
from tfrec_inc.runtime import local_tf_configs

ROOT = Path(__file__).resolve().parents[1]
KEY = ["experiment", "dataset", "model", "strategy", "seed", "window", "group", "metric", "k"]
TINY = {
    "experiment": "tiny",
    "seeds": [0],
    "data": {"dataset": "synthetic",
             "options": {"num_users": 300, "num_items": 200, "num_interactions": 3000, "num_periods": 2}},
    "windows": {"mode": "count", "num_windows": 2},
    "models": [{"name": "ids", "type": "retrieval", "item_features": False, "logq_correction": True,
                "batch_size": 512, "epochs": 1, "patience": 0}],
    "strategies": ["fine_tune"],
    "evaluation": {"ks": [10, 20], "groups": ["all"]},
}



def _start(cfg_path: Path, out: Path, sets: list[str], env: dict[str, str] | None = None):
    args = [sys.executable, "-m", "tfrec_inc.cli", "run", str(cfg_path), "--output", str(out), "--quiet"]
    for item in sets:
        args += ["--set", item]
    return subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONHASHSEED": "0", **(env or {})})


def _finish(proc, what: str, timeout: float = 240) -> str:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    assert proc.returncode == 0, f"{what} failed ({proc.returncode}):\n{err[-3000:]}"
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Output folders of the single, mirrored and multi-worker (chief and worker 1) runs."""
    tmp = tmp_path_factory.mktemp("distribute")
    cfg_path = tmp / "tiny.yaml"
    cfg_path.write_text(yaml.safe_dump(TINY))
    tf_configs = local_tf_configs(2)
    procs = {
        "single": _start(cfg_path, tmp / "single", []),
        "mirrored": _start(cfg_path, tmp / "mirrored",
                           ["runtime.distribute=mirrored", "runtime.devices=2"]),
    }
    for i in range(2):
        env = {"TF_CONFIG": tf_configs[i],
               "TMPDIR": str(tmp / f"tmp_worker{i}")}
        (tmp / f"tmp_worker{i}").mkdir()
        procs[f"worker{i}"] = _start(cfg_path, tmp / "multi", ["runtime.distribute=multi_worker"], env)
    printed = {name: _finish(p, name) for name, p in procs.items()}
    worker1 = Path(printed["worker1"].strip().rsplit("results: ", 1)[-1])
    return {"single": tmp / "single", "mirrored": tmp / "mirrored", "chief": tmp / "multi",
            "worker1": worker1, "tmp": tmp}


def _compare(reference: Path, other: Path, tolerance: float) -> pd.DataFrame:
    a = pd.read_csv(reference / "metrics.csv")
    b = pd.read_csv(other / "metrics.csv")
    assert list(a.columns) == list(b.columns)
    merged = a.merge(b, on=KEY, how="outer", indicator=True)
    assert (merged["_merge"] == "both").all(), merged[merged["_merge"] != "both"][KEY]
    recall = merged[merged["metric"] == "recall"]
    assert len(recall) and recall["value_y"].map(math.isfinite).all()
    # Cross-replica negatives make the distributed loss the single run's loss; only float
    # summation order differs, which (measured) did not move a single ranking here.
    assert (recall["value_x"] - recall["value_y"]).abs().max() <= tolerance
    return merged


def test_mirrored_two_logical_cpus_matches_single_run(runs):
    _compare(runs["single"], runs["mirrored"], tolerance=0.01)
    manifest = json.loads((runs["mirrored"] / "manifest.json").read_text())
    assert manifest["runtime"]["distribute"] == "mirrored"
    assert manifest["runtime"]["replicas"] == 2
    assert len(manifest["runtime"]["devices"]) == 2


def test_multi_worker_two_processes_match_single_run(runs):
    for folder in (runs["chief"], runs["worker1"]):
        _compare(runs["single"], folder, tolerance=0.01)
    manifest = json.loads((runs["chief"] / "manifest.json").read_text())
    assert manifest["runtime"]["task"] == "worker:0" and manifest["runtime"]["replicas"] == 2
    # Only the chief writes the results folder; worker 1 wrote into its own temp dir.
    assert runs["worker1"].is_relative_to(runs["tmp"] / "tmp_worker1")
    assert json.loads((runs["worker1"] / "manifest.json").read_text())["runtime"]["task"] == "worker:1"


def _cfg(**runtime):
    return {**TINY, "runtime": runtime}


def test_runtime_config_is_validated():
    assert config_lib.from_dict(TINY).runtime.distribute == "none"
    with pytest.raises(ConfigError, match="did you mean 'mirrored'"):
        config_lib.from_dict(_cfg(distribute="mirored"))
    with pytest.raises(ConfigError, match="parameter_server is not supported: .*DatasetCreator"):
        config_lib.from_dict(_cfg(distribute="parameter_server"))
    with pytest.raises(ConfigError, match="runtime.devices: only for distribute: mirrored"):
        config_lib.from_dict(_cfg(distribute="multi_worker", devices=2))
    with pytest.raises(ConfigError, match="runtime.devices: must be > 0"):
        config_lib.from_dict(_cfg(distribute="mirrored", devices=0))
    with pytest.raises(ConfigError, match="unknown key 'runtime.devcies'"):
        config_lib.from_dict({**TINY, "runtime": {"devcies": 2}})


def test_multi_worker_needs_tf_config(monkeypatch):
    from tfrec_inc import runtime

    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ConfigError, match="TF_CONFIG environment variable, which is not set"):
        runtime.start(config_lib.RuntimeConfig(distribute="multi_worker"))
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ConfigError, match="TF_CONFIG: expected JSON"):
        runtime.start(config_lib.RuntimeConfig(distribute="multi_worker"))


def test_logical_devices_after_tensorflow_started_is_a_clear_error():
    code = (
        "import tfrec_inc, tensorflow as tf\n"
        "from tfrec_inc import runtime\n"
        "from tfrec_inc.config import RuntimeConfig\n"
        "tf.constant(1.0) + 1.0  # TensorFlow initialises its devices here\n"
        "try:\n"
        "    runtime.start(RuntimeConfig(distribute='mirrored', devices=2))\n"
        "except tfrec_inc.errors.ConfigError as exc:\n"
        "    print('ConfigError:', exc)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert "ConfigError: runtime.devices: cannot split the CPU into 2 logical devices" in res.stdout, \
        res.stderr[-2000:]
    assert "fresh process" in res.stdout
