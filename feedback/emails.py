"""
Building and sending every email the portal sends.

Each email is three templates, `templates/emails/<name>-subject.txt`,
`<name>-body.txt` and `<name>-body.html`, built into one multipart message by
`_build`. Subjects and recipients never come from submitted text.
"""

import logging
import smtplib
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import mail, signing
from django.core.mail import DNS_NAME, EmailMultiAlternatives, make_msgid
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from .models import AckStatus, Digest, DigestStatus, Element, SendStatus, Submission, Subscription, WeeklySend
from .periods import Week, week_of

logger = logging.getLogger(__name__)

# Minutes to wait after each failed attempt. Together they span more than a
# day, so an SMTP outage of a day delays an acknowledgement but never loses it.
RETRY_BACKOFF_MINUTES = [1, 5, 15, 30, 60, 120, 240, 360]


UNSUBSCRIBE_SALT = "feedback.weekly-summary.unsubscribe"
WEEKLY_QUOTES = 3


class PermanentEmailError(Exception):
    """The mail server refused the message for good (a 5xx reply)."""


def _render(name: str, context: dict) -> tuple[str, str, str]:
    """An email's subject, text body and HTML body from its three templates."""
    context = {"site_url": settings.SITE_URL, **context}
    subject = render_to_string(f"emails/{name}-subject.txt", context)
    # A subject is one line, whatever the template's whitespace.
    subject = " ".join(subject.split())
    return (
        subject,
        render_to_string(f"emails/{name}-body.txt", context),
        render_to_string(f"emails/{name}-body.html", context),
    )


def _build(name: str, context: dict, *, to: list[str], headers: dict | None = None) -> EmailMultiAlternatives:
    return _message(*_render(name, context), to=to, headers=headers)


def _message(
    subject: str, text: str, html: str, *, to: list[str], headers: dict | None = None
) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=to,
        headers={"Message-ID": make_msgid(domain=DNS_NAME), **(headers or {})},
    )
    message.attach_alternative(html, "text/html")
    return message


def _send(message: EmailMultiAlternatives, *, connection=None) -> None:
    """Send one message (over `connection` if given), sorting failures into transient (raised as is) and permanent."""
    try:
        if connection is not None:
            connection.send_messages([message])
        else:
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


def build_password_link(user, *, link: str, new_account: bool) -> EmailMultiAlternatives:
    """A staff member's link to choose a password: for a new account, or a reset an administrator sent."""
    context = {
        "username": user.get_username(),
        "link": link,
        "new_account": new_account,
        "valid_days": settings.PASSWORD_RESET_TIMEOUT // (24 * 60 * 60),
        "contact_email": settings.QIPP_CONTACT_EMAIL,
    }
    return _build("password-link", context, to=[user.email])


def build_account_change(user, *, change: str, at: datetime) -> EmailMultiAlternatives:
    """Tells a staff member their password or two-factor set-up changed, so that a change they did not make is seen."""
    context = {
        "username": user.get_username(),
        "change": change,
        "at": timezone.localtime(at),
        "contact_email": settings.QIPP_CONTACT_EMAIL,
    }
    return _build("account-change", context, to=[user.email])


def send_account_email(message: EmailMultiAlternatives) -> bool:
    """
    Send an email about a staff account now, while the person who caused it
    waits. Returns whether it went; a failure is logged without the address.
    """
    try:
        _send(message)
    except (OSError, smtplib.SMTPException, PermanentEmailError):
        logger.warning("An email about a staff account could not be sent", exc_info=True)
        return False
    return True


def retry_backoff(attempts: int) -> timedelta:
    """How long to wait before trying again after `attempts` failed tries."""
    index = min(max(attempts, 1), len(RETRY_BACKOFF_MINUTES)) - 1
    return timedelta(minutes=RETRY_BACKOFF_MINUTES[index])


# Pauses, in seconds, while recording what happened to an email whose SMTP
# exchange is over. About a minute in all: long enough for a database restart
# or failover, short against the task's time limit.
RECORD_RETRY_PAUSES = [0.5, 1, 2, 4, 8, 15, 30]


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
    if submission is None:
        return "skipped"
    try:
        claimed = submission.claim_acknowledgement(now=now)
    except DatabaseError:
        # The claim may have committed just as the database went away: hand
        # it back (nothing was sent), so the sweeper tries again.
        _record(
            lambda: Submission.objects.filter(
                pk=submission.pk, ack_status=AckStatus.SENDING, ack_claimed_at=now
            ).update(ack_status=AckStatus.PENDING, ack_attempts=F("ack_attempts") - 1)
        )
        raise
    if not claimed:
        return "skipped"

    try:
        message = build_acknowledgement(submission)
        _send(message)
    except PermanentEmailError as error:
        _record_failure(submission, error, permanent=True, now=now)
        return "failed"
    except OSError as error:  # smtplib's errors, refused connections and timeouts
        return _record_failure(submission, error, permanent=False, now=now)

    sent_at = timezone.now()
    _record(
        lambda: Submission.objects.filter(pk=submission.pk, ack_status=AckStatus.SENDING).update(
            ack_status=AckStatus.SENT,
            ack_sent_at=sent_at,
            ack_message_id=message.extra_headers["Message-ID"],
            ack_last_error="",
            ack_next_attempt_at=None,
        )
    )
    logger.info("Sent acknowledgement for submission %s", submission.reference)
    return "sent"


def _record_failure(submission: Submission, error: Exception, *, permanent: bool, now: datetime) -> str:
    give_up = permanent or submission.ack_attempts >= settings.QIPP_EMAIL_MAX_ATTEMPTS
    detail = f"{type(error).__name__}: {error}"[:1000]
    _record(
        lambda: Submission.objects.filter(pk=submission.pk, ack_status=AckStatus.SENDING).update(
            ack_status=AckStatus.FAILED if give_up else AckStatus.PENDING,
            ack_next_attempt_at=None if give_up else now + retry_backoff(submission.ack_attempts),
            ack_last_error=detail,
        )
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


# --- The weekly summary ------------------------------------------------------


def weekly_week_due(*, now: datetime | None = None) -> Week:
    """The most recent week whose summary is due by `now`: only it is ever caught up after an outage."""
    last = week_of(now or timezone.now()).previous()
    if (now or timezone.now()) >= last.end + settings.QIPP_WEEKLY_EMAIL_AFTER:
        return last
    return last.previous()


def plan_weekly_emails(*, week: Week) -> int:
    """Make one send row per active subscriber for `week`, if absent. Returns how many were made."""
    subscribers = Subscription.objects.receiving().values_list("user_id", flat=True)
    before = WeeklySend.objects.filter(period_start=week.start).count()
    WeeklySend.objects.bulk_create(
        (WeeklySend(user_id=user_id, period_start=week.start) for user_id in subscribers.iterator()),
        ignore_conflicts=True,
        batch_size=1000,
    )
    return WeeklySend.objects.filter(period_start=week.start).count() - before


def unsubscribe_token(user) -> str:
    return signing.Signer(salt=UNSUBSCRIBE_SALT).sign_object({"user": user.pk})


def user_for_unsubscribe_token(token: str):
    """The account an unsubscribe link is for; BadSignature if the link was not made by us."""
    data = signing.Signer(salt=UNSUBSCRIBE_SALT).unsign_object(token)
    return get_user_model().objects.get(pk=data["user"])


def _absolute(path: str) -> str:
    return settings.SITE_URL + path


def weekly_summary_context(*, digest: Digest, codes: list[str], unsubscribe_url: str) -> dict:
    """What a summary says to subscribers of these elements, from the frozen digest."""
    content = digest.content
    changelist = reverse("admin:feedback_submission_changelist")

    def admin_link(**filters: str) -> str:
        return _absolute(f"{changelist}?{urlencode({'digest': digest.pk, **filters})}")

    elements = []
    for element in content["elements"]:
        if element["code"] not in codes:
            continue
        elements.append(
            {
                **element,
                "url": admin_link(element=element["code"]),
                "levels": [
                    {**level, "url": admin_link(element=element["code"], level=level["code"])}
                    for level in element["levels"]
                ],
                "top_themes": element["themes"][:3],
            }
        )
    quotes = [{**quote, "element": element["label"]} for element in elements for quote in element["quotes"]][
        :WEEKLY_QUOTES
    ]
    return {
        "week": content["period"]["label"],
        "digest": digest,
        "digest_title": str(digest),
        "approved": digest.status == DigestStatus.APPROVED,
        "digest_url": _absolute(reverse("admin:feedback_digest_read", args=[digest.pk])),
        "headline": content["headline"],
        "elements": elements,
        "nothing_new": not any(element["submissions"] for element in elements),
        "quotes": quotes,
        "all_elements": len(codes) == len(Element.values),
        "unsubscribe_url": unsubscribe_url,
        "preferences_url": _absolute(reverse("weekly_subscription")),
    }


# Stands in for each subscriber's own unsubscribe link in a summary rendered
# once for everyone who follows the same elements.
UNSUBSCRIBE_PLACEHOLDER = "UNSUBSCRIBE-LINK-PLACEHOLDER"


def build_weekly_summary(
    *, user, digest: Digest, subscription: Subscription | None, rendered: dict | None = None
) -> EmailMultiAlternatives:
    """
    One subscriber's weekly summary. Everyone following the same elements
    reads the same words, so `rendered` (a dict kept for a batch) holds each
    audience's rendering and only the unsubscribe link is filled in per person.
    """
    codes = subscription.element_codes if subscription else list(Element.values)
    rendered = {} if rendered is None else rendered
    key = (digest.pk, tuple(codes))
    if key not in rendered:
        context = weekly_summary_context(digest=digest, codes=codes, unsubscribe_url=UNSUBSCRIBE_PLACEHOLDER)
        rendered[key] = _render("weekly-summary", {**context, "subject_prefix": settings.QIPP_WEEKLY_EMAIL_SUBJECT})
    unsubscribe_url = _absolute(reverse("weekly_unsubscribe", args=[unsubscribe_token(user)]))
    subject, text, html = (part.replace(UNSUBSCRIBE_PLACEHOLDER, unsubscribe_url) for part in rendered[key])
    return _message(
        subject,
        text,
        html,
        to=[user.email],
        headers={"List-Unsubscribe": f"<{unsubscribe_url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
    )


def send_weekly_emails(*, now: datetime | None = None, batch_size: int | None = None) -> dict[str, int]:
    """
    Send every weekly summary that is due, a batch at a time over one SMTP
    connection each. Safe to run from several processes at once: a batch is
    claimed (pending -> sending, committed before SMTP) under a claim id, and
    only the claimer sends it. Returns counts by outcome.
    """
    now = now or timezone.now()
    outcomes = {"sent": 0, "retry": 0, "failed": 0, "skipped": 0}
    while batch := _claim_weekly_batch(now=now, size=batch_size or settings.QIPP_WEEKLY_EMAIL_BATCH):
        for outcome, count in _send_weekly_batch(batch, now=now).items():
            outcomes[outcome] += count
    return outcomes


def _claim_weekly_batch(*, now: datetime, size: int) -> list[WeeklySend]:
    candidates = list(WeeklySend.objects.due(now=now).order_by("pk").values_list("pk", flat=True)[:size])
    if not candidates:
        return []
    claim = uuid.uuid4()
    try:
        # Claimed and read back in one transaction: a database lost in between
        # leaves the rows waiting, not "sending" with nothing sent.
        with transaction.atomic():
            WeeklySend.objects.due(now=now).filter(pk__in=candidates).update(
                status=SendStatus.SENDING, claim=claim, claimed_at=now, attempts=F("attempts") + 1
            )
            return list(WeeklySend.objects.filter(claim=claim, status=SendStatus.SENDING).select_related("user"))
    except DatabaseError:
        # The claim may have committed just as the database went away.
        _release_weekly(WeeklySend.objects.filter(claim=claim))
        raise


def _release_weekly(rows) -> None:
    """Put claimed rows that were never sent back to waiting, their attempt uncounted."""
    _record(
        lambda: rows.filter(status=SendStatus.SENDING).update(
            status=SendStatus.PENDING, claim=None, attempts=F("attempts") - 1
        )
    )


def _send_weekly_batch(batch: list[WeeklySend], *, now: datetime) -> dict[str, int]:
    tried: set[int] = set()
    try:
        return _send_weekly_rows(batch, tried=tried, now=now)
    except Exception:
        # Whatever stopped the batch (the database going away, a bug), its rows
        # that never reached the mail server wait again instead of sitting
        # "sending" for a person, with nothing sent.
        untried = [row.pk for row in batch if row.pk not in tried]
        _release_weekly(WeeklySend.objects.filter(pk__in=untried, claim=batch[0].claim))
        raise


def _send_weekly_rows(batch: list[WeeklySend], *, tried: set[int], now: datetime) -> dict[str, int]:
    outcomes = {"sent": 0, "retry": 0, "failed": 0, "skipped": 0}
    digests = {
        digest.period_start: digest
        for digest in Digest.objects.compiled().filter(period_start__in={row.period_start for row in batch})
    }
    # Checked again as each email goes: unsubscribing, or losing the right to
    # read digests, after the row was made stops the email.
    subscriptions = {
        s.user_id: s for s in Subscription.objects.receiving().filter(user_id__in=[row.user_id for row in batch])
    }
    rendered: dict = {}
    connection = mail.mailers["default"]
    try:
        connection.open()
    except OSError as error:  # the mail server is down: every row waits and tries again later
        for row in batch:
            outcomes[_weekly_failure(row, error, permanent=False, now=now)] += 1
        return outcomes
    try:
        for row in batch:
            subscription = subscriptions.get(row.user_id)
            if subscription is None:
                # Nothing is sent, and the row goes, so subscribing again (or
                # being given back the permission) later in the week brings it back.
                _record(WeeklySend.objects.filter(pk=row.pk, claim=row.claim).delete)
                outcomes["skipped"] += 1
                continue
            digest = digests.get(row.period_start)
            if digest is None:
                outcomes[
                    _weekly_failure(row, RuntimeError("the week's digest is not compiled"), permanent=False, now=now)
                ] += 1
                continue
            message = build_weekly_summary(user=row.user, digest=digest, subscription=subscription, rendered=rendered)
            tried.add(row.pk)
            try:
                _send(message, connection=connection)
            except PermanentEmailError as error:
                outcomes[_weekly_failure(row, error, permanent=True, now=now)] += 1
                continue
            except OSError as error:
                outcomes[_weekly_failure(row, error, permanent=False, now=now)] += 1
                continue
            sent = WeeklySend.objects.filter(pk=row.pk, claim=row.claim, status=SendStatus.SENDING)
            _record(
                partial(
                    sent.update,
                    status=SendStatus.SENT,
                    sent_at=timezone.now(),
                    message_id=message.extra_headers["Message-ID"],
                    last_error="",
                    next_attempt_at=None,
                )
            )
            outcomes["sent"] += 1
    finally:
        connection.close()
    return outcomes


def _weekly_failure(row: WeeklySend, error: Exception, *, permanent: bool, now: datetime) -> str:
    give_up = permanent or row.attempts >= settings.QIPP_EMAIL_MAX_ATTEMPTS
    _record(
        lambda: WeeklySend.objects.filter(pk=row.pk, claim=row.claim, status=SendStatus.SENDING).update(
            status=SendStatus.FAILED if give_up else SendStatus.PENDING,
            next_attempt_at=None if give_up else now + retry_backoff(row.attempts),
            last_error=f"{type(error).__name__}: {error}"[:1000],
        )
    )
    logger.warning("Weekly summary %s %s: %s", row.pk, "failed" if give_up else "will be retried", error)
    return "failed" if give_up else "retry"
