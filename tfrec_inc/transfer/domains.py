"""Cross-domain transfer: carry a source model's content paths into a target model.

Ids do not carry across domains (different users and items), but a model whose items are
described by text and whose users are described by the text of their recent items has
domain-independent parts: the text projection, the history pooling and the MLPs. Those
are copied; id tables start fresh (or stay empty for zero-shot use).
"""

from __future__ import annotations

import pandas as pd

from tfrec_inc.models.vocab import ensure_built


def copy_content(source, target) -> list[str]:
    """Copies every weight but the id embeddings from ``source`` into ``target``.

    Both models must come from the same `ModelConfig` (same architecture); only their id
    tables differ in size.

    Args:
      source: the model trained on the source domain.
      target: an untrained model for the target domain.

    Returns:
      Names of the copied weights.

    Raises:
      ValueError: the architectures differ.
    """
    ensure_built(source)
    ensure_built(target)
    if len(source.weights) != len(target.weights):
        raise ValueError("source and target models differ in architecture")
    copied = []
    for s, t in zip(source.weights, target.weights, strict=True):
        if "id_embedding" in t.name:
            continue
        if s.shape != t.shape:
            raise ValueError(f"{t.name}: source shape {s.shape} != target shape {t.shape}")
        t.assign(s)
        copied.append(t.name)
    return copied


def freeze_text(model) -> None:
    """Freezes the text projection (shared by item text and user history pooling).

    Recompile the model afterwards: Keras reads ``trainable`` when it compiles.
    """
    projection = model.item_tower.dense_projections.get("text")
    if projection is None and model.user_tower.history is not None:
        projection = model.user_tower.history.projection
    if projection is None:
        raise ValueError("freeze_text needs a model with item text or user history")
    projection.trainable = False


def recent_fraction(train: pd.DataFrame, fraction: float) -> pd.DataFrame:
    """The most recent ``fraction`` of a time-sorted training frame (at least one row)."""
    n = max(1, int(round(len(train) * fraction)))
    return train.iloc[len(train) - n :]
