"""Chronological windows with train / valid / test slices, and their `tf.data` pipelines.

Each window covers a time range; inside it, the earliest interactions train, the next
ones validate (early stopping) and the latest ones test, so valid and test always
come after train in time. Every cut is made *between* two distinct timestamps, so two
events with the same timestamp never land on opposite sides of a cut.

The model updated with window ``t`` is evaluated on window ``t``'s test slice, which
lies in its future; everything before that slice (earlier windows included) is the
user's history for seen-item exclusion and cold/warm grouping.

Two modes cut per user instead of in global time, into one window: ``leave_one_out``
(each user's last interaction tests, the one before validates) and ``given`` (the
dataset's own ``split`` column, see `tfrec_inc.data.interactions.Interactions`). Their
test slices are each user's future, not the data's: one user's test may be older than
another user's training rows.

Example:
  >>> from tfrec_inc.data import load
  >>> data = load("synthetic", num_users=60, num_items=40, num_interactions=600)
  >>> windows = split(data.interactions, WindowsConfig(num_windows=4))
  >>> [len(w.test) for w in windows]
  [10, 10, 10, 10]
  >>> all(w.train["timestamp"].max() < w.test["timestamp"].min() for w in windows)
  True
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from tfrec_inc.config import WindowsConfig
from tfrec_inc.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class Window:
    """One chronological window.

    Attributes:
      index: 0-based position.
      train: interactions for the update at this window.
      valid: held out for early stopping (may be empty).
      test: evaluation slice, after ``train`` and ``valid`` in time (per user only, for
        ``leave_one_out`` and ``given``).
      history: every interaction before ``test`` (all earlier windows, plus this
        window's train and valid slices): the "seen" set at evaluation time.
    """

    index: int
    train: pd.DataFrame
    valid: pd.DataFrame
    test: pd.DataFrame
    history: pd.DataFrame


def _cut(ts: np.ndarray, fraction: float) -> int:
    """Row position near ``fraction`` of sorted ``ts`` that falls between two timestamps."""
    pos = int(round(len(ts) * fraction))
    pos = min(max(pos, 0), len(ts))
    if 0 < pos < len(ts):
        # Move the cut to the first row of the tied timestamp run (keep ties together).
        pos = int(np.searchsorted(ts, ts[pos], side="left"))
    return pos


def split(interactions: pd.DataFrame, cfg: WindowsConfig) -> list[Window]:
    """Cuts time-sorted interactions into windows.

    Args:
      interactions: frame sorted by ``timestamp`` (as `Interactions` keeps it).
      cfg: the windows config.

    Returns:
      The windows, oldest first.

    Raises:
      ConfigError: a window or its train/test slice would be empty; ``given`` on a frame
        without a ``split`` column.
    """
    frame = interactions.reset_index(drop=True)
    if cfg.mode == "random":
        return [_random_window(frame, cfg)]
    if cfg.mode == "leave_one_out":
        return [_leave_one_out(frame)]
    if cfg.mode == "given":
        return [_given_window(frame)]
    ts = frame["timestamp"].to_numpy()
    if cfg.mode == "count":
        starts = [_cut(ts, i / cfg.num_windows) for i in range(cfg.num_windows)]
    elif cfg.mode == "time":
        lo, hi = int(ts[0]), int(ts[-1])
        edges = [lo + (hi - lo) * i / cfg.num_windows for i in range(cfg.num_windows)]
        starts = [int(np.searchsorted(ts, e, side="left")) for e in edges]
    else:  # boundaries
        starts = [0] + [int(np.searchsorted(ts, b, side="left")) for b in cfg.boundaries]
    bounds = list(zip(starts, starts[1:] + [len(frame)], strict=True))

    windows = []
    for index, (lo, hi) in enumerate(bounds):
        if hi <= lo:
            raise ConfigError(
                f"windows: window {index} is empty (ties or gaps in timestamps); "
                "use fewer windows or other boundaries"
            )
        local = ts[lo:hi]
        test_start = lo + _cut(local, 1.0 - cfg.test_fraction)
        valid_start = lo + _cut(local, 1.0 - cfg.test_fraction - cfg.valid_fraction)
        if cfg.valid_fraction == 0:
            valid_start = test_start
        if not lo < valid_start <= test_start < hi:
            raise ConfigError(
                f"windows: window {index} has {hi - lo} interactions, too few (or too many "
                "tied timestamps) to cut train/valid/test; use fewer windows"
            )
        windows.append(
            Window(
                index=index,
                train=frame.iloc[lo:valid_start],
                valid=frame.iloc[valid_start:test_start],
                test=frame.iloc[test_start:hi],
                history=frame.iloc[:test_start],
            )
        )
    return windows


def _random_window(frame: pd.DataFrame, cfg: WindowsConfig) -> Window:
    """One shuffled split, only for parity with the TFRS tutorials (it leaks the future)."""
    order = np.random.default_rng(cfg.seed).permutation(len(frame))
    n_test = int(round(len(frame) * cfg.test_fraction))
    n_valid = int(round(len(frame) * cfg.valid_fraction))
    n_train = len(frame) - n_test - n_valid
    train = frame.iloc[np.sort(order[:n_train])]
    valid = frame.iloc[np.sort(order[n_train : n_train + n_valid])]
    return Window(
        index=0,
        train=train,
        valid=valid,
        test=frame.iloc[np.sort(order[n_train + n_valid :])],
        history=pd.concat([train, valid]),
    )


def _from_labels(frame: pd.DataFrame, labels: np.ndarray, what: str) -> Window:
    """The one window whose slices are the rows labelled train / valid / test (frame order)."""
    test = frame[labels == "test"]
    if test.empty:
        raise ConfigError(f"windows: {what} leaves no test interactions")
    return Window(
        index=0,
        train=frame[labels == "train"],
        valid=frame[labels == "valid"],
        test=test,
        history=frame[labels != "test"],
    )


def _leave_one_out(frame: pd.DataFrame) -> Window:
    """Per user: the last interaction tests, the one before validates, the rest trains.

    "Last" is by timestamp, ties broken by the frame's order. Users with fewer than 3
    interactions keep them all in train (they are never evaluated).
    """
    order = frame.sort_values("timestamp", kind="stable")
    by_user = order.groupby("user_id", sort=False)["user_id"]
    from_end = by_user.cumcount(ascending=False).to_numpy()
    size = by_user.transform("size").to_numpy()
    labels = np.full(len(frame), "train", dtype=object)
    held = size >= 3
    labels[order.index[held & (from_end == 0)]] = "test"
    labels[order.index[held & (from_end == 1)]] = "valid"
    return _from_labels(frame, labels, "leave_one_out (every user has < 3 interactions)")


def _given_window(frame: pd.DataFrame) -> Window:
    """The dataset's own split: its ``split`` column (``train`` / ``valid`` / ``test``)."""
    if "split" not in frame.columns:
        raise ConfigError("windows.mode: given needs a dataset that ships its own train/valid/test "
                          "split (interactions with a 'split' column)")
    return _from_labels(frame, frame["split"].to_numpy(), "the given split")


def make_dataset(
    features: dict[str, np.ndarray],
    batch_size: int,
    shuffle: bool = False,
    seed: int | None = None,
    shuffle_buffer: int = 100_000,
):
    """An in-memory `tf.data` pipeline: (shuffle with seed) -> batch -> prefetch.

    Row *indices* are shuffled and batched, and each batch is gathered from the feature
    tensors in one op: the same batches as shuffling the rows themselves with the same
    seed and buffer, at half the cost per epoch.

    Args:
      features: equal-length arrays, e.g. from `Catalog.encode`.
      batch_size: examples per batch.
      shuffle: reshuffle every epoch (training).
      seed: shuffle seed, so a run is repeatable.
      shuffle_buffer: buffer size; the whole slice when it is smaller.

    Returns:
      A `tf.data.Dataset` of feature dicts.
    """
    import tensorflow as tf

    tensors = {name: tf.constant(values) for name, values in features.items()}
    n = len(next(iter(features.values())))
    ds = tf.data.Dataset.range(n)
    if shuffle:
        ds = ds.shuffle(min(shuffle_buffer, max(n, 1)), seed=seed, reshuffle_each_iteration=True)

    def gather(index):
        return {name: tf.gather(t, index) for name, t in tensors.items()}

    return ds.batch(batch_size).map(gather).prefetch(tf.data.AUTOTUNE)


def recent_fraction(train: pd.DataFrame, fraction: float, per_user: bool = False) -> pd.DataFrame:
    """The most recent ``fraction`` of a time-sorted training frame (at least one row).

    Args:
      train: training rows sorted by ``timestamp``.
      fraction: the share to keep, in (0, 1].
      per_user: keep the most recent ``ceil(fraction * n_u)`` rows of each user instead
        of a global time cut: for per-user splits (``leave_one_out``, ``given``), whose
        timestamps may be sequence positions with no common clock, a global cut would
        keep only the long-history users' tails.

    Returns:
      The kept rows, in ``train``'s order.

    Example:
      >>> frame = pd.DataFrame({"timestamp": range(10)})
      >>> recent_fraction(frame, 0.3)["timestamp"].tolist()
      [7, 8, 9]
      >>> seqs = pd.DataFrame({"user_id": [1, 1, 1, 1, 2, 2], "timestamp": [0, 1, 2, 3, 0, 1]})
      >>> recent_fraction(seqs, 0.5, per_user=True).index.tolist()
      [2, 3, 5]
    """
    if per_user:
        n_user = train.groupby("user_id")["user_id"].transform("size").to_numpy()
        from_end = train.groupby("user_id").cumcount(ascending=False).to_numpy()
        return train[from_end < np.maximum(1, np.ceil(n_user * fraction))]
    n = max(1, int(round(len(train) * fraction)))
    return train.iloc[len(train) - n :]


def before_valid(window: Window) -> pd.DataFrame:
    """Everything before the window's validation slice (all past windows + this train slice)."""
    return window.history.drop(index=window.valid.index)


VALID_SPLIT_SEED = 1729  # fixed: the halves are a property of the data, not of a run


def valid_halves(window: Window) -> tuple[Window, Window]:
    """The window twice, with user-disjoint halves of its validation slice: ``(A, B)``.

    One slice cannot both choose a model's epoch and tune something on that model (e.g. a
    fusion weight): the tuning would favour whatever the first choice overfitted to. The
    rule is fixed and seeded: the slice's distinct users, sorted, are permuted by
    ``numpy.random.default_rng([VALID_SPLIT_SEED, window.index])``; the first ``ceil(n/2)``
    are half A, the rest half B. Every model, strategy, seed and resumed run gets the same
    halves. Each half also drops the other's rows from ``history``, so `before_valid` of
    either half equals the window's: only the scored users differ. Use them for
    validation only (``history`` no longer holds everything before ``test``).

    Example:
      >>> frame = pd.DataFrame({"user_id": [1, 2, 3, 1, 4, 5], "timestamp": range(6)})
      >>> w = Window(0, frame[:1], frame[1:], frame[:0], frame)
      >>> a, b = valid_halves(w)
      >>> len(a.valid), len(b.valid)  # 5 distinct validation users: 3 + 2
      (3, 2)
      >>> set(a.valid["user_id"]) & set(b.valid["user_id"]), len(before_valid(a)) == len(before_valid(w))
      (set(), True)
    """
    valid = window.valid
    users = np.sort(valid["user_id"].unique())
    order = np.random.default_rng([VALID_SPLIT_SEED, window.index]).permutation(len(users))
    in_a = valid["user_id"].isin(users[order[: (len(users) + 1) // 2]])
    a, b = valid[in_a], valid[~in_a]
    return (dataclasses.replace(window, valid=a, history=window.history.drop(index=b.index)),
            dataclasses.replace(window, valid=b, history=window.history.drop(index=a.index)))
