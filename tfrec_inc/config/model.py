"""The model section of the config: `ModelConfig`, its checks, labels and the model list.

Split from `tfrec_inc.config.schema` (part one) when the baseline keys were added; the
choice constants it checks against (`MODEL_TYPES`, `TRAINED_TYPES`, `POPULARITY_FORMS`,
...) stay there.

Example:
  >>> ModelConfig(type="ease", grid={"ease_lambda": []}).check("models[0]")
  Traceback (most recent call last):
  ...
  tfrec_inc.errors.ConfigError: models[0].grid.ease_lambda: give at least one value
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Sequence
from typing import Any

from tfrec_inc.config.schema import (
    HISTORY_POOLING,
    MODEL_TYPES,
    NEGATIVES,
    OPTIMIZERS,
    POPULARITY_FORMS,
    TRAINED_TYPES,
    check_choice,
    check_positive,
)
from tfrec_inc.errors import ConfigError

# Fields a grid may not vary: they say which model this is, not how it is computed.
_NOT_TUNABLE = ("name", "type", "grid", "search")


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """One model (a row of the results table) and how it is trained.

    Attributes:
      name: label used in tables and plots; defaults to ``type``.
      type: ``retrieval`` (two-tower, softmax over ``negatives``), ``ranking`` (rating
        MSE) or ``multitask`` (both on shared towers, weighted), all trained; or a
        baseline computed when it is built (no training; only its own keys below apply):
        ``popularity`` (item counts, see ``popularity``), ``itemknn``
        (item-item cosine with shrinkage), ``ials`` (implicit ALS, library ``implicit``),
        ``ease`` (Steck's closed form), ``rp3beta`` (random walk P3 with popularity
        penalty) or ``text_knn`` (mean item text vector of the user's items); or
        ``oracle`` (synthetic data only: the generator's true choice probabilities, an
        upper bound reported as a reference row, not a baseline).
      embedding_dim: size of id embeddings and of the tower outputs.
      layers: hidden sizes of the MLP on top of each tower (empty: no MLP).
      combine: how a tower joins its parts (id, features, text, history): ``concat``
        (concatenation, then a dense layer or the MLP) or ``sum`` (parts added: ids are
        a residual on the content, so the shared text projection keeps text similarity
        for cold users and items and across domains).
      user_id: give the user tower a user id embedding.
      user_features: feed the dataset's categorical user features to the user tower.
      user_history: encode the user's last ``history_length`` items
        before each prediction time: ``none``, ``mean``, ``attention`` (pooling against a
        learned query) or ``sequential`` (SASRec-style causal self-attention, the state at
        the last position, `tfrec_inc.models.sequential`: each position reads the item
        tower's own id embedding (``item_id``) and projected text (``item_text``), shared
        with the item tower; it needs at least one of them).
      history_length: items read by ``user_history``.
      sequence_blocks: ``sequential`` only: transformer blocks.
      sequence_heads: ``sequential`` only: attention heads per block.
      sequence_dropout: ``sequential`` only: dropout on inputs, attention and residuals.
      item_id: give the item tower an item id embedding.
      item_features: feed item genres/categories to the item tower.
      item_text: feed the item's text vector (from ``encoder``) to the item tower,
        through a trainable projection shared with the history pooling.
      text_adaptor: that projection: ``linear`` (one dense map) or ``moe`` (UniSRec's
        mixture of ``adaptor_experts`` whitened maps with a softmax gate,
        `tfrec_inc.models.adaptor`).
      adaptor_experts: ``moe`` only: experts.
      user_id_dropout: DropoutNet-style probability, per training example, of zeroing
        the user id embedding so the content parts (features, history) learn to serve
        cold users alone.
      item_id_dropout: the same for the item id embedding (cold items served by text).
      temperature: softmax temperature of the retrieval task.
      remove_accidental_hits: mask in-batch negatives that are the positive item.
      logq_correction: correct in-batch softmax logits by each candidate's training
        frequency (TFRS ``candidate_sampling_probability``; popularity-bias correction).
      negatives: the retrieval softmax's negatives: ``in_batch`` (the batch's other
        items; TFRS's default), ``mixed`` (those plus ``uniform_negatives`` items drawn
        uniformly from the catalog each step) or ``full`` (every catalog item: exact for
        catalogs of a few thousand items, no sampling bias).
      uniform_negatives: ``mixed`` only: uniform samples per step.
      recency_days: time-aware scoring (`tfrec_inc.models.recency`): horizons in days of
        each item's interaction counts strictly before the scoring moment (with its
        all-time count, age and the user's days since their last interaction), mapped by
        a small learned function into a score term; empty: off. ``type: retrieval`` with
        ``negatives: full`` only (every item is scored at the query's own time).
      retrieval_weight: ``multitask`` only: weight of the retrieval loss.
      rating_weight: ``multitask`` only: weight of the rating MSE (TFRS multitask tutorial).
      cross_replica_negatives: with several replicas (``runtime.distribute``), score each
        replica's users against the items of every replica's slice of the batch (an
        all-gather), so the in-batch softmax has ``batch_size`` candidates as on one
        device; false: each replica uses only its own ``batch_size / replicas`` items
        (plain TFRS, fewer negatives: TFRS issue #733). No effect on one replica.
      optimizer: ``adagrad``, ``adam`` or ``sgd``.
      learning_rate: optimizer learning rate.
      batch_size: training batch size.
      epochs: maximum epochs per training run.
      patience: early stopping: epochs without a better validation score (Recall@20 of the
        whole validation slice; minus RMSE for ranking) before training stops and the
        best epoch is restored (0: no early stopping, every epoch runs).
      shuffle_buffer: shuffle buffer of the training pipeline.
      popularity: what a ``popularity`` model counts: ``window`` (interactions of the
        current window's training slice: the default and the behaviour before this key
        existed), ``all`` (every interaction it is built on: the strategy's data, e.g.
        everything so far for ``full_retrain``) or ``decay`` (every interaction it is built
        on, weighted 0.5^(age / ``half_life_days``), age measured from the latest
        timestamp of that data).
      half_life_days: half-life of ``popularity: decay``, in days.
      neighbors: ``itemknn``: similarities kept per candidate item (its most similar
        items); ``rp3beta``: transition weights kept per history item; null keeps all.
      shrink: ``itemknn`` shrinkage: sim(i, j) = x_i·x_j / (|x_i| |x_j| + shrink).
      factors: ``ials`` latent factors.
      regularization: ``ials`` L2 regularization.
      iterations: ``ials`` ALS sweeps.
      ials_alpha: ``ials`` confidence weight of an interaction (``implicit``'s ``alpha``).
      ease_lambda: ``ease`` L2 regularization λ of B = argmin |X - XB|² + λ|B|², diag B = 0.
      rp3_alpha: ``rp3beta`` exponent α of the transition probabilities.
      rp3_beta: ``rp3beta`` popularity penalty β: the weight into item j is divided by
        its degree^β (0: plain P3α).
      grid: for the computed types: ``{key: [values, ...]}`` of numeric keys of this
        section; every combination (in the order given) is built and scored by recall on
        the window's validation slice, and the best one (ties: the first) is scored on
        the test slice, its values recorded as ``param_<key>`` metrics. Empty: no tuning.
      search: for ``tfrec-inc tune`` (`tfrec_inc.evaluation.search`), any type:
        ``{key: [values, ...]}`` of this section's keys; the tuner tries ``--trials`` points of
        it (Optuna) on the first window's validation slice and writes a config with the best
        values fixed. ``run`` ignores it.
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
    sequence_blocks: int = 2
    sequence_heads: int = 1
    sequence_dropout: float = 0.2
    item_id: bool = True
    item_features: bool = True
    item_text: bool = False
    text_adaptor: str = "linear"
    adaptor_experts: int = 8
    user_id_dropout: float = 0.0
    item_id_dropout: float = 0.0
    temperature: float = 1.0
    remove_accidental_hits: bool = False
    logq_correction: bool = False
    negatives: str = "in_batch"
    uniform_negatives: int = 1024
    recency_days: list[float] = dataclasses.field(default_factory=list)
    retrieval_weight: float = 1.0
    rating_weight: float = 1.0
    cross_replica_negatives: bool = True
    optimizer: str = "adagrad"
    learning_rate: float = 0.1
    batch_size: int = 4096
    epochs: int = 10
    patience: int = 2
    shuffle_buffer: int = 100_000
    popularity: str = "window"
    half_life_days: float = 7.0
    neighbors: int | None = 100
    shrink: float = 10.0
    factors: int = 100
    regularization: float = 0.01
    iterations: int = 15
    ials_alpha: float = 1.0
    ease_lambda: float = 500.0
    rp3_alpha: float = 1.0
    rp3_beta: float = 0.5
    grid: dict[str, list[Any]] = dataclasses.field(default_factory=dict)
    search: dict[str, list[Any]] = dataclasses.field(default_factory=dict)

    def check(self, where: str) -> None:
        """Checks one model's names, sizes, towers and training settings.

        Args:
          where: key path of this model (``models[1]``).

        Raises:
          ConfigError: the first broken rule.
        """
        check_choice(self.type, MODEL_TYPES, f"{where}.type")
        check_choice(self.optimizer, OPTIMIZERS, f"{where}.optimizer")
        for name in ("embedding_dim", "learning_rate", "batch_size", "epochs", "temperature"):
            check_positive(getattr(self, name), f"{where}.{name}")
        for j, size in enumerate(self.layers):
            check_positive(size, f"{where}.layers[{j}]")
        check_choice(self.user_history, HISTORY_POOLING, f"{where}.user_history")
        check_choice(self.combine, ("concat", "sum"), f"{where}.combine")
        check_choice(self.text_adaptor, ("linear", "moe"), f"{where}.text_adaptor")
        check_positive(self.adaptor_experts, f"{where}.adaptor_experts")
        check_positive(self.history_length, f"{where}.history_length")
        if not (self.item_id or self.item_text or self.item_features):
            raise ConfigError(f"{where}: the item tower needs item_id, item_text or item_features")
        if self.user_history == "sequential" and not (self.item_id or self.item_text):
            raise ConfigError(f"{where}.user_history: sequential reads the items' ids or text: "
                              f"set item_id or item_text")
        if not (self.user_id or self.user_features or self.user_history != "none"):
            raise ConfigError(f"{where}: the user tower needs user_id, user_features or user_history")
        check_choice(self.negatives, NEGATIVES, f"{where}.negatives")
        for name in ("retrieval_weight", "rating_weight"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{where}.{name}: must be >= 0, got {getattr(self, name)}")
        if self.retrieval_weight == self.rating_weight == 0:
            raise ConfigError(f"{where}: retrieval_weight and rating_weight are both 0: nothing to learn")
        check_positive(self.uniform_negatives, f"{where}.uniform_negatives")
        self._check_recency(where)
        check_positive(self.sequence_blocks, f"{where}.sequence_blocks")
        check_positive(self.sequence_heads, f"{where}.sequence_heads")
        for name in ("user_id_dropout", "item_id_dropout", "sequence_dropout"):
            if not 0 <= getattr(self, name) < 1:
                raise ConfigError(f"{where}.{name}: must be in [0, 1), got {getattr(self, name)}")
        if self.patience < 0:
            raise ConfigError(f"{where}.patience: must be >= 0, got {self.patience}")
        self._check_baselines(where)
        self._check_grid(where)

    def _check_recency(self, where: str) -> None:
        """``recency_days``: positive horizons, on a full-softmax retrieval model."""
        for j, days in enumerate(self.recency_days):
            check_positive(days, f"{where}.recency_days[{j}]")
        if self.recency_days and (self.type != "retrieval" or self.negatives != "full"):
            raise ConfigError(f"{where}.recency_days: needs type: retrieval with negatives: full (every "
                              f"item scored at the query's time), got {self.type} / {self.negatives}")

    def _check_baselines(self, where: str) -> None:
        """The keys of the computed types: a known popularity form, positive numbers."""
        check_choice(self.popularity, POPULARITY_FORMS, f"{where}.popularity")
        for name in ("half_life_days", "factors", "regularization", "iterations", "ials_alpha",
                     "ease_lambda", "rp3_alpha"):
            check_positive(getattr(self, name), f"{where}.{name}")
        if self.neighbors is not None:
            check_positive(self.neighbors, f"{where}.neighbors")
        for name in ("shrink", "rp3_beta"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{where}.{name}: must be >= 0, got {getattr(self, name)}")

    def _check_grid(self, where: str) -> None:
        """Grid keys are numeric fields, each with values that pass this section's checks."""
        if self.grid and self.type in TRAINED_TYPES:
            raise ConfigError(f"{where}.grid: only computed (untrained) types are tuned; "
                              f"{self.type!r} is trained with the settings given")
        self._check_space(self.grid, f"{where}.grid", where, numeric=True)
        self._check_space(self.search, f"{where}.search", where, numeric=False)

    def _check_space(self, space: dict[str, list[Any]], at_key: str, where: str, numeric: bool) -> None:
        """Each key of a ``grid``/``search`` is a tunable field; each value passes the model checks."""
        hints = typing.get_type_hints(ModelConfig)
        for key, values in space.items():
            at = f"{at_key}.{key}"
            if key not in hints or key in _NOT_TUNABLE:
                raise ConfigError(f"{at}: not a tunable key of a model")
            kinds = _numeric_kinds(hints[key])
            if numeric and not kinds:
                raise ConfigError(f"{at}: only numeric keys can be tuned")
            if not isinstance(values, list) or not values:
                raise ConfigError(f"{at}: give at least one value")
            for j, value in enumerate(values):
                if numeric and (isinstance(value, bool) or not isinstance(value, kinds)):
                    raise ConfigError(f"{at}[{j}]: expected a number of the key's type, got {value!r}")
                try:
                    point: dict[str, Any] = {key: value}
                    dataclasses.replace(self, grid={}, search={}, **point).check(where)
                except (ConfigError, TypeError) as exc:
                    raise ConfigError(f"{at}[{j}]: {exc}") from None


def model_label(model: ModelConfig) -> str:
    """The name a model has in tables and plots.

    Args:
      model: a model section.

    Returns:
      Its ``name``, or its ``type`` when unnamed.
    """
    return model.name or model.type


def check_models(models: Sequence[ModelConfig], where: str) -> None:
    """Checks the list of models: at least one, each valid, labels unique.

    Args:
      models: the ``models`` list.
      where: its key path (``models``).

    Raises:
      ConfigError: the first broken rule.
    """
    if not models:
        raise ConfigError(f"{where}: give at least one model")
    for i, model in enumerate(models):
        model.check(f"{where}[{i}]")
    labels = [model_label(m) for m in models]
    dup = {x for x in labels if labels.count(x) > 1}
    if dup:
        raise ConfigError(f"{where}: names must be unique, {sorted(dup)[0]!r} repeats (set name:)")


def _numeric_kinds(tp: Any) -> tuple[type, ...]:
    """The Python types a grid value of a field typed ``tp`` may have (empty: not numeric)."""
    args = typing.get_args(tp) if typing.get_origin(tp) in (types.UnionType, typing.Union) else (tp,)
    if float in args:
        return (int, float)
    return (int,) if int in args else ()
