"""
Sorting mail: a reviewer turns a message into a submission of one or more
views, or sets it aside as not a view or as a duplicate. Each message is
settled once; nothing is deleted.

A sorted message becomes a Submission with `source=email`, received when the
message arrived, with every consent "no" (nobody ticked a box). Its sender
gets one acknowledgement, as a reply in the same thread, through the outbox.
"""

import uuid
from email.utils import parseaddr

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from .models import (
    AuditAction,
    AuditEvent,
    EmailKind,
    InboundMessage,
    MessageStatus,
    Source,
    Submission,
)
from .outbox import enqueue

# Submissions made from mail have a token derived from their message, so the
# same message can never make two, whatever happens around the conditional update.
MESSAGE_TOKENS = uuid.UUID("6f1d0c3e-5b8a-4e8e-9a43-2d7c1f0b9e51")

NOT_A_VIEW_REASONS = [
    "Not about the QIPP challenge",
    "A question or request, not a view",
    "Spam or advertising",
    "Empty or unreadable",
]


def sort_message(message: InboundMessage, *, by, about: dict, views: list[dict], ip: str | None = None) -> Submission:
    """
    Make the message's submission (`about`: name, email, role, organisation,
    organisation_type, region; `views`: element, level, text), settle the
    message, record it and write the reply, in one transaction. Raises
    MessageAlreadySorted if someone settled it first.
    """
    with transaction.atomic():
        submission, _ = Submission.objects.record(
            token=uuid.uuid5(MESSAGE_TOKENS, message.dedup_key),
            views=views,
            source=Source.EMAIL,
            received_at=message.arrived_at,
            **about,
        )
        message.decide(MessageStatus.SORTED, by=by, submission=submission)
        AuditEvent.objects.record(
            AuditAction.MESSAGE_SORTED, by=by, ip=ip, submission=submission, message=message.pk, views=len(views)
        )
        if replyable(message.sender_email):
            enqueue(
                EmailKind.MAIL_REPLY,
                key=f"mail-reply:{message.pk}",
                recipient=message.sender_email,
                submission=submission,
                in_reply_to=message,
            )
    return submission


def set_aside(
    message: InboundMessage,
    *,
    by,
    reason: str = "",
    duplicate_of: Submission | None = None,
    ip: str | None = None,
) -> None:
    """Mark the message not a view (with a reason) or a duplicate of a submission. Kept, never deleted."""
    status = MessageStatus.DUPLICATE if duplicate_of else MessageStatus.NOT_A_VIEW
    with transaction.atomic():
        message.decide(status, by=by, reason=reason, duplicate_of=duplicate_of)
        AuditEvent.objects.record(
            AuditAction.MESSAGE_SET_ASIDE,
            by=by,
            ip=ip,
            submission=duplicate_of,
            message=message.pk,
            status=status,
            reason=reason,
        )


def replyable(address: str) -> bool:
    """A sender we may answer: a valid address that is not the portal's own (no mail loops)."""
    try:
        validate_email(address)
    except ValidationError:
        return False
    own = {parseaddr(sender)[1].lower() for sender in (settings.DEFAULT_FROM_EMAIL, settings.QIPP_CONTACT_EMAIL)}
    return address.lower() not in own
