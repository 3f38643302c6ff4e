"""Transfer-study reports: Recall@20 per target-data fraction (table and learning curves).

In transfer runs ``strategy`` holds the mode and ``window`` the target-data percentage.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from tfrec_inc import atomic  # noqa: E402
from tfrec_inc.reporting.plots import save_png_pdf  # noqa: E402
from tfrec_inc.reporting.render import Cell, CellLike, latex_table, markdown_table  # noqa: E402

MODES = ("scratch", "zero_shot", "encoder_only", "fine_tune", "freeze_text", "fusion_score",
         "fusion_weights")


def _curve(frame: pd.DataFrame, metric: str, k: int, group: str) -> pd.DataFrame:
    sub = frame[(frame["group"] == group) & (frame["metric"] == metric)
                & (frame["k"].fillna(-1).astype(int) == k)].copy()
    sub["row"] = sub["model"] + " / " + sub["strategy"]
    # sort=False: rows in the order the run wrote them (trained modes first, then baselines).
    per_seed = sub.groupby(["row", "window", "seed"], sort=False)["value"].mean()
    stats = per_seed.groupby(["row", "window"], sort=False).agg(["mean", "std"]).reset_index()
    return stats.sort_values("window", kind="stable")


GROUPS = (("all", "All users"), ("cold_users", "Cold users"), ("cold_items", "Cold items"))


def _sections(frame: pd.DataFrame, k: int) -> Iterator[tuple[str, list[str], list[list[CellLike]]]]:
    """(title, header, rows) of each (group, metric) table: rows = model / mode, columns = shares."""
    for group, title in GROUPS:
        for metric in ("recall", "ndcg"):
            stats = _curve(frame, metric, k, group)
            if stats.empty:
                continue
            percents = sorted(stats["window"].unique())
            header = ["model / mode"] + [f"{p}%" for p in percents]
            best = stats.groupby("window")["mean"].max()
            several = stats["row"].nunique() > 1
            rows = []
            for row, pts in stats.groupby("row", sort=False):
                cells: list[CellLike] = [row]
                for p in percents:
                    hit = pts[pts["window"] == p]
                    if hit.empty:
                        cells.append(None)
                        continue
                    mean, std = hit["mean"].iloc[0], hit["std"].iloc[0]
                    text = f"{mean:.4f}" + ("" if pd.isna(std) else f" ± {std:.4f}")
                    cells.append(Cell(text, bold=bool(mean == best[p] and several)))
                rows.append(cells)
            yield f"{title}: {metric}@{k}", header, rows


def markdown(frame: pd.DataFrame, k: int = 20) -> str:
    """Recall@k and NDCG@k by target-data fraction: rows = model / mode, mean ± std over seeds.

    Args:
      frame: long-format metrics of a transfer study.
      k: the cut-off of recall and NDCG.

    Returns:
      A header line, then one ``## <group>: <metric>@<k>`` table per group and metric.
    """
    parts = [f"Transfer: mean ± std over {frame['seed'].nunique()} seed(s) on the target's test slice; "
             "columns = share of the target's (most recent) training interactions; highest mean per column "
             "in bold (a ranking, not a significance claim; table.md has the paired tests of the "
             "full-data point). zero_shot and encoder_only are never trained on the target.\n"]
    parts += [f"## {title}\n\n" + markdown_table(header, rows) for title, header, rows in _sections(frame, k)]
    return "\n".join(parts)


def latex(frame: pd.DataFrame, k: int = 20) -> str:
    """The tables of `markdown` as LaTeX ``booktabs`` tabulars.

    Args:
      frame: long-format metrics of a transfer study.
      k: the cut-off of recall and NDCG.

    Returns:
      One tabular per group and metric, each after a ``% <group>: <metric>@<k>`` comment line.
    """
    return "\n".join(latex_table(header, rows, comments=[title])
                     for title, header, rows in _sections(frame, k))


def learning_curves(frame: pd.DataFrame, k: int = 20) -> Figure | None:
    """Recall@k against the target-data fraction (log scale), one line per model / mode.

    Args:
      frame: long-format metrics of a transfer study.
      k: the cut-off of recall.

    Returns:
      The matplotlib figure, or None when the frame has no recall@k.
    """
    stats = _curve(frame, "recall", k, "all")
    if stats.empty:
        return None
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for row, pts in stats.groupby("row", sort=False):
        x = pts["window"] / 100.0
        (line,) = ax.plot(x, pts["mean"], marker="o", label=row,
                          linestyle="--" if row.endswith(("zero_shot", "encoder_only")) else "-")
        ax.fill_between(x, pts["mean"] - pts["std"].fillna(0), pts["mean"] + pts["std"].fillna(0),
                        color=line.get_color(), alpha=0.12)
    ax.set_xscale("log")
    ax.set_xlabel("share of target training data")
    ax.set_ylabel(f"Recall@{k} on the target")
    ax.set_title(", ".join(sorted(frame["experiment"].unique())))
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def write_table(frame: pd.DataFrame, out_dir: str | Path, k: int = 20) -> None:
    """Writes ``table_transfer.md`` (the LaTeX rendering, `latex`, is not written).

    Args:
      frame: long-format metrics of a transfer study.
      out_dir: an existing folder.
      k: the cut-off of recall and NDCG.
    """
    atomic.write_text(Path(out_dir) / "table_transfer.md", markdown(frame, k))


def write_plot(frame: pd.DataFrame, plot_dir: str | Path, k: int = 20) -> None:
    """Writes ``transfer_recall_at_<k>.{png,pdf}`` (learning curves).

    Args:
      frame: long-format metrics of a transfer study.
      plot_dir: the plot folder (created when needed).
      k: the cut-off of recall.
    """
    save_png_pdf(learning_curves(frame, k), plot_dir, f"transfer_recall_at_{k}")
