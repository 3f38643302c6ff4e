"""Cost and quality of incremental updates: replay and fine_tune vs full_retrain, same run.

Runs one incremental config (default: ML-100K, 8 windows) with the three strategies
side by side, then reports, over windows 1..T-1 (window 0 is the shared base training):
cumulative update time of each strategy relative to full_retrain, and its mean
Recall@20 relative to full_retrain's. Prints one JSON line last.

Usage:
  TFREC_INC_DATA=../shared/data .venv/bin/python benchmarks/incremental_cost.py \
      [--config experiments/movielens_100k_incremental.yaml] [--seeds 0 1]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import pandas as pd

import tfrec_inc
from tfrec_inc.errors import TfrecIncError

ROOT = Path(__file__).resolve().parents[1]


def ratios(frame: pd.DataFrame, k: int = 20) -> dict:
    """Per-strategy time and Recall@k ratios to full_retrain over windows >= 1."""
    later = frame[frame["window"] >= 1]
    seconds = later[later["metric"] == "train_seconds"].groupby("strategy")["value"].sum()
    recall = later[(later["metric"] == "recall") & (later["k"] == k) & (later["group"] == "all")]
    recall = recall.groupby("strategy")["value"].mean()
    out = {"full_retrain_seconds": round(float(seconds["full_retrain"]), 2),
           f"full_retrain_recall@{k}": round(float(recall["full_retrain"]), 5)}
    for name in ("fine_tune", "replay"):
        out[f"{name}_time_ratio"] = round(float(seconds[name] / seconds["full_retrain"]), 3)
        out[f"{name}_recall_ratio"] = round(float(recall[name] / recall["full_retrain"]), 3)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(ROOT / "experiments/movielens_100k_incremental.yaml"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = parser.parse_args()
    seeds = "[" + ",".join(str(s) for s in args.seeds) + "]"
    with tempfile.TemporaryDirectory() as tmp:
        try:
            out = tfrec_inc.run(args.config, output=Path(tmp) / "run", quiet=True, overrides=[
                f"seeds={seeds}", "strategies=[full_retrain, fine_tune, replay]"])
        except TfrecIncError as exc:
            print(json.dumps({"skipped": str(exc)}))
            return 0
        frame = pd.read_csv(out / "metrics.csv")
    result = {"config": Path(args.config).name, "seeds": args.seeds, **ratios(frame)}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
