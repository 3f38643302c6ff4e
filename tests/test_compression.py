"""Compression: pruning sparsity, row-wise int8, TFLite PTQ, config checks, the incremental hook."""

import dataclasses
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from tensorflow_model_optimization.python.core.sparsity.keras.pruning_wrapper import PruneLowMagnitude

from tfrec_inc import config
from tfrec_inc import data as data_lib
from tfrec_inc.cli import main
from tfrec_inc.compression import pruning, rowwise
from tfrec_inc.compression.layers import copy_model
from tfrec_inc.compression.size import blobs_size
from tfrec_inc.compression.tflite import TFLiteModel
from tfrec_inc.compression.variants import FineTuneData
from tfrec_inc.config import EvaluationConfig, ModelConfig, WindowsConfig
from tfrec_inc.data.catalog import Catalog
from tfrec_inc.data.history import previous_items
from tfrec_inc.data.windows import split
from tfrec_inc.errors import ConfigError
from tfrec_inc.evaluation import protocol
from tfrec_inc.models import training
from tfrec_inc.models.factory import build
from tfrec_inc.prepare import Prepared, prepare
from tfrec_inc.reporting import compression as report

ROOT = Path(__file__).resolve().parents[1]
# Every part a tower can have: id, categorical features, genres, text, pooled history, an MLP.
CFG = ModelConfig(item_text=True, user_history="mean", history_length=5, layers=[16], epochs=1,
                  batch_size=256, optimizer="adam", learning_rate=0.01)


@pytest.fixture(scope="module")
def trained():
    data = data_lib.load("synthetic", num_users=300, num_items=240, num_interactions=6000)
    catalog = Catalog.from_interactions(data)
    vectors = np.random.default_rng(0).normal(size=(len(catalog.items), 16)).astype("float32")
    vectors[0] = 0
    inter = data.interactions
    history = previous_items(catalog.users.lookup(inter["user_id"]), catalog.items.lookup(inter["item_id"]),
                             inter["timestamp"].to_numpy(), 5)
    window = split(inter, WindowsConfig(num_windows=1))[0]
    prepared = Prepared.from_parts(data, [window], text_vectors=vectors, row_history=history, catalog=catalog)
    train = window.history.drop(index=window.valid.index)
    tf.keras.utils.set_random_seed(0)
    model = build(CFG, prepared, train)
    ft = FineTuneData.from_frame(catalog, train, history, 5, CFG, seed=0, samples=300)
    training.fit(model, ft.dataset(), None, CFG, ft.examples, progress=False)

    def clone():
        return build(CFG, prepared, train, vocabs=(model.user_vocab, model.item_vocab))

    return model, clone, ft, catalog, window


def _probe(ft):
    users = {name: v[:40] for name, v in ft.user_samples.items()}
    return users, {"item": np.arange(1, 200)}


def test_pruning_reaches_the_target_and_strip_leaves_plain_layers(trained):
    model, clone, ft, _, _ = trained
    twin = copy_model(model, clone)
    epochs = 2
    pruning.prune(twin, 0.8, steps=epochs * math.ceil(ft.examples / CFG.batch_size))
    assert all(isinstance(layer, PruneLowMagnitude) for layer in pruning.prunable_layers(twin).values())
    twin.compile(tf.keras.optimizers.Adam(0.01))
    training.fit(twin, ft.dataset(), None, dataclasses.replace(CFG, epochs=epochs), ft.examples,
                progress=False, callbacks=[pruning.UpdatePruningStep()])
    pruning.strip(twin)
    layers = pruning.prunable_layers(twin)
    # id + 2 categorical embeddings, genres + text projections (text shared), 2 x 2 MLP layers.
    assert len(layers) == 10
    for name, layer in layers.items():
        assert type(layer) in (tf.keras.layers.Dense, tf.keras.layers.Embedding), name
    assert not [w.name for w in twin.weights if "mask" in w.name or "pruning_step" in w.name]
    for name, zeros in pruning.layer_sparsity(twin).items():
        assert abs(zeros - 0.8) <= 0.02, (name, zeros)
    assert abs(pruning.sparsity(twin) - 0.8) <= 0.02
    assert pruning.sparsity(model) < 0.01  # the trained model is untouched
    users, items = _probe(ft)
    assert np.all(np.isfinite(twin.user_tower(users).numpy()))
    assert np.all(np.isfinite(twin.item_tower(items).numpy()))


def test_rowwise_int8_round_trip_is_within_half_a_scale():
    rng = np.random.default_rng(0)
    spread = rng.uniform(0.01, 10, size=(50, 1)).astype("float32")  # rows of very different ranges
    table = rng.normal(size=(50, 24)).astype("float32") * spread
    table[3] = 0.0
    values, scales = rowwise.quantize_rows(table)
    assert values.dtype == np.int8 and values.shape == table.shape and scales.shape == (50,)
    assert np.abs(values).max() <= 127
    back = rowwise.dequantize_rows(values, scales)
    assert back.shape == table.shape and back.dtype == np.float32
    assert np.all(np.abs(back - table) <= scales[:, None] / 2 * (1 + 1e-5))
    assert not back[3].any()
    # The ExtensionType's gather dequantizes exactly the looked-up rows, for any index rank.
    packed = rowwise.QuantizedTable.from_array(table)
    got = tf.gather(packed, tf.constant([[3, 7], [7, 49]], tf.int64)).numpy()
    np.testing.assert_allclose(got, back[[[3, 7], [7, 49]]], rtol=0, atol=0)
    assert packed.nbytes == 50 * 24 + 4 * 50


def test_rowwise_int8_model_is_close_and_keeps_shapes(trained):
    model, clone, ft, _, _ = trained
    twin = copy_model(model, clone)
    stored = rowwise.quantize_tables(twin)
    assert {"user_tower/id_embedding", "item_tower/id_embedding", "item_tower/text_table",
            "item_tower/genres_table", "user_tower/history_vectors"} <= set(stored)
    users, items = _probe(ft)
    for tower, feats in (("user_tower", users), ("item_tower", items)):
        ref = getattr(model, tower)(feats).numpy()
        out = getattr(twin, tower)(feats).numpy()
        assert out.shape == ref.shape
        assert np.abs(out - ref).max() <= 0.02 * np.abs(ref).max()


def test_tflite_towers_are_close_to_fp32_and_smaller(trained):
    model, _, ft, catalog, window = trained
    users, items = _probe(ft)
    ref_users, ref_items = model.user_tower(users).numpy(), model.item_tower(items).numpy()
    # Relative Frobenius error of the tower outputs (int8 activations: a few % is normal).
    tolerance = {"fp32": 1e-5, "float16": 2e-3, "dynamic": 0.05, "int8": 0.1}
    sizes = {}
    for mode, tol in tolerance.items():
        pair = TFLiteModel.from_model(model, mode, ft.user_samples, ft.item_samples)
        for out, ref in ((pair.user_tower(users), ref_users), (pair.item_tower(items), ref_items)):
            assert out.shape == ref.shape
            assert np.linalg.norm(out - ref) <= tol * np.linalg.norm(ref), mode
        sizes[mode] = blobs_size(pair.flatbuffers).raw
        if mode == "fp32":
            # The protocol scores an interpreter pair like the Keras model.
            ev = EvaluationConfig(groups=["all"], ks=[10, 20])
            keep = lambda rs: {(r["metric"], r["k"]): round(r["value"], 6) for r in rs}  # noqa: E731
            assert keep(protocol.evaluate_retrieval(pair, catalog, window, ev)) == keep(
                protocol.evaluate_retrieval(model, catalog, window, ev))
    assert sizes["int8"] < sizes["float16"] < sizes["fp32"]
    assert sizes["dynamic"] < sizes["float16"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("compression:\n  variants: [fp32, tflite_int4]\n",
         "compression.variants[1]: unknown value 'tflite_int4' (did you mean 'tflite_int8'?)"),
        ("compression:\n  variants: [prune_80]\n", "compression.variants: include fp32"),
        ("compression:\n  variants: [fp32, fp32]\n", "listed twice"),
        ("compression:\n  after_update: rowwise_int4\n",
         "compression.after_update: unknown value 'rowwise_int4' (did you mean 'rowwise_int8'?)"),
        ("strategies: [fusion_score]\ncompression:\n  after_update: prune_80\n", "not with fusion_score"),
        ("compression:\n  variants: [fp32]\n  after_update: prune_80\n", "not both"),
        ("compression:\n  variants: [fp32]\nmodels:\n  - type: ranking\n", "compares retrieval models"),
        ("compression:\n  variants: [fp32]\n  finetune_epochs: 0\n",
         "compression.finetune_epochs: must be > 0"),
        ("compression:\n  varients: [fp32]\n",
         "unknown key 'compression.varients' (did you mean 'variants'?)"),
    ],
)
def test_compression_config_errors(tmp_path, text, message):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        config.load(path)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_compression_config_accepts_the_study_and_any_prune_level(tmp_path):
    path = ROOT / "experiments/compression_ml100k.yaml"
    assert config.load(path, ["compression.variants=[fp32,prune_70]"]).compression.variants == [
        "fp32", "prune_70"]
    assert config.load(path).compression.variants[-1] == "rowwise_int8"


def test_report_compares_each_variant_with_fp32_of_the_same_seed():
    rows = []
    for seed, base in ((0, 0.20), (1, 0.30)):
        for variant, factor, size in (("fp32", 1.0, 4000), ("tflite_int8", 0.9, 1000)):
            common = dict(experiment="x", dataset="d", model="m", strategy=variant, seed=seed, window=3,
                          group="all")
            rows += [{**common, "metric": "recall", "k": 20, "value": base * factor},
                     {**common, "metric": "ndcg", "k": 20, "value": base * factor / 2},
                     {**common, "metric": "size_bytes", "k": None, "value": size},
                     {**common, "metric": "size_gzip_bytes", "k": None, "value": size / 2}]
    frame = pd.DataFrame(rows)
    stats = report.summary(frame)
    assert stats.loc[("m", "tflite_int8"), ("recall_change", "mean")] == pytest.approx(-0.1)
    assert stats.loc[("m", "tflite_int8"), ("ratio", "mean")] == pytest.approx(4.0)
    assert "| tflite_int8 | 1.0 | 0.5 | 4.00× | 4.00× |" in report.markdown(frame)


def test_after_update_compresses_inside_the_incremental_loop(tmp_path):
    out = tmp_path / "run"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "experiment: tiny\nseeds: [0]\n"
        "data:\n  dataset: synthetic\n  options: {num_users: 150, num_items: 120, num_interactions: 3000}\n"
        "windows:\n  mode: time\n  num_windows: 2\n"
        "models:\n  - {name: ids, embedding_dim: 16, item_features: false, batch_size: 512, epochs: 1}\n"
        "strategies: [fine_tune]\n"
        "compression:\n  after_update: prune_50\n  finetune_epochs: 1\n"
        "evaluation:\n  groups: [all]\n  ks: [10, 20]\n")
    assert main(["run", str(cfg), "--output", str(out), "--quiet"]) == 0
    frame = pd.read_csv(out / "metrics.csv")
    zeros = frame[frame["metric"] == "sparsity"]
    assert sorted(zeros["window"]) == [0, 1]
    assert np.all(np.abs(zeros["value"] - 0.5) <= 0.02)
    assert len(frame[frame["metric"] == "compress_seconds"]) == 2
    assert len(frame[(frame["metric"] == "recall") & (frame["k"] == 20)]) == 2


def test_computed_baselines_get_one_uncompressed_row_each(tmp_path):
    # Before: the config check refused any non-retrieval model in a compression study, so
    # its table could not show what a count achieves next to the compressed models.
    out = tmp_path / "run"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "experiment: tiny\nseeds: [0, 1]\n"
        "data:\n  dataset: synthetic\n  options: {num_users: 150, num_items: 120, num_interactions: 3000}\n"
        "windows:\n  mode: count\n  num_windows: 2\n"
        "models:\n  - {name: ids, embedding_dim: 8, item_features: false, user_features: false,\n"
        "     batch_size: 512, epochs: 1}\n"
        "  - {name: pop_all, type: popularity, popularity: all}\n"
        "compression:\n  variants: [fp32]\n  latency_queries: 5\n"
        "evaluation:\n  groups: [all]\n  ks: [10, 20]\n"
        "report:\n  metrics: [recall@20, ndcg@20]\n")
    assert main(["run", str(cfg), "--output", str(out), "--quiet"]) == 0
    frame = pd.read_csv(out / "metrics.csv")
    pop = frame[frame["model"] == "pop_all"]
    assert set(pop["strategy"]) == {"uncompressed"} and sorted(pop["seed"].unique()) == [0, 1]
    assert not pop["metric"].isin(["size_bytes", "latency_p50_ms"]).any()
    # The same numbers as popularity built on the base models' data and scored directly.
    loaded = config.load(cfg)
    prepared = prepare(loaded)
    model = build(loaded.models[1], prepared, prepared.train_before_valid())
    direct = protocol.evaluate_retrieval(model, prepared.catalog, prepared.windows[-1], loaded.evaluation,
                                groups=("all",), seed=1)
    want = next(r["value"] for r in direct if (r["metric"], r["k"]) == ("recall", 20))
    got = pop[(pop["seed"] == 1) & (pop["metric"] == "recall") & (pop["k"] == 20)]["value"]
    assert got.tolist() == pytest.approx([want])
    assert "| pop_all / uncompressed |" in (out / "table_compression.md").read_text()
    # table.md carries the intervals and the comparison with the baseline (it dropped both before).
    table = (out / "table.md").read_text()
    assert "## Versus the best baseline" in table
    assert "| ids / fp32 | recall@20 | pop_all / uncompressed |" in table
