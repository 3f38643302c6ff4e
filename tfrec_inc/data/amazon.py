"""Amazon loaders: Office Products (ReChorus format) and Scientific (UniSRec format).

Both are implicit feedback (no ratings). Item ids are the datasets' own integer
indices (as strings); item text comes from the ``*.text`` files via ``*.item2index``.

Both ship a leave-one-out split (train / valid / test files). With ``given_split=True``
(``windows.mode: given``) the loaders also return it as the ``split`` column and check
that it is one: every valid/test user has train rows, at most one valid and one test row
per user, and those come after the user's train rows. Without it the output is the same
rows in the same order, without the column and without those checks.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import pandas as pd

from tfrec_inc.data.interactions import SPLITS, Interactions
from tfrec_inc.data.tables import Column, check_known, check_unique, read_table
from tfrec_inc.errors import DataError


def _item_text(text_path: Path, index_path: Path, header: tuple[str, str]) -> pd.DataFrame:
    """Joins ``ASIN -> text`` with ``ASIN -> index``; every indexed item needs text."""
    texts = read_table(text_path, [Column("asin"), Column("text", "any")], sep="\t",
                       header=header)
    check_unique(texts, "asin", text_path)
    index = read_table(index_path, [Column("asin"), Column("item_id", "int")], sep="\t")
    check_unique(index, "asin", index_path)
    check_unique(index, "item_id", index_path)
    check_known(index, "asin", texts["asin"], index_path, text_path.name)
    by_asin = pd.Series(texts["text"].str.strip().to_numpy(), index=texts["asin"].to_numpy())
    return pd.DataFrame({
        "item_id": index["item_id"].astype(str).to_numpy(),
        "text": by_asin.loc[index["asin"].to_numpy()].to_numpy(),
        "asin": index["asin"].to_numpy(),
    })


def load_amazon_office(root: str | Path, given_split: bool = False) -> Interactions:
    """Loads Amazon 2014 Office Products 5-core in ReChorus format.

    The positive ``(user_id, item_id, time)`` rows of train.csv, dev.csv and test.csv
    are concatenated (dev/test ``neg_items`` are ignored).

    Args:
      root: the folder holding train.csv, dev.csv, test.csv, item_meta.csv,
        Office.text and Office.item2index.
      given_split: also return ReChorus' split as a ``split`` column (train.csv
        ``train``, dev.csv ``valid``, test.csv ``test``), checked (see the module doc).

    Returns:
      Implicit feedback (no rating column) with day-resolution Unix timestamps; items
      with text ``"<title> <category> <brand>"``, genres ``"cat<i_category>"`` and an
      extra ``brand`` column (``"brand<i_brand>"``); no user features.

    Raises:
      DataError: a file is missing or malformed (message names ``file:line``).

    Example (needs the ReChorus Office files, so not run by the tests):
      >>> load_amazon_office("/data/amazon-office-rechorus").num_items  # doctest: +SKIP
      2420
    """
    root = Path(root)
    catalog = _office_catalog(root)
    parts = []
    for split, fname in zip(SPLITS, ("train.csv", "dev.csv", "test.csv"), strict=True):
        cols = [Column("user_id", "int"), Column("item_id", "int"), Column("time", "int")]
        header: tuple[str, ...] = ("user_id", "item_id", "time")
        if fname != "train.csv":
            cols.append(Column("neg_items", "any"))
            header += ("neg_items",)
        rows = read_table(root / fname, cols, sep="\t", header=header)
        rows["item_id"] = rows["item_id"].astype(str)
        check_known(rows, "item_id", catalog["item_id"], root / fname, "Office.item2index")
        parts.append(rows[["user_id", "item_id", "time"]].assign(split=split))
    if given_split:
        _check_office_split(root, *parts)
    # Stable time sort in Interactions.create keeps train < dev < test within a day.
    inter = pd.concat(parts, ignore_index=True).rename(columns={"time": "timestamp"})
    if not given_split:
        inter = inter.drop(columns="split")
    return Interactions.create("amazon-office", inter, catalog)


def _office_catalog(root: Path) -> pd.DataFrame:
    """Office items: UniSRec-style text, ``cat<i_category>`` genres, ``brand<i_brand>``."""
    catalog = _item_text(root / "Office.text", root / "Office.item2index", ("id", "text"))
    meta_path = root / "item_meta.csv"
    meta = read_table(meta_path, [Column("item_id", "int"), Column("i_category", "int"),
                                  Column("i_brand", "int"), Column("r_complement", "any"),
                                  Column("r_substitute", "any")],
                      sep="\t",
                      header=("item_id", "i_category", "i_brand", "r_complement",
                              "r_substitute"))
    check_unique(meta, "item_id", meta_path)
    meta["item_id"] = meta["item_id"].astype(str)
    check_known(meta, "item_id", catalog["item_id"], meta_path, "Office.item2index")
    meta = meta.set_index("item_id")
    ids = catalog["item_id"]
    has_meta = ids.isin(meta.index).to_numpy()
    catalog["genres"] = ""
    catalog["brand"] = ""
    catalog.loc[has_meta, "genres"] = "cat" + meta.loc[ids[has_meta], "i_category"].astype(
        str).to_numpy()
    catalog.loc[has_meta, "brand"] = "brand" + meta.loc[ids[has_meta], "i_brand"].astype(
        str).to_numpy()
    return catalog


def _check_office_split(root: Path, train: pd.DataFrame, dev: pd.DataFrame,
                        test: pd.DataFrame) -> None:
    """ReChorus' split is leave-one-out: one dev and one test row per train user, after it.

    Raises:
      DataError: ``file:line`` of the first dev/test row that is a second one for its
        user, has a user without train rows, or is older than the user's earlier rows.
    """
    last = train.groupby("user_id")["time"].max()
    for fname, rows in (("dev.csv", dev), ("test.csv", test)):
        check_unique(rows, "user_id", root / fname)
        check_known(rows, "user_id", train["user_id"], root / fname, "train.csv")
        before = last.loc[rows["user_id"]].to_numpy()
        older = rows["time"].to_numpy() < before
        if older.any():
            i = int(older.argmax())
            raise DataError(
                f"{root / fname}:{rows.index[i]}: user {rows['user_id'].iloc[i]}'s interaction "
                f"(time {rows['time'].iloc[i]}) is older than their earlier rows (up to time "
                f"{before[i]}), so it does not extend their train sequence")
        last = pd.concat([last, rows.set_index("user_id")["time"]]).groupby(level=0).max()


class _Row(NamedTuple):
    """One ``history -> target`` row of a UniSRec ``.inter`` file."""

    history: list[int]
    target: int
    path: Path
    line: int
    split: str


def load_amazon_scientific(root: str | Path, given_split: bool = False) -> Interactions:
    """Loads Amazon 2018 Industrial & Scientific in UniSRec format.

    Each user's full item sequence is rebuilt from the leave-one-out files: the rows of
    train/valid/test are windows ``history -> target`` of one sequence (histories are
    capped at 50 items, so the test row alone can miss a long user's oldest items).

    Args:
      root: the folder holding Scientific.{train,valid,test}.inter, Scientific.text and
        Scientific.item2index.
      given_split: also return UniSRec's split as a ``split`` column: the target of the
        user's valid row is ``valid``, of the test row ``test``, every other item
        (train targets and the first item, which is only ever history) ``train``;
        checked (see the module doc).

    Returns:
      Implicit feedback (no rating column). The source has no clock, so ``timestamp``
      is the order index of the interaction in its user's sequence (0, 1, 2, ...).
      Items carry the UniSRec text ``"<title>. <category path>. <brand>."``.

    Raises:
      DataError: a file is missing or malformed, or the windows do not form one
        consistent sequence per user (message names ``file:line``).

    Example (needs the UniSRec Scientific files, so not run by the tests):
      >>> data = load_amazon_scientific("/data/amazon-scientific-unisrec")  # doctest: +SKIP
      >>> len(data.interactions)  # doctest: +SKIP
      59427
    """
    root = Path(root)
    catalog = _item_text(root / "Scientific.text", root / "Scientific.item2index",
                         ("item_id:token", "text:token_seq"))
    tables = {split: (root / f"Scientific.{split}.inter",
                      read_table(root / f"Scientific.{split}.inter",
                                 [Column("user_id", "int"), Column("history"),
                                  Column("item_id", "int")], sep="\t",
                                 header=("user_id:token", "item_id_list:token_seq",
                                         "item_id:token")))
              for split in SPLITS}
    if given_split:
        train = tables["train"]
        for path, rows in (tables["valid"], tables["test"]):
            check_unique(rows, "user_id", path)
            check_known(rows, "user_id", train[1]["user_id"], path, train[0].name)
    windows = _parse_rows(tables, set(catalog["item_id"].astype(int)))

    cap = max(len(w.history) for rows in windows.values() for w in rows)
    columns: dict[str, list] = {"user_id": [], "item_id": [], "timestamp": [], "split": []}
    for user, rows in windows.items():
        seq, origin = _rebuild_sequence(rows, cap)
        columns["user_id"] += [user] * len(seq)
        columns["item_id"] += seq
        columns["timestamp"] += range(len(seq))
        if given_split:
            columns["split"] += _given_labels(origin)
    if not given_split:
        del columns["split"]
    return Interactions.create("amazon-scientific", pd.DataFrame(columns), catalog)


def _parse_rows(tables: dict[str, tuple[Path, pd.DataFrame]], known: set[int]
                ) -> dict[int, list[_Row]]:
    """Each user's rows, in file order train -> valid -> test, histories parsed and checked."""
    windows: dict[int, list[_Row]] = {}
    for split, (path, rows) in tables.items():
        for line, user, hist, target in zip(rows.index, rows["user_id"], rows["history"],
                                            rows["item_id"], strict=True):
            try:
                items = [int(tok) for tok in hist.split()]
            except ValueError:
                raise DataError(f"{path}:{line}: field 2 (item_id_list) is not a list of "
                                f"integers: {hist[:40]!r}") from None
            for item in (*items, target):
                if item not in known:
                    raise DataError(f"{path}:{line}: item {item} is not in "
                                    "Scientific.item2index")
            windows.setdefault(int(user), []).append(
                _Row(items, int(target), path, int(line), split))
    return windows


def _rebuild_sequence(rows: list[_Row], cap: int) -> tuple[list[int], list[_Row | None]]:
    """Chains one user's ``history -> target`` windows into the full item sequence.

    Untruncated windows (history shorter than ``cap``) are prefixes of the sequence and
    are placed by their length; capped ones are chained by matching their history to
    the last ``cap`` items so far.

    Returns:
      The sequence, and for each of its items the row whose target it is (``None`` for
      the first item, which is only ever history).
    """
    short = sorted((r for r in rows if len(r.history) < cap), key=lambda r: len(r.history))
    capped: dict[tuple[int, ...], _Row] = {}
    for r in rows:
        if len(r.history) >= cap:
            capped.setdefault(tuple(r.history), r)
    seq: list[int] | None = None
    origin: list[_Row | None] = []
    for r in short:
        if seq is None:
            seq = list(r.history)
            origin = [None] * len(seq)
        if r.history != seq:
            raise DataError(f"{r.path}:{r.line}: history does not continue the user's sequence "
                            f"(expected {len(seq)} items starting {seq[:3]})")
        seq.append(r.target)
        origin.append(r)
    if seq is None:  # every window is capped: nothing tells where the sequence starts
        raise DataError(f"{rows[0].path}:{rows[0].line}: cannot find the start of this user's "
                        "sequence")
    while capped:
        row = capped.pop(tuple(seq[-cap:]), None)
        if row is None:
            first = next(iter(capped.values()))
            raise DataError(f"{first.path}:{first.line}: history does not continue the user's "
                            "sequence")
        seq.append(row.target)
        origin.append(row)
    if len(seq) != len(rows) + 1:  # two windows claimed the same position
        raise DataError(f"{rows[-1].path}:{rows[-1].line}: this user's windows overlap "
                        f"({len(rows)} rows but a {len(seq)}-item sequence)")
    return seq, origin


def _given_labels(origin: list[_Row | None]) -> list[str]:
    """The split of each sequence item; valid and test rows must extend the train rows.

    Raises:
      DataError: ``file:line`` of a valid/test row that is followed in the rebuilt
        sequence by a row of an earlier split (its history stops short of the user's
        train sequence).
    """
    labels = [r.split if r is not None else "train" for r in origin]
    latest: _Row | None = None  # the last valid or test row so far
    for row, label in zip(origin, labels, strict=True):
        if latest is not None and SPLITS.index(label) < SPLITS.index(latest.split):
            raise DataError(
                f"{latest.path}:{latest.line}: this {latest.split} row's history "
                f"({len(latest.history)} items) does not extend the user's {label} rows (a "
                f"{len(origin)}-item sequence): the target must come after them")
        if row is not None and label != "train":
            latest = row
    return labels
