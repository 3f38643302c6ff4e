"""The incremental study: every (model, strategy, seed) updated and scored window by window.

At window ``t`` the strategy says what to train on (`strategies.Strategy.update`); the
model is rebuilt with grown vocabularies and warm-started from the previous one, or
built fresh; it is trained through the shared fit loop, fused if the strategy fuses,
optionally compressed, then scored on window ``t``'s test slice (and retention on earlier
windows' test slices, which no update ever trains on: `tfrec_inc.evaluation.retention`).
A computed baseline (``trained=False``) is instead built on the strategy's data at each
update (retrain strategies only), its ``grid`` tuned on window ``t``'s validation slice
(`tfrec_inc.evaluation.selection`, chosen values recorded as ``param_<key>``). Each
finished step is checkpointed, so ``--resume`` continues exactly where an interrupted
run stopped.
"""

from __future__ import annotations

import dataclasses
import time

import pandas as pd
import tensorflow as tf
from tqdm.auto import tqdm

from tfrec_inc import config as config_lib
from tfrec_inc.config import ExperimentConfig, ModelConfig
from tfrec_inc.data.windows import Window, valid_halves
from tfrec_inc.evaluation import protocol, retention, selection
from tfrec_inc.incremental import strategies
from tfrec_inc.models import training
from tfrec_inc.models.base import TwoTower
from tfrec_inc.models.factory import build, is_trained, refit, refits
from tfrec_inc.models.retrieval import RetrievalModel
from tfrec_inc.models.weights import content_rows, warm_start
from tfrec_inc.prepare import Prepared
from tfrec_inc.results import JobKey, Record, ResultsStore, StudyOutput, record, with_columns


@dataclasses.dataclass
class _Job:
    """One (model, strategy, seed) while it runs: the model it carries and its records."""

    key: JobKey
    model_cfg: ModelConfig
    strategy: strategies.Strategy
    model: TwoTower | None = None
    own: dict[tuple[int, int], float] = dataclasses.field(default_factory=dict)
    """Each finished window's own test recall ``R[s, s]``, for backward transfer."""
    chosen: ModelConfig | None = None
    """A computed model's config with its latest tuned grid values (what `refit` keeps)."""


@dataclasses.dataclass(frozen=True)
class _Context:
    cfg: ExperimentConfig
    prepared: Prepared
    store: ResultsStore
    quiet: bool
    held_out: pd.Index

    def rebuild(self, model_cfg: ModelConfig):
        """``rebuild(vocabs)`` of a model as checkpoints and fusion need it."""
        return lambda vocabs: build(model_cfg, self.prepared, self.prepared.base_train, vocabs)


def run(cfg: ExperimentConfig, prepared: Prepared, store: ResultsStore, quiet: bool) -> StudyOutput:
    """Runs every (model, strategy, seed) over every window, checkpointed in ``store``.

    Args:
      cfg: the experiment config (``study: incremental``).
      prepared: the domain.
      store: the run's results folder (checkpoints).
      quiet: no progress bars.

    Returns:
      The records and per-user rows of every step.
    """
    ctx = _Context(cfg, prepared, store, quiet, retention.held_out(prepared.windows))
    out = StudyOutput()
    # A computed baseline is rebuilt by the retrain strategies (which say what data it is
    # built on); `fine_tune` also runs the ones that update in place (iALS); the other
    # strategies would repeat these.
    jobs = [(m, s, seed) for m in cfg.models for s in cfg.strategies for seed in cfg.seeds
            if is_trained(m) or s in strategies.RETRAIN or (s == "fine_tune" and refits(m))]
    bar = tqdm(total=len(jobs) * len(prepared.windows), desc=cfg.experiment, unit="window", disable=quiet)
    for model_cfg, strategy_name, seed in jobs:
        job = _Job(JobKey(config_lib.model_label(model_cfg), strategy_name, seed), model_cfg,
                   strategies.get(strategy_name, cfg.incremental, seed))
        _run_job(ctx, job, out, bar)
    bar.close()
    return out


def _run_job(ctx: _Context, job: _Job, out: StudyOutput, bar: tqdm) -> None:
    """All windows of one job: finished steps are read back, the rest run and are saved."""
    ckpt = ctx.store.checkpoints
    done = ckpt.completed(job.key)
    if done:
        job.chosen = _resumed_config(ctx, job, done)
        job.model, state = ckpt.load_model(job.key, done[-1], ctx.rebuild(job.chosen))
        job.strategy.restore(state)
    for window in ctx.prepared.windows:
        t = window.index
        if t in done:
            loaded = ckpt.load_records(job.key, t)
            job.own.update(retention.own_recall(loaded[0], t))
            out.extend(*loaded)
            bar.update(1)
            continue
        bar.set_postfix_str(f"{job.key.model}/{job.key.strategy} seed {job.key.seed}")
        users: list[Record] = []
        served, step = _update(ctx, job, window)
        step += _evaluate(ctx, job, served, window, users)
        job.own.update(retention.own_recall(step, t))
        base = job.key.columns(ctx.cfg, t)
        step, users = with_columns(base, step, users)
        ckpt.save(job.key, t, step, users, job.model, job.strategy.state())
        out.extend(step, users)
        bar.update(1)


def _update(ctx: _Context, job: _Job, window: Window) -> tuple[TwoTower | None, list[Record]]:
    """The strategy's update at ``window``: returns the model to serve and the step's cost records."""
    cfg, prepared, t = ctx.cfg, ctx.prepared, window.index
    update = job.strategy.update(prepared.windows, t)
    if update is None:
        return job.model, []
    if len(ctx.held_out):
        update = dataclasses.replace(update, data=update.data.drop(
            index=update.data.index.intersection(ctx.held_out)))
    # One seed per (run seed, window): a resumed step draws the same numbers.
    step_seed = job.key.seed * 1000 + t
    if not is_trained(job.model_cfg):
        if update.warm_start and job.model is not None:
            # `fine_tune` of a model that updates in place, with the values chosen at window 0.
            job.model = refit(job.chosen or job.model_cfg, prepared, update.data, job.model)
            return job.model, []
        # Nothing to train: computed from the strategy's data (`popularity: window`, the
        # default, counts the window's training slice), tuned on validation if it has a grid.
        job.model, chosen = selection.tuned(job.model_cfg, prepared, update.data, window, cfg.evaluation,
                                            current=window.train, seed=step_seed)
        job.chosen = dataclasses.replace(job.model_cfg, **chosen)
        return job.model, selection.param_records(chosen)
    tf.keras.utils.set_random_seed(step_seed)
    previous = job.model if update.warm_start else None
    model = _start_model(ctx, job.model_cfg, previous, update.data)
    penalty = job.strategy.penalty(previous, model)
    if penalty is not None:
        model.penalties.append(penalty)
    stop_on = tune_on = window
    if job.strategy.tunes_on_validation(previous, model):
        # A weight tuned on the users the epoch was chosen for would favour the new model.
        stop_on, tune_on = valid_halves(window)
    monitor = protocol.validation_monitor(job.model_cfg.type, prepared.catalog, stop_on, cfg.evaluation,
                                          prepared.row_history, job.key.seed)
    fitted, train_ds = training.fit_frames(
        model, prepared.catalog, update.data, monitor, prepared.row_history, job.model_cfg,
        step_seed, progress=not ctx.quiet,
        desc=f"{job.key.model} {job.key.strategy} seed {job.key.seed} window {t}")
    after = time.perf_counter()
    job.strategy.after_fit(model, train_ds)  # e.g. EWC's Fisher: part of the update cost
    served, job.model, info = job.strategy.fuse(
        previous, model,
        lambda m: protocol.validation_recall(m, prepared.catalog, tune_on, cfg.evaluation, job.key.seed),
        ctx.rebuild(job.model_cfg))
    seconds = fitted.seconds + time.perf_counter() - after
    step = [record(k, v) for k, v in info.items()]
    step += [record("train_seconds", seconds), record("train_examples", fitted.examples),
             record("epochs", fitted.epochs), record("best_epoch", fitted.best_epoch)]
    if cfg.compression.after_update is not None and job.model_cfg.type == "retrieval":
        served, extra = _compress(ctx, job.model_cfg, served, update.data, step_seed)
        step += extra
    return served, step


def _resumed_config(ctx: _Context, job: _Job, done: list[int]) -> ModelConfig:
    """The config of the checkpointed model: with the grid values its last tuning chose."""
    if not job.model_cfg.grid:
        return job.model_cfg
    for t in reversed(done):  # a step without an update (``static``) kept an earlier model
        records, _ = ctx.store.checkpoints.load_records(job.key, t)
        if any(r["metric"].startswith(selection.PARAM_PREFIX) for r in records):
            return selection.chosen_config(job.model_cfg, records)
    return job.model_cfg


def _start_model(ctx: _Context, model_cfg: ModelConfig, previous: TwoTower | None,
                 data: pd.DataFrame) -> TwoTower:
    """A fresh model on ``data``, or one warm-started from ``previous`` with grown id tables."""
    prepared = ctx.prepared
    if previous is None:
        return build(model_cfg, prepared, data)
    vocabs = (previous.user_vocab.extended(data["user_id"].unique()),
              previous.item_vocab.extended(data["item_id"].unique()))
    model = build(model_cfg, prepared, data, vocabs)
    init = None
    if ctx.cfg.incremental.new_row_init == "content":
        init = content_rows(previous, model, prepared.catalog, prepared.text_vectors)
    warm_start(previous, model, init)
    return model


def _compress(ctx: _Context, model_cfg: ModelConfig, served: TwoTower, data: pd.DataFrame,
              step_seed: int) -> tuple[TwoTower, list[Record]]:
    """``compression.after_update``: the compressed model is scored; the uncompressed one goes on."""
    from tfrec_inc.compression.variants import after_update

    prepared = ctx.prepared
    return after_update(ctx.cfg.compression, served, prepared.catalog, data, prepared.row_history,
                        model_cfg, step_seed,
                        lambda vocabs: build(model_cfg, prepared, data, vocabs),
                        progress=not ctx.quiet)


def _evaluate(ctx: _Context, job: _Job, served: TwoTower | None, window: Window,
              users: list[Record]) -> list[Record]:
    """The step's quality records: full ranking (+ retention, backward transfer) or rating error."""
    cfg, prepared = ctx.cfg, ctx.prepared
    catalog, t, seed = prepared.catalog, window.index, job.key.seed
    if job.model_cfg.type == "ranking":
        return protocol.evaluate_ranking(served, catalog, window, cfg.evaluation, prepared.row_history)
    step = []
    if job.model_cfg.type == "multitask":  # its rating error too (the group sizes come from ranking)
        step = [r for r in protocol.evaluate_ranking(served, catalog, window, cfg.evaluation,
                                                     prepared.row_history) if r["metric"] != "users"]
    step += protocol.evaluate_retrieval(served, catalog, window, cfg.evaluation, per_user=users, seed=seed,
                                       per_user_ks=protocol.paired_ks(cfg.report.metrics, cfg.evaluation.ks))
    step += retention.evaluate_retention(served, catalog, prepared.windows[:t], cfg.evaluation, job.own, seed)
    if cfg.evaluation.tfrs_topk and isinstance(served, RetrievalModel):
        step += protocol.evaluate_tfrs_topk(served, catalog, window, prepared.row_history)
    return step

