"""Paper-style tables (Markdown and LaTeX): rows = model / strategy, columns = metrics.

Each cell is the mean ± std over seeds of the metric averaged over windows; the best
mean of each column is bold (lowest for error metrics).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pandas as pd

from tfrec_inc import atomic
from tfrec_inc.reporting.render import Cell, CellLike, latex_table, markdown_table

LOWER_IS_BETTER = {"rmse", "mae", "train_seconds"}
# Counts (group sizes, users scoring every candidate alike, candidate pool): shown, never bold.
COUNT_COLUMNS = {"users", "ratings", "constant_users", "candidates", "cold_candidates"}
GROUP_TITLES = {
    "all": "All users",
    "warm_users": "Warm users",
    "cold_users": "Cold users",
    "cold_items": "Cold items",
}
EXTRA_COLUMNS = ("users", "ratings", "rmse", "mae", "tfrs_top_k_accuracy@10", "tfrs_top_k_accuracy@100",
                 "constant_users", "candidates", "cold_candidates")


def _column_name(metric: str, k) -> str:
    return metric if pd.isna(k) else f"{metric}@{int(k)}"


def summarise(frame: pd.DataFrame, columns: Sequence[str], group: str) -> pd.DataFrame:
    """Mean and std over seeds (of the per-seed mean over windows) for one group.

    Args:
      frame: long-format metrics.
      columns: ``metric@k`` or bare metric names; absent ones are skipped.
      group: the user/item group.

    Returns:
      Frame indexed by row label with columns ``(name, "mean")`` and ``(name, "std")``.
    """
    sub = frame[frame["group"] == group].copy()
    if sub.empty:
        return pd.DataFrame()
    sub["column"] = [_column_name(m, k) for m, k in zip(sub["metric"], sub["k"], strict=True)]
    present = set(sub["column"])
    candidates = ["users", "ratings", *columns, *EXTRA_COLUMNS]
    wanted = [c for c in candidates if c in present]
    wanted = list(dict.fromkeys(wanted))
    if not wanted:
        return pd.DataFrame()
    sub = sub[sub["column"].isin(wanted)]
    several = sub["experiment"].nunique() > 1
    sub["row"] = [
        (f"{e} · " if several else "") + f"{m} / {s}"
        for e, m, s in zip(sub["experiment"], sub["model"], sub["strategy"], strict=True)
    ]
    per_seed = sub.groupby(["row", "column", "seed"], sort=False)["value"].mean()
    stats = per_seed.groupby(["row", "column"], sort=False).agg(["mean", "std"])
    table = stats.unstack("column")
    table = table.swaplevel(axis=1)
    order = [(c, s) for c in wanted for s in ("mean", "std") if (c, s) in table.columns]
    return table[order]


def _best(table: pd.DataFrame, column: str) -> float | None:
    values = table[(column, "mean")].dropna()
    if values.empty:
        return None
    metric = column.split("@")[0]
    return values.min() if metric in LOWER_IS_BETTER else values.max()


def _cells(table: pd.DataFrame) -> list[list[CellLike]]:
    columns = list(dict.fromkeys(c for c, _ in table.columns))
    best = {c: _best(table, c) for c in columns}
    rows = []
    for label, row in table.iterrows():
        cells: list[CellLike] = [str(label)]
        for c in columns:
            mean, std = row[(c, "mean")], row[(c, "std")]
            if pd.isna(mean):
                cells.append(None)
                continue
            if c in COUNT_COLUMNS:
                cells.append(f"{mean:.0f}")
                continue
            text = f"{mean:.4f}" + ("" if pd.isna(std) else f" ± {std:.4f}")
            distinct = table[(c, "mean")].dropna().nunique() > 1
            cells.append(Cell(text, bold=bool(distinct and mean == best[c])))
        rows.append(cells)
    return rows


def _sections(frame: pd.DataFrame, columns: Sequence[str]) -> Iterator[tuple[str, list[str], list]]:
    """(title, header, rows) of each group's table."""
    for group, title in GROUP_TITLES.items():
        table = summarise(frame, columns, group)
        if table.empty:
            continue
        header = ["model / strategy"] + list(dict.fromkeys(c for c, _ in table.columns))
        yield title, header, _cells(table)


def markdown(frame: pd.DataFrame, columns: Sequence[str]) -> str:
    """All groups' tables as one Markdown document.

    Args:
      frame: long-format metrics.
      columns: ``metric@k`` or bare metric names, as for `summarise`.

    Returns:
      A header line, then one ``## <group>`` table per group with values.
    """
    n_seeds = frame["seed"].nunique()
    n_windows = frame["window"].nunique()
    parts = [
        f"Mean ± std over {n_seeds} seed(s) of the mean over {n_windows} window(s); "
        "best in bold; users = evaluated users per window.\n"
    ]
    for title, header, rows in _sections(frame, columns):
        parts.append(f"## {title}\n\n" + markdown_table(header, rows))
    return "\n".join(parts)


def latex(frame: pd.DataFrame, columns: Sequence[str]) -> str:
    """All groups' tables as LaTeX ``booktabs`` tabulars.

    Args:
      frame: long-format metrics.
      columns: ``metric@k`` or bare metric names, as for `summarise`.

    Returns:
      One tabular per group with values, each after a ``% <group>`` comment line.
    """
    # Cells without a value show "–" here, not "--" as in the other LaTeX tables: kept so
    # that the committed table.tex files stay byte-identical.
    return "\n".join(latex_table(header, rows, comments=[title], missing="–")
                     for title, header, rows in _sections(frame, columns))


def write_tables(frame: pd.DataFrame, out_dir: str | Path, columns: Sequence[str]) -> None:
    """Writes ``table.md`` and ``table.tex`` into ``out_dir``.

    Args:
      frame: long-format metrics.
      out_dir: an existing folder.
      columns: ``metric@k`` or bare metric names, as for `summarise`.
    """
    out_dir = Path(out_dir)
    atomic.write_text(out_dir / "table.md", markdown(frame, columns))
    atomic.write_text(out_dir / "table.tex", latex(frame, columns))
