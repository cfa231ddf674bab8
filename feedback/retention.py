"""
Personal data kept only as long as needed.

`QIPP_KEEP_PERSONAL_DATA_MONTHS` after the call closes (12 by default), the
nightly job (`apply_retention_task`, or `manage.py apply_retention`) removes
from every submission the respondent's name, email address and, where they
answered as an individual, their organisation's name; from stored mail its
sender and the headers that name people (the raw message is rewritten
without them); and the addresses respondents' emails went to. Views, their
texts and every figure stay: nothing it touches is counted anywhere. A dry
run says what it would remove and changes nothing. Each run that removes
something is audited with its counts (never the values).
"""

import calendar
import email.policy
import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .models import AuditAction, AuditEvent, EmailKind, EmailStatus, InboundMessage, OutgoingEmail, Submission

logger = logging.getLogger(__name__)

BATCH = 5_000
# Headers that name or address people, or trace where a message came from.
PERSONAL_HEADERS = (
    "From",
    "Sender",
    "Reply-To",
    "To",
    "Cc",
    "Bcc",
    "Return-Path",
    "Delivered-To",
    "X-Original-To",
    "Envelope-To",
    "Received",
    "Received-SPF",
    "Authentication-Results",
    "ARC-Authentication-Results",
    "ARC-Seal",
    "ARC-Message-Signature",
    "DKIM-Signature",
    "X-Sender",
    "X-Originating-IP",
    "Disposition-Notification-To",
    "Return-Receipt-To",
)
# Emails sent to respondents (staff accounts' emails are about staff, who stay).
RESPONDENT_EMAILS = [EmailKind.ACKNOWLEDGEMENT, EmailKind.MAIL_REPLY, EmailKind.RESUME_LINK, EmailKind.OUTCOME]


@dataclass
class Removal:
    names: int = 0
    email_addresses: int = 0
    organisations: int = 0  # named by individuals
    messages: int = 0  # stored mail: sender and personal headers
    recipients: int = 0  # emails to respondents
    references: list[str] = field(default_factory=list)  # submissions touched (for a dry run's list)

    @property
    def anything(self) -> bool:
        return any((self.names, self.email_addresses, self.organisations, self.messages, self.recipients))

    def counts(self) -> dict:
        return {key: value for key, value in asdict(self).items() if key != "references"}


def removal_date() -> datetime | None:
    """When personal data goes: the months after the call closed; None while no closing time is set."""
    from .call import window

    closes = window(fresh=True).closes
    return months_after(closes, settings.QIPP_KEEP_PERSONAL_DATA_MONTHS) if closes else None


def months_after(moment: datetime, months: int) -> datetime:
    """The same time and day `months` later on London's calendar (the month's last day if it is shorter)."""
    local = timezone.localtime(moment)
    month = local.month - 1 + months
    year, month = local.year + month // 12, month % 12 + 1
    day = min(local.day, calendar.monthrange(year, month)[1])
    return timezone.make_aware(local.replace(tzinfo=None, year=year, month=month, day=day))


def apply(*, now: datetime | None = None, dry_run: bool = False, force: bool = False) -> Removal | None:
    """
    Remove the personal data past its time (`force`: whatever the date, for
    an operator who must). None when the time has not come.
    """
    now = now or timezone.now()
    due = removal_date()
    if not force and (due is None or due > now):
        return None
    found = _find()
    if dry_run or not found.anything:
        return found
    _remove()
    AuditEvent.objects.record(AuditAction.RETENTION_APPLIED, **found.counts())
    logger.info("Removed personal data past its time: %s", found.counts())
    return found


def _individual_organisation() -> Q:
    return Q(on_behalf_of_organisation=False) & ~Q(organisation="")


def _personal_submissions():
    return Submission.objects.filter(~Q(name="") | ~Q(email="") | _individual_organisation())


def _personal_messages():
    return InboundMessage.objects.filter(personal_removed_at__isnull=True)


def _recipients():
    return OutgoingEmail.objects.filter(kind__in=RESPONDENT_EMAILS).exclude(recipient="")


def _find() -> Removal:
    submissions = _personal_submissions()
    return Removal(
        names=submissions.exclude(name="").count(),
        email_addresses=submissions.exclude(email="").count(),
        organisations=submissions.filter(_individual_organisation()).count(),
        messages=_personal_messages().count(),
        recipients=_recipients().count(),
        references=list(submissions.order_by("received_at").values_list("reference", flat=True)),
    )


def _remove() -> None:
    while ids := list(_personal_submissions().order_by("pk").values_list("pk", flat=True)[:BATCH]):
        with transaction.atomic():
            chosen = Submission.objects.filter(pk__in=ids)
            chosen.update(name="", email="")
            chosen.filter(on_behalf_of_organisation=False).update(organisation="")
    now = timezone.now()
    for message in _personal_messages().only("pk", "raw").order_by("pk").iterator(chunk_size=200):
        InboundMessage.objects.filter(pk=message.pk).update(
            sender_name="", sender_email="", raw=without_personal_headers(bytes(message.raw)), personal_removed_at=now
        )
    with transaction.atomic():
        _recipients().exclude(status=EmailStatus.SENT).delete()
        _recipients().update(recipient="", context={}, last_error="")


def without_personal_headers(raw: bytes) -> bytes:
    """The message with the headers that name or trace people taken out; the rest as it was."""
    if not raw:
        return raw
    try:
        message = email.message_from_bytes(raw, policy=email.policy.compat32)
        for name in PERSONAL_HEADERS:
            del message[name]
        return message.as_bytes()
    except Exception:  # an unreadable message keeps only its body
        return raw.replace(b"\r\n", b"\n").partition(b"\n\n")[2]
