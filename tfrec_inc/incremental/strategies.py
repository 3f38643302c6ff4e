"""Update strategies: one small class each, one interface.

At window ``t`` a strategy says what to train on and whether to continue from the
previous model (`Update`), or that the model stays as it is (``None``). Stateful
strategies may add a loss term tied to the previous model (`penalty`) and record what
they need after training (`after_fit`). Everything else (windows, seeds, model config,
training loop, evaluation) is shared, so differences between strategies are theirs alone.

"New data" at window ``t`` is everything between the previous update's training data and
this window's validation slice: the previous window's valid and test slices (now past)
and this window's train slice.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import tensorflow as tf

from tfrec_inc.config import IncrementalConfig
from tfrec_inc.data.vocab import Vocabulary
from tfrec_inc.data.windows import Window, before_valid
from tfrec_inc.incremental import distillation
from tfrec_inc.models.base import TwoTower
from tfrec_inc.models.fusion import average, score_scale, tuned_ensemble
from tfrec_inc.models.ranking import RankingModel
from tfrec_inc.models.retrieval import RetrievalModel
from tfrec_inc.runtime import replica_share

Penalty = Callable[[dict, dict], tf.Tensor]
Tune = Callable[[TwoTower], float]
Rebuild = Callable[[tuple[Vocabulary, Vocabulary]], TwoTower]


@dataclasses.dataclass(frozen=True)
class Update:
    """One update: the interactions to train on and whether to warm-start.

    Attributes:
      data: interactions (rows of the dataset's sorted frame).
      warm_start: continue from the previous model (grown vocabularies) instead of a
        fresh initialisation.
    """

    data: pd.DataFrame
    warm_start: bool


def new_data(windows: Sequence[Window], t: int) -> pd.DataFrame:
    """Interactions that became available for training at window ``t``."""
    current = before_valid(windows[t])
    if t == 0:
        return current
    seen = before_valid(windows[t - 1]).index
    return current.drop(index=seen)


class Strategy(abc.ABC):
    """Interface shared by all strategies.

    Subclasses implement `update`; the other methods have neutral defaults. A strategy
    with state that must survive ``--resume`` returns it from `state` and reads it back
    in `restore` (the incremental study checkpoints it with every step).
    """

    name = ""

    @abc.abstractmethod
    def update(self, windows: Sequence[Window], t: int) -> Update | None:
        """What to train on at window ``t`` (None: keep the model unchanged)."""

    def penalty(self, previous: TwoTower | None, model: TwoTower) -> Penalty | None:
        """An extra loss term ``(features, outputs) -> scalar`` for ``model``, or None."""
        return None

    def after_fit(self, model: TwoTower, data: tf.data.Dataset) -> None:
        """Called after each update (e.g. to estimate a Fisher diagonal); default: nothing."""
        return None

    def state(self) -> dict[str, np.ndarray]:
        """What a checkpoint must keep to resume this strategy (default: nothing)."""
        return {}

    def restore(self, state: dict[str, np.ndarray]) -> None:
        """Reads back what `state` returned (called when a run resumes); default: nothing."""
        return None

    def tunes_on_validation(self, previous: TwoTower | None, model: TwoTower) -> bool:
        """Whether `fuse` will tune on validation data (default: no).

        When it does, the study early-stops the update on half A of the window's
        validation slice and hands `fuse` a ``tune`` on half B
        (`tfrec_inc.data.windows.valid_halves`); otherwise early stopping sees it all.
        """
        return False

    def fuse(self, previous: TwoTower | None, model: TwoTower, tune: Tune,
             build: Rebuild) -> tuple[TwoTower, TwoTower, dict[str, float]]:
        """The model to serve after an update, and the one to carry to the next update.

        Args:
          previous: the model before this update (None at the base window).
          model: the model just trained.
          tune: ``tune(candidate) -> float``, the candidate's validation Recall@20 (on
            half B of the validation slice when `tunes_on_validation` said so).
          build: ``build(vocabs) -> untrained model`` of this architecture.

        Returns:
          ``(served, carried, info)``; ``info`` holds numbers worth recording.
        """
        return model, model, {}


RETRAIN = ("static", "full_retrain", "sliding_retrain")
"""Strategies that build the model from scratch on their data (the only ones computed baselines run)."""


class Static(Strategy):
    """Train on the base window only, never update (the lower bound)."""

    name = "static"

    def update(self, windows: Sequence[Window], t: int) -> Update | None:
        return Update(windows[0].train, False) if t == 0 else None


class FullRetrain(Strategy):
    """Re-initialise and train on all data up to window ``t`` (the upper bound in cost)."""

    name = "full_retrain"

    def update(self, windows: Sequence[Window], t: int) -> Update | None:
        return Update(before_valid(windows[t]), False)


class SlidingRetrain(Strategy):
    """Re-initialise and train on the last ``size`` windows.

    Args:
      size: number of windows (the current one included).
    """

    name = "sliding_retrain"

    def __init__(self, size: int = 2) -> None:
        self.size = size

    def update(self, windows: Sequence[Window], t: int) -> Update | None:
        data = before_valid(windows[t])
        first = windows[max(0, t - self.size + 1)].train.index.min()
        return Update(data[data.index >= first], False)


class FineTune(Strategy):
    """Continue from the previous weights on the new data only."""

    name = "fine_tune"

    def update(self, windows: Sequence[Window], t: int) -> Update | None:
        return Update(new_data(windows, t), t > 0)


class Replay(FineTune):
    """Fine-tune on the new data plus a reservoir sample of past interactions.

    The reservoir is bottom-k sampling: every interaction gets a fixed random key (from
    the seed) when it arrives, and the reservoir is the ``size`` past interactions with
    the smallest keys — a uniform sample of the stream so far, identical to a reservoir
    maintained window by window, but a pure function of (seed, t), so resuming a run
    rebuilds it exactly.

    Args:
      size: reservoir size, or None for ``ratio`` × the new data's size.
      ratio: see ``size``.
      seed: the run's seed.
    """

    name = "replay"

    def __init__(self, size: int | None, ratio: float, seed: int) -> None:
        self.size, self.ratio, self.seed = size, ratio, seed

    def update(self, windows: Sequence[Window], t: int) -> Update | None:
        fresh = new_data(windows, t)
        if t == 0:
            return Update(fresh, False)
        past = before_valid(windows[t - 1])
        n_rows = int(windows[-1].test.index.max()) + 1
        keys = np.random.default_rng([self.seed, 7]).random(n_rows)
        size = self.size if self.size is not None else int(round(self.ratio * len(fresh)))
        size = min(size, len(past))
        chosen = past.index[np.argsort(keys[past.index.to_numpy()], kind="stable")[:size]]
        replayed = past.loc[np.sort(chosen)]
        return Update(pd.concat([replayed, fresh]), True)


class Distill(FineTune):
    """Fine-tune with knowledge distillation from the previous model.

    Only what the previous model (the teacher) was trained on is distilled: its output
    for an id it never saw comes from the untrained row 0 (e.g. a zero user vector, so a
    uniform softmax) and would pull the new model towards noise.

    Retrieval: ``weight · T² · Σ_rows KL(p_prev || p_new)`` over the rows whose user the
    teacher knows, between the teacher's and the student's in-batch softmax (temperature
    ``T``) restricted to, and renormalised over, the candidates the teacher knows: the
    teacher has no opinion on a new item, so the student may place it anywhere while
    keeping the teacher's ranking of the known ones. (Dropping the rows whose positive is
    new instead would discard those users' known-item preferences and still leave new
    items among the other rows' candidates.) Summed over the kept rows like TFRS's
    retrieval loss, so a kept row weighs the same at any batch size or share of new users.
    Ranking: ``weight · MSE(previous prediction, prediction)``, the mean over rows whose
    user and item the teacher both knows, like the rating loss.

    A row or batch with nothing to distil adds 0. A tower without an id table has no
    untrained row: its ids all count as known (the teacher's output is then content-based).

    Args:
      weight: weight of the distillation term.
      temperature: softmax temperature.
    """

    name = "distill"

    def __init__(self, weight: float, temperature: float) -> None:
        self.weight, self.temperature = weight, temperature

    def penalty(self, previous: TwoTower | None, model: TwoTower) -> Penalty | None:
        if previous is None or self.weight == 0:
            return None
        weight, temp = self.weight, self.temperature

        def distill(features, outputs):
            if "predictions" in outputs:
                return weight * distillation.ranking(previous, features, outputs["predictions"])
            return weight * temp**2 * distillation.retrieval(previous, features, outputs, temp)

        return distill


class EWC(FineTune):
    """Fine-tune with elastic weight consolidation to the previous model's weights.

    Penalty ``weight/2 · Σ F (θ - θ*)²`` with θ* the previous weights and F a diagonal
    empirical Fisher, or F = 1 in ``l2`` mode. F is the mean over ``batches`` batches of
    the previous update's data of the squared gradient of the model's task loss
    (`RetrievalModel.task_loss`: summed over the batch; ranking: the batch mean), in
    inference mode and without any penalty: a batch-gradient ("mean-reduced") estimate,
    not per-example squared gradients, which would cost a backward pass per row (or a
    [rows × parameters] Jacobian dominated by the id tables) in a step whose time is
    recorded as update cost. Near the previous optimum the mean per-row gradient is ~0,
    so the cross terms roughly cancel and the square of the summed gradient estimates
    ``batch × E[g²]``, the per-example Fisher on the scale of the summed batch loss it is
    added to (a batch-mean loss gives ``E[g²] / batch``; λ absorbs either scale). Rows of
    ids added since get F = 0: nothing anchors them. Written here because TFRS/Keras ship
    no EWC.

    Args:
      weight: λ.
      mode: ``fisher`` or ``l2``.
      batches: batches used to estimate F.
    """

    name = "ewc"

    def __init__(self, weight: float, mode: str = "fisher", batches: int = 20) -> None:
        self.weight, self.mode, self.batches = weight, mode, batches
        self.fisher: list[np.ndarray] | None = None

    def after_fit(self, model: TwoTower, data: tf.data.Dataset) -> None:
        if self.mode == "l2":
            self.fisher = [np.ones(w.shape, np.float32) for w in model.trainable_weights]
            return
        if not isinstance(model, RetrievalModel | RankingModel):
            raise TypeError(f"ewc needs a trained two-tower model, not {type(model).__name__}")
        sums = [np.zeros(w.shape, np.float32) for w in model.trainable_weights]
        # Outside a replica a distributed model reads each variable's first local copy:
        # differentiate with respect to that copy (whole batches on one device).
        sources = [w.values[0] if isinstance(w, tf.distribute.DistributedValues) else w
                   for w in model.trainable_weights]
        n = 0
        for batch in data.take(self.batches):
            with tf.GradientTape() as tape:
                # The task loss only, in inference mode: the penalties attached for the
                # update just trained (this strategy's own, anchored to the model before
                # it) are not the data's likelihood, and id dropout would make F random.
                loss = model.task_loss(batch, training=False)
            grads = tape.gradient(loss, sources)
            for acc, g in zip(sums, grads, strict=True):
                if g is not None:
                    acc += tf.square(tf.convert_to_tensor(g)).numpy()
            n += 1
        self.fisher = [s / max(n, 1) for s in sums]

    def penalty(self, previous: TwoTower | None, model: TwoTower) -> Penalty | None:
        if previous is None or self.fisher is None or self.weight == 0:
            return None
        anchors, fishers, weights = [], [], model.trainable_weights
        for w, old, f in zip(weights, previous.trainable_weights, self.fisher, strict=True):
            pad = [(0, a - b) for a, b in zip(w.shape, old.shape, strict=True)]
            anchors.append(tf.constant(np.pad(old.numpy(), pad)))
            fishers.append(tf.constant(np.pad(f, pad)))  # new rows: F = 0
        half = self.weight / 2.0

        def ewc(features, outputs):
            terms = [tf.reduce_sum(f * tf.square(w - a))
                     for w, a, f in zip(weights, anchors, fishers, strict=True)]
            # A whole-model term: every replica adds it, so each adds 1/R of it.
            return half * tf.add_n(terms) * replica_share()

        return ewc

    def state(self) -> dict[str, np.ndarray]:
        """What a checkpoint must keep to resume (the Fisher diagonal)."""
        return {} if self.fisher is None else {f"fisher_{i}": f for i, f in enumerate(self.fisher)}

    def restore(self, state: dict[str, np.ndarray]) -> None:
        keys = sorted((k for k in state if k.startswith("fisher_")), key=lambda k: int(k[7:]))
        self.fisher = [state[k] for k in keys] or None


class FusionScore(FineTune):
    """Fine-tune, then serve a score-level ensemble of the previous and the new model.

    The weight of the previous model comes from config or, when null, is the best of
    `tfrec_inc.models.fusion.WEIGHT_GRID` (0: the new model alone, ..., 1: the previous
    one alone). A tuned weight is chosen on half B of the window's validation slice while
    the update early-stops on half A (`tfrec_inc.data.windows.valid_halves`, see
    `tunes_on_validation`), so the weight is not tuned on the users the new model's
    epoch was picked for. The fine-tuned model (not the ensemble) is carried to the next
    update.

    Args:
      weight: weight of the previous model, or None to tune it.
    """

    name = "fusion_score"

    def __init__(self, weight: float | None = None) -> None:
        self.weight = weight

    def tunes_on_validation(self, previous: TwoTower | None, model: TwoTower) -> bool:
        return self.weight is None and previous is not None and isinstance(model, RetrievalModel)

    def fuse(self, previous: TwoTower | None, model: TwoTower, tune: Tune,
             build: Rebuild) -> tuple[TwoTower, TwoTower, dict[str, float]]:
        if previous is None or not isinstance(model, RetrievalModel):
            return model, model, {}
        users = np.arange(1, min(len(model.user_vocab), 200))
        items = np.arange(1, min(len(model.item_vocab), 500))
        scales = [score_scale(previous, users, items), score_scale(model, users, items)]
        fused, best = tuned_ensemble(previous, model, scales, tune, self.weight)
        return fused, model, {"fusion_weight": best}


class FusionWeights(FineTune):
    """Fine-tune, then average the parameters of the previous and the new model.

    Ids known to both models get the averaged row; ids new in this window keep the
    fine-tuned row. The averaged model is served and carried forward (a running
    average, like an exponential moving average of weights over windows).

    Args:
      alpha: weight of the previous model's parameters.
    """

    name = "fusion_weights"

    def __init__(self, alpha: float = 0.5) -> None:
        self.alpha = alpha

    def fuse(self, previous: TwoTower | None, model: TwoTower, tune: Tune,
             build: Rebuild) -> tuple[TwoTower, TwoTower, dict[str, float]]:
        if previous is None:
            return model, model, {}
        fused = average(previous, model, self.alpha, build)
        return fused, fused, {"fusion_weight": self.alpha}


# name -> (settings, run seed) -> strategy. `tfrec_inc.config.STRATEGIES` lists the same
# names (the config layer cannot import this one); a test keeps the two equal.
REGISTRY: dict[str, Callable[[IncrementalConfig, int], Strategy]] = {
    "static": lambda cfg, seed: Static(),
    "full_retrain": lambda cfg, seed: FullRetrain(),
    "sliding_retrain": lambda cfg, seed: SlidingRetrain(cfg.sliding_windows),
    "fine_tune": lambda cfg, seed: FineTune(),
    "replay": lambda cfg, seed: Replay(cfg.replay_size, cfg.replay_ratio, seed),
    "distill": lambda cfg, seed: Distill(cfg.distill_weight, cfg.distill_temperature),
    "ewc": lambda cfg, seed: EWC(cfg.ewc_weight, cfg.ewc_mode, cfg.ewc_batches),
    "fusion_score": lambda cfg, seed: FusionScore(cfg.fusion_score_weight),
    "fusion_weights": lambda cfg, seed: FusionWeights(cfg.fusion_alpha),
}


def get(name: str, cfg: IncrementalConfig | None = None, seed: int = 0) -> Strategy:
    """The strategy called ``name`` with its settings from ``cfg``.

    Example:
      >>> get("sliding_retrain", IncrementalConfig(sliding_windows=3)).size
      3
    """
    return REGISTRY[name](cfg or IncrementalConfig(), seed)
