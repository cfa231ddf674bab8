"""
The outbox: every email the portal sends is a row here first (feedback/outbox.py sends them).

A row is written, in the same transaction as whatever it is about, before a
task is queued; a sender claims it with a conditional update committed
before SMTP is touched; `key` makes a second planning run, a double click or
a redelivered task a no-op.
"""

from datetime import datetime, timedelta

from django.db import models
from django.db.models import Q
from django.utils import timezone

# A claimed email still "sending" after this long was lost mid-send (a worker
# killed between claiming and finishing). SMTP has no idempotency key, so
# such a row is never resent by itself (at most once): the admin shows it for
# a person to decide.
STUCK_SENDING_AFTER = timedelta(minutes=15)


class EmailKind(models.TextChoices):
    ACKNOWLEDGEMENT = "acknowledgement", "Acknowledgement to a respondent"
    WEEKLY_SUMMARY = "weekly_summary", "Weekly summary"
    PASSWORD_LINK = "password_link", "Link to choose a password"
    ACCOUNT_CHANGE = "account_change", "Account change notice"
    MAIL_REPLY = "mail_reply", "Reply acknowledging a view sent by email"
    EXPORT_READY = "export_ready", "Export ready to download"
    RESUME_LINK = "resume_link", "Link to answers saved for later"
    OUTCOME = "outcome", "What was done with the views (to respondents)"


class EmailStatus(models.TextChoices):
    PENDING = "pending", "Waiting to send"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class OutgoingEmailQuerySet(models.QuerySet):
    def due(self, *, now: datetime) -> "OutgoingEmailQuerySet":
        """Waiting, and its next try has come."""
        return self.filter(status=EmailStatus.PENDING).filter(
            Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
        )

    def failed(self) -> "OutgoingEmailQuerySet":
        return self.filter(status=EmailStatus.FAILED)

    def stuck(self, *, now: datetime) -> "OutgoingEmailQuerySet":
        """Claimed for sending but never finished: a worker died mid-send, so it may or may not have gone."""
        return self.filter(status=EmailStatus.SENDING, claimed_at__lt=now - STUCK_SENDING_AFTER)

    def forget_recipient(self) -> None:
        """Nothing more goes to these emails' recipient: unsent ones are dropped, sent ones keep no address."""
        self.exclude(status=EmailStatus.SENT).delete()
        self.update(recipient="", context={}, last_error="")

    def send_again(self, *, now: datetime) -> int:
        """A person's decision: failed or stuck emails wait again, with a fresh set of attempts."""
        return (self.failed() | self.stuck(now=now)).update(
            status=EmailStatus.PENDING, attempts=0, next_attempt_at=None, claim=None, last_error=""
        )


class OutgoingEmail(models.Model):
    """One email to one person: the unit of work, whatever its kind."""

    kind = models.CharField(max_length=20, choices=EmailKind)
    # One per email, never empty: "ack:<submission>", "weekly:<user>:2026-W47".
    # A second attempt to make the same email finds it made.
    key = models.CharField(max_length=200, unique=True)
    recipient = models.EmailField(max_length=254)
    # What the email is about; which of these are set depends on its kind.
    submission = models.ForeignKey(
        "Submission", null=True, blank=True, on_delete=models.CASCADE, related_name="emails"
    )
    user = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.CASCADE, related_name="emails")
    digest = models.ForeignKey("Digest", null=True, blank=True, on_delete=models.PROTECT, related_name="emails")
    # The email a reply answers (its thread: In-Reply-To and References).
    in_reply_to = models.ForeignKey(
        "InboundMessage", null=True, blank=True, on_delete=models.PROTECT, related_name="replies"
    )
    # Anything else its builder needs (never submitted text).
    context = models.JSONField(default=dict, blank=True)

    status = models.CharField(max_length=10, choices=EmailStatus, default=EmailStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # Which sender holds the row while sending: a batch finds its own rows by it.
    claim = models.UUIDField(null=True, blank=True, editable=False)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    message_id = models.CharField(max_length=255, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = OutgoingEmailQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="outgoing_email_due"),
            models.Index(fields=["kind", "status"], name="outgoing_email_kind_status"),
        ]
        verbose_name = "email"

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.key})"
