"""Cross-domain transfer: what carries over, zero-shot scoring, and a small end-to-end study."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tfrec_inc import data as data_lib
from tfrec_inc.cli import main
from tfrec_inc.config import ModelConfig
from tfrec_inc.data.catalog import Catalog
from tfrec_inc.data.vocab import Vocabulary
from tfrec_inc.data.windows import recent_fraction
from tfrec_inc.errors import DataError
from tfrec_inc.models.factory import build
from tfrec_inc.models.weights import copy_content, freeze_text
from tfrec_inc.prepare import Prepared

ROOT = Path(__file__).resolve().parents[1]
CFG = ModelConfig(user_features=False, item_features=False, item_text=True, user_history="mean",
                  history_length=5)


@pytest.fixture(scope="module")
def domains():
    both = data_lib.load("synthetic", num_users=300, num_items=240, num_interactions=6000, domains=2)
    a, b = data_lib.select_domain(both, "A"), data_lib.select_domain(both, "B")
    return a, b


def _vectors(catalog, seed):
    v = np.random.default_rng(seed).normal(size=(len(catalog.items), 8)).astype("float32")
    v[0] = 0
    return v


def test_select_domain_keeps_one_domain(domains):
    a, b = domains
    assert set(a.interactions["domain"]) == {"A"} and set(b.interactions["domain"]) == {"B"}
    assert set(a.items["item_id"]).isdisjoint(b.items["item_id"])
    with pytest.raises(DataError, match="domain"):
        data_lib.select_domain(a, "C")


def test_content_weights_carry_over_and_ids_do_not(domains):
    a, b = domains
    ca, cb = Catalog.from_interactions(a), Catalog.from_interactions(b)
    pa = Prepared.from_parts(a, (), text_vectors=_vectors(ca, 0), catalog=ca)
    pb = Prepared.from_parts(b, (), text_vectors=_vectors(cb, 1), catalog=cb)
    source = build(CFG, pa, a.interactions)
    target = build(CFG, pb, b.interactions)
    copied = copy_content(source, target)
    assert copied and not any("id_embedding" in name for name in copied)
    for s, t in zip(source.weights, target.weights, strict=True):
        if "id_embedding" in t.name:
            assert s.shape != t.shape or not np.array_equal(s.numpy(), t.numpy())
        else:
            np.testing.assert_array_equal(s.numpy(), t.numpy())
    # Zero-shot: no target ids, the content paths alone tell target items apart.
    zero = build(CFG, pb, b.interactions, vocabs=(Vocabulary(), Vocabulary()))
    copy_content(source, zero)
    items = zero.item_tower({"item": np.arange(1, 6)}).numpy()
    assert len({tuple(np.round(r, 6)) for r in items}) == 5
    freeze_text(target)
    assert not target.item_tower.dense_projections["text"].trainable


def test_recent_fraction_takes_the_latest_rows():
    frame = pd.DataFrame({"timestamp": np.arange(100)})
    assert recent_fraction(frame, 0.1)["timestamp"].tolist() == list(range(90, 100))
    assert len(recent_fraction(frame, 0.001)) == 1


def test_small_transfer_study_end_to_end(tmp_path):
    out = tmp_path / "tr"
    args = ["run", str(ROOT / "experiments/transfer_synthetic.yaml"), "--output", str(out), "--quiet",
            "--set", "seeds=[0]", "--set", "transfer.fractions=[0.25,1.0]", "--set", "models.0.epochs=2",
            "--set", "data.options={domains: 2, num_users: 300, num_items: 240, num_interactions: 6000}",
            "--set", "transfer.source.options={domains: 2, num_users: 300, num_items: 240, "
            "num_interactions: 6000}"]
    assert main(args) == 0
    frame = pd.read_csv(out / "metrics.csv")
    assert set(frame["window"]) == {25, 100}
    assert {"scratch", "zero_shot", "encoder_only", "fine_tune", "freeze_text", "fusion_score",
            "fusion_weights"} <= set(frame["strategy"])
    recall = frame[(frame["metric"] == "recall") & (frame["k"] == 20) & (frame["group"] == "all")]
    zero = recall[recall["strategy"] == "zero_shot"].set_index("window")["value"]
    assert zero.loc[25] == zero.loc[100]  # zero-shot never sees target data
    untrained = recall[recall["strategy"] == "encoder_only"].set_index("window")["value"]
    assert untrained.loc[25] == untrained.loc[100] and untrained.loc[25] != zero.loc[25]
    assert (out / "table_transfer.md").is_file() and (out / "plots/transfer_recall_at_20.png").is_file()
