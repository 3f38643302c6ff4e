"""Model construction from a `ModelConfig`."""

from __future__ import annotations

import pandas as pd
import tensorflow as tf

from tfrec_inc.config import ModelConfig
from tfrec_inc.data.catalog import Catalog
from tfrec_inc.models.ranking import RankingModel
from tfrec_inc.models.retrieval import RetrievalModel
from tfrec_inc.models.towers import item_tower, user_tower
from tfrec_inc.models.vocab import Vocabulary


def optimizer(cfg: ModelConfig) -> tf.keras.optimizers.Optimizer:
    """The configured optimizer (Keras 2)."""
    cls = {
        "adagrad": tf.keras.optimizers.Adagrad,
        "adam": tf.keras.optimizers.Adam,
        "sgd": tf.keras.optimizers.SGD,
    }[cfg.optimizer]
    return cls(learning_rate=cfg.learning_rate)


def build(cfg: ModelConfig, catalog: Catalog, train: pd.DataFrame):
    """A compiled retrieval or ranking model whose id tables cover ``train``'s ids.

    Args:
      cfg: the model config.
      catalog: indices and feature tables of the dataset.
      train: the interactions the model will be trained on; their users and items get
        id rows, all other ids share the unknown row 0.

    Returns:
      A compiled `RetrievalModel` or `RankingModel`.

    Example:
      >>> model = build(ModelConfig(), catalog, window.train)
    """
    users = Vocabulary(train["user_id"].unique())
    items = Vocabulary(train["item_id"].unique())
    args = (cfg.embedding_dim, cfg.layers)
    u = user_tower(catalog, users, *args, use_features=cfg.user_features)
    i = item_tower(catalog, items, *args, use_features=cfg.item_features)
    if cfg.type == "retrieval":
        model = RetrievalModel(u, i, cfg.temperature, cfg.remove_accidental_hits)
    else:
        model = RankingModel(u, i)
    model.compile(optimizer(cfg))
    return model
