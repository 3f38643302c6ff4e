"""Tests of the dataset loaders: real files, small fixtures, corrupted files, the registry lookup.

Real datasets are read from ``$TFREC_INC_DATA`` (never copied into the repo); those tests
skip when it is unset. Corrupted-file tests use small made-up fixtures in ``tmp_path``.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tfrec_inc.data import find_dataset, load
from tfrec_inc.data.amazon import load_amazon_office, load_amazon_scientific
from tfrec_inc.data.movielens import (
    load_ml_1m,
    load_ml_100k,
    load_ml_latest_small,
)
from tfrec_inc.data.synthetic import SyntheticOptions
from tfrec_inc.errors import ConfigError, DataError

SMALL = {"num_users": 300, "num_items": 240, "num_interactions": 6000}


def _folder(shared_data: Path, name: str) -> Path:
    folder = shared_data / name
    if not folder.is_dir():
        pytest.skip(f"{folder} not present")
    return folder


def _raises(fn, *args, match: str) -> str:
    """Asserts ``fn(*args)`` raises a one-line DataError matching ``match``."""
    with pytest.raises(DataError, match=match) as info:
        fn(*args)
    message = str(info.value)
    assert "\n" not in message
    return message


# --------------------------------------------------------------------------- real data


def test_ml_100k_real(shared_data):
    data = load_ml_100k(_folder(shared_data, "ml-100k"))
    assert (len(data.interactions), data.num_users, data.num_items) == (100_000, 943, 1682)
    assert set(data.interactions["rating"].unique()) == {1, 2, 3, 4, 5}
    ts = data.interactions["timestamp"]
    assert pd.Timestamp(ts.min(), unit="s") == pd.Timestamp("1997-09-20 03:05:10")
    assert pd.Timestamp(ts.max(), unit="s") == pd.Timestamp("1998-04-22 23:10:38")
    titles = set(data.items["title"])
    assert "Misérables, Les (1995)" in titles
    toy = data.items.set_index("item_id").loc["1"]
    assert toy["genres"] == "Animation|Children's|Comedy"
    assert toy["text"] == "Toy Story (1995). Animation, Children's, Comedy"
    assert data.user_feature_names == ["age_group", "gender", "occupation", "zip_region"]
    user1 = data.users.set_index("user_id").loc["1"]
    assert (user1["age_group"], user1["gender"], user1["occupation"]) == (
        "18-24", "M", "technician")


def test_ml_latest_small_real(shared_data):
    data = load_ml_latest_small(_folder(shared_data, "ml-latest-small"))
    assert (len(data.interactions), data.num_users, data.num_items) == (100_836, 610, 9742)
    assert data.interactions["item_id"].nunique() == 9724
    assert data.users is None
    assert not data.items["text"].str.contains("\r").any()
    assert not data.items["genres"].str.contains("no genres").any()
    assert set(np.unique(data.interactions["rating"] * 2)) <= set(range(1, 11))
    items = data.items.set_index("item_id")
    assert items.loc["1", "text"].startswith(
        "Toy Story (1995). Genres: Adventure, Animation, Children, Comedy, Fantasy. Tags: ")
    assert "pixar" in items.loc["1", "text"]


def test_ml_1m_shared_copy_lacks_ratings(shared_data):
    _folder(shared_data, "ml-1m")
    _raises(load, "ml-1m", shared_data, match=r"ml-1m.*lacks ratings\.dat.*ml-1m\.zip")


def test_amazon_office_real(shared_data):
    data = load_amazon_office(_folder(shared_data, "amazon-office-rechorus"))
    assert (len(data.interactions), data.num_users, data.num_items) == (53_258, 4905, 2420)
    assert not data.has_ratings
    assert data.items["genres"].str.fullmatch(r"cat\d+").all()
    assert (data.items["text"].str.len() > 0).all()
    ts = pd.to_datetime(data.interactions["timestamp"], unit="s")
    assert ts.min().date().isoformat() == "2000-09-29"
    assert ts.max().date().isoformat() == "2014-07-23"


def test_amazon_scientific_real(shared_data):
    folder = _folder(shared_data, "amazon-scientific-unisrec")
    data = load_amazon_scientific(folder)
    assert (len(data.interactions), data.num_users, data.num_items) == (59_427, 8442, 4385)
    assert not data.has_ratings
    inter = data.interactions
    # Order index: every user's timestamps are exactly 0..n-1.
    sizes = inter.groupby("user_id")["timestamp"].agg(["min", "max", "size"])
    assert (sizes["min"] == 0).all() and (sizes["max"] == sizes["size"] - 1).all()
    # The rebuilt sequence ends with the test row's (history, target).
    test = pd.read_csv(folder / "Scientific.test.inter", sep="\t", dtype=str)
    seqs = inter.sort_values(["user_id", "timestamp"]).groupby("user_id")["item_id"].agg(list)
    for user, hist, target in test.itertuples(index=False):
        assert seqs[user][-len(hist.split()) - 1:] == [*hist.split(), target]


def test_registry_finds_parent_and_folder(shared_data, monkeypatch):
    _folder(shared_data, "ml-100k")
    assert find_dataset("ml-100k", shared_data) == shared_data / "ml-100k"
    assert find_dataset("ml-100k", shared_data / "ml-100k") == shared_data / "ml-100k"
    monkeypatch.setenv("TFREC_INC_DATA", str(shared_data))
    assert find_dataset("ml-100k") == shared_data / "ml-100k"


# --------------------------------------------------------------------------- fixtures

GENRES = ["unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
          "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
          "Romance", "Sci-Fi", "Thriller", "War", "Western"]


def _flags(*on: int) -> str:
    return "|".join("1" if i in on else "0" for i in range(19))


def _write_ml_100k(root: Path) -> Path:
    """A made-up 3-item, 2-user ml-100k folder (latin-1 title included)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "u.genre").write_text("".join(f"{g}|{i}\n" for i, g in enumerate(GENRES)) + "\n")
    (root / "u.item").write_bytes(
        f"1|Alpha (1995)|01-Jan-1995||http://x|{_flags(1, 5)}\n".encode()
        + f"2|Mis\xe9rables, Les (1995)|01-Jan-1995||http://y|{_flags(8)}\n".encode("latin-1")
        + f"3|Gamma (1996)|01-Jan-1996||http://z|{_flags(0)}\n".encode())
    (root / "u.user").write_text("1|24|M|technician|85711\n2|60|F|other|T8H1N\n")
    (root / "u.data").write_text("1\t1\t5\t881250949\n1\t2\t3\t881250950\n2\t3\t4\t881250951\n"
                                 "2\t1\t1\t881250952\n")
    return root


def _write_ml_latest_small(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "movies.csv").write_bytes(
        b'movieId,title,genres\r\n1,"Big, Bad (2001)",Comedy|Drama\r\n'
        b"2,Caf\xc3\xa9 (2002),(no genres listed)\r\n")
    (root / "ratings.csv").write_bytes(
        b"userId,movieId,rating,timestamp\r\n1,1,4.5,964982703\r\n1,2,3.0,964982224\r\n"
        b"2,1,0.5,964983815\r\n")
    (root / "tags.csv").write_bytes(
        b"userId,movieId,tag,timestamp\r\n1,1,funny,1445714994\r\n2,1,Funny,1445714995\r\n"
        b'2,1,"dark, bleak",1445714996\r\n')
    return root


def _write_ml_1m(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "movies.dat").write_bytes(
        b"1::Toy Story (1995)::Animation|Children's|Comedy\n"
        b"2::Mis\xe9rables, Les (1995)::Drama|Musical\n3::Nothing (2000)::\n")
    (root / "users.dat").write_text("1::F::1::10::48067\n2::M::56::16::70072\n")
    (root / "ratings.dat").write_text("1::1::5::978300760\n1::2::3::978302109\n"
                                      "2::2::4::978301968\n")
    return root


def _write_office(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "Office.text").write_text("id\ttext\nASIN1\tStapler Staplers Swingline\n"
                                      "ASIN2\tPen Pens Bic\nASIN3\tPaper Paper HP\n")
    (root / "Office.item2index").write_text("ASIN1\t1\nASIN2\t2\nASIN3\t3\n")
    (root / "item_meta.csv").write_text(
        "item_id\ti_category\ti_brand\tr_complement\tr_substitute\n"
        "1\t4\t7\t[2]\t[]\n2\t5\t8\t[]\t[]\n3\t5\t9\t[]\t[1]\n")
    (root / "train.csv").write_text("user_id\titem_id\ttime\n1\t1\t100\n1\t2\t200\n2\t2\t150\n")
    neg = "[3, 3]"
    (root / "dev.csv").write_text(f"user_id\titem_id\ttime\tneg_items\n1\t3\t300\t{neg}\n")
    (root / "test.csv").write_text(f"user_id\titem_id\ttime\tneg_items\n2\t1\t400\t{neg}\n")
    return root


def _write_scientific(root: Path) -> Path:
    """Two users: u0 = 0 1 2 3 4 (5 items), u1 = 2 3 4 0 1 (5 items)."""
    root.mkdir(parents=True, exist_ok=True)
    header = "user_id:token\titem_id_list:token_seq\titem_id:token\n"
    (root / "Scientific.train.inter").write_text(
        header + "0\t0 1\t2\n0\t0\t1\n1\t2 3\t4\n1\t2\t3\n")
    (root / "Scientific.valid.inter").write_text(header + "0\t0 1 2\t3\n1\t2 3 4\t0\n")
    (root / "Scientific.test.inter").write_text(header + "0\t0 1 2 3\t4\n1\t2 3 4 0\t1\n")
    (root / "Scientific.text").write_text(
        "item_id:token\ttext:token_seq\n" + "".join(f"B{i}\tItem {i}. Tools. Acme. \n"
                                                   for i in range(5)))
    (root / "Scientific.item2index").write_text("".join(f"B{i}\t{i}\n" for i in range(5)))
    return root


def test_ml_100k_fixture(tmp_path):
    data = load_ml_100k(_write_ml_100k(tmp_path / "ml-100k"))
    items = data.items.set_index("item_id")
    assert items.loc["2", "title"] == "Misérables, Les (1995)"
    assert items.loc["1", "text"] == "Alpha (1995). Action, Comedy"
    users = data.users.set_index("user_id")
    assert users.loc["2", "age_group"] == "56+" and users.loc["2", "zip_region"] == "T"
    assert data.interactions["timestamp"].is_monotonic_increasing
    # The release date is the item's arrival (evaluation candidates).
    assert items.loc["3", "arrival"] == pd.Timestamp("1996-01-01").timestamp()


def test_ml_latest_small_fixture(tmp_path):
    data = load_ml_latest_small(_write_ml_latest_small(tmp_path))
    items = data.items.set_index("item_id")
    # CRLF stripped, quoted comma kept, tags deduplicated case-insensitively.
    assert items.loc["1", "text"] == (
        "Big, Bad (2001). Genres: Comedy, Drama. Tags: funny, dark, bleak")
    assert items.loc["2", "text"] == "Café (2002)" and items.loc["2", "genres"] == ""
    # Only the title's year is known: the item arrives on 1 January of it.
    assert items.loc["1", "arrival"] == pd.Timestamp("2001-01-01").timestamp()
    assert data.interactions["rating"].tolist() == [3.0, 4.5, 0.5]


def test_ml_1m_fixture(tmp_path):
    data = load_ml_1m(_write_ml_1m(tmp_path))
    assert (len(data.interactions), data.num_users, data.num_items) == (3, 2, 3)
    items = data.items.set_index("item_id")
    assert items.loc["2", "title"] == "Misérables, Les (1995)"
    assert items.loc["3", "text"] == "Nothing (2000)" and items.loc["3", "genres"] == ""
    users = data.users.set_index("user_id")
    assert users.loc["1"].tolist() == ["<18", "F", "10", "4"]
    assert users.loc["2", "age_group"] == "56+"


def test_office_fixture(tmp_path):
    data = load_amazon_office(_write_office(tmp_path))
    assert len(data.interactions) == 5 and not data.has_ratings
    assert data.interactions["timestamp"].tolist() == [100, 150, 200, 300, 400]
    items = data.items.set_index("item_id")
    assert items.loc["1", "genres"] == "cat4" and items.loc["1", "text"].startswith("Stapler")


def test_scientific_fixture(tmp_path):
    data = load_amazon_scientific(_write_scientific(tmp_path))
    seqs = data.interactions.sort_values("timestamp", kind="stable").groupby("user_id")[
        "item_id"].agg(list)
    assert seqs["0"] == ["0", "1", "2", "3", "4"]
    assert seqs["1"] == ["2", "3", "4", "0", "1"]


def test_scientific_rebuilds_capped_histories(tmp_path):
    """Histories capped at 3 items: the test row alone would lose the first item."""
    root = _write_scientific(tmp_path)
    header = "user_id:token\titem_id_list:token_seq\titem_id:token\n"
    (root / "Scientific.train.inter").write_text(header + "0\t0 1\t2\n0\t0\t1\n")
    (root / "Scientific.valid.inter").write_text(header + "0\t0 1 2\t3\n")
    (root / "Scientific.test.inter").write_text(header + "0\t1 2 3\t4\n")
    data = load_amazon_scientific(root)
    assert data.interactions["item_id"].tolist() == ["0", "1", "2", "3", "4"]


# --------------------------------------------------------------------------- bad data


def _corrupt(path: Path, line: int, content: bytes) -> None:
    """Replaces 1-based ``line`` of ``path`` by ``content``."""
    lines = path.read_bytes().split(b"\n")
    lines[line - 1] = content
    path.write_bytes(b"\n".join(lines))


@pytest.mark.parametrize(("line", "content", "match"), [
    (3, b"1\t2\t3", r"u\.data:3: expected 4 tab-separated fields, got 3"),
    (2, b"1\t2\t3\t4\t5", r"u\.data:2: expected 4 tab-separated fields, got 5"),
    (2, b"1\t2\tabc\t881250950", r"u\.data:2: field 3 \(rating\) is not a finite number: 'abc'"),
    (4, b"2\t1\tnan\t881250952", r"u\.data:4: field 3 \(rating\) is not a finite number"),
    (1, b"x1\t1\t5\t881250949", r"u\.data:1: field 1 \(user_id\) is not an integer"),
    (2, b"1\t2\t3\t", r"u\.data:2: field 4 \(timestamp\) is empty"),
    (2, b"1\t2\t3\t8812.5", r"u\.data:2: field 4 \(timestamp\) is not an integer"),
    (3, b"2\t3\t\xff4\t881250951", r"u\.data:3: invalid utf-8 byte 0xff"),
    (2, b"", r"u\.data:2: empty line"),
    (4, b"2\t9\t1\t881250952", r"u\.data:4: item_id 9 is not in u\.item"),
])
def test_ml_100k_bad_u_data(tmp_path, line, content, match):
    root = _write_ml_100k(tmp_path)
    _corrupt(root / "u.data", line, content)
    _raises(load_ml_100k, root, match=match)


def test_ml_100k_bad_other_files(tmp_path):
    root = _write_ml_100k(tmp_path)
    _corrupt(root / "u.item", 3, b"3|Gamma (1996)|01-Jan-1996")
    _raises(load_ml_100k, root, match=r"u\.item:3: expected 24 '\|'-separated fields, got 3")
    root = _write_ml_100k(tmp_path / "b")
    _corrupt(root / "u.item", 1, f"1|Alpha|x||y|{_flags(1)}|1".encode())
    _raises(load_ml_100k, root, match=r"u\.item:1: expected 24 .* got 25")
    root = _write_ml_100k(tmp_path / "c")
    _corrupt(root / "u.user", 2, b"2|sixty|F|other|T8H1N")
    _raises(load_ml_100k, root, match=r"u\.user:2: field 2 \(age\) is not an integer: 'sixty'")
    root = _write_ml_100k(tmp_path / "d")
    _corrupt(root / "u.item", 3, f"1|Dup (1996)|x||y|{_flags(0)}".encode())
    _raises(load_ml_100k, root, match=r"u\.item:3: duplicate item_id 1")


def test_missing_and_empty_files(tmp_path):
    root = _write_ml_100k(tmp_path)
    (root / "u.data").write_bytes(b"")
    _raises(load_ml_100k, root, match=r"u\.data: file is empty")
    (root / "u.data").write_bytes(b"\n\n")
    _raises(load_ml_100k, root, match=r"u\.data: file is empty")
    (root / "u.user").unlink()
    (root / "u.data").write_text("1\t1\t5\t881250949\n")
    _raises(load_ml_100k, root, match=r"u\.user: file not found")
    root = _write_ml_latest_small(tmp_path / "mls")
    (root / "ratings.csv").write_bytes(b"userId,movieId,rating,timestamp\r\n")
    _raises(load_ml_latest_small, root, match=r"ratings\.csv: file has no data rows")


def test_real_u_data_lines_corrupted(shared_data, tmp_path):
    """A few real lines copied into tmp_path (never the repo), then broken."""
    src = _folder(shared_data, "ml-100k")
    root = tmp_path / "ml-100k"
    root.mkdir()
    for name in ("u.item", "u.genre", "u.user"):
        shutil.copy(src / name, root / name)
    head = (src / "u.data").read_bytes().split(b"\n")[:20]
    (root / "u.data").write_bytes(b"\n".join(head) + b"\n")
    assert len(load_ml_100k(root).interactions) == 20
    _corrupt(root / "u.data", 17, head[16].rsplit(b"\t", 1)[0])
    _raises(load_ml_100k, root, match=r"u\.data:17: expected 4 tab-separated fields, got 3")


@pytest.mark.parametrize(("fname", "line", "content", "match"), [
    ("ratings.csv", 3, b"1,2,abc,964982224\r", r"ratings\.csv:3: field 3 \(rating\) is not"),
    ("ratings.csv", 2, b"1,1,4.5\r", r"ratings\.csv:2: expected 4 comma-separated fields, got 3"),
    ("ratings.csv", 1, b"user,movie,rating,timestamp\r", r"ratings\.csv:1: expected header"),
    ("ratings.csv", 4, b"2,7,0.5,964983815\r", r"ratings\.csv:4: movieId 7 is not in movies"),
    ("movies.csv", 3, b"2,Caf\xe9 (2002),Drama\r", r"movies\.csv:3: invalid utf-8 byte 0xe9"),
    ("movies.csv", 2, b'1,"Big, Bad (2001),Comedy\r', r"movies\.csv:2: "),
    ("tags.csv", 3, b"2,1\r", r"tags\.csv:3: expected 4 comma-separated fields, got 2"),
])
def test_ml_latest_small_bad(tmp_path, fname, line, content, match):
    root = _write_ml_latest_small(tmp_path)
    _corrupt(root / fname, line, content)
    _raises(load_ml_latest_small, root, match=match)


def test_ml_1m_bad(tmp_path):
    root = _write_ml_1m(tmp_path)
    _corrupt(root / "ratings.dat", 2, b"1::2::3")
    _raises(load_ml_1m, root, match=r"ratings\.dat:2: expected 4 '::'-separated fields, got 3")
    root = _write_ml_1m(tmp_path / "b")
    _corrupt(root / "users.dat", 2, b"2::M::57::16::70072")
    _raises(load_ml_1m, root, match=r"users\.dat:2: field 3 \(age\) is not an ml-1m age code")
    root = _write_ml_1m(tmp_path / "c")
    (root / "ratings.dat").unlink()
    _raises(load_ml_1m, root, match=r"ratings\.dat: file not found")


def test_amazon_bad(tmp_path):
    root = _write_office(tmp_path / "o1")
    _corrupt(root / "dev.csv", 2, b"1\t3\t300")
    _raises(load_amazon_office, root, match=r"dev\.csv:2: expected 4 tab-separated fields, got 3")
    root = _write_office(tmp_path / "o2")
    _corrupt(root / "train.csv", 3, b"1\t2\tyesterday")
    _raises(load_amazon_office, root, match=r"train\.csv:3: field 3 \(time\) is not an integer")
    root = _write_office(tmp_path / "o3")
    _corrupt(root / "Office.text", 3, b"ASIN2\tPen \xc3(")
    _raises(load_amazon_office, root, match=r"Office\.text:3: invalid utf-8 byte 0xc3")
    root = _write_scientific(tmp_path / "s1")
    _corrupt(root / "Scientific.test.inter", 2, b"0\t0 1 x 3\t4")
    _raises(load_amazon_scientific, root,
            match=r"Scientific\.test\.inter:2: field 2 \(item_id_list\) is not a list")
    root = _write_scientific(tmp_path / "s2")
    _corrupt(root / "Scientific.valid.inter", 2, b"0\t0 2 1\t3")
    _raises(load_amazon_scientific, root,
            match=r"Scientific\.valid\.inter:2: history does not continue")
    root = _write_scientific(tmp_path / "s3")
    _corrupt(root / "Scientific.test.inter", 3, b"1\t2 3 4 0\t9")
    _raises(load_amazon_scientific, root,
            match=r"Scientific\.test\.inter:3: item 9 is not in Scientific\.item2index")


def test_registry_lookup_order(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("TFREC_INC_DATA", raising=False)
    message = _raises(load, "ml-100k", tmp_path / "nowhere", match=r"dataset 'ml-100k' not found")
    assert "nowhere" in message and "TFREC_INC_DATA (not set)" in message
    assert ".cache/tfrec_inc/data" in message and "ml-100k.zip" in message

    _write_ml_100k(tmp_path / "parent" / "ml-100k")
    monkeypatch.setenv("TFREC_INC_DATA", str(tmp_path / "parent"))
    assert load("ml-100k").num_items == 3  # via the env var
    _write_ml_100k(tmp_path / "home" / ".cache" / "tfrec_inc" / "data" / "ml-100k")
    monkeypatch.delenv("TFREC_INC_DATA")
    assert find_dataset("ml-100k") == tmp_path / "home/.cache/tfrec_inc/data/ml-100k"
    _write_ml_1m(tmp_path / "m1")
    (tmp_path / "m1" / "ratings.dat").unlink()
    _raises(load, "ml-1m", tmp_path / "m1", match=r"lacks ratings\.dat; download https://")


def test_registry_rejects_bad_names_and_options(tmp_path):
    _raises(load, "ml-10m", match=r"unknown dataset 'ml-10m'; choose one of synthetic")
    _write_office(tmp_path / "amazon-office-rechorus")
    with pytest.raises(DataError, match="has no option 'seed'"):
        load("amazon-office", tmp_path, seed=1)
    allowed = ", ".join(f.name for f in dataclasses.fields(SyntheticOptions))
    with pytest.raises(DataError, match=rf"has no option 'users' \(options: {allowed}\)$"):
        load("synthetic", users=10)
    with pytest.raises(ConfigError, match="num_periods=1 must be >= 2"):
        load("synthetic", num_periods=1)
