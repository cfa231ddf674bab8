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
2. A new view's most alike candidates (CHECKS of them) are read side by
   side: the views are near-identical when at least SAME_WORDS of them is the
   same words in the same order (the longest common subsequence of their
   words, by rapidfuzz). People writing on the same topic share phrases,
   sometimes whole sentences; a template letter shares its order too, with a
   name, a place or a sentence changed.

A view joins the campaign whose first view it nearly repeats (so a campaign
never drifts from its first text), or starts one with the earlier view it
nearly repeats. Grouping is incremental (`group_new_views`): each view is
signed once, new views are compared with all before them, and nothing is
rebuilt. Memory grows with the number of views (64 bytes of signature
each), never with its square.
"""

import itertools
import logging
import re
import zlib
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from django.db import connection, transaction
from django.db.models import Count, Exists, OuterRef
from rapidfuzz.distance import Indel

from .models import Campaign, Element, View, ViewFingerprint

logger = logging.getLogger(__name__)

HASHES = 32
BANDS = 16  # of two values each: views with 0.4 of their word pairs in common meet in one
# Signatures must agree this much for the texts to be read side by side...
CANDIDATE = 0.3
# ...and this much of the two texts must be the same words in the same order (difflib's ratio).
SAME_WORDS = 0.74
CHECKS = 4  # earlier views (their campaigns' first views) a new view is read against, most alike first
NEAR = 8  # in each band's buckets, every view is compared with this many before it at once...
WINDOW = 200  # ...and in crowded buckets (many unrelated views sharing a band) with up to this many
CROWDED = 1024  # new rows compared with their WINDOW at a time: 13 MB of signatures side by side
BATCH = 2000  # texts read at a time
LOAD_BATCH = 10_000  # signatures read at a time
SIGN_BATCH = 500  # views signed at a time: their word pairs times the hashes is the largest array
GROUP_LOCK = 7302

# Multiply-shift hashing: ((a * x + b) mod 2^64) >> 32 with a odd, one (a, b) per hash.
_seeds = np.random.default_rng(20100101)
_A = _seeds.integers(1, 1 << 63, size=HASHES, dtype=np.uint64) | np.uint64(1)
_B = _seeds.integers(0, 1 << 63, size=HASHES, dtype=np.uint64)
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_ELEMENTS = {code: index for index, code in enumerate(Element.values)}
_CODES: dict[str, int] = {}


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _code(word: str) -> int:
    code = _CODES.get(word)
    if code is None:
        if len(_CODES) > 1_000_000:  # a bound on the cache, whatever the texts
            _CODES.clear()
        code = _CODES[word] = zlib.crc32(word.encode())
    return code


def _pairs(text: str) -> np.ndarray:
    """The text's pairs of consecutive words as 32-bit numbers (a lone word stands for itself)."""
    codes = np.array([_code(word) for word in words(text)] or [0], dtype=np.uint64)
    if len(codes) < 2:
        return codes
    return (codes[:-1] * np.uint64(0x9E3779B1) + codes[1:]) & np.uint64(0xFFFFFFFF)


def signatures(texts: list[str]) -> np.ndarray:
    """One row of HASHES 16-bit values per text: the least hash of its word pairs under each hash function."""
    if not texts:
        return np.zeros((0, HASHES), dtype=np.uint16)
    pairs = [_pairs(text) for text in texts]
    starts = np.cumsum([0] + [len(p) for p in pairs[:-1]])
    values = np.concatenate(pairs)
    with np.errstate(over="ignore"):  # wrapping modulo 2^64 is the hash
        hashed = (values[:, None] * _A[None, :] + _B[None, :]) >> np.uint64(32)
    return (np.minimum.reduceat(hashed, starts, axis=0) & np.uint64(0xFFFF)).astype(np.uint16)


@dataclass
class Grouped:
    fingerprinted: int = 0
    joined: int = 0  # views that joined a campaign (a campaign's first view counts when it starts one)
    campaigns: int = 0  # campaigns made or grown


def fingerprint_new_views() -> int:
    """Sign every view that has no signature yet. Returns how many."""
    unsigned = (
        View.objects.filter(~Exists(ViewFingerprint.objects.filter(view=OuterRef("pk"))))
        .order_by("pk")
        .values_list("pk", "element", "text")
    )
    made = 0
    # One query read as it goes (asking again for each batch would look for the unsigned among all the signed).
    for batch in itertools.batched(unsigned.iterator(chunk_size=SIGN_BATCH), SIGN_BATCH):
        rows = signatures([text for _, _, text in batch])
        ViewFingerprint.objects.bulk_create(
            [
                ViewFingerprint(view_id=pk, element=element, signature=row.tobytes())
                for (pk, element, _), row in zip(batch, rows, strict=True)
            ],
            ignore_conflicts=True,
        )
        made += len(batch)
    return made


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
    """
    How much of two texts is the same words in the same order (0 to 1): twice
    the longest common subsequence of their words over their lengths together.
    """
    return Indel.normalized_similarity(words(first), words(second))


class _Table:
    """Every signature, in the order of the views, with which are new and which campaign each is in."""

    def __init__(self, ids, elements, signature, campaigns, new):
        self.ids, self.elements, self.signature, self.campaigns, self.new = ids, elements, signature, campaigns, new
        # Each campaign's first view, as a row number (when it is signed).
        self.leaders = {}
        for campaign_id, view_id in Campaign.objects.filter(first_view__isnull=False).values_list(
            "pk", "first_view_id"
        ):
            row = int(np.searchsorted(ids, view_id))
            if row < len(ids) and ids[row] == view_id:
                self.leaders[campaign_id] = row

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
        # A few thousand rows at a time into the arrays: a million rows one by one took seconds of Python.
        for chunk in itertools.batched(rows.iterator(chunk_size=LOAD_BATCH), LOAD_BATCH):
            chunk = chunk[: count - filled]  # views fingerprinted since the count wait for the next run
            if not chunk:
                break
            view_ids, codes, raws, campaign_ids, grouped = zip(*chunk, strict=True)
            here = slice(filled, filled + len(chunk))
            ids[here] = view_ids
            elements[here] = [_ELEMENTS.get(code, 0) for code in codes]
            signature[here] = np.frombuffer(b"".join(raws), dtype=np.uint16).reshape(len(chunk), HASHES)
            campaigns[here] = [campaign or 0 for campaign in campaign_ids]
            new[here] = np.logical_not(grouped)
            filled += len(chunk)
        return cls(ids[:filled], elements[:filled], signature[:filled], campaigns[:filled], new[:filled])

    def candidates(self) -> tuple[np.ndarray, np.ndarray]:
        """
        For each new row (in the order of `self.new`'s rows), its CHECKS most
        alike earlier rows among those sharing a band with it: (rows, agreement),
        two arrays of CHECKS columns; a row of -1 is no candidate.
        """
        new_rows = np.flatnonzero(self.new)
        slot = np.full(len(self.ids), -1, dtype=np.int64)
        slot[new_rows] = np.arange(len(new_rows))
        kept = (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float32))
        for band in range(BANDS):
            keys = (
                (self.elements << np.uint64(32))
                | (self.signature[:, 2 * band].astype(np.uint64) << np.uint64(16))
                | self.signature[:, 2 * band + 1].astype(np.uint64)
            )
            rows = np.flatnonzero(np.isin(keys, keys[self.new]))
            rows = rows[np.argsort(keys[rows], kind="stable")]  # a bucket's rows in the order the views came
            found = [kept, *self._neighbours(rows, keys[rows], slot), *self._crowded(rows, keys[rows], slot)]
            kept = _best(*(np.concatenate(parts) for parts in zip(*found, strict=True)), rows=len(self.ids))
        best_rows = np.full((len(new_rows), CHECKS), -1, dtype=np.int64)
        best = np.zeros((len(new_rows), CHECKS), dtype=np.float32)
        slots, others, values = kept
        rank = np.arange(len(slots)) - np.searchsorted(slots, slots)
        best_rows[slots, rank], best[slots, rank] = others, values
        return best_rows, best

    def _alike(self, later: np.ndarray, earlier: np.ndarray, slot: np.ndarray):
        """Pairs (new later row, earlier row) whose signatures agree in CANDIDATE of places: (slot, row, agreement)."""
        fresh = self.new[later]
        later, earlier = later[fresh], earlier[fresh]
        agreement = (self.signature[later] == self.signature[earlier]).mean(axis=1, dtype=np.float32)
        alike = agreement >= CANDIDATE
        return slot[later[alike]], earlier[alike], agreement[alike]

    def _neighbours(self, rows: np.ndarray, keys: np.ndarray, slot: np.ndarray) -> list:
        """Each row against the NEAR rows before it in its bucket, for every bucket at once."""
        found = []
        for distance in range(1, NEAR + 1):
            same = keys[distance:] == keys[:-distance]
            if not same.any():
                break
            found.append(self._alike(rows[distance:][same], rows[:-distance][same], slot))
        return found

    def _crowded(self, rows: np.ndarray, keys: np.ndarray, slot: np.ndarray) -> list:
        """
        Each new row against the rows of its bucket further back than NEAR and
        up to WINDOW before it: every bucket at once, CROWDED new rows at a time.
        Only each row's CHECKS most alike are kept: a crowded bucket of similar
        texts would otherwise hold every row's WINDOW neighbours at once.
        """
        edges = np.concatenate([[0], np.flatnonzero(np.diff(keys)) + 1, [len(rows)]])
        bucket_start = np.repeat(edges[:-1], np.diff(edges))
        positions = np.flatnonzero(self.new[rows] & (np.arange(len(rows)) - bucket_start > NEAR))
        offsets = np.arange(NEAR + 1, WINDOW + 1)
        found = []
        for first in range(0, len(positions), CROWDED):
            members = positions[first : first + CROWDED]
            earlier = members[:, None] - offsets[None, :]
            valid = earlier >= bucket_start[members][:, None]
            earlier = np.where(valid, earlier, members[:, None])
            agreement = (self.signature[rows[members]][:, None, :] == self.signature[rows[earlier]]).mean(
                axis=2, dtype=np.float32
            )
            agreement[~valid] = 0
            top = np.argpartition(agreement, -CHECKS, axis=1)[:, -CHECKS:]
            values = np.take_along_axis(agreement, top, axis=1)
            member, column = np.nonzero(values >= CANDIDATE)
            found.append(
                (slot[rows[members[member]]], rows[earlier[member, top[member, column]]], values[member, column])
            )
        return found

    def leader(self, row: int) -> int:
        """The row a view is compared with to join: its campaign's first view, or itself."""
        return self.leaders.get(int(self.campaigns[row]), row) if self.campaigns[row] else row

    def matches(self, candidates: tuple[np.ndarray, np.ndarray]) -> dict[int, int]:
        """
        {new row: leader row it nearly repeats}, in the order the views came.
        Each new view is read against the first views of the campaigns it
        may belong to, most alike first: a campaign never drifts from its first text.
        """
        best_rows, best = candidates
        new_rows = np.flatnonzero(self.new)
        texts = _Texts(self.ids)
        matches: dict[int, int] = {}
        for start in range(0, len(new_rows), BATCH):
            chunk = range(start, min(start + BATCH, len(new_rows)))
            wanted = {int(new_rows[i]) for i in chunk if best[i, 0] > 0}
            wanted |= {matches.get(int(row), self.leader(int(row))) for i in chunk for row in best_rows[i] if row >= 0}
            texts.fetch(wanted)
            for i in chunk:
                if best[i, 0] == 0:
                    continue
                row, leaders = int(new_rows[i]), []
                for other in best_rows[i][best[i] > 0]:
                    leader = matches.get(int(other), self.leader(int(other)))
                    if leader not in leaders:
                        leaders.append(leader)
                for leader in leaders:
                    if Indel.normalized_similarity(texts.words(row), texts.words(leader)) >= SAME_WORDS:
                        matches[row] = leader
                        break
            texts.forget(wanted)
        return matches


def _best(slots: np.ndarray, others: np.ndarray, values: np.ndarray, *, rows: int):
    """For each slot, its CHECKS most alike distinct rows, sorted by slot and then most alike first."""
    order = np.lexsort((-values, slots))
    slots, others, values = slots[order], others[order], values[order]
    _, first = np.unique(slots * rows + others, return_index=True)
    first.sort()
    slots, others, values = slots[first], others[first], values[first]
    keep = np.arange(len(slots)) - np.searchsorted(slots, slots) < CHECKS
    return slots[keep], others[keep], values[keep]


class _Texts(dict):
    """Views' words by row number, read from the database a few thousand at a time."""

    def __init__(self, ids: np.ndarray):
        super().__init__()
        self.ids = ids

    def fetch(self, rows: set[int]) -> None:
        wanted = sorted(rows - self.keys())
        for start in range(0, len(wanted), BATCH):
            chunk = wanted[start : start + BATCH]
            by_id = dict(View.objects.filter(pk__in=[int(self.ids[row]) for row in chunk]).values_list("pk", "text"))
            self.update((row, words(by_id.get(int(self.ids[row]), ""))) for row in chunk)

    def words(self, row: int) -> list[str]:
        if row not in self:
            self.fetch({row})
        return self[row]

    def forget(self, rows: set[int]) -> None:
        for row in rows:
            self.pop(row, None)


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
    # In the campaigns' order, as forget_views takes them, so the two never wait on each other in a circle.
    for campaign_id, size in (
        ViewFingerprint.objects.filter(campaign_id__in=changed)
        .order_by("campaign_id")
        .values_list("campaign_id")
        .annotate(n=Count("pk"))
    ):
        Campaign.objects.filter(pk=campaign_id).update(size=size)
    return joined, len(changed)


def forget_views(view_ids: list[int]) -> None:
    """
    Take views out of grouping: changed ones (their signature is made again
    from their new words, and they are grouped as new) and those about to be
    deleted. Their campaigns are counted again, and a campaign that one of
    them led is led by its earliest remaining view.
    """
    campaign_ids = set(
        ViewFingerprint.objects.filter(view_id__in=view_ids, campaign__isnull=False).values_list(
            "campaign_id", flat=True
        )
    )
    ViewFingerprint.objects.filter(view_id__in=view_ids).delete()
    for campaign in Campaign.objects.filter(pk__in=campaign_ids).order_by("pk").select_for_update():
        members = ViewFingerprint.objects.filter(campaign=campaign).exclude(view_id__in=view_ids)
        campaign.size = members.count()
        if campaign.first_view_id in view_ids or campaign.first_view_id is None:
            campaign.first_view_id = members.order_by("view_id").values_list("view_id", flat=True).first()
        campaign.save(update_fields=["size", "first_view"])
