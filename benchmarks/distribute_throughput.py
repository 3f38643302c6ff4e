"""Training throughput and Recall@20 under runtime.distribute: none vs mirrored vs multi_worker.

One config, three runtimes, each a fresh ``tfrec-inc run`` process (logical devices and
collective ops are fixed when TensorFlow starts): ``none`` (one device), ``mirrored`` on
2 logical CPU devices, and ``multi_worker`` with 2 worker processes on 127.0.0.1
(``TF_CONFIG``; the chief's results are read). Data: ML-100K when ``TFREC_INC_DATA`` has
it, else the embedded synthetic set; one chronological window, ``--seeds`` seeds (1).

Two otherwise identical id two-towers are trained in every run: ``global_negatives``
(``cross_replica_negatives: true``, the default: each replica's users are scored against
the whole global batch) and ``replica_negatives`` (false: plain TFRS, each replica's
softmax only has its own ``batch_size / 2`` items; TFRS issue #733). On one device they
are the same model.

Throughput is training examples / ``fit`` wall time, as recorded in ``metrics.csv``
(``train_examples`` / ``train_seconds``; graph tracing included). On this kind of
machine (2 shared CPU cores, "devices" that share one thread pool) distribution adds
synchronisation and no compute, so read the ratios as the overhead of the machinery,
not as a scaling claim. Prints one JSON line last.

Usage:
  TFREC_INC_DATA=../shared/data .venv/bin/python benchmarks/distribute_throughput.py
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import yaml

import tfrec_inc  # noqa: F401  (selects Keras 2 before TensorFlow loads)
from tfrec_inc.runtime import local_tf_configs

ROOT = Path(__file__).resolve().parents[1]
MODELS = ("global_negatives", "replica_negatives")


def _config(dataset: str, batch_size: int, epochs: int, seeds: int) -> dict:
    base = {"type": "retrieval", "embedding_dim": 32, "user_features": False, "item_features": False,
            "optimizer": "adagrad", "learning_rate": 0.1, "batch_size": batch_size, "epochs": epochs,
            "patience": 0}
    return {
        "experiment": "distribute_bench",
        "seeds": list(range(seeds)),
        "data": {"dataset": dataset},
        "windows": {"mode": "count", "num_windows": 1, "valid_fraction": 0.1, "test_fraction": 0.1},
        "models": [{**base, "name": MODELS[0], "cross_replica_negatives": True},
                   {**base, "name": MODELS[1], "cross_replica_negatives": False}],
        "strategies": ["full_retrain"],
        "evaluation": {"ks": [20], "groups": ["all"]},
        "report": {"metrics": ["recall@20"]},
    }


def _has_ml100k() -> bool:
    root = os.environ.get("TFREC_INC_DATA")
    return bool(root) and (Path(root) / "ml-100k").is_dir()


def _launch(cfg_path: Path, out: Path, distribute: str, env: dict[str, str] | None = None):
    args = [sys.executable, "-m", "tfrec_inc.cli", "run", str(cfg_path), "--output", str(out), "--quiet",
            "--set", f"runtime.distribute={distribute}"]
    if distribute == "mirrored":
        args += ["--set", "runtime.devices=2"]
    return subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})


def _wait(proc, what: str) -> None:
    _, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"{what} failed:\n{err[-3000:]}")


def run_mode(cfg_path: Path, work: Path, distribute: str) -> dict:
    """Runs one runtime and returns its per-model examples/s and Recall@20."""
    out = work / distribute
    if distribute == "multi_worker":
        procs = []
        for i, tf_config in enumerate(local_tf_configs(2)):
            (work / f"tmp{i}").mkdir(exist_ok=True)
            procs.append(_launch(cfg_path, out, distribute,
                                 {"TF_CONFIG": tf_config, "TMPDIR": str(work / f"tmp{i}")}))
        for i, proc in enumerate(procs):
            _wait(proc, f"multi_worker task {i}")
    else:
        _wait(_launch(cfg_path, out, distribute), distribute)
    frame = pd.read_csv(out / "metrics.csv")
    result = {"examples_per_s": {}, "recall_at_20": {}, "train_seconds": {}}
    for model in MODELS:
        rows = frame[(frame["model"] == model) & (frame["group"] == "all")]
        value = rows.set_index(["metric", "k"])["value"]
        seconds = rows[rows["metric"] == "train_seconds"]["value"].sum()
        examples = rows[rows["metric"] == "train_examples"]["value"].sum()
        result["examples_per_s"][model] = round(float(examples / seconds), 1)
        result["train_seconds"][model] = round(float(seconds), 2)
        result["recall_at_20"][model] = round(float(value[("recall", 20.0)].mean()), 4)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=1024, help="global batch size")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=1, help="seeds per run (Recall@20 is their mean)")
    parser.add_argument("--modes", nargs="+", default=["none", "mirrored", "multi_worker"],
                        choices=["none", "mirrored", "multi_worker"])
    args = parser.parse_args()
    dataset = "ml-100k" if _has_ml100k() else "synthetic"
    runs = {}
    with tempfile.TemporaryDirectory(prefix="distribute_bench_") as tmp:
        work = Path(tmp)
        cfg_path = work / "config.yaml"
        cfg_path.write_text(yaml.safe_dump(_config(dataset, args.batch_size, args.epochs, args.seeds)))
        for mode in args.modes:
            runs[mode] = run_mode(cfg_path, work, mode)
            print(f"{mode}: {runs[mode]}", file=sys.stderr)
        manifest = json.loads((work / args.modes[0] / "manifest.json").read_text())
    result = {"dataset": dataset, "train_examples": manifest["windows"][0]["train"],
              "batch_size": args.batch_size, "epochs": args.epochs, "seeds": args.seeds, "runs": runs}
    if "none" in runs:
        base = runs["none"]
        for mode in runs:
            if mode == "none":
                continue
            result[f"{mode}_throughput_vs_none"] = {
                m: round(runs[mode]["examples_per_s"][m] / base["examples_per_s"][m], 3) for m in MODELS}
            result[f"{mode}_recall_at_20_vs_none"] = {
                m: round(runs[mode]["recall_at_20"][m] / base["recall_at_20"][m], 3) for m in MODELS}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
