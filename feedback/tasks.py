"""
Celery tasks: thin wrappers that take ids, call one function, and are safe to
run twice. PostgreSQL holds the state of the work; a task is only a doorbell
(feedback/doorbell.py rings it after a commit).
"""

import logging
from importlib import import_module

from celery import shared_task
from django.conf import settings

from . import digests, mailbox, outbox, resume, retention, suggestions
from .models import COMPILED, Digest, DigestKind
from .periods import Week

logger = logging.getLogger(__name__)


@shared_task
def send_email_task(email_id: int) -> dict:
    """Send one email from the outbox, if it is still due."""
    return outbox.send(ids=[email_id])


@shared_task
def send_waiting_emails_task() -> dict:
    """Send every email that is due: after a broker outage, a lost task or a retry's wait."""
    return outbox.send()


@shared_task
def compile_digest_task(week: str | None = None) -> str:
    """Compile the digest for an ISO week ("2026-W47"), by default the last complete one. Safe to run twice."""
    target = Week.parse(week) if week else digests.last_complete_week()
    digests.group_campaigns_before(target)
    # A compile under way elsewhere is not waited for: beat asks again, and
    # meanwhile this process takes other work.
    digest = digests.compile_digest(week=target, wait=False)
    return f"{digest}: {digest.status}"


@shared_task
def compile_final_digest_task() -> str:
    """Once the call has closed and its last week ended, compile the final digest. Safe to run twice."""
    if Digest.objects.filter(kind=DigestKind.FINAL, status__in=COMPILED).exists():
        return "compiled already"
    digests.group_campaigns_before(digests.last_complete_week())
    digest = digests.compile_final_digest(wait=False)
    return f"{digest}: {digest.status}" if digest else "the call has not closed, or its last week has not ended"


@shared_task
def send_weekly_emails_task() -> dict:
    """
    Once last week's summary is due: compile its digest if need be, make one
    email per subscriber if absent, then send whatever is waiting. Safe to
    run twice, late, or from two processes at once. While the digest is being
    compiled elsewhere it sends what is waiting and plans nothing: the next
    run does, ten minutes later.
    """
    due = outbox.weekly_week_due()
    digests.group_campaigns_before(due)
    digest = digests.compile_digest(week=due, wait=False)
    if digest.is_compiled:
        outbox.plan_weekly_emails(digest=digest)
    return outbox.send()


@shared_task
def clear_expired_sessions_task() -> None:
    """Delete sessions and saved drafts past their expiry: an abandoned draft holds a name and email address."""
    import_module(settings.SESSION_ENGINE).SessionStore.clear_expired()
    # Answers saved for later, past their 28 days, hold the same.
    resume.forget_expired()


@shared_task
def poll_mailbox_task() -> dict:
    """Store new mail from MAILBOX_URL and move it to Processed. Safe to run twice; the next minute retries."""
    try:
        return mailbox.poll()
    except mailbox.MailboxUnavailable as error:
        logger.warning("Mailbox not read: %s", error)
        return {"error": str(error)}


@shared_task
def train_suggestions_task(element: str | None = None) -> dict:
    """Retrain theme suggestions (one element, or all) and rewrite them for views nobody has coded. Safe to rerun."""
    return suggestions.train_and_suggest([element] if element else None)


@shared_task
def group_campaigns_task() -> dict:
    """Group views that came in since the last run with the near-identical views before them. Safe to rerun."""
    # numpy and rapidfuzz are loaded by the worker that groups, not by every web process that imports the tasks.
    from . import campaigns

    grouped = campaigns.group_new_views()
    return {"fingerprinted": grouped.fingerprinted, "joined": grouped.joined, "campaigns": grouped.campaigns}


@shared_task
def build_export_task(export_id: str) -> str:
    from . import background_exports

    return background_exports.build(export_id)


@shared_task
def sweep_exports_task() -> dict:
    from . import background_exports

    return background_exports.sweep()


@shared_task
def apply_retention_task() -> dict:
    """Remove respondents' personal data once its time is past. Safe to run twice: a second run finds none."""
    removed = retention.apply()
    return removed.counts() if removed else {"due": False}
