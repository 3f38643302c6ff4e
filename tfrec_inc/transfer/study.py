"""The transfer study: pretrain on a source domain, then compare ways to learn the target.

For each model and seed: one source model is trained on the source's data before its
last validation slice. Then, for each target-data fraction (the most recent share of the
target's training interactions), each mode builds a target model and is scored on the
target's last test slice with the same full-ranking protocol as every other study.
Records use the long metrics format with ``strategy`` = mode and ``window`` = the
fraction in percent (the x axis of the learning curves).

Ids do not carry across domains, but a model whose items are described by text and whose
users by the text of their recent items has domain-independent parts (text projection,
history pooling, MLPs): `tfrec_inc.models.weights.copy_content` carries those.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence

import numpy as np
import pandas as pd
import tensorflow as tf
from tqdm.auto import tqdm

from tfrec_inc import config as config_lib
from tfrec_inc.config import ExperimentConfig, ModelConfig
from tfrec_inc.data.vocab import Vocabulary
from tfrec_inc.data.windows import Window, recent_fraction, valid_halves
from tfrec_inc.evaluation import protocol, selection
from tfrec_inc.models import training
from tfrec_inc.models.base import TwoTower
from tfrec_inc.models.factory import build, is_trained, optimizer
from tfrec_inc.models.fusion import average, score_scale, tuned_ensemble
from tfrec_inc.models.weights import copy_content, freeze_text
from tfrec_inc.prepare import Prepared, prepare
from tfrec_inc.results import JobKey, Record, ResultsStore, StudyOutput, record, with_columns

TRAINED_MODES = ("scratch", "fine_tune", "freeze_text")


@dataclasses.dataclass
class _Seeded:
    """One (model, seed) of the study: its source-side models and the target it writes."""

    cfg: ExperimentConfig
    target: Prepared
    model_cfg: ModelConfig
    seed: int
    out: StudyOutput
    train: pd.DataFrame  # the target's data before its last validation slice (shares cut from it)
    zero_shot: TwoTower | None = None
    encoder_only: TwoTower | None = None
    source_model: TwoTower | None = None

    def model(self, train: pd.DataFrame, vocabs: tuple[Vocabulary, Vocabulary] | None = None) -> TwoTower:
        """A target-domain model of this job's config."""
        return build(self.model_cfg, self.target, train, vocabs)

    def emit(self, mode: str, percent: int, model: TwoTower | None, extra: Sequence[Record] = ()) -> None:
        """Scores ``model`` on the target's last test slice and records it as ``mode``."""
        assert model is not None, f"{mode}: no model (source-side models exist for retrieval models)"
        key = JobKey(config_lib.model_label(self.model_cfg), mode, self.seed)
        base = key.columns(self.cfg, percent)
        users: list[Record] = []
        found = protocol.evaluate_retrieval(model, self.target.catalog, self.target.windows[-1],
                                            self.cfg.evaluation, per_user=users, seed=self.seed,
                                            per_user_ks=protocol.paired_ks(self.cfg.report.metrics,
                                                                           self.cfg.evaluation.ks))
        self.out.extend(*with_columns(base, [*extra, *found], users))


def run(cfg: ExperimentConfig, prepared: Prepared, store: ResultsStore, quiet: bool) -> StudyOutput:
    """Runs the transfer study of ``cfg`` on the prepared target domain.

    Args:
      cfg: the experiment config (``study: transfer``, ``transfer.source`` set).
      prepared: the target domain.
      store: the run's results folder (unused: transfer jobs are not checkpointed).
      quiet: no progress bars.

    Returns:
      The records and per-user rows.
    """
    source = prepare(cfg, cfg.transfer.source, quiet=quiet)
    out = StudyOutput()
    fractions = sorted(cfg.transfer.fractions)
    jobs = [(m, seed) for m in cfg.models for seed in cfg.seeds]
    bar = tqdm(total=len(jobs) * len(fractions), desc=cfg.experiment, unit="fraction", disable=quiet)
    target_train = prepared.train_before_valid()
    for model_cfg, seed in jobs:
        job = _Seeded(cfg, prepared, model_cfg, seed, out, target_train)
        if model_cfg.type == "retrieval":
            _pretrain(job, source, quiet)
        for fraction in fractions:
            _fraction(job, fraction, quiet)
            bar.update(1)
    bar.close()
    return out


def _pretrain(job: _Seeded, source: Prepared, quiet: bool) -> None:
    """Trains the source model and derives the zero-shot target model from it."""
    tf.keras.utils.set_random_seed(job.seed)
    s_train = source.train_before_valid()
    job.source_model = build(job.model_cfg, source, s_train)
    monitor = protocol.validation_monitor(job.model_cfg.type, source.catalog, source.windows[-1],
                                          job.cfg.evaluation, source.row_history, job.seed)
    training.fit_frames(job.source_model, source.catalog, s_train, monitor,
                        source.row_history, job.model_cfg, job.seed, progress=not quiet,
                        desc=f"source seed {job.seed}")
    # Zero-shot: no target ids at all, so only the content paths score.
    job.zero_shot = job.model(job.train, (Vocabulary(), Vocabulary()))
    copy_content(job.source_model, job.zero_shot)
    if "encoder_only" in job.cfg.transfer.modes:
        # The same model untrained: what the pretrained text encoder gives on its own.
        # Its own seed, so its initialisation does not depend on which modes ran before.
        tf.keras.utils.set_random_seed(job.seed + 1)
        job.encoder_only = job.model(job.train, (Vocabulary(), Vocabulary()))


def _fraction(job: _Seeded, fraction: float, quiet: bool) -> None:
    """Every configured mode at one share of the target's training data."""
    modes, target = job.cfg.transfer.modes, job.target
    percent = int(round(fraction * 100))
    per_user = job.cfg.windows.mode in ("leave_one_out", "given")
    subset = recent_fraction(job.train, fraction, per_user)
    if not is_trained(job.model_cfg):  # computed from the share itself (e.g. popularity)
        model, chosen = selection.tuned(job.model_cfg, target, subset, target.windows[-1], job.cfg.evaluation,
                                        seed=job.seed * 1000 + percent)
        job.emit("scratch", percent, model, selection.param_records(chosen))
        return
    trained = _train_modes(job, subset, percent, quiet)
    assert job.zero_shot is not None  # `_pretrain` ran: a trained (retrieval) model
    if "zero_shot" in modes:
        job.emit("zero_shot", percent, job.zero_shot)
    if "encoder_only" in modes:
        assert job.encoder_only is not None  # built by `_pretrain`
        job.emit("encoder_only", percent, job.encoder_only)
    if "fusion_score" in modes:
        _fusion_score(job, trained["fusion_scratch"], percent)
    if "fusion_weights" in modes:
        tuned, fitted = trained["fine_tune"]
        fused = average(job.zero_shot, tuned, 0.5, lambda v: job.model(subset, v))
        job.emit("fusion_weights", percent, fused, _cost(fitted))


def _train_modes(job: _Seeded, subset: pd.DataFrame, percent: int, quiet: bool
                 ) -> dict[str, tuple[TwoTower, training.FitResult]]:
    """Trains the modes that learn from target data (and those fusion needs).

    ``fusion_score`` gets its own scratch model, early-stopped on half A of the target's
    validation users (`tfrec_inc.data.windows.valid_halves`), so that its weight can be
    tuned on half B: users the epoch was not chosen for.
    """
    modes, last = job.cfg.transfer.modes, job.target.windows[-1]
    trained = {}
    for mode in TRAINED_MODES:
        if mode in modes or (mode == "fine_tune" and "fusion_weights" in modes):
            trained[mode] = _fit_mode(job, subset, mode, last, percent, quiet)
            if mode in modes:
                job.emit(mode, percent, trained[mode][0], _cost(trained[mode][1]))
    if "fusion_score" in modes:
        trained["fusion_scratch"] = _fit_mode(job, subset, "scratch", valid_halves(last)[0], percent, quiet)
    return trained


def _fit_mode(job: _Seeded, subset: pd.DataFrame, mode: str, stop_on: Window, percent: int,
              quiet: bool) -> tuple[TwoTower, training.FitResult]:
    """One target model of ``mode``, early-stopped on ``stop_on``'s validation slice."""
    monitor = protocol.validation_monitor(job.model_cfg.type, job.target.catalog, stop_on,
                                          job.cfg.evaluation, job.target.row_history, job.seed)
    step_seed = job.seed * 1000 + percent
    tf.keras.utils.set_random_seed(step_seed)
    model = job.model(subset)
    if mode != "scratch":
        assert job.source_model is not None
        copy_content(job.source_model, model)
    if mode == "freeze_text":
        freeze_text(model)
        model.compile(optimizer(job.model_cfg))  # Keras reads `trainable` at compile
    fitted, _ = training.fit_frames(model, job.target.catalog, subset, monitor, job.target.row_history,
                                    job.model_cfg, step_seed, progress=not quiet,
                                    desc=f"{mode} {percent}% seed {job.seed}")
    return model, fitted


def _fusion_score(job: _Seeded, scratch_fit: tuple[TwoTower, training.FitResult], percent: int) -> None:
    """Score ensemble of the zero-shot and the scratch model, weight tuned on validation half B."""
    start = time.perf_counter()
    scratch, fitted = scratch_fit
    assert job.zero_shot is not None
    catalog = job.target.catalog
    users = np.arange(1, min(len(catalog.users), 200))
    items = np.arange(1, min(len(catalog.items), 500))
    scales = [score_scale(job.zero_shot, users, items), score_scale(scratch, users, items)]
    fused, best = tuned_ensemble(
        job.zero_shot, scratch, scales,
        lambda m: protocol.validation_recall(m, catalog, valid_halves(job.target.windows[-1])[1],
                                             job.cfg.evaluation, job.seed))
    extra = [*_cost(fitted, fitted.seconds + time.perf_counter() - start), record("fusion_weight", best)]
    job.emit("fusion_score", percent, fused, extra)


def _cost(fitted: training.FitResult, seconds: float | None = None) -> list[Record]:
    seconds = fitted.seconds if seconds is None else seconds
    return [record("train_seconds", seconds), record("train_examples", fitted.examples)]
