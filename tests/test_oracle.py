"""The synthetic oracle: the generator's own choice probabilities, scored like any other row."""

import numpy as np
import pandas as pd
import pytest

from tfrec_inc import config
from tfrec_inc.config import WindowsConfig
from tfrec_inc.data.catalog import Catalog
from tfrec_inc.data.synthetic import SyntheticOptions, generate_with_truth
from tfrec_inc.data.synthetic_simulator import Simulator
from tfrec_inc.data.windows import split
from tfrec_inc.errors import ConfigError
from tfrec_inc.evaluation import protocol
from tfrec_inc.models import factory
from tfrec_inc.models.popularity import PopularityModel
from tfrec_inc.prepare import Prepared
from tfrec_inc.reporting import significance

OPTIONS = SyntheticOptions(num_users=120, num_items=90, num_interactions=2400, num_periods=4, seed=3)


@pytest.mark.parametrize("domains", [1, 2])
def test_choice_scores_are_the_generators_sampling_distribution(domains):
    """Draw one user's events with the generator's own sampler: frequencies match exp(scores)."""
    opts = SyntheticOptions(**{**OPTIONS.__dict__, "domains": domains})
    _, truth = generate_with_truth(opts)
    # A fresh simulator with the same seed rebuilds the same latents stage by stage.
    sim = Simulator(opts)
    items = sim._items(sim._topics()[1])
    users = sim._users()
    np.testing.assert_allclose(users["taste"], truth.user_taste)
    t, user = 2, int(np.flatnonzero(users["period"] <= 2)[0])
    u_rows, i_rows = truth.choice_scores(t)
    p = np.exp(u_rows[user] @ i_rows.T)
    assert p.sum() == pytest.approx(1.0, abs=1e-6)
    assert p[truth.item_period > t].max() < 1e-12  # not yet in the catalog
    n = 60_000
    draws = []
    for d in sorted(set(truth.item_domain)):
        share = users["p_a"][user] if d == "A" else 1.0 - users["p_a"][user]
        draws.append(sim._choose_items(np.full(int(round(n * share)), user), t, d, items, users))
    freq = np.bincount(np.concatenate(draws), minlength=opts.num_items) / n
    assert np.abs(freq - p).max() < 0.01


@pytest.fixture(scope="module")
def small():
    data, truth = generate_with_truth(OPTIONS)
    assert data.truth is truth
    windows = split(data.interactions, WindowsConfig(num_windows=4, mode="time"))
    return Prepared.from_parts(data, windows)


def test_oracle_ranks_by_the_truth_and_beats_popularity(small):
    window = small.windows[2]
    cfg = config.from_dict({"models": [{"name": "oracle", "type": "oracle"}]})
    model = factory.build(cfg.models[0], small, window.train)
    truth = small.data.truth
    period = int(truth.period_of(np.array([window.train["timestamp"].max()]))[0])
    u_rows, i_rows = truth.choice_scores(period)
    users = small.catalog.users.lookup(pd.Series(truth.user_ids[:5]))
    items = small.catalog.items.lookup(pd.Series(truth.item_ids))
    got = model.user_tower({"user": users}).numpy() @ model.item_tower({"item": items}).numpy().T
    np.testing.assert_allclose(got, u_rows[:5] @ i_rows.T, rtol=1e-4, atol=1e-3)

    def recall(m):
        rows = protocol.evaluate_retrieval(m, small.catalog, window, cfg.evaluation, groups=("all",))
        return next(r["value"] for r in rows if r["metric"] == "recall" and r["k"] == 20)

    assert recall(model) > recall(PopularityModel(small.catalog, window.train))


def test_oracle_is_a_reference_row_not_a_baseline_and_needs_generated_data(tmp_path):
    assert not significance.is_baseline("oracle", None)
    (tmp_path / "config.yaml").write_text("models: [{name: o, type: oracle}, {name: p, type: popularity}]")
    assert significance.baseline_models(tmp_path) == {"p"}
    with pytest.raises(ConfigError, match=r"models\[0\]: type oracle needs data.dataset: synthetic"):
        config.from_dict({"data": {"dataset": "ml-100k"}, "models": [{"type": "oracle"}]})


def test_the_truth_follows_a_domain_cut():
    from tfrec_inc.data import select_domain

    data, truth = generate_with_truth(SyntheticOptions(**{**OPTIONS.__dict__, "domains": 2}))
    assert select_domain(data, "B").truth is truth
    assert Catalog.from_interactions(select_domain(data, "B")).items.ids[1].startswith("B")
