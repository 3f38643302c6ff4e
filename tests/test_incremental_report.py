"""The incremental-study table, paired tests, per-user files and the combined CLI table.

Every frame here is hand-built with known values, so cells can be checked to the digit.
"""

import gzip

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from scipy import stats as scipy_stats  # noqa: E402

from tfrec_inc import results  # noqa: E402
from tfrec_inc.cli import main  # noqa: E402
from tfrec_inc.errors import DataError  # noqa: E402
from tfrec_inc.evaluation import stats  # noqa: E402
from tfrec_inc.evaluation.stats import mean_ci, paired_test  # noqa: E402
from tfrec_inc.reporting import incremental, plots  # noqa: E402

SEEDS = (0, 1)
# (dataset, strategy, metric) -> per seed, the values at windows 1 and 2. Window 0 is 0.9 for
# every strategy (shared base training) and must never reach a cell.
QUALITY = {
    ("ml-100k", "static", "recall"): [[0.10, 0.10], [0.12, 0.12]],        # 0.11 ± 0.0141
    ("ml-100k", "full_retrain", "recall"): [[0.30, 0.32], [0.34, 0.36]],  # 0.33 ± 0.0283
    ("ml-100k", "fine_tune", "recall"): [[0.20, 0.22], [0.22, 0.24]],     # 0.22 ± 0.0141
    ("ml-100k", "static", "ndcg"): [[0.05, 0.05], [0.05, 0.05]],          # 0.05 ± 0
    ("ml-100k", "full_retrain", "ndcg"): [[0.10, 0.12], [0.10, 0.12]],    # 0.11 ± 0
    ("ml-100k", "fine_tune", "ndcg"): [[0.15, 0.15], [0.13, 0.13]],       # 0.14 ± 0.0141
    ("ml-100k", "full_retrain", "retention"): [[0.40, 0.40], [0.40, 0.40]],
    ("ml-100k", "fine_tune", "retention"): [[0.10, 0.20], [0.20, 0.30]],  # 0.20 ± 0.0707
    ("ml-100k", "static", "retention"): [[0.30, 0.30], [0.30, 0.30]],
    ("synthetic", "static", "recall"): [[0.50, 0.50], [0.50, 0.50]],
    ("synthetic", "full_retrain", "recall"): [[0.40, 0.40], [0.40, 0.40]],
    ("synthetic", "fine_tune", "recall"): [[0.45, 0.45], [0.45, 0.45]],
    ("synthetic", "static", "ndcg"): [[0.20, 0.20], [0.20, 0.20]],
    ("synthetic", "full_retrain", "ndcg"): [[0.20, 0.20], [0.20, 0.20]],
    ("synthetic", "fine_tune", "ndcg"): [[0.20, 0.20], [0.20, 0.20]],
}
# strategy -> per seed, train_seconds at windows 1 and 2 (None: no update, no row).
COST = {
    "static": [[None, None], [None, None]],
    "full_retrain": [[10.0, 20.0], [12.0, 18.0]],  # 30 s in both seeds
    "fine_tune": [[3.0, 3.0], [1.5, 1.5]],         # 6/30 = 0.2 and 3/30 = 0.1 -> 0.150 ± 0.071
}
EXPERIMENTS = {"ml-100k": "study_ml", "synthetic": "study_syn"}


def _metrics(datasets=("ml-100k", "synthetic"), model="two_tower") -> pd.DataFrame:
    rows = []
    for (dataset, strategy, metric), per_seed in QUALITY.items():
        if dataset not in datasets:
            continue
        base = dict(experiment=EXPERIMENTS[dataset], dataset=dataset, model=model, strategy=strategy,
                    group="all", metric=metric, k=20)
        for seed, values in zip(SEEDS, per_seed, strict=True):
            if metric != "retention":
                rows.append({**base, "seed": seed, "window": 0, "value": 0.9})
            for window, value in enumerate(values, start=1):
                rows.append({**base, "seed": seed, "window": window, "value": value})
            # Another K and another group must be ignored.
            rows.append({**base, "seed": seed, "window": 1, "k": 10, "value": 0.99})
            rows.append({**base, "seed": seed, "window": 1, "group": "cold_users", "value": 0.99})
    for dataset in datasets:
        for strategy, per_seed in COST.items():
            base = dict(experiment=EXPERIMENTS[dataset], dataset=dataset, model=model, strategy=strategy,
                        group="all", metric="train_seconds", k=None)
            for seed, values in zip(SEEDS, per_seed, strict=True):
                rows.append({**base, "seed": seed, "window": 0, "value": 100.0})
                for window, value in enumerate(values, start=1):
                    if value is not None:
                        rows.append({**base, "seed": seed, "window": window, "value": value})
    frame = pd.DataFrame(rows)[results.COLUMNS]
    frame["k"] = frame["k"].astype("Int64")
    return frame


def _per_user(n_users: int = 30) -> pd.DataFrame:
    """ml-100k only: full_retrain beats fine_tune on every user's recall; static ties it at t >= 1.

    At window 0 static is far better, which must not count (shared base training).
    """
    rng = np.random.default_rng(0)
    rows = []
    for seed in SEEDS:
        for window in (0, 1, 2):
            for user in range(n_users):
                fine = float(rng.uniform(0.0, 0.5))
                ndcg = float(rng.uniform(0.0, 0.5))
                lift = 0.05 + float(rng.uniform(0.0, 0.01))
                static = fine + 0.3 if window == 0 else fine
                for strategy, recall in (("fine_tune", fine), ("full_retrain", fine + lift),
                                         ("static", static)):
                    for metric, value in (("recall", recall), ("ndcg", ndcg)):
                        rows.append(dict(experiment="study_ml", dataset="ml-100k", model="two_tower",
                                         strategy=strategy, seed=seed, window=window, group="all",
                                         user=f"u{user}", metric=metric, k=20, value=value))
    return pd.DataFrame(rows)[results.PER_USER_COLUMNS]


def _md_rows(text: str) -> dict[str, list[str]]:
    rows = {}
    for line in text.splitlines():
        if line.startswith("| ") and not line.startswith("| strategy"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows[cells[0]] = cells[1:]
    return rows


# ---------------------------------------------------------------- stats


def test_paired_test_matches_scipy():
    rng = np.random.default_rng(1)
    a = rng.normal(0.3, 0.1, 40)
    b = a + rng.normal(0.02, 0.05, 40)
    b[:5] = a[:5]  # zero differences, dropped by zero_method="wilcox"
    expected = scipy_stats.wilcoxon(a, b, zero_method="wilcox").pvalue
    assert paired_test(a, b) == pytest.approx(expected, rel=1e-12)
    assert paired_test(a, b, method="ttest") == pytest.approx(scipy_stats.ttest_rel(a, b).pvalue, rel=1e-12)
    assert paired_test(a, a) == 1.0 and paired_test(a, a, method="ttest") == 1.0
    # 10 pairs all in one direction: exact two-sided p = 2 / 2**10.
    assert paired_test(np.arange(10.0) + 1, np.zeros(10)) == pytest.approx(2 / 1024)
    with pytest.raises(ValueError):
        paired_test(a, b[:-1])
    with pytest.raises(ValueError):
        paired_test(a, b, method="sign")
    with pytest.raises(ValueError):
        paired_test(np.array([np.nan, 1.0]), np.array([0.0, 1.0]))


def test_mean_ci():
    mean, low, high = mean_ci([1.0, 2.0, 3.0])
    half = scipy_stats.t.ppf(0.975, 2) * 1.0 / np.sqrt(3)
    assert (mean, low, high) == pytest.approx((2.0, 2.0 - half, 2.0 + half))
    assert mean_ci([4.0, 4.0]) == (4.0, 4.0, 4.0)
    m, lo, hi = mean_ci([5.0])
    assert m == 5.0 and np.isnan(lo) and np.isnan(hi)
    assert mean_ci([1.0, 3.0], confidence=0.5)[2] < mean_ci([1.0, 3.0], confidence=0.9)[2]


# ---------------------------------------------------------------- summary numbers


def test_summary_means_exclude_window_zero_and_use_seeds_for_std():
    table = incremental.summary(_metrics(), None)
    assert list(table.index) == ["static", "full_retrain", "fine_tune"]
    assert table.index.name == "strategy"
    assert list(dict.fromkeys(table.columns.get_level_values("dataset"))) == ["ml-100k", "synthetic"]
    recall = table[("ml-100k", "recall@20", "mean")]
    assert recall.to_dict() == pytest.approx({"static": 0.11, "full_retrain": 0.33, "fine_tune": 0.22})
    assert table.loc["full_retrain", ("ml-100k", "recall@20", "std")] == pytest.approx(0.02 * np.sqrt(2))
    assert table.loc["fine_tune", ("ml-100k", "retention@20", "mean")] == pytest.approx(0.2)
    assert table[("ml-100k", "recall@20", "p")].isna().all()  # no per-user values


def test_time_ratio_is_per_seed_and_static_is_zero():
    table = incremental.summary(_metrics(), None)
    time = table[("ml-100k", "time vs full_retrain", "mean")]
    assert time.to_dict() == pytest.approx({"static": 0.0, "full_retrain": 1.0, "fine_tune": 0.15})
    assert table.loc["fine_tune", ("ml-100k", "time vs full_retrain", "std")] == pytest.approx(
        np.std([0.2, 0.1], ddof=1))


def test_window_zero_values_do_not_matter():
    frame = _metrics()
    changed = frame.copy()
    zero = changed["window"] == 0
    changed.loc[zero, "value"] = np.where(changed.loc[zero, "strategy"] == "static", 0.0, 1e6)
    pd.testing.assert_frame_equal(incremental.summary(frame, None), incremental.summary(changed, None))


def test_markdown_cells_bold_and_header():
    text = incremental.markdown(_metrics(), None)
    assert "over 2 seed(s)" in text and "windows 1–2" in text and "window 0" in text
    assert "No per-user values: no confidence intervals and no significance test." in text
    assert "†" not in text.split("\n\n", 1)[1]  # no marks in the table without per-user values
    header = next(line for line in text.splitlines() if line.startswith("| strategy"))
    assert "ml-100k · recall@20" in header and "synthetic · time vs full_retrain" in header
    rows = _md_rows(text)
    # columns: ml-100k recall, ndcg, retention, time | synthetic recall, ndcg, retention, time
    assert rows["static"][:4] == ["0.1100 ± 0.0141", "0.0500 ± 0.0000", "0.3000 ± 0.0000", "0.000 ± 0.000"]
    assert rows["full_retrain"][:4] == ["**0.3300 ± 0.0283**", "0.1100 ± 0.0000",
                                        "**0.4000 ± 0.0000**", "1.000 ± 0.000"]
    assert rows["fine_tune"][:4] == ["0.2200 ± 0.0141", "**0.1400 ± 0.0141**", "0.2000 ± 0.0707",
                                     "**0.150 ± 0.071**"]
    # synthetic: static has the best recall; ndcg all equal -> no bold; no retention rows -> dash.
    assert rows["static"][4:7] == ["**0.5000 ± 0.0000**", "0.2000 ± 0.0000", "–"]
    assert rows["full_retrain"][4] == "0.4000 ± 0.0000"
    assert sum("**" in cell for r in rows.values() for cell in r[4:]) == 2  # recall + time


def test_significance_marks_only_where_per_user_differs():
    per_user = _per_user()
    table = incremental.summary(_metrics(), per_user)
    # p is the Holm-adjusted paired cluster-bootstrap p over seed-averaged (window >= 1, user)
    # pairs: the lift is 0.05 + U(0, 0.01) on every user, so full_retrain differs; static ties.
    assert table.loc["full_retrain", ("ml-100k", "recall@20", "p")] < 1e-6
    assert table.loc["static", ("ml-100k", "recall@20", "p")] == 1.0
    assert np.isnan(table.loc["fine_tune", ("ml-100k", "recall@20", "p")])
    comparisons = pd.DataFrame(table.attrs["comparisons"])
    assert len(comparisons) == 4 and set(comparisons["kind"]) == {"reference"}  # 2 rows x 2 metrics
    lift = comparisons[(comparisons["strategy"] == "full_retrain") & (comparisons["metric"] == "recall")]
    late = per_user[(per_user["window"] >= 1) & (per_user["metric"] == "recall")]
    by = late.groupby("strategy")["value"].mean()
    assert lift["diff"].iloc[0] == pytest.approx(by["full_retrain"] - by["fine_tune"], abs=1e-12)
    assert lift["low"].iloc[0] < lift["diff"].iloc[0] < lift["high"].iloc[0]

    text = incremental.markdown(_metrics(), per_user)
    rows = _md_rows(text.split("## ")[0])
    lifted = rows["full_retrain"][0]
    assert lifted.startswith("**0.3300 ± 0.0283 [") and lifted.endswith("**†")
    assert "†" not in rows["static"][0] and "†" not in rows["fine_tune"][0]  # tie; the reference
    assert not any("†" in r[1] for r in rows.values())                # ndcg identical everywhere
    assert not any("†" in c for r in rows.values() for c in r[4:])    # synthetic has no per-user file
    assert rows["static"][4] == "**0.5000 ± 0.0000**"  # synthetic: no per-user values, no CI
    assert "## Paired differences: ml-100k" in text and "Holm" in text
    tex = incremental.latex(_metrics(), per_user)
    assert r"\textbf{0.3300 $\pm$ 0.0283 [" in tex and r"]}$^{\dagger}$" in tex


def test_duplicated_seeds_do_not_shrink_p_values():
    """The same per-user values under three seeds are one observation per (window, user).

    Pairing (seed, window, user), as the Wilcoxon test did, tripled n and shrank p.
    """
    rng = np.random.default_rng(1)
    rows = []
    for user in range(12):
        fine = float(rng.uniform(0.0, 0.5))
        for strategy, value in (("fine_tune", fine), ("full_retrain", fine + float(rng.normal(0.02, 0.1)))):
            rows.append(dict(experiment="study_ml", dataset="ml-100k", model="two_tower", strategy=strategy,
                             seed=0, window=1, group="all", user=f"u{user}", metric="recall", k=20,
                             value=value))
    one = pd.DataFrame(rows)[results.PER_USER_COLUMNS]
    three = pd.concat([one.assign(seed=s) for s in (0, 1, 2)], ignore_index=True)
    metrics = _metrics(datasets=("ml-100k",))
    p_one = incremental.summary(metrics, one).loc["full_retrain", ("ml-100k", "recall@20", "p")]
    p_three = incremental.summary(metrics, three).loc["full_retrain", ("ml-100k", "recall@20", "p")]
    assert 0.0 < p_one < 1.0
    assert p_three == pytest.approx(p_one, rel=1e-12)  # the mean of 3 equal values: rounding only


def test_baseline_rows_are_compared_with_every_trained_row():
    per_user = _per_user()
    tuned_users = per_user[per_user["strategy"] == "fine_tune"]
    pop = tuned_users.assign(model="popularity", value=tuned_users["value"] / 2)
    knn = tuned_users.assign(model="itemknn")  # = fine_tune: the best baseline
    per_user = pd.concat([per_user, pop, knn], ignore_index=True)
    metrics = _metrics(datasets=("ml-100k",))
    tuned = metrics[metrics["strategy"] == "fine_tune"]
    metrics = pd.concat([metrics, tuned.assign(model="popularity", value=tuned["value"] / 2),
                         tuned.assign(model="itemknn")], ignore_index=True)
    table = incremental.summary(metrics, per_user)
    comparisons = pd.DataFrame(table.attrs["comparisons"])
    versus = comparisons[comparisons["kind"] == "baseline"]
    # 3 two_tower rows x 2 metrics, each against itemknn / fine_tune (highest baseline mean).
    assert len(versus) == 6 and set(versus["model"]) == {"two_tower"}
    assert set(zip(versus["vs_model"], versus["vs_strategy"], strict=True)) == {("itemknn", "fine_tune")}
    same = versus[versus["strategy"] == "fine_tune"]
    assert (same["diff"] == 0).all() and (same["p"] == 1).all()
    # One Holm family: the reference comparisons of two_tower and the baseline ones together.
    assert len(comparisons) == 4 + 6
    np.testing.assert_allclose(comparisons["p_holm"], stats.holm(comparisons["p"]))
    text = incremental.markdown(metrics, per_user)
    assert "## Versus the best baseline: ml-100k" in text
    start = "| two_tower / full_retrain | recall@20 | itemknn"
    line = next(x for x in text.splitlines() if x.startswith(start))
    assert line.split(" | ")[3].endswith("†")  # +0.055 on every user
    assert "Every trained row is also compared with the baseline" in text


def test_significance_mark_is_absent_when_values_are_identical():
    per_user = _per_user()
    same = per_user[per_user["strategy"] == "fine_tune"].assign(strategy="full_retrain")
    per_user = pd.concat([per_user[per_user["strategy"] != "full_retrain"], same])
    text = incremental.markdown(_metrics(), per_user)
    assert "†" not in text.split("\n\n", 1)[1].split("## ")[0].replace("† =", "")
    assert "Holm-adjusted p < 0.05" in text and "cluster bootstrap over users" in text


def test_latex_booktabs_with_dataset_multicolumns():
    tex = incremental.latex(_metrics(), None)
    assert r"\begin{tabular}{lrrrrrrrr}" in tex
    assert r" & \multicolumn{4}{c}{ml-100k} & \multicolumn{4}{c}{synthetic} \\" in tex
    assert r"\cmidrule(lr){2-5} \cmidrule(lr){6-9}" in tex
    assert r"time vs full\_retrain" in tex and "full\\_retrain & " in tex
    assert r"\textbf{0.3300 $\pm$ 0.0283}" in tex
    assert tex.index(r"\toprule") < tex.index(r"\midrule") < tex.index(r"\bottomrule")
    assert tex.startswith("% Mean ± std over 2 seed(s)")


def test_several_models_and_shared_dataset_labels():
    a = _metrics(datasets=("ml-100k",))
    b = _metrics(datasets=("ml-100k",), model="text_tower").assign(experiment="study_text")
    table = incremental.summary(pd.concat([a, b], ignore_index=True), None)
    assert table.index.name == "model / strategy"
    assert list(table.index)[:3] == ["two_tower / static", "two_tower / full_retrain",
                                     "two_tower / fine_tune"]
    # Two experiments on one dataset: columns named after the experiments.
    assert list(dict.fromkeys(table.columns.get_level_values("dataset"))) == ["study_ml", "study_text"]
    assert np.isnan(table.loc["text_tower / static", ("study_ml", "recall@20", "mean")])


# ---------------------------------------------------------------- writing


def test_write_needs_two_strategies_including_full_retrain(tmp_path):
    frame = _metrics()
    assert not incremental.write(frame[frame["strategy"] == "full_retrain"], None, tmp_path)
    assert not incremental.write(frame[frame["strategy"] != "full_retrain"], None, tmp_path)
    assert not list(tmp_path.iterdir())
    assert incremental.write(frame, _per_user(), tmp_path)
    assert (tmp_path / "table_incremental.md").read_text() == incremental.markdown(frame, _per_user())
    assert (tmp_path / "table_incremental.tex").read_text() == incremental.latex(frame, _per_user())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table_incremental.md", "table_incremental.tex"]


def test_per_user_round_trip_and_errors(tmp_path):
    frame = _per_user(n_users=3)
    results.write_per_user(frame, tmp_path / "per_user.csv.gz")
    first = (tmp_path / "per_user.csv.gz").read_bytes()
    back = results.read_per_user(tmp_path)
    assert list(back.columns) == results.PER_USER_COLUMNS
    assert str(back["k"].dtype) == "Int64"
    pd.testing.assert_frame_equal(back, frame.assign(k=frame["k"].astype("Int64")), check_exact=False,
                                  rtol=1e-9)
    results.write_per_user(frame, tmp_path / "per_user.csv.gz")
    assert (tmp_path / "per_user.csv.gz").read_bytes() == first  # no time stamp in the gzip header
    assert [p.name for p in tmp_path.iterdir()] == ["per_user.csv.gz"]  # no temp file left

    assert results.read_per_user(tmp_path / "nowhere") is None
    (tmp_path / "per_user.csv.gz").write_bytes(b"not gzip at all")
    with pytest.raises(DataError, match="per_user.csv.gz: unreadable"):
        results.read_per_user(tmp_path)
    (tmp_path / "per_user.csv.gz").write_bytes(first[: len(first) // 2])
    with pytest.raises(DataError, match="unreadable"):
        results.read_per_user(tmp_path)
    (tmp_path / "per_user.csv.gz").write_bytes(gzip.compress(b"experiment,value\nx,1\n"))
    with pytest.raises(DataError, match="missing columns"):
        results.read_per_user(tmp_path)


def test_cumulative_time_plot(tmp_path):
    frame = _metrics(datasets=("ml-100k",))
    fig = plots.cumulative_time(frame)
    lines = {line.get_label(): line.get_ydata() for line in fig.axes[0].lines}
    plt.close(fig)
    np.testing.assert_allclose(lines["two_tower / full_retrain"], [100, 111, 130])
    np.testing.assert_allclose(lines["two_tower / fine_tune"], [100, 102.25, 104.5])
    np.testing.assert_allclose(lines["two_tower / static"], [100, 100, 100])
    assert plots.cumulative_time(frame[frame["metric"] != "train_seconds"]) is None
    written = plots.write_plots(frame, tmp_path / "plots")
    assert tmp_path / "plots" / "cumulative_update_time.png" in written
    single = frame[frame["strategy"] == "full_retrain"]
    assert "cumulative_update_time.png" not in [p.name for p in plots.write_plots(single, tmp_path / "one")]


def test_cli_table_combines_studies(tmp_path):
    frame = _metrics()
    dirs = []
    for dataset in ("ml-100k", "synthetic"):
        d = tmp_path / dataset
        d.mkdir()
        results.write_metrics(frame[frame["dataset"] == dataset], d / "metrics.csv")
        dirs.append(d)
    results.write_per_user(_per_user(), dirs[0] / "per_user.csv.gz")  # the second has none
    out = tmp_path / "combined"
    assert main(["table", *map(str, dirs), "--output", str(out)]) == 0
    text = (out / "table_incremental.md").read_text()
    assert "ml-100k · recall@20" in text and "synthetic · recall@20" in text
    assert _md_rows(text.split("## ")[0])["full_retrain"][0].endswith("**†")
    assert r"\multicolumn{4}{c}{synthetic}" in (out / "table_incremental.tex").read_text()
    assert (out / "table.md").is_file()

    # One study with a single strategy: the plain table only.
    single = tmp_path / "single"
    single.mkdir()
    results.write_metrics(frame[frame["strategy"] == "full_retrain"], single / "metrics.csv")
    assert main(["table", str(single)]) == 0
    assert (single / "table.md").is_file() and not (single / "table_incremental.md").exists()

    # An unreadable per-user file is a one-line error, like a bad metrics.csv.
    (dirs[1] / "per_user.csv.gz").write_bytes(b"garbage")
    assert main(["table", *map(str, dirs), "--output", str(out)]) == 2
