"""
A respondent's own changes, until the call closes (the pages are in
feedback/views.py, reached from the link in their receipt email).

- `change_view`: new words, level or example for one view. The view keeps
  its place and its id, so nothing is counted twice; the words it had are
  kept as an earlier version (`ViewVersion`), the dashboard's tallies follow
  a new level, the themes people gave it are flagged to be read again, and
  the next digest notes that it changed.
- `withdraw`: the whole submission. Its views, notes and personal details
  go; what is left is a tombstone with its reference, received date and
  source. The dashboard stops counting it; digests already compiled keep
  their figures, but its words become "[withdrawn]" wherever they stored
  them (quotes, proposals, a campaign's excerpt), each such edit audited;
  a digest not yet compiled never counts it, and the next one says how many
  were withdrawn since the last.
"""

from collections import Counter
from datetime import datetime

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from . import campaigns
from .digest_content import withdraw_words
from .models import (
    NOT_KNOWN,
    AuditAction,
    AuditEvent,
    Campaign,
    Digest,
    DigestMembership,
    InboundMessage,
    NotYetCounted,
    OutgoingEmail,
    Status,
    Submission,
    View,
    ViewVersion,
    confirmed_tags,
    tallies,
)
from .questions import CURRENT_VERSION


class AlreadyWithdrawn(Exception):
    """The submission was withdrawn (perhaps in another tab) before this change arrived."""


def change_view(view: View, *, text: str, level: str, example: str, now: datetime | None = None) -> bool:
    """
    Give `view` the respondent's new words, level and example, the question
    it answers now being the current one. False when nothing differs.
    Raises AlreadyWithdrawn for a withdrawn submission.
    """
    now = now or timezone.now()
    with transaction.atomic():
        submission = Submission.objects.select_for_update().only("pk", "reference", "status", "received_at")
        submission = submission.get(pk=view.submission_id)
        if submission.withdrawn:
            raise AlreadyWithdrawn(submission.reference)
        current = View.objects.get(pk=view.pk)
        if (current.text, current.level, current.example) == (text, level, example):
            return False
        ViewVersion.objects.create(
            view=current,
            version=current.version,
            level=current.level,
            text=current.text,
            example=current.example,
            question_version=current.question_version,
            given_at=current.changed_at or submission.received_at,
            replaced_at=now,
        )
        View.objects.filter(pk=current.pk).update(
            text=text,
            level=level,
            example=example,
            question_version=CURRENT_VERSION,
            version=F("version") + 1,
            changed_at=now,
        )
        if current.level != level:
            monday = tallies.monday_of(submission.received_at)
            moved = {(monday, current.element, current.level): -1, (monday, current.element, level): 1}
            tallies.add(views=Counter(moved))
        # The people's themes stay, to be read again; the machine's were suggested for the old words.
        current.tags.filter(confirmed_tags()).update(to_review=True)
        current.tags.filter(assigned_by__isnull=True, confirmed_by__isnull=True).delete()
        campaigns.forget_views([current.pk])
        detail = {"view": current.position, "version": current.version + 1}
        if current.level != level:
            detail.update(level_from=current.level, level_to=level)
        AuditEvent.objects.record(AuditAction.VIEW_CHANGED, submission=submission, **detail)
    view.refresh_from_db()
    return True


def withdraw(submission: Submission, *, now: datetime | None = None) -> bool:
    """
    Withdraw the submission for good: False if it already was. Everything
    happens in one transaction, so nothing is left half withdrawn.
    """
    now = now or timezone.now()
    with transaction.atomic():
        # First, before the submission's own row: a compile takes these rows
        # first too, so the two queue in one order and never deadlock (and
        # one under way finishes before this goes on).
        NotYetCounted.objects.filter(submission_id=submission.pk).delete()
        current = Submission.objects.select_for_update().get(pk=submission.pk)
        if current.withdrawn:
            return False
        # Locked first: nothing (a coding claim, a suggestion) is added to them while they go.
        views = list(current.views.select_for_update().order_by("pk").values_list("pk", "element", "level"))
        monday = tallies.monday_of(current.received_at)
        removed = Counter((monday, element, level) for _, element, level in views)
        tallies.add(
            submissions=Counter({(monday, current.status): -1, (monday, Status.WITHDRAWN): 1}),
            views=Counter({key: -n for key, n in removed.items()}),
        )
        ids = [pk for pk, _, _ in views]
        # Digests compiled before their excerpts named whose words they were know only the campaign.
        led = set(Campaign.objects.filter(first_view_id__in=ids).values_list("pk", flat=True))
        campaigns.forget_views(ids)
        View.objects.filter(pk__in=ids).delete()
        current.notes.all().delete()
        _forget_mail(current)
        Submission.objects.filter(pk=current.pk).update(
            status=Status.WITHDRAWN,
            withdrawn_at=now,
            name="",
            email="",
            organisation="",
            role=NOT_KNOWN,
            organisation_type=NOT_KNOWN,
            region=NOT_KNOWN,
            principles=[],
            consent_to_quote=False,
            consent_to_contact=False,
            consent_to_share=False,
            on_behalf_of_organisation=False,
        )
        counted_by = DigestMembership.objects.filter(submission=current).values_list("digest__number", flat=True)
        AuditEvent.objects.record(
            AuditAction.WITHDRAWN, submission=current, views=len(ids), counted_by_digest=counted_by.first()
        )
        take_words_out_of_digests(current, led_campaigns=led)
    submission.refresh_from_db()
    return True


def _forget_mail(submission: Submission) -> None:
    """The emails to and from the respondent: nothing more is sent, and what came in keeps no words or sender."""
    OutgoingEmail.objects.filter(submission=submission).forget_recipient()
    (
        InboundMessage.objects.filter(submission=submission) | InboundMessage.objects.filter(duplicate_of=submission)
    ).empty()


def take_words_out_of_digests(submission: Submission, *, led_campaigns: set[int] = frozenset()) -> int:
    """
    Put "[withdrawn]" in place of the submission's words in every compiled
    digest that stored them; the figures stay. Each digest changed is
    audited. Returns how many passages were taken out.
    """
    taken = 0
    for digest in Digest.objects.compiled().select_for_update().order_by("pk").only("pk", "number", "content"):
        passages = withdraw_words(digest.content, {submission.pk}, led_campaigns=led_campaigns)
        if passages:
            Digest.objects.filter(pk=digest.pk).update(content=digest.content)
            AuditEvent.objects.record(
                AuditAction.DIGEST_WORDS_WITHDRAWN, submission=submission, digest=digest.number, passages=passages
            )
            taken += passages
    return taken
