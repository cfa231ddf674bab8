"""
The portal's data, one module per concept. Everything is importable from
`feedback.models` as before.
"""

from .audit import AuditAction, AuditEvent
from .choices import (
    ELEMENT_DESCRIPTIONS,
    NOT_KNOWN,
    DigestStatus,
    Element,
    Level,
    OrganisationType,
    Principle,
    Region,
    Role,
    Source,
    Stance,
    Status,
    answerable,
)
from .digests import COMPILED, MAX_COMPILE_ATTEMPTS, STALE_COMPILE_AFTER, Digest, DigestQuerySet
from .mailbox import (
    Attachment,
    InboundMessage,
    InboundMessageQuerySet,
    MailboxState,
    MessageAlreadySorted,
    MessageOrigin,
    MessageStatus,
)
from .outbox import STUCK_SENDING_AFTER, EmailKind, EmailStatus, OutgoingEmail, OutgoingEmailQuerySet
from .submissions import (
    REFERENCE_ALPHABET,
    REFERENCE_LENGTH,
    Note,
    Submission,
    SubmissionManager,
    SubmissionQuerySet,
    View,
    new_reference,
    normalise_reference,
)
from .themes import Theme, ThemeQuerySet, ThemeTag, ThemeTagQuerySet, confirmed_tags
from .weekly import DIGEST_READING_PERMISSION, Subscription, SubscriptionQuerySet

__all__ = [
    "COMPILED",
    "DIGEST_READING_PERMISSION",
    "ELEMENT_DESCRIPTIONS",
    "REFERENCE_ALPHABET",
    "REFERENCE_LENGTH",
    "STUCK_SENDING_AFTER",
    "STALE_COMPILE_AFTER",
    "MAX_COMPILE_ATTEMPTS",
    "NOT_KNOWN",
    "Attachment",
    "AuditAction",
    "AuditEvent",
    "Digest",
    "DigestQuerySet",
    "DigestStatus",
    "Element",
    "EmailKind",
    "EmailStatus",
    "InboundMessage",
    "InboundMessageQuerySet",
    "Level",
    "MailboxState",
    "MessageAlreadySorted",
    "MessageOrigin",
    "MessageStatus",
    "Note",
    "OrganisationType",
    "OutgoingEmail",
    "OutgoingEmailQuerySet",
    "Principle",
    "Region",
    "Role",
    "Source",
    "Stance",
    "Status",
    "Submission",
    "SubmissionManager",
    "SubmissionQuerySet",
    "Subscription",
    "SubscriptionQuerySet",
    "Theme",
    "ThemeQuerySet",
    "ThemeTag",
    "ThemeTagQuerySet",
    "View",
    "answerable",
    "confirmed_tags",
    "new_reference",
    "normalise_reference",
]
