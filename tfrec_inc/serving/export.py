"""Export a trained model of a results folder as a TF SavedModel with a top-K index.

A results folder keeps each (model, strategy, seed) job's final model in
``models/<label>__<strategy>__seed<seed>/`` (``vocab.json`` + ``weights.npz``, see
`tfrec_inc.results`). `load_trained` rebuilds that model from the folder's
``config.yaml`` through the same preparation as the run (`tfrec_inc.prepare.prepare`:
same data, catalog and text vectors), and `export` wraps it in a
`tfrec_inc.serving.module.ServingModule` and saves it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from tfrec_inc import config as config_lib
from tfrec_inc.data.catalog import Catalog
from tfrec_inc.evaluation.protocol import candidate_items
from tfrec_inc.models.base import TwoTower
from tfrec_inc.models.factory import build
from tfrec_inc.models.persist import load_model
from tfrec_inc.models.retrieval import RetrievalModel
from tfrec_inc.prepare import prepare
from tfrec_inc.results import JobKey, model_dir, saved_models
from tfrec_inc.serving.module import INDEXES, ExportError, KnownInteractions, ServingModule, save_module


@dataclasses.dataclass
class Trained:
    """A results folder's final model, rebuilt, with what serving needs around it.

    Attributes:
      model: the rebuilt Keras model with its final weights.
      catalog: the dataset's catalog.
      label, strategy, seed: the job.
      candidates: catalog indices of every item known by the end of the last window.
      known: interactions up to the end of the last window (``user_id``, ``item_id``,
        ``timestamp``): the seen items excluded at serving time.
    """

    model: TwoTower
    catalog: Catalog
    label: str
    strategy: str
    seed: int
    candidates: np.ndarray
    known: pd.DataFrame


def load_trained(results_dir: str | Path, model: str | None = None, strategy: str | None = None,
                 seed: int | None = None) -> Trained:
    """Rebuilds one saved final model of a results folder (as the run built it).

    Args:
      results_dir: a results folder written by `tfrec_inc.experiment.run`.
      model, strategy, seed: which job; each may be omitted when only one value remains.

    Returns:
      The `Trained` model with its catalog, candidates and known interactions.

    Raises:
      ExportError: no ``config.yaml``, no saved models (e.g. the committed reference
        results), no or several matching jobs, a ranking model.
    """
    root = Path(results_dir)
    if not (root / "config.yaml").is_file():
        raise ExportError(f"{root} is not a results folder (no config.yaml)")
    job = _choose_job(root, model, strategy, seed)
    cfg = config_lib.load(root / "config.yaml")
    model_cfg = next((m for m in cfg.models if config_lib.model_label(m) == job.model), None)
    if model_cfg is None:
        raise ExportError(f"model {job.model!r} is not in {root / 'config.yaml'}")
    if model_cfg.type == "ranking":
        raise ExportError(f"{job.model!r} is a rating model: only retrieval models can be served by an index")
    if job.strategy == "fusion_score":
        raise ExportError("fusion_score serves a score ensemble of two models and only the carried "
                          "model is saved; export another strategy")
    # Exactly as `experiment.run` builds it: same data, windows, catalog and text vectors.
    prepared = prepare(cfg)
    try:
        built = load_model(model_dir(root, job),
                           lambda vocabs: build(model_cfg, prepared, prepared.base_train, vocabs))
    except ValueError as exc:
        raise ExportError(f"{exc}; was config.yaml edited after the run?") from None
    last = prepared.windows[-1]
    known = pd.concat([last.history, last.test])[["user_id", "item_id", "timestamp"]]
    return Trained(built, prepared.catalog, job.model, job.strategy, job.seed,
                   candidate_items(prepared.catalog, last), known)


def _choose_job(root: Path, model: str | None, strategy: str | None, seed: int | None) -> JobKey:
    """The one saved job matching the given parts, or a one-line `ExportError`."""
    jobs = saved_models(root)
    if not jobs:
        raise ExportError(f"{root} has no saved models (models/ is not kept in committed results); "
                          f"re-run the experiment: tfrec-inc run {root / 'config.yaml'} --output {root}")
    chosen = [j for j in jobs if (model is None or j.model == model)
              and (strategy is None or j.strategy == strategy) and (seed is None or j.seed == seed)]
    listing = ", ".join(f"{j.model}/{j.strategy}/seed {j.seed}" for j in jobs)
    if not chosen:
        raise ExportError(f"no saved model matches (model={model}, strategy={strategy}, seed={seed}); "
                          f"saved: {listing}")
    if len(chosen) > 1:
        raise ExportError(f"{len(chosen)} saved models match; pick one with --model/--strategy/--seed "
                          f"from: {', '.join(f'{j.model}/{j.strategy}/seed {j.seed}' for j in chosen)}")
    return chosen[0]


def export(results_dir: str | Path, out_dir: str | Path, index: str = "brute_force",
           k_max: int = 100, model: str | None = None, strategy: str | None = None,
           seed: int | None = None) -> Path:
    """Exports a results folder's final model as a SavedModel recommender.

    Args:
      results_dir: a results folder with ``models/`` (runs since models are kept).
      out_dir: the export folder to write (replaced if it exists).
      index: ``brute_force`` (exact) or ``scann`` (approximate, `tfrs...ScaNN`).
      k_max: the largest list length a query may ask for.
      model, strategy, seed: which job (may be omitted when the folder has one choice).

    Returns:
      ``out_dir``: a SavedModel (see the module docstring for its functions) and
      ``manifest.json`` (model label, strategy, seed, index, k_max, number of items,
      source results folder).

    Raises:
      ExportError: see `load_trained`; a bad ``index`` or ``k_max``.

    Example (needs a results folder with saved models, e.g. after ``make quickstart``, so not
    run by the tests; `tfrec_inc.serving.recommender` shows an export round trip that is):
      >>> export("results/quickstart", "/tmp/rec", model="ids", strategy="full_retrain",
      ...        seed=0)  # doctest: +SKIP
      >>> from tfrec_inc.serving.recommender import Recommender
      >>> rec = Recommender.load("/tmp/rec")  # doctest: +SKIP
    """
    if index not in INDEXES:
        raise ExportError(f"index must be one of {', '.join(INDEXES)}, got {index!r}")
    if int(k_max) < 1:
        raise ExportError(f"k_max must be >= 1, got {k_max}")
    trained = load_trained(results_dir, model, strategy, seed)
    if isinstance(trained.model, RetrievalModel) and trained.model.recency is not None:
        raise ExportError(f"{trained.label}: a time-aware model (recency_days) scores with an event log "
                          "at a moment; the SavedModel export serves two-tower models only")
    known = KnownInteractions.from_interactions(trained.known, trained.model.history_length)
    items = [trained.catalog.items.ids[i - 1] for i in trained.candidates]
    module = ServingModule(trained.model, trained.catalog, items, known, index, k_max)
    return save_module(module, out_dir, {
        "model": trained.label, "strategy": trained.strategy, "seed": trained.seed,
        "source": str(Path(results_dir).resolve()),
    })
