"""A small recommender over an exported SavedModel, with index refresh after updates.

Example (an export of a popularity model counting items ``c`` 3, ``b`` 2 and ``a`` 1 times,
saved and loaded back; ``tfrec-inc export`` writes such folders from a results folder):
  >>> import shutil, tempfile
  >>> import pandas as pd
  >>> from tfrec_inc.data import load
  >>> from tfrec_inc.models.popularity import PopularityModel
  >>> catalog = Catalog.from_interactions(load("synthetic", num_users=60, num_items=40,
  ...                                          num_interactions=600))
  >>> a, b, c = catalog.items.ids[:3]
  >>> model = PopularityModel(catalog, pd.DataFrame({"item_id": [c, c, c, b, b, a]}))
  >>> folder = tempfile.mkdtemp()
  >>> _ = Recommender.from_model(model, catalog, [a, b, c], k_max=3).save(f"{folder}/rec")
  >>> rec = Recommender.load(f"{folder}/rec")
  >>> rec.recommend(k=2) == [(c, 3.0), (b, 2.0)]
  True
  >>> shutil.rmtree(folder)
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf

from tfrec_inc.data.catalog import Catalog
from tfrec_inc.serving.module import (
    MAX_RECENT,
    ExportError,
    KnownInteractions,
    ServingModule,
    known_from,
    save_module,
)

log = logging.getLogger(__name__)


class Recommender:
    """Top-``k`` items for a user, served by a TFRS top-K index with seen items excluded.

    It wraps either a loaded export (`Recommender.load`) or an in-process
    `ServingModule` (`Recommender.from_model`); both answer through the same ``serve`` /
    ``search`` functions, so an export and its in-process twin give the same lists.

    Args:
      module: a `ServingModule` or a loaded export (``tf.saved_model.load``).
      manifest: the export's manifest (model label, index, k_max, ...).

    Example (a popularity model counting items ``c`` 3, ``b`` 2 and ``a`` 1 times):
      >>> import pandas as pd
      >>> from tfrec_inc.data import load
      >>> from tfrec_inc.models.popularity import PopularityModel
      >>> catalog = Catalog.from_interactions(load("synthetic", num_users=60, num_items=40,
      ...                                          num_interactions=600))
      >>> a, b, c = catalog.items.ids[:3]
      >>> model = PopularityModel(catalog, pd.DataFrame({"item_id": [c, c, c, b, b, a]}))
      >>> rec = Recommender.from_model(model, catalog, [a, b, c], k_max=3)
      >>> rec.recommend(k=2) == [(c, 3.0), (b, 2.0)]  # a cold user: the most popular items
      True
    """

    def __init__(self, module, manifest: dict) -> None:
        self._module = module
        self.manifest = dict(manifest)

    @property
    def k_max(self) -> int:
        """The largest ``k`` the index answers."""
        return int(self.manifest["k_max"])

    @classmethod
    def load(cls, export_dir: str | Path) -> Recommender:
        """Loads an export written by `tfrec_inc.serving.export.export`.

        Args:
          export_dir: the export folder (SavedModel + ``manifest.json``).

        Returns:
          The `Recommender`.

        Raises:
          ExportError: the folder is not an export.
        """
        root = Path(export_dir)
        if not (root / "manifest.json").is_file() or not (root / "saved_model.pb").is_file():
            raise ExportError(f"{root} is not a recommender export (no manifest.json / saved_model.pb)")
        manifest = json.loads((root / "manifest.json").read_text())
        if manifest.get("index") == "scann":
            # Registers the ScaNN custom ops; loading fails with "Op type not registered" otherwise.
            import scann  # noqa: F401
        return cls(tf.saved_model.load(str(root)), manifest)

    @classmethod
    def from_model(cls, model, catalog: Catalog, items: Sequence[str],
                   known: KnownInteractions | None = None, index: str = "brute_force",
                   k_max: int = 100) -> Recommender:
        """Serves a Keras model in process (no SavedModel round trip).

        Args:
          model: a trained retrieval (or popularity) model.
          catalog: the dataset's catalog.
          items: candidate item ids.
          known: users' seen and latest items (default: nothing known).
          index: ``brute_force`` or ``scann``.
          k_max: the largest ``k``.

        Returns:
          The `Recommender`.
        """
        if known is None:
            known = _nothing_known(model.history_length)
        module = ServingModule(model, catalog, items, known, index, k_max)
        return cls(module, {"index": index, "k_max": module.k_max, "num_items": module.num_items})

    def recommend(self, user_id: str | None = None, recent_items: Sequence[str] = (),
                  k: int = 10) -> list[tuple[str, float]]:
        """The best ``k`` unseen items for one user.

        Args:
          user_id: the user; None (or an id the model never saw) is a cold user, served
            by their recent items (history-pooling models) or features only.
          recent_items: item ids the user just interacted with, oldest first: excluded
            from the list and, for history-pooling models, pooled into the user vector
            after the user's known latest items. Only the last `MAX_RECENT` count.
          k: list length, 1..``k_max``.

        Returns:
          ``[(item_id, score), ...]``, best first; shorter than ``k`` only when fewer
          unseen candidates exist.

        Raises:
          ValueError: ``k`` outside 1..``k_max``.

        Example (a popularity model counting items ``c`` 3, ``b`` 2 and ``a`` 1 times; the
        cold user has just seen ``c``):
          >>> import pandas as pd
          >>> from tfrec_inc.data import load
          >>> from tfrec_inc.models.popularity import PopularityModel
          >>> catalog = Catalog.from_interactions(load("synthetic", num_users=60, num_items=40,
          ...                                          num_interactions=600))
          >>> a, b, c = catalog.items.ids[:3]
          >>> model = PopularityModel(catalog, pd.DataFrame({"item_id": [c, c, c, b, b, a]}))
          >>> rec = Recommender.from_model(model, catalog, [a, b, c], k_max=3)
          >>> rec.recommend(None, recent_items=[c], k=2) == [(b, 2.0), (a, 1.0)]
          True
        """
        self._check_k(k)
        recent = [str(i) for i in recent_items][-MAX_RECENT:]
        out = self._module.serve(
            tf.constant([user_id or ""]),
            tf.constant([recent], dtype=tf.string) if recent else tf.zeros([1, 0], tf.string),
            tf.constant(k, tf.int32))
        return _pairs(out)[0]

    def search(self, query: np.ndarray, k: int = 10) -> list[list[tuple[str, float]]]:
        """Nearest candidates of raw query embeddings (no exclusions).

        Args:
          query: float32 ``[B, D]`` (or ``[D]``) query vectors.
          k: list length, 1..``k_max``.

        Returns:
          One ``[(item_id, score), ...]`` list per query.
        """
        self._check_k(k)
        query = np.atleast_2d(np.asarray(query, dtype=np.float32))
        return _pairs(self._module.search(tf.constant(query), tf.constant(k, tf.int32)))

    def refresh_index(self, model, catalog: Catalog, items: Sequence[str],
                      known: KnownInteractions | None = None) -> float:
        """Rebuilds the index (and query tower) from an updated model.

        After an incremental update the model has grown its vocabularies and moved its
        weights: the old index neither holds the new items nor matches the new user
        tower, so both are replaced together. Seen/latest items carry over unless
        ``known`` is given.

        Args:
          model: the updated retrieval model.
          catalog: its catalog.
          items: the candidate item ids now (old and newly arrived).
          known: users' seen and latest items now (default: keep the current ones).

        Returns:
          Seconds from the call to a ready index: item embeddings, index build and the
          serving functions' first trace (also logged at INFO).

        Example (the popularity model of the `Recommender` example, then one that has
        counted ``a`` twice since):
          >>> import pandas as pd
          >>> from tfrec_inc.data import load
          >>> from tfrec_inc.models.popularity import PopularityModel
          >>> catalog = Catalog.from_interactions(load("synthetic", num_users=60, num_items=40,
          ...                                          num_interactions=600))
          >>> a, b, c = catalog.items.ids[:3]
          >>> old = PopularityModel(catalog, pd.DataFrame({"item_id": [c, c, c, b, b, a]}))
          >>> rec = Recommender.from_model(old, catalog, [a, b, c], k_max=3)
          >>> updated = PopularityModel(catalog, pd.DataFrame({"item_id": [a, a]}))
          >>> seconds = rec.refresh_index(updated, catalog, [a, b, c])
          >>> rec.recommend(k=1) == [(a, 2.0)], seconds > 0
          (True, True)
        """
        start = time.perf_counter()
        if known is None:
            known = known_from(self._module)
        module = ServingModule(model, catalog, items, known, self.manifest.get("index", "brute_force"),
                               self.k_max)
        seconds = time.perf_counter() - start
        # Swap only once the new index is complete: requests never see a half-built one.
        self._module = module
        self.manifest.update(num_items=module.num_items, refreshed_seconds=round(seconds, 4))
        log.info("index refreshed: %d items in %.3f s", module.num_items, seconds)
        return seconds

    def save(self, export_dir: str | Path) -> Path:
        """Writes the current (e.g. refreshed) recommender as a new export.

        Args:
          export_dir: the folder to write.

        Returns:
          The folder.

        Raises:
          ExportError: this recommender was loaded and never refreshed (copy the export
            folder instead).
        """
        if not isinstance(self._module, ServingModule):
            raise ExportError("a loaded export can only be saved after refresh_index; copy its folder")
        extra = {k: v for k, v in self.manifest.items()
                 if k not in ("index", "k_max", "num_items", "created")}
        return save_module(self._module, export_dir, extra)

    def _check_k(self, k: int) -> None:
        if not 1 <= int(k) <= self.k_max:
            raise ValueError(f"k must be in 1..{self.k_max} (the export's k_max), got {k}")


def _nothing_known(history_length: int) -> KnownInteractions:
    empty = np.array([], dtype=object)
    return KnownInteractions(empty, np.zeros(1, np.int64), empty,
                             np.zeros((0, history_length), dtype=object))


def _pairs(out: dict[str, tf.Tensor]) -> list[list[tuple[str, float]]]:
    ids, scores = out["item_ids"].numpy(), out["scores"].numpy()
    # Blank ids pad lists that ran out of unseen candidates.
    return [[(i.decode(), float(s)) for i, s in zip(row_ids, row_scores, strict=True) if i]
            for row_ids, row_scores in zip(ids, scores, strict=True)]
