"""
Demo data: respondents and their views, generated from a seeded random
generator so the same seed gives the same rows. The seed_demo command writes
what this module makes.

The text is assembled from a bank of sentences about the themes of the QIPP
challenge. Each theme's templates are filled in once, at start-up, so making a
view is a handful of cheap picks: a million submissions must take minutes.
"""

import json
import random
import uuid
from bisect import bisect
from datetime import UTC, datetime, timedelta
from itertools import accumulate, combinations

from .demo_vocabulary import (
    CAMPAIGN_LETTERS,
    CAMPAIGN_SHARE,
    CLOSERS,
    CONNECTIVES,
    DAY_WEIGHTS,
    ELEMENT_ORDER,
    ELEMENT_WEIGHTS,
    FIRST_NAMES,
    GENERAL,
    HOUR_WEIGHTS,
    LAST_NAMES,
    LEVEL_ORDER,
    LEVEL_WEIGHTS,
    LONDON,
    MAX_WORDS,
    NHS_ROLES,
    NHS_TYPES,
    OPENER_SHARE,
    OPENERS,
    ORG_TYPE_ORDER,
    ORG_TYPE_WEIGHTS,
    ORGANISATIONS,
    PLACES,
    REGION_ORDER,
    REGION_WEIGHTS,
    ROLE_ORDER,
    ROLES_BY_ORG_TYPE,
    SENTENCES_PER_TEMPLATE,
    SLOTS,
    SOURCE_WEIGHTS,
    STANCE_WEIGHTS,
    TAGGED_SHARE,
    THEMES,
    TRIAGED_WEIGHTS,
    VIEW_COUNT_WEIGHTS,
)
from .models import (
    REFERENCE_ALPHABET,
    Element,
    OrganisationType,
    Principle,
    Region,
    Source,
    Status,
)


def _one(rng: random.Random, values):
    # random.choice draws until it gets an unbiased index; a plain scaled float is several times
    # quicker and its bias (under 1e-15) is beside the point for demo data.
    return values[int(rng.random() * len(values))]


class Weighted:
    """A weighted choice that costs one random number and a bisect."""

    def __init__(self, weights: dict):
        self.values = list(weights)
        self.cumulative = list(accumulate(weights.values()))
        self.total = self.cumulative[-1]

    def pick(self, rng: random.Random):
        return self.values[bisect(self.cumulative, rng.random() * self.total)]


class _Slots(dict):
    def __init__(self, rng: random.Random):
        super().__init__()
        self.rng = rng

    def __missing__(self, key: str) -> str:
        return _one(self.rng, SLOTS[key])


class Bank:
    """
    Every template filled in a few ways, once. A pool entry is (template
    number, sentence, word count): a view uses each template at most once, so
    it never says the same thing twice in other words.
    """

    def __init__(self, rng: random.Random):
        number = 0

        def pool(templates: list[str]) -> list[tuple[int, str, int]]:
            nonlocal number
            entries = []
            for template in templates:
                number += 1
                variants = {template.format_map(_Slots(rng)) for _ in range(SENTENCES_PER_TEMPLATE)}
                for text in sorted(variants):
                    if rng.random() < 0.2 and text[1:2].islower():
                        text = _one(rng, CONNECTIVES) + text
                    else:
                        text = text[0].upper() + text[1:]
                    entries.append((number, text, text.count(" ") + 1))
            return entries

        self.themes = {
            element: [(name, pool(templates)) for name, templates in themes.items()]
            for element, themes in THEMES.items()
        }
        self.general = pool(GENERAL)


class Generator:
    """Makes the rows of demo submissions a chunk at a time, all drawn from generators seeded by `seed`."""

    def __init__(self, *, seed: int, weeks: int, now: datetime, staff_ids: list[int], theme_ids: dict):
        # Demo data must be reproducible from a seed, so not the secrets module. References
        # and tokens have a stream of their own: redrawing a taken one leaves the rest unchanged.
        self.rng = random.Random(seed)  # noqa: S311
        self.ids_rng = random.Random(f"{seed}:identifiers")  # noqa: S311
        # The answers added with the letter's questions draw from a stream of their own,
        # so the rest of a seed's data is what it was before they were asked.
        self.answers_rng = random.Random(f"{seed}:answers")  # noqa: S311
        self.bank = Bank(self.rng)
        self.now = now
        self.now_ts = now.timestamp()
        self.staff_ids = staff_ids
        self.theme_ids = theme_ids  # (element, theme name) -> Theme id
        self.made = 0
        self._hours(weeks)
        self.org_types = Weighted(ORG_TYPE_WEIGHTS)
        self.regions = Weighted(REGION_WEIGHTS)
        self.elements = Weighted(ELEMENT_WEIGHTS)
        self.levels = Weighted(LEVEL_WEIGHTS)
        self.sources = Weighted(SOURCE_WEIGHTS)
        self.triaged = Weighted(TRIAGED_WEIGHTS)
        self.view_counts = Weighted(VIEW_COUNT_WEIGHTS)
        self.stances = Weighted(STANCE_WEIGHTS)
        self.principles = [
            json.dumps(list(combo)) for size in range(1, 3) for combo in combinations(Principle.values, size)
        ]
        self.organisations = {
            org_type: sorted({template.format(place=place) for template in templates for place in PLACES})
            for org_type, templates in ORGANISATIONS.items()
        }
        self.triples = [a + b + c for a in REFERENCE_ALPHABET for b in REFERENCE_ALPHABET for c in REFERENCE_ALPHABET]
        self.letters = self._letters(random.Random(f"{seed}:letters"))  # noqa: S311
        self.edit_words = sorted({word for entries in self.bank.general for word in entries[1].split()})

    @property
    def start(self) -> datetime:
        """Monday 00:00, Europe/London, of the first of the weeks: nothing is received before it."""
        return datetime.fromtimestamp(self.hour_starts[0], UTC)

    def _hours(self, weeks: int) -> None:
        """Each hour from the first Monday up to now, weighted by the weekly rhythm; each week busier or quieter."""
        local_now = self.now.astimezone(LONDON)
        monday = local_now.date() - timedelta(days=local_now.weekday() + 7 * (weeks - 1))
        hour = datetime(monday.year, monday.month, monday.day, tzinfo=LONDON).astimezone(UTC)
        week_factors = [self.rng.uniform(0.6, 1.4) for _ in range(weeks)]
        starts, weights = [], []
        while hour < self.now:
            local = hour.astimezone(LONDON)
            week = (local.date() - monday).days // 7
            elapsed = min(1.0, (self.now - hour).total_seconds() / 3600)
            starts.append(hour.timestamp())
            weights.append(DAY_WEIGHTS[local.weekday()] * HOUR_WEIGHTS[local.hour] * week_factors[week] * elapsed)
            hour += timedelta(hours=1)
        self.hour_starts = starts
        self.hour_cumulative = list(accumulate(weights))
        self.span = self.now_ts - starts[0]

    def reference(self) -> str:
        """A reference in the format of models.new_reference(), from the seeded stream."""
        bits = self.ids_rng.getrandbits(36)
        triples = self.triples
        return f"{triples[bits >> 24]}-{triples[(bits >> 12) & 0xFFF]}-{triples[bits & 0xFFF]}"

    def token(self) -> uuid.UUID:
        return uuid.UUID(int=self.ids_rng.getrandbits(128), version=4)

    def chunk(self, size: int) -> tuple[list[dict], list[tuple], list[tuple]]:
        """
        The next `size` submissions, without reference or token (the caller
        draws those until they are free). Returns (submissions, views, tags):
        a view is (submission index, position, element, level, text), a tag
        (view index, theme id, stance, assigned_by id, created_at).
        """
        rng = self.rng
        hours = rng.choices(range(len(self.hour_starts)), cum_weights=self.hour_cumulative, k=size)
        submissions, views, tags = [], [], []
        for index, hour in enumerate(hours):
            turn = self.made + index
            start = self.hour_starts[hour]
            received = start + rng.random() * min(3600.0, self.now_ts - start)
            submission = self._respondent(rng, turn)
            submission.update(self._handling(rng, received, bool(submission["email"])))
            submission.update(self._letter_answers(submission))
            submissions.append(submission)
            for position, element in enumerate(self._elements(rng, turn), start=1):
                level = ""
                if element == Element.PRIORITISATION:
                    level = LEVEL_ORDER[(turn // 4) % 3] if turn < 12 else self.levels.pick(rng)
                if turn >= 12 and rng.random() < CAMPAIGN_SHARE:
                    letter, level, themes = _one(rng, self.letters[element])
                    text = campaign_copy(rng, letter, rng.uniform(0.05, 0.2), self.edit_words)
                else:
                    text, themes = self._text(rng, element, level)
                views.append((index, position, element, level, text))
                if rng.random() < TAGGED_SHARE:
                    for theme in themes[: 1 if rng.random() < 0.7 else 2]:
                        tags.append((len(views) - 1, self.theme_ids[element, theme], *self._tag(rng, received)))
        self.made += size
        return submissions, views, tags

    def _respondent(self, rng: random.Random, turn: int) -> dict:
        if turn < len(ORG_TYPE_ORDER):
            org_type = ORG_TYPE_ORDER[turn]
            role = ROLE_ORDER[turn % len(ROLE_ORDER)]
            region = REGION_ORDER[turn % len(REGION_ORDER)]
        else:
            org_type = self.org_types.pick(rng)
            role = _one(rng, ROLES_BY_ORG_TYPE.get(org_type, NHS_ROLES))
            region = Region.NATIONAL if org_type == OrganisationType.DEPARTMENT_OF_HEALTH else self.regions.pick(rng)
        if org_type == OrganisationType.STRATEGIC_HEALTH_AUTHORITY:
            region = Region.LONDON if region == Region.NATIONAL else region
            organisation = f"NHS {Region(region).label}"
        else:
            organisation = _one(rng, self.organisations[org_type])
        name = email = ""
        if rng.random() < 0.6:
            first, last = _one(rng, FIRST_NAMES), _one(rng, LAST_NAMES)
            name = f"{first} {last}"
            domain = "example.nhs.uk" if org_type in NHS_TYPES else "example.org"
            email = f"{first}.{last}".lower().replace("'", "") + f"{int(rng.random() * 99) + 1}@{domain}"
        return {
            "name": name,
            "email": email,
            "role": role,
            "organisation": organisation,
            "organisation_type": org_type,
            "region": region,
        }

    def _handling(self, rng: random.Random, received: float, has_email: bool) -> dict:
        source = self.sources.pick(rng)
        # Mail and imports are entered some time after they arrived in the mailbox.
        delay = rng.uniform(1, 5) if source == Source.WEB else rng.uniform(3600, 5 * 86400)
        created_at = datetime.fromtimestamp(min(received + delay, self.now_ts), UTC)
        # The older a submission, the likelier the team has triaged it.
        fresh = 1 - (self.now_ts - received) / self.span
        return {
            "received_at": datetime.fromtimestamp(received, UTC),
            "created_at": created_at,
            "source": source,
            "status": Status.NEW if rng.random() < 0.5 + 0.45 * fresh else self.triaged.pick(rng),
            "principles": _one(rng, self.principles) if rng.random() < 0.45 else "[]",
            "consent_to_quote": rng.random() < 0.4,
            # Demo rows never queue an email: nothing is put in the outbox for them.
            "consent_to_contact": has_email and rng.random() < 0.5,
        }

    def _letter_answers(self, submission: dict) -> dict:
        """Whether the response speaks for an organisation, and may be shared in full with the framework's team."""
        rng = self.answers_rng
        organisational = submission["organisation_type"] not in (
            OrganisationType.PUBLIC,
            OrganisationType.PATIENT_GROUP,
        )
        return {
            "on_behalf_of_organisation": bool(submission["organisation"]) and organisational and rng.random() < 0.15,
            "consent_to_share": rng.random() < 0.6,
        }

    def _elements(self, rng: random.Random, turn: int) -> list[str]:
        count = self.view_counts.pick(rng)
        chosen = [ELEMENT_ORDER[turn % 4]] if turn < 12 else []
        while len(chosen) < count:
            element = self.elements.pick(rng)
            # Mostly one view per element; now and then a second view on the same one.
            if element not in chosen or rng.random() < 0.1:
                chosen.append(element)
        return chosen

    def _letters(self, rng: random.Random) -> dict[str, list[tuple[str, str, list[str]]]]:
        """Each element's template letters: (text, level, themes), long enough to stay over 40 words when edited."""
        letters = {}
        for element in Element:
            letters[element] = []
            while len(letters[element]) < CAMPAIGN_LETTERS:
                level = _one(rng, LEVEL_ORDER) if element == Element.PRIORITISATION else ""
                text, themes = self._text(rng, element, level)
                if len(text.split()) >= 60:
                    letters[element].append((text, level, themes))
        return letters

    def view_text(self, element: str, level: str = "") -> str:
        """One more view's text on `element` (and `level`), from the generator's own stream."""
        return self._text(self.rng, element, level)[0]

    def _text(self, rng: random.Random, element: str, level: str) -> tuple[str, list[str]]:
        """A view of 40 to about 250 words, mostly on one theme, partly on another. Returns (text, themes)."""
        pools = self.bank.themes[element]
        first = int(rng.random() * len(pools))
        second = int(rng.random() * (len(pools) - 1))
        (main, main_pool), (other, other_pool) = pools[first], pools[second + (second >= first)]
        target = min(MAX_WORDS - 15, 60 + int(rng.expovariate(1 / 40)))
        # Some open by saying what they are answering; most go straight to their point.
        sentences = [_one(rng, OPENERS[level or element])] if rng.random() < OPENER_SHARE else []
        words = sum(sentence.count(" ") + 1 for sentence in sentences)
        used_templates, themes = set(), [main]
        general = self.bank.general
        random_ = rng.random
        for _ in range(100):
            if words >= target:
                break
            roll = random_()
            pool = main_pool if roll < 0.45 else other_pool if roll < 0.7 else general
            number, sentence, count = pool[int(random_() * len(pool))]
            if number in used_templates:
                continue
            used_templates.add(number)
            sentences.append(sentence)
            words += count
            if pool is other_pool and len(themes) == 1:
                themes.append(other)
        closer = _one(rng, CLOSERS)
        if closer:
            sentences.append(closer)
        if len(sentences) > 7:
            cut = len(sentences) // 2
            return " ".join(sentences[:cut]) + "\n\n" + " ".join(sentences[cut:]), themes
        return " ".join(sentences), themes

    def _tag(self, rng: random.Random, received: float) -> tuple:
        stance = self.stances.pick(rng)
        # Coded by a person: machine suggestions come from training on these (manage.py train_suggestions).
        assigned_by = _one(rng, self.staff_ids) if self.staff_ids else None
        tagged = min(received + rng.uniform(600, 7 * 86400), self.now_ts)
        return stance, assigned_by, datetime.fromtimestamp(tagged, UTC)


def campaign_copy(rng: random.Random, letter: str, share: float, words: list[str]) -> str:
    """
    One respondent's copy of a template letter: about `share` of its words
    changed, each a word put in, taken out or replaced (from `words`).
    """
    out = letter.split()
    for _ in range(max(1, round(len(out) * share))):
        at, roll = int(rng.random() * len(out)), rng.random()
        if roll < 0.5:
            out[at] = _one(rng, words)
        elif roll < 0.75:
            out.insert(at, _one(rng, words))
        elif len(out) > 3:
            del out[at]
    return " ".join(out)
