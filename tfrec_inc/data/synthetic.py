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
  interacted with before its arrival period, and a user's first interactions fall in
  their arrival period. Period ``p`` covers ``[p, p + 1) * period_days`` days after
  2020-01-01 UTC (timestamps in Unix seconds).
* Ratings 1..5 follow the taste/item affinity plus user/item biases and noise.
* ``domains=2`` adds domain "B": same topics, but another half of each topic's words,
  other filler words and another text template; ids get the domain as prefix and the
  interactions a ``domain`` column.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from tfrec_inc.data.interactions import Interactions
from tfrec_inc.errors import ConfigError

EPOCH = 1_577_836_800  # 2020-01-01T00:00:00Z
DAY = 86_400

_THEMES = {
    "space": "galaxy rocket astronaut orbit planet nebula comet asteroid telescope satellite "
    "cosmos lunar solar meteor starship gravity eclipse spacecraft martian supernova launchpad "
    "capsule moonbase quasar stellar interstellar cosmonaut observatory spacewalk celestial",
    "cooking": "recipe kitchen baking oven flavor chef spice dough pastry simmer garlic butter "
    "saucepan roast dessert noodle grill herb vinegar skillet casserole broth seasoning whisk "
    "cinnamon caramel dumpling marinade bakery cuisine",
    "sports": "football goal stadium striker referee tournament championship athlete coach "
    "league penalty dribble playoff quarterback marathon sprinter trophy scoreboard halftime "
    "tackle goalkeeper racket umpire overtime slalom podium relay hurdle jersey teammate",
    "music": "guitar melody symphony drummer concert chorus piano violin orchestra lyrics "
    "rhythm album jazz ballad saxophone harmony tempo soprano cello encore bassline conductor "
    "opera trumpet songwriter acoustic chord serenade metronome rehearsal",
    "ocean": "sailor harbor reef coral tide lighthouse shipwreck dolphin whale anchor voyage "
    "lagoon seashell surf captain submarine kelp seabed island mariner shark pier schooner "
    "buoy seagull starfish octopus wave coastline fisherman",
    "gardening": "garden tulip seedling compost greenhouse orchard blossom shovel soil "
    "fertilizer pruning hedge daisy sunflower vineyard harvest rosebush trowel mulch sprout "
    "meadow orchid lavender watering flowerbed gardener perennial acorn fern topsoil",
    "finance": "investor stock dividend banker mortgage portfolio inflation currency ledger "
    "auditor hedgefund bond equity revenue budget loan accountant taxes wallstreet broker "
    "profit shareholder interest pension merger bankruptcy payroll savings credit treasury",
    "medicine": "doctor hospital surgeon nurse vaccine clinic diagnosis patient therapy "
    "prescription virus antibiotic ambulance cardiology stethoscope pharmacy surgery fever "
    "symptom remedy pediatric pulse xray infection bandage physician paramedic syringe immune "
    "recovery",
    "computers": "software laptop algorithm keyboard server database programmer hacker network "
    "processor firmware compiler robot pixel bandwidth motherboard debug javascript encryption "
    "startup cloud gadget monitor browser cyber silicon chatbot touchscreen malware coding",
    "history": "empire pharaoh castle knight dynasty emperor medieval kingdom crusade monarch "
    "pyramid archaeology chronicle samurai viking colony legion throne revolution treaty "
    "ancient manuscript fortress battlefield gladiator centurion scroll relic peasant conquest",
    "travel": "passport airport suitcase tourist hotel backpack itinerary journey luggage "
    "sightseeing hostel cruise adventure postcard souvenir map flight vacation resort roadtrip "
    "guidebook explorer expedition border landmark campsite railway departure safari tourism",
    "fashion": "dress runway designer fabric jacket silk boutique sneakers denim couture "
    "necklace handbag stylist wardrobe velvet tailor model lipstick perfume earrings scarf "
    "catwalk sequin glamour cotton hat makeup bracelet leather outfit",
    "wildlife": "lion elephant jungle tiger zebra giraffe leopard savanna wolf bear eagle "
    "rainforest gorilla cheetah rhino panther antelope hippo crocodile flamingo koala kangaroo "
    "monkey owl fox bison moose hyena parrot predator",
    "crime": "detective murder suspect police alibi clue robbery heist gangster prison witness "
    "courtroom verdict fingerprint sheriff smuggler hostage ransom investigation forensic "
    "kidnapper mafia burglar inspector interrogation evidence jury fugitive handcuffs "
    "conspiracy",
    "romance": "love wedding kiss sweetheart valentine romance bride groom passion heartbreak "
    "honeymoon darling courtship flirt engagement soulmate affection crush embrace proposal "
    "lover candlelight rose date anniversary tender devotion bouquet charm marriage",
    "horror": "ghost vampire zombie haunted monster nightmare witch demon graveyard werewolf "
    "skeleton creepy curse shadow scream coffin phantom spooky blood cemetery possessed occult "
    "exorcist fear darkness mummy poltergeist crypt spider terror",
}
WORDS_PER_TOPIC = 30
# Filler words carry no topic signal; "shared" ones appear in both domains.
_SHARED_FILLERS = ("the", "with", "and", "new", "best")
_FILLERS = {
    "A": ("story", "film", "tale", "drama", "directed", "starring", "scene", "sequel",
          "remastered", "saga", "classic", "about"),
    "B": ("premium", "quality", "durable", "deluxe", "compact", "series", "collection",
          "includes", "ideal", "gift", "essential", "for"),
}
_PRODUCT_NOUNS = ("kit", "set", "pack", "bundle", "edition")
AGE_GROUPS = ("18-24", "25-34", "35-49", "50+")
REGIONS = ("north", "south", "east", "west", "central")


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

    def period_of(self, timestamps: np.ndarray | pd.Series) -> np.ndarray:
        """Maps Unix-second timestamps to period indices."""
        return (np.asarray(timestamps, dtype=np.int64) - EPOCH) // self.period_seconds


def generate(
    num_users: int = 2000,
    num_items: int = 1500,
    num_interactions: int = 60_000,
    num_periods: int = 6,
    num_topics: int = 12,
    seed: int = 0,
    domains: int = 1,
    *,
    period_days: int = 30,
    initial_fraction: float = 0.5,
    drift: float = 0.25,
    popularity_exponent: float = 0.8,
    affinity_strength: float = 8.0,
    new_item_boost: float = 3.0,
    rating_noise: float = 0.6,
) -> Interactions:
    """Generates the synthetic dataset (see the module docstring for the world model).

    Args:
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

    Returns:
      Ratings 1..5; items with ``text``, ``genres`` (topic names) and ``title`` (plus
      ``domain`` when ``domains=2``); users with ``age_group`` and ``region``.

    Raises:
      ConfigError: an argument is out of range.

    Example:
      >>> data = generate(num_users=200, num_items=150, num_interactions=3000)
      >>> data.num_items
      150
    """
    return generate_with_truth(
        num_users=num_users, num_items=num_items, num_interactions=num_interactions,
        num_periods=num_periods, num_topics=num_topics, seed=seed, domains=domains,
        period_days=period_days, initial_fraction=initial_fraction, drift=drift,
        popularity_exponent=popularity_exponent, affinity_strength=affinity_strength,
        new_item_boost=new_item_boost, rating_noise=rating_noise,
    )[0]


def generate_with_truth(**options) -> tuple[Interactions, SyntheticTruth]:
    """Like :func:`generate` (same keyword arguments) but also returns the latents.

    Returns:
      ``(data, truth)``.

    Example:
      >>> data, truth = generate_with_truth(num_users=200, num_items=150,
      ...                                   num_interactions=3000)
      >>> truth.user_taste.shape
      (6, 200, 12)
    """
    cfg = _Config(**options)
    cfg.validate()
    return _Simulator(cfg).run()


@dataclasses.dataclass(frozen=True)
class _Config:
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


class _Simulator:
    """One simulation run; methods are the generation stages, in order."""

    MIN_FIRST = 2  # interactions each user gets in their arrival period

    def __init__(self, cfg: _Config):
        self.cfg = cfg
        self.rng = np.random.default_rng(cfg.seed)

    def run(self) -> tuple[Interactions, SyntheticTruth]:
        cfg = self.cfg
        names, words = self._topics()
        items = self._items(words)
        users = self._users()
        inter = self._interactions(items, users)
        prefix = items["domain"] if cfg.domains == 2 else np.full(cfg.num_items, "i")
        item_ids = np.char.add(prefix.astype(str), np.char.zfill(
            np.arange(cfg.num_items).astype(str), 5))
        user_ids = np.char.add("u", np.char.zfill(np.arange(cfg.num_users).astype(str), 5))

        frame = pd.DataFrame({
            "user_id": user_ids[inter["user"]],
            "item_id": item_ids[inter["item"]],
            "timestamp": inter["timestamp"],
            "rating": inter["rating"],
        })
        if cfg.domains == 2:
            frame["domain"] = items["domain"][inter["item"]]
        texts, titles = self._texts(items, words)
        catalog = pd.DataFrame({
            "item_id": item_ids,
            "text": texts,
            "genres": self._genres(items, names),
            "title": titles,
        })
        if cfg.domains == 2:
            catalog["domain"] = items["domain"]
        user_table = pd.DataFrame({
            "user_id": user_ids,
            "age_group": np.array(AGE_GROUPS)[users["age"]],
            "region": np.array(REGIONS)[users["region"]],
        })
        data = Interactions.create("synthetic", frame, catalog, user_table)
        truth = SyntheticTruth(
            topic_names=names, topic_words=words, item_ids=item_ids,
            item_topics=items["topics"], item_main_topic=items["main"],
            item_period=items["period"], item_domain=items["domain"], user_ids=user_ids,
            user_period=users["period"], user_taste=users["taste"],
            period_seconds=cfg.period_days * DAY,
        )
        return data, truth

    # -- topics --------------------------------------------------------------------

    def _topics(self) -> tuple[list[str], list[list[str]]]:
        """Picks (and shuffles) theme vocabularies; made-up words past 16 topics."""
        k = self.cfg.num_topics
        themes = list(_THEMES)
        chosen = [themes[i] for i in self.rng.permutation(len(themes))[: min(k, len(themes))]]
        names = list(chosen)
        words = [list(self.rng.permutation(_THEMES[t].split())) for t in chosen]
        taken = {w for ws in _THEMES.values() for w in ws.split()}
        taken |= set(_SHARED_FILLERS) | {w for ws in _FILLERS.values() for w in ws}
        for extra in range(len(chosen), k):
            names.append(f"topic{extra}")
            words.append(self._made_up_words(WORDS_PER_TOPIC, taken))
        return names, [[str(w) for w in ws] for ws in words]

    def _made_up_words(self, n: int, taken: set[str]) -> list[str]:
        onsets = list("bdfgklmnprstvz") + ["br", "st", "tr", "pl", "gr", "sk"]
        vowels = ["a", "e", "i", "o", "u", "ai", "ou"]
        out: list[str] = []
        while len(out) < n:
            syl = self.rng.integers(2, 4)
            word = "".join(onsets[self.rng.integers(len(onsets))]
                           + vowels[self.rng.integers(len(vowels))] for _ in range(syl))
            if word not in taken:
                taken.add(word)
                out.append(word)
        return out

    # -- items ---------------------------------------------------------------------

    def _arrivals(self, n: int) -> np.ndarray:
        """Arrival period per entity: ``initial_fraction`` at 0, the rest spread evenly."""
        p = self.cfg.num_periods
        n0 = min(max(1, round(n * self.cfg.initial_fraction)), n - (p - 1))
        later = np.concatenate([np.full(len(c), i + 1) for i, c in
                                enumerate(np.array_split(np.arange(n - n0), p - 1))])
        return self.rng.permutation(np.concatenate([np.zeros(n0, int), later]).astype(int))

    def _items(self, words: list[list[str]]) -> dict[str, np.ndarray]:
        cfg, rng = self.cfg, self.rng
        n, k = cfg.num_items, cfg.num_topics
        period = self._arrivals(n)
        domain = np.full(n, "A")
        if cfg.domains == 2:
            domain = rng.permutation(np.where(np.arange(n) % 2 == 0, "A", "B"))
            # Both domains need items arriving in every period.
            for d in ("A", "B"):
                mask = domain == d
                period[mask] = self._arrivals(int(mask.sum()))
        main = rng.permutation(np.arange(n) % k)  # every topic equally common
        second = (main + rng.integers(1, k, n)) % k
        has_second = rng.random(n) < 0.5
        w2 = np.where(has_second, rng.uniform(0.15, 0.4, n), 0.0)
        topics = np.zeros((n, k))
        topics[np.arange(n), main] = 1.0 - w2
        topics[np.arange(n), second] += w2
        ranks = rng.permutation(n) + 1
        popularity = ranks.astype(float) ** -cfg.popularity_exponent
        quality = rng.normal(0.0, 0.5, n)
        return {"period": period, "domain": domain, "main": main, "second": second,
                "w2": w2, "topics": topics, "popularity": popularity, "quality": quality}

    def _texts(self, items: dict[str, np.ndarray], words: list[list[str]]
               ) -> tuple[list[str], list[str]]:
        """Writes each item's title and text from its topics' words (main topic first).

        The main topic always contributes strictly more description words than the
        second one, so its vocabulary dominates the text.
        """
        rng = self.rng
        half = WORDS_PER_TOPIC // 3
        # Domain A draws from words[:20], domain B from words[10:]: same topics, different
        # (but overlapping) surface vocabulary.
        span = {"A": slice(0, 2 * half), "B": slice(half, WORDS_PER_TOPIC)}
        texts, titles = [], []
        for i in range(len(items["main"])):
            dom = str(items["domain"][i])
            main_vocab = words[items["main"][i]][span[dom]]
            n_topic = int(rng.integers(6, 11))
            n_main = n_topic
            if items["w2"][i] > 0:
                n_main = max(int(np.ceil(n_topic * (1.0 - items["w2"][i]))), n_topic // 2 + 1)
            picked = list(rng.choice(main_vocab, n_main, replace=False))
            if n_topic > n_main:
                second_vocab = words[items["second"][i]][span[dom]]
                picked += list(rng.choice(second_vocab, n_topic - n_main, replace=False))
            fillers = _SHARED_FILLERS + _FILLERS[dom]
            picked += list(rng.choice(fillers, int(rng.integers(2, 6)), replace=False))
            desc = " ".join(str(w) for w in rng.permutation(picked))
            title = " ".join(str(w).capitalize() for w in rng.choice(main_vocab, 2,
                                                                       replace=False))
            if dom == "A":
                text = f"{title}. {desc.capitalize()}."
            else:
                noun = _PRODUCT_NOUNS[int(rng.integers(len(_PRODUCT_NOUNS)))]
                text = f"{title} {noun}: {desc}."
            texts.append(text)
            titles.append(title)
        return texts, titles

    def _genres(self, items: dict[str, np.ndarray], names: list[str]) -> list[str]:
        """Topic names: the main one, plus the second when it weighs >= 0.3."""
        main = np.array(names)[items["main"]]
        second = np.array(names)[items["second"]]
        return [f"{m}|{s}" if w >= 0.3 else str(m)
                for m, s, w in zip(main, second, items["w2"], strict=True)]

    # -- users ---------------------------------------------------------------------

    def _users(self) -> dict[str, np.ndarray]:
        cfg, rng = self.cfg, self.rng
        n, k, p = cfg.num_users, cfg.num_topics, cfg.num_periods
        period = self._arrivals(n)
        fav = rng.integers(0, k, n)
        second = (fav + rng.integers(1, k, n)) % k
        logits = rng.normal(0.0, 0.5, (n, k))
        logits[np.arange(n), fav] += 2.5
        logits[np.arange(n), second] += 1.2
        taste = np.empty((p, n, k))
        taste[0] = _softmax(logits)
        for t in range(1, p):
            logits = logits + rng.normal(0.0, 0.25, (n, k))
            swap = np.flatnonzero(rng.random(n) < cfg.drift)
            top = logits[swap].argmax(axis=1)
            new = (top + rng.integers(1, k, len(swap))) % k
            hi, lo = logits[swap, top].copy(), logits[swap, new].copy()
            logits[swap, top], logits[swap, new] = lo, hi
            taste[t] = _softmax(logits)
        # Features follow the favourite topic at arrival (noisily): a cold-start signal.
        arrival_fav = taste[period, np.arange(n)].argmax(axis=1)
        topic_age = rng.integers(0, len(AGE_GROUPS), k)
        topic_region = rng.integers(0, len(REGIONS), k)
        age = np.where(rng.random(n) < 0.6, topic_age[arrival_fav],
                       rng.integers(0, len(AGE_GROUPS), n))
        region = np.where(rng.random(n) < 0.5, topic_region[arrival_fav],
                          rng.integers(0, len(REGIONS), n))
        return {"period": period, "taste": taste, "age": age, "region": region,
                "activity": rng.lognormal(0.0, 1.0, n), "bias": rng.normal(0.0, 0.4, n),
                "p_a": rng.beta(2.0, 2.0, n) if cfg.domains == 2 else np.ones(n)}

    # -- interactions --------------------------------------------------------------

    def _interactions(self, items: dict[str, np.ndarray], users: dict[str, np.ndarray]
                      ) -> dict[str, np.ndarray]:
        cfg, rng = self.cfg, self.rng
        p = cfg.num_periods
        active = np.array([(users["period"] <= t).sum() for t in range(p)], dtype=float)
        # Busier periods as the user base grows; oversample to absorb repeat draws.
        budget = np.floor(cfg.num_interactions * 1.4 * active / active.sum()).astype(int)
        period_s = cfg.period_days * DAY
        arrival_offset = {
            side: np.where(table["period"] > 0, rng.integers(0, period_s, len(table["period"])), 0)
            for side, table in (("items", items), ("users", users))
        }
        chunks = []
        for t in range(p):
            newcomers = np.flatnonzero(users["period"] == t)
            pool = np.flatnonzero(users["period"] <= t)
            weights = users["activity"][pool] / users["activity"][pool].sum()
            extra = max(budget[t] - self.MIN_FIRST * len(newcomers), 0)
            who = np.concatenate([np.repeat(newcomers, self.MIN_FIRST),
                                  rng.choice(pool, extra, p=weights)])
            in_a = rng.random(len(who)) < users["p_a"][who]
            dom = np.where(in_a, "A", "B")
            what = np.empty(len(who), dtype=int)
            for d in ("A", "B") if cfg.domains == 2 else ("A",):
                sel = np.flatnonzero(dom == d)
                if len(sel):
                    what[sel] = self._choose_items(who[sel], t, d, items, users)
            start = EPOCH + t * period_s
            when = start + rng.integers(0, period_s, len(who))
            # Newcomers arrive at a random moment of their period, not at its start, so
            # some are first seen late in a window (in its test slice): real cold start.
            earliest = start + np.maximum(
                np.where(items["period"][what] == t, arrival_offset["items"][what], 0),
                np.where(users["period"][who] == t, arrival_offset["users"][who], 0))
            late = when < earliest
            span = start + period_s - earliest[late]
            when[late] = earliest[late] + (rng.random(late.sum()) * span).astype(np.int64)
            chunks.append((who, what, when, np.full(len(who), t)))
        who, what, when, period = (np.concatenate(c) for c in zip(*chunks, strict=True))

        # Keep each (user, item) pair's first event only, then trim to the target size,
        # never dropping a user's first event (it marks their arrival).
        order = np.argsort(when, kind="stable")
        who, what, when, period = who[order], what[order], when[order], period[order]
        pair = who.astype(np.int64) * cfg.num_items + what
        _, first = np.unique(pair, return_index=True)
        keep = np.sort(first)
        who, what, when, period = who[keep], what[keep], when[keep], period[keep]
        excess = len(who) - cfg.num_interactions
        if excess > 0:
            _, user_first = np.unique(who, return_index=True)
            droppable = np.setdiff1d(np.arange(len(who)), user_first)
            drop = rng.choice(droppable, min(excess, len(droppable)), replace=False)
            mask = np.ones(len(who), bool)
            mask[drop] = False
            who, what, when, period = who[mask], what[mask], when[mask], period[mask]

        affinity = np.einsum("nk,nk->n", users["taste"][period, who], items["topics"][what])
        z = (affinity - affinity.mean()) / (affinity.std() + 1e-9)
        raw = (3.0 + 1.2 * z + items["quality"][what] + users["bias"][who]
               + rng.normal(0.0, cfg.rating_noise, len(who)))
        rating = np.clip(np.rint(raw), 1, 5).astype(np.float32)
        return {"user": who, "item": what, "timestamp": when, "rating": rating}

    def _choose_items(self, who: np.ndarray, t: int, domain: str,
                      items: dict[str, np.ndarray], users: dict[str, np.ndarray]
                      ) -> np.ndarray:
        """Samples one item per draw from the user's choice distribution in period t.

        Vectorised inverse-CDF sampling: each distinct user's CDF row is shifted by its
        row number so one ``searchsorted`` on the flattened matrix serves every draw.
        """
        cfg, rng = self.cfg, self.rng
        avail = np.flatnonzero((items["period"] <= t) & (items["domain"] == domain))
        rows, inverse = np.unique(who, return_inverse=True)
        logits = cfg.affinity_strength * (users["taste"][t, rows] @ items["topics"][avail].T)
        logits += np.log(items["popularity"][avail])
        logits += np.where(items["period"][avail] == t, np.log(cfg.new_item_boost), 0.0)
        probs = _softmax(logits)
        cdf = np.cumsum(probs, axis=1)
        cdf /= cdf[:, -1:]
        flat = (cdf + np.arange(len(rows))[:, None]).ravel()
        u = inverse + rng.random(len(who)) * (1.0 - 1e-12)
        pos = np.searchsorted(flat, u, side="right") - inverse * len(avail)
        return avail[np.clip(pos, 0, len(avail) - 1)]


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)
