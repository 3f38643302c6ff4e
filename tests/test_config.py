import pytest

from tfrec_inc import config
from tfrec_inc.errors import ConfigError


def _write(tmp_path, text):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


def test_defaults_overrides_and_round_trip(tmp_path):
    path = _write(tmp_path, "experiment: x\nmodels:\n  - name: a\n    epochs: 2\n")
    cfg = config.load(path, ["seeds=[1,2]", "models.0.learning_rate=0.5", "data.options.n=3"])
    assert cfg.seeds == [1, 2]
    assert cfg.models[0].learning_rate == 0.5 and cfg.models[0].epochs == 2
    assert cfg.data.options == {"n": 3}
    assert cfg.windows.mode == "count"
    config.save(cfg, tmp_path / "saved.yaml")
    again = config.load(tmp_path / "saved.yaml")
    assert again == cfg and again.digest() == cfg.digest()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("models:\n  - optimzer: adam\n", "unknown key 'models[0].optimzer' (did you mean 'optimizer'?)"),
        ("windows:\n  num_windows: three\n", "windows.num_windows: expected integer, got 'three'"),
        ("windows:\n  test_fraction: 1.5\n", "windows.test_fraction: must be in [0, 1)"),
        ("data:\n  dataset: movielens\n", "data.dataset: unknown value 'movielens'"),
        ("strategies: [fine_tuning]\n", "strategies[0]: unknown value 'fine_tuning'"),
        ("models:\n  - embedding_dim: 0\n", "models[0].embedding_dim: must be > 0"),
        ("models:\n  - user_features: 1\n", "models[0].user_features: expected boolean"),
        ("seeds: []\n", "seeds: give at least one seed"),
        ("transfer: {modes: [encoder_onyl]}\n",
         "transfer.modes[0]: unknown value 'encoder_onyl' (did you mean 'encoder_only'?)"),
        ("models:\n  - combine: add\n", "models[0].combine: unknown value 'add'"),
        ("- 1\n", "top level must be a mapping"),
        ("a: [1\n", "line"),
    ],
)
def test_errors_name_the_key(tmp_path, text, message):
    with pytest.raises(ConfigError) as info:
        config.load(_write(tmp_path, text))
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_bad_override_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        config.load(_write(tmp_path, ""), ["seeds"])
    with pytest.raises(ConfigError, match="not found"):
        config.load(tmp_path / "nope.yaml")
