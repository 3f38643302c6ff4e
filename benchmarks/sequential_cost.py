"""Training cost of the sequential text model vs the id two-tower, same run.

Both models are trained on ML-100K's first chronological window (4 windows by count) for
a fixed number of epochs without early stopping, then updated once with window 1 the way
``fine_tune`` does it (vocabularies grown, weights warm-started, one fixed-length fit).
Runs alternate (id, sequential, id, ...) so machine noise hits both alike. Reports, per
model, training examples/s (median over repeats) and the per-update seconds; the ratios
are sequential / id. Prints one JSON line last.

Usage:
  TFREC_INC_DATA=../shared/data .venv/bin/python benchmarks/sequential_cost.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import tensorflow as tf  # noqa: E402

from tfrec_inc import config  # noqa: E402
from tfrec_inc.config import ModelConfig  # noqa: E402
from tfrec_inc.errors import TfrecIncError  # noqa: E402
from tfrec_inc.models.factory import build  # noqa: E402
from tfrec_inc.models.training import fit_frames  # noqa: E402
from tfrec_inc.models.weights import warm_start  # noqa: E402
from tfrec_inc.prepare import Prepared, prepare  # noqa: E402

BASE = {"type": "retrieval", "embedding_dim": 64, "optimizer": "adam", "learning_rate": 0.001,
        "batch_size": 512, "patience": 0}
MODELS = {
    "id_two_tower": {**BASE, "name": "id_two_tower", "user_features": True, "item_features": True},
    "sequential_text": {**BASE, "name": "sequential_text", "user_id": False, "user_features": False,
                        "item_id": True, "item_features": False, "item_text": True, "combine": "sum",
                        "user_history": "sequential", "history_length": 50, "negatives": "full"},
}


def _train_and_update(cfg: ModelConfig, prepared: Prepared, epochs: int) -> tuple[float, float]:
    """(training examples/s on window 0, seconds of one fine_tune-like update with window 1)."""
    tf.keras.utils.set_random_seed(0)
    first, second = prepared.windows[0].train, prepared.windows[1].train
    run = dataclasses.replace(cfg, epochs=epochs)
    model = build(run, prepared, first)
    fitted, _ = fit_frames(model, prepared.catalog, first, None, prepared.row_history, run, seed=0,
                           progress=False)
    start = time.perf_counter()
    grown = (model.user_vocab.extended(second["user_id"]), model.item_vocab.extended(second["item_id"]))
    updated = build(run, prepared, second, vocabs=grown)
    warm_start(model, updated)
    fit_frames(updated, prepared.catalog, second, None, prepared.row_history,
               dataclasses.replace(run, epochs=1), seed=0, progress=False)
    return fitted.examples / fitted.seconds, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    try:
        cfg = config.from_dict({"data": {"dataset": "ml-100k"}, "encoder": {"handle": "minilm"},
                                "windows": {"mode": "count", "num_windows": 4},
                                "models": list(MODELS.values())})
        prepared = prepare(cfg)
    except TfrecIncError as exc:
        print(json.dumps({"skipped": str(exc)}))
        return 0
    speed: dict[str, list[float]] = {name: [] for name in MODELS}
    update: dict[str, list[float]] = {name: [] for name in MODELS}
    for _ in range(args.repeats):
        for model_cfg in cfg.models:
            per_s, seconds = _train_and_update(model_cfg, prepared, args.epochs)
            speed[model_cfg.name].append(per_s)
            update[model_cfg.name].append(seconds)
    out: dict[str, object] = {"dataset": "ml-100k", "repeats": args.repeats, "epochs": args.epochs}
    for name in MODELS:
        out[f"{name}_examples_per_s"] = round(statistics.median(speed[name]), 1)
        out[f"{name}_update_seconds"] = round(statistics.median(update[name]), 2)
    out["examples_per_s_ratio"] = round(out["sequential_text_examples_per_s"]  # type: ignore[operator]
                                        / out["id_two_tower_examples_per_s"], 3)
    out["update_seconds_ratio"] = round(out["sequential_text_update_seconds"]  # type: ignore[operator]
                                        / out["id_two_tower_update_seconds"], 3)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
