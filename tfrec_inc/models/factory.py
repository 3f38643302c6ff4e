"""Model construction from a `ModelConfig` on a `Prepared` domain: the one model builder.

Every study, the checkpoint store and the serving export build models here, so a model
rebuilt from disk has exactly the architecture it was trained with. Models come back
*built* (their variables exist) and compiled.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import pandas as pd
import tensorflow as tf

from tfrec_inc.config import EncoderConfig, ModelConfig
from tfrec_inc.data.catalog import Catalog
from tfrec_inc.data.vocab import Vocabulary
from tfrec_inc.errors import ConfigError
from tfrec_inc.models import similarity
from tfrec_inc.models.adaptor import MoEAdaptor
from tfrec_inc.models.base import TwoTower
from tfrec_inc.models.ials import ials_model
from tfrec_inc.models.ials import refit as ials_refit
from tfrec_inc.models.item_based import Computed, item_item_model
from tfrec_inc.models.multitask import MultitaskModel
from tfrec_inc.models.oracle import oracle_model
from tfrec_inc.models.popularity import PopularityModel
from tfrec_inc.models.ranking import RankingModel
from tfrec_inc.models.recency import RecencyScore
from tfrec_inc.models.retrieval import RetrievalModel
from tfrec_inc.models.sequential import SequentialHistory
from tfrec_inc.models.text_knn import text_knn_model
from tfrec_inc.models.towers import EncodedText, HistoryPooling, Tower, item_tower, user_tower
from tfrec_inc.models.weights import build_weights
from tfrec_inc.prepare import Prepared, uses_text


def optimizer(cfg: ModelConfig) -> tf.keras.optimizers.Optimizer:
    """The configured optimizer (Keras 2)."""
    cls = {
        "adagrad": tf.keras.optimizers.Adagrad,
        "adam": tf.keras.optimizers.Adam,
        "sgd": tf.keras.optimizers.SGD,
    }[cfg.optimizer]
    return cls(learning_rate=cfg.learning_rate)


def build(cfg: ModelConfig, prepared: Prepared, train: pd.DataFrame,
          vocabs: tuple[Vocabulary, Vocabulary] | None = None,
          current: pd.DataFrame | None = None) -> TwoTower:
    """A built, compiled model of ``cfg`` whose id tables cover ``train``'s ids.

    Args:
      cfg: the model config.
      prepared: the domain (catalog, item text vectors, encoder config).
      train: the interactions the model will be trained on; their users and items get
        id rows, all other ids share the unknown row 0 (and a popularity model counts
        them; logQ correction takes item frequencies from them).
      vocabs: (users, items) id vocabularies to use instead of ``train``'s ids, e.g. a
        previous model's vocabularies extended with a new window (see
        `tfrec_inc.models.weights.warm_start`).
      current: for computed types, the current window's training slice when ``train``
        is more than that (a strategy's data); the type's `ModelType.data` picks which
        of the two it is computed on (``popularity: window`` counts ``current``).
        Default: ``train``.

    Returns:
      A `RetrievalModel` or `RankingModel` (built and compiled), or a computed
      baseline (`PopularityModel`, `tfrec_inc.models.item_based.Computed`).

    Example:
      >>> from tfrec_inc import config
      >>> from tfrec_inc.prepare import prepare
      >>> cfg = config.from_dict({"data": {"options": {"num_users": 60, "num_items": 40,
      ...     "num_interactions": 600}}, "windows": {"num_windows": 2}})
      >>> prepared = prepare(cfg)
      >>> model = build(cfg.models[0], prepared, prepared.base_train)
      >>> len(model.item_vocab) <= len(prepared.catalog.items), model.built or len(model.weights) > 0
      (True, True)
    """
    model_type = MODEL_TYPES[cfg.type]
    if model_type.data is not None:
        train = model_type.data(cfg, train, train if current is None else current)
    if vocabs is None:
        vocabs = (Vocabulary(train["user_id"].unique()), Vocabulary(train["item_id"].unique()))
    return model_type.build(cfg, prepared, train, vocabs)


Builder = Callable[[ModelConfig, Prepared, pd.DataFrame, tuple[Vocabulary, Vocabulary]], TwoTower]
# ``(cfg, built_on, current) -> the frame the model is built on`` (see `ModelType.data`).
DataChoice = Callable[[ModelConfig, pd.DataFrame, pd.DataFrame], pd.DataFrame]
# ``(cfg, prepared, new data, previous model) -> updated model`` (see `ModelType.refit`).
Refit = Callable[[ModelConfig, Prepared, pd.DataFrame, TwoTower], TwoTower]


def _popularity(cfg: ModelConfig, prepared: Prepared, train: pd.DataFrame,
                vocabs: tuple[Vocabulary, Vocabulary]) -> TwoTower:
    half_life = cfg.half_life_days if cfg.popularity == "decay" else None
    return PopularityModel(prepared.catalog, train, half_life)


def _popularity_data(cfg: ModelConfig, built_on: pd.DataFrame, current: pd.DataFrame) -> pd.DataFrame:
    """``popularity: window`` counts the current window's training slice; ``all``/``decay`` everything."""
    return current if cfg.popularity == "window" else built_on


def _itemknn(cfg: ModelConfig, prepared: Prepared, train: pd.DataFrame,
             vocabs: tuple[Vocabulary, Vocabulary]) -> TwoTower:
    return item_item_model(prepared.catalog, train,
                           lambda x: similarity.item_knn(x, cfg.neighbors, cfg.shrink), vocabs)


def _ease(cfg: ModelConfig, prepared: Prepared, train: pd.DataFrame,
          vocabs: tuple[Vocabulary, Vocabulary]) -> TwoTower:
    return item_item_model(prepared.catalog, train, lambda x: similarity.ease(x, cfg.ease_lambda), vocabs)


def _rp3beta(cfg: ModelConfig, prepared: Prepared, train: pd.DataFrame,
             vocabs: tuple[Vocabulary, Vocabulary]) -> TwoTower:
    return item_item_model(
        prepared.catalog, train,
        lambda x: similarity.rp3beta(x, cfg.rp3_alpha, cfg.rp3_beta, cfg.neighbors), vocabs)


def _ials(cfg: ModelConfig, prepared: Prepared, train: pd.DataFrame,
          vocabs: tuple[Vocabulary, Vocabulary]) -> TwoTower:
    return ials_model(cfg, prepared.catalog, train, vocabs)


def _ials_refit(cfg: ModelConfig, prepared: Prepared, new_data: pd.DataFrame, previous: TwoTower) -> TwoTower:
    assert isinstance(previous, Computed)
    return ials_refit(cfg, prepared.catalog, new_data, previous)


def _oracle(cfg: ModelConfig, prepared: Prepared, train: pd.DataFrame,
            vocabs: tuple[Vocabulary, Vocabulary]) -> TwoTower:
    if prepared.data.truth is None:
        raise ConfigError(f"models: {cfg.name or cfg.type} (type oracle) needs generated data with its truth "
                          f"(data.dataset: synthetic), not {prepared.data.name!r}")
    return oracle_model(prepared.data.truth, prepared.catalog, train, vocabs)


def _text_knn(cfg: ModelConfig, prepared: Prepared, train: pd.DataFrame,
              vocabs: tuple[Vocabulary, Vocabulary]) -> TwoTower:
    return text_knn_model(prepared.catalog, train, prepared.text_vectors, vocabs)


def _trained(cfg: ModelConfig, prepared: Prepared, train: pd.DataFrame,
             vocabs: tuple[Vocabulary, Vocabulary]) -> TwoTower:
    recency = _recency(cfg, prepared) if cfg.recency_days else None
    model = _two_tower(cfg, prepared.catalog, train, prepared.text_vectors, prepared.encoder, vocabs, recency)
    build_weights(model)
    model.compile(optimizer(cfg))
    return model


@dataclasses.dataclass(frozen=True)
class ModelType:
    """How a model type is made.

    Attributes:
      build: ``build(cfg, prepared, train, vocabs) -> TwoTower``.
      trained: True when the model learns through the Keras fit loop
        (`tfrec_inc.models.training`); False when building it already computes it from
        ``train`` (a count, a closed form), so studies build it on the data it should
        describe and never call ``fit``.
      data: computed types only: ``data(cfg, built_on, current)`` picks the frame the
        model is built on from the strategy's data and the current window's training
        slice (see `build`); None: the strategy's data.
      refit: computed types that update incrementally: ``refit(cfg, prepared, new_data,
        previous) -> model`` (``fine_tune``); None: only the retrain strategies run them.
    """

    build: Builder
    trained: bool = True
    data: DataChoice | None = None
    refit: Refit | None = None


# `ModelConfig.type` -> how to make it. A new type is a `TwoTower` model, an entry here and
# its name in `tfrec_inc.config.MODEL_TYPES` (a test keeps the two equal).
MODEL_TYPES: dict[str, ModelType] = {
    "retrieval": ModelType(_trained),
    "ranking": ModelType(_trained),
    "multitask": ModelType(_trained),
    "popularity": ModelType(_popularity, trained=False, data=_popularity_data),
    "itemknn": ModelType(_itemknn, trained=False),
    "ials": ModelType(_ials, trained=False, refit=_ials_refit),
    "ease": ModelType(_ease, trained=False),
    "rp3beta": ModelType(_rp3beta, trained=False),
    "text_knn": ModelType(_text_knn, trained=False),
    "oracle": ModelType(_oracle, trained=False),
}


def refits(cfg: ModelConfig) -> bool:
    """Whether a computed model of ``cfg`` can be updated in place (``fine_tune``, `ModelType.refit`)."""
    return MODEL_TYPES[cfg.type].refit is not None


def refit(cfg: ModelConfig, prepared: Prepared, new_data: pd.DataFrame, previous: TwoTower) -> TwoTower:
    """The computed model ``previous`` updated with ``new_data`` (`ModelType.refit`)."""
    update = MODEL_TYPES[cfg.type].refit
    if update is None:
        raise ValueError(f"{cfg.type} models are rebuilt, not updated")
    return update(cfg, prepared, new_data, previous)


def is_trained(cfg: ModelConfig) -> bool:
    """Whether models of ``cfg`` learn through the fit loop (see `ModelType.trained`)."""
    return MODEL_TYPES[cfg.type].trained


def _two_tower(cfg: ModelConfig, catalog: Catalog, train: pd.DataFrame, text_vectors: np.ndarray | None,
               encoder: EncoderConfig, vocabs: tuple[Vocabulary, Vocabulary],
               recency: RecencyScore | None = None) -> RetrievalModel | RankingModel:
    users, items = vocabs
    projection = None
    if uses_text(cfg):
        if text_vectors is None:
            raise ValueError("this model reads item text: pass text_vectors")
        # One projection for item text and user history puts both in the same space, so a
        # user described only by recent items lands near similar items (cold users).
        # With summed parts, orthogonal columns make untrained projected dot products
        # approximate the encoder's own similarities (a random subspace): a sensible
        # zero-shot start. (Concatenating towers keep Keras' default, as results used.)
        init = "orthogonal" if cfg.combine == "sum" else "glorot_uniform"
        projection = tf.keras.layers.Dense(cfg.embedding_dim, use_bias=False, name="text_projection",
                                           kernel_initializer=init)
        if cfg.text_adaptor == "moe":
            projection = MoEAdaptor(cfg.embedding_dim, cfg.adaptor_experts, name="text_projection")
    text_part, frozen = None, None
    if cfg.item_text:
        if encoder.trainable:
            from tfrec_inc.text.encoders import load_layer

            text_part = EncodedText(load_layer(encoder, trainable=True), catalog.item_text,
                                    projection, name="encoded_text")
        else:
            frozen = text_vectors
    i = item_tower(catalog, items, cfg.embedding_dim, cfg.layers, use_id=cfg.item_id,
                   use_features=cfg.item_features, text_vectors=frozen,
                   text_projection=projection, text=text_part, id_dropout=cfg.item_id_dropout,
                   combine=cfg.combine)
    history = _history(cfg, text_vectors, projection, i)
    u = user_tower(catalog, users, cfg.embedding_dim, cfg.layers, use_id=cfg.user_id,
                   use_features=cfg.user_features, history=history,
                   history_length=cfg.history_length if history is not None else 0,
                   id_dropout=cfg.user_id_dropout, combine=cfg.combine)
    if cfg.type == "retrieval":
        return RetrievalModel(u, i, cfg.temperature, cfg.remove_accidental_hits, _logq(cfg, catalog, train),
                              cfg.cross_replica_negatives, user_vocab=users, item_vocab=items,
                              negatives=cfg.negatives, num_items=len(catalog.items),
                              uniform_negatives=cfg.uniform_negatives, recency=recency)
    if cfg.type == "multitask":
        return MultitaskModel(u, i, cfg.retrieval_weight, cfg.rating_weight, temperature=cfg.temperature,
                              remove_accidental_hits=cfg.remove_accidental_hits,
                              item_probability=_logq(cfg, catalog, train),
                              cross_replica_negatives=cfg.cross_replica_negatives, user_vocab=users,
                              item_vocab=items, negatives=cfg.negatives, num_items=len(catalog.items),
                              uniform_negatives=cfg.uniform_negatives)
    return RankingModel(u, i, user_vocab=users, item_vocab=items)


def _history(cfg: ModelConfig, text_vectors: np.ndarray | None, projection: tf.keras.layers.Layer | None,
             items: Tower) -> tf.keras.layers.Layer | None:
    """The user tower's history part; a sequential one reads the item tower's own id and text parts."""
    if cfg.user_history == "none":
        return None
    if cfg.user_history == "sequential":
        ids = None if items.embedding is None else (items.rows, items.embedding)
        text = (text_vectors, projection) if cfg.item_text else (None, None)
        return SequentialHistory(*text, cfg.history_length, cfg.sequence_blocks, cfg.sequence_heads,
                                 cfg.sequence_dropout, ids=ids, id_dropout=cfg.item_id_dropout,
                                 name="sequential_history")
    assert text_vectors is not None and projection is not None  # pooled histories always read text
    return HistoryPooling(text_vectors, projection, cfg.user_history, name="history_pooling")


def _recency(cfg: ModelConfig, prepared: Prepared) -> RecencyScore:
    """The time-aware term over the dataset's whole log (it reads only events before each τ)."""
    log, catalog = prepared.data.interactions, prepared.catalog
    return RecencyScore(catalog.users.lookup(log["user_id"]), catalog.items.lookup(log["item_id"]),
                        log["timestamp"].to_numpy(np.int64), len(catalog.items), cfg.recency_days,
                        name="recency")


def _logq(cfg: ModelConfig, catalog: Catalog, train: pd.DataFrame) -> np.ndarray | None:
    """Each item's training frequency (the in-batch sampling probability), when logQ-corrected."""
    if not cfg.logq_correction:
        return None
    counts = np.bincount(catalog.items.lookup(train["item_id"]), minlength=len(catalog.items))
    return np.maximum(counts, 1) / max(len(train), 1)
