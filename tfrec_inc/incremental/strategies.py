"""Update strategies: one small class each, one interface (which data, when).

A strategy decides, for window ``t``, the interactions a freshly initialised model is
trained on — or ``None`` to keep the previous model unchanged. All strategies share
windows, seeds, model config and evaluation, so differences are the strategy's alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from tfrec_inc.data.windows import Window


def _before_valid(window: Window) -> pd.DataFrame:
    """Everything before the window's validation slice (all past windows + this train)."""
    return window.history.drop(index=window.valid.index)


class Strategy:
    """Interface: ``training_data(windows, t)`` -> frame to train a new model on, or None."""

    name = ""

    def training_data(self, windows: Sequence[Window], t: int) -> pd.DataFrame | None:
        raise NotImplementedError


class Static(Strategy):
    """Train on the first window only, never update (the lower bound)."""

    name = "static"

    def training_data(self, windows, t):
        return windows[0].train if t == 0 else None


class FullRetrain(Strategy):
    """Re-initialise and train on all data up to window ``t`` (the upper bound in cost)."""

    name = "full_retrain"

    def training_data(self, windows, t):
        return _before_valid(windows[t])


class SlidingRetrain(Strategy):
    """Re-initialise and train on the last ``size`` windows.

    Args:
      size: number of windows (the current one included).
    """

    name = "sliding_retrain"

    def __init__(self, size: int = 2) -> None:
        self.size = size

    def training_data(self, windows, t):
        data = _before_valid(windows[t])
        first = windows[max(0, t - self.size + 1)].train.index.min()
        return data[data.index >= first]


def get(name: str, sliding_windows: int = 2) -> Strategy:
    """The strategy called ``name`` (names as in `tfrec_inc.config.STRATEGIES`)."""
    if name == "sliding_retrain":
        return SlidingRetrain(sliding_windows)
    return {"static": Static, "full_retrain": FullRetrain}[name]()
