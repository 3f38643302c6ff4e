from pathlib import Path

import pytest
import yaml

from tfrec_inc import config
from tfrec_inc.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
SOURCE = "transfer: {source: {dataset: synthetic}}\nmodels: [{user_features: false, item_features: false}]\n"
VARIANTS = "compression: {variants: [fp32]}\n"


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
        config.load(_write(tmp_path, "{}"), ["seeds"])
    with pytest.raises(ConfigError, match="not found"):
        config.load(tmp_path / "nope.yaml")


@pytest.mark.parametrize("text", ["", "  \n\n", "# nothing but a comment\n"])
def test_an_empty_file_is_an_error(tmp_path, text):
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        config.load(path)
    assert str(info.value) == f"{path}: the config is empty; write `{{}}` to run every default"


def test_an_empty_mapping_runs_every_default(tmp_path):
    cfg = config.load(_write(tmp_path, "{}\n"))
    assert cfg == config.from_dict({})
    assert cfg.study == "incremental" and cfg.models == [config.ModelConfig()]


@pytest.mark.parametrize(
    ("name", "study"),
    [("quickstart", "incremental"), ("transfer_synthetic", "transfer"),
     ("compression_ml100k", "compression")],
)
def test_study_is_resolved_and_recorded(tmp_path, name, study):
    cfg = config.load(ROOT / "experiments" / f"{name}.yaml")
    assert cfg.study == study
    config.save(cfg, tmp_path / "saved.yaml")
    assert yaml.safe_load((tmp_path / "saved.yaml").read_text())["study"] == study
    assert config.load(tmp_path / "saved.yaml") == cfg


@pytest.mark.parametrize(
    ("text", "study"),
    [("study: incremental\n", "incremental"), ("study: transfer\n" + SOURCE, "transfer"),
     ("study: compression\n" + VARIANTS, "compression"), (SOURCE + VARIANTS.replace("fp32", ""), "transfer")],
)
def test_an_explicit_study_that_agrees_is_kept(tmp_path, text, study):
    assert config.load(_write(tmp_path, text)).study == study


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("study: transfer\n", "study: transfer needs transfer.source"),
        ("study: compression\n", "study: compression needs compression.variants"),
        ("study: incremental\n" + SOURCE,
         "study: incremental, but transfer.source is set (that makes a transfer study)"),
        ("study: incremental\n" + VARIANTS,
         "study: incremental, but compression.variants is set (that makes a compression study)"),
        ("study: transfer\n" + SOURCE + VARIANTS,
         "study: transfer, but compression.variants is set (that makes a compression study)"),
        ("study: transfr\n", "study: unknown value 'transfr' (did you mean 'transfer'?); "
         "choose from incremental, transfer, compression"),
    ],
)
def test_an_explicit_study_must_agree_with_its_keys(tmp_path, text, message):
    with pytest.raises(ConfigError) as info:
        config.load(_write(tmp_path, text))
    assert str(info.value) == message


def test_without_study_both_kinds_keep_their_old_error(tmp_path):
    with pytest.raises(ConfigError, match="a run is a transfer or a compression study, not both"):
        config.load(_write(tmp_path, SOURCE + VARIANTS))
