"""Report dispatch on the recorded study kind, and LaTeX escaping in every table kind."""

import json

import matplotlib

matplotlib.use("Agg")
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from tfrec_inc import results  # noqa: E402
from tfrec_inc.cli import main  # noqa: E402
from tfrec_inc.errors import DataError  # noqa: E402
from tfrec_inc.reporting import compression, incremental, render, tables, transfer  # noqa: E402
from tfrec_inc.reporting.reports import study_kind, write_reports  # noqa: E402

# Every LaTeX special character, in a model / strategy name.
NAME = "a&b#c_d%e$f{g}h~i^j\\k"
ESCAPED = r"a\&b\#c\_d\%e\$f\{g\}h\textasciitilde{}i\textasciicircum{}j\textbackslash{}k"


def _long(strategies, windows, metrics, model="two_tower", dataset="ml-100k", seeds=(0, 1)):
    """Long-format metrics: every (strategy, seed, window) gets ``metrics`` {(metric, k): value}."""
    rows = []
    for i, strategy in enumerate(strategies):
        for seed in seeds:
            for window in windows:
                for (metric, k), value in metrics.items():
                    rows.append(dict(experiment="x", dataset=dataset, model=model, strategy=strategy,
                                     seed=seed, window=window, group="all", metric=metric, k=k,
                                     value=value * (1 + 0.1 * i) + 0.01 * seed))
    frame = pd.DataFrame(rows)[results.COLUMNS]
    frame["k"] = frame["k"].astype("Int64")
    return frame


QUALITY = {("recall", 20): 0.2, ("ndcg", 20): 0.1}


def _main_tex() -> str:
    return tables.latex(_long([NAME, "static"], [0, 1], QUALITY, model=NAME), ["recall@20"])


def _incremental_tex() -> str:
    frame = _long(["full_retrain", NAME], [0, 1, 2], QUALITY, dataset=NAME)
    return incremental.latex(frame)


def _compression_tex() -> str:
    sizes = {**QUALITY, ("size_bytes", None): 4000.0, ("size_gzip_bytes", None): 2000.0}
    return compression.latex(_long(["fp32", NAME], [3], sizes))


def _transfer_tex() -> str:
    return transfer.latex(_long(["fine_tune", NAME], [25, 100], QUALITY, model=NAME))


@pytest.mark.parametrize("render_tex", [_main_tex, _incremental_tex, _compression_tex, _transfer_tex],
                         ids=["main", "incremental", "compression", "transfer"])
def test_every_latex_table_escapes_special_characters_in_names(render_tex):
    tex = render_tex()
    assert ESCAPED in tex
    body = tex[tex.index(r"\begin{tabular}"):]  # comment lines are not escaped
    assert NAME not in body and "b#c" not in body and "a&b" not in body


def test_escaper_and_cells():
    assert render.escape_latex("50% of a_b & #1") == r"50\% of a\_b \& \#1"
    assert render.escape_latex(r"\pm") == r"\textbackslash{}pm"  # escaped once, not twice
    row = [[NAME, render.Cell("0.5 ± 0.1", bold=True, mark="†"), None]]
    assert render.markdown_table(["m", "r", "n"], row).splitlines()[-1] == f"| {NAME} | **0.5 ± 0.1**† | – |"
    assert render.latex_table(["m", "r", "n"], row).splitlines()[4] == (
        ESCAPED + r" & \textbf{0.5 $\pm$ 0.1}$^{\dagger}$ & -- \\")


# ---------------------------------------------------------------- dispatch


def _transfer_frame() -> pd.DataFrame:
    """A transfer study without scratch / zero_shot modes (windows = target-data percentages)."""
    return _long(["fine_tune", "freeze_text"], [25, 100], QUALITY)


def test_transfer_study_without_scratch_or_zero_shot_gets_the_transfer_table(tmp_path):
    write_reports(_transfer_frame(), None, tmp_path, ["recall@20"], study="transfer", write_plots=False)
    text = (tmp_path / "table_transfer.md").read_text()
    assert "| two_tower / fine_tune |" in text and "| 25% | 100% |" in text
    assert "over 1 window(s)" in (tmp_path / "table.md").read_text()  # the full-data point only


def test_cli_table_reads_the_recorded_study_kind(tmp_path):
    frame = _transfer_frame()
    recorded, legacy = tmp_path / "recorded", tmp_path / "legacy"
    for folder in (recorded, legacy):
        folder.mkdir()
        results.write_metrics(frame, folder / "metrics.csv")
    (recorded / "manifest.json").write_text(json.dumps({"experiment": "x", "study": "transfer"}))
    (legacy / "config.yaml").write_text("transfer:\n  source: {dataset: synthetic}\n")
    for folder in (recorded, legacy):
        assert main(["table", str(folder)]) == 0
        assert (folder / "table_transfer.md").is_file()
        assert not (folder / "table_incremental.md").exists()
    # Folders of different kinds do not combine.
    other = tmp_path / "other"
    other.mkdir()
    results.write_metrics(frame, other / "metrics.csv")
    assert main(["table", str(recorded), str(other), "--output", str(tmp_path / "both")]) == 2


def test_study_kind_manifest_first_then_legacy_config(tmp_path):
    assert study_kind(tmp_path) == "incremental"  # no manifest, no config
    (tmp_path / "config.yaml").write_text("transfer: {source: null}\ncompression: {variants: []}\n")
    assert study_kind(tmp_path) == "incremental"
    (tmp_path / "config.yaml").write_text("transfer: {source: null}\ncompression: {variants: [fp32]}\n")
    assert study_kind(tmp_path) == "compression"
    (tmp_path / "manifest.json").write_text(json.dumps({"experiment": "x"}))  # older manifest
    assert study_kind(tmp_path) == "compression"
    (tmp_path / "manifest.json").write_text(json.dumps({"study": "incremental"}))
    assert study_kind(tmp_path) == "incremental"
    (tmp_path / "manifest.json").write_text(json.dumps({"study": "ablation"}))
    assert study_kind(tmp_path) == "ablation"  # a kind added later: generic reports
    (tmp_path / "manifest.json").write_text(json.dumps({"study": 3}))
    with pytest.raises(DataError, match="must be a study kind name"):
        study_kind(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(DataError, match="manifest.json: unreadable"):
        study_kind(tmp_path)


def test_a_study_kind_without_its_own_report_gets_the_generic_tables(tmp_path):
    write_reports(_transfer_frame(), None, tmp_path, ["recall@20"], study="ablation", write_plots=False)
    assert (tmp_path / "table.md").is_file()
    assert not (tmp_path / "table_transfer.md").exists()
