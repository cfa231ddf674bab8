"""
Campaigns: finding near-identical views (template letters, copy and paste)
so they are counted as what they are, never deleted.

Two steps, so that nothing is compared with everything:

1. Each view gets a MinHash signature over its word pairs (`signatures`):
   the share of places where two signatures agree estimates the share of
   word pairs the two texts have in common. Views that agree in both values
   of any of the signature's BANDS meet in a bucket (locality-sensitive
   hashing), and those whose signatures agree in at least CANDIDATE of their
   places are candidates.
2. A candidate pair is read side by side: the views are near-identical when
   at least SAME_WORDS of them is the same words in the same order. People
   writing on the same topic share phrases, sometimes whole sentences; a
   template letter shares its order too, with a name, a place or a sentence changed.

A view joins the campaign whose first view it nearly repeats (so a campaign
never drifts from its first text), or starts one with the earlier view it
nearly repeats. Grouping is incremental (`group_new_views`): each view is
signed once, new views are compared with all before them, and nothing is
rebuilt. Memory grows with the number of views (128 bytes of signature
each), never with its square.
"""

import logging
import re
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from difflib import SequenceMatcher

import numpy as np
from django.db import connection, transaction
from django.db.models import Count

from .models import Campaign, Element, View, ViewFingerprint

logger = logging.getLogger(__name__)

HASHES = 64
BANDS = 16  # of two values each, from the first 32: views with 0.4 of their word pairs in common meet in one
# Signatures must agree this much for the texts to be read side by side...
CANDIDATE = 0.3
# ...and this much of the two texts must be the same words in the same order (difflib's ratio).
SAME_WORDS = 0.74
CHECKS = 5  # campaigns a new view is read against, most alike first
WINDOW = 500  # in a band many unrelated views share, the earlier views a new one is compared with
BATCH = 2000
GROUP_LOCK = 7302

# Hash functions (a * x + b) mod p with a and b drawn over the whole field, so that every
# word pair is as likely as any other to give the smallest value.
_PRIME = np.uint64((1 << 31) - 1)
_seeds = np.random.default_rng(20100101)
_A = _seeds.integers(1, (1 << 31) - 1, size=HASHES, dtype=np.uint64)
_B = _seeds.integers(0, (1 << 31) - 1, size=HASHES, dtype=np.uint64)
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_ELEMENTS = {code: index for index, code in enumerate(Element.values)}


def _pairs(text: str) -> np.ndarray:
    """The text's word pairs as 32-bit numbers (a lone word stands for itself)."""
    words = np.fromiter((zlib.crc32(word.encode()) for word in _WORD.findall(text.lower())), dtype=np.uint64)
    if len(words) < 2:
        return words if len(words) else np.zeros(1, dtype=np.uint64)
    return (words[:-1] * np.uint64(0x9E3779B1) + words[1:]) & np.uint64(0xFFFFFFFF)


def signatures(texts: list[str]) -> np.ndarray:
    """One row of HASHES 16-bit values per text."""
    if not texts:
        return np.zeros((0, HASHES), dtype=np.uint16)
    pairs = [_pairs(text) for text in texts]
    starts = np.cumsum([0] + [len(p) for p in pairs[:-1]])
    values = np.concatenate(pairs)
    # (a * x + b) mod p, for every pair and every hash function at once: a and x are under 2^31, so no overflow.
    hashed = ((values % _PRIME)[:, None] * _A[None, :] + _B[None, :]) % _PRIME
    return (np.minimum.reduceat(hashed, starts, axis=0) & np.uint64(0xFFFF)).astype(np.uint16)


@dataclass
class Grouped:
    fingerprinted: int = 0
    joined: int = 0  # views that joined a campaign (a campaign's first view counts when it starts one)
    campaigns: int = 0  # campaigns made or grown


def fingerprint_new_views() -> int:
    """Sign every view that has no signature yet. Returns how many."""
    made, after = 0, 0
    while True:
        batch = list(
            View.objects.filter(pk__gt=after, fingerprint__isnull=True)
            .order_by("pk")
            .values_list("pk", "element", "text")[:BATCH]
        )
        if not batch:
            return made
        rows = signatures([text for _, _, text in batch])
        ViewFingerprint.objects.bulk_create(
            [
                ViewFingerprint(view_id=pk, element=element, signature=row.tobytes())
                for (pk, element, _), row in zip(batch, rows, strict=True)
            ],
            ignore_conflicts=True,
        )
        made += len(batch)
        after = batch[-1][0]


@contextmanager
def _group_lock():
    """One grouping at a time (PostgreSQL advisory lock; elsewhere there is one worker)."""
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [GROUP_LOCK])
        held = cursor.fetchone()[0]
    try:
        yield held
    finally:
        if held:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [GROUP_LOCK])


def group_new_views() -> Grouped:
    """
    Fingerprint new views and group each with the views before it: it joins
    the campaign whose first view it nearly repeats, or starts one with an
    earlier view it nearly repeats. Safe to run again and side by side (a
    second run at the same moment finds the lock held and returns).
    """
    result = Grouped(fingerprinted=fingerprint_new_views())
    with _group_lock() as held:
        if not held:
            return result
        table = _Table.load()
        if not table.new.any():
            return result
        matches = table.matches(table.candidates())
        with transaction.atomic():
            result.joined, result.campaigns = _record(table, matches)
            ViewFingerprint.objects.filter(view_id__in=table.ids[table.new].tolist(), grouped=False).update(
                grouped=True
            )
    logger.info("Grouped %s new views: %s joined campaigns", int(table.new.sum()), result.joined)
    return result


def same_words(first: str, second: str) -> float:
    """How much of two texts is the same words in the same order (0 to 1)."""
    return SequenceMatcher(None, _WORD.findall(first.lower()), _WORD.findall(second.lower()), autojunk=False).ratio()


class _Table:
    """Every signature, in the order of the views, with which are new and which campaign each is in."""

    def __init__(self, ids, elements, signature, campaigns, new):
        self.ids, self.elements, self.signature, self.campaigns, self.new = ids, elements, signature, campaigns, new
        # Each campaign's first view, as a row number.
        self.leaders = {
            campaign_id: int(np.searchsorted(ids, view_id))
            for campaign_id, view_id in Campaign.objects.filter(first_view__isnull=False).values_list(
                "pk", "first_view_id"
            )
        }

    @classmethod
    def load(cls) -> "_Table":
        count = ViewFingerprint.objects.count()
        ids = np.zeros(count, dtype=np.int64)
        elements = np.zeros(count, dtype=np.uint64)
        signature = np.zeros((count, HASHES), dtype=np.uint16)
        campaigns = np.zeros(count, dtype=np.int64)
        new = np.zeros(count, dtype=bool)
        rows = ViewFingerprint.objects.order_by("view_id").values_list(
            "view_id", "element", "signature", "campaign_id", "grouped"
        )
        filled = 0
        for index, (view_id, element, raw, campaign_id, grouped) in enumerate(rows.iterator(chunk_size=10_000)):
            if index >= count:  # views fingerprinted since the count wait for the next run
                break
            ids[index], elements[index] = view_id, _ELEMENTS.get(element, 0)
            signature[index] = np.frombuffer(bytes(raw), dtype=np.uint16)
            campaigns[index], new[index] = campaign_id or 0, not grouped
            filled = index + 1
        return cls(ids[:filled], elements[:filled], signature[:filled], campaigns[:filled], new[:filled])

    def candidates(self) -> dict[int, dict[int, float]]:
        """
        For each new row, the earlier rows that share a band with it and whose
        signatures agree in at least CANDIDATE of their places: {row: {earlier row: agreement}}.
        """
        found: dict[int, dict[int, float]] = {}
        for band in range(BANDS):
            keys = (
                (self.elements << np.uint64(32))
                | (self.signature[:, 2 * band].astype(np.uint64) << np.uint64(16))
                | self.signature[:, 2 * band + 1].astype(np.uint64)
            )
            rows = np.flatnonzero(np.isin(keys, keys[self.new]))
            rows = rows[np.argsort(keys[rows], kind="stable")]
            for bucket in np.split(rows, np.flatnonzero(np.diff(keys[rows])) + 1):
                if len(bucket) < 2:
                    continue
                for position in np.flatnonzero(self.new[bucket]):
                    if position == 0:
                        continue
                    row = bucket[position]
                    # In a band many unrelated views share, the nearest earlier ones are enough.
                    earlier = bucket[max(0, position - WINDOW) : position]
                    agreement = (self.signature[earlier] == self.signature[row]).mean(axis=1)
                    near = found.setdefault(int(row), {})
                    alike = agreement >= CANDIDATE
                    near.update(zip(earlier[alike].tolist(), agreement[alike].tolist(), strict=True))
        return found

    def leader(self, row: int) -> int:
        """The row a view is compared with to join: its campaign's first view, or itself."""
        return self.leaders.get(int(self.campaigns[row]), row) if self.campaigns[row] else row

    def matches(self, candidates: dict[int, dict[int, float]]) -> dict[int, int]:
        """
        {new row: leader row it nearly repeats}, in the order the views came.
        Each new view is read against the first views of the campaigns it
        may belong to, most alike first: a campaign never drifts from its first text.
        """
        texts = _Texts(self.ids)
        texts.fetch({*candidates, *(self.leader(other) for near in candidates.values() for other in near)})
        matches: dict[int, int] = {}
        for row in sorted(candidates):
            leaders = []
            for other, _ in sorted(candidates[row].items(), key=lambda item: -item[1]):
                leader = matches.get(other, self.leader(other))
                if leader not in leaders:
                    leaders.append(leader)
            for leader in leaders[:CHECKS]:
                if same_words(texts[row], texts[leader]) >= SAME_WORDS:
                    matches[row] = leader
                    break
        return matches


class _Texts(dict):
    """Views' texts by row number, read from the database when first asked for."""

    def __init__(self, ids: np.ndarray):
        super().__init__()
        self.ids = ids

    def fetch(self, rows: set[int]) -> None:
        """Read many texts at once (a few thousand a query)."""
        wanted = sorted(rows - self.keys())
        for start in range(0, len(wanted), BATCH):
            chunk = wanted[start : start + BATCH]
            by_id = dict(View.objects.filter(pk__in=[int(self.ids[row]) for row in chunk]).values_list("pk", "text"))
            self.update((row, by_id.get(int(self.ids[row]), "")) for row in chunk)

    def __missing__(self, row: int) -> str:
        text = View.objects.filter(pk=int(self.ids[row])).values_list("text", flat=True).first() or ""
        self[row] = text
        return text


def _record(table: _Table, matches: dict[int, int]) -> tuple[int, int]:
    """Write the campaigns the matches make. Returns (views that joined one, campaigns made or grown)."""
    joined, joining = 0, {}
    for row, leader in matches.items():
        joining.setdefault(leader, []).append(row)
    for leader, rows in joining.items():
        campaign_id = int(table.campaigns[leader])
        if not campaign_id:
            element = Element.values[int(table.elements[leader])]
            campaign_id = Campaign.objects.create(element=element, first_view_id=int(table.ids[leader])).pk
            rows = [leader, *rows]
        ViewFingerprint.objects.filter(view_id__in=[int(table.ids[row]) for row in rows]).update(
            campaign_id=campaign_id
        )
        table.campaigns[rows] = campaign_id
        joined += len(rows)
    changed = {int(table.campaigns[leader]) for leader in joining}
    for campaign_id, size in (
        ViewFingerprint.objects.filter(campaign_id__in=changed)
        .order_by()
        .values_list("campaign_id")
        .annotate(n=Count("pk"))
    ):
        Campaign.objects.filter(pk=campaign_id).update(size=size)
    return joined, len(changed)
