"""The embedded default dataset: a seeded simulation with topics, drift and cold start.

World model (all draws from one ``numpy`` Generator, so a seed fixes everything):

* ``num_topics`` latent topics, each with a 30-word vocabulary (real English theme
  words, e.g. *space*: galaxy, rocket, ...; made-up words beyond 16 topics).
* Items have a sparse topic mixture (a main topic, sometimes a weaker second one), a
  Zipf-like popularity, an arrival period, and a text written from their topics' words
  plus filler words, so a sentence encoder can recover the topic from text alone.
* Users have a taste over topics that drifts every period (a small random walk plus,
  with probability ``drift``, a swap of the favourite topic) and categorical features
  (``age_group``, ``region``) correlated with their taste when they arrive.
* New users and new items arrive in every period after the first; an item is never
  interacted with before its arrival (the catalog's ``arrival`` column, a random moment
  of its arrival period), and a user's first interactions fall in
  their arrival period. Period ``p`` covers ``[p, p + 1) * period_days`` days after
  2020-01-01 UTC (timestamps in Unix seconds).
* Ratings 1..5 follow the taste/item affinity plus user/item biases and noise.
* ``domains=2`` adds domain "B": same topics, but another half of each topic's words,
  other filler words and another text template; ids get the domain as prefix and the
  interactions a ``domain`` column.
"""

from __future__ import annotations

import dataclasses

from tfrec_inc.data.interactions import Interactions
from tfrec_inc.data.synthetic_simulator import AGE_GROUPS, REGIONS, WORDS_PER_TOPIC, Simulator
from tfrec_inc.data.synthetic_types import DAY, EPOCH, SyntheticOptions, SyntheticTruth

__all__ = ["AGE_GROUPS", "DAY", "EPOCH", "REGIONS", "WORDS_PER_TOPIC", "SyntheticOptions",
           "SyntheticTruth", "generate", "generate_with_truth"]


def generate(options: SyntheticOptions | None = None, /, **overrides: float) -> Interactions:
    """Generates the synthetic dataset (see the module docstring for the world model).

    Args:
      options: the options; ``None`` for the defaults of :class:`SyntheticOptions`.
      **overrides: fields of :class:`SyntheticOptions` replacing those of ``options``
        (e.g. ``num_users=500, seed=1``).

    Returns:
      Ratings 1..5; items with ``text``, ``genres`` (topic names) and ``title`` (plus
      ``domain`` when ``domains=2``); users with ``age_group`` and ``region``.

    Raises:
      ConfigError: an option is out of range.
      TypeError: an override is not a field of :class:`SyntheticOptions`.

    Example:
      >>> data = generate(num_users=200, num_items=150, num_interactions=3000)
      >>> data.num_items
      150
      >>> generate(SyntheticOptions(num_users=200, num_items=150, num_interactions=3000),
      ...          seed=1).num_users
      200
    """
    return generate_with_truth(options, **overrides)[0]


def generate_with_truth(options: SyntheticOptions | None = None, /, **overrides: float
                        ) -> tuple[Interactions, SyntheticTruth]:
    """Like :func:`generate` (same arguments) but also returns the latents.

    Args:
      options: the options; ``None`` for the defaults of :class:`SyntheticOptions`.
      **overrides: fields of :class:`SyntheticOptions` replacing those of ``options``.

    Returns:
      ``(data, truth)``.

    Raises:
      ConfigError: an option is out of range.
      TypeError: an override is not a field of :class:`SyntheticOptions`.

    Example:
      >>> data, truth = generate_with_truth(num_users=200, num_items=150,
      ...                                   num_interactions=3000)
      >>> truth.user_taste.shape
      (6, 200, 12)
    """
    opts = dataclasses.replace(SyntheticOptions() if options is None else options, **overrides)  # type: ignore[arg-type]
    opts.validate()
    return Simulator(opts).run()
