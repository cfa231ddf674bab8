"""
Machine suggestions: a theme classifier per element, trained here on the
tags people confirmed, that proposes themes for views nobody has coded yet.

Training (`train`) takes every coded view of the element (a view with at
least one confirmed tag), keeps the themes with at least MIN_EXAMPLES of
them, and fits TF-IDF over words and character n-grams with a one-vs-rest
logistic regression. It fits on four fifths, measures agreement with the
people on the fifth held out (feedback.agreement), and stores that very
pipeline with a version: the figures printed are those of the model that
suggests, and it is fitted once. `suggest` scores the
views nobody has coded and writes ThemeTag rows with no person assigned,
with the confidence and the model version. A suggestion counts nowhere until
a person confirms it; one a person rejected is never proposed again.
Nothing leaves the machine.
"""

import io
import logging
import random
from collections import Counter, defaultdict
from functools import lru_cache

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from . import emerging
from .agreement import Pair, agreement
from .models import Element, RejectedSuggestion, SuggestionModel, Theme, ThemeTag, View, confirmed_tags

logger = logging.getLogger(__name__)

HELD_OUT_SHARE = 0.2
THRESHOLD = 0.5
CHUNK = 2000


def min_examples() -> int:
    return settings.QIPP_SUGGESTION_MIN_EXAMPLES


def pipeline():
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.pipeline import make_pipeline, make_union

    return make_pipeline(
        make_union(
            TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, max_features=200_000),
            TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), min_df=2, sublinear_tf=True, max_features=200_000),
        ),
        OneVsRestClassifier(LogisticRegression(solver="liblinear", C=4.0, class_weight="balanced")),
    )


def coded(element: str) -> tuple[list[int], list[str], dict[int, set[int]]]:
    """The element's coded views: ids, texts, and the active themes people confirmed on each."""
    tags = (
        ThemeTag.objects.filter(confirmed_tags(), view__element=element, theme__retired_at__isnull=True)
        .order_by("view_id")
        .values_list("view_id", "theme_id")
    )
    labels: dict[int, set[int]] = defaultdict(set)
    for view_id, theme_id in tags.iterator(chunk_size=CHUNK):
        labels[view_id].add(theme_id)
    ids = sorted(labels)
    texts = dict(View.objects.filter(pk__in=ids).values_list("pk", "text"))
    return ids, [texts[pk] for pk in ids], labels


def _matrix(ids: list[int], labels: dict[int, set[int]], themes: list[int]):
    import numpy as np

    return np.array([[theme in labels[view] for theme in themes] for view in ids], dtype=int)


def _pairs(ids: list[int], matrix, themes: list[int]) -> set[Pair]:
    return {(view, themes[column]) for row, view in enumerate(ids) for column in matrix[row].nonzero()[0]}


def theme_scores(fitted, texts: list[str], themes: list[int]):
    """
    How likely each theme is for each text: one column per theme. With one
    theme the classifier is a binary one and also scores its absence; that column goes.
    """
    scores = fitted.predict_proba(texts)
    return scores[:, -len(themes) :] if scores.shape[1] != len(themes) else scores


def train(element: str, *, now=None) -> SuggestionModel | None:
    """Train, measure and store this element's model; None if no theme has enough confirmed examples."""
    now = now or timezone.now()
    ids, texts, labels = coded(element)
    counts = Counter(theme for view in ids for theme in labels[view])
    themes = sorted(theme for theme, count in counts.items() if count >= min_examples() and count < len(ids))
    if not themes:
        logger.info("No %s theme has %s confirmed examples yet: no model.", element, min_examples())
        return None
    matrix = _matrix(ids, labels, themes)
    order = list(range(len(ids)))
    random.Random(f"{element}:{len(ids)}").shuffle(order)  # noqa: S311 - a reproducible split, not a secret
    cut = max(1, int(len(order) * HELD_OUT_SHARE))
    held, kept = sorted(order[:cut]), sorted(order[cut:])
    measured = pipeline()
    measured.fit([texts[i] for i in kept], matrix[kept])
    predicted = (theme_scores(measured, [texts[i] for i in held], themes) >= THRESHOLD).astype(int)
    held_ids = [ids[i] for i in held]
    figures = agreement(
        _pairs(held_ids, matrix[held], themes), _pairs(held_ids, predicted, themes), views=held_ids, themes=themes
    )
    number = SuggestionModel.objects.filter(kind=SuggestionModel.THEMES, element=element).count() + 1
    return SuggestionModel.objects.create(
        kind=SuggestionModel.THEMES,
        element=element,
        version=f"{element}-{number}-{now:%Y%m%d%H%M%S%f}",
        trained_at=now,
        themes=themes,
        views=len(kept),
        metrics={**figures.as_dict(), "trained_on": len(kept), "held_out": len(held)},
        pipeline=_dumped(measured),
    )


# joblib (and numpy beneath it) is imported only where a model is stored or used:
# the web pages that never touch one do not carry it.


def _dumped(fitted) -> bytes:
    import joblib

    buffer = io.BytesIO()
    joblib.dump(fitted, buffer, compress=3)
    return buffer.getvalue()


def load(model: SuggestionModel):
    import joblib

    return joblib.load(io.BytesIO(bytes(model.pipeline)))


@lru_cache(maxsize=4)
def _loaded(version: str):
    """A stored model, loaded once per process (pages ask for the same newest model again and again)."""
    return load(SuggestionModel.objects.get(version=version))


def suggest(model: SuggestionModel) -> int:
    """Write this model's suggestions for every view of its element nobody has coded. Returns how many."""
    fitted = load(model)
    themes = model.themes
    active = set(Theme.objects.filter(pk__in=themes, retired_at__isnull=True).values_list("pk", flat=True))
    uncoded = list(
        View.objects.filter(element=model.element)
        .exclude(Exists(ThemeTag.objects.filter(confirmed_tags(), view=OuterRef("pk"))))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    written = 0
    # Ids first, then each chunk's text: writing a chunk commits, which would close a cursor still being read.
    for start in range(0, len(uncoded), CHUNK):
        ids = uncoded[start : start + CHUNK]
        texts = dict(View.objects.filter(pk__in=ids).values_list("pk", "text"))
        written += _write(model, fitted, themes, active, [(pk, texts[pk]) for pk in ids])
    return written


def _write(model: SuggestionModel, fitted, themes: list[int], active: set[int], rows: list[tuple[int, str]]) -> int:
    ids = [pk for pk, _ in rows]
    scores = theme_scores(fitted, [text for _, text in rows], themes)
    rejected = set(RejectedSuggestion.objects.filter(view_id__in=ids).values_list("view_id", "theme_id"))
    tags = [
        ThemeTag(view_id=view, theme_id=theme, confidence=round(float(score), 4), model_version=model.version)
        for view, row in zip(ids, scores, strict=True)
        for theme, score in zip(themes, row, strict=True)
        if score >= THRESHOLD and theme in active and (view, theme) not in rejected
    ]
    with transaction.atomic():
        # A newer model's view replaces an older one's; what people confirmed is never touched.
        ThemeTag.objects.filter(view_id__in=ids, assigned_by__isnull=True, confirmed_by__isnull=True).delete()
        ThemeTag.objects.bulk_create(tags, ignore_conflicts=True)
    return len(tags)


# --- The element and level of a text that has none (mail being sorted) --------

# The newest views people placed (respondents on the form, reviewers sorting mail) teach it.
TEXT_MODEL_VIEWS = 50_000
MIN_PER_CLASS = 20


def text_pipeline():
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, max_features=200_000),
        LogisticRegression(max_iter=1000, C=4.0, class_weight="balanced"),
    )


def train_text_model(kind: str, *, now=None) -> SuggestionModel | None:
    """Which element a text is about (kind ELEMENT), or which level a prioritisation text names (LEVEL)."""
    from sklearn.metrics import accuracy_score, cohen_kappa_score

    now = now or timezone.now()
    views = View.objects.order_by("-pk")
    if kind == SuggestionModel.LEVEL:
        views = views.filter(element=Element.PRIORITISATION)
    field = "element" if kind == SuggestionModel.ELEMENT else "level"
    rows = list(views.values_list("text", field)[:TEXT_MODEL_VIEWS])
    counts = Counter(label for _, label in rows)
    classes = sorted(label for label, count in counts.items() if count >= MIN_PER_CLASS)
    rows = [(text, label) for text, label in rows if label in classes]
    if len(classes) < 2:
        return None
    order = list(range(len(rows)))
    random.Random(f"{kind}:{len(rows)}").shuffle(order)  # noqa: S311 - a reproducible split, not a secret
    cut = max(1, int(len(order) * HELD_OUT_SHARE))
    held, kept = order[:cut], order[cut:]
    measured = text_pipeline().fit([rows[i][0] for i in kept], [rows[i][1] for i in kept])
    truth, guessed = [rows[i][1] for i in held], list(measured.predict([rows[i][0] for i in held]))
    number = SuggestionModel.objects.filter(kind=kind).count() + 1
    return SuggestionModel.objects.create(
        kind=kind,
        version=f"{kind}-{number}-{now:%Y%m%d%H%M%S%f}",
        trained_at=now,
        themes=list(measured.classes_),
        views=len(kept),
        metrics={
            "accuracy": accuracy_score(truth, guessed),
            "kappa": cohen_kappa_score(truth, guessed),
            "held_out": len(held),
        },
        pipeline=_dumped(measured),
    )


def propose(text: str) -> dict:
    """The element (and, for prioritisation, the level) the newest models give a text, with their confidence."""
    proposal = {}
    for kind in (SuggestionModel.ELEMENT, SuggestionModel.LEVEL):
        newest = SuggestionModel.objects.filter(kind=kind).order_by("-trained_at").values_list("version", "themes")
        model = newest.first()
        if model is None or not text.strip():
            continue
        if kind == SuggestionModel.LEVEL and proposal.get("element", (None,))[0] != Element.PRIORITISATION:
            continue
        version, classes = model
        scores = _loaded(version).predict_proba([text])[0]
        best = int(scores.argmax())
        proposal[kind] = (classes[best], float(scores[best]))
    return proposal


def train_and_suggest(elements: list[str] | None = None) -> dict[str, dict]:
    """Retrain each element's model and rewrite its suggestions, then the element and level models (all elements)."""
    report = {}
    if elements is None:
        for kind in (SuggestionModel.ELEMENT, SuggestionModel.LEVEL):
            model = train_text_model(kind)
            report[kind] = {"model": model.version if model else None, **(model.metrics if model else {})}
    for element in elements or Element.values:
        model = train(element)
        if model is None:
            report[element] = {"model": None, "proposals": len(emerging.propose_themes(element))}
            continue
        report[element] = {
            "model": model.version,
            "views": model.views,
            "themes": len(model.themes),
            "positive_agreement": model.metrics["positive_agreement"],
            "kappa": model.metrics["kappa"],
            "suggestions": suggest(model),
        }
        # After the suggestions: what is left is what no theme fits.
        report[element]["proposals"] = len(emerging.propose_themes(element))
    return report
