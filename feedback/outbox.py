"""
The outbox: making and sending every email, whatever its kind.

An email is a row (`OutgoingEmail`) before anything else happens, written in
the transaction of whatever it is about; once that commits a task is queued,
but the row, not the task, is the work. Sending claims a batch of due rows
(pending -> sending, counting the attempt, committed before SMTP is
touched), sends them over one SMTP connection, and records each outcome.
Safe to run twice and from several processes: only the claimer of a row
sends it.

- A mail server that is down, or a transient refusal, puts the row back to
  waiting with a backoff spanning more than a day; a permanent refusal, or
  too many attempts, marks it failed for a person to see.
- SMTP has no idempotency key. A worker that dies between the server's "250
  OK" and recording it leaves the row "sending": it is never sent again by
  itself (at most once), and the admin lists it with "send again". So does a
  connection lost, or a reply that never comes, after the whole message went
  out (the server may have it): the rest of that batch waits again.
- Rows a batch claimed but never tried (the database went away, a bug) go
  back to waiting, their attempt uncounted.

Adding a kind of email: a template triple in templates/emails/, a builder in
emails.py (listed in `emails.BUILDERS`), and an `enqueue` call here.
"""

import logging
import smtplib
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.core import mail
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from django.db.models import F
from django.utils import timezone

from . import doorbell, emails
from .models import EmailKind, EmailStatus, OutgoingEmail, Submission, Subscription
from .periods import Week, week_of

logger = logging.getLogger(__name__)

SEND_TASK = "feedback.tasks.send_email_task"

# Minutes to wait after each failed attempt. Together they span more than a
# day, so an SMTP outage of a day delays an email but never loses it.
RETRY_BACKOFF_MINUTES = [1, 5, 15, 30, 60, 120, 240, 360]

# Pauses, in seconds, while recording what happened to an email whose SMTP
# exchange is over. About a minute in all: long enough for a database restart
# or failover, short against the task's time limit.
RECORD_RETRY_PAUSES = [0.5, 1, 2, 4, 8, 15, 30]


class PermanentEmailError(Exception):
    """The mail server refused the message for good (a 5xx reply)."""


class OutcomeUnknown(Exception):
    """The whole message went out, then the connection failed before the server's reply: it may have it."""


# --- Making emails -----------------------------------------------------------


def enqueue(kind: EmailKind, *, key: str, recipient: str, **about) -> OutgoingEmail | None:
    """
    Write an email to send, once per `key`, and queue its sending after the
    current transaction commits. Returns the row, or None if `key` was used
    already (the email exists: a second run makes nothing).
    """
    with transaction.atomic():
        email, created = OutgoingEmail.objects.get_or_create(
            key=key, defaults={"kind": kind, "recipient": recipient, **about}
        )
    if not created:
        return None
    doorbell.ring_on_commit(SEND_TASK, email.pk)
    return email


def enqueue_acknowledgement(submission: Submission) -> OutgoingEmail | None:
    """
    The receipt for a submission that gave an email address, made in the
    transaction that saved the submission: only then, so its key is free, and
    the one INSERT costs the form as little as it can.
    """
    if not submission.email:
        return None
    email = OutgoingEmail.objects.create(
        kind=EmailKind.ACKNOWLEDGEMENT, key=f"ack:{submission.pk}", recipient=submission.email, submission=submission
    )
    doorbell.ring_on_commit(SEND_TASK, email.pk)
    return email


def enqueue_password_link(user, *, new_account: bool = False) -> OutgoingEmail | None:
    """A link for a staff member to choose their password. Every request is an email of its own."""
    return enqueue(
        EmailKind.PASSWORD_LINK,
        key=f"password:{user.pk}:{uuid.uuid4()}",
        recipient=user.email,
        user=user,
        context={"new_account": new_account},
    )


def enqueue_account_change(user, *, change: str) -> OutgoingEmail | None:
    """Tell a staff member their password or two-factor set-up changed."""
    now = timezone.now()
    return enqueue(
        EmailKind.ACCOUNT_CHANGE,
        key=f"account:{user.pk}:{uuid.uuid4()}",
        recipient=user.email,
        user=user,
        context={"change": change, "at": now.isoformat()},
    )


def weekly_week_due(*, now: datetime | None = None) -> Week:
    """The most recent week whose summary is due by `now`: only it is ever caught up after an outage."""
    now = now or timezone.now()
    last = week_of(now).previous()
    if now >= last.end + settings.QIPP_WEEKLY_EMAIL_AFTER:
        return last
    return last.previous()


def plan_weekly_emails(*, digest) -> int:
    """Make one weekly summary per subscriber for the digest's week, if absent. Returns how many were made."""
    label = week_of(digest.period_start).label
    subscribers = Subscription.objects.receiving().values_list("user_id", "user__email")
    planned = OutgoingEmail.objects.filter(kind=EmailKind.WEEKLY_SUMMARY, digest=digest)
    before = planned.count()
    OutgoingEmail.objects.bulk_create(
        (
            OutgoingEmail(
                kind=EmailKind.WEEKLY_SUMMARY,
                key=f"weekly:{user_id}:{label}",
                recipient=address,
                user_id=user_id,
                digest=digest,
            )
            for user_id, address in subscribers.iterator()
        ),
        ignore_conflicts=True,
        batch_size=1000,
    )
    return planned.count() - before


# --- Sending -----------------------------------------------------------------


def retry_backoff(attempts: int) -> timedelta:
    """How long to wait before trying again after `attempts` failed tries."""
    index = min(max(attempts, 1), len(RETRY_BACKOFF_MINUTES)) - 1
    return timedelta(minutes=RETRY_BACKOFF_MINUTES[index])


def send(*, ids: list[int] | None = None, now: datetime | None = None, batch_size: int | None = None) -> dict:
    """
    Send every email that is due (or, given `ids`, those of them that are
    due), a batch at a time over one SMTP connection each. Returns counts by
    outcome: sent, retry, failed, skipped (no longer wanted) and unknown
    (left "sending": the server may have it).
    """
    now = now or timezone.now()
    size = batch_size or settings.QIPP_EMAIL_BATCH
    outcomes = {"sent": 0, "retry": 0, "failed": 0, "skipped": 0, "unknown": 0}
    while batch := _claim(now=now, size=size, ids=ids):
        for outcome, count in _send_batch(batch, now=now).items():
            outcomes[outcome] += count
        if outcomes["unknown"]:
            break  # the mail server went quiet mid-message: the rest waits for the next run
    return outcomes


def _claim(*, now: datetime, size: int, ids: list[int] | None) -> list[OutgoingEmail]:
    due = OutgoingEmail.objects.due(now=now)
    if ids is not None:
        due = due.filter(pk__in=ids)
    candidates = list(due.order_by("pk").values_list("pk", flat=True)[:size])
    if not candidates:
        return []
    claim = uuid.uuid4()
    try:
        # Claimed and read back in one transaction: a database lost in between
        # leaves the rows waiting, not "sending" with nothing sent.
        with transaction.atomic():
            OutgoingEmail.objects.due(now=now).filter(pk__in=candidates).update(
                status=EmailStatus.SENDING, claim=claim, claimed_at=now, attempts=F("attempts") + 1
            )
            return list(
                OutgoingEmail.objects.filter(claim=claim, status=EmailStatus.SENDING)
                .select_related("user", "submission")
                .prefetch_related("submission__views")
                .order_by("pk")
            )
    except DatabaseError:
        # The claim may have committed just as the database went away.
        _release(OutgoingEmail.objects.filter(claim=claim))
        raise


def _release(rows) -> None:
    """Put claimed rows that were never sent back to waiting, their attempt uncounted."""
    _record(
        lambda: rows.filter(status=EmailStatus.SENDING).update(
            status=EmailStatus.PENDING, claim=None, attempts=F("attempts") - 1
        )
    )


def _send_batch(batch: list[OutgoingEmail], *, now: datetime) -> dict[str, int]:
    tried: set[int] = set()
    try:
        return _send_rows(batch, tried=tried, now=now)
    except Exception:
        # Whatever stopped the batch (the database going away, a bug), its rows
        # that never reached the mail server wait again instead of sitting
        # "sending" for a person, with nothing sent.
        untried = [row.pk for row in batch if row.pk not in tried]
        _release(OutgoingEmail.objects.filter(pk__in=untried, claim=batch[0].claim))
        raise


def _send_rows(batch: list[OutgoingEmail], *, tried: set[int], now: datetime) -> dict[str, int]:
    outcomes = {"sent": 0, "retry": 0, "failed": 0, "skipped": 0, "unknown": 0}
    shared: dict = {"batch": batch}
    smtp = mail.mailers["default"]
    try:
        smtp.open()
    except OSError as error:  # the mail server is down: every row waits and tries again later
        for row in batch:
            outcomes[_failure(row, error, permanent=False, now=now)] += 1
        return outcomes
    try:
        for row in batch:
            try:
                message = emails.BUILDERS[row.kind](row, shared)
            except emails.NotReady as error:
                outcomes[_failure(row, error, permanent=False, now=now)] += 1
                continue
            if message is None:
                # No longer wanted: nothing is sent, and the row goes, so the
                # same email can be made again later (a subscriber who resubscribes).
                _record(OutgoingEmail.objects.filter(pk=row.pk, claim=row.claim).delete)
                outcomes["skipped"] += 1
                continue
            tried.add(row.pk)
            try:
                _deliver(message, smtp)
            except PermanentEmailError as error:
                outcomes[_failure(row, error, permanent=True, now=now)] += 1
                continue
            except OutcomeUnknown as error:
                _unknown(row, error)
                outcomes["unknown"] += 1
                # The connection is gone: the rest of the batch waits again, untried.
                untried = [other.pk for other in batch if other.pk not in tried]
                _release(OutgoingEmail.objects.filter(pk__in=untried, claim=row.claim))
                break
            except OSError as error:  # smtplib's errors, refused connections and timeouts
                outcomes[_failure(row, error, permanent=False, now=now)] += 1
                continue
            _record(
                lambda row=row, message=message: OutgoingEmail.objects.filter(
                    pk=row.pk, claim=row.claim, status=EmailStatus.SENDING
                ).update(
                    status=EmailStatus.SENT,
                    sent_at=timezone.now(),
                    message_id=message.extra_headers["Message-ID"],
                    last_error="",
                    next_attempt_at=None,
                )
            )
            logger.info("Sent %s", row.key)
            outcomes["sent"] += 1
    finally:
        smtp.close()
    return outcomes


def _deliver(message, smtp) -> None:
    """Send one message, sorting failures into transient (raised as they are), permanent and unknown."""
    try:
        smtp.send_messages([message])
    except smtplib.SMTPRecipientsRefused as error:
        raise PermanentEmailError(str(error)) from error
    except smtplib.SMTPResponseException as error:
        if 500 <= error.smtp_code < 600:
            raise PermanentEmailError(f"{error.smtp_code} {error.smtp_error!r}") from error
        raise
    except OSError as error:
        if getattr(smtp, "message_sent", False):
            raise OutcomeUnknown(f"{type(error).__name__}: {error}") from error
        raise


def _unknown(row: OutgoingEmail, error: OutcomeUnknown) -> None:
    """Leave the row "sending", saying why, for a person to check and send again."""
    detail = (
        f"Sent, but the mail server's reply never came ({error}): the server may have it. Check before sending again."
    )
    _record(
        lambda: OutgoingEmail.objects.filter(pk=row.pk, claim=row.claim, status=EmailStatus.SENDING).update(
            last_error=detail[:1000]
        )
    )
    logger.error("%s may or may not have been sent: left for a person to check (%s)", row.key, error)


def _failure(row: OutgoingEmail, error: Exception, *, permanent: bool, now: datetime) -> str:
    give_up = permanent or row.attempts >= settings.QIPP_EMAIL_MAX_ATTEMPTS
    detail = f"{type(error).__name__}: {error}"[:1000]
    _record(
        lambda: OutgoingEmail.objects.filter(pk=row.pk, claim=row.claim, status=EmailStatus.SENDING).update(
            status=EmailStatus.FAILED if give_up else EmailStatus.PENDING,
            next_attempt_at=None if give_up else now + retry_backoff(row.attempts),
            last_error=detail,
        )
    )
    # The key names the row without putting personal data in logs.
    logger.warning(
        "%s %s after attempt %d: %s", row.key, "failed" if give_up else "will be retried", row.attempts, detail
    )
    return "failed" if give_up else "retry"


def _record[T](write: Callable[[], T]) -> T:
    """
    Run `write`, a database write that records an SMTP exchange that already
    happened, riding out a database that is briefly unreachable. The email
    cannot be taken back: a row left "sending" because PostgreSQL restarted
    at that moment would wait for a person, its email never sent again.
    """
    for pause in RECORD_RETRY_PAUSES:
        try:
            return write()
        except (OperationalError, InterfaceError):
            if connection.in_atomic_block:
                raise
            logger.warning("Could not record an email's outcome: the database is unreachable; trying again")
            connection.close()
            time.sleep(pause)
    return write()
