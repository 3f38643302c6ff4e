"""A trained model on disk: its id vocabularies (``vocab.json``) and weights (``weights.npz``).

The architecture is not stored: it is rebuilt from the run's config (`models.factory.build`)
with the saved vocabularies, and the weights are assigned in ``model.weights`` order. Used by
the run's checkpoints, the final models a results folder keeps, and serving exports.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from tfrec_inc.data.vocab import Vocabulary
from tfrec_inc.models.base import TwoTower

VOCAB_FILE = "vocab.json"
WEIGHTS_FILE = "weights.npz"


def save_model(model: TwoTower, folder: str | Path) -> None:
    """Writes ``model``'s vocabularies and weights into ``folder`` (which must exist).

    Example:
      >>> import os, shutil, tempfile
      >>> from tfrec_inc import config
      >>> from tfrec_inc.models.factory import build
      >>> from tfrec_inc.prepare import prepare
      >>> cfg = config.from_dict({"data": {"options": {"num_users": 60, "num_items": 40,
      ...     "num_interactions": 600}}, "windows": {"num_windows": 2}})
      >>> prepared = prepare(cfg)
      >>> model = build(cfg.models[0], prepared, prepared.base_train)
      >>> folder = tempfile.mkdtemp()
      >>> save_model(model, folder)
      >>> sorted(os.listdir(folder))
      ['vocab.json', 'weights.npz']
      >>> shutil.rmtree(folder)
    """
    folder = Path(folder)
    (folder / VOCAB_FILE).write_text(json.dumps(
        {"users": model.user_vocab.ids, "items": model.item_vocab.ids}))
    np.savez(folder / WEIGHTS_FILE, *[w.numpy() for w in model.weights])


def load_model(folder: str | Path,
               rebuild: Callable[[tuple[Vocabulary, Vocabulary]], TwoTower]) -> TwoTower:
    """Rebuilds the model saved in ``folder``.

    Args:
      folder: holds ``vocab.json`` and ``weights.npz`` (see `save_model`).
      rebuild: ``rebuild((user_vocab, item_vocab)) -> untrained, built model`` of the
        saved architecture (e.g. `tfrec_inc.models.factory.build` with ``vocabs``).

    Returns:
      The model with the saved weights.

    Raises:
      ValueError: the saved weights do not fit the rebuilt architecture.

    Example:
      >>> import shutil, tempfile
      >>> from tfrec_inc import config
      >>> from tfrec_inc.models.factory import build
      >>> from tfrec_inc.prepare import prepare
      >>> cfg = config.from_dict({"data": {"options": {"num_users": 60, "num_items": 40,
      ...     "num_interactions": 600}}, "windows": {"num_windows": 2}})
      >>> prepared = prepare(cfg)
      >>> model = build(cfg.models[0], prepared, prepared.base_train)
      >>> folder = tempfile.mkdtemp()
      >>> save_model(model, folder)
      >>> again = load_model(folder, lambda v: build(cfg.models[0], prepared, prepared.base_train, vocabs=v))
      >>> all(np.array_equal(a, b) for a, b in zip(model.weights, again.weights))
      True
      >>> shutil.rmtree(folder)
    """
    folder = Path(folder)
    ids = json.loads((folder / VOCAB_FILE).read_text())
    model = rebuild((Vocabulary(ids["users"]), Vocabulary(ids["items"])))
    with np.load(folder / WEIGHTS_FILE) as saved:
        if len(saved.files) != len(model.weights):
            raise ValueError(f"{folder}: {len(saved.files)} saved weights for a model with "
                             f"{len(model.weights)}")
        for i, w in enumerate(model.weights):
            w.assign(saved[f"arr_{i}"])
    return model
