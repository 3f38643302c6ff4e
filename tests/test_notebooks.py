"""Every notebooks/*.ipynb runs top to bottom in SMALL mode and shows its key outputs.

Each notebook is executed with nbclient in a fresh kernel of this interpreter, with
``TFREC_INC_NOTEBOOK_SMALL=1`` (tiny runs on synthetic data) and the repository root as the
working directory. A notebook added later is picked up by the glob; list what it must show in
`EXPECTED` (by default: it runs without error).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CELL_TIMEOUT = 300  # seconds per cell; a whole SMALL notebook takes well under a minute

# Text every notebook must show somewhere in its outputs (stream, text/plain, text/markdown,
# text/html), and how many inline figures (image/png) at least.
EXPECTED: dict[str, dict] = {
    "01_quickstart.ipynb": {
        "text": ["recall@20", "ids_text_history / full_retrain", "Cold items", "window"],
        "images": 2,
    },
    "02_incremental_learning.ipynb": {
        "text": ["retention@20", "train_seconds vs full_retrain", "time vs full_retrain", "fine_tune",
                 "ewc", "amazon-office"],
        "images": 3,
    },
    "03_cold_start_and_transfer.ipynb": {
        "text": ["cold_items", "text_dropout_history / full_retrain", "zero_shot",
                 "after one interaction", "weights unchanged: True"],
        "images": 1,
    },
    "04_compression_and_serving.ipynb": {
        "text": ["tflite_int8", "rowwise_int8", "× smaller (gzip)", "Δ Recall@20",
                 "k=5 is a prefix of k=10: True", "seen items in the list: 0", "recent item(s)",
                 "export unchanged on disk: True", "overlap@10"],
        "images": 1,
    },
}
TEXT_TYPES = ("text/plain", "text/markdown", "text/html")


def test_every_expected_notebook_exists():
    assert set(EXPECTED) <= {p.name for p in NOTEBOOKS}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_clean(path):
    """Valid nbformat 4, outputs cleared, and the SMALL parameter cell is the first code cell."""
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.nbformat == 4
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), "clear the outputs"
    assert 'SMALL = os.environ.get("TFREC_INC_NOTEBOOK_SMALL") == "1"' in code[0].source


@pytest.fixture
def kernel_env(tmp_path, monkeypatch):
    """A ``python3`` kernelspec for this very interpreter, SMALL mode, temp dirs under tmp_path."""
    spec = tmp_path / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "tfrec_inc test kernel",
        "language": "python",
    }))
    # JUPYTER_PATH comes first in the kernelspec search: no other "python3" spec is used.
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("TFREC_INC_NOTEBOOK_SMALL", "1")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))  # the notebooks' tempfile.mkdtemp() results
    monkeypatch.delenv("MPLBACKEND", raising=False)
    return scratch


def _results_entries() -> set[str]:
    folder = ROOT / "results"
    return {p.name for p in folder.iterdir() if not p.name.endswith((".partial", ".old"))}


def _outputs(nb) -> tuple[str, int]:
    texts, images = [], 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.output_type == "stream":
                texts.append(out.text)
            data = out.get("data", {})
            texts += [data[t] for t in TEXT_TYPES if t in data]
            images += "image/png" in data
    return "\n".join(texts), images


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_in_small_mode(path, kernel_env):
    nb = nbformat.read(path, as_version=4)
    before = _results_entries()
    started = time.perf_counter()
    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                                     resources={"metadata": {"path": str(ROOT)}})
    client.execute()  # raises CellExecutionError (with the traceback) if any cell fails
    print(f"{path.name}: {time.perf_counter() - started:.1f} s")

    assert not [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    text, images = _outputs(nb)
    expected = EXPECTED.get(path.name, {})
    missing = [s for s in expected.get("text", []) if s not in text]
    assert not missing, f"{path.name} does not show {missing}"
    assert images >= expected.get("images", 0), f"{path.name}: {images} inline figures"
    # Runs went to the temporary folder, not into the repository's results/.
    assert _results_entries() <= before
    if "tfrec_inc.run(" in "".join(c.source for c in nb.cells):
        assert list(kernel_env.glob("tfrec_inc_*/*/metrics.csv")), "no run in the temporary folder"
