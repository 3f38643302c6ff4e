"""MovieLens loaders (ml-100k, ml-latest-small, ml-1m) and the shared table reader.

The reader (:func:`read_table`) is also used by :mod:`tfrec_inc.data.amazon`. It turns
every kind of bad input (missing/empty file, undecodable bytes, wrong field count,
non-numeric or empty value) into a one-line :class:`DataError` naming ``file:line``.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from tfrec_inc.data.interactions import Interactions
from tfrec_inc.errors import DataError

Kind = Literal["int", "float", "str", "any"]

_SEP_NAMES = {"\t": "tab", ",": "comma", "|": "'|'", "::": "'::'", " ": "space"}


@dataclasses.dataclass(frozen=True)
class Column:
    """One field of a text table.

    Attributes:
      name: column name in the returned frame.
      kind: ``"int"`` / ``"float"`` (numeric, finite, non-empty), ``"str"`` (non-empty
        after stripping) or ``"any"`` (free text, may be empty).
    """

    name: str
    kind: Kind = "str"


# --------------------------------------------------------------------------- reading


def read_text(path: str | Path, encoding: str = "utf-8") -> str:
    """Reads a whole text file, with CRLF normalised to LF.

    Args:
      path: the file.
      encoding: its encoding; ``"latin-1"`` never fails to decode, and
        ``"utf-8|latin-1"`` means UTF-8 when the bytes are valid UTF-8, else latin-1.

    Returns:
      The decoded text.

    Raises:
      DataError: ``path: file not found`` / ``path: file is empty`` /
        ``path:line: invalid utf-8 byte 0x..``.

    Example:
      >>> read_text("/data/ml-100k/u.genre", "latin-1")[:6]  # doctest: +SKIP
      'unknow'
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory, expected a file") from None
    except OSError as err:
        raise DataError(f"{path}: cannot read ({err.strerror})") from None
    if not raw.strip():
        raise DataError(f"{path}: file is empty")
    if encoding == "utf-8|latin-1":
        # GroupLens ships latin-1, but re-encoded UTF-8 copies circulate; real latin-1
        # text with accents is (almost) never valid UTF-8, so try that first.
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
    else:
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as err:
            line = raw.count(b"\n", 0, err.start) + 1
            col = err.start - (raw.rfind(b"\n", 0, err.start) + 1) + 1
            raise DataError(
                f"{path}:{line}: invalid {encoding} byte 0x{raw[err.start]:02x} at column {col}"
            ) from None
    if text.startswith("\ufeff"):  # a BOM would glue itself to the first header name
        text = text[1:]
    if "\r" in text:  # GroupLens CSVs ship with CRLF line endings
        text = text.replace("\r\n", "\n")
    return text


def read_table(
    path: str | Path,
    columns: Sequence[Column],
    *,
    sep: str = "\t",
    encoding: str = "utf-8",
    header: Sequence[str] | None = None,
    quoted: bool = False,
) -> pd.DataFrame:
    """Parses a delimited text file into typed columns, validating every row.

    The frame's index is the 1-based line number of each row, so later checks (unknown
    ids, duplicates) can name the offending line too.

    Args:
      path: the file.
      columns: the expected fields, in order; every row must have exactly these many.
      sep: field separator (may be multi-character, e.g. ``"::"``).
      encoding: text encoding.
      header: expected header names (first line), or ``None`` when there is none.
      quoted: whether fields may be CSV-quoted (``"a, b"``); otherwise quotes are data.

    Returns:
      A frame with one column per :class:`Column`: int64, float64 or str.

    Raises:
      DataError: one line, ``path:line: reason``.

    Example:
      >>> read_table("u.data", [Column("user", "int"), Column("item", "int"),
      ...     Column("rating", "float"), Column("ts", "int")])  # doctest: +SKIP
    """
    path = Path(path)
    text = read_text(path, encoding)
    lines = text.split("\n")
    while lines and not lines[-1].strip():  # tolerate trailing blank lines (u.genre)
        lines.pop()
    sep_name = _SEP_NAMES.get(sep, repr(sep))
    first = 0
    if header is not None:
        got = next(csv.reader([lines[0]], delimiter=sep[0])) if quoted else lines[0].split(sep)
        if [g.strip() for g in got] != list(header):
            raise DataError(
                f"{path}:1: expected header {sep.join(header)!r}, got {lines[0][:80]!r}"
            )
        first = 1
    body = lines[first:]
    if not body:
        raise DataError(f"{path}: file has no data rows")
    if "" in body:
        raise DataError(f"{path}:{body.index('') + first + 1}: empty line")

    n = len(columns)
    if quoted:
        rows, line_nos = _read_quoted(path, body, first, sep, n, sep_name)
        frame = pd.DataFrame(rows, columns=[c.name for c in columns], dtype=str)
        frame.index = line_nos
    else:
        counts = [line.count(sep) for line in body]
        if min(counts) != n - 1 or max(counts) != n - 1:
            i = next(i for i, c in enumerate(counts) if c != n - 1)
            raise DataError(
                f"{path}:{i + first + 1}: expected {n} {sep_name}-separated fields, "
                f"got {counts[i] + 1}"
            )
        line_nos = np.arange(first + 1, first + 1 + len(body))
        fast = _parse_typed(body, sep, columns)
        if fast is not None:
            fast.index = line_nos
            return fast
        frame = _split_unquoted(body, sep, [c.name for c in columns], dtype=str)
        frame.index = line_nos
    return _typed(path, frame, columns)


def _read_quoted(
    path: Path, body: list[str], first: int, sep: str, n: int, sep_name: str
) -> tuple[list[list[str]], list[int]]:
    """csv-parses ``body``, tracking the line each record starts on."""
    rows: list[list[str]] = []
    line_nos: list[int] = []
    reader = csv.reader(body, delimiter=sep, strict=True)
    start = first + 1
    try:
        for row in reader:
            if len(row) != n:
                raise DataError(
                    f"{path}:{start}: expected {n} {sep_name}-separated fields, got {len(row)}"
                )
            rows.append(row)
            line_nos.append(start)
            start = first + reader.line_num + 1
    except csv.Error as err:
        raise DataError(f"{path}:{start}: malformed CSV ({err})") from None
    return rows, line_nos


def _parse_typed(body: list[str], sep: str, columns: Sequence[Column]) -> pd.DataFrame | None:
    """Fast path: lets the C parser convert numbers; ``None`` when any cell is bad.

    Converting strings afterwards (:func:`_typed`) is ~3x slower on ml-1m's million
    rows, so it only runs to locate and describe the first bad cell.
    """
    dtypes = {c.name: {"int": "int64", "float": "float64"}.get(c.kind, str) for c in columns}
    try:
        frame = _split_unquoted(body, sep, [c.name for c in columns], dtype=dtypes)
    except (ValueError, TypeError, OverflowError):
        return None
    for col in columns:
        values = frame[col.name]
        if col.kind == "int" and values.dtype != np.int64:
            return None
        if col.kind == "float" and not np.isfinite(values.to_numpy(dtype=np.float64)).all():
            return None
        if col.kind == "str" and (values.str.strip() == "").any():
            return None
    return frame


def _split_unquoted(body: list[str], sep: str, names: list[str], dtype) -> pd.DataFrame:
    """Splits pre-validated lines into columns (pandas' C parser: fast)."""
    if len(sep) > 1 or any(ch in "\n\r" for ch in sep):
        # The C parser wants a single-character separator; pick one the data lacks.
        joined = "\n".join(body)
        repl = next(ch for ch in "\x1f\x1e\x1d\x1c\t|" if ch not in joined)
        body_text, sep = joined.replace(sep, repl), repl
    else:
        body_text = "\n".join(body)
    return pd.read_csv(
        io.StringIO(body_text),
        sep=sep,
        header=None,
        names=names,
        dtype=dtype,
        keep_default_na=False,
        quoting=csv.QUOTE_NONE,
        skip_blank_lines=False,
        engine="c",
    )


def _typed(path: Path, frame: pd.DataFrame, columns: Sequence[Column]) -> pd.DataFrame:
    """Converts/validates each column; the first bad cell becomes a DataError."""
    out = {}
    for pos, col in enumerate(columns, start=1):
        raw = frame[col.name]
        if col.kind == "any":
            out[col.name] = raw.astype(str)
            continue
        if col.kind == "str":
            bad = (raw.str.strip() == "").to_numpy()
            values = raw.astype(str)
        else:
            num = pd.to_numeric(raw, errors="coerce")
            arr = num.to_numpy(dtype=np.float64, na_value=np.nan)
            bad = ~np.isfinite(arr)
            if col.kind == "int":
                bad |= arr != np.round(arr)
            values = num.astype(np.int64) if col.kind == "int" and not bad.any() else num
        if bad.any():
            i = int(np.argmax(bad))
            value = raw.iloc[i]
            if not value.strip():
                reason = "is empty"
            elif col.kind == "str":
                reason = f"is blank: {value!r}"
            else:
                what = "an integer" if col.kind == "int" else "a finite number"
                reason = f"is not {what}: {value[:40]!r}"
            raise DataError(f"{path}:{frame.index[i]}: field {pos} ({col.name}) {reason}")
        out[col.name] = values
    return pd.DataFrame(out, index=frame.index)


def _show(value: object) -> str:
    """A cell value for messages: strings quoted, numbers plain (not ``np.int64(9)``)."""
    return repr(value) if isinstance(value, str) else str(value)


def check_unique(frame: pd.DataFrame, column: str, path: str | Path) -> None:
    """Raises DataError naming the line of the first repeated value of ``column``."""
    dup = frame[column].duplicated().to_numpy()
    if dup.any():
        i = int(np.argmax(dup))
        value = _show(frame[column].iloc[i])
        raise DataError(f"{path}:{frame.index[i]}: duplicate {column} {value}")


def check_known(
    frame: pd.DataFrame, column: str, known: pd.Series | set, path: str | Path, source: str
) -> None:
    """Raises DataError naming the first line whose ``column`` value is not in ``known``."""
    unknown = ~frame[column].isin(known).to_numpy()
    if unknown.any():
        i = int(np.argmax(unknown))
        raise DataError(
            f"{path}:{frame.index[i]}: {column} {_show(frame[column].iloc[i])} is not in {source}"
        )


# --------------------------------------------------------------------------- ml-100k

# Buckets of the ml-1m age codes, reused for ml-100k so both share one vocabulary.
_AGE_BUCKETS = ((18, "<18"), (25, "18-24"), (35, "25-34"), (45, "35-44"), (50, "45-49"),
                (56, "50-55"))
_ML1M_AGES = {"1": "<18", "18": "18-24", "25": "25-34", "35": "35-44", "45": "45-49",
              "50": "50-55", "56": "56+"}


def age_group(age: np.ndarray) -> np.ndarray:
    """Maps ages in years to the ml-1m age-bucket labels (``"18-24"``, ..., ``"56+"``)."""
    bounds = np.array([b for b, _ in _AGE_BUCKETS])
    labels = np.array([label for _, label in _AGE_BUCKETS] + ["56+"])
    return labels[np.searchsorted(bounds, age, side="right")]


def load_ml_100k(root: str | Path) -> Interactions:
    """Loads MovieLens 100K (u.data, u.item, u.genre, u.user).

    Args:
      root: the folder holding the files (e.g. ``.../ml-100k``).

    Returns:
      Explicit ratings (1..5) with Unix-second timestamps; items with text
      ``"Title (1995). Action, Comedy"`` and ``|``-joined genres; users with
      ``age_group``, ``gender``, ``occupation`` and ``zip_region`` (first zip character).

    Raises:
      DataError: a file is missing or malformed (message names ``file:line``).

    Example:
      >>> load_ml_100k("/data/ml-100k").num_items  # doctest: +SKIP
      1682
    """
    root = Path(root)
    genre_path = root / "u.genre"
    genres = read_table(genre_path, [Column("name"), Column("id", "int")], sep="|",
                        encoding="utf-8|latin-1")
    if genres["id"].tolist() != list(range(len(genres))):
        raise DataError(f"{genre_path}: genre ids must be 0..{len(genres) - 1} in order")
    names = genres["name"].str.strip().tolist()

    item_path = root / "u.item"
    item_cols = [Column("item_id", "int"), Column("title"), Column("release", "any"),
                 Column("video_release", "any"), Column("url", "any")]
    item_cols += [Column(f"g{i}", "int") for i in range(len(names))]
    items = read_table(item_path, item_cols, sep="|", encoding="utf-8|latin-1")
    check_unique(items, "item_id", item_path)
    flags = items[[f"g{i}" for i in range(len(names))]].to_numpy()
    if not np.isin(flags, (0, 1)).all():
        row = int(np.argmax(~np.isin(flags, (0, 1)).all(axis=1)))
        raise DataError(f"{item_path}:{items.index[row]}: genre flags must be 0 or 1")
    genre_lists = [[names[j] for j in np.flatnonzero(r)] for r in flags]
    titles = items["title"].str.strip()
    catalog = pd.DataFrame({
        "item_id": items["item_id"].astype(str).to_numpy(),
        "text": [_movie_text(t, g) for t, g in zip(titles, genre_lists, strict=True)],
        "genres": ["|".join(g) for g in genre_lists],
        "title": titles.to_numpy(),
    })

    data_path = root / "u.data"
    ratings = read_table(data_path, [Column("user_id", "int"), Column("item_id", "int"),
                                     Column("rating", "float"), Column("timestamp", "int")],
                         sep="\t")
    check_known(ratings, "item_id", items["item_id"], data_path, "u.item")

    user_path = root / "u.user"
    users = read_table(user_path, [Column("user_id", "int"), Column("age", "int"),
                                   Column("gender"), Column("occupation"), Column("zip")],
                       sep="|", encoding="utf-8|latin-1")
    check_unique(users, "user_id", user_path)
    check_known(ratings, "user_id", users["user_id"], data_path, "u.user")
    user_table = pd.DataFrame({
        "user_id": users["user_id"].astype(str).to_numpy(),
        "age_group": age_group(users["age"].to_numpy()),
        "gender": users["gender"].str.strip().to_numpy(),
        "occupation": users["occupation"].str.strip().to_numpy(),
        "zip_region": users["zip"].str.strip().str[0].str.upper().to_numpy(),
    })
    return Interactions.create("ml-100k", ratings.reset_index(drop=True), catalog, user_table)


def _movie_text(title: str, genres: Sequence[str]) -> str:
    """``"Title. Genre1, Genre2"`` (just the title when there are no genres)."""
    return f"{title}. {', '.join(genres)}" if genres else title


# --------------------------------------------------------------------------- ml-latest-small


def load_ml_latest_small(root: str | Path, max_tags: int | None = None) -> Interactions:
    """Loads MovieLens latest-small (ratings.csv, movies.csv, tags.csv; UTF-8, CRLF).

    Args:
      root: the folder holding the files (e.g. ``.../ml-latest-small``).
      max_tags: keep at most this many tags per movie (most frequent first); ``None``
        keeps all.

    Returns:
      Explicit ratings (0.5..5.0) with Unix-second timestamps; the full catalog (9,742
      movies, also those nobody rated) with text
      ``"Title (1995). Genres: Adventure, Comedy. Tags: pixar, fun"``; no user features.

    Raises:
      DataError: a file is missing or malformed (message names ``file:line``).

    Example:
      >>> load_ml_latest_small("/data/ml-latest-small").num_items  # doctest: +SKIP
      9742
    """
    root = Path(root)
    movie_path = root / "movies.csv"
    movies = read_table(movie_path, [Column("movieId", "int"), Column("title"),
                                     Column("genres")],
                        sep=",", header=("movieId", "title", "genres"), quoted=True)
    check_unique(movies, "movieId", movie_path)

    rating_path = root / "ratings.csv"
    ratings = read_table(rating_path, [Column("userId", "int"), Column("movieId", "int"),
                                       Column("rating", "float"), Column("timestamp", "int")],
                         sep=",", header=("userId", "movieId", "rating", "timestamp"))
    check_known(ratings, "movieId", movies["movieId"], rating_path, "movies.csv")

    tag_path = root / "tags.csv"
    tags = read_table(tag_path, [Column("userId", "int"), Column("movieId", "int"),
                                 Column("tag", "any"), Column("timestamp", "int")],
                      sep=",", header=("userId", "movieId", "tag", "timestamp"), quoted=True)
    check_known(tags, "movieId", movies["movieId"], tag_path, "movies.csv")
    tag_text = _tags_by_movie(tags, max_tags)

    genres = movies["genres"].str.strip().replace("(no genres listed)", "")
    texts = []
    for movie_id, title, genre in zip(movies["movieId"], movies["title"].str.strip(), genres,
                                      strict=True):
        parts = [title]
        if genre:
            parts.append("Genres: " + genre.replace("|", ", "))
        if movie_id in tag_text:
            parts.append("Tags: " + tag_text[movie_id])
        texts.append(". ".join(parts))
    catalog = pd.DataFrame({
        "item_id": movies["movieId"].astype(str).to_numpy(),
        "text": texts,
        "genres": genres.to_numpy(),
        "title": movies["title"].str.strip().to_numpy(),
    })
    inter = ratings.rename(columns={"userId": "user_id", "movieId": "item_id"})
    return Interactions.create("ml-latest-small", inter.reset_index(drop=True), catalog)


def _tags_by_movie(tags: pd.DataFrame, max_tags: int | None) -> dict[int, str]:
    """movieId -> ``"tag1, tag2"``: distinct tags (case-insensitive), most used first."""
    t = pd.DataFrame({"movie": tags["movieId"].to_numpy(),
                      "tag": tags["tag"].str.strip().to_numpy()})
    t = t[t["tag"] != ""]
    t["key"] = t["tag"].str.lower()
    t["order"] = np.arange(len(t))
    agg = t.groupby(["movie", "key"], sort=False).agg(
        tag=("tag", "first"), count=("tag", "size"), order=("order", "min")).reset_index()
    # Most frequent first so a truncating encoder keeps the consensus tags.
    agg = agg.sort_values(["movie", "count", "order"], ascending=[True, False, True])
    if max_tags is not None:
        agg = agg.groupby("movie", sort=False).head(max_tags)
    return agg.groupby("movie", sort=False)["tag"].agg(", ".join).to_dict()


# --------------------------------------------------------------------------- ml-1m


def load_ml_1m(root: str | Path) -> Interactions:
    """Loads MovieLens 1M (``::``-separated ratings.dat, movies.dat, users.dat; latin-1).

    Args:
      root: the folder holding the files (e.g. ``.../ml-1m``).

    Returns:
      Explicit ratings (1..5) with Unix-second timestamps; items with text
      ``"Title (1995). Animation, Comedy"``; users with ``age_group`` (the age code
      mapped to the same labels as ml-100k, e.g. ``"25-34"``), ``gender``,
      ``occupation`` (the code, as a string) and ``zip_region``.

    Raises:
      DataError: a file is missing or malformed (message names ``file:line``).

    Example:
      >>> load_ml_1m("/data/ml-1m").num_users  # doctest: +SKIP
      6040
    """
    root = Path(root)
    movie_path = root / "movies.dat"
    movies = read_table(movie_path, [Column("item_id", "int"), Column("title"),
                                     Column("genres", "any")], sep="::", encoding="utf-8|latin-1")
    check_unique(movies, "item_id", movie_path)
    genres = movies["genres"].str.strip()
    catalog = pd.DataFrame({
        "item_id": movies["item_id"].astype(str).to_numpy(),
        "text": [_movie_text(t, g.split("|") if g else [])
                 for t, g in zip(movies["title"].str.strip(), genres, strict=True)],
        "genres": genres.to_numpy(),
        "title": movies["title"].str.strip().to_numpy(),
    })

    user_path = root / "users.dat"
    users = read_table(user_path, [Column("user_id", "int"), Column("gender"), Column("age"),
                                   Column("occupation", "int"), Column("zip")],
                       sep="::", encoding="utf-8|latin-1")
    check_unique(users, "user_id", user_path)
    ages = users["age"].str.strip()
    bad = ~ages.isin(_ML1M_AGES).to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(f"{user_path}:{users.index[i]}: field 3 (age) is not an ml-1m age "
                        f"code ({', '.join(_ML1M_AGES)}): {ages.iloc[i]!r}")
    user_table = pd.DataFrame({
        "user_id": users["user_id"].astype(str).to_numpy(),
        "age_group": ages.map(_ML1M_AGES).to_numpy(),
        "gender": users["gender"].str.strip().to_numpy(),
        "occupation": users["occupation"].astype(str).to_numpy(),
        "zip_region": users["zip"].str.strip().str[0].str.upper().to_numpy(),
    })

    rating_path = root / "ratings.dat"
    ratings = read_table(rating_path, [Column("user_id", "int"), Column("item_id", "int"),
                                       Column("rating", "float"), Column("timestamp", "int")],
                         sep="::")
    check_known(ratings, "item_id", movies["item_id"], rating_path, "movies.dat")
    check_known(ratings, "user_id", users["user_id"], rating_path, "users.dat")
    return Interactions.create("ml-1m", ratings.reset_index(drop=True), catalog, user_table)


# --------------------------------------------------------------------------- download

MOVIELENS_URLS = {
    "ml-100k": "https://files.grouplens.org/datasets/movielens/ml-100k.zip",
    "ml-1m": "https://files.grouplens.org/datasets/movielens/ml-1m.zip",
    "ml-latest-small": "https://files.grouplens.org/datasets/movielens/ml-latest-small.zip",
}

# Checksums of the extracted core files (sha256, or "git:" + git blob id where only
# that is known); they match the verified copies described in shared/data/README.md.
_CHECKSUMS = {
    "ml-100k": {
        "u.data": "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490",
        "u.genre": "9757e0d3e6b298159a80dd48eaf938114690e911e39af97a76949ef1663610bb",
        "u.item": "553841ebc7de3a0fd0d6b62a204ea30c1e651aacfb2814c7a6584ac52f2c5701",
        "u.user": "f120e114da2e8cf314fd28f99417c94ae9ddf1cb6db8ce0e4b5995d40e90e62c",
    },
    "ml-1m": {
        "movies.dat": "0140fc2356357c1a851d0f52e893a1e4d3696df632c4141cea8d5bc3d621f0b9",
        "users.dat": "1dc3a95300cb19f7c10e027daf29b8cdf1d908dab65b5edfb45950aa389a10a3",
        "ratings.dat": "git:77a7c4b150f588c23bb9e1f068aa996c0b413695",
    },
    "ml-latest-small": {
        "movies.csv": "5a5f32dd9bb3797b8e728a1b98958789d2b13f294a69fdfbc5727f8a9611aa07",
        "ratings.csv": "aa289ca83157595d0df6aea1be6a4ded676ddc4385472e8313a8ed9805352646",
        "tags.csv": "92a9f8bb7916dceef6151209845788c3643f794dfa79d1feaec7121b5960399d",
    },
}


def _digest(data: bytes, expected: str) -> str:
    if expected.startswith("git:"):
        return "git:" + hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
    return hashlib.sha256(data).hexdigest()


def download_movielens(name: str, dest: str | Path, timeout: float = 30.0) -> Path:
    """Downloads a GroupLens MovieLens zip and unpacks it after checking checksums.

    Never called implicitly (these machines usually have no network); run it by hand.

    Args:
      name: ``"ml-100k"``, ``"ml-1m"`` or ``"ml-latest-small"``.
      dest: parent folder; the files land in ``dest/<name>/``.
      timeout: network timeout in seconds.

    Returns:
      The dataset folder ``dest/<name>``.

    Raises:
      DataError: unknown name, no network, a bad zip or a checksum mismatch.

    Example:
      >>> download_movielens("ml-100k", "~/.cache/tfrec_inc/data")  # doctest: +SKIP
    """
    if name not in MOVIELENS_URLS:
        raise DataError(f"unknown MovieLens dataset {name!r}; one of {', '.join(MOVIELENS_URLS)}")
    url = MOVIELENS_URLS[name]
    dest = Path(dest).expanduser()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
            payload = response.read()
    except (urllib.error.URLError, OSError, ValueError) as err:
        reason = getattr(err, "reason", err)
        raise DataError(
            f"cannot download {url} ({reason}); without network, fetch it elsewhere and "
            f"unzip it into {dest}"
        ) from None
    try:
        archive = zipfile.ZipFile(io.BytesIO(payload))
    except zipfile.BadZipFile:
        raise DataError(f"{url}: the download is not a valid zip file") from None
    prefix = f"{name}/"
    members = [m for m in archive.namelist() if m.startswith(prefix) and not m.endswith("/")]
    contents = {m[len(prefix):]: archive.read(m) for m in members}
    for fname, expected in _CHECKSUMS[name].items():
        if fname not in contents:
            raise DataError(f"{url}: the zip lacks {prefix}{fname}")
        if _digest(contents[fname], expected) != expected:
            raise DataError(f"{url}: checksum mismatch for {fname} (corrupt or changed upstream)")
    dest.mkdir(parents=True, exist_ok=True)
    # Unpack next to the target and rename, so an interrupted run leaves no half folder.
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=dest))
    for fname, data in contents.items():
        (staging / fname).parent.mkdir(parents=True, exist_ok=True)
        (staging / fname).write_bytes(data)
    target = dest / name
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)
    return target
