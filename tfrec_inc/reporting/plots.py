"""Matplotlib figures from the long metrics table: recall–precision, per-window lines, update time."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from tfrec_inc import atomic  # noqa: E402

MARKED_KS = (1, 5, 10, 20, 50, 100)


def _label(frame: pd.DataFrame) -> pd.Series:
    several = frame["experiment"].nunique() > 1
    prefix = frame["experiment"] + " · " if several else ""
    return prefix + frame["model"] + " / " + frame["strategy"]


def save_figure(fig: Figure, path: Path) -> None:
    """Saves atomically (temp file + rename), PDFs without a creation date (reproducible).

    Args:
      fig: the figure.
      path: the file to write; its suffix picks the format.
    """
    # No creation date in PDFs: the same metrics.csv gives byte-identical figures.
    metadata = {"CreationDate": None} if path.suffix == ".pdf" else None
    atomic.write_with(path, lambda tmp: fig.savefig(tmp, dpi=150, bbox_inches="tight", metadata=metadata),
                      suffix=path.suffix)


def save_png_pdf(fig: Figure | None, plot_dir: str | Path, stem: str) -> None:
    """Saves ``fig`` as ``<stem>.png`` and ``<stem>.pdf`` in ``plot_dir`` and closes it.

    Args:
      fig: the figure; None writes nothing.
      plot_dir: the folder (created when missing).
      stem: the file name without suffix.
    """
    if fig is None:
        return
    plot_dir = Path(plot_dir)
    plot_dir.mkdir(parents=True, exist_ok=True)
    for ext in ("png", "pdf"):
        save_figure(fig, plot_dir / f"{stem}.{ext}")
    plt.close(fig)


def recall_precision(frame: pd.DataFrame, group: str = "all") -> Figure | None:
    """Mean precision@K against recall@K (K = 1..K_max), one line per model / strategy.

    Args:
      frame: long-format metrics.
      group: the user/item group.

    Returns:
      The matplotlib figure, or None when the frame has no curve points.
    """
    sub = frame[(frame["group"] == group) & frame["metric"].isin(["recall", "precision"])].copy()
    if sub.empty:
        return None
    sub["line"] = _label(sub)
    curve = sub.groupby(["line", "metric", "k"])["value"].mean().unstack("metric").reset_index()
    if not {"recall", "precision"} <= set(curve.columns):
        return None  # a curve needs both coordinates (e.g. hand-made or filtered frames)
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for line, points in curve.groupby("line", sort=False):
        points = points.sort_values("k")
        (drawn,) = ax.plot(points["recall"], points["precision"], label=line, linewidth=1.6)
        marks = points[points["k"].isin(MARKED_KS)]
        ax.scatter(marks["recall"], marks["precision"], color=drawn.get_color(), s=18, zorder=3)
        for _, p in marks.iterrows():
            ax.annotate(f"@{int(p['k'])}", (p["recall"], p["precision"]), fontsize=7,
                        xytext=(3, 3), textcoords="offset points", color=drawn.get_color())
    ax.set_xlabel("Recall@K")
    ax.set_ylabel("Precision@K")
    experiments = ", ".join(sorted(frame["experiment"].unique()))
    ax.set_title(f"Recall–precision, K = 1…{int(curve['k'].max())} ({experiments})")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def by_window(frame: pd.DataFrame, metric: str, k: int | None, group: str = "all") -> Figure | None:
    """Metric@k (or a metric without K) per window, mean over seeds ± 1 std, a line per row.

    Args:
      frame: long-format metrics.
      metric: the metric name.
      k: its cut-off, or None for metrics without one (e.g. ``rmse``).
      group: the user/item group.

    Returns:
      The matplotlib figure, or None when the frame has no such values.
    """
    k_match = frame["k"].fillna(-1).astype(int) == (-1 if k is None else k)
    sub = frame[(frame["group"] == group) & (frame["metric"] == metric) & k_match].copy()
    if sub.empty:
        return None
    sub["line"] = _label(sub)
    stats = sub.groupby(["line", "window"])["value"].agg(["mean", "std"]).reset_index()
    fig, ax = plt.subplots(figsize=(6, 4))
    for line, pts in stats.groupby("line", sort=False):
        (drawn,) = ax.plot(pts["window"], pts["mean"], marker="o", label=line)
        ax.fill_between(pts["window"], pts["mean"] - pts["std"].fillna(0),
                        pts["mean"] + pts["std"].fillna(0), color=drawn.get_color(), alpha=0.15)
    ax.set_xlabel("window")
    ax.set_ylabel(metric if k is None else f"{metric}@{k}")
    ax.set_xticks(sorted(stats["window"].unique()))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def cumulative_time(frame: pd.DataFrame) -> Figure | None:
    """Cumulative training seconds over windows (mean over seeds), one line per model / strategy.

    A window without a ``train_seconds`` row counts as 0 s: the strategy did not update
    there (e.g. static after window 0), so its line stays flat.

    Args:
      frame: long-format metrics with ``train_seconds`` rows (group ``all``, no K).

    Returns:
      The matplotlib figure, or None when the frame has no ``train_seconds`` rows.

    Example:
      >>> frame = pd.DataFrame({"experiment": "x", "model": "m", "strategy": "fine_tune", "seed": 0,
      ...                       "group": "all", "metric": "train_seconds", "k": None,
      ...                       "window": [0, 1, 2], "value": [10.0, 2.0, 3.0]})
      >>> fig = cumulative_time(frame)
      >>> fig.axes[0].lines[0].get_ydata().tolist()
      [10.0, 12.0, 15.0]
      >>> plt.close(fig)
    """
    cost = frame[(frame["group"] == "all") & (frame["metric"] == "train_seconds")].copy()
    if cost.empty:
        return None
    cost["line"] = _label(cost)
    fig, ax = plt.subplots(figsize=(6, 4))
    for line, pts in cost.groupby("line", sort=False):
        # Every window the line's experiment evaluated, so skipped updates show as flat steps.
        windows = sorted(frame.loc[frame["experiment"].isin(pts["experiment"]), "window"].unique())
        per_seed = pts.pivot_table(index="window", columns="seed", values="value", aggfunc="sum")
        curve = per_seed.reindex(windows).fillna(0.0).cumsum().mean(axis=1)
        ax.plot(curve.index, curve.to_numpy(), marker="o", label=line)
    ax.set_xlabel("window")
    ax.set_ylabel("cumulative train seconds (mean over seeds)")
    ax.set_xticks(sorted(frame["window"].unique()))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def write_plots(frame: pd.DataFrame, out_dir: str | Path, per_window: bool = True) -> list[Path]:
    """Writes the figures of ``frame`` into ``out_dir`` and returns their paths.

    ``recall_precision.{png,pdf}`` and, with ``per_window``, ``<metric>_at_<k>_by_window.png``
    and (when at least two strategies record ``train_seconds``) ``cumulative_update_time.png``.

    Args:
      frame: long-format metrics.
      out_dir: the plot folder (created when missing).
      per_window: also write the per-window curves and the cumulative update time.

    Returns:
      The paths written.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    fig = recall_precision(frame)
    if fig is not None:
        save_png_pdf(fig, out_dir, "recall_precision")
        written += [out_dir / "recall_precision.png", out_dir / "recall_precision.pdf"]
    if not per_window:
        return written
    ks = sorted(frame.loc[frame["metric"] == "ndcg", "k"].dropna().unique())
    k = 20 if 20 in ks else (ks[-1] if ks else None)
    for metric, kk in (("recall", k), ("ndcg", k), ("rmse", None)):
        fig = by_window(frame, metric, kk)
        if fig is None:
            continue
        name = f"{metric}_at_{kk}_by_window.png" if kk is not None else f"{metric}_by_window.png"
        save_figure(fig, out_dir / name)
        written.append(out_dir / name)
        plt.close(fig)
    cost = frame[(frame["group"] == "all") & (frame["metric"] == "train_seconds")]
    timed = cumulative_time(frame) if cost["strategy"].nunique() >= 2 else None
    if timed is not None:
        fig = timed
        save_figure(fig, out_dir / "cumulative_update_time.png")
        written.append(out_dir / "cumulative_update_time.png")
        plt.close(fig)
    return written
