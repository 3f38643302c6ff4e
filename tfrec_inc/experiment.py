"""Runs one experiment config end to end: the only orchestrator.

config -> data -> windows -> (model × strategy × seed: update and evaluate window by
window) -> ``metrics.csv`` -> tables and plots. Everything is written into a
``<dir>.partial`` folder that is renamed into place only when the whole run succeeded,
so a failed run never leaves a results folder that looks complete. Each completed
(model, strategy, seed, window) step is checkpointed there; ``resume=True`` continues an
interrupted run from its last checkpoints, and TensorFlow ops run deterministically, so
the resumed run's metrics equal an uninterrupted run's (wall times aside).
"""

from __future__ import annotations

import dataclasses
import json
import platform
import shutil
import subprocess
import time
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from tfrec_inc import config as config_lib
from tfrec_inc.config import ExperimentConfig
from tfrec_inc.models.persist import VOCAB_FILE, WEIGHTS_FILE, load_model, save_model
from tfrec_inc.reporting import io as results_io

COLUMNS = results_io.COLUMNS
PACKAGES = (
    "tensorflow", "tf-keras", "tensorflow-recommenders", "tensorflow-hub", "tensorflow-text",
    "tensorflow-model-optimization", "scann", "numpy", "pandas",
)


def _versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def _git_commit() -> str | None:
    try:
        res = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10,
            cwd=Path(__file__).resolve().parent,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return res.stdout.strip() or None if res.returncode == 0 else None


def _open_staging(out: Path, cfg: ExperimentConfig, resume: bool) -> Path:
    """The ``.partial`` folder: fresh, or (``resume``) the interrupted run's own."""
    tmp = out.with_name(out.name + ".partial")
    saved = tmp / "config.yaml"
    if resume and saved.is_file():
        if config_lib.load(saved).digest() != cfg.digest():
            raise config_lib.ConfigError(
                f"--resume: {tmp} was started with a different config; run without --resume")
        return tmp
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    config_lib.save(cfg, saved)
    return tmp


def _publish(tmp: Path, out: Path) -> None:
    """Swaps the finished ``.partial`` folder in for ``out``.

    Each job's final model is kept in ``models/`` (for `tfrec_inc.serving.export`); the
    rest of ``checkpoints/`` only served resuming and goes.
    """
    _Checkpoints(tmp).keep_final_models(tmp / "models")
    shutil.rmtree(tmp / "checkpoints", ignore_errors=True)
    old = out.with_name(out.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if out.exists():
        out.rename(old)
    tmp.rename(out)
    shutil.rmtree(old, ignore_errors=True)


class _Checkpoints:
    """One folder per completed (model, strategy, seed, window) step, written atomically.

    A step folder holds its metric records, per-user rows, the model's id vocabularies
    and weights, and any strategy state; ``DONE`` is written last. Only the latest
    step's weights are kept per job (the next update needs nothing older).
    """

    def __init__(self, root: Path) -> None:
        self.root = root / "checkpoints"

    def _job(self, label: str, strategy: str, seed: int) -> Path:
        return self.root / f"{label}__{strategy}__seed{seed}"

    def completed(self, label: str, strategy: str, seed: int) -> list[int]:
        job = self._job(label, strategy, seed)
        if not job.is_dir():
            return []
        return sorted(int(p.name[1:]) for p in job.iterdir()
                      if p.name.startswith("w") and p.name[1:].isdigit() and (p / "DONE").exists())

    def save(self, label, strategy, seed, window, records, per_user, model, state) -> None:
        job = self._job(label, strategy, seed)
        final = job / f"w{window}"
        tmp = job / f".w{window}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        (tmp / "records.json").write_text(json.dumps({"records": records, "per_user": per_user}))
        if model is not None:
            save_model(model, tmp)
        np.savez(tmp / "state.npz", **state)
        (tmp / "DONE").write_text("")
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
        for older in job.glob("w*"):
            if older != final and (older / WEIGHTS_FILE).exists():
                (older / WEIGHTS_FILE).unlink()

    def keep_final_models(self, dest: Path) -> None:
        """Moves each job's last-window ``vocab.json`` + ``weights.npz`` to ``dest/<job>/``."""
        if not self.root.is_dir():
            return  # e.g. a transfer study: no incremental jobs, no models to keep
        for job in sorted(p for p in self.root.iterdir() if p.is_dir()):
            label, strategy, seed = job.name.rsplit("__", 2)
            steps = [w for w in self.completed(label, strategy, int(seed.removeprefix("seed")))
                     if (job / f"w{w}" / WEIGHTS_FILE).exists()]
            if not steps:
                continue
            final = job / f"w{steps[-1]}"
            (dest / job.name).mkdir(parents=True, exist_ok=True)
            for name in (VOCAB_FILE, WEIGHTS_FILE):
                (final / name).rename(dest / job.name / name)

    def load_records(self, label, strategy, seed, window) -> tuple[list, list]:
        blob = json.loads((self._job(label, strategy, seed) / f"w{window}" / "records.json").read_text())
        return blob["records"], blob["per_user"]

    def load_model(self, label, strategy, seed, window, rebuild):
        """Rebuilds the model saved at ``window`` with ``rebuild(vocabs)`` and its weights."""
        step = self._job(label, strategy, seed) / f"w{window}"
        if not (step / WEIGHTS_FILE).exists():
            return None, {}
        model = load_model(step, rebuild)
        with np.load(step / "state.npz") as state:
            return model, {k: state[k] for k in state.files}


def run(cfg: ExperimentConfig, output: str | Path | None = None, quiet: bool = False,
        resume: bool = False) -> Path:
    """Runs every (model, strategy, seed) over every window and writes the results.

    Args:
      cfg: a validated experiment config (see `tfrec_inc.config.load`).
      output: results folder; defaults to ``results/<experiment>``.
      quiet: no progress bars.
      resume: continue an interrupted run from the checkpoints in ``<output>.partial``.

    Returns:
      The results folder: ``config.yaml``, ``metrics.csv``, ``per_user.csv.gz``,
      ``table.md``, ``table.tex``, ``plots/`` and ``manifest.json``.

    Example:
      >>> from tfrec_inc import config
      >>> run(config.load("experiments/quickstart.yaml"))  # doctest: +SKIP
      PosixPath('results/quickstart')
    """
    from tfrec_inc import data as data_lib
    from tfrec_inc.data.catalog import Catalog
    from tfrec_inc.data.windows import split

    started = time.time()
    out = Path(output) if output is not None else Path("results") / cfg.experiment
    data = data_lib.from_config(cfg.data)
    windows = split(data.interactions, cfg.windows)
    catalog = Catalog.from_interactions(data)
    for m in cfg.models:
        if m.type == "ranking" and not data.has_ratings:
            raise config_lib.ConfigError(
                f"models: {config_lib.model_label(m)!r} is a ranking model but "
                f"{cfg.data.dataset} has no ratings"
            )

    # TensorFlow only now: bad configs and bad data fail fast, before it loads.
    import tensorflow as tf

    from tfrec_inc import runtime as runtime_lib

    # Before any TensorFlow op: logical devices and collective ops are fixed at start-up.
    rt = runtime_lib.start(cfg.runtime)
    out = rt.output_dir(out)  # multi-worker: only the chief writes `output`
    from tfrec_inc.data.history import previous_items
    from tfrec_inc.evaluation import protocol
    from tfrec_inc.incremental import strategies, trainer
    from tfrec_inc.models.factory import build as build_model
    from tfrec_inc.models.factory import uses_text
    from tfrec_inc.models.vocab import content_rows, grown, warm_start
    from tfrec_inc.reporting.reports import write_reports

    # Same seed, same data -> same numbers, which is what makes --resume exact.
    tf.config.experimental.enable_op_determinism()
    text_vectors, text_info = None, None
    if any(uses_text(m) for m in cfg.models):
        from tfrec_inc.text.features import window_text_vectors

        text_vectors, text_info = window_text_vectors(catalog, windows[0].train, cfg.encoder,
                                                      progress=not quiet)
        if not quiet:
            tqdm.write(f"item text vectors: {text_info['hits']} cached, {text_info['misses']} encoded "
                       f"({text_info['encoder']})")
    row_history = None
    max_history = max((m.history_length for m in cfg.models if m.user_history != "none"), default=0)
    if max_history:
        inter = data.interactions
        row_history = previous_items(catalog.users.lookup(inter["user_id"]),
                                     catalog.items.lookup(inter["item_id"]),
                                     inter["timestamp"].to_numpy(), max_history)

    tmp = _open_staging(out, cfg, resume)
    def incremental_loop() -> tuple[list[dict], list[dict]]:
        """Every (model, strategy, seed) over every window, checkpointed."""
        # Retention samples of every window's test slice are never trained on, by any
        # strategy, so forgetting is measured on held-out interactions.
        held_out = pd.Index([])
        if len(windows) > 1:
            held_out = pd.Index(np.concatenate([
                protocol.retention_holdout(w, cfg.incremental.retention_users).index.to_numpy()
                for w in windows[:-1]]))
        ckpt = _Checkpoints(tmp)
        records: list[dict] = []
        per_user_rows: list[dict] = []
        jobs = [(m, s, seed) for m in cfg.models for s in cfg.strategies for seed in cfg.seeds]
        bar = tqdm(total=len(jobs) * len(windows), desc=cfg.experiment, unit="window", disable=quiet)
        for model_cfg, strategy_name, seed in jobs:
            label = config_lib.model_label(model_cfg)
            strategy = strategies.get(strategy_name, cfg.incremental, seed)

            def rebuild(vocabs, model_cfg=model_cfg):
                return build_model(model_cfg, catalog, windows[0].train, text_vectors, cfg.encoder, vocabs)

            done = ckpt.completed(label, strategy_name, seed)
            model = None
            if done:
                model, state = ckpt.load_model(label, strategy_name, seed, done[-1], rebuild)
                if hasattr(strategy, "restore"):
                    strategy.restore(state)
            for window in windows:
                t = window.index
                base = dict(experiment=cfg.experiment, dataset=cfg.data.dataset, model=label,
                            strategy=strategy_name, seed=seed, window=t)
                if t in done:
                    step_records, step_users = ckpt.load_records(label, strategy_name, seed, t)
                    records.extend(step_records)
                    per_user_rows.extend(step_users)
                    bar.update(1)
                    continue
                bar.set_postfix_str(f"{label}/{strategy_name} seed {seed}")
                step: list[dict] = []
                step_users: list[dict] = []
                update = strategy.update(windows, t)
                if update is not None and len(held_out):
                    update = dataclasses.replace(update, data=update.data.drop(
                        index=update.data.index.intersection(held_out)))
                if update is not None and model_cfg.type == "popularity":
                    # Nothing to train: "most popular in the last window" is a count.
                    model = served = build_model(model_cfg, catalog, window.train)
                elif update is not None:
                    # One seed per (run seed, window): a resumed step draws the same numbers.
                    step_seed = seed * 1000 + t
                    tf.keras.utils.set_random_seed(step_seed)
                    previous = model if update.warm_start else None
                    if previous is not None:
                        vocabs = (grown(previous.user_vocab, update.data["user_id"].unique()),
                                  grown(previous.item_vocab, update.data["item_id"].unique()))
                        model = build_model(model_cfg, catalog, update.data, text_vectors, cfg.encoder,
                                            vocabs)
                        init = None
                        if cfg.incremental.new_row_init == "content":
                            init = content_rows(previous, model, catalog, text_vectors)
                        warm_start(previous, model, init)
                    else:
                        model = build_model(model_cfg, catalog, update.data, text_vectors, cfg.encoder)
                    penalty = strategy.penalty(previous, model)
                    if penalty is not None:
                        model.penalties.append(penalty)
                    fitted, train_ds = trainer.fit_frames(
                        model, catalog, update.data, window.valid, row_history, model_cfg, step_seed,
                        progress=not quiet, desc=f"window {t}")
                    after = time.perf_counter()
                    strategy.after_fit(model, train_ds)  # e.g. EWC's Fisher: part of the update cost
                    served, model, info = strategy.fuse(
                        previous, model,
                        lambda m, w=window: protocol.validation_recall(m, catalog, w, cfg.evaluation),
                        lambda vocabs, c=model_cfg: build_model(c, catalog, windows[0].train, text_vectors,
                                                                cfg.encoder, vocabs))
                    seconds = fitted.seconds + time.perf_counter() - after
                    step += [{"group": "all", "metric": k, "k": None, "value": float(v)}
                             for k, v in info.items()]
                    for metric, value in (("train_seconds", seconds),
                                          ("train_examples", fitted.examples),
                                          ("epochs", fitted.epochs)):
                        step.append({"group": "all", "metric": metric, "k": None, "value": float(value)})
                    if cfg.compression.after_update is not None and model_cfg.type == "retrieval":
                        from tfrec_inc.compression.variants import after_update

                        # The compressed model is evaluated; `model` (uncompressed) goes on.
                        served, extra = after_update(
                            cfg.compression, served, catalog, update.data, row_history, model_cfg,
                            step_seed,
                            lambda vocabs, c=model_cfg, d=update.data: build_model(
                                c, catalog, d, text_vectors, cfg.encoder, vocabs),
                            progress=not quiet)
                        step += extra
                if update is None:
                    served = model
                if model_cfg.type in ("retrieval", "popularity"):
                    step += protocol.evaluate_retrieval(served, catalog, window, cfg.evaluation,
                                                        per_user=step_users)
                    step += protocol.evaluate_retention(served, catalog, windows[:t], cfg.evaluation,
                                                        cfg.incremental.retention_users)
                    if cfg.evaluation.tfrs_topk and hasattr(served, "attach_topk_metric"):
                        step += protocol.evaluate_tfrs_topk(served, catalog, window, row_history)
                else:
                    step += protocol.evaluate_ranking(served, catalog, window, cfg.evaluation,
                                                      row_history)
                step = [{**base, **r} for r in step]
                step_users = [{**base, "group": "all", **r} for r in step_users]
                state = strategy.state() if hasattr(strategy, "state") else {}
                ckpt.save(label, strategy_name, seed, t, step, step_users, model, state)
                records.extend(step)
                per_user_rows.extend(step_users)
                bar.update(1)
        bar.close()
        return records, per_user_rows

    # Models are built (and so trained) under the strategy; `fit` splits each global batch.
    with rt.strategy.scope():
        if cfg.transfer.source is not None:
            from tfrec_inc.transfer.study import run_transfer

            records, per_user_rows = run_transfer(cfg, data, windows, catalog, text_vectors,
                                                  row_history, quiet)
        elif cfg.compression.variants:
            from tfrec_inc.compression.study import run_compression

            records, per_user_rows = run_compression(cfg, windows, catalog, text_vectors, row_history,
                                                     quiet)
        else:
            records, per_user_rows = incremental_loop()

    frame = pd.DataFrame.from_records(records, columns=COLUMNS)
    results_io.write_metrics(frame, tmp / "metrics.csv")
    # Reports come from the files as written, so `tfrec-inc table` rebuilds them exactly.
    frame = results_io.read_metrics(tmp)
    per_user = None
    if per_user_rows:
        results_io.write_per_user(pd.DataFrame.from_records(per_user_rows), tmp / "per_user.csv.gz")
        per_user = results_io.read_per_user(tmp)
    write_reports(frame, per_user, tmp, cfg.report.metrics)
    manifest = {
        "experiment": cfg.experiment,
        "config_hash": cfg.digest(),
        "git_commit": _git_commit(),
        "versions": _versions(),
        "dataset": {
            "name": data.name,
            "users": data.num_users,
            "items": data.num_items,
            "interactions": len(data.interactions),
        },
        "text_vectors": text_info,
        "windows": [
            {"train": len(w.train), "valid": len(w.valid), "test": len(w.test)} for w in windows
        ],
        "runtime": rt.describe(),
        "resumed": bool(resume),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "wall_seconds": round(time.time() - started, 2),
    }
    results_io.atomic_write_text(tmp / "manifest.json", json.dumps(manifest, indent=2))
    _publish(tmp, out)
    return out

