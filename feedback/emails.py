"""
Building and sending every email the portal sends.

Each email is three templates, `templates/emails/<name>-subject.txt`,
`<name>-body.txt` and `<name>-body.html`, built into one multipart message by
`_build`. Subjects and recipients never come from submitted text.
"""

import logging
import smtplib
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import DNS_NAME, EmailMultiAlternatives, make_msgid
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from .models import AckStatus, Submission

logger = logging.getLogger(__name__)

# Minutes to wait after each failed attempt. Together they span more than a
# day, so an SMTP outage of a day delays an acknowledgement but never loses it.
ACK_BACKOFF_MINUTES = [1, 5, 15, 30, 60, 120, 240, 360]


class PermanentEmailError(Exception):
    """The mail server refused the message for good (a 5xx reply)."""


def _build(name: str, context: dict, *, to: list[str], headers: dict | None = None) -> EmailMultiAlternatives:
    context = {"site_url": settings.SITE_URL, **context}
    subject = render_to_string(f"emails/{name}-subject.txt", context)
    # A subject is one line, whatever the template's whitespace.
    subject = " ".join(subject.split())
    text = render_to_string(f"emails/{name}-body.txt", context)
    html = render_to_string(f"emails/{name}-body.html", context)
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=to,
        headers={"Message-ID": make_msgid(domain=DNS_NAME), **(headers or {})},
    )
    message.attach_alternative(html, "text/html")
    return message


def _send(message: EmailMultiAlternatives) -> None:
    """Send one message, sorting failures into transient (raised as is) and permanent."""
    try:
        message.send(using="default")
    except smtplib.SMTPRecipientsRefused as error:
        raise PermanentEmailError(str(error)) from error
    except smtplib.SMTPResponseException as error:
        if 500 <= error.smtp_code < 600:
            raise PermanentEmailError(f"{error.smtp_code} {error.smtp_error!r}") from error
        raise


def build_acknowledgement(submission: Submission) -> EmailMultiAlternatives:
    """The receipt for a respondent: reference, date and elements answered, never their own words."""
    context = {
        "reference": submission.reference,
        "received_at": submission.received_at,
        "elements": submission.elements,
        "start_url": settings.SITE_URL + reverse("start"),
    }
    return _build("acknowledgement", context, to=[submission.email])


def acknowledgement_backoff(attempts: int) -> timedelta:
    """How long to wait before trying again after `attempts` failed tries."""
    index = min(max(attempts, 1), len(ACK_BACKOFF_MINUTES)) - 1
    return timedelta(minutes=ACK_BACKOFF_MINUTES[index])


def send_acknowledgement(*, submission_id: int, now: datetime | None = None) -> str:
    """
    Send a submission's acknowledgement email if it is due, exactly once.

    Safe to call any number of times, from any number of workers: the row is
    claimed with a conditional update (pending -> sending) committed before
    SMTP is touched, and only the claimer sends. Returns what happened:
    "sent", "retry", "failed" or "skipped".
    """
    now = now or timezone.now()
    submission = Submission.objects.filter(pk=submission_id).prefetch_related("views").first()
    if submission is None or not submission.claim_acknowledgement(now=now):
        return "skipped"

    try:
        message = build_acknowledgement(submission)
        _send(message)
    except PermanentEmailError as error:
        _record_failure(submission, error, permanent=True, now=now)
        return "failed"
    except OSError as error:  # smtplib's errors, refused connections and timeouts
        return _record_failure(submission, error, permanent=False, now=now)

    Submission.objects.filter(pk=submission.pk, ack_status=AckStatus.SENDING).update(
        ack_status=AckStatus.SENT,
        ack_sent_at=timezone.now(),
        ack_message_id=message.extra_headers["Message-ID"],
        ack_last_error="",
        ack_next_attempt_at=None,
    )
    logger.info("Sent acknowledgement for submission %s", submission.reference)
    return "sent"


def _record_failure(submission: Submission, error: Exception, *, permanent: bool, now: datetime) -> str:
    give_up = permanent or submission.ack_attempts >= settings.QIPP_ACK_MAX_ATTEMPTS
    detail = f"{type(error).__name__}: {error}"[:1000]
    Submission.objects.filter(pk=submission.pk, ack_status=AckStatus.SENDING).update(
        ack_status=AckStatus.FAILED if give_up else AckStatus.PENDING,
        ack_next_attempt_at=None if give_up else now + acknowledgement_backoff(submission.ack_attempts),
        ack_last_error=detail,
    )
    # The reference identifies the row without putting personal data in logs.
    logger.warning(
        "Acknowledgement for %s %s after attempt %d: %s",
        submission.reference,
        "failed" if give_up else "will be retried",
        submission.ack_attempts,
        detail,
    )
    return "failed" if give_up else "retry"


def due_acknowledgements(*, now: datetime | None = None, limit: int = 500) -> list[int]:
    """Ids of submissions whose acknowledgement should be tried now, oldest first."""
    now = now or timezone.now()
    return list(
        Submission.objects.awaiting_acknowledgement(now=now)
        .order_by("received_at")
        .values_list("pk", flat=True)[:limit]
    )
