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
"""

from __future__ import annotations

import zlib

import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from tfrec_inc import config as config_lib
from tfrec_inc.compression.latency import single_query_latency
from tfrec_inc.compression.size import blobs_size, constant_bytes, saved_model_size
from tfrec_inc.compression.variants import FineTuneData, compress
from tfrec_inc.config import ExperimentConfig
from tfrec_inc.data.catalog import Catalog
from tfrec_inc.data.windows import make_dataset
from tfrec_inc.evaluation import protocol
from tfrec_inc.incremental import trainer
from tfrec_inc.models.factory import build


def _record(metric: str, value: float) -> dict:
    return {"group": "all", "metric": metric, "k": None, "value": float(value)}


def run_compression(cfg: ExperimentConfig, windows, catalog: Catalog, text_vectors: np.ndarray | None,
                    row_history: np.ndarray | None, quiet: bool) -> tuple[list[dict], list[dict]]:
    """Runs the compression study of ``cfg`` (``compression.variants`` set).

    Args:
      cfg: the experiment config.
      windows, catalog, text_vectors, row_history: as `tfrec_inc.experiment.run` prepared them.
      quiet: no progress bars.

    Returns:
      ``(records, per_user_rows)`` in the long format.

    Example:
      >>> records, per_user = run_compression(cfg, windows, catalog, vectors, history, True)
      ... # doctest: +SKIP
    """
    comp = cfg.compression
    last = windows[-1]
    train = last.history.drop(index=last.valid.index)
    candidates = protocol.candidate_items(catalog, last)
    records: list[dict] = []
    per_user: list[dict] = []
    jobs = [(m, seed) for m in cfg.models for seed in cfg.seeds]
    bar = tqdm(total=len(jobs) * len(comp.variants), desc=cfg.experiment, unit="variant", disable=quiet)
    for model_cfg, seed in jobs:
        label = config_lib.model_label(model_cfg)
        tf.keras.utils.set_random_seed(seed)
        model = build(model_cfg, catalog, train, text_vectors, cfg.encoder)
        length = model.history_length
        data = FineTuneData.from_frame(catalog, train, row_history, length, model_cfg, seed,
                                       comp.calibration_examples)
        valid_ds = None
        if len(last.valid):
            valid_ds = make_dataset(catalog.encode(last.valid, row_history, length), model_cfg.batch_size)
        fitted = trainer.fit(model, data.dataset(), valid_ds, model_cfg, len(train), progress=not quiet,
                             desc=f"{label} seed {seed}")
        # Requests as they would arrive: test-slice users with the history they had then.
        asked = last.test.sample(n=min(comp.latency_queries, len(last.test)), random_state=seed)
        enc = catalog.encode(asked, row_history, length)
        names = ["user", "history"] if length else ["user"]
        queries = [{name: enc[name][i : i + 1] for name in names} for i in range(len(asked))]

        def clone(model_cfg=model_cfg, model=model):
            return build(model_cfg, catalog, train, text_vectors, cfg.encoder,
                         (model.user_vocab, model.item_vocab))

        for variant in comp.variants:
            bar.set_postfix_str(f"{label} seed {seed}: {variant}")
            # A seed per (seed, variant name): the list's order does not change any variant.
            tf.keras.utils.set_random_seed(seed * 1000 + zlib.crc32(variant.encode()) % 1000)
            out = compress(variant, model, clone, data, model_cfg, comp, export=True, progress=not quiet)
            base = dict(experiment=cfg.experiment, dataset=cfg.data.dataset, model=label, strategy=variant,
                        seed=seed, window=last.index)
            users: list[dict] = []
            found = protocol.evaluate_retrieval(out.served, catalog, last, cfg.evaluation, per_user=users)
            size = blobs_size(out.tflite.flatbuffers)
            index = sum(constant_bytes(b).get(dtype, 0) for b in out.tflite.flatbuffers
                        for dtype in ("int64", "int32"))
            extra = [_record("size_bytes", size.raw), _record("size_gzip_bytes", size.gzip),
                     _record("size_index_bytes", index), _record("compress_seconds", out.seconds)]
            if variant == "fp32":
                extra.append(_record("train_seconds", fitted.seconds))
            if out.keras is not None:
                saved = saved_model_size(out.keras)
                extra += [_record("savedmodel_bytes", saved.raw),
                          _record("savedmodel_gzip_bytes", saved.gzip)]
            if out.sparsity is not None:
                extra.append(_record("sparsity", out.sparsity))
            item_vectors = out.tflite.item_tower({"item": candidates})
            latency = single_query_latency(out.tflite.user_tower, item_vectors, queries)
            extra += [_record(name, value) for name, value in latency.items()]
            records.extend({**base, **r} for r in [*extra, *found])
            per_user.extend({**base, "group": "all", **u} for u in users)
            bar.update(1)
    bar.close()
    return records, per_user
