"""
Compiling digests: the policy team's weekly brief of what came in.

A digest covers one ISO week (Europe/London). Compiling it claims the digest
row, marks every submission it counts (that week's, plus any that arrived
late for a week already compiled) and freezes the figures as JSON, all in one
transaction. Every figure is a count of submissions, so each links to exactly
the rows behind it in the admin (`?digest=<id>&...`). The counting is done by
the database (GROUP BY); memory does not grow with the number of submissions.
"""

import logging
from collections import defaultdict
from contextlib import contextmanager, suppress
from datetime import datetime

from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Count, Max, Q, QuerySet
from django.utils import timezone

from .digest_content import SCHEMA, Content
from .models import (
    COMPILED,
    Digest,
    DigestMembership,
    DigestStatus,
    Element,
    Level,
    NotYetCounted,
    OrganisationType,
    Region,
    Role,
    Stance,
    Submission,
    ThemeTag,
    View,
    ViewFingerprint,
    confirmed_tags,
)
from .periods import Week, week_of

logger = logging.getLogger(__name__)

QUOTES_PER_ELEMENT = 3
REPRESENTATIVE_PROPOSALS = 3
CAMPAIGNS_PER_ELEMENT = 5
CAMPAIGN_EXCERPT_CHARACTERS = 300
QUOTE_MAX_CHARACTERS = 700


# --- Wording computed from the numbers ---------------------------------------


def share_phrase(part: int, whole: int) -> str:
    """Words for part of whole: "none", "a few", "about a third", "most", "all"..."""
    if whole <= 0 or part <= 0:
        return "none"
    if part >= whole:
        return "all"
    share = part / whole
    for threshold, phrase in [
        (0.9, "almost all"),
        (0.7, "most"),
        (0.55, "more than half"),
        (0.45, "about half"),
        (0.38, "a large minority"),
        (0.28, "about a third"),
        (0.2, "about a quarter"),
        (0.1, "a minority"),
    ]:
        if share >= threshold:
            return phrase
    return "a few"


def change_phrase(now: int, before: int | None) -> str:
    """How a count moved against the previous digest, in words."""
    if before is None:
        return "the first digest"
    if now == before:
        return "the same as the previous digest"
    difference = now - before
    direction = "up" if difference > 0 else "down"
    if before == 0:
        return f"{direction} {abs(difference)} from none in the previous digest"
    return f"{direction} {abs(difference)} ({abs(difference) / before:.0%}) on the previous digest"


# --- Compiling ---------------------------------------------------------------


def last_complete_week(*, now: datetime | None = None) -> Week:
    """The most recent ISO week that has ended."""
    return week_of(now or timezone.now()).previous()


def compile_digest(*, week: Week, now: datetime | None = None) -> Digest:
    """
    Compile the digest for `week`, once.

    Safe to call any number of times, concurrently too: the digest row is
    unique per week and claimed with a conditional update, so a second run, a
    redelivered task or a double click finds it compiling or compiled. A
    caller that finds another compile under way waits for it and returns the
    digest it made. A failed compile is recorded on the row, with its error,
    and is claimed again by the next call.
    """
    now = now or timezone.now()
    if week.end > now:
        raise ValueError(f"{week} has not ended yet: a digest covers a whole week.")
    digest, _ = Digest.objects.get_or_create(period_start=week.start, defaults={"period_end": week.end})
    with _compile_lock(digest) as held:
        attempt = digest.claim(now=now, live_compile_excluded=held) if held is not None else 0
        if attempt:
            try:
                _compile_claimed(digest)
            except Exception as error:
                Digest.objects.filter(pk=digest.pk, status=DigestStatus.COMPILING, attempts=attempt).update(
                    status=DigestStatus.FAILED, last_error=f"{type(error).__name__}: {error}"[:2000]
                )
                logger.exception("Compiling the digest for %s failed", week)
    # A compile under way elsewhere is waited for, so every caller (the weekly
    # send, `send_weekly_summary`, a redelivered task) gets what it made.
    with _compile_lock(digest, wait=True):
        return Digest.objects.get(pk=digest.pk)


def group_campaigns_before(week: Week) -> None:
    """
    Before compiling `week`'s digest (when it is not compiled yet), group the
    views that came in since beat last did, so the digest counts campaigns as
    they stand. Kept out of `compile_digest` itself, which only aggregates.
    """
    from . import campaigns

    if Digest.objects.compiled().filter(period_start=week.start).exists():
        return
    try:
        campaigns.group_new_views()
    except Exception:
        # The digest still counts every submission; views not yet grouped count as distinct texts.
        logger.exception("Grouping near-identical views before a compile failed")


# The first key of the PostgreSQL advisory lock a compile holds on its digest.
COMPILE_LOCK = 7301


@contextmanager
def _compile_lock(digest: Digest, *, wait: bool = False):
    """
    Hold the digest's compile lock (PostgreSQL): True when held, None when a
    live compile holds it (and `wait` is off). The lock belongs to the
    database session, so it dies with a worker that is killed mid-compile,
    and a "compiling" row nobody holds was left by a compile that died.
    Without advisory locks (SQLite) it yields False: only time tells.
    """
    if connection.vendor != "postgresql":
        yield False
        return
    with connection.cursor() as cursor:
        if wait:
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", [COMPILE_LOCK, digest.pk])
        else:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [COMPILE_LOCK, digest.pk])
            if not cursor.fetchone()[0]:
                yield None
                return
    try:
        yield True
    finally:
        # A connection lost mid-compile took the lock with it.
        with suppress(DatabaseError), connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [COMPILE_LOCK, digest.pk])


def _compile_claimed(digest: Digest) -> None:
    for _ in range(3):
        try:
            with transaction.atomic():
                _count_into(digest)
                content = build_content(digest)
                number = (Digest.objects.aggregate(highest=Max("number"))["highest"] or 0) + 1
                Digest.objects.filter(pk=digest.pk).update(
                    status=DigestStatus.READY,
                    number=number,
                    content=content,
                    compiled_at=timezone.now(),
                    last_error="",
                )
                return
        except IntegrityError:
            # Another week's digest took the same number at the same moment.
            continue
    raise RuntimeError("Could not number the digest.")


def _count_into(digest: Digest) -> int:
    """
    Count the submissions this digest takes: its week's, and late ones: those
    of weeks already compiled, and those of any week before the newest
    compiled one that no digest is waiting to cover (mail from before the
    portal, sorted now). A week whose own digest is still to compile keeps its
    rows. They move from `NotYetCounted` to `DigestMembership` in one
    statement, so a submission committed during the compile waits for the next.
    """
    counted = Q(received_at__gte=digest.period_start, received_at__lt=digest.period_end)
    # A few dozen weeks a year: one range each, which the received_at index of
    # the narrow table of uncounted rows answers.
    compiled = list(Digest.objects.compiled().values_list("period_start", "period_end"))
    for start, end in compiled:
        counted |= Q(received_at__gte=start, received_at__lt=end)
    if compiled:
        newest_start = max(start for start, _ in compiled)
        backlog = Q(received_at__lt=min(newest_start, digest.period_start))
        waiting = Digest.objects.exclude(pk=digest.pk).exclude(status__in=COMPILED)
        for start, end in waiting.filter(period_start__lt=newest_start).values_list("period_start", "period_end"):
            backlog &= ~Q(received_at__gte=start, received_at__lt=end)
        counted |= backlog
    # Table names and the ORM's own compiled condition; the values are parameters.
    query = NotYetCounted.objects.filter(counted).query
    where, params = query.get_compiler(connection=connection).compile(query.where)
    pending = connection.ops.quote_name(NotYetCounted._meta.db_table)
    members = connection.ops.quote_name(DigestMembership._meta.db_table)
    take = f"DELETE FROM {pending} WHERE {where}"  # noqa: S608
    record = f"INSERT INTO {members} (submission_id, digest_id) SELECT submission_id, %s"  # noqa: S608
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Taken and recorded in one statement: what it deletes, it counts.
            cursor.execute(f"WITH taken AS ({take} RETURNING submission_id) {record} FROM taken", [*params, digest.pk])
            return cursor.rowcount
        # SQLite lets one writer in at a time: the two statements see the same rows.
        cursor.execute(f"{record} FROM {pending} WHERE {where}", [digest.pk, *params])
        cursor.execute(take, params)
        return cursor.rowcount


# --- What a digest holds -----------------------------------------------------


def _views(digest: Digest) -> QuerySet:
    """The views of the submissions a digest counted, found from its memberships alone."""
    return View.objects.filter(
        submission_id__in=DigestMembership.objects.filter(digest=digest).values("submission_id")
    )


def _counts(queryset: QuerySet, field: str) -> dict[str, int]:
    return dict(queryset.order_by().values_list(field).annotate(n=Count("pk", distinct=True)))


def build_content(digest: Digest) -> Content:
    """Every figure, quote and link target of a digest, as JSON-ready data (described by `Content`)."""
    submissions = Submission.objects.filter(membership__digest=digest)
    totals = submissions.aggregate(
        new=Count("pk"),
        on_time=Count("pk", filter=Q(received_at__gte=digest.period_start)),
        quotable=Count("pk", filter=Q(consent_to_quote=True)),
    )
    late_weeks = _late_weeks(submissions.filter(received_at__lt=digest.period_start))
    to_date = DigestMembership.objects.filter(digest__number__isnull=False).count() + totals["new"]
    previous = (
        Digest.objects.compiled().exclude(pk=digest.pk).order_by("-number").only("pk", "number", "content").first()
    )
    previous_content = previous.content if previous else {}

    by_element = _counts(_views(digest), "element")
    views_by_element = dict(_views(digest).order_by().values_list("element").annotate(n=Count("pk")))
    grid = defaultdict(dict)
    for element, level, count in (
        _views(digest).order_by().values_list("element", "level").annotate(n=Count("submission", distinct=True))
    ):
        grid[element][level] = count

    coding_agreement = _agreement()
    elements = []
    for element in Element:
        count = by_element.get(element, 0)
        distinct_texts, campaigns = _campaigns(digest, element, views_by_element.get(element, 0))
        before = previous_content.get("elements_by_code", {}).get(element)
        themes = _themes(digest, element)
        elements.append(
            {
                "code": element.value,
                "label": element.label,
                "submissions": count,
                "views": views_by_element.get(element, 0),
                "distinct_texts": distinct_texts,
                "campaigns": campaigns,
                "share": share_phrase(count, totals["new"]),
                "change": change_phrase(count, before),
                "levels": [
                    {"code": level.value, "label": level.label, "submissions": grid[element].get(level, 0)}
                    for level in Level
                ]
                if element == Element.PRIORITISATION
                else [],
                "themes": themes,
                "agreement": coding_agreement.get(element),
                "quotes": _quotes(digest, element, themes),
            }
        )

    prioritisation_total = by_element.get(Element.PRIORITISATION, 0)
    in_campaigns = ViewFingerprint.objects.filter(view__in=_views(digest), campaign__isnull=False)
    return {
        "schema": SCHEMA,
        "period": {
            "label": week_of(digest.period_start).label,
            "start": digest.period_start.isoformat(),
            "end": digest.period_end.isoformat(),
        },
        "headline": {
            "new": totals["new"],
            "on_time": totals["on_time"],
            "late": totals["new"] - totals["on_time"],
            "late_weeks": late_weeks,
            "to_date": to_date,
            "quotable": totals["quotable"],
            "quotable_share": share_phrase(totals["quotable"], totals["new"]),
            "previous_number": previous.number if previous else None,
            "previous_new": previous_content.get("headline", {}).get("new"),
            "change": change_phrase(totals["new"], previous_content.get("headline", {}).get("new")),
            "views": sum(element["views"] for element in elements),
            "distinct_texts": sum(element["distinct_texts"] for element in elements),
            "campaigns": in_campaigns.values("campaign").distinct().count(),
            "campaign_views": in_campaigns.count(),
        },
        "elements": elements,
        "elements_by_code": {element.value: by_element.get(element, 0) for element in Element},
        "priorities": [
            {
                "code": level.value,
                "label": level.label,
                "submissions": grid[Element.PRIORITISATION].get(level, 0),
                "share": share_phrase(grid[Element.PRIORITISATION].get(level, 0), prioritisation_total),
            }
            for level in Level
        ],
        "breakdowns": {
            "region": _breakdown(submissions, "region", Region, totals["new"]),
            "organisation_type": _breakdown(submissions, "organisation_type", OrganisationType, totals["new"]),
            "role": _breakdown(submissions, "role", Role, totals["new"]),
        },
        "national_policy": _national_policy(digest),
    }


def _late_weeks(late: QuerySet) -> list[dict]:
    weeks = defaultdict(int)
    # Few rows arrive late; grouping them by week in Python keeps the query portable.
    for received_at in late.values_list("received_at", flat=True).iterator(chunk_size=2000):
        weeks[week_of(received_at).label] += 1
    return [{"week": label, "submissions": count} for label, count in sorted(weeks.items())]


def _breakdown(submissions: QuerySet, field: str, choices, total: int) -> list[dict]:
    counts = _counts(submissions, field)
    return [
        {
            "code": code,
            "label": label,
            "submissions": counts.get(code, 0),
            "share": share_phrase(counts.get(code, 0), total),
        }
        for code, label in choices.choices
    ]


def _themes(digest: Digest, element: Element) -> list[dict]:
    """Themes people confirmed on this element's views, most used first, with stance counts."""
    tags = ThemeTag.objects.confirmed().filter(view__in=_views(digest).filter(element=element))
    rows = (
        tags.order_by()
        .values("theme_id", "theme__name")
        .annotate(
            submissions=Count("view__submission", distinct=True),
            **{stance.value: Count("view__submission", distinct=True, filter=Q(stance=stance)) for stance in Stance},
        )
        .order_by("-submissions", "theme__name")
    )
    return [
        {
            "id": row["theme_id"],
            "name": row["theme__name"],
            "submissions": row["submissions"],
            "stances": [
                {"code": stance.value, "label": stance.label, "submissions": row[stance.value]} for stance in Stance
            ],
        }
        for row in rows
    ]


def _campaigns(digest: Digest, element: Element, views: int) -> tuple[int, list[dict]]:
    """
    (distinct texts, the largest campaigns) among the element's views in the
    digest: a campaign's views count as one text, and all are still counted.
    """
    rows = list(
        ViewFingerprint.objects.filter(view__in=_views(digest).filter(element=element), campaign__isnull=False)
        .order_by()
        .values("campaign_id", "campaign__size", "campaign__first_view_id")
        .annotate(views=Count("pk"))
        .order_by("-views", "campaign_id")
    )
    distinct = views - sum(row["views"] for row in rows) + len(rows)
    firsts = {
        view.pk: view
        for view in View.objects.filter(
            pk__in=[row["campaign__first_view_id"] for row in rows[:CAMPAIGNS_PER_ELEMENT]]
        )
        .select_related("submission")
        .only("text", "submission__consent_to_quote")
    }
    campaigns = []
    for row in rows[:CAMPAIGNS_PER_ELEMENT]:
        first = firsts.get(row["campaign__first_view_id"])
        # The letter's words only where its first sender agreed to be quoted.
        excerpt = ""
        if first is not None and first.submission.consent_to_quote:
            excerpt = first.text.strip()
            if len(excerpt) > CAMPAIGN_EXCERPT_CHARACTERS:
                excerpt = excerpt[:CAMPAIGN_EXCERPT_CHARACTERS].rsplit(" ", 1)[0] + "…"
        campaigns.append(
            {"id": row["campaign_id"], "views": row["views"], "size": row["campaign__size"], "excerpt": excerpt}
        )
    return distinct, campaigns


def _agreement() -> dict[str, dict]:
    """
    For each element, how far the coding behind its themes agrees, as it
    stands when the digest is compiled: the newest model's suggestions
    against reviewers, and two reviewers against each other.
    """
    from .dashboard import agreement

    def figures(measured: dict | None, *fields: str) -> dict | None:
        return {field: measured.get(field) for field in fields} if measured else None

    return {
        row["code"]: {
            "machine": figures(row["machine"], "positive_agreement", "kappa", "tags", "views", "version"),
            "reviewers": figures(row["reviewers"], "positive_agreement", "kappa", "tags", "views"),
        }
        for row in agreement()
    }


def _quote(view: View) -> dict:
    text = view.text.strip()
    if len(text) > QUOTE_MAX_CHARACTERS:
        text = text[:QUOTE_MAX_CHARACTERS].rsplit(" ", 1)[0] + "…"
    submission = view.submission
    # Anonymised: who, in general terms, never their name, email or organisation.
    return {
        "text": text,
        "attribution": f"{submission.get_role_display()}, {submission.get_organisation_type_display()}, "
        f"{submission.get_region_display()}",
        "submission_id": submission.pk,
        "view_id": view.pk,
    }


def _quotable_views(digest: Digest, element: Element) -> QuerySet:
    return (
        View.objects.filter(submission__membership__digest=digest, submission__consent_to_quote=True, element=element)
        .select_related("submission")
        .only(
            "text",
            "element",
            "submission__role",
            "submission__organisation_type",
            "submission__region",
        )
        .order_by("submission__received_at", "pk")
    )


def _quotes(digest: Digest, element: Element, themes: list[dict]) -> list[dict]:
    """
    Up to three quotes from respondents who allowed it: one for each of the
    top `themes` (from a view a person tagged with it), then the earliest.
    """
    quotes, seen = [], set()
    for theme in themes[:QUOTES_PER_ELEMENT]:
        tagged = _quotable_views(digest, element).filter(confirmed_tags("tags__"), tags__theme_id=theme["id"])
        view = tagged.exclude(pk__in=seen).first()
        if view:
            seen.add(view.pk)
            quotes.append({**_quote(view), "theme": theme["name"]})
    for view in _quotable_views(digest, element).exclude(pk__in=seen)[: QUOTES_PER_ELEMENT - len(quotes)]:
        quotes.append({**_quote(view), "theme": ""})
    return quotes


def _national_policy(digest: Digest) -> dict:
    """
    The proposed national policy changes, grouped so the section reads the
    same at any volume: by confirmed theme, then the rest by what they share
    (clusters of their words). Each group has its count and up to three
    representative proposals: those nearest the group's centre, from
    respondents who agreed to be quoted, a campaign's copies shown once.
    """
    views = View.objects.filter(submission__membership__digest=digest, element=Element.NATIONAL_POLICY)
    rows = list(views.order_by("pk").values_list("pk", "text", "submission_id", "submission__consent_to_quote"))
    not_quotable = views.filter(submission__consent_to_quote=False).values("submission").distinct().count()
    if not rows:
        return {"groups": [], "proposals": [], "not_quotable": 0, "submissions": 0}
    index = {pk: row for row, (pk, *_) in enumerate(rows)}
    campaign_of = dict(
        ViewFingerprint.objects.filter(view__in=views, campaign__isnull=False).values_list("view_id", "campaign_id")
    )
    themed = defaultdict(list)
    stances = defaultdict(lambda: defaultdict(set))
    names = {}
    for view_id, theme_id, name, stance in (
        ThemeTag.objects.confirmed()
        .filter(view__in=views)
        .order_by("theme__name", "view_id")
        .values_list("view_id", "theme_id", "theme__name", "stance")
    ):
        themed[theme_id].append(index[view_id])
        names[theme_id] = name
        if stance:
            stances[theme_id][stance].add(rows[index[view_id]][2])
    unthemed = sorted(set(range(len(rows))) - {row for members in themed.values() for row in members})

    matrix, words = _word_weights([text for _, text, *_ in rows])
    groups = [
        {
            "kind": "theme",
            "id": theme_id,
            "label": names[theme_id],
            "stances": [
                {"code": stance.value, "label": stance.label, "submissions": len(stances[theme_id][stance])}
                for stance in Stance
            ],
            **_group(members, rows, matrix, campaign_of),
        }
        for theme_id, members in sorted(themed.items(), key=lambda item: (-len(item[1]), names[item[0]]))
    ]
    for members, terms in _clusters(unthemed, matrix, words):
        groups.append(
            {
                "kind": "cluster",
                "id": None,
                "label": ", ".join(terms),
                "stances": [],
                **_group(members, rows, matrix, campaign_of),
            }
        )
    return {
        "groups": groups,
        "proposals": [],
        "not_quotable": not_quotable,
        "submissions": len({submission for _, _, submission, _ in rows}),
    }


NATIONAL_POLICY_CLUSTERS = 6


def _word_weights(texts: list[str]):
    """TF-IDF rows (normalised) for the texts, and the words of the columns."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(stop_words="english", sublinear_tf=True, max_df=0.6, max_features=20_000)
    try:
        matrix = vectorizer.fit_transform(texts)
    except ValueError:  # nothing but stop words
        from scipy.sparse import csr_matrix

        return csr_matrix((len(texts), 1)), ["-"]
    return matrix, vectorizer.get_feature_names_out()


def _clusters(members: list[int], matrix, words) -> list[tuple[list[int], list[str]]]:
    """The rows no theme covers, in groups of what they share, each with its telling words."""
    if not members:
        return []
    count = max(1, min(NATIONAL_POLICY_CLUSTERS, round((len(members) / 30) ** 0.5)))
    import numpy

    if count == 1 or matrix.shape[1] < 2:
        centre = numpy.asarray(matrix[members].mean(axis=0)).ravel()
        return [(members, _terms(centre, words) or ["other proposals"])]
    from sklearn.cluster import MiniBatchKMeans

    clusters = MiniBatchKMeans(n_clusters=count, random_state=2010, n_init=3, batch_size=2048).fit(matrix[members])
    found = []
    for number, centre in enumerate(clusters.cluster_centers_):
        grouped = [members[i] for i in (clusters.labels_ == number).nonzero()[0]]
        if grouped:
            found.append((grouped, _terms(centre, words)))
    return sorted(found, key=lambda item: -len(item[0]))


def _terms(centre, words, count: int = 4) -> list[str]:
    return [str(words[i]) for i in centre.argsort()[::-1][:count] if centre[i] > 0]


def _group(members: list[int], rows: list[tuple], matrix, campaign_of: dict) -> dict:
    """A group's counts and its representative proposals (nearest its centre, quotable, one per campaign)."""
    import numpy

    centre = numpy.asarray(matrix[members].mean(axis=0)).ravel()
    closeness = matrix[members] @ centre
    chosen, campaigns_seen = [], set()
    for position in numpy.argsort(-closeness, kind="stable"):
        view_id, _, _, quotable = rows[members[position]]
        campaign = campaign_of.get(view_id)
        if not quotable or (campaign and campaign in campaigns_seen):
            continue
        campaigns_seen.add(campaign)
        chosen.append(view_id)
        if len(chosen) == REPRESENTATIVE_PROPOSALS:
            break
    by_id = {view.pk: view for view in _quotable_views_by_id(chosen)}
    in_campaigns = defaultdict(int)
    for row in members:
        campaign = campaign_of.get(rows[row][0])
        if campaign:
            in_campaigns[campaign] += 1
    return {
        "submissions": len({rows[row][2] for row in members}),
        "views": len(members),
        "campaigns": [
            {"id": campaign, "views": n} for campaign, n in sorted(in_campaigns.items(), key=lambda i: -i[1])
        ],
        "proposals": [
            {**_quote(by_id[view_id]), "campaign": campaign_of.get(view_id)} for view_id in chosen if view_id in by_id
        ],
    }


def _quotable_views_by_id(ids: list[int]) -> QuerySet:
    return (
        View.objects.filter(pk__in=ids, submission__consent_to_quote=True)
        .select_related("submission")
        .only("text", "element", "submission__role", "submission__organisation_type", "submission__region")
    )
