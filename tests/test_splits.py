"""Leave-one-out and given-split windows: the split rules, both Amazon formats, bad splits.

Fixture files are small made-up folders in ``tmp_path`` with the real files' headers; the
shared datasets are only read (``$TFREC_INC_DATA``), never copied.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from tfrec_inc import config
from tfrec_inc.cli import main
from tfrec_inc.config import EvaluationConfig, WindowsConfig
from tfrec_inc.data import GIVEN_SPLIT_DATASETS, load
from tfrec_inc.data.amazon import load_amazon_office, load_amazon_scientific
from tfrec_inc.data.catalog import Catalog
from tfrec_inc.data.interactions import Interactions
from tfrec_inc.data.windows import split
from tfrec_inc.errors import ConfigError, DataError
from tfrec_inc.evaluation.protocol import evaluate_retrieval

LOO = WindowsConfig(mode="leave_one_out")
GIVEN = WindowsConfig(mode="given")


def _slices(window) -> dict[str, list[int]]:
    return {name: getattr(window, name).index.tolist()
            for name in ("train", "valid", "test", "history")}


def _rows(frame: pd.DataFrame) -> list[tuple[str, str, int]]:
    return list(frame[["user_id", "item_id", "timestamp"]].itertuples(index=False, name=None))


# --------------------------------------------------------------------------- leave-one-out


def test_leave_one_out_exact_rows_short_users_and_ties():
    frame = pd.DataFrame({
        "user_id": ["a", "b", "a", "c", "a", "b", "c", "c", "a"],
        "item_id": ["1", "2", "2", "3", "3", "1", "1", "2", "4"],
        "timestamp": [1, 1, 2, 2, 3, 4, 5, 5, 6],
    })
    (window,) = split(frame, LOO)
    assert window.index == 0
    # a: 1 2 3 4 -> train rows 0, 2; valid 4; test 8. b has 2 interactions: train only.
    # c: rows 3, 6, 7 with 6 and 7 tied at t=5: frame order makes row 7 the last.
    assert _slices(window) == {"train": [0, 1, 2, 3, 5], "valid": [4, 6], "test": [7, 8],
                               "history": [0, 1, 2, 3, 4, 5, 6]}
    assert window.test["user_id"].tolist() == ["c", "a"]


def test_leave_one_out_orders_by_time_not_by_rows():
    frame = pd.DataFrame({"user_id": ["a"] * 4, "item_id": ["1", "2", "3", "4"],
                          "timestamp": [4, 1, 3, 2]})
    (window,) = split(frame, LOO)
    assert _slices(window) == {"train": [1, 3], "valid": [2], "test": [0], "history": [1, 2, 3]}


def test_leave_one_out_without_a_user_of_three_is_a_config_error():
    frame = pd.DataFrame({"user_id": ["a", "a", "b"], "item_id": ["1", "2", "1"],
                          "timestamp": [1, 2, 3]})
    with pytest.raises(ConfigError, match="leave_one_out.*< 3 interactions"):
        split(frame, LOO)


class _FixedModel:
    """Every user [1]; item i scores i, so rankings are known exactly."""

    history_length = 0

    def __init__(self, n_users: int, n_items: int) -> None:
        self._u = tf.ones([n_users, 1])
        self._i = tf.constant(np.arange(n_items, dtype=np.float32)[:, None])

    def user_tower(self, features):
        return tf.gather(self._u, features["user"])

    def item_tower(self, features):
        return tf.gather(self._i, features["item"])


def test_full_ranking_scores_one_test_item_per_user():
    inter = pd.DataFrame({
        "user_id": ["u1"] * 4 + ["u2"] * 4 + ["u3"] * 2,
        "item_id": ["a", "b", "c", "e", "e", "d", "a", "b", "a", "b"],
        "timestamp": [1, 2, 3, 4, 1, 2, 3, 4, 1, 5],
    })
    items = pd.DataFrame({"item_id": list("abcde"), "text": list("abcde")})
    data = Interactions.create("toy", inter, items)
    (window,) = split(data.interactions, LOO)
    catalog = Catalog.from_interactions(data)
    found = evaluate_retrieval(_FixedModel(len(catalog.users), len(catalog.items)), catalog, window,
                               EvaluationConfig(ks=[1, 3], groups=["all", "warm_users", "cold_users"]))
    got = {(r["group"], r["metric"], r["k"]): r["value"] for r in found}
    # u1: seen a b c, unseen e > d: test e first. u2: seen e d a, unseen c > b: test b second.
    # u3 (2 interactions) is never tested.
    assert got[("all", "users", None)] == 2 and got[("cold_users", "users", None)] == 0
    assert got[("all", "recall", 1)] == 0.5 and got[("all", "recall", 3)] == 1.0
    assert got[("all", "ndcg", 3)] == pytest.approx((1 + 1 / np.log2(3)) / 2)
    assert got[("warm_users", "recall", 1)] == 0.5


# --------------------------------------------------------------------------- given: fixtures

TAB = "\t"
NEG = "[2, 3]"


def _write_office(root: Path) -> Path:
    """Users 1 and 2: train rows, one dev and one test row each; user 3: train rows only."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "Office.text").write_text("id\ttext\n" + "".join(f"ASIN{i}\tItem {i} Pens Bic\n"
                                                            for i in range(1, 5)))
    (root / "Office.item2index").write_text("".join(f"ASIN{i}\t{i}\n" for i in range(1, 5)))
    (root / "item_meta.csv").write_text(
        "item_id\ti_category\ti_brand\tr_complement\tr_substitute\n"
        + "".join(f"{i}\t1\t{i}\t[]\t[]\n" for i in range(1, 5)))
    (root / "train.csv").write_text("user_id\titem_id\ttime\n1\t1\t100\n2\t2\t150\n1\t2\t200\n"
                                    "3\t1\t210\n3\t3\t220\n2\t3\t250\n")
    (root / "dev.csv").write_text(f"user_id\titem_id\ttime\tneg_items\n1\t3\t300\t{NEG}\n"
                                  f"2\t1\t300\t{NEG}\n")
    (root / "test.csv").write_text(f"user_id\titem_id\ttime\tneg_items\n1\t4\t400\t{NEG}\n"
                                   f"2\t4\t300\t{NEG}\n")
    return root


HEADER = "user_id:token\titem_id_list:token_seq\titem_id:token\n"


def _write_scientific(root: Path) -> Path:
    """u0 = 0 1 2 3 4, u1 = 2 3 4 0 1 (train rows longest prefix first, as the real file)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "Scientific.train.inter").write_text(HEADER + "0\t0 1\t2\n0\t0\t1\n1\t2 3\t4\n1\t2\t3\n")
    (root / "Scientific.valid.inter").write_text(HEADER + "0\t0 1 2\t3\n1\t2 3 4\t0\n")
    (root / "Scientific.test.inter").write_text(HEADER + "0\t0 1 2 3\t4\n1\t2 3 4 0\t1\n")
    (root / "Scientific.text").write_text(
        "item_id:token\ttext:token_seq\n" + "".join(f"B{i}\tItem {i}. Tools. Acme. \n" for i in range(5)))
    (root / "Scientific.item2index").write_text("".join(f"B{i}\t{i}\n" for i in range(5)))
    return root


def test_given_office_fixture_exact_rows(tmp_path):
    root = _write_office(tmp_path)
    data = load_amazon_office(root, given_split=True)
    plain = load_amazon_office(root)
    pd.testing.assert_frame_equal(plain.interactions, data.interactions.drop(columns="split"))
    (window,) = split(data.interactions, GIVEN)
    assert _rows(window.train) == [("1", "1", 100), ("2", "2", 150), ("1", "2", 200), ("3", "1", 210),
                                   ("3", "3", 220), ("2", "3", 250)]
    # Day ties keep file order: user 2's dev row (t=300) before their test row (t=300).
    assert _rows(window.valid) == [("1", "3", 300), ("2", "1", 300)]
    assert _rows(window.test) == [("2", "4", 300), ("1", "4", 400)]
    assert window.history.index.tolist() == [*window.train.index, *window.valid.index]
    # Leave-one-out on the plain frame finds the same split (user 3 has 2 rows: train only).
    assert _slices(split(plain.interactions, LOO)[0]) == _slices(window)


def test_given_scientific_fixture_exact_rows(tmp_path):
    root = _write_scientific(tmp_path)
    data = load_amazon_scientific(root, given_split=True)
    plain = load_amazon_scientific(root)
    pd.testing.assert_frame_equal(plain.interactions, data.interactions.drop(columns="split"))
    (window,) = split(data.interactions, GIVEN)
    assert _rows(window.train) == [("0", "0", 0), ("1", "2", 0), ("0", "1", 1), ("1", "3", 1),
                                   ("0", "2", 2), ("1", "4", 2)]
    assert _rows(window.valid) == [("0", "3", 3), ("1", "0", 3)]
    assert _rows(window.test) == [("0", "4", 4), ("1", "1", 4)]
    assert _slices(split(plain.interactions, LOO)[0]) == _slices(window)


def test_given_scientific_with_capped_histories(tmp_path):
    """Histories capped at 3: the valid and test rows alone miss the first items."""
    root = _write_scientific(tmp_path)
    (root / "Scientific.train.inter").write_text(HEADER + "0\t0 1 2\t3\n0\t0 1\t2\n0\t0\t1\n")
    (root / "Scientific.valid.inter").write_text(HEADER + "0\t1 2 3\t4\n")
    (root / "Scientific.test.inter").write_text(HEADER + "0\t2 3 4\t0\n")
    data = load_amazon_scientific(root, given_split=True)
    assert data.interactions["item_id"].tolist() == ["0", "1", "2", "3", "4", "0"]
    assert data.interactions["split"].tolist() == ["train"] * 4 + ["valid", "test"]


def test_given_needs_a_dataset_with_a_split():
    with pytest.raises(ConfigError, match="given needs a dataset that ships its own"):
        split(pd.DataFrame({"user_id": ["a"], "item_id": ["1"], "timestamp": [1]}), GIVEN)
    with pytest.raises(DataError, match="dataset 'synthetic' has no given train/valid/test split"):
        load("synthetic", given_split=True, num_users=50, num_items=40, num_interactions=300)
    with pytest.raises(DataError, match="unknown dataset 'nope'"):
        load("nope", given_split=True)
    with pytest.raises(ConfigError, match=r"^windows.mode: given needs .*data.dataset 'ml-100k' has none$"):
        config.from_dict({"data": {"dataset": "ml-100k"}, "windows": {"mode": "given"}})
    with pytest.raises(ConfigError, match="transfer.source.dataset 'synthetic' has none"):
        config.from_dict({"data": {"dataset": "amazon-office"}, "windows": {"mode": "given"},
                          "transfer": {"source": {"dataset": "synthetic"}},
                          "models": [{"type": "popularity"}]})
    assert config.GIVEN_SPLIT_DATASETS == GIVEN_SPLIT_DATASETS


@pytest.mark.parametrize(("name", "dataset"), [("scientific_loo", "amazon-scientific"),
                                                ("office_given", "amazon-office")])
def test_given_split_experiments_load(name, dataset):
    cfg = config.load(Path(__file__).resolve().parents[1] / "experiments" / f"{name}.yaml")
    assert (cfg.data.dataset, cfg.windows.mode, cfg.study) == (dataset, "given", "incremental")
    assert cfg.evaluation.ks == [10, 20, 50] and cfg.strategies == ["full_retrain"]
    assert cfg.report.metrics == ["recall@10", "ndcg@10", "recall@20", "ndcg@20", "recall@50", "ndcg@50"]
    assert cfg.seeds == [0, 1, 2]
    assert [m.type for m in cfg.models] == ["retrieval", "popularity", "itemknn", "ials", "ease", "rp3beta",
                                            "text_knn"]


# --------------------------------------------------------------------------- given: bad splits


def _append(path: Path, line: str) -> None:
    path.write_text(path.read_text() + line + "\n")


def _replace(path: Path, number: int, line: str) -> None:
    lines = path.read_text().split("\n")
    lines[number - 1] = line
    path.write_text("\n".join(lines))


OFFICE_BAD = [
    (lambda r: _append(r / "test.csv", f"9\t1\t500\t{NEG}"), r"test\.csv:4: user_id 9 is not in train\.csv"),
    (lambda r: _append(r / "dev.csv", f"1\t4\t350\t{NEG}"), r"dev\.csv:4: duplicate user_id 1"),
    (lambda r: _append(r / "test.csv", f"2\t2\t500\t{NEG}"), r"test\.csv:4: duplicate user_id 2"),
    (lambda r: _replace(r / "test.csv", 2, f"1\t4\t250\t{NEG}"),
     r"test\.csv:2: user 1's interaction \(time 250\) is older than their earlier rows \(up to time 300\)"),
    (lambda r: _replace(r / "dev.csv", 3, f"2\t1\t1.5\t{NEG}"),
     r"dev\.csv:3: field 3 \(time\) is not an integer"),
]
SCIENTIFIC_BAD = [
    (lambda r: _append(r / "Scientific.valid.inter", "7\t0 1\t2"),
     r"Scientific\.valid\.inter:4: user_id 7 is not in Scientific\.train\.inter"),
    (lambda r: _replace(r / "Scientific.test.inter", 2, "0\t0 1 x 3\t4"),
     r"Scientific\.test\.inter:2: field 2 \(item_id_list\) is not a list of integers"),
    (lambda r: _replace(r / "Scientific.test.inter", 3, "1\t2 3 4 1\t1"),
     r"Scientific\.test\.inter:3: history does not continue the user's sequence"),
    (lambda r: _append(r / "Scientific.test.inter", "0\t0 1 2 3\t4"),
     r"Scientific\.test\.inter:4: duplicate user_id 0"),
]


def _misplaced_test_row(root: Path) -> None:
    """u0's sequence still chains (0 1 2 3 4), but its test target is item 2, not the last."""
    (root / "Scientific.train.inter").write_text(HEADER + "0\t0 1 2\t3\n0\t0\t1\n1\t2 3\t4\n1\t2\t3\n")
    (root / "Scientific.valid.inter").write_text(HEADER + "0\t0 1 2 3\t4\n1\t2 3 4\t0\n")
    _replace(root / "Scientific.test.inter", 2, "0\t0 1\t2")


SCIENTIFIC_BAD.append((_misplaced_test_row, r"Scientific\.test\.inter:2: this test row's history \(2 items\) "
                                            r"does not extend the user's train rows"))


@pytest.mark.parametrize(("corrupt", "match"), OFFICE_BAD)
def test_bad_given_office_split(tmp_path, corrupt, match):
    root = _write_office(tmp_path)
    corrupt(root)
    with pytest.raises(DataError, match=match) as info:
        load_amazon_office(root, given_split=True)
    assert "\n" not in str(info.value) and str(root) in str(info.value)


@pytest.mark.parametrize(("corrupt", "match"), SCIENTIFIC_BAD)
def test_bad_given_scientific_split(tmp_path, corrupt, match):
    root = _write_scientific(tmp_path)
    corrupt(root)
    with pytest.raises(DataError, match=match) as info:
        load_amazon_scientific(root, given_split=True)
    assert "\n" not in str(info.value) and str(root) in str(info.value)


def test_misplaced_test_row_loads_for_other_modes(tmp_path):
    """The given-split checks run only when the split is asked for (other modes unchanged)."""
    root = _write_scientific(tmp_path)
    _misplaced_test_row(root)
    assert len(load_amazon_scientific(root).interactions) == 10


@pytest.mark.parametrize(("dataset", "writer", "corrupt", "match"), [
    ("amazon-office", _write_office, *OFFICE_BAD[2]),
    ("amazon-scientific", _write_scientific, *SCIENTIFIC_BAD[-1]),
])
def test_cli_bad_given_split_exits_2_and_writes_nothing(tmp_path, capsys, dataset, writer, corrupt, match):
    root = writer(tmp_path / "data")
    corrupt(root)
    cfg = tmp_path / "given.yaml"
    cfg.write_text(f"experiment: bad_given\nseeds: [0]\ndata: {{dataset: {dataset}, data_dir: '{root}'}}\n"
                   "windows: {mode: given}\nmodels: [{name: popularity, type: popularity}]\n"
                   "strategies: [full_retrain]\n")
    out = tmp_path / "results" / "bad_given"
    assert main(["run", str(cfg), "--output", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert re.search(match, err)
    assert not out.exists() and not out.with_name("bad_given.partial").exists()
    assert not (tmp_path / "results").exists()


# --------------------------------------------------------------------------- given: shared data


def _folder(shared_data: Path, name: str) -> Path:
    folder = shared_data / name
    if not folder.is_dir():
        pytest.skip(f"{folder} not present")
    return folder


def _check_real_given(plain: Interactions, given: Interactions) -> None:
    """One valid and one test row per user; train = each user's sequence minus its last two."""
    pd.testing.assert_frame_equal(plain.interactions, given.interactions.drop(columns="split"))
    (window,) = split(given.interactions, GIVEN)
    users = plain.interactions["user_id"].nunique()
    for part in (window.valid, window.test):
        assert len(part) == users and part["user_id"].is_unique
    seqs = plain.interactions.groupby("user_id", sort=False)["item_id"].agg(list)
    train = window.train.groupby("user_id", sort=False)["item_id"].agg(list)
    assert train.to_dict() == {u: s[:-2] for u, s in seqs.items()}
    assert window.valid.set_index("user_id")["item_id"].to_dict() == {u: s[-2] for u, s in seqs.items()}
    assert window.test.set_index("user_id")["item_id"].to_dict() == {u: s[-1] for u, s in seqs.items()}
    assert _slices(split(plain.interactions, LOO)[0]) == _slices(window)


def test_given_scientific_real(shared_data):
    folder = _folder(shared_data, "amazon-scientific-unisrec")
    _check_real_given(load_amazon_scientific(folder), load_amazon_scientific(folder, given_split=True))


def test_given_office_real(shared_data):
    folder = _folder(shared_data, "amazon-office-rechorus")
    _check_real_given(load_amazon_office(folder), load_amazon_office(folder, given_split=True))
