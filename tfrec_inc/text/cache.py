"""Content-addressed on-disk cache of text vectors (one encoder's outputs per folder).

Layout under the root (default ``~/.cache/tfrec_inc/text_vectors``)::

  <sha256(identity)[:16]>/identity.txt       the encoder identity, for humans
  <sha256(identity)[:16]>/shard-<hash>.npz   keys uint8 [n, 32], vectors float32 [n, d]

A key is ``sha256(identity + "\\0" + text)``. Each :meth:`TextVectorCache.lookup_or_encode`
call that had to encode something adds one shard (named by the hash of its keys), written
atomically (:func:`tfrec_inc.atomic.write_with`), so concurrent readers only ever see
complete shards. Once there are more than :data:`MAX_SHARDS` shards they are merged into
one.

Example:
  >>> import shutil, tempfile
  >>> folder = tempfile.mkdtemp()
  >>> cache = TextVectorCache(folder, identity="toy-encoder")
  >>> vectors, stats = cache.lookup_or_encode(["a", "b", "a"], lambda t: np.ones((len(t), 4)))
  >>> vectors.shape, stats
  ((3, 4), CacheStats(hits=0, misses=2))
  >>> shutil.rmtree(folder)
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from tfrec_inc import atomic

DEFAULT_ROOT = Path("~/.cache/tfrec_inc/text_vectors")
# Merging beyond this many shards keeps loading to a handful of file reads.
MAX_SHARDS = 16
_KEY_BYTES = 32
_SHARD_GLOB = "shard-*.npz"


@dataclasses.dataclass(frozen=True)
class CacheStats:
    """How many DISTINCT texts of one lookup were found in the cache or had to be encoded.

    Attributes:
      hits: distinct texts whose vector was already cached.
      misses: distinct texts that were encoded (each once, however often it repeats).
    """

    hits: int
    misses: int


class TextVectorCache:
    """Vectors of one encoder, keyed by text, persisted as shard files.

    Args:
      root: cache root folder; None means ``~/.cache/tfrec_inc/text_vectors``.
      identity: a string naming the encoder's outputs (see
        :func:`tfrec_inc.text.encoders.encoder_identity`); caches of different
        identities never share entries.

    Example:
      >>> cache = TextVectorCache(None, "minilm:minilm-l6-v2-a4eed553bfdc:len256")
      >>> cache.folder.parent.name
      'text_vectors'
    """

    def __init__(self, root: str | os.PathLike | None, identity: str) -> None:
        self.identity = identity
        base = Path(root).expanduser() if root is not None else DEFAULT_ROOT.expanduser()
        self.folder = base / hashlib.sha256(identity.encode("utf-8")).hexdigest()[:16]
        self._prefix = hashlib.sha256((identity + "\0").encode("utf-8", "surrogatepass"))
        self._index: dict[bytes, int] = {}  # key -> row of the concatenated blocks
        self._blocks: list[np.ndarray] = []
        self._matrix: np.ndarray | None = None  # concatenation of _blocks, built lazily
        self._loaded: set[str] = set()  # shard file names read (or found corrupt)
        self._good: set[str] = set()  # ... of which read completely into the index
        self._dim: int | None = None

    def __len__(self) -> int:
        self._refresh()
        return len(self._index)

    @property
    def dim(self) -> int | None:
        """Vector size of the cached entries (None while the cache is empty)."""
        self._refresh()
        return self._dim

    def key(self, text: str) -> bytes:
        """The 32-byte cache key of ``text``: ``sha256(identity + "\\0" + text)``.

        Args:
          text: the text.

        Returns:
          The raw digest.

        Example:
          >>> len(TextVectorCache(None, "x").key("hello"))
          32
        """
        digest = self._prefix.copy()
        digest.update(text.encode("utf-8", "surrogatepass"))
        return digest.digest()

    def lookup_or_encode(
        self, texts: Sequence[str], encode_fn: Callable[[list[str]], np.ndarray]
    ) -> tuple[np.ndarray, CacheStats]:
        """Returns the vector of every text, encoding only those not cached yet.

        Each distinct missing text is passed to ``encode_fn`` once (in order of first
        appearance), and all new vectors are stored as one new shard. Unreadable shards
        are skipped with a warning (their texts are simply encoded again); a cache folder
        that cannot be written only warns, the vectors are still returned.

        Args:
          texts: the texts, repeats allowed.
          encode_fn: maps a list of m strings to an ``[m, d]`` array; not called when
            everything is cached.

        Returns:
          ``(vectors, stats)``: float32 ``[len(texts), d]`` aligned with ``texts`` (row i
          is the vector of ``texts[i]``; ``[0, d]`` or, with an empty cache, ``[0, 0]``
          for no texts), and :class:`CacheStats` counted over DISTINCT texts.

        Raises:
          TypeError: a text is not a ``str``.
          ValueError: ``encode_fn`` returned the wrong shape, or a vector size different
            from the cached one (the identity does not pin the encoder down).

        Example:
          >>> import shutil, tempfile
          >>> folder = tempfile.mkdtemp()
          >>> cache = TextVectorCache(folder, "toy")
          >>> def lengths(batch):
          ...     return np.array([[len(t)] for t in batch])
          >>> _ = cache.lookup_or_encode(["a"], lengths)
          >>> vectors, stats = cache.lookup_or_encode(["a", "bb", "a"], lengths)
          >>> vectors.ravel().tolist(), stats
          ([1.0, 2.0, 1.0], CacheStats(hits=1, misses=1))
          >>> shutil.rmtree(folder)
        """
        texts = list(texts)
        for text in texts:
            if not isinstance(text, str):
                raise TypeError(f"texts must be str, got {type(text).__name__}: {text!r:.80}")
        self._refresh()
        distinct = list(dict.fromkeys(texts))
        keys = [self.key(text) for text in distinct]
        missing = [i for i, k in enumerate(keys) if k not in self._index]
        if missing:
            new = np.asarray(encode_fn([distinct[i] for i in missing]), dtype=np.float32)
            if new.ndim != 2 or new.shape[0] != len(missing):
                raise ValueError(
                    f"encode_fn returned shape {new.shape} for {len(missing)} texts; expected "
                    f"[{len(missing)}, dim]"
                )
            if self._dim is not None and new.shape[1] != self._dim:
                raise ValueError(
                    f"encode_fn returned {new.shape[1]}-d vectors but the cache of identity "
                    f"{self.identity!r} holds {self._dim}-d ones"
                )
            new_keys = np.frombuffer(b"".join(keys[i] for i in missing), np.uint8)
            new_keys = new_keys.reshape(-1, _KEY_BYTES)
            self._add(new_keys, new)
            name = self._write_shard(new_keys, new)
            if name is not None:
                self._loaded.add(name)
                self._good.add(name)
                self._maybe_compact()
        stats = CacheStats(hits=len(distinct) - len(missing), misses=len(missing))
        if not texts:
            return np.zeros((0, self._dim or 0), np.float32), stats
        rows_by_text = {text: self._index[k] for text, k in zip(distinct, keys, strict=True)}
        rows = np.fromiter((rows_by_text[t] for t in texts), np.int64, count=len(texts))
        return self._all()[rows], stats

    # ----- in-memory index ------------------------------------------------------------

    def _add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        buf = keys.tobytes()
        offset = len(self._index)
        added = 0
        fresh = []
        for i in range(len(keys)):
            k = buf[i * _KEY_BYTES : (i + 1) * _KEY_BYTES]
            if k not in self._index:  # shards may overlap (two processes, same texts)
                self._index[k] = offset + added
                fresh.append(i)
                added += 1
        if not added:
            return
        block = vectors if added == len(keys) else vectors[fresh]
        self._blocks.append(np.ascontiguousarray(block, np.float32))
        self._matrix = None
        self._dim = block.shape[1]

    def _all(self) -> np.ndarray:
        if self._matrix is None:
            self._matrix = np.concatenate(self._blocks) if len(self._blocks) > 1 else self._blocks[0]
            self._blocks = [self._matrix]  # keep a single block: later appends copy once
        return self._matrix

    def _refresh(self) -> None:
        """Reads shards not seen yet (other processes may have added some)."""
        if not self.folder.is_dir():
            return
        for path in sorted(self.folder.glob(_SHARD_GLOB)):
            if path.name in self._loaded:
                continue
            self._loaded.add(path.name)
            shard = self._read_shard(path)
            if shard is not None:
                self._add(*shard)
                self._good.add(path.name)

    def _read_shard(self, path: Path) -> tuple[np.ndarray, np.ndarray] | None:
        try:
            with np.load(path, allow_pickle=False) as data:
                keys, vectors = data["keys"], data["vectors"]  # zip CRCs are checked here
            if keys.dtype != np.uint8 or keys.ndim != 2 or keys.shape[1] != _KEY_BYTES:
                raise ValueError(f"bad keys array {keys.dtype} {keys.shape}")
            if vectors.dtype != np.float32 or vectors.ndim != 2 or len(vectors) != len(keys):
                raise ValueError(f"bad vectors array {vectors.dtype} {vectors.shape}")
            if self._dim is not None and vectors.shape[1] != self._dim:
                raise ValueError(f"{vectors.shape[1]}-d vectors, other shards are {self._dim}-d")
            if not np.isfinite(vectors).all():
                raise ValueError("non-finite values")
        except FileNotFoundError:
            return None  # merged away by another process's compaction meanwhile
        except Exception as err:  # anything unreadable: recompute rather than crash
            # Shards are renamed into place complete, so an unreadable one is damaged for
            # good: move it out of the shard glob (kept for inspection) to warn only once.
            # A plain os.replace, not tfrec_inc.atomic: nothing is written, an existing
            # file is renamed, and a failure (read-only cache) only means warning again.
            aside = path.with_name(path.name + ".corrupt")
            try:
                os.replace(path, aside)
            except OSError:
                aside = path
            reason = str(err).splitlines()[0][:200] if str(err) else ""
            warnings.warn(
                f"text vector cache: skipping unreadable shard {path.name} "
                f"({type(err).__name__}: {reason}); its texts will be encoded again"
                + (f"; moved to {aside}" if aside != path else ""),
                RuntimeWarning,
                stacklevel=4,
            )
            return None
        return keys, vectors

    # ----- files ----------------------------------------------------------------------

    def _write_shard(self, keys: np.ndarray, vectors: np.ndarray) -> str | None:
        """Writes one shard atomically; returns its file name, or None if it failed."""
        name = f"shard-{hashlib.sha256(keys.tobytes()).hexdigest()[:24]}.npz"
        vectors = np.asarray(vectors, np.float32)

        def write(tmp: Path) -> None:
            # A file object, not a path: np.savez would append ".npz" to the temp name.
            with open(tmp, "wb") as f:
                np.savez(f, keys=keys, vectors=vectors)
                f.flush()
                os.fsync(f.fileno())

        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            label = self.folder / "identity.txt"
            if not label.exists():
                atomic.write_text(label, self.identity + "\n")
            # The temporary sibling is ".shard-....npz.<random>": outside the shard glob.
            atomic.write_with(self.folder / name, write)
        except OSError as err:
            warnings.warn(f"text vector cache: cannot write {self.folder}: {err}", RuntimeWarning,
                          stacklevel=3)
            return None
        return name

    def _maybe_compact(self) -> None:
        """Merges all shards into one once there are more than MAX_SHARDS."""
        if len(list(self.folder.glob(_SHARD_GLOB))) <= MAX_SHARDS or not self._index:
            return
        merged = set(self._good)  # only shards whose entries are all in memory
        keys = np.frombuffer(b"".join(self._index), np.uint8).reshape(-1, _KEY_BYTES)
        rows = np.fromiter(self._index.values(), np.int64, count=len(self._index))
        name = self._write_shard(keys, self._all()[rows])
        if name is None:
            return
        self._loaded.add(name)
        self._good = {name}
        for old in merged - {name}:
            (self.folder / old).unlink(missing_ok=True)
