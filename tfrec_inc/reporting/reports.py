"""Every table and plot of a results folder, from its metrics (and per-user) files.

What a folder holds depends on its study kind (`STUDIES`), which the run records; the
reports never guess it from the metric values.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Sequence
from pathlib import Path

import pandas as pd
import yaml

from tfrec_inc import atomic
from tfrec_inc.errors import DataError
from tfrec_inc.reporting import compression, incremental, plots, significance, tables, transfer

Writer = Callable[[pd.DataFrame, pd.DataFrame | None, Path, Sequence[str], bool, bool,
                   Collection[str] | None], None]


def _incremental(frame: pd.DataFrame, per_user: pd.DataFrame | None, out_dir: Path,
                 columns: Sequence[str], write_tables: bool, write_plots: bool,
                 baselines: Collection[str] | None) -> None:
    """Per-group tables, the incremental-study table, and the per-window curves."""
    if write_tables:
        tables.write_tables(frame, out_dir, columns, per_user, baselines)
        incremental.write(frame, per_user, out_dir, baselines=baselines)
    if write_plots:
        plots.write_plots(frame, out_dir / "plots", per_window=True)


def _transfer(frame: pd.DataFrame, per_user: pd.DataFrame | None, out_dir: Path,
              columns: Sequence[str], write_tables: bool, write_plots: bool,
              baselines: Collection[str] | None) -> None:
    """The transfer table and learning curves; the generic reports of the full-target-data point."""
    if write_tables:
        transfer.write_table(frame, out_dir)
    if write_plots:
        transfer.write_plot(frame, out_dir / "plots")
    # "windows" are target-data shares (the learning curves show them): the per-group tables
    # and curves describe the full-target-data point.
    frame = frame[frame["window"] == frame["window"].max()]
    if write_tables:
        # The per-user values are matched to the frame's (experiment, window): this point only.
        tables.write_tables(frame, out_dir, columns, per_user, baselines)
    if write_plots:
        plots.write_plots(frame, out_dir / "plots", per_window=False)


def _compression(frame: pd.DataFrame, per_user: pd.DataFrame | None, out_dir: Path,
                 columns: Sequence[str], write_tables: bool, write_plots: bool,
                 baselines: Collection[str] | None) -> None:
    """The compression table (leading ``table.md``) and size-vs-recall plot; no per-window curves."""
    if write_plots:
        compression.write_plot(frame, out_dir / "plots")
    if write_tables:
        # Intervals and the comparisons with the baselines' `uncompressed` rows, as in every study.
        tables.write_tables(frame, out_dir, columns, per_user, baselines)
        if compression.write_table(frame, out_dir):
            # table.md is the file readers open first: the study's own table leads it.
            atomic.write_text(out_dir / "table.md", compression.markdown(frame) + "\n"
                              + tables.markdown(frame, columns, per_user, baselines))
    if write_plots:
        # One window (the last): the variants are the comparison.
        plots.write_plots(frame, out_dir / "plots", per_window=False)


def _generic(frame: pd.DataFrame, per_user: pd.DataFrame | None, out_dir: Path,
             columns: Sequence[str], write_tables: bool, write_plots: bool,
             baselines: Collection[str] | None) -> None:
    """Any other study kind: the per-group tables and the recall-precision and per-window plots."""
    if write_tables:
        tables.write_tables(frame, out_dir, columns, per_user, baselines)
    if write_plots:
        plots.write_plots(frame, out_dir / "plots", per_window=True)


# Study kind (recorded in manifest.json as "study") -> its report writer. A kind without an
# entry gets the generic tables and plots (`_generic`).
STUDIES: dict[str, Writer] = {
    "incremental": _incremental,
    "transfer": _transfer,
    "compression": _compression,
}


def write_reports(frame: pd.DataFrame, per_user: pd.DataFrame | None, out_dir: str | Path,
                  columns: Sequence[str], *, study: str, write_tables: bool = True,
                  write_plots: bool = True, baselines: Collection[str] | None = None) -> None:
    """Writes the tables (``table*.md/.tex``) and/or the plots (``plots/``) of a run.

    Args:
      frame: long-format metrics (one or several runs of one study kind).
      per_user: per-user values for paired tests, or None.
      out_dir: the folder to write into.
      columns: ``metric@k`` columns of the per-group tables.
      study: the study kind as recorded by the run (see `study_kind`); kinds without an
        entry in `STUDIES` get the generic per-group tables and plots.
      write_tables: write the tables.
      write_plots: write the plots.
      baselines: labels of the baseline (computed) models; None: those of ``config.yaml`` in
        ``out_dir`` (`significance.baseline_models`), else labels equal to a computed type.
    """
    if baselines is None:
        baselines = significance.baseline_models(out_dir)
    writer = STUDIES.get(study, _generic)
    writer(frame, per_user, Path(out_dir), columns, write_tables, write_plots, baselines)


def _read(path: Path, load: Callable[[str], object]) -> object:
    """A JSON or YAML file's content; a broken file is a one-line DataError."""
    try:
        return load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"{path}: unreadable ({message})") from None


def study_kind(results_dir: str | Path) -> str:
    """The study kind of a results folder: ``manifest.json``'s ``"study"``, else the legacy fallback.

    Runs record ``"study"`` in their manifest. Older folders lack it; for them (legacy
    fallback only) the kind follows from ``config.yaml``: ``"transfer"`` when
    ``transfer.source`` is set, else ``"compression"`` when ``compression.variants`` is not
    empty, else ``"incremental"`` (also when there is no config.yaml at all).

    Args:
      results_dir: the results folder.

    Returns:
      The study kind (e.g. ``"incremental"``).

    Raises:
      DataError: the manifest or config is unreadable, or its ``"study"`` is not a string.

    Example:
      >>> import shutil, tempfile
      >>> folder = Path(tempfile.mkdtemp())
      >>> study_kind(folder)
      'incremental'
      >>> _ = (folder / "config.yaml").write_text("transfer: {source: {dataset: synthetic}}\\n")
      >>> study_kind(folder)
      'transfer'
      >>> _ = (folder / "manifest.json").write_text('{"study": "compression"}')
      >>> study_kind(folder)
      'compression'
      >>> shutil.rmtree(folder)
    """
    folder = Path(results_dir)
    manifest = folder / "manifest.json"
    recorded = _read(manifest, json.loads) if manifest.is_file() else {}
    if isinstance(recorded, dict) and "study" in recorded:
        kind = recorded["study"]
        if not isinstance(kind, str) or not kind:
            raise DataError(f"{manifest}: \"study\" must be a study kind name, got {kind!r}")
        return kind
    config = folder / "config.yaml"
    cfg = _read(config, yaml.safe_load) if config.is_file() else None

    def section(name: str) -> dict:
        value = cfg.get(name) if isinstance(cfg, dict) else None
        return value if isinstance(value, dict) else {}

    if section("transfer").get("source") is not None:
        return "transfer"
    if section("compression").get("variants"):
        return "compression"
    return "incremental"
