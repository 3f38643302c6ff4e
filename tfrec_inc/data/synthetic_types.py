"""The synthetic generator's options and the latent truth it returns (see ``synthetic``)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from tfrec_inc.errors import ConfigError

EPOCH = 1_577_836_800  # 2020-01-01T00:00:00Z, the start of period 0
DAY = 86_400


@dataclasses.dataclass(frozen=True, kw_only=True)
class SyntheticOptions:
    """Every option of the synthetic generator, with its default.

    These are also the ``data.options`` a config may give for ``dataset: synthetic``.

    Attributes:
      num_users: users over all periods.
      num_items: catalog size over all periods (and both domains).
      num_interactions: target number of distinct (user, item) events; met exactly
        unless repeat draws are very common (tiny catalogs).
      num_periods: time periods (>= 2), each ``period_days`` long.
      num_topics: latent topics (>= 2).
      seed: the seed; equal seeds give identical frames.
      domains: 1, or 2 for a second domain "B" (cross-domain experiments).
      period_days: length of a period in days.
      initial_fraction: share of users and of items present in period 0; the rest
        arrive evenly over periods 1..num_periods-1.
      drift: per-period probability that a user's favourite topic is swapped.
      popularity_exponent: Zipf exponent of item popularity.
      affinity_strength: how strongly taste/item affinity drives choices.
      new_item_boost: choice-weight multiplier for items in their arrival period.
      rating_noise: standard deviation of the rating noise (in stars).

    Example:
      >>> SyntheticOptions(num_users=200).num_items
      1500
      >>> SyntheticOptions(domains=3).validate()
      Traceback (most recent call last):
      ...
      tfrec_inc.errors.ConfigError: synthetic: domains=3 must be 1 or 2
    """

    num_users: int = 2000
    num_items: int = 1500
    num_interactions: int = 60_000
    num_periods: int = 6
    num_topics: int = 12
    seed: int = 0
    domains: int = 1
    period_days: int = 30
    initial_fraction: float = 0.5
    drift: float = 0.25
    popularity_exponent: float = 0.8
    affinity_strength: float = 8.0
    new_item_boost: float = 3.0
    rating_noise: float = 0.6

    def validate(self) -> None:
        """Checks every option's range.

        Raises:
          ConfigError: the first option out of range, e.g.
            ``synthetic: num_periods=1 must be >= 2``.
        """
        n_p, n_d = self.num_periods, self.domains
        rules = {  # key -> (ok, requirement)
            "num_periods": (n_p >= 2, ">= 2"),
            "num_topics": (self.num_topics >= 2, ">= 2"),
            "domains": (n_d in (1, 2), "1 or 2"),
            "num_users": (self.num_users >= 2 * n_p, f">= 2 * num_periods = {2 * n_p}"),
            "num_items": (self.num_items >= 2 * n_p * n_d,
                          f">= 2 * num_periods * domains = {2 * n_p * n_d}"),
            "num_interactions": (self.num_interactions >= 2 * self.num_users,
                                 f">= 2 * num_users = {2 * self.num_users}"),
            "period_days": (self.period_days >= 1, ">= 1"),
            "initial_fraction": (0.0 < self.initial_fraction < 1.0, "in (0, 1)"),
            "drift": (0.0 <= self.drift <= 1.0, "in [0, 1]"),
            "popularity_exponent": (self.popularity_exponent >= 0.0, ">= 0"),
            "affinity_strength": (self.affinity_strength >= 0.0, ">= 0"),
            "new_item_boost": (self.new_item_boost > 0.0, "> 0"),
            "rating_noise": (self.rating_noise >= 0.0, ">= 0"),
        }
        for key, (ok, need) in rules.items():
            if not ok:
                raise ConfigError(f"synthetic: {key}={getattr(self, key)!r} must be {need}")


@dataclasses.dataclass(frozen=True)
class SyntheticTruth:
    """The latent variables behind a generated dataset (for tests and analysis).

    Attributes:
      topic_names: name of each topic (theme name, or ``"topic<k>"``).
      topic_words: the 30-word vocabulary of each topic.
      item_ids: item ids in catalog order (row ``i`` of the arrays below).
      item_topics: ``[num_items, num_topics]`` topic mixture (rows sum to 1).
      item_main_topic: ``[num_items]`` argmax of the mixture.
      item_period: ``[num_items]`` arrival period.
      item_domain: ``[num_items]`` ``"A"`` or ``"B"``.
      user_ids: user ids (row ``u`` of the arrays below).
      user_period: ``[num_users]`` arrival period.
      user_taste: ``[num_periods, num_users, num_topics]`` taste per period (rows sum
        to 1).
      period_seconds: length of one period in seconds.
      item_popularity: ``[num_items]`` the Zipf popularity weight of each item.
      user_domain_a: ``[num_users]`` probability that a user's draw is in domain ``"A"``
        (1 with one domain).
      affinity_strength: the option of that name (the weight of taste · topics).
      new_item_boost: the option of that name (choice weight of an item in its arrival period).
    """

    topic_names: list[str]
    topic_words: list[list[str]]
    item_ids: np.ndarray
    item_topics: np.ndarray
    item_main_topic: np.ndarray
    item_period: np.ndarray
    item_domain: np.ndarray
    user_ids: np.ndarray
    user_period: np.ndarray
    user_taste: np.ndarray
    period_seconds: int
    item_popularity: np.ndarray
    user_domain_a: np.ndarray
    affinity_strength: float
    new_item_boost: float

    def period_of(self, timestamps: np.ndarray | pd.Series) -> np.ndarray:
        """Maps Unix-second timestamps to period indices.

        Args:
          timestamps: Unix seconds.

        Returns:
          The period index of each timestamp (``int64``).
        """
        return (np.asarray(timestamps, dtype=np.int64) - EPOCH) // self.period_seconds

    def choice_scores(self, period: int) -> tuple[np.ndarray, np.ndarray]:
        """Factors of every user's true log choice probability of every item in ``period``.

        The generator draws a user's event in period t by picking a domain (``"A"`` with
        probability ``user_domain_a``), then an item of that domain available in t with
        probability ∝ exp(affinity_strength · taste[t, u] · topics[i]) · popularity[i] ·
        (new_item_boost if i arrived in t). So ``users @ items.T`` is log P(i | u, t) for
        the available items; items not yet arrived get -1e4 (never chosen).

        Args:
          period: the period (clipped to ``0 .. num_periods - 1``).

        Returns:
          ``(users [num_users, d], items [num_items, d])``, rows in `user_ids` / `item_ids`
          order.

        Example:
          >>> from tfrec_inc.data.synthetic import generate_with_truth
          >>> _, truth = generate_with_truth(num_users=60, num_items=40, num_interactions=600)
          >>> users, items = truth.choice_scores(2)
          >>> p = np.exp(users @ items.T)
          >>> bool(np.allclose(p.sum(axis=1), 1.0))
          True
        """
        t = int(np.clip(period, 0, self.user_taste.shape[0] - 1))
        available = self.item_period <= t
        boost = np.where(self.item_period == t, np.log(self.new_item_boost), 0.0)
        base = np.log(self.item_popularity) + boost
        base = np.where(available, base, -1e4)
        taste = self.affinity_strength * self.user_taste[t]
        logits = taste @ self.item_topics.T + base  # [users, items]
        domains = sorted(set(self.item_domain.tolist()))
        share = {"A": self.user_domain_a, "B": 1.0 - self.user_domain_a}
        user_cols, item_cols = [taste, np.ones((len(taste), 1))], [self.item_topics, base[:, None]]
        for d in domains:
            in_d = (self.item_domain == d) & available
            # log p(domain) - log Z_d(u): the within-domain softmax normaliser of each user.
            log_z = _logsumexp(logits[:, in_d]) if in_d.any() else np.zeros(len(taste))
            user_cols.append((np.log(np.maximum(share[d], 1e-12)) - log_z)[:, None])
            item_cols.append((self.item_domain == d).astype(float)[:, None])
        return np.hstack(user_cols), np.hstack(item_cols)


def _logsumexp(x: np.ndarray) -> np.ndarray:
    top = x.max(axis=1)
    return top + np.log(np.exp(x - top[:, None]).sum(axis=1))
