"""Reading and atomically writing result files."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd

from tfrec_inc.errors import DataError

COLUMNS = ["experiment", "dataset", "model", "strategy", "seed", "window", "group", "metric",
           "k", "value"]


def atomic_write_text(path: str | Path, text: str) -> None:
    """Writes via a temporary file in the same folder and a rename (never half a file)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
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
    try:
        frame = pd.read_csv(path, dtype={"model": str, "strategy": str, "group": str,
                                         "metric": str, "dataset": str, "experiment": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: unreadable ({str(exc).splitlines()[0]})") from None
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"{path}: missing columns {', '.join(missing)}")
    frame["k"] = frame["k"].astype("Int64")
    return frame
