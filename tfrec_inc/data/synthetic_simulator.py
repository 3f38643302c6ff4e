"""The synthetic generator's simulation stages and vocabularies (entry point: ``synthetic``).

:class:`Simulator` runs the world model described in :mod:`tfrec_inc.data.synthetic`;
its methods are the stages in the order they draw from the one ``numpy`` Generator, so
reordering them changes every generated frame.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from tfrec_inc.data.interactions import Interactions
from tfrec_inc.data.synthetic_types import DAY, EPOCH, SyntheticOptions, SyntheticTruth

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


class Simulator:
    """One simulation run; methods are the generation stages, in order.

    Args:
      opts: validated options (see :meth:`SyntheticOptions.validate`).
    """

    MIN_FIRST = 2  # interactions each user gets in their arrival period

    def __init__(self, opts: SyntheticOptions) -> None:
        self.opts = opts
        self.rng = np.random.default_rng(opts.seed)

    def run(self) -> tuple[Interactions, SyntheticTruth]:
        """Runs every stage once.

        Returns:
          ``(data, truth)``: the frames and the latents behind them.
        """
        opts = self.opts
        names, words = self._topics()
        items = self._items(words)
        users = self._users()
        inter, item_arrival = self._interactions(items, users)
        prefix = items["domain"] if opts.domains == 2 else np.full(opts.num_items, "i")
        item_ids = np.char.add(prefix.astype(str), np.char.zfill(
            np.arange(opts.num_items).astype(str), 5))
        user_ids = np.char.add("u", np.char.zfill(np.arange(opts.num_users).astype(str), 5))

        frame = pd.DataFrame({
            "user_id": user_ids[inter["user"]],
            "item_id": item_ids[inter["item"]],
            "timestamp": inter["timestamp"],
            "rating": inter["rating"],
        })
        if opts.domains == 2:
            frame["domain"] = items["domain"][inter["item"]]
        texts, titles = self._texts(items, words)
        catalog = pd.DataFrame({
            "item_id": item_ids,
            "text": texts,
            "genres": self._genres(items, names),
            "title": titles,
            "arrival": item_arrival.astype(np.float64),
        })
        if opts.domains == 2:
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
            period_seconds=opts.period_days * DAY, item_popularity=items["popularity"],
            user_domain_a=users["p_a"], affinity_strength=opts.affinity_strength,
            new_item_boost=opts.new_item_boost,
        )
        return dataclasses.replace(data, truth=truth), truth

    # -- topics --------------------------------------------------------------------

    def _topics(self) -> tuple[list[str], list[list[str]]]:
        """Picks (and shuffles) theme vocabularies; made-up words past 16 topics."""
        k = self.opts.num_topics
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
        p = self.opts.num_periods
        n0 = min(max(1, round(n * self.opts.initial_fraction)), n - (p - 1))
        later = np.concatenate([np.full(len(c), i + 1) for i, c in
                                enumerate(np.array_split(np.arange(n - n0), p - 1))])
        return self.rng.permutation(np.concatenate([np.zeros(n0, int), later]).astype(int))

    def _items(self, words: list[list[str]]) -> dict[str, np.ndarray]:
        opts, rng = self.opts, self.rng
        n, k = opts.num_items, opts.num_topics
        period = self._arrivals(n)
        domain: np.ndarray = np.full(n, "A")
        if opts.domains == 2:
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
        popularity = ranks.astype(float) ** -opts.popularity_exponent
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
        opts, rng = self.opts, self.rng
        n, k, p = opts.num_users, opts.num_topics, opts.num_periods
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
            swap = np.flatnonzero(rng.random(n) < opts.drift)
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
                "p_a": rng.beta(2.0, 2.0, n) if opts.domains == 2 else np.ones(n)}

    # -- interactions --------------------------------------------------------------

    def _interactions(self, items: dict[str, np.ndarray], users: dict[str, np.ndarray]
                      ) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Draws events period by period, keeps each pair's first, trims and rates them.

        Args:
          items: the item latents of `_items`.
          users: the user latents of `_users`.

        Returns:
          ``(events, item_arrival)``: parallel arrays ``user``, ``item`` (row numbers),
          ``timestamp``, ``period`` and ``rating``; and each item's arrival time (Unix
          seconds), never later than its first event.
        """
        opts, rng = self.opts, self.rng
        p = opts.num_periods
        active = np.array([(users["period"] <= t).sum() for t in range(p)], dtype=float)
        # Busier periods as the user base grows; oversample to absorb repeat draws.
        budget = np.floor(opts.num_interactions * 1.4 * active / active.sum()).astype(int)
        period_s = opts.period_days * DAY
        arrival_offset = {
            side: np.where(table["period"] > 0, rng.integers(0, period_s, len(table["period"])), 0)
            for side, table in (("items", items), ("users", users))
        }
        chunks = [self._period_events(t, int(budget[t]), arrival_offset, items, users)
                  for t in range(p)]
        events = {key: np.concatenate([c[key] for c in chunks]) for key in chunks[0]}
        events = self._first_events(events)
        events["rating"] = self._ratings(events, items, users)
        # The moment `_period_events` lets an item be chosen: its catalog arrival.
        item_arrival = EPOCH + items["period"] * period_s + arrival_offset["items"]
        return events, item_arrival

    def _period_events(self, t: int, budget: int, arrival_offset: dict[str, np.ndarray],
                       items: dict[str, np.ndarray], users: dict[str, np.ndarray]
                       ) -> dict[str, np.ndarray]:
        """Draws period ``t``'s events: newcomers' first ones, then activity-weighted users.

        Returns:
          Parallel arrays ``user``, ``item``, ``timestamp`` and ``period`` (may repeat pairs).
        """
        opts, rng = self.opts, self.rng
        period_s = opts.period_days * DAY
        newcomers = np.flatnonzero(users["period"] == t)
        pool = np.flatnonzero(users["period"] <= t)
        weights = users["activity"][pool] / users["activity"][pool].sum()
        extra = max(budget - self.MIN_FIRST * len(newcomers), 0)
        who = np.concatenate([np.repeat(newcomers, self.MIN_FIRST),
                              rng.choice(pool, extra, p=weights)])
        in_a = rng.random(len(who)) < users["p_a"][who]
        dom = np.where(in_a, "A", "B")
        what = np.empty(len(who), dtype=int)
        for d in ("A", "B") if opts.domains == 2 else ("A",):
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
        return {"user": who, "item": what, "timestamp": when, "period": np.full(len(who), t)}

    def _first_events(self, events: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Keeps each (user, item) pair's first event, then trims to the target size.

        A user's first event is never dropped (it marks their arrival).
        """
        order = np.argsort(events["timestamp"], kind="stable")
        events = {key: col[order] for key, col in events.items()}
        pair = events["user"].astype(np.int64) * self.opts.num_items + events["item"]
        _, first = np.unique(pair, return_index=True)
        keep = np.sort(first)
        events = {key: col[keep] for key, col in events.items()}
        excess = len(events["user"]) - self.opts.num_interactions
        if excess > 0:
            _, user_first = np.unique(events["user"], return_index=True)
            droppable = np.setdiff1d(np.arange(len(events["user"])), user_first)
            drop = self.rng.choice(droppable, min(excess, len(droppable)), replace=False)
            mask = np.ones(len(events["user"]), bool)
            mask[drop] = False
            events = {key: col[mask] for key, col in events.items()}
        return events

    def _ratings(self, events: dict[str, np.ndarray], items: dict[str, np.ndarray],
                 users: dict[str, np.ndarray]) -> np.ndarray:
        """Stars 1..5 from the period's taste/item affinity, biases and noise."""
        who, what = events["user"], events["item"]
        affinity = np.einsum("nk,nk->n", users["taste"][events["period"], who],
                             items["topics"][what])
        z = (affinity - affinity.mean()) / (affinity.std() + 1e-9)
        raw = (3.0 + 1.2 * z + items["quality"][what] + users["bias"][who]
               + self.rng.normal(0.0, self.opts.rating_noise, len(who)))
        return np.clip(np.rint(raw), 1, 5).astype(np.float32)

    def _choose_items(self, who: np.ndarray, t: int, domain: str,
                      items: dict[str, np.ndarray], users: dict[str, np.ndarray]
                      ) -> np.ndarray:
        """Samples one item per draw from the user's choice distribution in period t.

        Vectorised inverse-CDF sampling: each distinct user's CDF row is shifted by its
        row number so one ``searchsorted`` on the flattened matrix serves every draw.
        """
        opts, rng = self.opts, self.rng
        avail = np.flatnonzero((items["period"] <= t) & (items["domain"] == domain))
        rows, inverse = np.unique(who, return_inverse=True)
        logits = opts.affinity_strength * (users["taste"][t, rows] @ items["topics"][avail].T)
        logits += np.log(items["popularity"][avail])
        logits += np.where(items["period"][avail] == t, np.log(opts.new_item_boost), 0.0)
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
