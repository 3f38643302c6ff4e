"""The compression study: one trained model per (model, seed), every variant scored alike.

For each retrieval model and seed, the model is trained on everything before the last
window's validation slice (what ``full_retrain`` serves at the last window; early stopping
on that validation slice), then each configured variant is made from it
(`tfrec_inc.compression.variants.compress`) and scored on the last window's test slice
with the standard full-ranking protocol. Records use the long metrics format with
``strategy`` = variant and ``window`` = the last window's index; besides the ranking
metrics each variant records:

- ``size_bytes`` / ``size_gzip_bytes``: its TFLite flatbuffers of both towers (every
  table included), raw and gzip -9 — the artefact of every variant, so sizes compare;
- ``size_index_bytes``: the part of ``size_bytes`` that is integer index tables
  (catalog index -> embedding row / feature code), which no quantization shrinks;
- ``savedmodel_bytes`` / ``savedmodel_gzip_bytes``: both towers as TF SavedModels
  (Keras-side variants: fp32, prune_*, rowwise_int8);
- ``sparsity``: measured fraction of exact zeros in the prunable kernels (fp32, prune_*);
- ``latency_p50_ms`` / ``latency_p99_ms``: one request at a time through the TFLite user
  tower plus brute-force scoring of every candidate item (`latency`);
- ``compress_seconds`` (and the base model's ``train_seconds`` on the fp32 row).

Computed baselines (popularity, ItemKNN, iALS, EASE, ...) in ``models`` are not
compressed: each is tuned on the same validation slice, built on the same training data
and scored once as variant ``uncompressed``, so the table shows what the compressed
models are worth next to a count (sizes and latency are not measured for them).
"""

from __future__ import annotations

import zlib

import tensorflow as tf
from tqdm.auto import tqdm

from tfrec_inc import config as config_lib
from tfrec_inc.compression.latency import single_query_latency
from tfrec_inc.compression.size import blobs_size, constant_bytes, saved_model_size
from tfrec_inc.compression.variants import Compressed, FineTuneData, compress
from tfrec_inc.config import ExperimentConfig, ModelConfig
from tfrec_inc.evaluation import protocol, selection
from tfrec_inc.models import training
from tfrec_inc.models.factory import build, is_trained
from tfrec_inc.prepare import Prepared
from tfrec_inc.results import JobKey, Record, ResultsStore, StudyOutput, record, with_columns

UNCOMPRESSED = "uncompressed"  # the variant label of a computed baseline's one row


def run(cfg: ExperimentConfig, prepared: Prepared, store: ResultsStore, quiet: bool) -> StudyOutput:
    """Runs the compression study of ``cfg`` (``study: compression``).

    Args:
      cfg: the experiment config.
      prepared: the domain.
      store: the run's results folder (unused: jobs are not checkpointed).
      quiet: no progress bars.

    Returns:
      The records and per-user rows.
    """
    out = StudyOutput()
    jobs = [(m, seed) for m in cfg.models for seed in cfg.seeds if is_trained(m)]
    bar = tqdm(total=len(jobs) * len(cfg.compression.variants), desc=cfg.experiment, unit="variant",
               disable=quiet)
    for model_cfg, seed in jobs:
        _job(cfg, prepared, model_cfg, seed, out, bar, quiet)
    bar.close()
    for model_cfg in cfg.models:
        if not is_trained(model_cfg):
            for seed in cfg.seeds:
                _baseline(cfg, prepared, model_cfg, seed, out)
    return out


def _baseline(cfg: ExperimentConfig, prepared: Prepared, model_cfg: ModelConfig, seed: int,
              out: StudyOutput) -> None:
    """A computed baseline on the base models' training data: tuned, built, scored (``uncompressed``)."""
    last, train = prepared.windows[-1], prepared.train_before_valid()
    model, chosen = selection.tuned(model_cfg, prepared, train, last, cfg.evaluation, seed=seed)
    base = JobKey(config_lib.model_label(model_cfg), UNCOMPRESSED, seed).columns(cfg, last.index)
    users: list[Record] = []
    found = protocol.evaluate_retrieval(model, prepared.catalog, last, cfg.evaluation, per_user=users,
                                        seed=seed, per_user_ks=protocol.paired_ks(cfg.report.metrics,
                                                                                cfg.evaluation.ks))
    out.extend(*with_columns(base, [*selection.param_records(chosen), *found], users))


def _job(cfg: ExperimentConfig, prepared: Prepared, model_cfg: ModelConfig, seed: int, out: StudyOutput,
         bar: tqdm, quiet: bool) -> None:
    """Trains one (model, seed) base model, then makes and scores every variant of it."""
    comp, catalog, history = cfg.compression, prepared.catalog, prepared.row_history
    last, train = prepared.windows[-1], prepared.train_before_valid()
    label = config_lib.model_label(model_cfg)
    tf.keras.utils.set_random_seed(seed)
    model = build(model_cfg, prepared, train)
    length = model.history_length
    data = FineTuneData.from_frame(catalog, train, history, length, model_cfg, seed,
                                   comp.calibration_examples)
    monitor = protocol.validation_monitor(model_cfg.type, catalog, last, cfg.evaluation, history, seed)
    fitted = training.fit(model, data.dataset(), monitor, model_cfg, len(train), progress=not quiet,
                          desc=f"{label} seed {seed}")
    # Requests as they would arrive: test-slice users with the history they had then.
    asked = last.test.sample(n=min(comp.latency_queries, len(last.test)), random_state=seed)
    enc = catalog.encode(asked, history, length)
    names = ["user", "history"] if length else ["user"]
    queries = [{name: enc[name][i : i + 1] for name in names} for i in range(len(asked))]
    candidates = protocol.candidate_items(catalog, last)
    for variant in comp.variants:
        bar.set_postfix_str(f"{label} seed {seed}: {variant}")
        # A seed per (seed, variant name): the list's order does not change any variant.
        tf.keras.utils.set_random_seed(seed * 1000 + zlib.crc32(variant.encode()) % 1000)
        compressed = compress(variant, model, lambda: build(model_cfg, prepared, train,
                                                            (model.user_vocab, model.item_vocab)),
                              data, model_cfg, comp, export=True, progress=not quiet)
        assert compressed.tflite is not None  # export=True: every variant has its TFLite pair
        base = JobKey(label, variant, seed).columns(cfg, last.index)
        users: list[Record] = []
        found = protocol.evaluate_retrieval(compressed.served, catalog, last, cfg.evaluation, per_user=users,
                                            seed=seed, per_user_ks=protocol.paired_ks(cfg.report.metrics,
                                                                                    cfg.evaluation.ks))
        extra = _sizes(compressed, fitted.seconds if variant == "fp32" else None)
        item_vectors = compressed.tflite.item_tower({"item": candidates})
        latency = single_query_latency(compressed.tflite.user_tower, item_vectors, queries)
        extra += [record(name, value) for name, value in latency.items()]
        out.extend(*with_columns(base, [*extra, *found], users))
        bar.update(1)


def _sizes(compressed: Compressed, train_seconds: float | None) -> list[Record]:
    """A variant's records besides quality: sizes, compression (and base training) time, sparsity."""
    assert compressed.tflite is not None
    size = blobs_size(compressed.tflite.flatbuffers)
    index = sum(int(constant_bytes(b).get(dtype, 0)) for b in compressed.tflite.flatbuffers
                for dtype in ("int64", "int32"))
    extra = [record("size_bytes", size.raw), record("size_gzip_bytes", size.gzip),
             record("size_index_bytes", index), record("compress_seconds", compressed.seconds)]
    if train_seconds is not None:
        extra.append(record("train_seconds", train_seconds))
    if compressed.keras is not None:
        saved = saved_model_size(compressed.keras)
        extra += [record("savedmodel_bytes", saved.raw), record("savedmodel_gzip_bytes", saved.gzip)]
    if compressed.sparsity is not None:
        extra.append(record("sparsity", compressed.sparsity))
    return extra
