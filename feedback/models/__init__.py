"""
The portal's data, one module per concept. Everything is importable from
`feedback.models` as before.
"""

from .audit import AuditAction, AuditEvent
from .choices import (
    ELEMENT_DESCRIPTIONS,
    AckStatus,
    DigestStatus,
    Element,
    Level,
    OrganisationType,
    Principle,
    Region,
    Role,
    SendStatus,
    Source,
    Stance,
    Status,
)
from .digests import COMPILED, Digest, DigestQuerySet
from .submissions import (
    REFERENCE_ALPHABET,
    REFERENCE_LENGTH,
    STUCK_SENDING_AFTER,
    Note,
    Submission,
    SubmissionManager,
    SubmissionQuerySet,
    View,
    new_reference,
    normalise_reference,
)
from .themes import Theme, ThemeQuerySet, ThemeTag, ThemeTagQuerySet
from .weekly import DIGEST_READING_PERMISSION, Subscription, SubscriptionQuerySet, WeeklySend, WeeklySendQuerySet

__all__ = [
    "COMPILED",
    "DIGEST_READING_PERMISSION",
    "ELEMENT_DESCRIPTIONS",
    "REFERENCE_ALPHABET",
    "REFERENCE_LENGTH",
    "STUCK_SENDING_AFTER",
    "AckStatus",
    "AuditAction",
    "AuditEvent",
    "Digest",
    "DigestQuerySet",
    "DigestStatus",
    "Element",
    "Level",
    "Note",
    "OrganisationType",
    "Principle",
    "Region",
    "Role",
    "SendStatus",
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
    "WeeklySend",
    "WeeklySendQuerySet",
    "new_reference",
    "normalise_reference",
]
