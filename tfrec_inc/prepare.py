"""Everything a study needs before any model exists, computed once per domain.

`prepare` loads the dataset a config names, cuts it into windows, indexes its users and
items (`Catalog`), encodes the item text once (cached on disk) when a model reads text,
and computes each interaction's preceding items when a model pools user history. The
run, the transfer study's source domain and the serving export all go through it, so a
model rebuilt later sees exactly the inputs it was trained on.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from tfrec_inc import data as data_lib
from tfrec_inc.config import (
    RATING_TYPES,
    ConfigError,
    DataConfig,
    EncoderConfig,
    ExperimentConfig,
    ModelConfig,
    model_label,
)
from tfrec_inc.data.catalog import Catalog
from tfrec_inc.data.history import previous_items
from tfrec_inc.data.interactions import Interactions
from tfrec_inc.data.windows import Window, before_valid, split


def uses_text(cfg: ModelConfig) -> bool:
    """Whether a model needs item text vectors (item text, pooled history, or ``text_knn``).

    A ``sequential`` history reads the item tower's own parts, so only with ``item_text``.
    """
    pooled = cfg.user_history not in ("none", "sequential")
    return cfg.item_text or pooled or cfg.type == "text_knn"


@dataclasses.dataclass(frozen=True)
class Prepared:
    """One domain's data, ready for models.

    Attributes:
      data: the loaded dataset.
      windows: its chronological windows.
      catalog: indices and feature tables of every user and item.
      encoder: the encoder config the text vectors come from.
      text_vectors: float32 [len(catalog.items), d] item text vectors (row 0 zeros), or
        None when no model reads text.
      text_info: cache hits/misses and timing of the text vectors, or None.
      row_history: int64 [len(data.interactions), L] preceding items of each
        interaction (see `tfrec_inc.data.history.previous_items`), or None.
    """

    data: Interactions
    windows: tuple[Window, ...]
    catalog: Catalog
    encoder: EncoderConfig
    text_vectors: np.ndarray | None
    text_info: dict | None
    row_history: np.ndarray | None

    @classmethod
    def from_parts(cls, data: Interactions, windows: Sequence[Window], text_vectors: np.ndarray | None = None,
                   row_history: np.ndarray | None = None, encoder: EncoderConfig | None = None,
                   catalog: Catalog | None = None) -> Prepared:
        """A `Prepared` from pieces computed by hand (tests, notebooks, benchmarks).

        Args:
          data: the dataset.
          windows: its windows (`tfrec_inc.data.windows.split`).
          text_vectors: item text vectors, if a model reads text.
          row_history: per-row item history, if a model pools it.
          encoder: the encoder config (default `EncoderConfig()`).
          catalog: the catalog (default: built from ``data``).

        Returns:
          The `Prepared` domain.
        """
        return cls(data, tuple(windows), catalog or Catalog.from_interactions(data),
                   encoder or EncoderConfig(), text_vectors, None, row_history)

    @property
    def base_train(self) -> pd.DataFrame:
        """The first window's training slice (vocabulary of rebuilt models, PCA fit)."""
        return self.windows[0].train

    def train_before_valid(self, t: int = -1) -> pd.DataFrame:
        """Everything before window ``t``'s validation slice (default: the last window)."""
        return before_valid(self.windows[t])


def load_domain(cfg: ExperimentConfig, data_cfg: DataConfig | None = None
                ) -> tuple[Interactions, list[Window], Catalog]:
    """Loads and windows one domain, checking the models can use it (no TensorFlow).

    Args:
      cfg: the experiment config (windows, models).
      data_cfg: the domain to load; default ``cfg.data``.

    Returns:
      ``(data, windows, catalog)``.

    Raises:
      DataError: bad data files. ConfigError: a ranking model on data without ratings.
    """
    data_cfg = data_cfg or cfg.data
    data = data_lib.from_config(data_cfg, given_split=cfg.windows.mode == "given")
    for m in cfg.models:
        if m.type in RATING_TYPES and not data.has_ratings:
            raise ConfigError(f"models: {model_label(m)!r} is a {m.type} model (trained on ratings) but "
                              f"{data_cfg.dataset} has no ratings")
    return data, split(data.interactions, cfg.windows), Catalog.from_interactions(data)


def prepare(cfg: ExperimentConfig, data_cfg: DataConfig | None = None, quiet: bool = True,
            loaded: tuple[Interactions, list[Window], Catalog] | None = None) -> Prepared:
    """Loads, windows, indexes and encodes one domain for the models of ``cfg``.

    Args:
      cfg: the experiment config.
      data_cfg: the domain (default ``cfg.data``; the transfer study passes its source).
      quiet: no progress bar or cache report while encoding item text.
      loaded: the result of `load_domain` if already computed (the run loads first, so
        bad data fails before TensorFlow starts).

    Returns:
      The frozen `Prepared` domain.

    Example:
      >>> from tfrec_inc import config
      >>> cfg = config.from_dict({"data": {"options": {"num_users": 60, "num_items": 40,
      ...     "num_interactions": 600}}, "windows": {"num_windows": 2}})
      >>> prepared = prepare(cfg)
      >>> len(prepared.windows), prepared.text_vectors is None
      (2, True)
    """
    data, windows, catalog = loaded or load_domain(cfg, data_cfg)
    vectors, info = _text_vectors(cfg.models, catalog, windows[0].train, cfg.encoder, quiet)
    return Prepared(data, tuple(windows), catalog, cfg.encoder, vectors, info,
                    _row_history(cfg.models, catalog, data.interactions))


def _text_vectors(models: Sequence[ModelConfig], catalog: Catalog, first_train: pd.DataFrame,
                  encoder: EncoderConfig, quiet: bool) -> tuple[np.ndarray | None, dict | None]:
    if not any(uses_text(m) for m in models):
        return None, None
    from tfrec_inc.text.features import window_text_vectors

    vectors, info = window_text_vectors(catalog, first_train, encoder, progress=not quiet)
    if not quiet:
        tqdm.write(f"item text vectors: {info['hits']} cached, {info['misses']} encoded "
                   f"({info['encoder']})")
    return vectors, info


def _row_history(models: Sequence[ModelConfig], catalog: Catalog, inter: pd.DataFrame
                 ) -> np.ndarray | None:
    length = max((m.history_length for m in models if m.user_history != "none"), default=0)
    if not length:
        return None
    return previous_items(catalog.users.lookup(inter["user_id"]), catalog.items.lookup(inter["item_id"]),
                          inter["timestamp"].to_numpy(), length)
