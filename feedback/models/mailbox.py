"""
Mail that came in: each message kept whole, its attachments, and where the mailbox poll stands.

A message is stored before anything else happens to it (feedback/mail.py reads
it, feedback/mailbox.py fetches it), so a parser bug or a crash never loses
one. A reviewer then sorts it into a submission, or marks it as not a view or
a duplicate; nothing is deleted.
"""

from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone


class MessageStatus(models.TextChoices):
    TO_SORT = "to_sort", "Waiting to be sorted"
    SORTED = "sorted", "Sorted into views"
    NOT_A_VIEW = "not_a_view", "Not a view"
    DUPLICATE = "duplicate", "Duplicate"
    # Automatic mail (auto-replies, bounces, list mail): never a view, never answered.
    IGNORED = "ignored", "Ignored (automatic mail)"
    # The parser could not read it: kept whole with the error, for a person to look at.
    QUARANTINED = "quarantined", "Quarantined (could not be read)"


class MessageOrigin(models.TextChoices):
    MAILBOX = "mailbox", "The mailbox"
    BACKLOG = "backlog", "Imported backlog"


class MessageAlreadySorted(Exception):
    """Someone else sorted the message first (or it is not waiting to be sorted)."""


class InboundMessageQuerySet(models.QuerySet):
    def to_sort(self) -> "InboundMessageQuerySet":
        return self.filter(status=MessageStatus.TO_SORT)

    def next_to_sort(self) -> "InboundMessage | None":
        """The oldest message waiting to be sorted: the queue is worked oldest first."""
        return self.to_sort().order_by("arrived_at", "pk").defer("raw").first()

    def empty(self) -> int:
        """
        Keep no words, sender or attachments of these messages (a withdrawal,
        an erasure). Each keeps its key, so the mailbox never takes it in again.
        """
        Attachment.objects.filter(message__in=self).delete()
        return self.update(raw=b"", size=0, sender_name="", sender_email="", subject="", references="", text="")


class InboundMessage(models.Model):
    """One email as it arrived, kept whole, and what was made of it."""

    # "mid:<Message-ID>", or "sha256:<hash of the raw message>" when it has
    # none: the same message read twice (a re-poll, a backlog imported again)
    # finds its row.
    dedup_key = models.CharField(max_length=300, unique=True, editable=False)
    message_id = models.CharField(max_length=998, blank=True, editable=False)
    # The message exactly as it arrived, so nothing is ever lost to a parser bug.
    raw = models.BinaryField(editable=False)
    size = models.PositiveIntegerField(editable=False)
    origin = models.CharField(max_length=10, choices=MessageOrigin, editable=False)
    # When the mailbox received it (IMAP's INTERNALDATE; for a backlog, the
    # newest Received header), and the Date header clamped to no later than that.
    arrived_at = models.DateTimeField(editable=False)
    sent_at = models.DateTimeField(editable=False)
    stored_at = models.DateTimeField(default=timezone.now, editable=False)

    # Personal data, shown only to those allowed to see respondents' details.
    sender_name = models.CharField(max_length=200, blank=True, editable=False)
    sender_email = models.CharField(max_length=254, blank=True, editable=False)
    subject = models.CharField(max_length=500, blank=True, editable=False)
    references = models.TextField(blank=True, editable=False)
    # The body as plain text (an HTML-only message is turned into text, never rendered).
    text = models.TextField(blank=True, editable=False)

    status = models.CharField(max_length=12, choices=MessageStatus, default=MessageStatus.TO_SORT)
    # Why it was ignored or marked not a view, or the quarantine's error.
    reason = models.TextField(blank=True)
    # The submission this message repeats (the same view, sent again or also given on the form).
    duplicate_of = models.ForeignKey(
        "Submission", null=True, blank=True, on_delete=models.PROTECT, related_name="duplicate_messages"
    )
    submission = models.OneToOneField(
        "Submission", null=True, blank=True, on_delete=models.PROTECT, related_name="message", editable=False
    )
    sorted_by = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    sorted_at = models.DateTimeField(null=True, blank=True, editable=False)
    # When its sender and the headers naming people were removed, their time kept past (feedback.retention).
    personal_removed_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = InboundMessageQuerySet.as_manager()

    class Meta:
        verbose_name = "message"
        ordering = ["-arrived_at"]
        indexes = [
            models.Index(fields=["arrived_at"], condition=Q(status="to_sort"), name="message_to_sort"),
            models.Index(fields=["status", "-arrived_at"], name="message_status_arrived"),
        ]
        permissions = [("sort_message", "Can sort mail into views")]

    def __str__(self) -> str:
        return self.subject or "(no subject)"

    def decide(self, status: MessageStatus, *, by, reason: str = "", duplicate_of=None, submission=None) -> None:
        """
        Settle a message waiting to be sorted, once: a conditional update, so
        of two reviewers (or a double click) one wins and the other gets
        MessageAlreadySorted. Call inside the transaction that makes what it links to.
        """
        now = timezone.now()
        with transaction.atomic():
            changed = InboundMessage.objects.filter(pk=self.pk, status=MessageStatus.TO_SORT).update(
                status=status,
                reason=reason,
                duplicate_of=duplicate_of,
                submission=submission,
                sorted_by=by,
                sorted_at=now,
            )
            if not changed:
                raise MessageAlreadySorted(self.pk)
        self.status, self.reason, self.duplicate_of, self.submission = status, reason, duplicate_of, submission
        self.sorted_by, self.sorted_at = by, now


class Attachment(models.Model):
    """A file that came with a message: the original bytes, and its text where it could be read."""

    message = models.ForeignKey(InboundMessage, on_delete=models.CASCADE, related_name="attachments")
    position = models.PositiveSmallIntegerField()
    # The sender's file name, reduced to a bare name (no folders, no control characters).
    filename = models.CharField(max_length=200)
    content_type = models.CharField(max_length=200)
    size = models.PositiveIntegerField()
    content = models.BinaryField()
    text = models.TextField(blank=True)
    # Why there is no text: too large, a type the portal does not read, an extraction failure.
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["message_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["message", "position"], name="attachment_position_unique"),
        ]

    def __str__(self) -> str:
        return self.filename


class MailboxState(models.Model):
    """Where the poll of one IMAP folder stands: its UIDVALIDITY and the last UID stored."""

    # The mailbox's address without its password: user@host:port/folder.
    mailbox = models.CharField(max_length=500, unique=True)
    uidvalidity = models.BigIntegerField(null=True)
    last_uid = models.BigIntegerField(default=0)
    polled_at = models.DateTimeField(null=True)
    last_error = models.TextField(blank=True)
    # A poll holds the folder until then, so two polls (a slow one and the
    # next minute's) do not read the same messages side by side.
    leased_until = models.DateTimeField(null=True)

    def __str__(self) -> str:
        return self.mailbox
