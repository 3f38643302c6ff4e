"""The results folder, and the only code that writes one.

A run writes into ``<dir>.partial/`` (`ResultsStore`) and renames it into place when the
whole study succeeded, so a failed run never leaves a folder that looks complete. Inside:

- ``config.yaml``: the resolved config; ``manifest.json``: provenance and the study kind;
- ``metrics.csv``: the long format `COLUMNS`, one row per record (see `record`);
- ``per_user.csv.gz``: per-user values (`PER_USER_COLUMNS`), for paired statistics;
- ``checkpoints/<job>/w<t>/`` while running: one folder per completed step of a job
  (`Checkpoints`), so ``--resume`` continues exactly; at the end each job's final model
  moves to ``models/<job>/`` (for `tfrec_inc.serving.export`).

A job is one (model label, strategy, seed); `JobKey` names its folders
(``<model>__<strategy>__seed<n>``) and parses them back.
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tfrec_inc import atomic
from tfrec_inc import config as config_lib
from tfrec_inc.config import ExperimentConfig
from tfrec_inc.data.vocab import Vocabulary
from tfrec_inc.errors import DataError
from tfrec_inc.models.base import TwoTower
from tfrec_inc.models.persist import VOCAB_FILE, WEIGHTS_FILE, load_model, save_model

COLUMNS = ["experiment", "dataset", "model", "strategy", "seed", "window", "group", "metric",
           "k", "value"]
PER_USER_FILE = "per_user.csv.gz"
PER_USER_COLUMNS = ["experiment", "dataset", "model", "strategy", "seed", "window", "group", "user",
                    "metric", "k", "value"]
MANIFEST_FILE = "manifest.json"

Record = dict[str, Any]


def record(metric: str, value: float, group: str = "all", k: int | None = None) -> Record:
    """One metric value in the long format (the job's columns are added by the study).

    Example:
      >>> record("train_seconds", 1.5)
      {'group': 'all', 'metric': 'train_seconds', 'k': None, 'value': 1.5}
    """
    return {"group": group, "metric": metric, "k": k, "value": float(value)}


@dataclasses.dataclass(frozen=True)
class JobKey:
    """One (model label, strategy, seed) job of a study.

    Example:
      >>> key = JobKey("ids", "fine_tune", 2)
      >>> key.name
      'ids__fine_tune__seed2'
      >>> JobKey.parse(key.name) == key
      True
    """

    model: str
    strategy: str
    seed: int

    @property
    def name(self) -> str:
        """The job's folder name."""
        return f"{self.model}__{self.strategy}__seed{self.seed}"

    @classmethod
    def parse(cls, name: str) -> JobKey | None:
        """The key a folder name stands for, or None if it is not a job folder."""
        parts = name.rsplit("__", 2)
        if len(parts) != 3 or not parts[2].startswith("seed") or not parts[2][4:].isdigit():
            return None
        return cls(parts[0], parts[1], int(parts[2][4:]))

    def columns(self, cfg: ExperimentConfig, window: int) -> Record:
        """The long format's job columns for one window (or transfer share / variant)."""
        return dict(experiment=cfg.experiment, dataset=cfg.data.dataset, model=self.model,
                    strategy=self.strategy, seed=self.seed, window=window)


@dataclasses.dataclass
class StudyOutput:
    """What a study returns: long-format records and per-user rows, job columns included.

    Attributes:
      records: rows of ``metrics.csv`` (`COLUMNS`).
      per_user: rows of ``per_user.csv.gz`` (`PER_USER_COLUMNS`).
    """

    records: list[Record] = dataclasses.field(default_factory=list)
    per_user: list[Record] = dataclasses.field(default_factory=list)

    def extend(self, records: list[Record], per_user: list[Record] | None = None) -> None:
        """Appends one step's records and per-user rows."""
        self.records.extend(records)
        self.per_user.extend(per_user or [])


def with_columns(base: Record, records: list[Record], per_user: list[Record]
                 ) -> tuple[list[Record], list[Record]]:
    """One step's records and per-user rows with the job's columns (`JobKey.columns`) added.

    Per-user values are always of group ``all`` (see `tfrec_inc.evaluation.protocol`).

    Example:
      >>> with_columns({"seed": 0}, [record("users", 3)], [{"user": "u1", "metric": "recall",
      ...     "k": 20, "value": 0.5}])[1]
      [{'seed': 0, 'group': 'all', 'user': 'u1', 'metric': 'recall', 'k': 20, 'value': 0.5}]
    """
    return [{**base, **r} for r in records], [{**base, "group": "all", **u} for u in per_user]


# -- metrics.csv and per_user.csv.gz ---------------------------------------------------------

def write_metrics(frame: pd.DataFrame, path: str | Path) -> None:
    """Writes the long-format metrics table (columns `COLUMNS`), atomically."""
    frame = frame[COLUMNS].copy()
    frame["k"] = frame["k"].astype("Int64")
    atomic.write_text(path, frame.to_csv(index=False, float_format="%.10g"))


def read_metrics(results_dir: str | Path) -> pd.DataFrame:
    """Reads ``metrics.csv`` of a results folder.

    Raises:
      DataError: the file is missing or lacks the long-format columns.
    """
    path = Path(results_dir) / "metrics.csv"
    if not path.is_file():
        raise DataError(f"{path}: no metrics.csv here (is this a results folder?)")
    return _read_long(path, COLUMNS)


_TEXT_COLUMNS = ("model", "strategy", "group", "metric", "dataset", "experiment", "user")


def _read_long(path: Path, columns: list[str]) -> pd.DataFrame:
    """Reads a long-format CSV (plain or gzip); any problem is a one-line DataError."""
    try:
        frame = pd.read_csv(path, dtype=dict.fromkeys(_TEXT_COLUMNS, str))
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError,
            EOFError) as exc:
        # OSError covers gzip.BadGzipFile; EOFError a truncated gzip stream.
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"{path}: unreadable ({message})") from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(f"{path}: missing columns {', '.join(missing)}")
    frame["k"] = frame["k"].astype("Int64")
    return frame


def write_per_user(frame: pd.DataFrame, path: str | Path) -> None:
    """Writes per-user metric values as a gzip CSV (columns `PER_USER_COLUMNS`), atomically.

    The gzip header carries no file name and no time stamp, so the same frame always gives
    the same bytes.

    Args:
      frame: one row per (experiment, ..., seed, window, group, user, metric, k).
      path: the file to write, normally ``<results>/per_user.csv.gz``.
    """
    missing = [c for c in PER_USER_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"per-user frame lacks columns {', '.join(missing)}")
    frame = frame[PER_USER_COLUMNS].copy()
    frame["k"] = frame["k"].astype("Int64")

    def write(tmp: Path) -> None:
        with (
            tmp.open("wb") as raw,
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as compressed,
            io.TextIOWrapper(compressed, encoding="utf-8", newline="") as text,
        ):
            frame.to_csv(text, index=False, float_format="%.10g", lineterminator="\n")

    atomic.write_with(path, write)


def read_per_user(results_dir: str | Path) -> pd.DataFrame | None:
    """Reads ``per_user.csv.gz`` of a results folder, if it has one.

    Returns:
      The frame (``user`` as strings, so ids pair up across files; ``k`` as Int64), or
      None when the folder has no per-user file.

    Raises:
      DataError: the file exists but is not a readable gzip CSV with `PER_USER_COLUMNS`.
    """
    path = Path(results_dir) / PER_USER_FILE
    if not path.is_file():
        return None
    return _read_long(path, PER_USER_COLUMNS)


def read_manifest(results_dir: str | Path) -> dict[str, Any]:
    """The folder's ``manifest.json`` (empty when it has none)."""
    path = Path(results_dir) / MANIFEST_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


# -- checkpoints and kept models ------------------------------------------------------------

class Checkpoints:
    """One folder per completed (job, window) step, written atomically.

    A step folder holds its metric records, per-user rows, the model's id vocabularies
    and weights, and any strategy state; ``DONE`` is written last. Only the latest
    step's weights are kept per job (the next update needs nothing older).
    """

    def __init__(self, root: Path) -> None:
        self.root = root / "checkpoints"

    def completed(self, job: JobKey) -> list[int]:
        """Windows of ``job`` whose step finished."""
        folder = self.root / job.name
        if not folder.is_dir():
            return []
        return sorted(int(p.name[1:]) for p in folder.iterdir()
                      if p.name.startswith("w") and p.name[1:].isdigit() and (p / "DONE").exists())

    def save(self, job: JobKey, window: int, records: list[Record], per_user: list[Record],
             model: TwoTower | None, state: dict[str, np.ndarray]) -> None:
        """Writes one finished step (and drops the job's older weights)."""
        folder = self.root / job.name
        folder.mkdir(parents=True, exist_ok=True)
        final = folder / f"w{window}"
        tmp = atomic.make_temp_dir(final)
        (tmp / "records.json").write_text(json.dumps({"records": records, "per_user": per_user}))
        if model is not None:
            save_model(model, tmp)
        np.savez(tmp / "state.npz", **state)  # type: ignore[arg-type]  # numpy's stub: **kwds: ArrayLike
        (tmp / "DONE").write_text("")
        atomic.replace_dir(tmp, final)
        for older in folder.glob("w*"):
            if older != final and (older / WEIGHTS_FILE).exists():
                (older / WEIGHTS_FILE).unlink()

    def load_records(self, job: JobKey, window: int) -> tuple[list[Record], list[Record]]:
        """The records and per-user rows of a finished step."""
        blob = json.loads((self.root / job.name / f"w{window}" / "records.json").read_text())
        return blob["records"], blob["per_user"]

    def load_model(self, job: JobKey, window: int,
                   rebuild: Callable[[tuple[Vocabulary, Vocabulary]], TwoTower]
                   ) -> tuple[TwoTower | None, dict[str, np.ndarray]]:
        """The model saved at ``window`` (rebuilt with ``rebuild(vocabs)``) and the strategy state."""
        step = self.root / job.name / f"w{window}"
        if not (step / WEIGHTS_FILE).exists():
            return None, {}
        model = load_model(step, rebuild)
        with np.load(step / "state.npz") as state:
            return model, {k: state[k] for k in state.files}

    def keep_final_models(self, dest: Path) -> None:
        """Moves each job's last saved ``vocab.json`` + ``weights.npz`` to ``dest/<job>/``."""
        if not self.root.is_dir():
            return  # e.g. a transfer study: no incremental jobs, no models to keep
        for folder in sorted(p for p in self.root.iterdir() if p.is_dir()):
            job = JobKey.parse(folder.name)
            if job is None:
                continue
            steps = [w for w in self.completed(job) if (folder / f"w{w}" / WEIGHTS_FILE).exists()]
            if not steps:
                continue
            final = folder / f"w{steps[-1]}"
            (dest / job.name).mkdir(parents=True, exist_ok=True)
            for name in (VOCAB_FILE, WEIGHTS_FILE):
                (final / name).rename(dest / job.name / name)


def saved_models(results_dir: str | Path) -> list[JobKey]:
    """The jobs whose final model a results folder keeps (in ``models/``)."""
    root = Path(results_dir) / "models"
    if not root.is_dir():
        return []
    jobs = [(JobKey.parse(p.name), p) for p in sorted(root.iterdir())]
    return [job for job, p in jobs if job is not None
            and (p / WEIGHTS_FILE).is_file() and (p / VOCAB_FILE).is_file()]


def model_dir(results_dir: str | Path, job: JobKey) -> Path:
    """Where a results folder keeps ``job``'s final model."""
    return Path(results_dir) / "models" / job.name


# -- the folder of one run ------------------------------------------------------------------

class ResultsStore:
    """The staging folder of one run: checkpoints, records, manifest, then publishing.

    Args:
      out: the results folder to (re)place at the end.
      cfg: the run's config (written as ``config.yaml``).
      resume: reuse the interrupted run's ``<out>.partial`` (same config required).

    Raises:
      ConfigError: ``resume`` with a staging folder of a different config.
    """

    def __init__(self, out: Path, cfg: ExperimentConfig, resume: bool) -> None:
        self.out = out
        self.staging = out.with_name(out.name + ".partial")
        saved = self.staging / "config.yaml"
        if resume and saved.is_file():
            if config_lib.load(saved).digest() != cfg.digest():
                raise config_lib.ConfigError(
                    f"--resume: {self.staging} was started with a different config; run without --resume")
        else:
            shutil.rmtree(self.staging, ignore_errors=True)
            self.staging.mkdir(parents=True)
            config_lib.save(cfg, saved)
        self.checkpoints = Checkpoints(self.staging)

    def write(self, output: StudyOutput) -> tuple[pd.DataFrame, pd.DataFrame | None]:
        """Writes ``metrics.csv`` (and ``per_user.csv.gz``) and reads them back as written.

        Reports are built from the files as written, so `tfrec-inc table` rebuilds them
        exactly.
        """
        write_metrics(pd.DataFrame.from_records(output.records, columns=COLUMNS),
                      self.staging / "metrics.csv")
        if not output.per_user:
            return read_metrics(self.staging), None
        write_per_user(pd.DataFrame.from_records(output.per_user), self.staging / PER_USER_FILE)
        return read_metrics(self.staging), read_per_user(self.staging)

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        """Writes ``manifest.json``."""
        atomic.write_text(self.staging / MANIFEST_FILE, json.dumps(manifest, indent=2))

    def publish(self) -> Path:
        """Keeps each job's final model in ``models/``, drops the checkpoints, swaps the folder in."""
        self.checkpoints.keep_final_models(self.staging / "models")
        shutil.rmtree(self.checkpoints.root, ignore_errors=True)
        atomic.replace_dir(self.staging, self.out)
        return self.out
