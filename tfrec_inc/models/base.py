"""The contract every scored model meets: two towers, id vocabularies, a history length.

Retrieval, rating, popularity and fused models all satisfy `TwoTower`, so one
full-ranking protocol (`tfrec_inc.evaluation.protocol`), one persistence format
(`tfrec_inc.models.persist`) and one serving export handle them all.
"""

from __future__ import annotations

from typing import Any, Protocol

from tfrec_inc.data.vocab import Vocabulary


class TwoTower(Protocol):
    """A model scoring ``user_tower(features) · item_tower(features)``.

    Attributes:
      user_tower: ``{"user": int [B], "history": int [B, L]?} -> float [B, d]``.
      item_tower: ``{"item": int [B]} -> float [B, d]``.
      user_vocab: ids with their own user row (set by the constructor).
      item_vocab: ids with their own item row (set by the constructor).
      history_length: items of history the user tower reads (0: none).
      penalties: extra loss terms ``(features, outputs) -> scalar`` of incremental
        strategies, applied by ``compute_loss``.
    """

    user_tower: Any
    item_tower: Any
    user_vocab: Vocabulary
    item_vocab: Vocabulary
    penalties: list

    @property
    def history_length(self) -> int: ...

    # Every implementation is a tf.keras.Model: these come from Keras.
    @property
    def weights(self) -> list: ...

    @property
    def trainable_weights(self) -> list: ...

    def __call__(self, *args: Any, **kwargs: Any) -> Any: ...

    def compute_loss(self, *args: Any, **kwargs: Any) -> Any: ...

    def compile(self, *args: Any, **kwargs: Any) -> None: ...
