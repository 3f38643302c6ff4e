"""The study registry: a study kind (``ExperimentConfig.study``) -> the module that runs it.

Every study has the same signature (`Study`): it gets the validated config, the prepared
domain and the run's results store, and returns long-format records. Adding a kind is a
new module with a ``run`` function of that signature, its name in
`tfrec_inc.config.STUDIES`, and one entry here (a test checks the two lists agree).
Modules are imported on lookup, so a run loads only its own study's dependencies (the
compression study pulls in TF Model Optimization, for instance).

Example:
  >>> sorted(REGISTRY)
  ['compression', 'incremental', 'transfer']
"""

from __future__ import annotations

import importlib
from typing import Protocol

from tfrec_inc.config import ExperimentConfig
from tfrec_inc.prepare import Prepared
from tfrec_inc.results import ResultsStore, StudyOutput


class Study(Protocol):
    """``run(cfg, prepared, store, quiet) -> StudyOutput``: one study kind."""

    def __call__(self, cfg: ExperimentConfig, prepared: Prepared, store: ResultsStore,
                 quiet: bool) -> StudyOutput: ...


REGISTRY: dict[str, str] = {
    "incremental": "tfrec_inc.incremental.study",
    "transfer": "tfrec_inc.transfer.study",
    "compression": "tfrec_inc.compression.study",
}


def get(kind: str) -> Study:
    """The ``run`` function of study ``kind``.

    Raises:
      KeyError: no such study kind.
    """
    return importlib.import_module(REGISTRY[kind]).run
