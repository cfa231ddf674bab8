"""
What was done with the views ("you said, we did"), once the call is over.

A policy lead publishes the approved final digest: from then on the public
outcomes page (`/what-we-did/`, linked from the start page) lists, per
element, its themes with their counts, the decisions the leads recorded
(`ThemeDecision`) and the final digest's anonymised quotes, and every
respondent who agreed to be contacted gets one email with the link: one
outbox row per distinct address, written in the publishing transaction.

The page is built from the frozen final digest, whose quotes come only from
respondents who agreed to be quoted, and whose words become "[withdrawn]"
if their respondent withdraws: such a quote is left out here.
"""

from django.db import transaction
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.crypto import salted_hmac

from . import doorbell
from .digest_content import WITHDRAWN_WORDS
from .models import (
    AuditAction,
    AuditEvent,
    Digest,
    DigestKind,
    DigestStatus,
    EmailKind,
    OutgoingEmail,
    ThemeDecision,
)

WAITING_TASK = "feedback.tasks.send_waiting_emails_task"
BATCH = 5_000


def _published():
    return Digest.objects.filter(kind=DigestKind.FINAL, published_at__isnull=False)


def published() -> Digest | None:
    """The final digest, once published."""
    return _published().first()


def are_published() -> bool:
    """Whether the outcomes page is public (the start page asks on every visit after the close: a cheap question)."""
    return _published().exists()


def publish(digest: Digest, *, by, ip: str | None = None) -> int | None:
    """
    Publish the approved final digest's outcomes and email every respondent
    who agreed to be contacted, once per address. Returns how many emails
    were written, or None if it was not the approved final digest or was
    published already (a second click publishes nothing and emails nobody).
    """
    with transaction.atomic():
        made = Digest.objects.filter(
            pk=digest.pk, kind=DigestKind.FINAL, status=DigestStatus.APPROVED, published_at__isnull=True
        ).update(published_at=timezone.now(), published_by=by)
        if not made:
            return None
        addresses = (
            digest.counted()
            .filter(consent_to_contact=True)
            .exclude(email="")
            .annotate(address=Lower("email"))
            .values_list("address", flat=True)
            .distinct()
            .order_by()
        )
        written = 0
        batch = []
        for address in addresses.iterator(chunk_size=BATCH):
            batch.append(
                OutgoingEmail(
                    kind=EmailKind.OUTCOME,
                    # Keyed (once per address) without the address, nor an unsalted hash of it.
                    key=f"outcome:{salted_hmac('feedback.outcome-email', address, algorithm='sha256').hexdigest()}",
                    recipient=address,
                    digest=digest,
                )
            )
            if len(batch) == BATCH:
                written += len(OutgoingEmail.objects.bulk_create(batch, ignore_conflicts=True))
                batch = []
        written += len(OutgoingEmail.objects.bulk_create(batch, ignore_conflicts=True))
        AuditEvent.objects.record(AuditAction.OUTCOMES_PUBLISHED, by=by, ip=ip, digest=digest.number, emails=written)
        doorbell.ring_on_commit(WAITING_TASK)
    digest.refresh_from_db()
    return written


def proposals() -> list[dict]:
    """
    Proposed changes to national policy answered one by one: the decision,
    and the proposal's words only where its respondent agreed to be quoted.
    """
    answered = ThemeDecision.objects.filter(proposal__isnull=False).select_related("proposal__submission")
    return [
        {
            "text": decision.proposal.text if decision.proposal.submission.consent_to_quote else "",
            "decision": decision,
        }
        for decision in answered.order_by("proposal__submission__received_at", "proposal_id")
    ]


def page(digest: Digest) -> list[dict]:
    """Per element: its themes, counts and decisions, and the quotes that may be shown."""
    content = digest.content
    decisions = {
        decision.theme_id: decision
        for decision in ThemeDecision.objects.filter(
            theme_id__in=[theme["id"] for element in content["elements"] for theme in element["themes"]]
        )
    }
    elements = []
    for element in content["elements"]:
        elements.append(
            {
                "code": element["code"],
                "label": element["label"],
                "submissions": element["submissions"],
                "themes": [
                    {
                        "name": theme["name"],
                        "submissions": theme["submissions"],
                        "decision": decisions.get(theme["id"]),
                    }
                    for theme in element["themes"]
                ],
                "quotes": [
                    {"text": quote["text"], "attribution": quote["attribution"], "theme": quote.get("theme", "")}
                    for quote in element["quotes"]
                    if quote["text"] != WITHDRAWN_WORDS
                ],
            }
        )
    return elements
