import numpy as np
import pandas as pd
import tensorflow as tf

from tfrec_inc.evaluation.protocol import rank_items


class _FixedModel:
    """Towers returning fixed vectors, so scores (and their ties) are known exactly."""

    def __init__(self, users: np.ndarray, items: np.ndarray) -> None:
        self._u = tf.constant(users, tf.float32)
        self._i = tf.constant(items, tf.float32)

    def user_tower(self, features):
        return tf.gather(self._u, features["user"])

    def item_tower(self, features):
        return tf.gather(self._i, features["item"])


def test_rank_items_breaks_ties_by_index_and_excludes_seen():
    # Item scores for user 1: item 1 -> 1, items 2 and 3 tie at 2, item 4 -> 3.
    items = np.array([[0.0], [1.0], [2.0], [2.0], [3.0]])
    users = np.array([[0.0], [1.0], [-1.0]])
    model = _FixedModel(users, items)
    candidates = np.array([1, 2, 3, 4])
    ranked = rank_items(model, np.array([1, 2]), candidates, None, k=4)
    assert ranked.tolist() == [[4, 2, 3, 1], [1, 2, 3, 4]]
    seen = pd.DataFrame({"user": [1, 2], "item": [4, 1]})
    ranked = rank_items(model, np.array([1, 2]), candidates, seen, k=3, batch_size=1)
    assert ranked.tolist() == [[2, 3, 1], [2, 3, 4]]


def test_rank_items_pads_when_fewer_candidates_than_k():
    model = _FixedModel(np.array([[0.0], [1.0]]), np.array([[0.0], [1.0], [2.0]]))
    ranked = rank_items(model, np.array([1]), np.array([1, 2]), None, k=4)
    assert ranked.tolist() == [[2, 1, -1, -1]]
