"""Rules that need more than one config section, the study kind, and the order of all checks.

Each section checks itself (its ``check`` method); this module adds what only the whole
config can tell: which study a run is, and what a transfer or compression study asks of
the models, the encoder and the strategies.

Example:
  >>> from tfrec_inc.config.studies import ExperimentConfig
  >>> resolve_study(ExperimentConfig())
  'incremental'
"""

from __future__ import annotations

from tfrec_inc.config.model import check_models
from tfrec_inc.config.schema import RATING_TYPES, REFERENCE_TYPES, STUDIES, check_choice
from tfrec_inc.config.studies import ExperimentConfig
from tfrec_inc.errors import ConfigError

# Datasets whose files hold their own train/valid/test split (``windows.mode: given``);
# the same names as `tfrec_inc.data.GIVEN_SPLIT_DATASETS` (a test keeps them equal).
GIVEN_SPLIT_DATASETS = ("amazon-office", "amazon-scientific")


def _study_keys(cfg: ExperimentConfig) -> dict[str, tuple[str, bool]]:
    """Study kind -> (the key that asks for it, whether ``cfg`` sets it), in resolution order.

    ``incremental`` is the kind when no key asks for another; a new kind adds its entry here.
    """
    return {
        "transfer": ("transfer.source", cfg.transfer.source is not None),
        "compression": ("compression.variants", bool(cfg.compression.variants)),
    }


def resolve_study(cfg: ExperimentConfig) -> str:
    """The study kind of ``cfg``: its explicit ``study``, checked, or the kind its keys imply.

    Args:
      cfg: a config as read, ``study`` possibly None.

    Returns:
      One of `STUDIES`: when ``study`` is None, the first kind whose key is set (``transfer``
      before ``compression``), else ``incremental``.

    Raises:
      ConfigError: an unknown kind, or an explicit kind its keys contradict.
    """
    keys = _study_keys(cfg)
    if cfg.study is None:
        return next((kind for kind, (_, is_set) in keys.items() if is_set), "incremental")
    check_choice(cfg.study, STUDIES, "study")
    if cfg.study in keys and not keys[cfg.study][1]:
        raise ConfigError(f"study: {cfg.study} needs {keys[cfg.study][0]}")
    for kind, (key, is_set) in keys.items():
        if is_set and kind != cfg.study:
            raise ConfigError(f"study: {cfg.study}, but {key} is set (that makes a {kind} study)")
    return cfg.study


def _check_transfer(cfg: ExperimentConfig) -> None:
    """A transfer study: no PCA (it would differ by domain); retrieval models without dataset features."""
    if cfg.transfer.source is None:
        return
    if cfg.encoder.pca_dim is not None:
        raise ConfigError("encoder.pca_dim: not with transfer (source and target PCA would differ)")
    for i, m in enumerate(cfg.models):
        if m.type == "retrieval" and (m.user_features or m.item_features):
            raise ConfigError(
                f"models[{i}]: transfer models cannot use dataset-specific user_features or "
                "item_features (set both false); text and history carry across domains")
        if m.type in RATING_TYPES:
            raise ConfigError(f"models[{i}]: transfer studies compare retrieval models (got {m.type!r})")


def _check_windows(cfg: ExperimentConfig) -> None:
    """``windows.mode: given`` needs datasets that ship a split (the target, and a transfer source)."""
    if cfg.windows.mode != "given":
        return
    domains = [("data", cfg.data)] + ([("transfer.source", cfg.transfer.source)]
                                      if cfg.transfer.source is not None else [])
    for where, data in domains:
        if data.dataset not in GIVEN_SPLIT_DATASETS:
            raise ConfigError(f"windows.mode: given needs a dataset with its own train/valid/test split "
                              f"({', '.join(GIVEN_SPLIT_DATASETS)}); {where}.dataset "
                              f"{data.dataset!r} has none")


def _check_oracle(cfg: ExperimentConfig) -> None:
    """``type: oracle`` ranks by the generator's truth: only generated data has one."""
    for i, m in enumerate(cfg.models):
        if m.type in REFERENCE_TYPES and cfg.data.dataset != "synthetic":
            raise ConfigError(f"models[{i}]: type {m.type} needs data.dataset: synthetic (the generator's "
                              f"truth), not {cfg.data.dataset!r}")


def _check_recency(cfg: ExperimentConfig) -> None:
    """Time-aware models (``recency_days``) are scored by the protocol; not compressed, transferred
    or score-fused (those paths read the two towers only)."""
    timed = [i for i, m in enumerate(cfg.models) if m.recency_days]
    if not timed:
        return
    where = f"models[{timed[0]}].recency_days"
    if cfg.transfer.source is not None or cfg.compression.variants or cfg.compression.after_update:
        raise ConfigError(f"{where}: not in transfer or compression studies (they read the towers only)")
    if "fusion_score" in cfg.strategies:
        raise ConfigError(f"{where}: not with strategy fusion_score (its ensemble reads the towers only)")


def _check_compression(cfg: ExperimentConfig) -> None:
    """Compression: frozen text vectors; retrieval models and computed baselines; no ensembles."""
    comp = cfg.compression
    if not comp.variants and comp.after_update is None:
        return
    if cfg.encoder.trainable:
        raise ConfigError("compression: not with encoder.trainable (a Hub encoder in the tower cannot be "
                          "pruned, quantized or converted to TFLite); use frozen text vectors")
    if comp.variants:
        if cfg.transfer.source is not None:
            raise ConfigError("compression.variants: a run is a transfer or a compression study, not both")
        for i, m in enumerate(cfg.models):
            if m.type in RATING_TYPES:
                raise ConfigError(f"models[{i}]: a compression study compares retrieval models "
                                  f"and computed baselines (got type {m.type!r})")
    if comp.after_update is not None and "fusion_score" in cfg.strategies:
        raise ConfigError("compression.after_update: not with fusion_score (a score ensemble of two "
                          "models is not one model to compress)")


def check_config(cfg: ExperimentConfig) -> None:
    """Runs every rule, sections and cross-section ones, in a fixed order.

    Args:
      cfg: a config as built from YAML (``study`` already resolved).

    Raises:
      ConfigError: the first broken rule, naming its key path.
    """
    cfg.check_run()
    cfg.data.check("data")
    cfg.transfer.check("transfer")
    _check_transfer(cfg)
    cfg.windows.check("windows")
    _check_windows(cfg)
    check_models(cfg.models, "models")
    _check_oracle(cfg)
    _check_recency(cfg)
    cfg.check_strategies()
    cfg.incremental.check("incremental")
    cfg.compression.check("compression")
    _check_compression(cfg)
    cfg.encoder.check("encoder")
    cfg.evaluation.check("evaluation")
    cfg.runtime.check("runtime")
