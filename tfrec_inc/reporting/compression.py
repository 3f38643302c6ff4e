"""Compression-study reports: size, sparsity, accuracy and latency per variant.

In compression runs ``strategy`` holds the variant (`tfrec_inc.compression.study`). The
table is a pure function of ``metrics.csv``: per seed, each variant is compared with the
``fp32`` row of the same model and seed (relative change of Recall@K / NDCG@K, size
ratio), then mean ± std over seeds is shown.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from tfrec_inc import atomic  # noqa: E402
from tfrec_inc.config import COMPRESSION_VARIANTS  # noqa: E402
from tfrec_inc.reporting.plots import save_png_pdf  # noqa: E402
from tfrec_inc.reporting.render import latex_table, markdown_table  # noqa: E402

REFERENCE = "fp32"
CONTROL = "fp32_finetuned"  # fine-tuned like prune_* / qat_int8, uncompressed
MD_FILE = "table_compression.md"
TEX_FILE = "table_compression.tex"
SCALARS = ("size_bytes", "size_gzip_bytes", "size_index_bytes", "savedmodel_bytes", "sparsity",
           "latency_p50_ms", "latency_p99_ms")


def _order(variant: str) -> tuple[int, str]:
    if variant in COMPRESSION_VARIANTS:
        return COMPRESSION_VARIANTS.index(variant), variant
    if variant.startswith("prune_"):  # other sparsities next to the listed ones
        return COMPRESSION_VARIANTS.index("prune_90"), variant
    return len(COMPRESSION_VARIANTS), variant


def summary(frame: pd.DataFrame, k: int = 20) -> pd.DataFrame:
    """One row per (model, variant): mean and std over seeds of every reported quantity.

    Args:
      frame: long-format metrics of a compression study.
      k: the cut-off of recall and NDCG.

    Returns:
      Frame indexed by (model, variant) with columns ``(name, "mean"|"std")`` for
      ``recall``, ``ndcg``, their relative change vs fp32 (``recall_change``,
      ``ndcg_change``, fractions), ``ratio`` / ``gzip_ratio`` (fp32 TFLite bytes / the
      variant's) and the `SCALARS`. Empty when there is nothing to show.

    Example:
      >>> frame = pd.DataFrame({"experiment": "x", "dataset": "d", "model": "m", "seed": 0, "window": 3,
      ...                       "group": "all", "strategy": ["fp32"] * 4 + ["tflite_int8"] * 4,
      ...                       "metric": ["recall", "ndcg", "size_bytes", "size_gzip_bytes"] * 2,
      ...                       "k": [20, 20, None, None] * 2,
      ...                       "value": [0.2, 0.1, 4000, 2000, 0.18, 0.1, 1000, 800]})
      >>> row = summary(frame).loc[("m", "tflite_int8")]
      >>> print(f"{row[('recall_change', 'mean')]:+.3f} {row[('ratio', 'mean')]:.1f}")
      -0.100 4.0
    """
    sub = frame[frame["group"] == "all"]
    k_values = pd.to_numeric(sub["k"], errors="coerce")
    quality = sub[sub["metric"].isin(["recall", "ndcg"]) & (k_values == k)]
    scalars = sub[sub["metric"].isin(SCALARS) & k_values.isna()]
    wide = pd.concat([quality, scalars]).pivot_table(
        index=["model", "strategy", "seed"], columns="metric", values="value", aggfunc="mean")
    if wide.empty or "recall" not in wide:
        return pd.DataFrame()
    def aligned(variant: str) -> pd.DataFrame:
        """The ``variant`` row of the same model and seed, for every row."""
        rows = wide.xs(variant, level="strategy").reindex(pd.MultiIndex.from_arrays(
            [wide.index.get_level_values("model"), wide.index.get_level_values("seed")]))
        rows.index = wide.index
        return rows

    ref = aligned(REFERENCE)
    for name in ("recall", "ndcg"):
        if name in wide:
            wide[f"{name}_change"] = wide[name] / ref[name] - 1.0
    variants = wide.index.get_level_values("strategy")
    if CONTROL in variants:
        # Only for the variants that got the control's fine-tuning: elsewhere it compares apples
        # with pears.
        tuned = variants.str.startswith("prune_") | variants.isin([CONTROL, "qat_int8"])
        change = wide["recall"] / aligned(CONTROL)["recall"] - 1.0
        wide["recall_change_control"] = change.where(tuned)
    if "size_bytes" in wide:
        wide["ratio"] = ref["size_bytes"] / wide["size_bytes"]
        wide["gzip_ratio"] = ref["size_gzip_bytes"] / wide["size_gzip_bytes"]
    stats = wide.groupby(level=["model", "strategy"], sort=False).agg(["mean", "std"])
    models = list(dict.fromkeys(frame["model"]))
    order = sorted(stats.index, key=lambda ms: (models.index(ms[0]), _order(ms[1])))
    stats = stats.loc[order]
    stats.index = stats.index.set_names(["model", "variant"])
    stats.attrs = {"k": k, "seeds": int(frame["seed"].nunique())}
    return stats


def _cell(stats: pd.DataFrame, row, name: str, kind: str) -> str | None:
    if (name, "mean") not in stats.columns or pd.isna(stats.loc[row, (name, "mean")]):
        return None
    mean, std = stats.loc[row, (name, "mean")], stats.loc[row, (name, "std")]
    show_std = not pd.isna(std) and std > 0
    if kind == "kb":
        return f"{mean / 1024:.1f}"
    if kind == "ratio":
        return f"{mean:.2f}×"
    if kind == "pct":
        return f"{100 * mean:.1f} %"
    if kind == "change":
        text = f"{100 * mean:+.1f} %"
        return text + (f" ± {100 * std:.1f}" if show_std else "")
    if kind == "ms":
        return f"{mean:.3f}"
    return f"{mean:.4f}" + (f" ± {std:.4f}" if show_std else "")


def _rows(stats: pd.DataFrame) -> tuple[list[str], list[list[str | None]]]:
    k = stats.attrs["k"]
    columns = [
        ("TFLite KB", "size_bytes", "kb"), ("gzip KB", "size_gzip_bytes", "kb"),
        ("× smaller", "ratio", "ratio"), ("× smaller (gzip)", "gzip_ratio", "ratio"),
        ("index KB", "size_index_bytes", "kb"),
        ("SavedModel KB", "savedmodel_bytes", "kb"), ("sparsity", "sparsity", "pct"),
        (f"Recall@{k}", "recall", "value"), (f"Δ Recall@{k}", "recall_change", "change"),
        (f"Δ Recall@{k} vs {CONTROL}", "recall_change_control", "change"),
        (f"NDCG@{k}", "ndcg", "value"), (f"Δ NDCG@{k}", "ndcg_change", "change"),
        ("p50 ms", "latency_p50_ms", "ms"), ("p99 ms", "latency_p99_ms", "ms"),
    ]
    columns = [c for c in columns if (c[1], "mean") in stats.columns]
    several = stats.index.get_level_values("model").nunique() > 1
    header = ["model / variant" if several else "variant"] + [c[0] for c in columns]
    rows = []
    for row in stats.index:
        label = f"{row[0]} / {row[1]}" if several else row[1]
        rows.append([label] + [_cell(stats, row, name, kind) for _, name, kind in columns])
    return header, rows


def _note(stats: pd.DataFrame) -> str:
    k = stats.attrs["k"]
    return (
        f"Compression variants, last window's test slice; mean ± std over {stats.attrs['seeds']} seed(s). "
        "Sizes: TFLite flatbuffers of both towers (every lookup table included), raw and gzip -9; "
        "× smaller = fp32 TFLite bytes / the variant's, per seed. index KB: the integer index tables "
        "in those bytes (catalog index -> embedding row / feature code), which no quantization shrinks. "
        "SavedModel KB: both towers as TF SavedModels (Keras-side variants only). Sparsity: measured "
        "exact zeros in the Dense kernels and embedding tables. Δ = relative change vs fp32 of the same "
        f"model and seed; vs {CONTROL} (fine-tuned variants only): vs the same fine-tuning without "
        f"compression (their control: fine-tuning alone changes accuracy). Recall@{k} and "
        f"NDCG@{k}: full ranking over every candidate item, seen items excluded. Latency: one request "
        "at a time, TFLite user tower (1 thread) + brute-force scoring and top-20 of every candidate, "
        "on a shared 2-core machine (noisy)."
    )


def markdown(frame: pd.DataFrame, k: int = 20) -> str:
    """The compression table as Markdown.

    Args:
      frame: long-format metrics of a compression study.
      k: the cut-off of recall and NDCG.

    Returns:
      ``## Compression``, the explanatory note and the table; "" when the frame has no study.
    """
    stats = summary(frame, k)
    if stats.empty:
        return ""
    header, rows = _rows(stats)
    return f"## Compression\n\n{_note(stats)}\n\n" + markdown_table(header, rows)


def latex(frame: pd.DataFrame, k: int = 20) -> str:
    """The compression table as a LaTeX ``booktabs`` tabular.

    Args:
      frame: long-format metrics of a compression study.
      k: the cut-off of recall and NDCG.

    Returns:
      The tabular after the note as a ``%`` comment line; "" when the frame has no study.
    """
    stats = summary(frame, k)
    if stats.empty:
        return ""
    header, rows = _rows(stats)
    return latex_table(header, rows, comments=[_note(stats)])


def size_vs_recall(frame: pd.DataFrame, k: int = 20) -> Figure | None:
    """Recall@k against the artefact size (raw and gzip), one marker per variant.

    One row of panels per model (their sizes differ by an order of magnitude); error bars
    are ± 1 std over seeds; computed baselines (no artefact) are dashed horizontal lines.

    Args:
      frame: long-format metrics of a compression study.
      k: the cut-off of recall.

    Returns:
      The matplotlib figure, or None when the frame has no compression study.
    """
    stats = summary(frame, k)
    if stats.empty or ("size_bytes", "mean") not in stats.columns:
        return None
    # Computed baselines have no artefact size: they are drawn as reference lines.
    sized = stats[("size_bytes", "mean")].notna()
    references = stats[~sized][("recall", "mean")].dropna()
    stats = stats[sized]
    models = list(dict.fromkeys(stats.index.get_level_values("model")))
    fig, axes = plt.subplots(len(models), 2, figsize=(11, 4.2 * len(models)), squeeze=False)
    for row, model in enumerate(models):
        part = stats.xs(model, level="model")
        for ax, (name, title) in zip(axes[row], (("size_bytes", "TFLite bytes, both towers"),
                                                 ("size_gzip_bytes", "gzip -9 bytes")), strict=True):
            x = part[(name, "mean")] / 1024
            y = part[("recall", "mean")]
            err = part[("recall", "std")].fillna(0)
            for i, (variant, xv, yv, ev) in enumerate(zip(part.index, x, y, err, strict=True)):
                drawn = ax.errorbar([xv], [yv], yerr=[ev], fmt="o", capsize=2)
                # Alternating label offsets: variants of equal size sit on one vertical line.
                ax.annotate(variant, (xv, yv), fontsize=7, color=drawn[0].get_color(),
                            xytext=(4, 4 if i % 2 == 0 else -10), textcoords="offset points")
            for (baseline, _), value in references.items():
                ax.axhline(value, ls="--", lw=0.8, color="grey")
                ax.annotate(baseline, (0, value), fontsize=7, color="grey", xytext=(2, 2),
                            textcoords="offset points")
            ax.set_xlim(left=0, right=1.15 * float(x.max()))  # from 0: distances read as ratios
            ax.set_xlabel(f"{title}, KB")
            ax.set_ylabel(f"Recall@{k}")
            ax.set_title(model, fontsize=9)
            ax.grid(alpha=0.3, which="both")
    fig.suptitle(", ".join(sorted(frame["experiment"].unique()))
                 + f": Recall@{k} (mean ± std over seeds) vs artefact size")
    fig.tight_layout()
    return fig


def write_table(frame: pd.DataFrame, out_dir: str | Path, k: int = 20) -> bool:
    """Writes ``table_compression.md`` and ``table_compression.tex``.

    Args:
      frame: long-format metrics of a compression study.
      out_dir: an existing folder.
      k: the cut-off of recall and NDCG.

    Returns:
      True when written (the frame holds a compression study).
    """
    out_dir = Path(out_dir)
    text = markdown(frame, k)
    if not text:
        return False
    atomic.write_text(out_dir / MD_FILE, text)
    atomic.write_text(out_dir / TEX_FILE, latex(frame, k))
    return True


def write_plot(frame: pd.DataFrame, plot_dir: str | Path, k: int = 20) -> None:
    """Writes ``size_vs_recall_at_<k>.{png,pdf}`` (Recall@k against artefact size).

    Args:
      frame: long-format metrics of a compression study.
      plot_dir: the plot folder (created when needed).
      k: the cut-off of recall.
    """
    save_png_pdf(size_vs_recall(frame, k), plot_dir, f"size_vs_recall_at_{k}")
