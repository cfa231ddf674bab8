"""
One analysis job in a fresh interpreter, printing its seconds and how far it
raised the process's resident memory (JSON): the benchmark's own process
holds a seeded database's worth of freed memory, which would hide a job's peak.

    python analysis_child.py train ELEMENT     the portal: train, measure, store, write suggestions
    python analysis_child.py bare ELEMENT      the same fit and predictions by a bare scikit-learn script
    python analysis_child.py group             the portal: group new views into campaigns
"""

import json
import os
import sys
import time

from harness import setup_django

setup_django(os.environ["DATABASE_URL"])

import numpy  # noqa: E402, F401 - loaded before the baseline, as both sides need it
import sklearn.linear_model  # noqa: E402, F401
from workspace import _kib  # noqa: E402


def train(element: str) -> dict:
    from feedback import suggestions

    model = suggestions.train(element)
    written = suggestions.suggest(model)
    return {"trained_on": model.views, "suggestions": written}


def bare(element: str) -> dict:
    """The least the same work takes: one query for the labels and texts, the same split, fit and predictions."""
    import random

    from django.db import connection

    from feedback.suggestions import THRESHOLD, min_examples, pipeline

    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT t.view_id, t.theme_id FROM feedback_themetag t
               JOIN feedback_view v ON v.id = t.view_id JOIN feedback_theme th ON th.id = t.theme_id
               WHERE v.element = %s AND th.retired_at IS NULL
                 AND (t.assigned_by_id IS NOT NULL OR t.confirmed_by_id IS NOT NULL)""",
            [element],
        )
        labels: dict[int, set[int]] = {}
        for view_id, theme_id in cursor.fetchall():
            labels.setdefault(view_id, set()).add(theme_id)
        ids = sorted(labels)
        cursor.execute("SELECT id, text FROM feedback_view WHERE id = ANY(%s)", [ids])
        texts = dict(cursor.fetchall())
        cursor.execute(
            """SELECT v.id, v.text FROM feedback_view v WHERE v.element = %s AND NOT EXISTS
               (SELECT 1 FROM feedback_themetag t WHERE t.view_id = v.id
                AND (t.assigned_by_id IS NOT NULL OR t.confirmed_by_id IS NOT NULL))""",
            [element],
        )
        uncoded = cursor.fetchall()
    counts: dict[int, int] = {}
    for themes in labels.values():
        for theme in themes:
            counts[theme] = counts.get(theme, 0) + 1
    themes = sorted(theme for theme, count in counts.items() if min_examples() <= count < len(ids))
    matrix = numpy.array([[theme in labels[view] for theme in themes] for view in ids], dtype=int)
    order = list(range(len(ids)))
    random.Random(f"{element}:{len(ids)}").shuffle(order)  # noqa: S311 - the same split as the portal's
    cut = max(1, int(len(order) * 0.2))
    held, kept = sorted(order[:cut]), sorted(order[cut:])
    fitted = pipeline().fit([texts[ids[i]] for i in kept], matrix[kept])
    fitted.predict_proba([texts[ids[i]] for i in held])
    scored = 0
    for start in range(0, len(uncoded), 2000):
        chunk = uncoded[start : start + 2000]
        scored += int((fitted.predict_proba([text for _, text in chunk]) >= THRESHOLD).sum())
    return {"tags": sum(len(themes) for themes in labels.values()), "scored": len(uncoded), "above": scored}


def group() -> dict:
    from feedback.campaigns import group_new_views
    from feedback.models import Campaign

    grouped = group_new_views()
    return {"fingerprinted": grouped.fingerprinted, "joined": grouped.joined, "campaigns": Campaign.objects.count()}


if __name__ == "__main__":
    job, *arguments = sys.argv[1:]
    before = _kib("VmRSS")
    started = time.perf_counter()
    figures = {"train": train, "bare": bare, "group": group}[job](*arguments)
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "growth_kib": _kib("VmHWM") - before, **figures}))
