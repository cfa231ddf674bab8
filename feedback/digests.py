"""
Compiling digests: the policy team's weekly brief of what came in.

A digest covers one ISO week (Europe/London). Compiling it claims the digest
row, marks every submission it counts (that week's, plus any that arrived
late for a week already compiled) and freezes the figures as JSON, all in one
transaction. Every figure is a count of submissions, so each links to exactly
the rows behind it in the admin (`?digest=<id>&...`). A compile reads the
digest's own rows once, narrow columns only, and works out every figure from
them: its memory follows the week's rows, never the size of the tables.
"""

import heapq
import logging
from collections import Counter, defaultdict
from contextlib import contextmanager, suppress
from datetime import datetime, timedelta

from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Max, Min, Q, QuerySet
from django.utils import timezone

from .digest_content import SCHEMA, Content, withdraw_words
from .lookups import having_ids
from .models import (
    COMPILED,
    Digest,
    DigestKind,
    DigestMembership,
    DigestStatus,
    Element,
    Level,
    NotYetCounted,
    OrganisationType,
    Region,
    Role,
    Stance,
    Status,
    Submission,
    ThemeTag,
    View,
    ViewFingerprint,
)
from .periods import Week, week_of

logger = logging.getLogger(__name__)

QUOTES_PER_ELEMENT = 3
REPRESENTATIVE_PROPOSALS = 3
CAMPAIGNS_PER_ELEMENT = 5
CAMPAIGN_EXCERPT_CHARACTERS = 300
QUOTE_MAX_CHARACTERS = 700
SINCE_LISTED = 50  # references listed by name under "since the last digest"; all are counted


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


def compile_digest(*, week: Week, now: datetime | None = None, wait: bool = True) -> Digest:
    """
    Compile the digest for `week`, once.

    Safe to call any number of times, concurrently too: the digest row is
    unique per week and claimed with a conditional update, so a second run, a
    redelivered task or a double click finds it compiling or compiled. A
    caller that finds another compile under way waits for it and returns the
    digest it made; with `wait` off (tasks: a worker's process is not held up
    by a compile on a host that may have vanished) it returns the digest as it
    stands, still compiling. A failed compile is recorded on the row, with its
    error, and is claimed again by the next call.
    """
    now = now or timezone.now()
    if week.end > now:
        raise ValueError(f"{week} has not ended yet: a digest covers a whole week.")
    digest, _ = Digest.objects.get_or_create(
        kind=DigestKind.WEEKLY, period_start=week.start, defaults={"period_end": week.end}
    )
    return _compile_once(digest, now=now, wait=wait)


def _compile_once(digest: Digest, *, now: datetime, wait: bool = True) -> Digest:
    """Claim the digest and compile it, or wait for the compile under way; the digest as it then stands."""
    with _compile_lock(digest) as held:
        if held is None and not wait:
            return Digest.objects.get(pk=digest.pk)
        attempt = digest.claim(now=now, live_compile_excluded=held) if held is not None else 0
        if attempt:
            try:
                _compile_claimed(digest)
            except Exception as error:
                Digest.objects.filter(pk=digest.pk, status=DigestStatus.COMPILING, attempts=attempt).update(
                    status=DigestStatus.FAILED, last_error=f"{type(error).__name__}: {error}"[:2000]
                )
                logger.exception("Compiling %s failed", digest)
    # A compile under way elsewhere is waited for, so every caller (the weekly
    # send, `send_weekly_summary`, a redelivered task) gets what it made.
    with _compile_lock(digest, wait=True):
        return Digest.objects.get(pk=digest.pk)


def compile_final_digest(*, now: datetime | None = None, wait: bool = True) -> Digest | None:
    """
    Once the call has closed and the week it closed in has ended: compile
    every weekly digest of the call not yet compiled, then the final digest,
    once (as `compile_digest` does a week). None while the call is open (or
    has no closing time), its last week has not ended, or a weekly digest of
    it could not be compiled (it is tried again next time).
    """
    from .call import window

    now = now or timezone.now()
    call = window(fresh=True)
    closes = call.closes
    if closes is None or closes > now:
        return None
    last = week_of(closes - timedelta(microseconds=1))
    if last.end > now:
        return None
    first_received = Submission.objects.filter(received_at__lt=closes).aggregate(first=Min("received_at"))["first"]
    opens = min(moment for moment in (call.opens_at, first_received, closes) if moment is not None)
    week = week_of(opens)
    while week.start <= last.start:
        if not compile_digest(week=week, now=now, wait=wait).is_compiled:
            return None
        week = week.next()
    digest, _ = Digest.objects.get_or_create(
        kind=DigestKind.FINAL, defaults={"period_start": week_of(opens).start, "period_end": closes}
    )
    return _compile_once(digest, now=now, wait=wait)


def group_campaigns_before(week: Week) -> None:
    """
    Before compiling `week`'s digest (when it is not compiled yet), group the
    views that came in since beat last did, so the digest counts campaigns as
    they stand. Kept out of `compile_digest` itself, which only aggregates.
    """
    from . import campaigns

    if Digest.objects.weekly().compiled().filter(period_start=week.start).exists():
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
                if not digest.is_final:
                    _count_into(digest)
                content = build_content(digest)
                _leave_out_withdrawn(content)
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


def _leave_out_withdrawn(content: dict) -> None:
    """
    Words of a submission withdrawn while the compile ran become "[withdrawn]"
    before the content is stored. Asked last, locking the quoted submissions'
    rows, so a withdrawal under way is waited for: either it committed first
    (and is seen here) or it waits for this compile and then takes the words
    out of the stored digest itself (feedback.changes.withdraw).
    """
    quoted = {
        passage["submission_id"]
        for element in content["elements"]
        for passage in [*element["quotes"], *element["campaigns"]]
        if passage.get("submission_id")
    }
    quoted |= {
        proposal["submission_id"] for group in content["national_policy"]["groups"] for proposal in group["proposals"]
    }
    rows = Submission.objects.select_for_update().filter(pk__in=quoted).order_by("pk").values_list("pk", "status")
    withdrawn = {pk for pk, status in rows if status == Status.WITHDRAWN}
    if withdrawn:
        withdraw_words(content, withdrawn)


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
    compiled = list(Digest.objects.weekly().compiled().values_list("period_start", "period_end"))
    for start, end in compiled:
        counted |= Q(received_at__gte=start, received_at__lt=end)
    if compiled:
        newest_start = max(start for start, _ in compiled)
        backlog = Q(received_at__lt=min(newest_start, digest.period_start))
        waiting = Digest.objects.weekly().exclude(pk=digest.pk).exclude(status__in=COMPILED)
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


class _Counted:
    """
    What a digest counted, read once: its submissions and views (narrow
    columns only), the tags people confirmed on those views, and the
    campaigns they belong to: five queries, the last four by id. Every
    figure of the digest is worked out from these rows; memory follows the
    digest's own rows, never the size of the tables.
    """

    FIELDS = (
        "received_at",
        "consent_to_quote",
        "region",
        "organisation_type",
        "role",
        "on_behalf_of_organisation",
        "consent_to_share",
    )

    def __init__(self, digest: Digest):
        # By their ids, one array each: PostgreSQL looks each up by its index, where joining the
        # digest's memberships to a million-row table it chose to read the whole table.
        if digest.is_final:
            members = list(digest.counted().order_by().values_list("pk", flat=True))
        else:
            members = list(DigestMembership.objects.filter(digest=digest).values_list("submission_id", flat=True))
        self.submissions = {
            pk: rest
            for pk, *rest in Submission.objects.filter(having_ids(members)).order_by().values_list("pk", *self.FIELDS)
        }
        # (view id, submission id, element, level), in the order views came: the quotes' order.
        self.views = list(
            View.objects.filter(having_ids(members, "submission"))
            .order_by("pk")
            .values_list("pk", "submission_id", "element", "level")
        )
        self.element_of = {pk: element for pk, _, element, _ in self.views}
        self.submission_of = {pk: submission for pk, submission, _, _ in self.views}
        views = having_ids(self.element_of, "view")
        self.tags = list(
            ThemeTag.objects.confirmed()
            .filter(views)
            .order_by("theme__name", "view_id")
            .values_list("view_id", "theme_id", "theme__name", "stance")
        )
        self.campaign_rows = list(
            ViewFingerprint.objects.filter(views, campaign__isnull=False)
            .order_by()
            .values_list("view_id", "campaign_id", "campaign__size", "campaign__first_view_id")
        )
        self.campaign_of = {view: campaign for view, campaign, _, _ in self.campaign_rows}

    def received(self, submission: int):
        return self.submissions[submission][0]

    def quotable(self, submission: int) -> bool:
        return self.submissions[submission][1]

    def shared(self, submission: int) -> bool:
        """Whether the operating framework's team may read the submission's views in full."""
        return self.submissions[submission][6]

    def count(self, field: str) -> Counter:
        """The submissions by the value of one of their FIELDS."""
        column = self.FIELDS.index(field)
        return Counter(row[column] for row in self.submissions.values())


def build_content(digest: Digest) -> Content:
    """Every figure, quote and link target of a digest, as JSON-ready data (described by `Content`)."""
    counted = _Counted(digest)
    new = len(counted.submissions)
    received = counted.count("received_at")
    quotable = counted.count("consent_to_quote")[True]
    organisations = counted.count("on_behalf_of_organisation")[True]
    late_weeks = Counter()
    for moment, n in received.items():
        if moment < digest.period_start and not digest.is_final:
            late_weeks[week_of(moment).label] += n
    on_time = new - late_weeks.total()
    if digest.is_final:
        # The whole call: nothing is late for it, and nothing came before it to compare with.
        to_date, previous = new, None
    else:
        to_date = DigestMembership.objects.filter(digest__number__isnull=False).count() + new
        previous = (
            Digest.objects.weekly()
            .compiled()
            .exclude(pk=digest.pk)
            .order_by("-number")
            .only("pk", "number", "content")
            .first()
        )
    previous_content = previous.content if previous else {}

    submissions_by_element, views_by_element = defaultdict(set), Counter()
    grid = defaultdict(lambda: defaultdict(set))
    for _, submission, element, level in counted.views:
        submissions_by_element[element].add(submission)
        views_by_element[element] += 1
        grid[element][level].add(submission)
    by_element = {element: len(submissions) for element, submissions in submissions_by_element.items()}

    coding_agreement = _agreement()
    campaigns = _campaigns(counted, views_by_element)
    elements = []
    for element in Element:
        count = by_element.get(element, 0)
        distinct_texts, element_campaigns = campaigns[element]
        before = previous_content.get("elements_by_code", {}).get(element)
        themes = _themes(counted, element)
        elements.append(
            {
                "code": element.value,
                "label": element.label,
                "submissions": count,
                "views": views_by_element.get(element, 0),
                "distinct_texts": distinct_texts,
                "campaigns": element_campaigns,
                "share": share_phrase(count, new),
                "change": change_phrase(count, before),
                "levels": [
                    {"code": level.value, "label": level.label, "submissions": len(grid[element][level])}
                    for level in Level
                ]
                if element == Element.PRIORITISATION
                else [],
                "themes": themes,
                "agreement": coding_agreement.get(element),
                "quotes": _quote_choices(counted, element, themes),
            }
        )
    _fill_quotes(elements)

    prioritisation_total = by_element.get(Element.PRIORITISATION, 0)
    content = {
        "schema": SCHEMA,
        "kind": digest.kind,
        "period": {
            "label": _final_label(digest) if digest.is_final else week_of(digest.period_start).label,
            "start": digest.period_start.isoformat(),
            "end": digest.period_end.isoformat(),
        },
        "headline": {
            "new": new,
            "on_time": on_time,
            "late": new - on_time,
            "late_weeks": [{"week": label, "submissions": n} for label, n in sorted(late_weeks.items())],
            "to_date": to_date,
            "quotable": quotable,
            "quotable_share": share_phrase(quotable, new),
            "organisations": organisations,
            "individuals": new - organisations,
            "previous_number": previous.number if previous else None,
            "previous_new": previous_content.get("headline", {}).get("new"),
            "change": change_phrase(new, previous_content.get("headline", {}).get("new")),
            "views": sum(element["views"] for element in elements),
            "distinct_texts": sum(element["distinct_texts"] for element in elements),
            "campaigns": len(set(counted.campaign_of.values())),
            "campaign_views": len(counted.campaign_of),
        },
        "elements": elements,
        "elements_by_code": {element.value: by_element.get(element, 0) for element in Element},
        "priorities": [
            {
                "code": level.value,
                "label": level.label,
                "submissions": len(grid[Element.PRIORITISATION][level]),
                "share": share_phrase(len(grid[Element.PRIORITISATION][level]), prioritisation_total),
            }
            for level in Level
        ],
        "breakdowns": {
            "region": _breakdown(counted.count("region"), Region, new),
            "organisation_type": _breakdown(counted.count("organisation_type"), OrganisationType, new),
            "role": _breakdown(counted.count("role"), Role, new),
        },
        "national_policy": _national_policy(counted),
        "since_previous": _since_previous(digest),
    }
    if digest.is_final:
        content.update(_across_the_call(digest, counted, content))
    return content


def _final_label(digest: Digest) -> str:
    first, last = week_of(digest.period_start), week_of(digest.period_end - timedelta(microseconds=1))
    return f"the whole call, {first.label} to {last.label}"


def _across_the_call(digest: Digest, counted: _Counted, content: dict) -> dict:
    """
    What only the final digest holds: the weekly digests of the call, what
    they counted (their sum is this digest's submissions and the withdrawn
    since), and per element and theme the submissions each week and the
    week each theme first appeared.
    """
    weekly = list(
        Digest.objects.weekly()
        .compiled()
        .filter(period_start__lt=digest.period_end)
        .order_by("period_start")
        .values_list("pk", "number", "period_start", "content__headline__new")
    )
    labels = [week_of(start).label for _, _, start, _ in weekly]
    column = {label: index for index, label in enumerate(labels)}
    week_of_submission = {pk: week_of(counted.received(pk)).label for pk in counted.submissions}
    by_element, by_theme = defaultdict(lambda: defaultdict(set)), defaultdict(lambda: defaultdict(set))
    for _, submission, element, _ in counted.views:
        by_element[element][week_of_submission[submission]].add(submission)
    for view, theme, _, _ in counted.tags:
        submission = counted.submission_of[view]
        by_theme[theme][week_of_submission[submission]].add(submission)

    def series(weeks: dict) -> list[int]:
        counts = [0] * len(labels)
        for label, submissions in weeks.items():
            if label in column:
                counts[column[label]] = len(submissions)
        return counts

    content["headline"]["change"] = "-"
    for element in content["elements"]:
        element["change"] = "-"
        element["trend"] = series(by_element[element["code"]])
        for theme in element["themes"]:
            theme["trend"] = series(by_theme[theme["id"]])
            theme["first_week"] = next((label for label, n in zip(labels, theme["trend"], strict=True) if n), None)
    weekly_new = sum(new or 0 for _, _, _, new in weekly)
    return {
        "weeks": [
            {"label": label, "digest_number": number, "new": new or 0}
            for label, (_, number, _, new) in zip(labels, weekly, strict=True)
        ],
        "call": {
            "weekly_digests": len(weekly),
            "weekly_new": weekly_new,
            # Counted by a weekly digest, then withdrawn by their respondents: in no figure here.
            "withdrawn": Submission.objects.filter(
                status=Status.WITHDRAWN,
                membership__digest__in=[pk for pk, _, _, _ in weekly],
                received_at__lt=digest.period_end,
            ).count(),
            # Mail that arrived after the close, counted by the closing week's digest: not part of the call.
            "after_close": Submission.objects.filter(
                membership__digest__in=[pk for pk, _, _, _ in weekly],
                received_at__gte=digest.period_end,
            ).count(),
        },
    }


def _since_previous(digest: Digest) -> dict:
    """
    What respondents changed or withdrew since the last digest was compiled:
    views changed whose submissions an earlier digest counted (this digest
    counts its own as they stand), and submissions withdrawn, whether an
    earlier digest counted them (its figures stay; their words are gone
    from it) or none had yet (none ever will).
    """
    since = Digest.objects.weekly().compiled().exclude(pk=digest.pk).aggregate(last=Max("compiled_at"))["last"]
    changed = View.objects.filter(changed_at__isnull=False, submission__membership__isnull=False).exclude(
        submission__membership__digest=digest
    )
    withdrawn = Submission.objects.filter(withdrawn_at__isnull=False)
    if since is not None:
        changed, withdrawn = changed.filter(changed_at__gt=since), withdrawn.filter(withdrawn_at__gt=since)
    changed = list(
        changed.order_by("changed_at", "pk").values_list(
            "submission_id", "submission__reference", "element", "submission__membership__digest__number"
        )
    )
    withdrawn = list(
        withdrawn.order_by("withdrawn_at", "pk").values_list("pk", "reference", "membership__digest__number")
    )
    counted = [row for row in withdrawn if row[2] is not None]
    return {
        "since": since.isoformat() if since else None,
        "changed_views": len(changed),
        "changed_submissions": len({row[0] for row in changed}),
        "changed": [
            {
                "submission_id": submission,
                "reference": reference,
                "element": Element(element).label,
                "digest_number": number,
            }
            for submission, reference, element, number in changed[:SINCE_LISTED]
        ],
        "withdrawn": len(counted),
        "withdrawn_uncounted": len(withdrawn) - len(counted),
        "withdrawn_list": [
            {"submission_id": submission, "reference": reference, "digest_number": number}
            for submission, reference, number in counted[:SINCE_LISTED]
        ],
    }


def _breakdown(counts: Counter, choices, total: int) -> list[dict]:
    return [
        {
            "code": code,
            "label": label,
            "submissions": counts.get(code, 0),
            "share": share_phrase(counts.get(code, 0), total),
        }
        for code, label in choices.choices
    ]


def _themes(counted: _Counted, element: Element) -> list[dict]:
    """Themes people confirmed on this element's views, most used first, with stance counts."""
    names, submissions, views = {}, defaultdict(set), Counter()
    stances = defaultdict(lambda: defaultdict(set))
    for view, theme, name, stance in counted.tags:
        if counted.element_of[view] != element:
            continue
        names[theme] = name
        views[theme] += 1
        submissions[theme].add(counted.submission_of[view])
        stances[theme][stance].add(counted.submission_of[view])
    return [
        {
            "id": theme,
            "name": names[theme],
            "submissions": len(submissions[theme]),
            "views": views[theme],
            "stances": [
                {"code": stance.value, "label": stance.label, "submissions": len(stances[theme][stance])}
                for stance in Stance
            ],
        }
        for theme in sorted(names, key=lambda theme: (-len(submissions[theme]), names[theme]))
    ]


def _campaigns(counted: _Counted, views_by_element: Counter) -> dict[str, tuple[int, list[dict]]]:
    """
    For each element, (distinct texts, the largest campaigns) among its views
    in the digest: a campaign's views count as one text, and all are still counted.
    """
    views, about = defaultdict(Counter), {}
    for view, campaign, size, first_view in counted.campaign_rows:
        views[counted.element_of[view]][campaign] += 1
        about[campaign] = (size, first_view)
    largest = {
        element: sorted(views[element], key=lambda campaign: (-views[element][campaign], campaign))
        for element in Element
    }
    shown = [campaign for campaigns in largest.values() for campaign in campaigns[:CAMPAIGNS_PER_ELEMENT]]
    firsts = {
        view.pk: view
        for view in View.objects.filter(pk__in=[about[campaign][1] for campaign in shown])
        .select_related("submission")
        .only("text", "submission_id", "submission__consent_to_quote")
    }
    found = {}
    for element in Element:
        summaries = []
        for campaign in largest[element][:CAMPAIGNS_PER_ELEMENT]:
            size, first_view = about[campaign]
            first = firsts.get(first_view)
            # The letter's words only where its first sender agreed to be quoted.
            excerpt = ""
            if first is not None and first.submission.consent_to_quote:
                excerpt = first.text.strip()
                if len(excerpt) > CAMPAIGN_EXCERPT_CHARACTERS:
                    excerpt = excerpt[:CAMPAIGN_EXCERPT_CHARACTERS].rsplit(" ", 1)[0] + "…"
            summaries.append(
                {
                    "id": campaign,
                    "views": views[element][campaign],
                    "size": size,
                    "excerpt": excerpt,
                    # Whose words the excerpt is, should they withdraw them (feedback.changes).
                    "submission_id": first.submission_id if first is not None else None,
                }
            )
        distinct = views_by_element.get(element, 0) - sum(views[element].values()) + len(views[element])
        found[element] = (distinct, summaries)
    return found


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


def _quote_choices(counted: _Counted, element: Element, themes: list[dict]) -> list[dict]:
    """
    Which views to quote, up to three, from respondents who allowed it: one
    for each of the top `themes` (a view a person tagged with it), then the
    earliest. Earliest means received first; `_fill_quotes` adds the words.
    """

    def received(view: int) -> tuple:
        return counted.received(counted.submission_of[view]), view

    quotable = {
        view
        for view, submission, view_element, _ in counted.views
        if view_element == element and counted.quotable(submission)
    }
    chosen = []
    for theme in themes[:QUOTES_PER_ELEMENT]:
        tagged = {view for view, theme_id, _, _ in counted.tags if theme_id == theme["id"]} & quotable
        if tagged:
            view = min(tagged, key=received)
            quotable.discard(view)
            chosen.append({"view_id": view, "theme": theme["name"]})
    chosen += [
        {"view_id": view, "theme": ""}
        for view in heapq.nsmallest(QUOTES_PER_ELEMENT - len(chosen), quotable, key=received)
    ]
    return chosen


def _fill_quotes(elements: list[dict]) -> None:
    """Each element's chosen quotes with their words and attribution, read in one query."""
    by_id = {view.pk: view for view in _quotable_views_by_id([q["view_id"] for e in elements for q in e["quotes"]])}
    for element in elements:
        element["quotes"] = [
            {**_quote(by_id[quote["view_id"]]), "theme": quote["theme"]}
            for quote in element["quotes"]
            if quote["view_id"] in by_id
        ]


def _national_policy(counted: _Counted) -> dict:
    """
    The proposed national policy changes, grouped so the section reads the
    same at any volume: by confirmed theme, then the rest by what they share
    (clusters of their words). Each group has its count and up to three
    representative proposals: those nearest the group's centre, from
    respondents who agreed to be quoted, a campaign's copies shown once.
    """
    ids = [view for view, _, element, _ in counted.views if element == Element.NATIONAL_POLICY]
    if not ids:
        return {"groups": [], "proposals": [], "not_quotable": 0, "submissions": 0, "shared": 0}
    texts = dict(View.objects.filter(having_ids(ids)).order_by().values_list("pk", "text"))
    rows = [
        (view, texts.get(view, ""), counted.submission_of[view], counted.quotable(counted.submission_of[view]))
        for view in ids
    ]
    not_quotable = len({submission for _, _, submission, quotable in rows if not quotable})
    index = {view: row for row, view in enumerate(ids)}
    themed = defaultdict(list)
    stances = defaultdict(lambda: defaultdict(set))
    names = {}
    for view_id, theme_id, name, stance in counted.tags:
        if view_id not in index:
            continue
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
            **_group(members, rows, matrix, counted.campaign_of),
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
                **_group(members, rows, matrix, counted.campaign_of),
            }
        )
    # The representative proposals' words, for every group at once.
    by_id = {view.pk: view for view in _quotable_views_by_id([view for group in groups for view in group["chosen"]])}
    for group in groups:
        group["proposals"] = [
            {**_quote(by_id[view_id]), "campaign": counted.campaign_of.get(view_id)}
            for view_id in group.pop("chosen")
            if view_id in by_id
        ]
    return {
        "groups": groups,
        "proposals": [],
        "not_quotable": not_quotable,
        "submissions": len({submission for _, _, submission, _ in rows}),
        # Proposals the framework's team may read in full (on their own page, as they stand now).
        "shared": sum(1 for view in ids if counted.shared(counted.submission_of[view])),
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
    from threadpoolctl import threadpool_limits

    # One thread: beside the web and the other workers, k-means' threads waited on each other
    # for three to five times the work (0.2 s alone, 0.7 to 1.1 s with a busy core).
    with threadpool_limits(limits=1):
        clusters = MiniBatchKMeans(n_clusters=count, random_state=2010, n_init=3, batch_size=2048)
        clusters.fit(matrix[members])
    found = []
    for number, centre in enumerate(clusters.cluster_centers_):
        grouped = [members[i] for i in (clusters.labels_ == number).nonzero()[0]]
        if grouped:
            found.append((grouped, _terms(centre, words)))
    return sorted(found, key=lambda item: -len(item[0]))


def _terms(centre, words, count: int = 4) -> list[str]:
    return [str(words[i]) for i in centre.argsort()[::-1][:count] if centre[i] > 0]


def _group(members: list[int], rows: list[tuple], matrix, campaign_of: dict) -> dict:
    """
    A group's counts and the ids of its representative proposals ("chosen":
    nearest its centre, quotable, one per campaign).
    """
    import numpy

    weights = matrix[members]
    centre = numpy.asarray(weights.mean(axis=0)).ravel()
    closeness = weights @ centre
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
        "chosen": chosen,
    }


def _quotable_views_by_id(ids: list[int]) -> QuerySet:
    return (
        View.objects.filter(pk__in=ids, submission__consent_to_quote=True)
        .select_related("submission")
        .only("text", "element", "submission__role", "submission__organisation_type", "submission__region")
    )
