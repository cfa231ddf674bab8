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
import re

from django.contrib.postgres.search import SearchQuery
from django.db import connection
from django.db.models import Exists, OuterRef, Q

from .models import View

_TERM = re.compile(r'(-?)"([^"]*)"?|(\S+)')
# Up to this many matching views, their submissions are listed by id.
FEW = 2000
# Words PostgreSQL expects in up to this many views are listed by id too,
# after a second, longer look (phrases are not: its guesses for them are poor).
SOME = 12_000


def submissions_matching(term: str) -> Q:
    """
    A filter on submissions: those with a view whose text matches `term`.

    PostgreSQL has two good ways to list them newest first, and guesses
    badly between them for words it has no figures for (a word nobody used
    sent it through every submission): so the index is asked first for up to
    FEW matching views (unordered: ordering them would find every match
    first), then, for words it expects to be in no more than SOME views, for
    up to SOME. If that is all of them, their submissions are listed by id;
    if there are more, the list is walked newest first and each submission's
    views checked, which finds a page of a common word at once.
    """
    views = View.objects.filter(views_matching(term)).order_by()
    limit = FEW
    ids = list(views.values_list("submission_id", flat=True)[: limit + 1])
    if len(ids) > limit and '"' not in term and _expected_rows(views) <= SOME:
        limit = SOME
        ids = list(views.values_list("submission_id", flat=True)[: limit + 1])
    if len(ids) <= limit:
        return Q(pk__in=set(ids))
    return Q(Exists(views.filter(submission=OuterRef("pk"))))


def _expected_rows(queryset) -> float:
    """How many rows PostgreSQL expects the query to give (its plan's estimate); elsewhere, no guess."""
    if connection.vendor != "postgresql":
        return float("inf")
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
