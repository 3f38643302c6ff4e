"""Reading and atomically writing result files."""

from __future__ import annotations

import gzip
import io
import os
import tempfile
from pathlib import Path

import pandas as pd

from tfrec_inc.errors import DataError

COLUMNS = ["experiment", "dataset", "model", "strategy", "seed", "window", "group", "metric",
           "k", "value"]
PER_USER_FILE = "per_user.csv.gz"
PER_USER_COLUMNS = ["experiment", "dataset", "model", "strategy", "seed", "window", "group", "user",
                    "metric", "k", "value"]


_UMASK = os.umask(0)
os.umask(_UMASK)
_FILE_MODE = 0o666 & ~_UMASK


def atomic_write_text(path: str | Path, text: str) -> None:
    """Writes via a temporary file in the same folder and a rename (never half a file)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.chmod(tmp, _FILE_MODE)  # mkstemp makes 0600; results are meant to be shared
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_metrics(frame: pd.DataFrame, path: str | Path) -> None:
    """Writes the long-format metrics table (columns `COLUMNS`)."""
    frame = frame[COLUMNS].copy()
    frame["k"] = frame["k"].astype("Int64")
    atomic_write_text(path, frame.to_csv(index=False, float_format="%.10g"))


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

    Example:
      >>> write_per_user(per_user, out_dir / PER_USER_FILE)  # doctest: +SKIP
    """
    path = Path(path)
    missing = [c for c in PER_USER_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"per-user frame lacks columns {', '.join(missing)}")
    frame = frame[PER_USER_COLUMNS].copy()
    frame["k"] = frame["k"].astype("Int64")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.chmod(tmp, _FILE_MODE)
        with (
            os.fdopen(fd, "wb") as raw,
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as compressed,
            io.TextIOWrapper(compressed, encoding="utf-8", newline="") as text,
        ):
            frame.to_csv(text, index=False, float_format="%.10g", lineterminator="\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_per_user(results_dir: str | Path) -> pd.DataFrame | None:
    """Reads ``per_user.csv.gz`` of a results folder, if it has one.

    Args:
      results_dir: the results folder.

    Returns:
      The frame (``user`` as strings, so ids pair up across files; ``k`` as Int64), or
      None when the folder has no per-user file (older runs, or none written).

    Raises:
      DataError: the file exists but is not a readable gzip CSV with `PER_USER_COLUMNS`.

    Example:
      >>> per_user = read_per_user("results/quickstart")  # doctest: +SKIP
    """
    path = Path(results_dir) / PER_USER_FILE
    if not path.is_file():
        return None
    return _read_long(path, PER_USER_COLUMNS)
