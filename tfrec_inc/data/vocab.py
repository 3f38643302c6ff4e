"""Growable id vocabularies: index 0 is the unknown id, known ids keep their index forever.

Pure id bookkeeping (no TensorFlow): models size their embedding tables with ``len`` and
grow them with `Vocabulary.extended` (see `tfrec_inc.models.weights.warm_start`).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


class Vocabulary:
    """Maps string ids to dense indices ``1..n``; unknown ids map to ``0``.

    Ids are only ever appended, so an index, and the embedding row behind it, never
    changes meaning when the vocabulary grows with a new window.

    Example:
      >>> vocab = Vocabulary(["a", "b"])
      >>> vocab.lookup(["b", "zzz"]).tolist()
      [2, 0]
      >>> vocab.add(["c", "a"])
      ['c']
      >>> len(vocab)  # rows an embedding table needs, including the unknown row
      4
      >>> vocab.extended(["d"]).lookup(["d"]).tolist()  # growing keeps old indices
      [4]
    """

    def __init__(self, ids: Iterable[str] = ()) -> None:
        self._index: dict[str, int] = {}
        self._ids: list[str] = []
        self.add(ids)

    def add(self, ids: Iterable[str]) -> list[str]:
        """Appends ids not seen before (in first-seen order).

        Args:
          ids: ids to add; duplicates and known ids are ignored.

        Returns:
          The ids that were new.
        """
        new = []
        for raw in ids:
            key = str(raw)
            if key not in self._index:
                self._index[key] = len(self._ids) + 1
                self._ids.append(key)
                new.append(key)
        return new

    def lookup(self, ids: Iterable[str]) -> np.ndarray:
        """Returns the int64 index of each id, 0 for unknown ids."""
        get = self._index.get
        return np.fromiter((get(str(x), 0) for x in ids), dtype=np.int64)

    @property
    def ids(self) -> list[str]:
        """Known ids in index order (index ``i`` is ``ids[i - 1]``)."""
        return list(self._ids)

    def __contains__(self, key: object) -> bool:
        return key in self._index

    def __len__(self) -> int:
        return len(self._ids) + 1

    def extended(self, ids: Iterable[str]) -> Vocabulary:
        """A copy with ``ids`` appended (this vocabulary is left unchanged).

        Example:
          >>> Vocabulary(["a"]).extended(["b", "a"]).ids
          ['a', 'b']
        """
        out = Vocabulary(self._ids)
        out.add(ids)
        return out
