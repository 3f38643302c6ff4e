"""Amazon loaders: Office Products (ReChorus format) and Scientific (UniSRec format).

Both are implicit feedback (no ratings). Item ids are the datasets' own integer
indices (as strings); item text comes from the ``*.text`` files via ``*.item2index``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tfrec_inc.data.interactions import Interactions
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


def load_amazon_office(root: str | Path) -> Interactions:
    """Loads Amazon 2014 Office Products 5-core in ReChorus format.

    The positive ``(user_id, item_id, time)`` rows of train.csv, dev.csv and test.csv
    are concatenated (dev/test ``neg_items`` are ignored).

    Args:
      root: the folder holding train.csv, dev.csv, test.csv, item_meta.csv,
        Office.text and Office.item2index.

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

    parts = []
    for fname in ("train.csv", "dev.csv", "test.csv"):
        cols = [Column("user_id", "int"), Column("item_id", "int"), Column("time", "int")]
        header: tuple[str, ...] = ("user_id", "item_id", "time")
        if fname != "train.csv":
            cols.append(Column("neg_items", "any"))
            header += ("neg_items",)
        rows = read_table(root / fname, cols, sep="\t", header=header)
        rows["item_id"] = rows["item_id"].astype(str)
        check_known(rows, "item_id", catalog["item_id"], root / fname, "Office.item2index")
        parts.append(rows[["user_id", "item_id", "time"]])
    # Stable time sort in Interactions.create keeps train < dev < test within a day.
    inter = pd.concat(parts, ignore_index=True).rename(columns={"time": "timestamp"})
    return Interactions.create("amazon-office", inter, catalog)


def load_amazon_scientific(root: str | Path) -> Interactions:
    """Loads Amazon 2018 Industrial & Scientific in UniSRec format.

    Each user's full item sequence is rebuilt from the leave-one-out files: the rows of
    train/valid/test are windows ``history -> target`` of one sequence (histories are
    capped at 50 items, so the test row alone can miss a long user's oldest items).

    Args:
      root: the folder holding Scientific.{train,valid,test}.inter, Scientific.text and
        Scientific.item2index.

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
    known = set(catalog["item_id"].astype(int))

    # (history, target, file, line) per user, in file order train -> valid -> test.
    windows: dict[int, list[tuple[list[int], int, Path, int]]] = {}
    for split in ("train", "valid", "test"):
        path = root / f"Scientific.{split}.inter"
        rows = read_table(path, [Column("user_id", "int"), Column("history"),
                                 Column("item_id", "int")], sep="\t",
                          header=("user_id:token", "item_id_list:token_seq", "item_id:token"))
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
            windows.setdefault(int(user), []).append((items, int(target), path, int(line)))

    cap = max(len(w[0]) for rows in windows.values() for w in rows)
    users: list[int] = []
    sequence: list[int] = []
    order: list[int] = []
    for user, rows in windows.items():
        seq = _rebuild_sequence(rows, cap)
        users += [user] * len(seq)
        sequence += seq
        order += range(len(seq))
    inter = pd.DataFrame({"user_id": users, "item_id": sequence, "timestamp": order})
    return Interactions.create("amazon-scientific", inter, catalog)


def _rebuild_sequence(rows: list[tuple[list[int], int, Path, int]], cap: int) -> list[int]:
    """Chains one user's ``history -> target`` windows into the full item sequence.

    Untruncated windows (history shorter than ``cap``) are prefixes of the sequence and
    are placed by their length; capped ones are chained by matching their history to
    the last ``cap`` items so far.
    """
    short = sorted((r for r in rows if len(r[0]) < cap), key=lambda r: len(r[0]))
    capped: dict[tuple[int, ...], tuple[list[int], int, Path, int]] = {}
    for r in rows:
        if len(r[0]) >= cap:
            capped.setdefault(tuple(r[0]), r)
    seq: list[int] | None = None
    for hist, target, path, line in short:
        if seq is None:
            seq = list(hist)
        if hist != seq:
            raise DataError(f"{path}:{line}: history does not continue the user's sequence "
                            f"(expected {len(seq)} items starting {seq[:3]})")
        seq.append(target)
    if seq is None:  # every window is capped: nothing tells where the sequence starts
        hist, _, path, line = rows[0]
        raise DataError(f"{path}:{line}: cannot find the start of this user's sequence")
    while capped:
        row = capped.pop(tuple(seq[-cap:]), None)
        if row is None:
            _, _, path, line = next(iter(capped.values()))
            raise DataError(f"{path}:{line}: history does not continue the user's sequence")
        seq.append(row[1])
    if len(seq) != len(rows) + 1:  # two windows claimed the same position
        _, _, path, line = rows[-1]
        raise DataError(f"{path}:{line}: this user's windows overlap ({len(rows)} rows "
                        f"but a {len(seq)}-item sequence)")
    return seq
