"""Paper-style tables (Markdown and LaTeX): rows = model / strategy, columns = metrics.

Each cell is the mean ± std over seeds of the metric averaged over windows; the highest
mean of each column is bold (lowest for error metrics), a ranking, not a significance claim.
With per-user values the all-users recall/ndcg cells add a 95 % cluster-bootstrap interval,
and every trained row is compared with the best baseline row (`reporting.significance`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from pathlib import Path

import pandas as pd

from tfrec_inc import atomic
from tfrec_inc.evaluation import stats as stats_lib
from tfrec_inc.reporting import significance
from tfrec_inc.reporting.render import Cell, CellLike, latex_table, markdown_table

ALPHA = 0.05
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


def summarise(frame: pd.DataFrame, columns: Sequence[str], group: str,
              per_user: pd.DataFrame | None = None,
              baselines: Collection[str] | None = None) -> pd.DataFrame:
    """Mean and std over seeds (of the per-seed mean over windows) for one group.

    Args:
      frame: long-format metrics.
      columns: ``metric@k`` or bare metric names; absent ones are skipped.
      group: the user/item group.
      per_user: per-user values (group "all" only), or None.
      baselines: labels of the baseline models, or None (`significance.is_baseline`).

    Returns:
      Frame indexed by row label with columns ``(name, "mean")`` and ``(name, "std")``, and
      for group "all" with per-user values ``(name, "low")``/``(name, "high")`` (95 %
      interval) and ``attrs["comparisons"]``: the vs-best-baseline records
      (`significance.comparisons`, Holm over all of them, ``metric`` = the column name).

    Example:
      >>> frame = pd.DataFrame({"experiment": "x", "model": ["m", "popularity"], "strategy": "s",
      ...     "seed": 0, "window": 0, "group": "all", "metric": "recall", "k": 20, "value": [0.3, 0.1]})
      >>> summarise(frame, ["recall@20"], "all")[("recall@20", "mean")].to_dict()
      {'m / s': 0.3, 'popularity / s': 0.1}
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
    table.attrs = {}
    if per_user is not None and not per_user.empty and group == "all":
        _add_significance(table, sub, per_user, wanted, baselines)
    order = [(c, s) for c in wanted for s in ("mean", "std", "low", "high") if (c, s) in table.columns]
    attrs = table.attrs
    table = table[order]
    table.attrs = attrs
    return table


def _add_significance(table: pd.DataFrame, sub: pd.DataFrame, per_user: pd.DataFrame,
                      wanted: Sequence[str], baselines: Collection[str] | None) -> None:
    """Adds the 95 % intervals to ``table`` and the vs-best-baseline records to its attrs."""
    # The windows (and experiments) the table averages over: the transfer report keeps one.
    pu = per_user.merge(sub[["experiment", "window"]].drop_duplicates(), on=["experiment", "window"])
    pu = pu.assign(column=pu["experiment"])
    label = {(e, m, s): r for e, m, s, r in sub[["experiment", "model", "strategy", "row"]]
             .drop_duplicates().itertuples(index=False, name=None)}
    ordered = list(dict.fromkeys((m, s) for _, m, s in label))
    found = []
    for name in wanted:
        metric, _, k = name.partition("@")
        if metric not in significance.TESTED or not k.isdigit():
            continue
        values = significance.user_values(pu, int(k))
        values = values[values["metric"] == metric]
        if values.empty:
            continue
        for (e, m, s, _), iv in significance.row_intervals(values).items():
            if (e, m, s) in label:
                table.loc[label[(e, m, s)], (name, "low")] = iv.low
                table.loc[label[(e, m, s)], (name, "high")] = iv.high
        per_seed = sub[sub["column"] == name].groupby(["experiment", "model", "strategy", "seed"])["value"]
        means = {(e, m, s, metric): v for (e, m, s), v in
                 per_seed.mean().groupby(level=[0, 1, 2]).mean().items()}
        requests = significance.requests(values, means, ordered, None, baselines)
        found.append(significance.comparisons(values, requests).assign(metric=name))
    if found:
        comparison = pd.concat(found, ignore_index=True)
        comparison["p_holm"] = stats_lib.holm(comparison["p"]) if len(comparison) else []
        table.attrs["comparisons"] = comparison.to_dict("records")


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
            if (c, "low") in row.index and not pd.isna(row[(c, "low")]):
                text += " " + significance.interval_text(row[(c, "low")], row[(c, "high")])
            distinct = table[(c, "mean")].dropna().nunique() > 1
            cells.append(Cell(text, bold=bool(distinct and mean == best[c])))
        rows.append(cells)
    return rows


def _sections(frame: pd.DataFrame, columns: Sequence[str], per_user: pd.DataFrame | None,
              baselines: Collection[str] | None) -> Iterator[tuple[str, list[str], list]]:
    """(title, header, rows) of each group's table; after "All users", its baseline comparisons."""
    for group, title in GROUP_TITLES.items():
        table = summarise(frame, columns, group, per_user, baselines)
        if table.empty:
            continue
        header = ["model / strategy"] + list(dict.fromkeys(c for c, _ in table.columns))
        yield title, header, _cells(table)
        if "comparisons" in table.attrs:
            comparison = pd.DataFrame(table.attrs["comparisons"], columns=significance.COMPARISON_COLUMNS)
            label = {(m, s): f"{m} / {s}" for m, s in zip(comparison["model"], comparison["strategy"],
                                                          strict=True)}
            yield from significance.sections(comparison, {}, label, ALPHA)


def _header(frame: pd.DataFrame, per_user: pd.DataFrame | None) -> str:
    text = (f"Mean ± std over {frame['seed'].nunique()} seed(s) of the mean over "
            f"{frame['window'].nunique()} window(s); highest mean in bold (lowest for error "
            "metrics): a ranking of means, not a significance claim; users = evaluated users per window.")
    if per_user is None or per_user.empty:
        return text + "\n"
    return (text + " All users, recall/ndcg: " + significance.describe(ALPHA)
            + " Each trained row is compared with the baseline (computed-model) row of highest mean "
            "on that metric, where there is one.\n")


def markdown(frame: pd.DataFrame, columns: Sequence[str], per_user: pd.DataFrame | None = None,
             baselines: Collection[str] | None = None) -> str:
    """All groups' tables as one Markdown document.

    Args:
      frame: long-format metrics.
      columns: ``metric@k`` or bare metric names, as for `summarise`.
      per_user: per-user values (intervals and baseline comparisons), or None.
      baselines: labels of the baseline models, or None (`significance.is_baseline`).

    Returns:
      A header line, then one ``## <group>`` table per group with values (and after the
      all-users table, one "Versus the best baseline" table per experiment).
    """
    parts = [_header(frame, per_user)]
    for title, header, rows in _sections(frame, columns, per_user, baselines):
        parts.append(f"## {title}\n\n" + markdown_table(header, rows))
    return "\n".join(parts)


def latex(frame: pd.DataFrame, columns: Sequence[str], per_user: pd.DataFrame | None = None,
          baselines: Collection[str] | None = None) -> str:
    """All groups' tables as LaTeX ``booktabs`` tabulars.

    Args:
      frame: long-format metrics.
      columns: ``metric@k`` or bare metric names, as for `summarise`.
      per_user, baselines: as for `markdown`.

    Returns:
      One tabular per group with values, each after a ``% <group>`` comment line.
    """
    # Cells without a value show "–" here, not "--" as in the other LaTeX tables: kept so
    # that the committed table.tex files stay byte-identical.
    return "\n".join(latex_table(header, rows, comments=[title], missing="–")
                     for title, header, rows in _sections(frame, columns, per_user, baselines))


def write_tables(frame: pd.DataFrame, out_dir: str | Path, columns: Sequence[str],
                 per_user: pd.DataFrame | None = None, baselines: Collection[str] | None = None) -> None:
    """Writes ``table.md`` and ``table.tex`` into ``out_dir``.

    Args:
      frame: long-format metrics.
      out_dir: an existing folder.
      columns: ``metric@k`` or bare metric names, as for `summarise`.
      per_user, baselines: as for `markdown`.
    """
    out_dir = Path(out_dir)
    atomic.write_text(out_dir / "table.md", markdown(frame, columns, per_user, baselines))
    atomic.write_text(out_dir / "table.tex", latex(frame, columns, per_user, baselines))
