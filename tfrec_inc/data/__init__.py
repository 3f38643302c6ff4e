"""Dataset registry: ``load(name)`` returns an :class:`Interactions` for any dataset.

File datasets are never downloaded implicitly (these machines have no network). Their
folder is looked up, in order, in ``data_dir``, ``$TFREC_INC_DATA`` and
``~/.cache/tfrec_inc/data``; each place may be the dataset folder itself or a parent
holding it under its usual name (``ml-100k``, ``amazon-office-rechorus``, ...).
"""

from __future__ import annotations

import dataclasses
import inspect
import os
from collections.abc import Callable
from pathlib import Path

from tfrec_inc.data import amazon, movielens, synthetic
from tfrec_inc.data.interactions import Interactions
from tfrec_inc.data.movielens import MOVIELENS_URLS, download_movielens
from tfrec_inc.errors import DataError

ENV_VAR = "TFREC_INC_DATA"
CACHE_DIR = Path("~/.cache/tfrec_inc/data")


@dataclasses.dataclass(frozen=True)
class _FileDataset:
    folder: str  # the usual folder name
    files: tuple[str, ...]  # files the loader needs
    loader: Callable[..., Interactions]
    source: str  # where to get the files, for error messages
    given_split: bool = False  # the loader takes given_split=True (the files hold a split)


_FILE_DATASETS = {
    "ml-100k": _FileDataset(
        "ml-100k", ("u.data", "u.item", "u.genre", "u.user"), movielens.load_ml_100k,
        f"download {MOVIELENS_URLS['ml-100k']} manually and unzip it"),
    "ml-latest-small": _FileDataset(
        "ml-latest-small", ("ratings.csv", "movies.csv", "tags.csv"),
        movielens.load_ml_latest_small,
        f"download {MOVIELENS_URLS['ml-latest-small']} manually and unzip it"),
    "ml-1m": _FileDataset(
        "ml-1m", ("ratings.dat", "movies.dat", "users.dat"), movielens.load_ml_1m,
        f"download {MOVIELENS_URLS['ml-1m']} manually and unzip it"),
    "amazon-office": _FileDataset(
        "amazon-office-rechorus",
        ("train.csv", "dev.csv", "test.csv", "item_meta.csv", "Office.text",
         "Office.item2index"),
        amazon.load_amazon_office,
        "get the ReChorus-format Office files (data/Office/ of github.com/ysh-1998/LRD)",
        given_split=True),
    "amazon-scientific": _FileDataset(
        "amazon-scientific-unisrec",
        ("Scientific.train.inter", "Scientific.valid.inter", "Scientific.test.inter",
         "Scientific.text", "Scientific.item2index"),
        amazon.load_amazon_scientific,
        "get the UniSRec-format Scientific files (dataset/Scientific/ of "
        "github.com/ysh-1998/CoWPiRec)", given_split=True),
}

DATASETS: tuple[str, ...] = ("synthetic", *_FILE_DATASETS)
# Datasets whose files hold their own train/valid/test split (``windows.mode: given``).
GIVEN_SPLIT_DATASETS: tuple[str, ...] = tuple(n for n, s in _FILE_DATASETS.items() if s.given_split)

__all__ = ["DATASETS", "GIVEN_SPLIT_DATASETS", "Interactions", "download_movielens", "find_dataset",
           "from_config", "load", "select_domain"]


def find_dataset(name: str, data_dir: str | os.PathLike | None = None) -> Path:
    """Finds the folder holding a file dataset.

    Args:
      name: a file dataset name, e.g. ``"ml-100k"``.
      data_dir: an extra place searched first (the folder itself or its parent).

    Returns:
      The first folder that is, or contains under the usual name, the dataset.

    Raises:
      DataError: unknown name, not found (the message lists the places searched and
        where to get the files), or found but lacking some files.

    Example (a stand-in folder with the four file names the loader needs):
      >>> import shutil, tempfile
      >>> root = Path(tempfile.mkdtemp())
      >>> (root / "ml-100k").mkdir()
      >>> for name in ("u.data", "u.item", "u.genre", "u.user"):
      ...     (root / "ml-100k" / name).touch()
      >>> find_dataset("ml-100k", root) == root / "ml-100k"
      True
      >>> shutil.rmtree(root)
    """
    spec = _spec(name)
    places: list[str] = []
    candidates: list[Path] = []
    if data_dir is not None:
        candidates.append(Path(data_dir).expanduser())
        places.append(f"data_dir {data_dir}")
    env = os.environ.get(ENV_VAR)
    if env:
        candidates.append(Path(env).expanduser())
        places.append(f"${ENV_VAR}={env}")
    else:
        places.append(f"${ENV_VAR} (not set)")
    candidates.append(CACHE_DIR.expanduser())
    places.append(str(CACHE_DIR))

    for base in candidates:
        for folder in (base, base / spec.folder):
            # The base itself counts only if it holds some of the files, so a parent
            # folder of several datasets is not mistaken for one of them.
            if folder.is_dir() and (folder != base or any((base / f).is_file()
                                                          for f in spec.files)):
                missing = [f for f in spec.files if not (folder / f).is_file()]
                if missing:
                    raise DataError(
                        f"dataset {name!r}: {folder} lacks {', '.join(missing)}; "
                        f"{spec.source} (its files belong in {folder})")
                return folder
    raise DataError(
        f"dataset {name!r} not found (searched: {'; '.join(places)}); {spec.source}, put "
        f"the files in <one of those places>/{spec.folder}/ and retry (nothing is "
        f"downloaded automatically)")


def load(name: str, data_dir: str | os.PathLike | None = None, given_split: bool = False,
         **options) -> Interactions:
    """Loads a dataset by name.

    Args:
      name: one of :data:`DATASETS`.
      data_dir: where to look first for a file dataset (see :func:`find_dataset`);
        ignored for ``"synthetic"``.
      given_split: also return the dataset's own split as a ``split`` column (only
        :data:`GIVEN_SPLIT_DATASETS` have one).
      **options: passed to the loader; for ``"synthetic"`` the fields of
        :class:`tfrec_inc.data.synthetic.SyntheticOptions` (e.g. ``num_users=500, seed=1``).

    Returns:
      The dataset as :class:`Interactions`.

    Raises:
      DataError: unknown name or option, files not found or malformed, or
        ``given_split`` for a dataset without a split.
      ConfigError: an invalid synthetic option value.

    Example:
      >>> data = load("synthetic", num_users=200, num_items=150, num_interactions=3000)
      >>> data.name
      'synthetic'
    """
    if given_split and name not in GIVEN_SPLIT_DATASETS:
        if name != "synthetic":
            _spec(name)  # an unknown name says so first
        raise DataError(f"dataset {name!r} has no given train/valid/test split, which "
                        f"windows.mode: given needs (datasets with one: "
                        f"{', '.join(GIVEN_SPLIT_DATASETS)})")
    if name == "synthetic":
        return _call(name, synthetic.generate, options, schema=synthetic.SyntheticOptions)
    spec = _spec(name)
    fixed = {"given_split": True} if given_split else {}
    return _call(name, spec.loader, options, find_dataset(name, data_dir), fixed=fixed)


def _spec(name: str) -> _FileDataset:
    if name not in _FILE_DATASETS:
        raise DataError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    return _FILE_DATASETS[name]


def _call(name: str, fn: Callable[..., Interactions], options: dict, *args,
          schema: type | None = None, fixed: dict | None = None) -> Interactions:
    """Calls a loader, turning an unknown keyword into a DataError (not a TypeError).

    Args:
      name: the dataset name, for the message.
      fn: the loader, called as ``fn(*args, **options)``.
      options: the keyword options (e.g. a config's ``data.options``).
      *args: positional arguments (a file dataset's folder).
      schema: a dataclass whose fields are the allowed option names (a loader taking
        ``**options``); ``None`` to allow ``fn``'s parameters other than ``root`` and
        ``given_split`` (set by the windows mode, not by options).
      fixed: keyword arguments passed besides ``options`` (``given_split``).
    """
    if schema is not None:
        allowed = [f.name for f in dataclasses.fields(schema)]
    else:
        allowed = [p for p in inspect.signature(fn).parameters if p not in ("root", "given_split")]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise DataError(f"dataset {name!r} has no option {unknown[0]!r}"
                        f" (options: {', '.join(allowed) or 'none'})")
    return fn(*args, **options, **(fixed or {}))


def select_domain(data: Interactions, domain: str | None) -> Interactions:
    """Keeps one domain of a multi-domain dataset (rows whose ``domain`` column matches).

    Raises:
      DataError: the dataset has no ``domain`` column or no rows in that domain.
    """
    if domain is None:
        return data
    if "domain" not in data.interactions.columns:
        raise DataError(f"{data.name}: no 'domain' column, so data.domain={domain!r} cannot apply")
    inter = data.interactions[data.interactions["domain"] == domain]
    if inter.empty:
        found = sorted(data.interactions["domain"].unique())
        raise DataError(f"{data.name}: no interactions in domain {domain!r}; domains: {found}")
    items = data.items[data.items["item_id"].isin(inter["item_id"].unique())]
    users = None if data.users is None else data.users[data.users["user_id"].isin(inter["user_id"])]
    # The truth keeps every item and user row: the oracle maps ids to its rows.
    return dataclasses.replace(Interactions.create(f"{data.name}:{domain}", inter, items, users),
                               truth=data.truth)


def from_config(cfg, given_split: bool = False) -> Interactions:
    """The dataset a `tfrec_inc.config.DataConfig` names: loaded, then cut to its ``domain``.

    ``given_split`` asks for the dataset's own split (a ``split`` column, see `load`).

    Example:
      >>> from tfrec_inc.config import DataConfig
      >>> data = from_config(DataConfig(dataset="synthetic", domain="B", options={"domains": 2,
      ...     "num_users": 60, "num_items": 40, "num_interactions": 600}))
      >>> data.name, sorted(data.interactions["domain"].unique())
      ('synthetic:B', ['B'])
    """
    return select_domain(load(cfg.dataset, cfg.data_dir, given_split, **cfg.options), cfg.domain)
