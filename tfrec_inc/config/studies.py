"""The config schema, part two: the study sections and the whole `ExperimentConfig`.

As in `tfrec_inc.config.schema`, each section's ``check`` holds the rules about that
section alone; rules across sections live in `tfrec_inc.config.rules`.

Example:
  >>> ExperimentConfig().models[0].type
  'retrieval'
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from typing import Any

from tfrec_inc.config.model import ModelConfig
from tfrec_inc.config.schema import (
    COMPRESSION_VARIANTS,
    EWC_MODES,
    ROW_INITS,
    STRATEGIES,
    TRANSFER_MODES,
    DataConfig,
    EncoderConfig,
    EvaluationConfig,
    ReportConfig,
    RuntimeConfig,
    WindowsConfig,
    check_choice,
    check_positive,
)
from tfrec_inc.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class IncrementalConfig:
    """Settings of the update strategies.

    Attributes:
      sliding_windows: windows ``sliding_retrain`` trains on (the current one included).
      replay_size: past interactions replayed by ``replay`` (a reservoir sample); when
        null, ``replay_ratio`` × the size of the new data.
      replay_ratio: see ``replay_size``.
      distill_weight: weight of the distillation term of ``distill``.
      distill_temperature: softmax temperature of the distillation term.
      ewc_weight: weight λ of the ``ewc`` penalty λ/2 Σ F (θ - θ*)².
      ewc_mode: ``fisher`` (diagonal empirical Fisher of the previous update's data) or
        ``l2`` (F = 1: plain L2 to the previous weights).
      ewc_batches: batches used to estimate the Fisher diagonal.
      new_row_init: embedding rows of ids first seen in a window start ``random`` or,
        for items of text models, from the text vector through the current projection
        (``content``).
      fusion_score_weight: ``fusion_score``: weight of the previous model in the score
        ensemble; null tunes it on the validation slice.
      fusion_alpha: ``fusion_weights``: weight of the previous model's parameters.
    """

    sliding_windows: int = 2
    replay_size: int | None = None
    replay_ratio: float = 1.0
    distill_weight: float = 1.0
    distill_temperature: float = 1.0
    ewc_weight: float = 100.0
    ewc_mode: str = "fisher"
    ewc_batches: int = 20
    new_row_init: str = "random"
    fusion_score_weight: float | None = None
    fusion_alpha: float = 0.5

    def check(self, where: str) -> None:
        """Checks the strategy settings' sizes, weights and names.

        Args:
          where: key path of this section (``incremental``).

        Raises:
          ConfigError: the first broken rule.
        """
        check_positive(self.sliding_windows, f"{where}.sliding_windows")
        if self.replay_size is not None:
            check_positive(self.replay_size, f"{where}.replay_size")
        check_positive(self.replay_ratio, f"{where}.replay_ratio")
        check_positive(self.distill_temperature, f"{where}.distill_temperature")
        check_positive(self.ewc_batches, f"{where}.ewc_batches")
        for name in ("distill_weight", "ewc_weight"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{where}.{name}: must be >= 0, got {getattr(self, name)}")
        check_choice(self.ewc_mode, EWC_MODES, f"{where}.ewc_mode")
        for name in ("fusion_alpha", "fusion_score_weight"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= 1:
                raise ConfigError(f"{where}.{name}: must be in [0, 1], got {value}")
        check_choice(self.new_row_init, ROW_INITS, f"{where}.new_row_init")


@dataclasses.dataclass(frozen=True)
class TransferConfig:
    """Cross-domain transfer: pretrain on ``source``, then learn the target (``data``).

    Attributes:
      source: the source dataset; null means no transfer study.
      fractions: shares of the target's training interactions (the most recent ones)
        the target models are trained on: the points of the learning curves.
      modes: ``scratch`` (target only), ``zero_shot`` (the source model through its
        text and history paths, no target training), ``encoder_only`` (the same model
        untrained: what the text encoder alone gives, without the source; the baseline
        that isolates the source's contribution), ``fine_tune`` (initialised from
        the source), ``freeze_text`` (initialised from the source with its text
        projection frozen: only ids and the MLP train), ``fusion_score`` (score
        ensemble of zero_shot and scratch, weight tuned on validation) and
        ``fusion_weights`` (parameter average of zero_shot and fine_tune).
    """

    source: DataConfig | None = None
    fractions: list[float] = dataclasses.field(default_factory=lambda: [0.05, 0.1, 0.25, 0.5, 1.0])
    modes: list[str] = dataclasses.field(
        default_factory=lambda: ["scratch", "zero_shot", "fine_tune", "freeze_text"])
    def check(self, where: str) -> None:
        """Checks the mode names (even without a source) and, with a source, it and the fractions.

        Args:
          where: key path of this section (``transfer``).

        Raises:
          ConfigError: the first broken rule.
        """
        # Mode names are checked even without a source: a typo must not wait for the study.
        for i, mode in enumerate(self.modes):
            check_choice(mode, TRANSFER_MODES, f"{where}.modes[{i}]")
        if self.source is not None:
            self.source.check(f"{where}.source")
            if not self.fractions or any(not 0 < f <= 1 for f in self.fractions):
                raise ConfigError(f"{where}.fractions: give shares in (0, 1]")


def _check_variant(value: str, where: str) -> None:
    """A compression variant name: one of `COMPRESSION_VARIANTS` or ``prune_<1..99>``."""
    match = re.fullmatch(r"prune_(\d{1,2})", value)
    if match and 1 <= int(match.group(1)) <= 99:
        return
    check_choice(value, COMPRESSION_VARIANTS, where)


@dataclasses.dataclass(frozen=True)
class CompressionConfig:
    """Model compression: a study of variants, or a step after each incremental update.

    Attributes:
      variants: when not empty, the run is a compression study (``strategies`` are then
        not used): each retrieval model is trained on everything before the last window's
        validation slice, compressed into each variant and scored on the last window's
        test slice (``strategy`` = variant in ``metrics.csv``). Variants: ``fp32`` (the
        reference, required), ``fp32_finetuned`` (the fine-tuning of ``prune_*`` and
        ``qat_int8`` without compression: their control), ``prune_<N>`` (TF-MOT
        magnitude pruning of Dense and Embedding kernels to N % zeros, then fine-tuned
        and stripped), ``qat_int8`` (TF-MOT quantization-aware fine-tuning of the Dense
        and Embedding parts, converted to an int8 TFLite pair), ``tflite_dynamic`` /
        ``tflite_float16`` / ``tflite_int8`` (post-training quantization by the TFLite
        converter; int8 calibrated on training inputs) and ``rowwise_int8`` (every
        embedding and lookup table int8 with one scale per row).
      finetune_epochs: fine-tuning epochs of ``fp32_finetuned``, ``prune_*`` and ``qat_int8``.
      finetune_learning_rate: their learning rate (null: the model's).
      calibration_examples: training examples that calibrate ``tflite_int8``.
      latency_queries: single-user requests timed per variant (p50 / p99).
      after_update: a variant applied after every update of the incremental loop: the
        compressed model is the one evaluated; the next update starts from the
        uncompressed weights.
    """

    variants: list[str] = dataclasses.field(default_factory=list)
    finetune_epochs: int = 3
    finetune_learning_rate: float | None = None
    calibration_examples: int = 1000
    latency_queries: int = 200
    after_update: str | None = None

    def check(self, where: str) -> None:
        """Checks the settings (only when compression is used) and the variant names.

        Args:
          where: key path of this section (``compression``).

        Raises:
          ConfigError: the first broken rule.
        """
        if not self.variants and self.after_update is None:
            return
        for name in ("finetune_epochs", "calibration_examples", "latency_queries"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{where}.{name}: must be > 0, got {getattr(self, name)}")
        if self.finetune_learning_rate is not None and self.finetune_learning_rate <= 0:
            raise ConfigError(
                f"{where}.finetune_learning_rate: must be > 0, got {self.finetune_learning_rate}")
        for i, variant in enumerate(self.variants):
            _check_variant(variant, f"{where}.variants[{i}]")
        if self.variants:
            if len(set(self.variants)) != len(self.variants):
                raise ConfigError(f"{where}.variants: a variant is listed twice")
            if "fp32" not in self.variants:
                raise ConfigError(f"{where}.variants: include fp32 (the reference of every comparison)")
            if self.after_update is not None:
                raise ConfigError(f"{where}: give variants (a compression study) or after_update (the "
                                  "incremental loop), not both")
        if self.after_update is not None:
            _check_variant(self.after_update, f"{where}.after_update")
            if self.after_update == "fp32":
                raise ConfigError(f"{where}.after_update: fp32 is the uncompressed model; leave it null")


@dataclasses.dataclass(frozen=True)
class ExperimentConfig:
    """A whole experiment: data, windows, models × strategies × seeds, evaluation.

    Attributes:
      experiment: name; results go to ``results/<experiment>/``.
      seeds: one training run per seed.
      study: the kind of run (one of `STUDIES`): ``incremental`` (the ``strategies`` over
        the windows), ``transfer`` (needs ``transfer.source``) or ``compression`` (needs
        ``compression.variants``). When omitted it is resolved from those keys:
        ``transfer`` if ``transfer.source`` is set, else ``compression`` if
        ``compression.variants`` is not empty, else ``incremental``; the resolved kind is
        what a run's ``config.yaml`` records. When given it must agree with them.
      data: `DataConfig`.
      windows: `WindowsConfig`.
      models: the models to compare (at least one).
      strategies: incremental strategies (names from `STRATEGIES`).
      incremental: `IncrementalConfig` (strategy settings).
      transfer: `TransferConfig`; with a ``source`` the run is a transfer study
        (``strategies`` are then not used; the transfer ``modes`` take their place).
      compression: `CompressionConfig`; with ``variants`` the run is a compression study.
      encoder: `EncoderConfig` (used by models with ``item_text`` or ``user_history``).
      evaluation: `EvaluationConfig`.
      report: `ReportConfig`.
      runtime: `RuntimeConfig` (``tf.distribute`` strategy).
    """

    experiment: str = "experiment"
    seeds: list[int] = dataclasses.field(default_factory=lambda: [0])
    study: str | None = None
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    windows: WindowsConfig = dataclasses.field(default_factory=WindowsConfig)
    models: list[ModelConfig] = dataclasses.field(default_factory=lambda: [ModelConfig()])
    strategies: list[str] = dataclasses.field(default_factory=lambda: ["full_retrain"])
    incremental: IncrementalConfig = dataclasses.field(default_factory=IncrementalConfig)
    transfer: TransferConfig = dataclasses.field(default_factory=TransferConfig)
    compression: CompressionConfig = dataclasses.field(default_factory=CompressionConfig)
    encoder: EncoderConfig = dataclasses.field(default_factory=EncoderConfig)
    evaluation: EvaluationConfig = dataclasses.field(default_factory=EvaluationConfig)
    report: ReportConfig = dataclasses.field(default_factory=ReportConfig)
    runtime: RuntimeConfig = dataclasses.field(default_factory=RuntimeConfig)

    def to_dict(self) -> dict[str, Any]:
        """The config as plain dicts and lists.

        Returns:
          A dict that `tfrec_inc.config.from_dict` turns back into an equal config.
        """
        return dataclasses.asdict(self)

    def digest(self) -> str:
        """Short, stable hash of the resolved config (for manifests and caches).

        Returns:
          16 hex digits of the SHA-256 of the sorted JSON of `to_dict`.
        """
        blob = json.dumps(self.to_dict(), sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def check_run(self) -> None:
        """Checks the run's folder name and seeds.

        Raises:
          ConfigError: a name that is not one folder, or no seed.
        """
        if not self.experiment or any(c in self.experiment for c in "/\\") or self.experiment in (".", ".."):
            raise ConfigError(f"experiment: {self.experiment!r} is not a valid folder name")
        if not self.seeds:
            raise ConfigError("seeds: give at least one seed")

    def check_strategies(self) -> None:
        """Checks the strategy list: at least one, each a name from `STRATEGIES`.

        Raises:
          ConfigError: no strategy, or an unknown one.
        """
        if not self.strategies:
            raise ConfigError("strategies: give at least one strategy")
        for i, s in enumerate(self.strategies):
            check_choice(s, STRATEGIES, f"strategies[{i}]")
