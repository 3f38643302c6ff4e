"""Serving latency of TFRS top-K layers (BruteForce vs ScaNN) and evaluation throughput.

Part 1, retrieval layers. For each catalog size (default 10k, 100k, 1M items) a seeded
synthetic catalog of 64-d float32 embeddings is drawn from a Gaussian mixture
(overlapping clusters of uneven sizes and spreads, so approximate search has structure to
exploit and its recall means something), with queries from the same mixture. Both
``tfrs.layers.factorized_top_k.BruteForce`` and ``tfrs.layers.factorized_top_k.ScaNN``
(dot product; tree with ``num_leaves ~ sqrt(N)``, asymmetric hashing with 2 dims per
block, exact re-ordering of the best ``--reorder`` candidates) index the catalog (the
build time is measured). ``num_leaves_to_search`` is tuned per size, on tuning queries
that are not the evaluation queries, with a raw ScaNN searcher of the same config: the
smallest value on a ladder reaching ``--target-recall`` recall@10; ScaNN's training is
randomised, so the built layer is checked on the tuning queries too and rebuilt one rung
up while it misses the target (reported recall: evaluation queries, never used to tune).
Then, through ``tf.function``-compiled layer calls after a warm-up, both layers are timed
side by side (interleaved, order alternating each repeat): single queries (batch of 1,
``--repeats`` calls each) and batches of ``--batch-size`` (``--batch-repeats`` calls
each), reported as p50/p99 ms; ScaNN's recall@10 is measured against BruteForce's exact
top 10 on ``--queries`` evaluation queries. Speed-ups are BruteForce / ScaNN latency.

Part 2, evaluation throughput. A TFRS-tutorial two-tower model (32-d ids, Adagrad 0.1,
batch 8192) is built with ``tfrec_inc.models.factory.build`` on the tutorial's random
80/20 ML-100K split and trained for 1 epoch (speed, not quality, is measured). Over the
same test users and candidate items, it compares users/s of the framework's full-ranking
evaluator (``protocol.rank_items``: top 100, seen items excluded) with TFRS's
``FactorizedTopK`` metric run by ``model.evaluate`` (``attach_topk_metric``, as in
``protocol.evaluate_tfrs_topk``; steady state, i.e. the test step already traced), and
also reports the whole ``evaluate_tfrs_topk`` call (attach + trace + evaluate), the
metric over an indexed ``BruteForce`` layer, and the whole ``evaluate_retrieval`` (all
metrics). Runs alternate between the sides (each side's time per call is the mean over
as many calls as fit in 1 s, so the fast side is not timer noise). FactorizedTopK ranks
once per test row, rank_items once per user, so ``per_query_speedup`` is also given.
Without ML-100K (``$TFREC_INC_DATA`` unset or missing) the embedded synthetic dataset is
used and the JSON says so.

The machine is shared and noisy: read the ratios (same process, interleaved runs), not
the absolute numbers. Progress goes to stderr; the last stdout line is one JSON object.

Usage:
  TFREC_INC_DATA=../shared/data .venv/bin/python benchmarks/serving_latency.py \\
      [--sizes 10000 100000 1000000] [--repeats 300] [--queries 1000]
  .venv/bin/python benchmarks/serving_latency.py --quick      # smoke run, well under a minute
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time

import numpy as np

import tfrec_inc  # noqa: F401  (selects Keras 2 before TensorFlow loads)
from tfrec_inc.errors import TfrecIncError

K = 10
DIM = 64
EVAL_K = 100
# Per-cluster noise norm relative to the centres' (about 1): overlapping clusters.
SPREAD = (0.5, 1.0)
# Fractions of the leaves tried for num_leaves_to_search, smallest first.
LEAF_FRACTIONS = (0.005, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- part 1


def mixture(n_clusters: int, dim: int, seed: int):
    """A seeded Gaussian mixture: (weights, centres, per-cluster spreads)."""
    rng = np.random.default_rng(seed)
    weights = rng.dirichlet(np.ones(n_clusters))
    centres = (rng.standard_normal((n_clusters, dim)) / math.sqrt(dim)).astype(np.float32)
    spread = (rng.uniform(*SPREAD, n_clusters) / math.sqrt(dim)).astype(np.float32)
    return weights, centres, spread


def sample(mix, n: int, rng: np.random.Generator, chunk: int = 131_072) -> np.ndarray:
    """``n`` float32 points of the mixture, drawn in chunks (no float64 copy of 1M x 64)."""
    weights, centres, spread = mix
    out = np.empty((n, centres.shape[1]), dtype=np.float32)
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        label = rng.choice(len(weights), size=m, p=weights)
        noise = rng.standard_normal((m, centres.shape[1]), dtype=np.float32)
        out[start : start + m] = centres[label] + spread[label, None] * noise
    return out


def recall_at_k(found: np.ndarray, exact: np.ndarray) -> float:
    """Mean fraction of each row of ``exact`` present in the same row of ``found``."""
    hits = [len(np.intersect1d(f, e)) / exact.shape[1] for f, e in zip(found, exact, strict=True)]
    return float(np.mean(hits))


def batched_ids(fn, queries: np.ndarray, batch: int) -> np.ndarray:
    import tensorflow as tf

    parts = [fn(tf.constant(queries[i : i + batch]))[1].numpy() for i in range(0, len(queries), batch)]
    return np.concatenate(parts)


def tune_leaves(items: np.ndarray, tune_q: np.ndarray, exact: np.ndarray, num_leaves: int,
                reorder: int, target: float) -> tuple[list[int], int, list[dict]]:
    """Smallest num_leaves_to_search on the ladder with recall@K >= target (raw ScaNN searcher).

    Returns:
      (the ladder, the index of the chosen value in it, the values tried with their recall).
    """
    import tensorflow as tf
    from scann.scann_ops.py import scann_ops

    searcher = (scann_ops.builder(tf.constant(items), K, "dot_product")
                .tree(num_leaves=num_leaves, num_leaves_to_search=num_leaves)
                .score_ah(2).reorder(reorder).build())
    ladder = sorted({1, 2, 3, 4} | {max(1, round(num_leaves * f)) for f in LEAF_FRACTIONS})
    ladder = [leaves for leaves in ladder if leaves <= num_leaves]
    q = tf.constant(tune_q)
    tried = []
    for leaves in ladder:
        ids = searcher.search_batched(q, final_num_neighbors=K, leaves_to_search=leaves).indices.numpy()
        rec = recall_at_k(ids, exact)
        tried.append({"leaves_to_search": leaves, "recall@10": round(rec, 4)})
        if rec >= target:
            break
    return ladder, len(tried) - 1, tried


def compiled(layer):
    """The layer's top-K call as a ``tf.function`` over [batch, DIM] float32 queries."""
    import tensorflow as tf

    return tf.function(lambda q: layer(q, k=K), input_signature=[tf.TensorSpec([None, DIM], tf.float32)])


def percentiles(ms: list[float]) -> dict:
    return {"p50_ms": round(float(np.percentile(ms, 50)), 4),
            "p99_ms": round(float(np.percentile(ms, 99)), 4)}


def interleaved(fns: dict, inputs: list, repeats: int) -> dict[str, list[float]]:
    """Latency (ms) of each fn per repeat; order alternates every repeat; results fetched."""
    names = list(fns)
    out = {name: [] for name in names}
    for r in range(repeats):
        q = inputs[r % len(inputs)]
        for name in names if r % 2 == 0 else names[::-1]:
            start = time.perf_counter()
            fns[name](q)[1].numpy()
            out[name].append((time.perf_counter() - start) * 1e3)
    return out


def bench_size(n: int, args, seed: int) -> dict:
    import tensorflow as tf
    import tensorflow_recommenders as tfrs

    log(f"[{n:,} items] generating catalog and queries")
    mix = mixture(args.clusters, DIM, seed)
    rng = np.random.default_rng(seed + 1)
    items = sample(mix, n, rng)
    queries = sample(mix, args.queries, rng)
    tune_q = sample(mix, args.tune_queries, rng)
    items_t = tf.constant(items)

    start = time.perf_counter()
    bf = tfrs.layers.factorized_top_k.BruteForce(k=K)
    bf.index(items_t)
    bf_build = time.perf_counter() - start
    bf_fn = compiled(bf)

    num_leaves = max(2, round(math.sqrt(n)))
    exact_tune = batched_ids(bf_fn, tune_q, args.batch_size)
    log(f"[{n:,} items] tuning num_leaves_to_search (num_leaves={num_leaves})")
    start = time.perf_counter()
    ladder, step, tried = tune_leaves(items, tune_q, exact_tune, num_leaves, args.reorder,
                                      args.target_recall)
    tune_s = time.perf_counter() - start
    # ScaNN's training is randomised: check the built layer on the tuning queries and go up
    # the ladder (rebuilding) while it misses the target. Evaluation queries stay unseen.
    builds = []
    while True:
        params = {"num_leaves": num_leaves, "num_leaves_to_search": ladder[step],
                  "dimensions_per_block": 2, "num_reordering_candidates": args.reorder,
                  "training_iterations": 12, "distance_measure": "dot_product"}
        log(f"[{n:,} items] building ScaNN with num_leaves_to_search={ladder[step]}")
        start = time.perf_counter()
        scann = tfrs.layers.factorized_top_k.ScaNN(k=K, **params)
        scann.index(items_t)
        scann_build = time.perf_counter() - start
        scann_fn = compiled(scann)
        layer_tune = recall_at_k(batched_ids(scann_fn, tune_q, args.batch_size), exact_tune)
        builds.append({"leaves_to_search": ladder[step], "build_s": round(scann_build, 3),
                       "tuning_recall@10": round(layer_tune, 4)})
        if layer_tune >= args.target_recall or step == len(ladder) - 1:
            break
        step += 1
    fns = {"bruteforce": bf_fn, "scann": scann_fn}

    exact = batched_ids(bf_fn, queries, args.batch_size)
    found = batched_ids(scann_fn, queries, args.batch_size)
    recall = recall_at_k(found, exact)
    log(f"[{n:,} items] build: BF {bf_build:.2f}s, ScaNN {scann_build:.2f}s; ScaNN recall@10 {recall:.4f}")

    singles = [tf.constant(queries[i : i + 1]) for i in range(len(queries))]
    width = min(args.batch_size, len(queries))
    offsets = range(0, len(queries) - width + 1, width)
    batches = [tf.constant(queries[o : o + width]) for o in offsets]
    interleaved(fns, singles, 20)  # warm-up: traces, thread pools, caches
    interleaved(fns, batches, 2)
    log(f"[{n:,} items] timing {args.repeats} single queries each")
    single = interleaved(fns, singles, args.repeats)
    log(f"[{n:,} items] timing {args.batch_repeats} batches of {width} each")
    batched = interleaved(fns, batches, args.batch_repeats)

    result = {"items": n}
    for name in fns:
        s, b = percentiles(single[name]), percentiles(batched[name])
        result[name] = {"build_s": round(bf_build if name == "bruteforce" else scann_build, 3),
                        "single_p50_ms": s["p50_ms"], "single_p99_ms": s["p99_ms"],
                        "batch_p50_ms": b["p50_ms"], "batch_p99_ms": b["p99_ms"]}
    result["scann"].update({"params": params, "recall@10": round(recall, 4),
                            "tuning_recall@10": round(layer_tune, 4), "tuning_s": round(tune_s, 2),
                            "tuning_ladder": tried, "layer_builds": builds})
    bfr, scr = result["bruteforce"], result["scann"]
    paired = [b / s for b, s in zip(single["bruteforce"], single["scann"], strict=True)]
    result["scann_speedup"] = {
        "single_p50": round(bfr["single_p50_ms"] / scr["single_p50_ms"], 2),
        "single_p99": round(bfr["single_p99_ms"] / scr["single_p99_ms"], 2),
        "single_paired_median": round(statistics.median(paired), 2),
        "batch_p50": round(bfr["batch_p50_ms"] / scr["batch_p50_ms"], 2),
        "batch_p99": round(bfr["batch_p99_ms"] / scr["batch_p99_ms"], 2),
    }
    log(f"[{n:,} items] single p50 BF {bfr['single_p50_ms']:.3f} ms / ScaNN {scr['single_p50_ms']:.3f} ms; "
        f"batch p50 BF {bfr['batch_p50_ms']:.1f} ms / ScaNN {scr['batch_p50_ms']:.1f} ms")
    return result


# --------------------------------------------------------------------------- part 2


def per_call(fn, min_seconds: float = 1.0) -> float:
    """Seconds per call of ``fn``, called until ``min_seconds`` have passed (fast sides run more)."""
    calls, start = 0, time.perf_counter()
    while True:
        fn()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return elapsed / calls


def bench_evaluation(args) -> dict:
    import pandas as pd
    import tensorflow as tf
    import tensorflow_recommenders as tfrs

    from tfrec_inc import data as data_lib
    from tfrec_inc.config import EvaluationConfig, ModelConfig, WindowsConfig
    from tfrec_inc.data.catalog import Catalog
    from tfrec_inc.data.windows import make_dataset, split
    from tfrec_inc.evaluation import protocol
    from tfrec_inc.models import training
    from tfrec_inc.models.factory import build
    from tfrec_inc.prepare import Prepared

    note = None
    try:
        data = data_lib.load("ml-100k")
        dataset = "ml-100k"
    except TfrecIncError as exc:
        data = data_lib.load("synthetic")
        dataset = "synthetic"
        note = f"ML-100K not found, used the embedded synthetic dataset instead ({exc})"
        log(note)
    window = split(data.interactions, WindowsConfig(mode="random", seed=42, valid_fraction=0.0,
                                                    test_fraction=0.2))[0]
    catalog = Catalog.from_interactions(data)
    prepared = Prepared.from_parts(data, [window], catalog=catalog)
    cfg = ModelConfig(name="tutorial", embedding_dim=32, user_features=False, item_features=False,
                      optimizer="adagrad", learning_rate=0.1, batch_size=8192, epochs=1, patience=0)
    tf.keras.utils.set_random_seed(0)
    model = build(cfg, prepared, window.train)
    log(f"[eval] {dataset}: training the tutorial two-tower model for 1 epoch")
    training.fit(model, make_dataset(catalog.encode(window.train), cfg.batch_size, shuffle=True, seed=0),
                 None, cfg, len(window.train), progress=False)

    users = np.unique(catalog.users.lookup(window.test["user_id"]))
    candidates = protocol.candidate_items(catalog, window)
    seen = pd.DataFrame(catalog.encode(window.history)).drop(columns="rating", errors="ignore")
    seen = seen.drop_duplicates()
    test_ds = make_dataset(catalog.encode(window.test), batch_size=4096)
    eval_cfg = EvaluationConfig(ks=[1, 5, 10, 20, 50, 100])

    # FactorizedTopK over an indexed BruteForce layer (exact, score-based like the default).
    item_vectors = tf.concat([model.item_tower({"item": candidates[i : i + 8192]})
                              for i in range(0, len(candidates), 8192)], axis=0)
    bf_metric = tfrs.metrics.FactorizedTopK(
        candidates=tfrs.layers.factorized_top_k.BruteForce(k=EVAL_K).index(item_vectors))

    def framework():
        protocol.rank_items(model, users, candidates, seen, EVAL_K, eval_cfg.user_batch_size)

    def framework_full():
        protocol.evaluate_retrieval(model, catalog, window, eval_cfg)

    def tfrs_attached():  # steady state: metric attached and test step traced beforehand
        model.evaluate(test_ds, verbose=0)

    def tfrs_call():  # the framework's whole call: attach, trace, evaluate, detach
        protocol.evaluate_tfrs_topk(model, catalog, window)

    def tfrs_bruteforce():
        model.evaluate(test_ds, verbose=0)

    def use(side):
        """Metric state each side needs before it runs (switching is not timed)."""
        if side == "tfrs_factorized_topk":
            model.attach_topk_metric(candidates, ks=(1, 5, 10, 50, EVAL_K))
            model.evaluate(test_ds.take(1), verbose=0)  # trace the new test step
        elif side == "tfrs_bruteforce_layer":
            model.task.factorized_metrics = [bf_metric]
            model.test_function = None
            model.evaluate(test_ds.take(1), verbose=0)
        else:
            model.detach_topk_metric()

    sides = {"framework_rank_items": framework, "tfrs_factorized_topk": tfrs_attached,
             "tfrs_bruteforce_layer": tfrs_bruteforce, "tfrs_evaluate_tfrs_topk_call": tfrs_call,
             "framework_evaluate_retrieval": framework_full}
    seconds = {name: [] for name in sides}
    names = list(sides)
    for r in range(args.eval_repeats + 1):  # round 0 is the warm-up
        for name in names[r % len(names):] + names[: r % len(names)]:
            use(name)
            elapsed = per_call(sides[name])
            if r:
                seconds[name].append(elapsed)
        if r:
            log(f"[eval] repeat {r}: " + ", ".join(f"{n} {s[-1]:.2f}s" for n, s in seconds.items()))
    model.detach_topk_metric()

    n_users, n_rows = len(users), len(window.test)
    med = {name: statistics.median(s) for name, s in seconds.items()}
    rate = {name: n_users / s for name, s in med.items()}
    fw = "framework_rank_items"
    result = {
        "dataset": dataset,
        "model": "TFRS-tutorial two-tower (32-d ids, Adagrad 0.1, batch 8192), 1 epoch via factory.build",
        "test_users": n_users, "test_rows": n_rows, "candidates": len(candidates), "k": EVAL_K,
        "repeats": args.eval_repeats,
        "users_per_s": {name: round(v, 1) for name, v in rate.items()},
        "seconds_median": {name: round(v, 3) for name, v in med.items()},
        # Primary: rank_items vs model.evaluate with the attached FactorizedTopK (steady state).
        "speedup": round(rate[fw] / rate["tfrs_factorized_topk"], 2),
        "speedup_vs_bruteforce_layer": round(rate[fw] / rate["tfrs_bruteforce_layer"], 2),
        "speedup_vs_evaluate_tfrs_topk_call": round(rate[fw] / rate["tfrs_evaluate_tfrs_topk_call"], 2),
        "speedup_paired_median": round(statistics.median(
            t / f for f, t in zip(seconds[fw], seconds["tfrs_factorized_topk"], strict=True)), 2),
        # FactorizedTopK ranks once per test row, rank_items once per user: per ranked query
        "per_query_speedup": round((n_users / med[fw]) / (n_rows / med["tfrs_factorized_topk"]), 2),
    }
    if note:
        result["note"] = note
    log(f"[eval] users/s: rank_items {rate[fw]:.0f}, FactorizedTopK {rate['tfrs_factorized_topk']:.0f} "
        f"-> speed-up {result['speedup']}x")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[1:]))
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000],
                        help="catalog sizes (items)")
    parser.add_argument("--repeats", type=int, default=300, help="single-query calls per layer and size")
    parser.add_argument("--batch-repeats", type=int, default=20, help="batched calls per layer and size")
    parser.add_argument("--batch-size", type=int, default=256, help="queries per batched call")
    parser.add_argument("--queries", type=int, default=1000,
                        help="evaluation queries per size (recall, timing)")
    parser.add_argument("--tune-queries", type=int, default=1000, help="queries for tuning leaves to search")
    parser.add_argument("--target-recall", type=float, default=0.9, help="recall@10 the tuning aims for")
    parser.add_argument("--reorder", type=int, default=100, help="ScaNN num_reordering_candidates")
    parser.add_argument("--clusters", type=int, default=1000, help="Gaussian mixture components")
    parser.add_argument("--eval-repeats", type=int, default=7, help="runs of each evaluator (alternating)")
    parser.add_argument("--skip-eval", action="store_true", help="skip part 2 (evaluation throughput)")
    parser.add_argument("--seed", type=int, default=0, help="base seed of the synthetic catalogs")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: sizes 2000 20000, 50 repeats, 5 batch repeats, 300 queries, "
                             "1 evaluation repeat")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.repeats, args.batch_repeats = [2_000, 20_000], 50, 5
        args.queries, args.tune_queries, args.eval_repeats, args.clusters = 300, 200, 1, 100

    import tensorflow as tf

    started = time.perf_counter()
    sizes = {}
    for n in args.sizes:
        sizes[str(n)] = bench_size(n, args, args.seed + n)
    evaluation = None if args.skip_eval else bench_evaluation(args)
    largest = sizes[str(max(args.sizes))] if sizes else None
    result = {
        "benchmark": "serving_latency",
        "k": K, "dim": DIM, "repeats": args.repeats, "batch_repeats": args.batch_repeats,
        "batch_size": args.batch_size, "queries": args.queries, "target_recall": args.target_recall,
        "quick": args.quick,
        "catalog": {"distribution": "Gaussian mixture, Dirichlet(1) cluster weights, centres N(0, I/d)",
                    "clusters": args.clusters, "noise_norm_range": list(SPREAD), "seed": args.seed},
        "tf_threads": {"intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
                       "inter_op": tf.config.threading.get_inter_op_parallelism_threads()},
        "sizes": sizes,
        "largest": None if largest is None else {
            "items": largest["items"], "scann_speedup_single_p50": largest["scann_speedup"]["single_p50"],
            "scann_speedup_batch_p50": largest["scann_speedup"]["batch_p50"],
            "scann_recall@10": largest["scann"]["recall@10"]},
        "evaluation": evaluation,
        "evaluator_speedup": None if evaluation is None else evaluation["speedup"],
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
