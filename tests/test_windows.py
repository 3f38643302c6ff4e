import numpy as np
import pandas as pd
import pytest

from tfrec_inc.config import WindowsConfig
from tfrec_inc.data.windows import split
from tfrec_inc.errors import ConfigError


def _frame(n=1000, seed=0):
    rng = np.random.default_rng(seed)
    ts = np.sort(rng.integers(0, 500, size=n))  # many tied timestamps
    return pd.DataFrame({"user_id": rng.integers(0, 50, n).astype(str),
                         "item_id": rng.integers(0, 80, n).astype(str), "timestamp": ts})


@pytest.mark.parametrize("mode", ["count", "time", "boundaries"])
def test_chronological_windows_have_no_future_leakage(mode):
    frame = _frame()
    cfg = WindowsConfig(mode=mode, num_windows=4, boundaries=[100, 250, 400],
                        valid_fraction=0.1, test_fraction=0.2)
    windows = split(frame, cfg)
    assert len(windows) == 4
    total = sum(len(w.train) + len(w.valid) + len(w.test) for w in windows)
    assert total == len(frame)
    previous_end = -1
    for w in windows:
        assert w.train["timestamp"].min() > previous_end
        # Strictly after: ties never straddle a cut.
        assert w.train["timestamp"].max() < w.valid["timestamp"].min()
        assert w.valid["timestamp"].max() < w.test["timestamp"].min()
        assert w.history["timestamp"].max() < w.test["timestamp"].min()
        assert len(w.history) == w.test.index.min()
        assert len(w.test) / (len(w.train) + len(w.valid) + len(w.test)) == pytest.approx(0.2, abs=0.05)
        previous_end = w.test["timestamp"].max()


def test_count_mode_balances_sizes_and_random_mode_is_seeded():
    frame = _frame(2000)
    sizes = [len(w.train) + len(w.valid) + len(w.test)
             for w in split(frame, WindowsConfig(num_windows=4))]
    assert max(sizes) - min(sizes) < 0.05 * len(frame)
    a = split(frame, WindowsConfig(mode="random", seed=1, valid_fraction=0, test_fraction=0.2))[0]
    b = split(frame, WindowsConfig(mode="random", seed=1, valid_fraction=0, test_fraction=0.2))[0]
    c = split(frame, WindowsConfig(mode="random", seed=2, valid_fraction=0, test_fraction=0.2))[0]
    assert a.test.index.equals(b.test.index) and not a.test.index.equals(c.test.index)
    assert len(a.test) == 400 and len(a.valid) == 0


def test_too_many_windows_is_a_config_error():
    frame = _frame(30)
    with pytest.raises(ConfigError, match="window"):
        split(frame, WindowsConfig(num_windows=20))
