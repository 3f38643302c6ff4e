"""Training throughput: tfrec_inc vs the plain TFRS basic-retrieval tutorial loop.

Both train the same 32-d id two-tower model (Adagrad 0.1, batch 8192, 3 epochs) on the
same random 80/20 ML-100K split; runs alternate (framework, tutorial, framework, ...)
so machine noise hits both alike. Prints one JSON line last:
``{"framework_examples_per_s": ..., "tutorial_examples_per_s": ..., "ratio": ...}``
with ratio = framework / tutorial (median over repeats).

Usage:
  TFREC_INC_DATA=../shared/data .venv/bin/python benchmarks/train_overhead.py --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

# TFRS is a Keras 2 library: select tf-keras before TensorFlow loads (import order is
# not enough, linters sort it).
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import tensorflow as tf  # noqa: E402
import tensorflow_recommenders as tfrs  # noqa: E402

from tfrec_inc import data as data_lib  # noqa: E402
from tfrec_inc.config import ModelConfig, WindowsConfig  # noqa: E402
from tfrec_inc.data.windows import make_dataset, split  # noqa: E402
from tfrec_inc.errors import TfrecIncError  # noqa: E402
from tfrec_inc.models import training  # noqa: E402
from tfrec_inc.models.factory import build  # noqa: E402
from tfrec_inc.prepare import Prepared  # noqa: E402

MODEL = ModelConfig(name="bench", embedding_dim=32, user_features=False, item_features=False,
                    optimizer="adagrad", learning_rate=0.1, batch_size=8192, epochs=3, patience=0)


def framework_run(prepared, train) -> float:
    """Examples/s of one training run through tfrec_inc's own pipeline."""
    tf.keras.utils.set_random_seed(0)
    model = build(MODEL, prepared, train)
    ds = make_dataset(prepared.catalog.encode(train), MODEL.batch_size, shuffle=True, seed=0)
    result = training.fit(model, ds, None, MODEL, len(train), progress=False)
    return result.examples / result.seconds


class TutorialModel(tfrs.Model):
    """The TFRS basic retrieval tutorial's model, as published (ids as strings)."""

    def __init__(self, user_ids, item_ids):
        super().__init__()
        self.user_model = tf.keras.Sequential([
            tf.keras.layers.StringLookup(vocabulary=user_ids, mask_token=None),
            tf.keras.layers.Embedding(len(user_ids) + 1, 32)])
        self.movie_model = tf.keras.Sequential([
            tf.keras.layers.StringLookup(vocabulary=item_ids, mask_token=None),
            tf.keras.layers.Embedding(len(item_ids) + 1, 32)])
        self.task = tfrs.tasks.Retrieval()

    def compute_loss(self, features, training=False):
        return self.task(self.user_model(features["user_id"]),
                         self.movie_model(features["item_id"]),
                         compute_metrics=not training)


def tutorial_run(train, user_ids, item_ids) -> float:
    """Examples/s of the tutorial's own loop (shuffle, batch 8192, cache, Adagrad 0.1)."""
    tf.keras.utils.set_random_seed(0)
    ds = tf.data.Dataset.from_tensor_slices(
        {"user_id": train["user_id"].to_numpy(), "item_id": train["item_id"].to_numpy()})
    ds = ds.shuffle(100_000, seed=42, reshuffle_each_iteration=False).batch(8192).cache()
    model = TutorialModel(user_ids, item_ids)
    model.compile(optimizer=tf.keras.optimizers.Adagrad(learning_rate=0.1))
    start = time.perf_counter()
    model.fit(ds, epochs=3, verbose=0)
    return 3 * len(train) / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs of each side (alternating)")
    args = parser.parse_args()
    try:
        data = data_lib.load("ml-100k")
    except TfrecIncError as exc:
        print(json.dumps({"skipped": str(exc)}))
        return 0
    window = split(data.interactions, WindowsConfig(mode="random", seed=42, valid_fraction=0.0,
                                                    test_fraction=0.2))[0]
    prepared = Prepared.from_parts(data, [window])
    users = sorted(data.interactions["user_id"].unique())
    items = sorted(data.items["item_id"].unique())
    framework_run(prepared, window.train)  # warm-up: graph tracing, thread pools
    tutorial_run(window.train, users, items)
    fw, tut = [], []
    for i in range(args.repeats):
        fw.append(framework_run(prepared, window.train))
        tut.append(tutorial_run(window.train, users, items))
        print(f"repeat {i}: framework {fw[-1]:.0f} ex/s, tutorial {tut[-1]:.0f} ex/s",
              file=sys.stderr)
    result = {
        "framework_examples_per_s": round(statistics.median(fw), 1),
        "tutorial_examples_per_s": round(statistics.median(tut), 1),
        "ratio": round(statistics.median(f / t for f, t in zip(fw, tut, strict=True)), 3),
        "repeats": args.repeats,
        "train_examples": len(window.train),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
