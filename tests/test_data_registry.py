"""Tests of the dataset registry: names, lookup order, download and unpacking (no network)."""

from __future__ import annotations

import hashlib
import io
import os
import urllib.error
import zipfile

import pytest

from tfrec_inc.data import DATASETS, load, movielens
from tfrec_inc.data.movielens import download_movielens, unpack_movielens
from tfrec_inc.errors import DataError

SMALL = {"num_users": 300, "num_items": 240, "num_interactions": 6000}


def _raises(fn, *args, match: str) -> str:
    """Asserts ``fn(*args)`` raises a one-line DataError matching ``match``."""
    with pytest.raises(DataError, match=match) as info:
        fn(*args)
    message = str(info.value)
    assert "\n" not in message
    return message


# --------------------------------------------------------------------------- registry


def test_registry_names_and_synthetic():
    assert DATASETS == ("synthetic", "ml-100k", "ml-latest-small", "ml-1m", "amazon-office",
                        "amazon-scientific")
    data = load("synthetic", seed=3, **SMALL)
    assert data.name == "synthetic" and data.num_items == 240


def test_download_without_network_is_a_data_error(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("Temporary failure in name resolution")

    monkeypatch.setattr("urllib.request.urlopen", offline)
    _raises(download_movielens, "ml-100k", tmp_path,
            match=r"cannot download https://files\.grouplens\.org/.*ml-100k\.zip")
    assert not any(tmp_path.iterdir())
    _raises(download_movielens, "ml-20m", tmp_path, match="unknown MovieLens dataset")


_ML_FILES = {"u.data": b"1\t1\t5\t881250949\n", "u.genre": b"unknown|0\n",
             "u.item": b"1|Toy Story (1995)|01-Jan-1995||url|1\n", "u.user": b"1|24|M|x|85711\n",
             "README": b"made-up files for the unpack tests\n"}


def _ml_zip(files: dict[str, bytes]) -> bytes:
    """A zip laid out like GroupLens's: members under ``ml-100k/``, plus a folder entry."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("ml-100k/", b"")
        for fname, data in files.items():
            archive.writestr(f"ml-100k/{fname}", data)
    return buf.getvalue()


@pytest.fixture
def fake_checksums(monkeypatch):
    """Makes the made-up ml-100k core files pass the checksum check."""
    sums = {f: hashlib.sha256(_ML_FILES[f]).hexdigest()
            for f in ("u.data", "u.genre", "u.item", "u.user")}
    monkeypatch.setitem(movielens._CHECKSUMS, "ml-100k", sums)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_unpack_publishes_a_normal_folder(tmp_path, fake_checksums):
    dest = tmp_path / "data"
    (dest / "ml-100k").mkdir(parents=True)
    (dest / "ml-100k" / "stale.txt").write_text("from an older unpack")
    folder = unpack_movielens("ml-100k", _ml_zip(_ML_FILES), dest)
    assert folder == dest / "ml-100k"
    # An ordinary mkdir's mode, not mkdtemp's 0700 (others sharing the data folder read it).
    assert folder.stat().st_mode & 0o777 == 0o777 & ~_umask()
    assert sorted(p.name for p in folder.iterdir()) == sorted(_ML_FILES)  # stale file gone
    assert (folder / "u.data").read_bytes() == _ML_FILES["u.data"]
    assert [p.name for p in dest.iterdir()] == ["ml-100k"]  # no staging folder left


def test_unpack_rejects_bad_zips_and_keeps_the_old_folder(tmp_path, fake_checksums):
    dest = tmp_path / "data"
    (dest / "ml-100k").mkdir(parents=True)
    (dest / "ml-100k" / "old.txt").write_text("kept")
    _raises(unpack_movielens, "ml-100k", b"not a zip", dest, "x.zip",
            match=r"^x\.zip: the download is not a valid zip file$")
    lacking = {f: d for f, d in _ML_FILES.items() if f != "u.user"}
    _raises(unpack_movielens, "ml-100k", _ml_zip(lacking), dest, match=r"lacks ml-100k/u\.user")
    corrupt = {**_ML_FILES, "u.data": b"1\t1\t4\t881250949\n"}
    _raises(unpack_movielens, "ml-100k", _ml_zip(corrupt), dest,
            match=r"grouplens\.org/.*ml-100k\.zip: checksum mismatch for u\.data")
    assert [p.name for p in dest.iterdir()] == ["ml-100k"]
    assert [p.name for p in (dest / "ml-100k").iterdir()] == ["old.txt"]


def test_download_unpacks_what_it_fetched(tmp_path, monkeypatch, fake_checksums):
    """The download path end to end, with ``urlopen`` faked (tests never use the network)."""

    class Response(io.BytesIO):
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    payload = _ml_zip(_ML_FILES)
    monkeypatch.setattr("urllib.request.urlopen", lambda url, timeout: Response(payload))
    folder = download_movielens("ml-100k", tmp_path)
    assert folder == tmp_path / "ml-100k"
    assert folder.stat().st_mode & 0o777 == 0o777 & ~_umask()
    assert (folder / "u.item").read_bytes() == _ML_FILES["u.item"]
