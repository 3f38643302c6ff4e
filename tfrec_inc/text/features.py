"""The item text table: one (frozen) encoder vector per catalog item.

Example (a toy local SavedModel encoder and a fresh, empty vector cache; with the
built-in MiniLM, ``EncoderConfig(cache_dir=...)``, the table is ``(3, 384)``):
  >>> import shutil, tempfile
  >>> import tensorflow as tf
  >>> from tfrec_inc.config import EncoderConfig
  >>> class Toy(tf.Module):  # a stand-in encoder: text -> [length, 1]
  ...     @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
  ...     def __call__(self, texts):
  ...         n = tf.cast(tf.strings.length(texts), tf.float32)
  ...         return tf.stack([n, tf.ones_like(n)], axis=1)
  >>> folder = tempfile.mkdtemp()
  >>> tf.saved_model.save(Toy(), f"{folder}/toy")
  >>> cfg = EncoderConfig(handle=f"{folder}/toy", cache_dir=f"{folder}/cache")
  >>> titles = ["", "Star Wars (1977)", "Fargo (1996)"]
  >>> table, info = item_text_vectors(titles, cfg)  # row 0 (unknown item) is zeros
  >>> table.shape, info["misses"], info["encoded"]
  ((3, 2), 3, 3)
  >>> table, info = item_text_vectors(titles, cfg)  # warm cache: the encoder is not loaded
  >>> info["hits"], info["encoded"]
  (3, 0)
  >>> shutil.rmtree(folder)
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np

from tfrec_inc.config import EncoderConfig
from tfrec_inc.errors import ConfigError
from tfrec_inc.text import encoders
from tfrec_inc.text.cache import TextVectorCache

if TYPE_CHECKING:
    import pandas as pd


class _Lookup(Protocol):
    def lookup(self, ids: Iterable[str]) -> np.ndarray: ...


class _ItemCatalog(Protocol):
    """What is read of a `tfrec_inc.data.catalog.Catalog` (``text`` may not import ``data``)."""

    @property
    def items(self) -> _Lookup: ...

    @property
    def item_text(self) -> Sequence[str]: ...


def item_text_vectors(
    texts: Sequence[str],
    cfg: EncoderConfig,
    fit_rows: np.ndarray | Sequence[int] | None = None,
    progress: bool = False,
    zero_rows: Sequence[int] = (0,),
) -> tuple[np.ndarray, dict]:
    """Encodes item texts (through the on-disk cache), L2-normalises, optionally PCA.

    Steps: look every text up in the :class:`~tfrec_inc.text.cache.TextVectorCache` of
    this encoder (``cfg.cache_dir``), encode only the misses (the encoder is loaded only
    if there are any, so a warm cache never loads TensorFlow Hub models), L2-normalise
    each row, then if ``cfg.pca_dim`` is set project every row onto the top
    ``pca_dim`` principal components of the rows ``fit_rows`` (mean-centred, numpy SVD;
    fitting on the first training window's items only keeps later items from leaking
    into the features), and finally set the rows ``zero_rows`` to zero (row 0 is the
    "unknown item" row by convention). Empty texts are encoded like any other text.

    Args:
      texts: one text per table row.
      cfg: the encoder config (handle, output_key, batch_size, max_length, pca_dim,
        cache_dir).
      fit_rows: row indices (or a boolean mask) the PCA is fitted on; None means every
        row except ``zero_rows``. Ignored without ``pca_dim``.
      progress: show a tqdm bar while encoding.
      zero_rows: rows forced to all-zero after all transforms.

    Returns:
      ``(table, info)``: float32 ``[len(texts), d_out]`` (``d_out`` is ``pca_dim`` or the
      encoder's size) and ``{"encoder": identity, "hits": int, "misses": int,
      "encoded": int, "seconds": float, "dim": d_out}`` (hits/misses count distinct
      texts; ``encoded`` is how many texts went through the encoder). With PCA, info also
      has ``"explained_variance"``: the fraction of the fit rows' variance kept.

    Raises:
      ConfigError: ``pca_dim`` larger than the encoder's size or than the number of fit
        rows; an encoder that cannot be loaded.
      ValueError: a ``fit_rows``/``zero_rows`` index out of range.

    Example (PCA to 1 dimension fitted on rows 1-3; the cache is filled by hand, so the
    encoder, never loaded, need not exist; the module example encodes for real):
      >>> import shutil, tempfile
      >>> folder, texts = tempfile.mkdtemp(), ["", "a", "bb", "cccc", "ddd"]
      >>> cfg = EncoderConfig(handle="toy-encoder", pca_dim=1, cache_dir=folder)
      >>> _ = TextVectorCache(folder, encoders.encoder_identity(cfg)).lookup_or_encode(
      ...     texts, lambda batch: np.array([[len(t), 1.0] for t in batch]))
      >>> table, info = item_text_vectors(texts, cfg, fit_rows=[1, 2, 3])
      >>> table.shape, info["dim"], info["hits"], info["encoded"]
      ((5, 1), 1, 5, 0)
      >>> shutil.rmtree(folder)
    """
    start = time.perf_counter()
    texts = list(texts)
    n = len(texts)
    zero = _indices(zero_rows, n, "zero_rows")
    identity = encoders.encoder_identity(cfg)
    cache = TextVectorCache(cfg.cache_dir, identity)
    encoded = 0

    def encode_fn(batch: list[str]) -> np.ndarray:
        nonlocal encoded
        # Only now: loading the SavedModel costs seconds and needs the model files.
        layer = encoders.load_layer(cfg, trainable=False)
        encoded += len(batch)
        return encoders.encode(layer, batch, cfg.batch_size, progress=progress)

    vectors, stats = cache.lookup_or_encode(texts, encode_fn)
    table, info = _table(vectors, cfg.pca_dim, fit_rows, zero)
    info = {
        "encoder": identity,
        "hits": stats.hits,
        "misses": stats.misses,
        "encoded": encoded,
        "seconds": time.perf_counter() - start,
        "dim": int(table.shape[1]) if table.ndim == 2 else 0,
        **info,
    }
    return table, info


def window_text_vectors(catalog: _ItemCatalog, first_train: pd.DataFrame, cfg: EncoderConfig,
                        progress: bool = False) -> tuple[np.ndarray, dict]:
    """`item_text_vectors` of a catalog's items, any PCA fitted on the first window's items.

    Fitting on the first training window only keeps later items out of the features (no
    leakage); every study and export builds its text vectors this way.

    Args:
      catalog: the dataset's `tfrec_inc.data.catalog.Catalog`.
      first_train: the first window's training interactions.
      cfg: the encoder config.
      progress: show a tqdm bar while encoding.

    Returns:
      ``(table, info)`` as `item_text_vectors`.

    Example (the synthetic items' descriptions, through a toy local SavedModel encoder):
      >>> import shutil, tempfile
      >>> import tensorflow as tf
      >>> from tfrec_inc.data import load
      >>> from tfrec_inc.data.catalog import Catalog
      >>> from tfrec_inc.data.windows import WindowsConfig, split
      >>> class Toy(tf.Module):  # a stand-in encoder: text -> [length, 1]
      ...     @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
      ...     def __call__(self, texts):
      ...         n = tf.cast(tf.strings.length(texts), tf.float32)
      ...         return tf.stack([n, tf.ones_like(n)], axis=1)
      >>> folder = tempfile.mkdtemp()
      >>> tf.saved_model.save(Toy(), f"{folder}/toy")
      >>> data = load("synthetic", num_users=60, num_items=40, num_interactions=600)
      >>> windows = split(data.interactions, WindowsConfig(num_windows=2))
      >>> catalog = Catalog.from_interactions(data)
      >>> cfg = EncoderConfig(handle=f"{folder}/toy", cache_dir=f"{folder}/cache")
      >>> vectors, info = window_text_vectors(catalog, windows[0].train, cfg)
      >>> vectors.shape == (len(catalog.items), 2), info["encoded"] > 0
      (True, True)
      >>> shutil.rmtree(folder)
    """
    first_items = catalog.items.lookup(first_train["item_id"].unique())
    return item_text_vectors(catalog.item_text, cfg, fit_rows=first_items, progress=progress)


def _table(vectors: np.ndarray, pca_dim: int | None, fit_rows: np.ndarray | Sequence[int] | None,
           zero: np.ndarray) -> tuple[np.ndarray, dict]:
    """L2-normalises the rows, projects them with a PCA if asked, zeroes the ``zero`` rows.

    Returns the float32 table and ``{"explained_variance": ...}`` with PCA, else ``{}``.
    """
    n = len(vectors)
    vectors = vectors.astype(np.float64)  # PCA and norms in float64; float32 at the end
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors = vectors / np.maximum(norms, 1e-12)  # an all-zero vector stays zero

    info: dict = {}
    if pca_dim is not None:
        fit = (np.setdiff1d(np.arange(n), zero) if fit_rows is None
               else _indices(fit_rows, n, "fit_rows"))
        vectors, info["explained_variance"] = _pca(vectors, fit, pca_dim)

    table = vectors.astype(np.float32)
    table[zero] = 0.0
    return table, info


def _indices(rows: np.ndarray | Sequence[int], n: int, name: str) -> np.ndarray:
    rows = np.asarray(rows)
    if rows.dtype == bool:
        if rows.shape != (n,):
            raise ValueError(f"{name}: boolean mask of shape {rows.shape}, expected ({n},)")
        return np.flatnonzero(rows)
    rows = rows.astype(np.int64).reshape(-1)
    bad = rows[(rows < 0) | (rows >= n)]
    if bad.size:
        raise ValueError(f"{name}: row {int(bad[0])} out of range for {n} texts")
    return rows


def _pca(vectors: np.ndarray, fit: np.ndarray, dim: int) -> tuple[np.ndarray, float]:
    """Projects all rows on the top ``dim`` principal axes of ``vectors[fit]``."""
    d = vectors.shape[1]
    if dim > d:
        raise ConfigError(f"encoder.pca_dim: {dim} > the encoder's vector size {d}")
    if dim > len(fit):
        raise ConfigError(f"encoder.pca_dim: {dim} > the {len(fit)} rows the PCA is fitted on")
    sample = vectors[fit]
    mean = sample.mean(axis=0)
    _, singular, axes = np.linalg.svd(sample - mean, full_matrices=False)
    axes = axes[:dim]
    # SVD signs are arbitrary (and may flip between LAPACK builds): fix each axis so its
    # largest-magnitude coefficient is positive, making the table reproducible.
    signs = np.sign(axes[np.arange(dim), np.abs(axes).argmax(axis=1)])
    axes = axes * np.where(signs == 0, 1.0, signs)[:, None]
    total = float(np.sum(singular**2))
    kept = float(np.sum(singular[:dim] ** 2) / total) if total > 0 else 1.0
    return (vectors - mean) @ axes.T, kept
