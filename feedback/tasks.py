"""
Celery tasks: thin wrappers that take ids, call one function, and are safe to
run twice. PostgreSQL holds the state of the work; a task is only a doorbell.
"""

import logging
import time
from importlib import import_module

from celery import Task, shared_task
from django.conf import settings
from django.db import transaction

from . import digests, emails
from .periods import Week

logger = logging.getLogger(__name__)

# After the broker fails to take a message, requests stop trying for a while:
# the sweeper rings the doorbell again later, and respondents are not kept
# waiting on a broker that is down.
BROKER_PAUSE_SECONDS = 30
_broker_paused_until = 0.0


def enqueue_on_commit(task: Task, *args) -> None:
    """Queue `task` once the current transaction commits, never failing the caller."""
    transaction.on_commit(lambda: _publish(task, *args), robust=True)


def _publish(task: Task, *args) -> None:
    global _broker_paused_until
    if time.monotonic() < _broker_paused_until:
        return
    try:
        task.apply_async(args=args)
    except Exception:
        _broker_paused_until = time.monotonic() + BROKER_PAUSE_SECONDS
        logger.warning("Could not queue %s; the sweeper will queue it later", task.name, exc_info=True)


@shared_task
def send_acknowledgement_task(submission_id: int) -> str:
    """Send the acknowledgement email for one submission, if it is still due."""
    return emails.send_acknowledgement(submission_id=submission_id)


@shared_task
def sweep_acknowledgements_task() -> int:
    """Queue every acknowledgement that is due: after a broker outage, a lost task or an SMTP retry delay."""
    due = emails.due_acknowledgements()
    for submission_id in due:
        send_acknowledgement_task.delay(submission_id)
    return len(due)


@shared_task
def compile_digest_task(week: str | None = None) -> str:
    """Compile the digest for an ISO week ("2026-W47"), by default the last complete one. Safe to run twice."""
    target = Week.parse(week) if week else digests.last_complete_week()
    digest = digests.compile_digest(week=target)
    return f"{digest}: {digest.status}"


@shared_task
def send_weekly_emails_task() -> dict:
    """
    Once last week's summary is due: compile its digest if need be, make one
    send row per subscriber if absent, then send whatever is waiting. Safe to
    run twice, late, or from two processes at once.
    """
    week = emails.weekly_week_due()
    if digests.compile_digest(week=week).is_compiled:
        emails.plan_weekly_emails(week=week)
    return emails.send_weekly_emails()


@shared_task
def clear_expired_sessions_task() -> None:
    """Delete sessions past their expiry: an abandoned draft holds a respondent's name and email address."""
    import_module(settings.SESSION_ENGINE).SessionStore.clear_expired()
