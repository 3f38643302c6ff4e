"""One compression variant of a trained two-tower model: what to serve and what it cost.

The single entry point `compress` is shared by the compression study
(`tfrec_inc.compression.study`) and the incremental loop (``compression.after_update``).
The trained model is never modified: variants that change layers work on a copy.

| variant | what is served (and scored) | exported artefact |
| --- | --- | --- |
| ``fp32`` | the Keras model | fp32 TFLite pair |
| ``fp32_finetuned`` | Keras copy, fine-tuned like ``prune_*`` (their control) | fp32 TFLite pair |
| ``prune_<N>`` | Keras copy, pruned to N % with fine-tuning, stripped | fp32 TFLite pair |
| ``qat_int8`` | int8 TFLite pair of the QAT fine-tuned copy | that pair |
| ``tflite_dynamic`` / ``_float16`` / ``_int8`` | the TFLite pair (interpreters) | that pair |
| ``rowwise_int8`` | Keras copy with row-wise int8 tables | TFLite pair (int8 tables) |
"""

from __future__ import annotations

import dataclasses
import math
import re
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import tensorflow as tf

from tfrec_inc.compression import pruning, qat, rowwise
from tfrec_inc.compression.layers import copy_model
from tfrec_inc.compression.tflite import TFLiteModel
from tfrec_inc.config import CompressionConfig, ModelConfig
from tfrec_inc.data.catalog import Catalog
from tfrec_inc.data.windows import make_dataset
from tfrec_inc.models import training
from tfrec_inc.models.factory import optimizer
from tfrec_inc.results import record

TFLITE_MODES = {"tflite_dynamic": "dynamic", "tflite_float16": "float16", "tflite_int8": "int8"}


@dataclasses.dataclass(frozen=True)
class FineTuneData:
    """The training data a variant may need: fine-tuning batches and calibration inputs.

    Attributes:
      features: the encoded training examples (`Catalog.encode`).
      examples: their number (for the pruning schedule's step count).
      batch_size: fine-tuning batch size.
      shuffle_buffer: shuffle buffer of the fine-tuning pipeline.
      seed: shuffling seed.
      user_samples: user-tower inputs of sampled training examples (``user`` [, ``history``]):
        the ``tflite_int8`` calibration set.
      item_samples: item-tower inputs (``item``) of the same examples.
    """

    features: dict[str, np.ndarray]
    examples: int
    batch_size: int
    shuffle_buffer: int
    seed: int
    user_samples: dict[str, np.ndarray]
    item_samples: dict[str, np.ndarray]

    @classmethod
    def from_frame(cls, catalog: Catalog, frame: pd.DataFrame, row_history: np.ndarray | None,
                   history_length: int, model_cfg: ModelConfig, seed: int, samples: int) -> FineTuneData:
        """Encodes ``frame`` (interactions) into the fine-tuning data of a model.

        Args:
          catalog: the dataset's catalog.
          frame: the training interactions.
          row_history: per-row item history (for history-pooling models), or None.
          history_length: the model's history length.
          model_cfg: batch size and shuffle buffer of the fine-tuning.
          seed: shuffling and sampling seed.
          samples: examples drawn for calibration.

        Returns:
          The `FineTuneData`.
        """
        enc = catalog.encode(frame, row_history, history_length)
        rng = np.random.default_rng(seed)
        pick = rng.choice(len(frame), size=min(samples, len(frame)), replace=False)
        users = {"user": enc["user"][pick]}
        if history_length:
            users["history"] = enc["history"][pick]
        return cls(enc, len(frame), model_cfg.batch_size, model_cfg.shuffle_buffer, seed, users,
                   {"item": enc["item"][pick]})

    def dataset(self) -> tf.data.Dataset:
        """A fresh shuffled, batched pipeline.

        Fresh on every call: a reshuffling dataset's epoch order depends on how often the
        same object was iterated before, so each fine-tuning gets its own, and every
        variant sees the same batches whatever the order of the variant list.
        """
        return make_dataset(self.features, self.batch_size, shuffle=True, seed=self.seed,
                            shuffle_buffer=self.shuffle_buffer)


@dataclasses.dataclass
class Compressed:
    """A compressed model.

    Attributes:
      served: what is evaluated: a Keras model or a `TFLiteModel` (both have
        ``user_tower``, ``item_tower`` and ``history_length``).
      keras: the Keras model behind a Keras-side variant (fp32[_finetuned], pruned, row-wise), else None.
      tflite: the exported TFLite pair (the artefact of the size and latency figures), or
        None when not exported (``export=False`` and a Keras-side variant).
      sparsity: measured fraction of exact zeros over the prunable kernels (``fp32``,
        ``fp32_finetuned``, ``prune_*``), else None.
      seconds: wall time of making the variant (fine-tuning, conversion).
    """

    served: Any
    keras: Any | None
    tflite: TFLiteModel | None
    sparsity: float | None
    seconds: float


def prune_target(variant: str) -> float | None:
    """``prune_80`` -> 0.8; None for other variants."""
    match = re.fullmatch(r"prune_(\d{1,2})", variant)
    return int(match.group(1)) / 100 if match else None


def _finetune(twin, data: FineTuneData, model_cfg: ModelConfig, cfg: CompressionConfig, progress: bool,
              desc: str, callbacks=None) -> None:
    tuned = dataclasses.replace(model_cfg, epochs=cfg.finetune_epochs, patience=0,
                                learning_rate=cfg.finetune_learning_rate or model_cfg.learning_rate)
    twin.compile(optimizer(tuned))  # fresh optimizer: the new layers' variables are its slots' keys
    training.fit(twin, data.dataset(), None, tuned, data.examples, progress=progress, desc=desc,
                callbacks=callbacks)


def compress(variant: str, model, clone: Callable[[], Any], data: FineTuneData, model_cfg: ModelConfig,
             cfg: CompressionConfig, export: bool = True, progress: bool = False) -> Compressed:
    """Makes one compression variant of a trained retrieval model.

    Args:
      variant: a name from `tfrec_inc.config.COMPRESSION_VARIANTS` (or ``prune_<N>``).
      model: the trained Keras two-tower model (left unchanged).
      clone: returns an untrained model of the same architecture and vocabularies, to
        copy ``model`` into (see `tfrec_inc.compression.layers.copy_model`).
      data: fine-tuning and calibration data.
      model_cfg: the model's config (batch size, optimizer of the fine-tuning).
      cfg: the compression settings.
      export: also convert Keras-side variants to their TFLite artefact.
      progress: show fine-tuning progress bars.

    Returns:
      A `Compressed`.

    Example (``rowwise_int8`` of an untrained model of a tiny domain; the fine-tuned
    variants, e.g. ``prune_80``, are called the same way but train for a few epochs):
      >>> from tfrec_inc import config
      >>> from tfrec_inc.models.factory import build
      >>> from tfrec_inc.prepare import prepare
      >>> cfg = config.from_dict({"data": {"options": {"num_users": 60, "num_items": 40,
      ...     "num_interactions": 600}}, "windows": {"num_windows": 2}})
      >>> prepared = prepare(cfg)
      >>> model_cfg, train = cfg.models[0], prepared.base_train
      >>> model = build(model_cfg, prepared, train)
      >>> from tfrec_inc.evaluation import protocol
      >>> clone = lambda: build(model_cfg, prepared, train, (model.user_vocab, model.item_vocab))
      >>> data = FineTuneData.from_frame(prepared.catalog, train, None, 0, model_cfg, seed=0, samples=100)
      >>> out = compress("rowwise_int8", model, clone, data, model_cfg, cfg.compression, export=False)
      >>> out.served is out.keras, out.tflite is None
      (True, True)
      >>> records = protocol.evaluate_retrieval(out.served, prepared.catalog, prepared.windows[0],
      ...                                       cfg.evaluation)
    """
    start = time.perf_counter()
    keras_model, pair, zeros = None, None, None
    target = prune_target(variant)
    if variant == "fp32":
        keras_model = model
        zeros = pruning.sparsity(model)
    elif variant == "fp32_finetuned":
        # The same extra training as the compressed fine-tuned variants, without compression:
        # what fine-tuning alone changes, so their compression cost can be told apart.
        keras_model = copy_model(model, clone)
        _finetune(keras_model, data, model_cfg, cfg, progress, variant)
        zeros = pruning.sparsity(keras_model)
    elif target is not None:
        keras_model = copy_model(model, clone)
        steps = cfg.finetune_epochs * math.ceil(data.examples / model_cfg.batch_size)
        pruning.prune(keras_model, target, steps)
        _finetune(keras_model, data, model_cfg, cfg, progress, variant, [pruning.UpdatePruningStep()])
        pruning.strip(keras_model)
        zeros = pruning.sparsity(keras_model)
    elif variant == "qat_int8":
        twin = copy_model(model, clone)
        qat.make_quantization_aware(twin)
        _finetune(twin, data, model_cfg, cfg, progress, variant)
        # Optimize.DEFAULT on fake-quant layers: int8 kernels with the ranges QAT learned.
        pair = TFLiteModel.from_model(twin, "dynamic")
    elif variant in TFLITE_MODES:
        pair = TFLiteModel.from_model(model, TFLITE_MODES[variant], data.user_samples, data.item_samples)
    elif variant == "rowwise_int8":
        keras_model = copy_model(model, clone)
        rowwise.quantize_tables(keras_model)
    else:
        raise ValueError(f"unknown compression variant {variant!r}")
    if pair is None and export:
        pair = TFLiteModel.from_model(keras_model, "fp32")
    served = keras_model if keras_model is not None else pair
    return Compressed(served, keras_model, pair, zeros, time.perf_counter() - start)


def after_update(cfg: CompressionConfig, model, catalog: Catalog, frame: pd.DataFrame,
                 row_history: np.ndarray | None, model_cfg: ModelConfig, seed: int,
                 build: Callable[[tuple], Any], progress: bool = False) -> tuple[Any, list[dict]]:
    """The incremental loop's hook: compresses the model an update just produced.

    The compressed model is what gets evaluated (and would be deployed); the loop keeps
    the uncompressed model for the next update's warm start.

    Args:
      cfg: compression settings (``after_update`` names the variant).
      model: the updated Keras retrieval model (left unchanged).
      catalog: the dataset's catalog.
      frame: the update's training interactions (fine-tuning and calibration data).
      row_history: per-row item history, or None.
      model_cfg: the model's config.
      seed: the update's seed.
      build: ``build(vocabs) -> untrained model`` of this architecture.
      progress: show fine-tuning progress bars.

    Returns:
      ``(served, records)``: the compressed model and records (``compress_seconds``,
      ``sparsity``) for the step.

    Example (``rowwise_int8`` after an update, on a tiny domain):
      >>> from tfrec_inc import config
      >>> from tfrec_inc.models.factory import build
      >>> from tfrec_inc.prepare import prepare
      >>> cfg = config.from_dict({"data": {"options": {"num_users": 60, "num_items": 40,
      ...     "num_interactions": 600}}, "windows": {"num_windows": 2}})
      >>> prepared = prepare(cfg)
      >>> model_cfg, train = cfg.models[0], prepared.base_train
      >>> model = build(model_cfg, prepared, train)
      >>> served, extra = after_update(CompressionConfig(after_update="rowwise_int8"), model,
      ...     prepared.catalog, train, None, model_cfg, 0, lambda v: build(model_cfg, prepared, train, v))
      >>> served is not model, [r["metric"] for r in extra]
      (True, ['compress_seconds'])
    """
    assert cfg.after_update is not None, "only called when compression.after_update is set"
    data = FineTuneData.from_frame(catalog, frame, row_history, model.history_length, model_cfg, seed,
                                   cfg.calibration_examples)
    out = compress(cfg.after_update, model, lambda: build((model.user_vocab, model.item_vocab)), data,
                   model_cfg, cfg, export=False, progress=progress)
    records = [record("compress_seconds", out.seconds)]
    if out.sparsity is not None:
        records.append(record("sparsity", out.sparsity))
    return out.served, records
