"""The paper table of an incremental study: rows = strategies, column groups = datasets.

Each dataset gets five columns: recall@K, ndcg@K, retention@K (recall@K of the updated
model on earlier windows' test slices, which no update trains on), bwt@K (backward
transfer: retention minus those slices' recall at their own window,
`tfrec_inc.evaluation.retention`) and the update time relative to ``full_retrain``.
A cell is the mean ± std over seeds of the per-seed mean over windows
t ≥ 1: window 0 is the base training every strategy shares, so including it would only
pull every row towards the same number.

With per-user values, recall@K and ndcg@K cells also show a 95 % confidence interval (a
cluster bootstrap over users of the seed-averaged per-user values, `reporting.significance`)
and get a † when their paired difference to the same model's reference strategy
(``fine_tune``) has a Holm-adjusted p < alpha. Sections after the table list those
differences and, for every trained row, the difference to the best baseline row (a computed
model: popularity, itemknn, ...), all in one Holm family.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Collection
from pathlib import Path

import numpy as np
import pandas as pd

from tfrec_inc import atomic
from tfrec_inc.reporting import significance
from tfrec_inc.reporting.render import Cell, CellLike, latex_table, markdown_table

STRATEGY_ORDER = ("static", "full_retrain", "sliding_retrain", "fine_tune", "replay", "distill", "ewc")
MARKER = significance.MARKER
STATS = ("mean", "std", "low", "high", "p")
TESTED = significance.TESTED
MD_FILE = "table_incremental.md"
TEX_FILE = "table_incremental.tex"


def _column_labels(frame: pd.DataFrame) -> dict[tuple[str, str], str]:
    """Column-group label of each (experiment, dataset): the dataset, else the experiment."""
    pairs = list(frame[["experiment", "dataset"]].drop_duplicates().itertuples(index=False, name=None))
    experiments_per_dataset: dict[str, set[str]] = {}
    for experiment, dataset in pairs:
        experiments_per_dataset.setdefault(dataset, set()).add(experiment)
    labels = {
        (e, d): d if len(experiments_per_dataset[d]) == 1 else e for e, d in pairs
    }
    # One experiment over several shared datasets would collide on its name: spell both out.
    taken = pd.Series(list(labels.values())).value_counts()
    return {(e, d): (f"{e} · {d}" if taken[label] > 1 else label) for (e, d), label in labels.items()}


def _strategy_rank(strategy: str) -> int:
    return STRATEGY_ORDER.index(strategy) if strategy in STRATEGY_ORDER else len(STRATEGY_ORDER)


def _span(values: list[int]) -> str:
    low, high = min(values), max(values)
    return str(low) if low == high else f"{low}–{high}"


def _time_ratios(frame: pd.DataFrame, quality: pd.DataFrame, baseline: str) -> pd.Series:
    """Per (column, model, strategy, seed): update seconds over windows ≥ 1 / the baseline's."""
    cost = frame[(frame["metric"] == "train_seconds") & (frame["group"] == "all")]
    seeds = quality[["column", "model", "strategy", "seed"]].drop_duplicates()
    ratios = {}
    for (column, model), keys in seeds.groupby(["column", "model"], sort=False):
        sub = cost[(cost["column"] == column) & (cost["model"] == model)]
        if sub.empty:
            continue  # no cost recorded for this study: leave the column empty, not zero
        late = sub[sub["window"] >= 1].groupby(["strategy", "seed"])["value"].sum()
        recorded = set(sub["strategy"])
        for strategy, seed in zip(keys["strategy"], keys["seed"], strict=True):
            # A missing row at t >= 1 means "did not update" (0 s) for a strategy whose cost is
            # recorded at all; static never updates after the shared base training.
            if strategy not in recorded and strategy != "static":
                continue
            base = late.get((baseline, seed), np.nan)
            spent = late.get((strategy, seed), 0.0)
            ratios[(column, model, strategy, seed)] = spent / base if base > 0 else np.nan
    if not ratios:
        return pd.Series(dtype=float)
    index = pd.MultiIndex.from_tuples(list(ratios), names=["column", "model", "strategy", "seed"])
    return pd.Series(list(ratios.values()), index=index, dtype=float)


def _significance(per_user: pd.DataFrame, labels: dict, k: int, means: dict[tuple, float],
                  ordered: list[tuple[str, str]], reference: str,
                  baselines: Collection[str] | None) -> tuple[dict, pd.DataFrame]:
    """Cell intervals ``{(column, model, strategy, metric): Interval}`` and the comparisons."""
    pu = per_user[per_user["window"] >= 1]
    pu = pu.assign(column=[labels.get((e, d)) for e, d in zip(pu["experiment"], pu["dataset"],
                                                                strict=True)])
    values = significance.user_values(pu[pu["column"].notna()], k)  # drop studies not in the frame
    requests = significance.requests(values, means, ordered, reference, baselines)
    return significance.row_intervals(values), significance.comparisons(values, requests)


def _add_tested_cells(cells: dict, intervals: dict, comparison: pd.DataFrame,
                      row_label: dict[tuple[str, str], str], names: dict[str, str]) -> None:
    """Puts the rows' 95 % intervals and their Holm-adjusted p vs the reference into ``cells``."""
    for (column, model, strategy, metric), found in intervals.items():
        if (model, strategy) in row_label:
            for stat, value in (("low", found.low), ("high", found.high)):
                cells.setdefault((column, names[metric], stat), {})[row_label[(model, strategy)]] = value
    for r in comparison[comparison["kind"] == "reference"].itertuples(index=False):
        cells.setdefault((r.column, names[r.metric], "p"), {})[row_label[(r.model, r.strategy)]] = r.p_holm


def _quality(frame: pd.DataFrame, k: int) -> pd.DataFrame:
    """recall/ndcg/retention/bwt@k rows at windows >= 1 of the model/strategy pairs with recall or ndcg."""
    k_values = pd.to_numeric(frame["k"], errors="coerce")
    quality = frame[frame["metric"].isin([*TESTED, "retention", "bwt"]) & (k_values == k)
                    & (frame["window"] >= 1)]
    rows = quality.loc[quality["metric"].isin(TESTED), ["model", "strategy"]].drop_duplicates()
    return quality.merge(rows, on=["model", "strategy"])


def _row_labels(quality: pd.DataFrame) -> tuple[list[tuple[str, str]], dict[tuple[str, str], str], bool]:
    """(model, strategy) pairs in table order, their row labels, and whether there are several models."""
    rows = quality.loc[quality["metric"].isin(TESTED), ["model", "strategy"]].drop_duplicates()
    models = list(dict.fromkeys(rows["model"]))
    several = len(models) > 1
    ordered = sorted(rows.itertuples(index=False, name=None),
                     key=lambda ms: (models.index(ms[0]), _strategy_rank(ms[1]), ms[1]))
    return ordered, {(m, s): (f"{m} / {s}" if several else s) for m, s in ordered}, several


def _column_names(quality: pd.DataFrame, k: int) -> dict[str, str]:
    """metric -> column name; bwt only when recorded (studies before backward transfer have none)."""
    names = {"recall": f"recall@{k}", "ndcg": f"ndcg@{k}", "retention": f"retention@{k}"}
    if (quality["metric"] == "bwt").any():
        names["bwt"] = f"bwt@{k}"
    return names


def _stat_cells(stats: pd.DataFrame, row_label: dict[tuple[str, str], str],
                name: Callable[[tuple], str]) -> dict[tuple[str, str, str], dict[str, float]]:
    """``{(column, name, stat): {row label: value}}`` from mean/std rows indexed by
    ``(column, model, strategy, ...)``; ``name`` gives a row's column name from its index key."""
    cells: dict[tuple[str, str, str], dict[str, float]] = {}
    for key, row in stats.iterrows():
        column, model, strategy = key[:3]
        for stat in ("mean", "std"):
            cells.setdefault((column, name(key), stat), {})[row_label[(model, strategy)]] = row[stat]
    return cells


def summary(
    frame: pd.DataFrame,
    per_user: pd.DataFrame | None = None,
    k: int = 20,
    reference: str = "fine_tune",
    baseline: str = "full_retrain",
    alpha: float = 0.05,
    baselines: Collection[str] | None = None,
) -> pd.DataFrame:
    """Strategies × (dataset, metric) summary of an incremental study, windows t ≥ 1.

    Rows are strategies (``model / strategy`` when the frame holds several models) in the
    canonical order static, full_retrain, sliding_retrain, fine_tune, replay, distill, ewc;
    only model/strategy pairs with recall@K or ndcg@K values are rows. Column groups are
    datasets (the experiment name when several experiments share a dataset).

    Args:
      frame: long-format metrics (`tfrec_inc.results.COLUMNS`), one or more studies.
      per_user: long per-user values (`tfrec_inc.results.PER_USER_COLUMNS`) or None.
      k: the cut-off of recall, ndcg and retention.
      reference: the strategy every other one (of the same trained model) is tested against.
      baseline: the strategy whose update time is the unit of the time column.
      alpha: significance level of the † marker (on Holm-adjusted p-values).
      baselines: baseline (computed) model labels, or None (`significance.is_baseline`).

    Returns:
      Numeric frame indexed by row label, columns ``(dataset, name, stat)`` with name in
      ``recall@K, ndcg@K, retention@K, time vs <baseline>`` and stat in
      ``mean, std, low, high, p``: the 95 % cluster-bootstrap interval and the Holm-adjusted
      p vs ``reference`` (NaN when untested). ``attrs`` holds what the renderings print
      (seeds, windows, alpha, ..., ``"comparisons"``: `significance.comparisons` records).
      Empty when there is no recall@K/ndcg@K at windows ≥ 1.

    Example:
      >>> frame = pd.DataFrame({"experiment": "x", "dataset": "d", "model": "m", "group": "all", "k": 20,
      ...     "metric": "recall", "seed": [0, 0, 1, 1], "window": 1,
      ...     "strategy": ["full_retrain", "fine_tune"] * 2, "value": [0.3, 0.2, 0.5, 0.2]})
      >>> table = summary(frame)
      >>> table[("d", "recall@20", "mean")].round(4).to_dict()
      {'full_retrain': 0.4, 'fine_tune': 0.2}
    """
    frame = frame[frame["group"] == "all"]
    if frame.empty:
        return pd.DataFrame()
    labels = _column_labels(frame)
    frame = frame.assign(column=[labels[(e, d)] for e, d in zip(frame["experiment"], frame["dataset"],
                                                                 strict=True)])
    quality = _quality(frame, k)
    if quality.empty:
        return pd.DataFrame()
    ordered, row_label, several = _row_labels(quality)

    names = _column_names(quality, k)
    time_name = f"time vs {baseline}"
    present = set(quality["column"])
    columns = [c for c in dict.fromkeys(labels.values()) if c in present]

    per_seed = quality.groupby(["column", "model", "strategy", "metric", "seed"])["value"].mean()
    stats = per_seed.groupby(level=["column", "model", "strategy", "metric"]).agg(["mean", "std"])
    cells = _stat_cells(stats, row_label, lambda key: names[key[3]])
    ratios = _time_ratios(frame, quality, baseline).dropna()
    if not ratios.empty:
        time_stats = ratios.groupby(level=["column", "model", "strategy"]).agg(["mean", "std"])
        cells.update(_stat_cells(time_stats, row_label, lambda key: time_name))
    tested = per_user is not None and not per_user.empty
    comparison = pd.DataFrame(columns=significance.COMPARISON_COLUMNS)
    if per_user is not None and tested:
        intervals, comparison = _significance(per_user, labels, k, stats["mean"].to_dict(), ordered,
                                              reference, baselines)
        _add_tested_cells(cells, intervals, comparison, row_label, names)

    index = pd.Index([row_label[ms] for ms in ordered], name="model / strategy" if several else "strategy")
    order = [(c, n, s) for c in columns for n in (*names.values(), time_name) for s in STATS]
    table = pd.DataFrame({key: pd.Series(cells.get(key, {}), dtype=float) for key in order}, index=index)
    table.columns = pd.MultiIndex.from_tuples(order, names=["dataset", "column", "stat"])
    table.attrs = _attrs(quality, columns, list(names.values()), time_name, k=k, reference=reference,
                         baseline=baseline, alpha=alpha, per_user=tested,
                         comparisons=comparison.to_dict("records"), row_labels=row_label)
    return table


def _attrs(quality: pd.DataFrame, columns: list[str], metric_columns: list[str], time_column: str,
           **settings: object) -> dict:
    """What the renderings of a `summary` print in their header: settings, seeds, windows, columns."""
    windows = quality.groupby("column")["window"].agg(["min", "max"])
    return {
        **settings,
        "has_reference": settings["reference"] in set(quality["strategy"]),
        "seeds": sorted(int(n) for n in quality.groupby("column")["seed"].nunique()),
        "windows": {c: (int(windows.loc[c, "min"]), int(windows.loc[c, "max"])) for c in columns},
        "metric_columns": metric_columns,
        "time_column": time_column,
    }


def _header(table: pd.DataFrame) -> str:
    a = table.attrs
    spans = {f"{lo}–{hi}" if lo != hi else str(lo) for lo, hi in a["windows"].values()}
    if len(spans) == 1:
        windows = f"windows {spans.pop()}"
    else:
        windows = "windows 1…T−1 (" + ", ".join(
            f"{c}: {lo}–{hi}" for c, (lo, hi) in a["windows"].items()) + ")"
    seeds = _span(a["seeds"])
    text = (
        f"Mean ± std over {seeds} seed(s) of the per-seed mean over {windows}; window 0, the base "
        "training shared by every strategy, is left out. "
        f"retention@{a['k']} = recall@{a['k']} of the updated model on the test slices of earlier "
        "windows (never trained on by any update). "
        + (f"bwt@{a['k']} = backward transfer, retention minus the recall each of those slices had "
           "when it was scored at its own window (negative: forgetting). "
           if f"bwt@{a['k']}" in a["metric_columns"] else "")
        + f"{a['time_column']} = update time summed over those windows, relative "
        f"to {a['baseline']} in the same seed (0 = no update). "
        "Highest mean per column in bold (lowest non-zero time): a ranking of means, not a "
        "significance claim. "
    )
    if not a["per_user"]:
        return text + "No per-user values: no confidence intervals and no significance test."
    text += significance.describe(a["alpha"]) + " "
    kinds = {c["kind"] for c in a["comparisons"]}
    text += (f"In the table, {MARKER} compares with {a['reference']} of the same model. "
             if "reference" in kinds else f"No {a['reference']} rows to compare with. ")
    text += ("Every trained row is also compared with the baseline (computed-model) row of highest "
             "mean on that metric (below)." if "baseline" in kinds else "No baseline (computed-model) rows.")
    return text


def _sections(table: pd.DataFrame) -> list[tuple[str, list[str], list[list[CellLike]]]]:
    """The significance tables after the main one (`significance.sections`)."""
    k = table.attrs["k"]
    comparison = pd.DataFrame(table.attrs["comparisons"], columns=significance.COMPARISON_COLUMNS)
    names = {m: f"{m}@{k}" for m in TESTED}
    return significance.sections(comparison, names, table.attrs["row_labels"], table.attrs["alpha"])


def _best(table: pd.DataFrame, column: str, name: str, decimals: int, lowest: bool) -> float | None:
    # Compared as printed, so two cells that read the same are both bold or neither.
    means = table[(column, name, "mean")].dropna().round(decimals)
    if lowest:
        means = means[means > 0]  # 0 = never updates: trivially cheapest, not a finding
    if means.nunique() < 2:
        return None  # nothing to tell apart
    return means.min() if lowest else means.max()


def _cells(table: pd.DataFrame) -> list[list[CellLike]]:
    a = table.attrs
    columns = list(dict.fromkeys(table.columns.get_level_values("dataset")))
    names = [*a["metric_columns"], a["time_column"]]
    decimals = {n: (3 if n == a["time_column"] else 4) for n in names}
    best = {(c, n): _best(table, c, n, decimals[n], n == a["time_column"]) for c in columns for n in names}
    rows = []
    for label, row in table.iterrows():
        cells: list[CellLike] = [str(label)]
        for c in columns:
            for n in names:
                mean, std, p = row[(c, n, "mean")], row[(c, n, "std")], row[(c, n, "p")]
                if pd.isna(mean):
                    cells.append(None)
                    continue
                d = decimals[n]
                text = f"{mean:.{d}f}" + ("" if pd.isna(std) else f" ± {std:.{d}f}")
                if not pd.isna(row[(c, n, "low")]):
                    text += " " + significance.interval_text(row[(c, n, "low")], row[(c, n, "high")], d)
                bold = best[(c, n)] is not None and round(mean, d) == best[(c, n)]
                mark = MARKER if not pd.isna(p) and p < a["alpha"] else ""
                cells.append(Cell(text, bold=bool(bold), mark=mark))
        rows.append(cells)
    return rows


def _layout(table: pd.DataFrame) -> tuple[list[str], list[str]]:
    """The dataset column groups and the metric names under each."""
    columns = list(dict.fromkeys(table.columns.get_level_values("dataset")))
    return columns, [*table.attrs["metric_columns"], table.attrs["time_column"]]


def _markdown(table: pd.DataFrame) -> str:
    columns, names = _layout(table)
    header = [table.index.name] + [f"{c} · {n}" for c in columns for n in names]
    parts = [_header(table) + "\n\n" + markdown_table(header, _cells(table))]
    parts += [f"## {title}\n\n" + markdown_table(h, rows) for title, h, rows in _sections(table)]
    return "\n".join(parts)


def _latex(table: pd.DataFrame) -> str:
    columns, names = _layout(table)
    header = [str(table.index.name)] + [n for _ in columns for n in names]
    main = latex_table(header, _cells(table), comments=textwrap.wrap(_header(table), 100),
                       groups=[(c, len(names)) for c in columns])
    return "\n".join([main, *(latex_table(h, rows, comments=[title]) for title, h, rows in _sections(table))])


def markdown(
    frame: pd.DataFrame,
    per_user: pd.DataFrame | None = None,
    k: int = 20,
    reference: str = "fine_tune",
    baseline: str = "full_retrain",
    alpha: float = 0.05,
    baselines: Collection[str] | None = None,
) -> str:
    """The `summary` as a Markdown table with an explanatory header line.

    Args:
      frame, per_user, k, reference, baseline, alpha, baselines: as for `summary`.

    Returns:
      Markdown text ("" when the summary is empty): highest mean per column in bold, † on
      recall/ndcg cells whose difference to ``reference`` is significant after Holm, then
      the tables of paired differences (vs ``reference``, vs the best baseline).

    Example:
      >>> frame = pd.DataFrame({"experiment": "x", "dataset": "d", "model": "m", "group": "all", "k": 20,
      ...     "metric": "recall", "seed": [0, 0, 1, 1], "window": 1,
      ...     "strategy": ["full_retrain", "fine_tune"] * 2, "value": [0.3, 0.2, 0.5, 0.2]})
      >>> print("\\n".join(markdown(frame).splitlines()[-2:]))
      | full_retrain | **0.4000 ± 0.1414** | – | – | – |
      | fine_tune | 0.2000 ± 0.0000 | – | – | – |
    """
    table = summary(frame, per_user, k, reference, baseline, alpha, baselines)
    return "" if table.empty else _markdown(table)


def latex(
    frame: pd.DataFrame,
    per_user: pd.DataFrame | None = None,
    k: int = 20,
    reference: str = "fine_tune",
    baseline: str = "full_retrain",
    alpha: float = 0.05,
    baselines: Collection[str] | None = None,
) -> str:
    """The `summary` as a LaTeX ``booktabs`` tabular, one ``\\multicolumn`` group per dataset.

    Args:
      frame, per_user, k, reference, baseline, alpha, baselines: as for `summary`.

    Returns:
      LaTeX text ("" when the summary is empty); the explanation is in leading ``%``
      comment lines, ready to be turned into a caption.

    Example:
      >>> frame = pd.DataFrame({"experiment": "x", "dataset": "d", "model": "m", "group": "all", "k": 20,
      ...     "metric": "recall", "seed": [0, 0, 1, 1], "window": 1,
      ...     "strategy": ["full_retrain", "fine_tune"] * 2, "value": [0.3, 0.2, 0.5, 0.2]})
      >>> print(latex(frame).splitlines()[-4])
      full\\_retrain & \\textbf{0.4000 $\\pm$ 0.1414} & -- & -- & -- \\\\
    """
    table = summary(frame, per_user, k, reference, baseline, alpha, baselines)
    return "" if table.empty else _latex(table)


def write(
    frame: pd.DataFrame,
    per_user: pd.DataFrame | None,
    out_dir: str | Path,
    k: int = 20,
    reference: str = "fine_tune",
    baseline: str = "full_retrain",
    alpha: float = 0.05,
    baselines: Collection[str] | None = None,
) -> bool:
    """Writes ``table_incremental.md`` and ``table_incremental.tex`` for an incremental study.

    Args:
      frame: long-format metrics of one or more studies.
      per_user: per-user values for the significance marks, or None.
      out_dir: the folder to write into (must exist).
      k, reference, baseline, alpha, baselines: as for `summary`.

    Returns:
      True when written; False (nothing written) unless the frame has at least two
      strategies including ``baseline`` and recall@K/ndcg@K values at windows ≥ 1.

    Example:
      >>> import shutil, tempfile
      >>> frame = pd.DataFrame({"experiment": "x", "dataset": "d", "model": "m", "group": "all", "k": 20,
      ...     "metric": "recall", "seed": [0, 0, 1, 1], "window": 1,
      ...     "strategy": ["full_retrain", "fine_tune"] * 2, "value": [0.3, 0.2, 0.5, 0.2]})
      >>> folder = Path(tempfile.mkdtemp())
      >>> write(frame, None, folder), sorted(p.name for p in folder.iterdir())
      (True, ['table_incremental.md', 'table_incremental.tex'])
      >>> shutil.rmtree(folder)
    """
    strategies = set(frame["strategy"])
    if len(strategies) < 2 or baseline not in strategies:
        return False
    table = summary(frame, per_user, k, reference, baseline, alpha, baselines)
    if table.empty:
        return False
    out_dir = Path(out_dir)
    atomic.write_text(out_dir / MD_FILE, _markdown(table))
    atomic.write_text(out_dir / TEX_FILE, _latex(table))
    return True
