"""The transfer study: pretrain on a source domain, then compare ways to learn the target.

For each model and seed: one source model is trained on the source's data before its
last validation slice. Then, for each target-data fraction (the most recent share of the
target's training interactions), each mode builds a target model and is scored on the
target's last test slice with the same full-ranking protocol as every other study.
Records use the long metrics format with ``strategy`` = mode and ``window`` = the
fraction in percent (the x axis of the learning curves).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import tensorflow as tf
from tqdm.auto import tqdm

from tfrec_inc import config as config_lib
from tfrec_inc import data as data_lib
from tfrec_inc.config import ExperimentConfig
from tfrec_inc.data.catalog import Catalog
from tfrec_inc.data.history import previous_items
from tfrec_inc.data.windows import split
from tfrec_inc.evaluation import protocol
from tfrec_inc.incremental import trainer
from tfrec_inc.models.factory import build, optimizer, uses_text
from tfrec_inc.models.vocab import Vocabulary
from tfrec_inc.transfer.domains import copy_content, freeze_text, recent_fraction
from tfrec_inc.transfer.fusion import average, score_scale, tuned_ensemble


def _history(catalog: Catalog, inter: pd.DataFrame, length: int) -> np.ndarray | None:
    if not length:
        return None
    return previous_items(catalog.users.lookup(inter["user_id"]), catalog.items.lookup(inter["item_id"]),
                          inter["timestamp"].to_numpy(), length)


def run_transfer(cfg: ExperimentConfig, data, windows, catalog: Catalog, text_vectors,
                 row_history, quiet: bool) -> tuple[list[dict], list[dict]]:
    """Runs the transfer study of ``cfg`` on the already loaded target.

    Args:
      cfg: the experiment config (``transfer.source`` set).
      data, windows, catalog, text_vectors, row_history: the target's, as `experiment.run`
        prepared them.
      quiet: no progress bars.

    Returns:
      ``(records, per_user_rows)`` in the long format.
    """
    src_cfg = cfg.transfer.source
    source = data_lib.from_config(src_cfg)
    s_windows = split(source.interactions, cfg.windows)
    s_catalog = Catalog.from_interactions(source)
    s_vectors = None
    if any(uses_text(m) for m in cfg.models):
        from tfrec_inc.text.features import window_text_vectors

        s_vectors, _ = window_text_vectors(s_catalog, s_windows[0].train, cfg.encoder, progress=not quiet)
    length = max((m.history_length for m in cfg.models if m.user_history != "none"), default=0)
    s_history = _history(s_catalog, source.interactions, length)
    s_last, last = s_windows[-1], windows[-1]
    s_train = s_last.history.drop(index=s_last.valid.index)
    t_train = last.history.drop(index=last.valid.index)
    fractions = sorted(cfg.transfer.fractions)
    modes = cfg.transfer.modes

    records: list[dict] = []
    per_user: list[dict] = []
    jobs = [(m, seed) for m in cfg.models for seed in cfg.seeds]
    bar = tqdm(total=len(jobs) * len(fractions), desc=cfg.experiment, unit="fraction", disable=quiet)
    for model_cfg, seed in jobs:
        label = config_lib.model_label(model_cfg)

        def target_model(train, vocabs=None, model_cfg=model_cfg):
            return build(model_cfg, catalog, train, text_vectors, cfg.encoder, vocabs)

        def emit(mode, percent, model, extra=(), model_cfg=model_cfg, label=label, seed=seed):
            base = dict(experiment=cfg.experiment, dataset=cfg.data.dataset, model=label,
                        strategy=mode, seed=seed, window=percent)
            users: list[dict] = []
            found = protocol.evaluate_retrieval(model, catalog, last, cfg.evaluation, per_user=users)
            records.extend({**base, **r} for r in [*extra, *found])
            per_user.extend({**base, "group": "all", **u} for u in users)

        def cost(fitted, seconds=None):
            seconds = fitted.seconds if seconds is None else seconds
            return [{"group": "all", "metric": "train_seconds", "k": None, "value": seconds},
                    {"group": "all", "metric": "train_examples", "k": None, "value": float(fitted.examples)}]

        source_model = zero_shot = None
        if model_cfg.type == "retrieval":
            tf.keras.utils.set_random_seed(seed)
            source_model = build(model_cfg, s_catalog, s_train, s_vectors, cfg.encoder)
            trainer.fit_frames(source_model, s_catalog, s_train, s_last.valid, s_history, model_cfg, seed,
                               progress=not quiet, desc="source")
            # Zero-shot: no target ids at all, so only the content paths score.
            zero_shot = target_model(t_train, (Vocabulary(), Vocabulary()))
            copy_content(source_model, zero_shot)
            # The same model untrained: what the pretrained text encoder gives on its own.
            tf.keras.utils.set_random_seed(seed)
            encoder_only = target_model(t_train, (Vocabulary(), Vocabulary()))
        for fraction in fractions:
            percent = int(round(fraction * 100))
            subset = recent_fraction(t_train, fraction)
            step_seed = seed * 1000 + percent
            if model_cfg.type == "popularity":
                emit("scratch", percent, target_model(subset))
                bar.update(1)
                continue
            trained = {}
            for mode in ("scratch", "fine_tune", "freeze_text"):
                needed = mode in modes or (mode == "scratch" and "fusion_score" in modes) or (
                    mode == "fine_tune" and "fusion_weights" in modes)
                if not needed:
                    continue
                tf.keras.utils.set_random_seed(step_seed)
                model = target_model(subset)
                if mode != "scratch":
                    copy_content(source_model, model)
                if mode == "freeze_text":
                    freeze_text(model)
                    model.compile(optimizer(model_cfg))  # Keras reads `trainable` at compile
                fitted, _ = trainer.fit_frames(model, catalog, subset, last.valid, row_history, model_cfg,
                                               step_seed, progress=not quiet, desc=f"{mode} {percent}%")
                trained[mode] = (model, fitted)
                if mode in modes:
                    emit(mode, percent, model, cost(fitted))
            if "zero_shot" in modes:
                emit("zero_shot", percent, zero_shot)
            if "encoder_only" in modes:
                emit("encoder_only", percent, encoder_only)
            if "fusion_score" in modes:
                start = time.perf_counter()
                scratch, fitted = trained["scratch"]
                users, items = np.arange(1, 200), np.arange(1, min(len(catalog.items), 500))
                scales = [score_scale(zero_shot, users, items), score_scale(scratch, users, items)]
                fused, best = tuned_ensemble(
                    zero_shot, scratch, scales,
                    lambda m: protocol.validation_recall(m, catalog, last, cfg.evaluation))
                extra = [*cost(fitted, fitted.seconds + time.perf_counter() - start),
                         {"group": "all", "metric": "fusion_weight", "k": None, "value": best}]
                emit("fusion_score", percent, fused, extra)
            if "fusion_weights" in modes:
                tuned, fitted = trained["fine_tune"]
                fused = average(zero_shot, tuned, 0.5, lambda v, s=subset: target_model(s, v))
                emit("fusion_weights", percent, fused, cost(fitted))
            bar.update(1)
    bar.close()
    return records, per_user
