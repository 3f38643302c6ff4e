"""MovieLens loaders: ml-100k, ml-latest-small and ml-1m (latin-1 / UTF-8 aware)."""

from __future__ import annotations

import hashlib
import io
import urllib.error
import urllib.request
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from tfrec_inc.atomic import staging_dir
from tfrec_inc.data.interactions import Interactions
from tfrec_inc.data.tables import Column, check_known, check_unique, read_table
from tfrec_inc.errors import DataError

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

    Example (needs the ml-100k files, so not run by the tests):
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
        # The release date (day granularity); NaN where u.item leaves it blank.
        "arrival": _unix_seconds(pd.to_datetime(items["release"].str.strip(), format="%d-%b-%Y",
                                                errors="coerce")),
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


def _unix_seconds(when: pd.Series) -> np.ndarray:
    """float64 Unix seconds of datetimes, NaN for NaT."""
    seconds = (when - pd.Timestamp("1970-01-01")).dt.total_seconds()
    return seconds.to_numpy(np.float64)


def _year_arrival(titles: pd.Series) -> np.ndarray:
    """Item arrival from a ``"Title (1995)"`` title: 1 January of that year, NaN without one.

    The year is all these files say about release. Its first day is the earliest the
    film can have come out, so no film is held back from the candidates too long.

    Args:
      titles: movie titles.

    Returns:
      float64 Unix seconds per title.
    """
    year = titles.str.strip().str.extract(r"\((\d{4})\)$")[0]
    return _unix_seconds(pd.to_datetime(year, format="%Y", errors="coerce"))


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

    Example (needs the ml-latest-small files, so not run by the tests):
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
        "arrival": _year_arrival(movies["title"]),
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

    Example (needs the ml-1m files, so not run by the tests):
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
        "arrival": _year_arrival(movies["title"]),
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

    Example (downloads, so not run by the tests):
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
    return unpack_movielens(name, payload, dest, source=url)


def unpack_movielens(name: str, payload: bytes, dest: str | Path, source: str | None = None
                     ) -> Path:
    """Checks a MovieLens zip's core files and publishes its ``<name>/`` folder atomically.

    The files are written to a temporary sibling folder that then replaces
    ``dest/<name>`` (see :func:`tfrec_inc.atomic.staging_dir`), so an interrupted run
    leaves the old folder (or none), never a half one; the folder gets the mode an
    ordinary ``mkdir`` gives.

    Args:
      name: ``"ml-100k"``, ``"ml-1m"`` or ``"ml-latest-small"``.
      payload: the zip file's bytes (members under ``<name>/``, as GroupLens ships them).
      dest: parent folder; the files land in ``dest/<name>/``.
      source: where the zip came from, for messages (default: the GroupLens URL).

    Returns:
      The dataset folder ``dest/<name>``.

    Raises:
      DataError: unknown name, a bad zip, a missing core file or a checksum mismatch.

    Example (needs the GroupLens zip, whose checksums are checked; not run by the tests):
      >>> unpack_movielens("ml-100k", Path("ml-100k.zip").read_bytes(), "data")
      ... # doctest: +SKIP
      PosixPath('data/ml-100k')
    """
    if name not in MOVIELENS_URLS:
        raise DataError(f"unknown MovieLens dataset {name!r}; one of {', '.join(MOVIELENS_URLS)}")
    source = MOVIELENS_URLS[name] if source is None else source
    try:
        archive = zipfile.ZipFile(io.BytesIO(payload))
    except zipfile.BadZipFile:
        raise DataError(f"{source}: the download is not a valid zip file") from None
    prefix = f"{name}/"
    members = [m for m in archive.namelist() if m.startswith(prefix) and not m.endswith("/")]
    contents = {m[len(prefix):]: archive.read(m) for m in members}
    for fname, expected in _CHECKSUMS[name].items():
        if fname not in contents:
            raise DataError(f"{source}: the zip lacks {prefix}{fname}")
        if _digest(contents[fname], expected) != expected:
            raise DataError(f"{source}: checksum mismatch for {fname} (corrupt or changed upstream)")
    target = Path(dest).expanduser() / name
    with staging_dir(target) as staging:
        for fname, data in contents.items():
            (staging / fname).parent.mkdir(parents=True, exist_ok=True)
            (staging / fname).write_bytes(data)
    return target
