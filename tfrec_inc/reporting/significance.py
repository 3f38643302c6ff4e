"""Confidence intervals and Holm-corrected comparisons for the report tables.

Per-user values are first averaged over seeds (`stats.seed_average`): the test users of a
window are the same in every seed, so pairing (seed, window, user) would count a user once
per seed. The remaining (window, user) values are resampled by user (`stats.cluster_bootstrap`),
a user's windows together, with weight 1 / (users in the window) so that a row's estimate is
the mean over windows of the per-window means, as in the tables. The p-values of all the
comparisons of one table form one family for `stats.holm`.

Baseline rows are those of computed models (`config.MODEL_TYPES` minus `config.TRAINED_TYPES`):
each trained row is compared with the baseline row of highest mean on the same metric and
dataset (the conservative choice of baseline).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from tfrec_inc import config
from tfrec_inc.errors import DataError
from tfrec_inc.evaluation import stats
from tfrec_inc.reporting.render import Cell, CellLike

# Computed types other than the reference rows (the synthetic oracle is a bound, not a baseline).
BASELINE_TYPES = tuple(t for t in config.MODEL_TYPES
                       if t not in config.TRAINED_TYPES and t not in config.REFERENCE_TYPES)
TESTED = ("recall", "ndcg")  # the metrics with per-user values
MARKER = "†"
N_BOOT = 2000
SEED = 0
ROW = ["column", "model", "strategy", "metric"]
PAIR = ["window", "user"]
COMPARISON_COLUMNS = ["kind", "column", "metric", "model", "strategy", "vs_model", "vs_strategy",
                      "diff", "low", "high", "p", "p_holm"]


def baseline_models(results_dir: str | Path) -> set[str] | None:
    """Labels of the computed (baseline) models of a results folder, from its ``config.yaml``.

    Args:
      results_dir: the folder holding ``config.yaml``.

    Returns:
      The model labels (``name`` or ``type``) whose type is not trained; None when there is
      no readable config (callers then fall back to `is_baseline`'s label rule).

    Example:
      >>> import tempfile
      >>> folder = Path(tempfile.mkdtemp())
      >>> _ = (folder / "config.yaml").write_text("models: [{name: pop, type: popularity}, {name: tt}]")
      >>> baseline_models(folder), baseline_models(folder / "nowhere")
      ({'pop'}, None)
    """
    path = Path(results_dir) / "config.yaml"
    try:
        cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    models = cfg.get("models") if isinstance(cfg, dict) else None
    if not isinstance(models, list):
        return None
    found = set()
    for model in models:
        if isinstance(model, dict):
            kind = model.get("type") or "retrieval"  # the schema's default type
            if kind in BASELINE_TYPES:
                found.add(str(model.get("name") or kind))
    return found


def is_baseline(model: str, baselines: Collection[str] | None) -> bool:
    """Whether a model label is a baseline: in ``baselines``, else (None) named like a computed type.

    Example:
      >>> is_baseline("popularity", None), is_baseline("two_tower", None), is_baseline("pop", {"pop"})
      (True, False, True)
    """
    return model in baselines if baselines is not None else model in BASELINE_TYPES


def user_values(per_user: pd.DataFrame, k: int) -> pd.DataFrame:
    """Per-user recall/ndcg@k of group "all", one row per (row, metric, seed, window, user).

    Args:
      per_user: long per-user values (`tfrec_inc.results.PER_USER_COLUMNS`) with a
        ``column`` (the table's dataset label) added by the caller.
      k: the cut-off.

    Returns:
      Columns ``column, model, strategy, metric, seed, window, user, value``.

    Raises:
      DataError: a (seed, window, user) repeated within one row and metric.
    """
    pu = per_user[(per_user["group"] == "all") & per_user["metric"].isin(TESTED)
                  & (pd.to_numeric(per_user["k"], errors="coerce") == k)]
    pu = pu[[*ROW, "seed", *PAIR, "value"]]
    repeated = pu.duplicated([*ROW, "seed", *PAIR])
    if repeated.any():
        first = pu[repeated].iloc[0]
        raise DataError(f"per-user values: repeated (seed, window, user) for {first['column']} "
                        f"{first['model']} {first['strategy']} {first['metric']}@{k}")
    return pu


def _averaged(sub: pd.DataFrame) -> pd.DataFrame:
    """One row's seed-averaged (window, user) values, weighted 1 / users of the window."""
    averaged = stats.seed_average(sub[[*PAIR, "seed", "value"]])
    return averaged.assign(weight=1.0 / averaged.groupby("window")["user"].transform("size"))


def _per_seed(values: pd.Series, window: pd.Series, seed: pd.Series) -> np.ndarray:
    """The table's statistic in each seed: the mean over windows of the per-window means."""
    frame = pd.DataFrame({"value": values.to_numpy(), "window": window.to_numpy(), "seed": seed.to_numpy()})
    return frame.groupby(["seed", "window"])["value"].mean().groupby(level="seed").mean().to_numpy()


def row_intervals(values: pd.DataFrame, n_boot: int = N_BOOT) -> dict[tuple, stats.Interval]:
    """The interval of each (column, model, strategy, metric) mean: users and seeds.

    A cluster bootstrap over users of the seed-averaged values, widened by the spread of
    the per-seed means (`tfrec_inc.evaluation.stats.with_seed_spread`).

    Args:
      values: as returned by `user_values`.
      n_boot: bootstrap resamples.

    Returns:
      ``{(column, model, strategy, metric): Interval}``.
    """
    out = {}
    for key, sub in values.groupby(ROW, sort=False):
        avg = _averaged(sub)
        iv = stats.cluster_bootstrap(avg["value"].to_numpy(), avg["user"].to_numpy(),
                                     avg["weight"].to_numpy(), n_boot=n_boot, seed=SEED)
        out[key] = stats.with_seed_spread(iv, _per_seed(sub["value"], sub["window"], sub["seed"]))
    return out


def _compare(values: pd.DataFrame, column: str, metric: str, row: tuple[str, str],
             against: tuple[str, str], n_boot: int) -> stats.Interval | None:
    """Paired bootstrap of row − against over their common (window, user) pairs, plus seed spread."""
    def pick(model_strategy: tuple[str, str]) -> pd.DataFrame:
        model, strategy = model_strategy
        return values[(values["column"] == column) & (values["metric"] == metric)
                      & (values["model"] == model) & (values["strategy"] == strategy)]

    a, b = pick(row), pick(against)
    pairs = _averaged(a).merge(_averaged(b)[[*PAIR, "value"]], on=PAIR, validate="one_to_one")
    if pairs.empty:
        return None
    # Weights of the row's windows: a window's users are the same for both after the merge.
    weight = 1.0 / pairs.groupby("window")["user"].transform("size")
    found = stats.paired_bootstrap(pairs["value_x"].to_numpy(), pairs["value_y"].to_numpy(),
                                   pairs["user"].to_numpy(), weight.to_numpy(), n_boot=n_boot, seed=SEED)
    # Seed i of one row against seed i of the other (the baselines' seeds differ only in ties).
    by_seed = a[[*PAIR, "seed", "value"]].merge(b[[*PAIR, "seed", "value"]], on=[*PAIR, "seed"])
    diff = by_seed["value_x"] - by_seed["value_y"]
    return stats.with_seed_spread(found, _per_seed(diff, by_seed["window"], by_seed["seed"]))


def best_baselines(means: dict[tuple, float], baselines: Collection[str] | None) -> dict[tuple, tuple]:
    """``{(column, metric): (model, strategy)}`` of the baseline row with the highest mean.

    Args:
      means: ``{(column, model, strategy, metric): mean}``.
      baselines: baseline model labels, or None (see `is_baseline`).

    Returns:
      The best baseline row per column and metric (ties: the first in ``means``' order).

    Example:
      >>> best_baselines({("d", "pop", "s", "recall"): 0.1, ("d", "knn", "s", "recall"): 0.2,
      ...                 ("d", "nn", "s", "recall"): 0.9}, {"pop", "knn"})
      {('d', 'recall'): ('knn', 's')}
    """
    best: dict[tuple, tuple] = {}
    top: dict[tuple, float] = {}
    for (column, model, strategy, metric), mean in means.items():
        if is_baseline(model, baselines) and not pd.isna(mean) and mean > top.get((column, metric), -np.inf):
            top[(column, metric)] = mean
            best[(column, metric)] = (model, strategy)
    return best


def requests(values: pd.DataFrame, means: dict[tuple, float], ordered: Sequence[tuple[str, str]],
             reference: str | None, baselines: Collection[str] | None) -> list[tuple]:
    """The comparisons of one table for `comparisons`, in table order.

    Trained rows against the same model's ``reference`` strategy (none when None), then
    trained rows against the best baseline row (`best_baselines`) of each column and metric.

    Args:
      values: as returned by `user_values`.
      means: ``{(column, model, strategy, metric): mean}`` as shown in the table.
      ordered: the (model, strategy) rows in table order.
      reference: the reference strategy, or None.
      baselines: baseline model labels, or None (see `is_baseline`).

    Returns:
      ``(kind, column, metric, (model, strategy), (vs_model, vs_strategy))`` each.
    """
    present = set(values[ROW].drop_duplicates().itertuples(index=False, name=None))
    keys = [(c, m, s, metric) for c in dict.fromkeys(values["column"]) for m, s in ordered
            for metric in TESTED
            if (c, m, s, metric) in present and not is_baseline(m, baselines)]
    out = [("reference", c, metric, (m, s), (m, reference)) for c, m, s, metric in keys
           if reference is not None and s != reference and (c, m, reference, metric) in present]
    best = best_baselines({key: v for key, v in means.items() if key in present}, baselines)
    out += [("baseline", c, metric, (m, s), best[(c, metric)]) for c, m, s, metric in keys
            if (c, metric) in best]
    return out


def comparisons(values: pd.DataFrame, requests: Sequence[tuple], n_boot: int = N_BOOT) -> pd.DataFrame:
    """The paired comparisons of one table, Holm-corrected together.

    Args:
      values: as returned by `user_values`.
      requests: ``(kind, column, metric, (model, strategy), (vs_model, vs_strategy))`` each;
        ``kind`` is ``"reference"`` or ``"baseline"``.
      n_boot: bootstrap resamples.

    Returns:
      One row per request with paired values (`COMPARISON_COLUMNS`): ``diff`` (row − vs,
      the mean over windows of per-window mean differences), its 95 % ``low``/``high``,
      the bootstrap ``p`` and ``p_holm`` (Holm over every row of the frame).
    """
    rows = []
    for kind, column, metric, row, against in requests:
        found = _compare(values, column, metric, row, against, n_boot)
        if found is not None:
            rows.append([kind, column, metric, *row, *against, found.estimate, found.low, found.high,
                         found.p, np.nan])
    out = pd.DataFrame(rows, columns=COMPARISON_COLUMNS)
    out["p_holm"] = stats.holm(out["p"]) if len(out) else []
    return out


def interval_text(low: float, high: float, decimals: int = 4) -> str:
    """``[low, high]`` as printed in the tables.

    Example:
      >>> interval_text(0.1, 0.23456)
      '[0.1000, 0.2346]'
    """
    return f"[{low:.{decimals}f}, {high:.{decimals}f}]"


def describe(alpha: float, n_boot: int = N_BOOT) -> str:
    """The explanation of the intervals and tests, for a table's header."""
    return (
        "[95 % CI] = percentile interval of a cluster bootstrap over users "
        f"({n_boot} resamples; per-user values averaged over seeds first, a user's windows "
        "resampled together), widened in quadrature by the spread of the per-seed means (s² / seeds): "
        "it covers the sampling of test users and the training seeds; ± std is the spread over seeds. "
        f"{MARKER} = the paired difference (same bootstrap, users' seed-averaged values paired over "
        "(window, user), seed spread of the per-seed differences added; p two-sided from the combined "
        "standard error) has a Holm-adjusted "
        f"p < {alpha:g}, Holm over all the comparisons of this report. A difference without "
        f"{MARKER} is not evidence that either row is better."
    )


def sections(comparison: pd.DataFrame, names: dict[str, str], label: dict[tuple[str, str], str],
             alpha: float) -> list[tuple[str, list[str], list[list[CellLike]]]]:
    """(title, header, rows) of the significance tables: per kind and dataset column.

    Args:
      comparison: as returned by `comparisons`.
      names: metric -> its column name (``recall`` -> ``recall@20``).
      label: (model, strategy) -> row label.
      alpha: level of the † mark (on the Holm-adjusted p).

    Returns:
      One table per (kind, column) with comparisons: row, metric, vs, Δ [95 % CI], p, p (Holm).
    """
    titles = {"reference": "Paired differences", "baseline": "Versus the best baseline"}
    out = []
    for kind, title in titles.items():
        of_kind = comparison[comparison["kind"] == kind]
        for column, sub in of_kind.groupby("column", sort=False):
            rows: list[list[CellLike]] = []
            for r in sub.itertuples(index=False):
                mark = MARKER if r.p_holm < alpha else ""
                text = f"{r.diff:+.4f} {interval_text(r.low, r.high)}"
                vs = (r.vs_model, r.vs_strategy)
                rows.append([label.get((r.model, r.strategy), f"{r.model} / {r.strategy}"),
                             names.get(r.metric, r.metric), label.get(vs, " / ".join(vs)),
                             Cell(text, mark=mark), f"{r.p:.4f}", f"{r.p_holm:.4f}"])
            out.append((f"{title}: {column}", ["row", "metric", "vs", "Δ [95 % CI]", "p", "p (Holm)"],
                        rows))
    return out
