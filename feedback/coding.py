"""
Coding views on the workbench: the queue a reviewer works through, the short
claim that keeps two reviewers off the same view, and saving one view's
themes (confirming the machine's suggestions a person kept, remembering the
ones they turned down).
"""

import functools
import zlib
from dataclasses import dataclass, fields
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from .agreement import agreement
from .models import (
    AuditAction,
    AuditEvent,
    CodingClaim,
    Element,
    Level,
    Region,
    RejectedSuggestion,
    SecondOpinion,
    Stance,
    Theme,
    ThemeTag,
    View,
    ViewFingerprint,
    confirmed_tags,
)
from .periods import Week

# Long enough to read a view and decide; a reviewer who walks away frees it soon.
CLAIM_FOR = timedelta(minutes=3)
STATES = {
    "untagged": "Not yet coded",
    "suggested": "With machine suggestions",
    "second": "Second opinions (coded blind)",
    "changed": "Changed by the respondent (themes to read again)",
    "all": "All views",
}


@dataclass(frozen=True)
class Queue:
    """The views a reviewer works through, oldest first, chosen by filters (as they appear in the address)."""

    element: str = Element.PRIORITISATION
    state: str = "untagged"
    level: str = ""
    theme: str = ""
    week: str = ""
    region: str = ""
    campaign: str = ""

    @classmethod
    def from_query(cls, query) -> "Queue":
        """From a request's GET; anything that is not a known value is left out."""
        wanted = {field.name: str(query.get(field.name, "")).strip()[:20] for field in fields(cls)}
        if wanted["element"] not in Element.values:
            wanted["element"] = Element.PRIORITISATION
        if wanted["state"] not in STATES:
            wanted["state"] = "untagged"
        if wanted["level"] not in Level.values:
            wanted["level"] = ""
        if wanted["region"] not in Region.values:
            wanted["region"] = ""
        for number in ("theme", "campaign"):
            if not wanted[number].isdigit():
                wanted[number] = ""
        try:
            Week.parse(wanted["week"])
        except ValueError:
            wanted["week"] = ""
        return cls(**wanted)

    def as_query(self) -> dict:
        return {field.name: getattr(self, field.name) for field in fields(self) if getattr(self, field.name)}

    def views(self) -> QuerySet:
        views = View.objects.filter(element=self.element)
        people = ThemeTag.objects.filter(confirmed_tags(), view=OuterRef("pk"))
        machine = ThemeTag.objects.filter(view=OuterRef("pk"), assigned_by__isnull=True, confirmed_by__isnull=True)
        if self.state == "untagged":
            views = views.exclude(Exists(people))
        elif self.state == "suggested":
            views = views.filter(Exists(machine))
        elif self.state == "second":
            views = views.filter(second_opinion__second_at__isnull=True)
        elif self.state == "changed":
            views = views.filter(Exists(ThemeTag.objects.filter(view=OuterRef("pk"), to_review=True)))
        if self.level:
            views = views.filter(level=self.level)
        if self.theme:
            views = views.filter(tags__theme_id=int(self.theme))
        if self.week:
            week = Week.parse(self.week)
            views = views.filter(submission__received_at__gte=week.start, submission__received_at__lt=week.end)
        if self.region:
            views = views.filter(submission__region=self.region)
        if self.campaign:
            views = views.filter(fingerprint__campaign_id=int(self.campaign))
        return views.order_by("submission__received_at", "pk")

    def position(self, view: View) -> tuple[int, int]:
        """(how many are left, this view included, from here on; how many the queue holds)."""
        views = self.views()
        received = view.submission.received_at
        later = Q(submission__received_at__gt=received) | Q(submission__received_at=received, pk__gte=view.pk)
        return views.filter(later).count(), views.count()


def claim_next(queue: Queue, *, user, now: datetime, skip: frozenset[int] = frozenset()) -> int | None:
    """
    The oldest view in the queue that nobody else holds, claimed for `user`:
    its id, or None when the queue is done. One statement picks and claims it.
    """
    sql, params = _queue_sql(queue, connection.vendor, user.pk if queue.state == "second" else None)
    skipped = "".join(f" AND queued.queued_id <> {int(pk)}" for pk in sorted(skip))
    table = _claims()
    rest = (
        f"FROM ({sql}) queued WHERE NOT EXISTS (SELECT 1 FROM {table} held "  # noqa: S608 (table names and integers)
        f"WHERE held.view_id = queued.queued_id AND held.until > %s AND held.user_id <> %s){skipped} "
        f"ORDER BY queued.queued_at, queued.queued_id LIMIT 1"
    )
    take = f"INSERT INTO {table} (view_id, user_id, until) SELECT queued.queued_id, %s, %s {rest} {_take_over(table)}"
    as_stored = connection.ops.adapt_datetimefield_value
    until, now_stored = as_stored(now + CLAIM_FOR), as_stored(now)
    with connection.cursor() as cursor:
        for _ in range(3):
            cursor.execute(take, [user.pk, until, *params, now_stored, user.pk, now_stored])
            if claimed := cursor.fetchone():
                return claimed[0]
            # Nothing left, or another reviewer took the view between the pick and the claim: then pick again.
            cursor.execute(f"SELECT queued.queued_id {rest}", [*params, now_stored, user.pk])
            if cursor.fetchone() is None:
                return None
    return None


@functools.lru_cache(maxsize=512)
def _queue_sql(queue: Queue, vendor: str, first_by: int | None) -> tuple[str, tuple]:
    """The queue's views (id and when they came) as SQL: building it through the ORM takes longer than running it."""
    views = queue.views()
    if first_by is not None:  # nobody gives the second opinion on their own coding
        views = views.exclude(second_opinion__first_by_id=first_by)
    views = views.order_by().values(queued_id=F("pk"), queued_at=F("submission__received_at"))
    return views.query.sql_with_params()


def _claims() -> str:
    return connection.ops.quote_name(CodingClaim._meta.db_table)


def _take_over(table: str) -> str:
    """Make the claim, or take it over if it has lapsed or is already the same reviewer's."""
    return (
        "ON CONFLICT (view_id) DO UPDATE SET user_id = excluded.user_id, until = excluded.until "
        f"WHERE {table}.until <= %s OR {table}.user_id = excluded.user_id RETURNING view_id"
    )


def claim(view: View, *, user, now: datetime) -> bool:
    """Hold `view` for `user` for CLAIM_FOR; False if someone else holds it. One statement, so one commit."""
    table = _claims()
    as_stored = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (view_id, user_id, until) VALUES (%s, %s, %s) {_take_over(table)}",  # noqa: S608
            [view.pk, user.pk, as_stored(now + CLAIM_FOR), as_stored(now)],
        )
        return cursor.fetchone() is not None


def holder(view: View, *, now: datetime):
    """Who else holds the view now, or None."""
    found = CodingClaim.objects.filter(view=view, until__gt=now).select_related("user").first()
    return found.user if found else None


def release(view: View, *, user) -> None:
    CodingClaim.objects.filter(view=view, user=user).delete()


def code(view: View, *, by, chosen: dict[int, str], ip: str | None = None) -> bool:
    """
    Give the view exactly the themes in `chosen` ({theme id: stance}). A
    suggestion kept is confirmed; one left out is rejected (and never comes
    back); a person's tag left out is removed. Recorded if anything changed.
    """
    themes = set(Theme.objects.active().for_element(view.element).filter(pk__in=chosen).values_list("pk", flat=True))
    with transaction.atomic():
        existing = {tag.theme_id: tag for tag in view.tags.select_related("theme").select_for_update()}
        before = sorted(str(tag) for tag in existing.values())
        confirming = [theme_id for theme_id, tag in existing.items() if theme_id in themes and not tag.is_confirmed]
        for theme_id in themes:
            stance = chosen[theme_id] if chosen[theme_id] in Stance.values else ""
            tag = existing.get(theme_id)
            if tag is None:
                ThemeTag.objects.create(view=view, theme_id=theme_id, stance=stance, assigned_by=by)
            elif not tag.is_confirmed or tag.stance != stance:
                tag.stance = stance
                if not tag.is_confirmed:
                    tag.confirmed_by = by
                tag.save(update_fields=["stance", "confirmed_by"])
        for theme_id, tag in existing.items():
            if theme_id not in themes:
                if tag.is_confirmed:
                    tag.delete()
                else:
                    tag.reject(by=by)
        # The reviewer read the view as it stands: themes flagged when its respondent changed it are settled.
        settled = view.tags.filter(to_review=True).update(to_review=False)
        after = sorted(str(tag) for tag in view.tags.select_related("theme"))
        changed = before != after or bool(confirming) or bool(settled)
        _draw_for_second_opinion(view, by=by, themes=themes)
        if changed:
            AuditEvent.objects.record(
                AuditAction.THEMES_CHANGED,
                by=by,
                ip=ip,
                submission=view.submission,
                view=view.position,
                before=before,
                after=after,
                confirmed=sorted(existing[theme_id].theme.name for theme_id in confirming),
            )
        release(view, user=by)
    return changed


def code_campaign(view: View, *, by, chosen: dict[int, str], ip: str | None = None) -> int:
    """
    Code `view` as `code` does, and give the same themes and stances to every
    other view of its campaign that no person has coded yet and nobody else
    is holding: their kept suggestions confirmed, the rest turned down.
    Returns how many other views were coded.
    """
    campaign_id = ViewFingerprint.objects.filter(view=view).values_list("campaign_id", flat=True).first()
    code(view, by=by, chosen=chosen, ip=ip)
    if not campaign_id:
        return 0
    themes = {
        theme_id: chosen[theme_id] if chosen[theme_id] in Stance.values else ""
        for theme_id in Theme.objects.active()
        .for_element(view.element)
        .filter(pk__in=chosen)
        .values_list("pk", flat=True)
    }
    now = timezone.now()
    people = ThemeTag.objects.filter(confirmed_tags(), view=OuterRef("pk"))
    held = CodingClaim.objects.filter(view=OuterRef("pk"), until__gt=now).exclude(user=by)
    with transaction.atomic():
        targets = list(
            View.objects.filter(fingerprint__campaign_id=campaign_id)
            .exclude(pk=view.pk)
            .exclude(Exists(people))
            .exclude(Exists(held))
            .select_related("submission")
            .only("pk", "position", "submission__reference")
            .select_for_update(of=("self",))
        )
        ids = [target.pk for target in targets]
        suggested = ThemeTag.objects.filter(view_id__in=ids, assigned_by__isnull=True, confirmed_by__isnull=True)
        turned_down = list(suggested.exclude(theme_id__in=themes).values_list("view_id", "theme_id"))
        RejectedSuggestion.objects.bulk_create(
            [RejectedSuggestion(view_id=v, theme_id=t, rejected_by=by) for v, t in turned_down], ignore_conflicts=True
        )
        suggested.exclude(theme_id__in=themes).delete()
        for theme_id, stance in themes.items():
            suggested.filter(theme_id=theme_id).update(confirmed_by=by, stance=stance)
        ThemeTag.objects.bulk_create(
            [
                ThemeTag(view_id=target, theme_id=theme_id, stance=stance, assigned_by=by)
                for target in ids
                for theme_id, stance in themes.items()
            ],
            ignore_conflicts=True,
        )
        names = sorted(Theme.objects.filter(pk__in=themes).values_list("name", flat=True))
        AuditEvent.objects.bulk_create(
            AuditEvent(
                action=AuditAction.THEMES_CHANGED,
                actor=by,
                actor_username=by.get_username(),
                submission_id=target.submission_id,
                reference=target.submission.reference,
                detail={"view": target.position, "after": names, "as_campaign_of": view.pk, "campaign": campaign_id},
                ip_address=ip,
            )
            for target in targets
        )
    return len(targets)


def drawn_for_second_opinion(view_id: int) -> bool:
    """A fixed draw for each view (from its id), so the same share is drawn whoever codes what."""
    share = settings.QIPP_SECOND_OPINION_SHARE
    return zlib.crc32(f"second-opinion:{view_id}".encode()) % 10_000 < share * 10_000


def _draw_for_second_opinion(view: View, *, by, themes: set[int]) -> None:
    """
    A drawn view waits for a second reviewer once a person has coded it; the
    first reviewer coding it again before then updates what they gave.
    """
    if not drawn_for_second_opinion(view.pk):
        return
    opinion, created = SecondOpinion.objects.get_or_create(
        view=view, defaults={"first_by": by, "first_themes": sorted(themes)}
    )
    if not created and opinion.second_at is None and opinion.first_by_id == by.pk:
        opinion.first_themes = sorted(themes)
        opinion.save(update_fields=["first_themes"])


def give_second_opinion(view: View, *, by, chosen: dict[int, str], ip: str | None = None) -> bool:
    """
    Record the themes a second reviewer gives a drawn view, blind: the view's
    own tags are left as the first reviewer made them. False if the view is
    not waiting for a second opinion, or `by` coded it first.
    """
    themes = sorted(
        Theme.objects.active().for_element(view.element).filter(pk__in=chosen).values_list("pk", flat=True)
    )
    with transaction.atomic():
        given = (
            SecondOpinion.objects.filter(view=view, second_at__isnull=True)
            .exclude(first_by=by)
            .update(second_by=by, second_themes=themes, second_at=timezone.now())
        )
        if given:
            AuditEvent.objects.record(
                AuditAction.SECOND_OPINION_GIVEN, by=by, ip=ip, submission=view.submission, view=view.position
            )
        release(view, user=by)
    return bool(given)


def settle(opinion: SecondOpinion, *, by, chosen: dict[int, str], ip: str | None = None) -> bool:
    """A lead decides the themes of a view two reviewers coded differently. False if already settled."""
    with transaction.atomic():
        if not SecondOpinion.objects.filter(pk=opinion.pk, settled_at__isnull=True).update(
            settled_by=by, settled_at=timezone.now()
        ):
            return False
        # A theme the lead keeps keeps the stance it was given.
        stances = dict(opinion.view.tags.values_list("theme_id", "stance"))
        chosen = {theme: stance or stances.get(theme, "") for theme, stance in chosen.items()}
        code(opinion.view, by=by, chosen=chosen, ip=ip)
        AuditEvent.objects.record(
            AuditAction.SECOND_OPINION_SETTLED,
            by=by,
            ip=ip,
            submission=opinion.view.submission,
            view=opinion.view.position,
        )
    return True


def disagreements(element: str) -> QuerySet:
    """Second opinions that differ from the first and that no lead has settled yet, oldest first."""
    return (
        SecondOpinion.objects.filter(view__element=element, second_at__isnull=False, settled_at__isnull=True)
        .select_related("view__submission", "first_by", "second_by")
        .order_by("second_at")
    )


def reviewer_agreement(element: str):
    """How far first and second reviewers agree on the element's views coded twice (None before any)."""
    rows = list(
        SecondOpinion.objects.filter(view__element=element, second_at__isnull=False).values_list(
            "view_id", "first_themes", "second_themes"
        )
    )
    if not rows:
        return None
    first = {(view, theme) for view, themes, _ in rows for theme in themes}
    second = {(view, theme) for view, _, themes in rows for theme in themes}
    themes = Theme.objects.for_element(element).values_list("pk", flat=True)
    return agreement(first, second, views=[view for view, _, _ in rows], themes=themes)


def confirm_suggestions(view: View, *, by, ip: str | None = None) -> int:
    """Stand behind every suggestion on the view, as they are. Returns how many."""
    chosen = {tag.theme_id: tag.stance for tag in view.tags.all()}
    suggested = view.tags.filter(assigned_by__isnull=True, confirmed_by__isnull=True).count()
    code(view, by=by, chosen=chosen, ip=ip)
    return suggested
