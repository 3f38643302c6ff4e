"""Runs one experiment config end to end: the only orchestrator.

config -> data -> windows -> (model × strategy × seed × window: train, evaluate)
-> ``metrics.csv`` -> tables and plots, all written into a ``.partial`` folder that is
renamed into place only when everything succeeded, so a failed run never leaves a
results folder that looks complete.
"""

from __future__ import annotations

import contextlib
import json
import platform
import shutil
import subprocess
import time
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from tfrec_inc import config as config_lib
from tfrec_inc.config import ExperimentConfig
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


@contextlib.contextmanager
def _staging(out: Path) -> Iterator[Path]:
    """A sibling ``.partial`` folder, swapped in for ``out`` on success, removed on failure."""
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = out.with_name(out.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if out.exists():
        out.rename(old)
    tmp.rename(out)
    shutil.rmtree(old, ignore_errors=True)


def run(cfg: ExperimentConfig, output: str | Path | None = None, quiet: bool = False) -> Path:
    """Runs every (model, strategy, seed) over every window and writes the results.

    Args:
      cfg: a validated experiment config (see `tfrec_inc.config.load`).
      output: results folder; defaults to ``results/<experiment>``.
      quiet: no progress bars.

    Returns:
      The results folder: ``config.yaml``, ``metrics.csv``, ``table.md``, ``table.tex``,
      ``plots/`` and ``manifest.json``.

    Example:
      >>> from tfrec_inc import config
      >>> run(config.load("experiments/quickstart.yaml"))  # doctest: +SKIP
      PosixPath('results/quickstart')
    """
    from tfrec_inc import data as data_lib
    from tfrec_inc.data.catalog import Catalog
    from tfrec_inc.data.windows import make_dataset, split

    started = time.time()
    out = Path(output) if output is not None else Path("results") / cfg.experiment
    data = data_lib.load(cfg.data.dataset, cfg.data.data_dir, **cfg.data.options)
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

    from tfrec_inc.data.history import previous_items
    from tfrec_inc.evaluation import protocol
    from tfrec_inc.incremental import strategies, trainer
    from tfrec_inc.models.factory import build as build_model
    from tfrec_inc.models.factory import uses_text
    from tfrec_inc.reporting import plots, tables

    text_vectors, text_info = None, None
    if any(uses_text(m) for m in cfg.models):
        from tfrec_inc.text.features import item_text_vectors

        # PCA (if any) is fitted on the first training window's items only: no leakage.
        first_items = catalog.items.lookup(windows[0].train["item_id"].unique())
        text_vectors, text_info = item_text_vectors(
            catalog.item_text, cfg.encoder, fit_rows=first_items, progress=not quiet)
    row_history = None
    max_history = max((m.history_length for m in cfg.models if m.user_history != "none"), default=0)
    if max_history:
        inter = data.interactions
        row_history = previous_items(catalog.users.lookup(inter["user_id"]),
                                     catalog.items.lookup(inter["item_id"]),
                                     inter["timestamp"].to_numpy(), max_history)

    with _staging(out) as tmp:
        config_lib.save(cfg, tmp / "config.yaml")
        records: list[dict] = []
        jobs = [(m, s, seed) for m in cfg.models for s in cfg.strategies for seed in cfg.seeds]
        bar = tqdm(total=len(jobs) * len(windows), desc=cfg.experiment, unit="window",
                   disable=quiet)
        for model_cfg, strategy_name, seed in jobs:
            label = config_lib.model_label(model_cfg)
            strategy = strategies.get(strategy_name, cfg.sliding_windows)
            model = None
            for window in windows:
                base = dict(
                    experiment=cfg.experiment, dataset=cfg.data.dataset, model=label,
                    strategy=strategy_name, seed=seed, window=window.index,
                )
                bar.set_postfix_str(f"{label}/{strategy_name} seed {seed}")
                train = strategy.training_data(windows, window.index)
                if train is not None:
                    tf.keras.utils.set_random_seed(seed)
                    model = build_model(model_cfg, catalog, train, text_vectors, cfg.encoder)
                    enc = catalog.encode(train, row_history, model.history_length)
                    train_ds = make_dataset(enc, model_cfg.batch_size, shuffle=True, seed=seed,
                                            shuffle_buffer=model_cfg.shuffle_buffer)
                    valid_ds = None
                    if len(window.valid):
                        valid_enc = catalog.encode(window.valid, row_history, model.history_length)
                        valid_ds = make_dataset(valid_enc, model_cfg.batch_size)
                    fitted = trainer.fit(model, train_ds, valid_ds, model_cfg, len(train),
                                         progress=not quiet, desc=f"window {window.index}")
                    for metric, value in (("train_seconds", fitted.seconds),
                                          ("train_examples", fitted.examples),
                                          ("epochs", fitted.epochs)):
                        records.append({**base, "group": "all", "metric": metric, "k": None,
                                        "value": float(value)})
                if model_cfg.type == "retrieval":
                    found = protocol.evaluate_retrieval(model, catalog, window, cfg.evaluation)
                    if cfg.evaluation.tfrs_topk:
                        found += protocol.evaluate_tfrs_topk(model, catalog, window, row_history)
                else:
                    found = protocol.evaluate_ranking(model, catalog, window, cfg.evaluation,
                                                      row_history)
                records.extend({**base, **r} for r in found)
                bar.update(1)
        bar.close()

        frame = pd.DataFrame.from_records(records, columns=COLUMNS)
        results_io.write_metrics(frame, tmp / "metrics.csv")
        # Reports come from the file as written, so `tfrec-inc table` rebuilds them exactly.
        frame = results_io.read_metrics(tmp)
        tables.write_tables(frame, tmp, cfg.report.metrics)
        plots.write_plots(frame, tmp / "plots")
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
                {"train": len(w.train), "valid": len(w.valid), "test": len(w.test)}
                for w in windows
            ],
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
            "wall_seconds": round(time.time() - started, 2),
        }
        results_io.atomic_write_text(tmp / "manifest.json", json.dumps(manifest, indent=2))
    return out
