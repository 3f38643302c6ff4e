"""Every table and plot of a results folder, from its metrics (and per-user) files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from tfrec_inc.reporting import compression, incremental, plots, tables, transfer
from tfrec_inc.reporting.io import atomic_write_text


def write_reports(frame: pd.DataFrame, per_user: pd.DataFrame | None, out_dir: str | Path,
                  columns: Sequence[str], write_tables: bool = True, write_plots: bool = True) -> None:
    """Writes the tables (``table*.md/.tex``) and/or the plots (``plots/``) of a run.

    Args:
      frame: long-format metrics (one or several runs).
      per_user: per-user values for paired tests, or None.
      out_dir: the folder to write into.
      columns: ``metric@k`` columns of the per-group tables.
      write_tables: write the tables.
      write_plots: write the plots.
    """
    out_dir = Path(out_dir)
    windows = True
    if transfer.is_transfer(frame):
        windows = False  # "windows" are target-data shares: the learning curves show them
        if write_tables:
            transfer.write_table(frame, out_dir)
        if write_plots:
            transfer.write_plot(frame, out_dir / "plots")
        # The generic per-group tables and curves describe the full-target-data point.
        frame = frame[frame["window"] == frame["window"].max()]
    compressed = compression.is_compression(frame)
    if compressed:
        windows = False  # one window (the last): variants are the comparison
        if write_plots:
            compression.write_plot(frame, out_dir / "plots")
    if write_tables:
        tables.write_tables(frame, out_dir, columns)
        incremental.write(frame, per_user, out_dir)
        if compressed and compression.write_table(frame, out_dir):
            # table.md is the file readers open first: the study's own table leads it.
            atomic_write_text(out_dir / "table.md", compression.markdown(frame) + "\n"
                              + tables.markdown(frame, columns))
    if write_plots:
        plots.write_plots(frame, out_dir / "plots", per_window=windows)
