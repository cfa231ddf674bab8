"""
Searching views' text the way people type into a search box (PostgreSQL's
`websearch_to_tsquery` syntax): words must all appear, in any form English
stemming joins ("commissions" finds "commissioning"); "quoted words" must
appear together; `or` between two terms accepts either; `-word` leaves out
views that have it.

On PostgreSQL this is full-text search over each view's `search_vector`
(GIN-indexed). SQLite, for development, matches the same syntax by substrings.
"""

import json
import math
import re

from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db import connection
from django.db.models import Exists, F, FloatField, Max, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from .lookups import having_ids
from .models import Submission, View

_TERM = re.compile(r'(-?)"([^"]*)"?|(\S+)')
# Up to this many matching views, their submissions are listed by id.
FEW = 2000
# Past FEW, listing by id costs about a look-up a submission, for the page and
# again for the count, while walking the list newest first costs about
# COUNTED_TO x (all submissions) / (matching ones) look-ups to count as far as
# the list does. So a word is listed by id while its matches number no more
# than about the square root of COUNTED_TO / 2 x all submissions (some 7,000
# at 100,000, 22,000 at a million), and PostgreSQL expects no more than that.
COUNTED_TO = 1000


def submissions_matching(term: str) -> Q:
    """
    A filter on submissions: those with a view whose text matches `term`.

    PostgreSQL has two good ways to list them newest first: by the ids of the
    submissions whose views match (best for a word in few views), or walking
    the list newest first and checking each submission's views (best for a
    common word: a page is found at once). Its statistics keep the words
    people use most, so for a word or words it expects in more views than
    listing by id is worth (see COUNTED_TO) the list is walked straight away.
    Otherwise the index is asked for the matching views (unordered: ordering
    them would find every match first), up to that many; if that is all of
    them, their submissions are listed by id, and if there are more (words
    found together more often than PostgreSQL expects) the list is walked.
    A phrase, which it guesses poorly, is asked for up to FEW.
    """
    views = View.objects.filter(views_matching(term)).order_by()
    walk = Q(Exists(views.filter(submission=OuterRef("pk"))))
    limit = FEW
    if '"' not in term and connection.vendor == "postgresql":
        limit = listing_limit()
        if _expected_rows(views) > limit:
            return walk
    ids = list(views.values_list("submission_id", flat=True)[: limit + 1])
    return having_ids(set(ids)) if len(ids) <= limit else walk


def relevance(term: str):
    """
    An annotation for submissions: how closely the best of their views matches
    `term` (PostgreSQL's `ts_rank`, higher is closer; 0 for a submission no
    view of which matches). Ordering by it scores every match, so a list is
    newest first unless a reviewer asks for this. Always 0 on SQLite.
    """
    if not term.strip() or connection.vendor != "postgresql":
        return Value(0.0, output_field=FloatField())
    query = SearchQuery(term, search_type="websearch", config="english")
    best = (
        View.objects.filter(submission=OuterRef("pk"), search_vector=query)
        .order_by()
        .values("submission")
        .annotate(best=Max(SearchRank(F("search_vector"), query)))
        .values("best")
    )
    return Coalesce(Subquery(best), Value(0.0), output_field=FloatField())


def ranked_matches(submissions: QuerySet, term: str) -> QuerySet:
    """
    The submissions with a view matching `term`, each with the rank of its best
    view as `relevance`, for a list ordered by it: the matching views are read
    once from the index and grouped by submission, as ranking is written by
    hand, rather than ranked a submission at a time. PostgreSQL only.
    """
    query = SearchQuery(term, search_type="websearch", config="english")
    return submissions.filter(views__search_vector=query).annotate(
        relevance=Max(SearchRank(F("views__search_vector"), query))
    )


def listing_limit() -> int:
    """Up to how many matches listing by id beats walking, at the table's size (PostgreSQL's own figure for it)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [Submission._meta.db_table])
        submissions = max(cursor.fetchone()[0], 0)
    return max(FEW, math.isqrt(int(COUNTED_TO / 2 * submissions)))


def _expected_rows(queryset) -> float:
    """How many rows PostgreSQL expects the query to give (its plan's estimate)."""
    return json.loads(queryset.explain(format="json"))[0]["Plan"]["Plan Rows"]


def views_matching(term: str) -> Q:
    """A filter on views: those whose text matches `term`."""
    if connection.vendor == "postgresql":
        return Q(search_vector=SearchQuery(term, search_type="websearch", config="english"))
    return _by_substrings(term)


def _by_substrings(term: str) -> Q:
    """The same syntax by substrings: AND of terms, `or` joining neighbours, `-` leaving out."""
    groups: list[list[Q]] = []
    joining = False
    for minus, phrase, word in _TERM.findall(term):
        if word.lower() == "or" and groups:
            joining = True
            continue
        text = phrase if phrase or not word else word.lstrip("-")
        excluded = bool(minus) or (bool(word) and word.startswith("-") and len(word) > 1)
        if not text.strip():
            continue
        condition = Q(text__icontains=text.strip())
        condition = ~condition if excluded else condition
        if joining:
            groups[-1].append(condition)
        else:
            groups.append([condition])
        joining = False
    if not groups:
        return Q(pk__in=[])
    matches = Q()
    for group in groups:
        either = Q()
        for condition in group:
            either |= condition
        matches &= either
    return matches
