"""
Everything held about one email address: written out for a subject access
request (`manage.py subject_access EMAIL`), or erased (`manage.py
erase_person EMAIL`), as a respondent's withdrawal does, whatever the call's
state: their submissions become tombstones, digests keep their figures and
their words become "[withdrawn]".

An address is matched whatever its case, in submissions, emails sent, mail
received, answers saved for later and staff accounts.
"""

import csv
import io
import json
import zipfile
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from . import changes
from .drafts import SESSION_KEY as DRAFT_KEY
from .models import (
    Attachment,
    AuditAction,
    AuditEvent,
    InboundMessage,
    Note,
    OutgoingEmail,
    SavedDraft,
    Submission,
    View,
    ViewVersion,
)
from .sessions import SessionStore

SUBMISSION_FIELDS = [
    "reference",
    "received_at",
    "source",
    "status",
    "withdrawn_at",
    "name",
    "email",
    "role",
    "organisation",
    "organisation_type",
    "region",
    "on_behalf_of_organisation",
    "principles",
    "consent_to_quote",
    "consent_to_share",
    "consent_to_contact",
]
VIEW_FIELDS = ["position", "element", "level", "text", "example", "question_version", "version", "changed_at"]
VERSION_FIELDS = ["version", "level", "text", "example", "given_at", "replaced_at"]
EMAIL_FIELDS = ["kind", "recipient", "status", "created_at", "sent_at"]
MESSAGE_FIELDS = ["arrived_at", "sent_at", "sender_name", "sender_email", "subject", "text", "status"]
DRAFT_FIELDS = ["email", "saved_at", "kept_until", "data"]
ACCOUNT_FIELDS = ["username", "first_name", "last_name", "email", "date_joined", "last_login", "is_active"]


class NotAnAddress(ValueError):
    pass


def checked(address: str) -> str:
    """The address, stripped; NotAnAddress if it is not a valid email address."""
    address = address.strip()
    try:
        validate_email(address)
    except ValidationError:
        raise NotAnAddress(f"{address!r} is not a valid email address.") from None
    return address


@dataclass
class Held:
    """What is held about an address, as querysets."""

    address: str
    submissions: object = field(init=False)
    emails: object = field(init=False)
    messages: object = field(init=False)
    drafts: object = field(init=False)
    accounts: object = field(init=False)

    def __post_init__(self):
        self.submissions = Submission.objects.filter(email__iexact=self.address).order_by("received_at")
        self.emails = OutgoingEmail.objects.filter(recipient__iexact=self.address).order_by("created_at")
        self.messages = InboundMessage.objects.filter(sender_email__iexact=self.address).order_by("arrived_at")
        self.drafts = SavedDraft.objects.filter(email__iexact=self.address).order_by("saved_at")
        self.accounts = get_user_model().objects.filter(email__iexact=self.address).order_by("pk")

    def counts(self) -> dict:
        return {
            "submissions": self.submissions.count(),
            "emails": self.emails.count(),
            "messages": self.messages.count(),
            "saved_drafts": self.drafts.count(),
            "staff_accounts": self.accounts.count(),
        }

    @property
    def nothing(self) -> bool:
        return not any(self.counts().values())


def _rows(queryset, fields: list[str]) -> list[dict]:
    return [dict(zip(fields, values, strict=True)) for values in queryset.values_list(*fields)]


def subject_access(address: str) -> tuple[bytes, dict] | None:
    """
    A ZIP of everything held about the address: `everything.json`, a CSV per
    kind of record, and each email they sent as it arrived (.eml) with its
    attachments. None when nothing is held. Audited (counts, never the address).
    """
    held = Held(checked(address))
    if held.nothing:
        return None
    submissions = []
    for submission in held.submissions:
        views = []
        for view in View.objects.filter(submission=submission).order_by("position"):
            views.append(
                {
                    **{name: getattr(view, name) for name in VIEW_FIELDS},
                    "earlier_versions": _rows(ViewVersion.objects.filter(view=view), VERSION_FIELDS),
                }
            )
        submissions.append(
            {
                **{name: getattr(submission, name) for name in SUBMISSION_FIELDS},
                "views": views,
                "notes_by_the_policy_team": _rows(Note.objects.filter(submission=submission), ["created_at", "text"]),
            }
        )
    everything = {
        "address": held.address,
        "written_at": timezone.now(),
        "submissions": submissions,
        "emails_sent_to_this_address": _rows(held.emails, EMAIL_FIELDS),
        "emails_received_from_this_address": _rows(held.messages, MESSAGE_FIELDS),
        "answers_saved_for_later": _rows(held.drafts, DRAFT_FIELDS),
        "staff_accounts": _rows(held.accounts, ACCOUNT_FIELDS),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("everything.json", json.dumps(everything, cls=DjangoJSONEncoder, indent=2))
        archive.writestr("submissions.csv", _csv(submissions, SUBMISSION_FIELDS))
        view_rows = [{"reference": s["reference"], **v} for s in submissions for v in s["views"]]
        archive.writestr("views.csv", _csv(view_rows, ["reference", *VIEW_FIELDS]))
        archive.writestr("emails_sent.csv", _csv(everything["emails_sent_to_this_address"], EMAIL_FIELDS))
        archive.writestr("emails_received.csv", _csv(everything["emails_received_from_this_address"], MESSAGE_FIELDS))
        archive.writestr("saved_drafts.csv", _csv(everything["answers_saved_for_later"], DRAFT_FIELDS))
        archive.writestr("staff_accounts.csv", _csv(everything["staff_accounts"], ACCOUNT_FIELDS))
        for message in held.messages:
            if message.raw:
                archive.writestr(f"emails_received/{message.pk}.eml", bytes(message.raw))
            for attachment in Attachment.objects.filter(message=message):
                archive.writestr(
                    f"emails_received/{message.pk}-{attachment.position}-{attachment.filename}",
                    bytes(attachment.content),
                )
    counts = held.counts()
    AuditEvent.objects.record(AuditAction.SUBJECT_ACCESS, **counts)
    return buffer.getvalue(), counts


def _csv(rows: list[dict], fields: list[str]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({name: _cell(row.get(name)) for name in fields})
    return out.getvalue()


def _cell(value):
    return json.dumps(value, cls=DjangoJSONEncoder) if isinstance(value, list | dict) else value


@dataclass
class Erasure:
    submissions: list[str]  # references, withdrawn
    emails: int
    messages: int
    drafts: int
    sessions: int  # answers being given right now under the address, in a browser's session

    @property
    def nothing(self) -> bool:
        return not (self.submissions or self.emails or self.messages or self.drafts or self.sessions)


def _sessions_with(address: str) -> list[str]:
    """Live sessions whose draft answers give the address (a few thousand at most: they last two hours)."""
    store = SessionStore()
    return [
        session.session_key
        for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator(chunk_size=500)
        if str(store.decode(session.session_data).get(DRAFT_KEY, {}).get("email", "")).lower() == address.lower()
    ]


def erase(address: str, *, dry_run: bool = False) -> Erasure:
    """
    Remove everything held about the address as a withdrawal does: each of
    its submissions withdrawn (figures stay; words become "[withdrawn]"), the
    mail it sent emptied, the emails to it dropped or their address blanked,
    its saved answers deleted. Staff accounts are left to their own page.
    """
    held = Held(checked(address))
    found = Erasure(
        submissions=list(held.submissions.exclude(status="withdrawn").values_list("reference", flat=True)),
        emails=held.emails.count(),
        messages=held.messages.count(),
        drafts=held.drafts.count(),
        sessions=len(sessions := _sessions_with(held.address)),
    )
    if dry_run or found.nothing:
        return found
    for submission in held.submissions.exclude(status="withdrawn"):
        changes.withdraw(submission)
    with transaction.atomic():
        held.messages.empty()
        held.emails.forget_recipient()
        held.drafts.delete()
        Session.objects.filter(session_key__in=sessions).delete()
        AuditEvent.objects.record(
            AuditAction.ERASED,
            submissions=found.submissions,
            emails=found.emails,
            messages=found.messages,
            saved_drafts=found.drafts,
            sessions=found.sessions,
        )
    return found
