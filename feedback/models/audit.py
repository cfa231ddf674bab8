"""The append-only audit log."""

from django.db import models
from django.utils import timezone

from .submissions import Submission


class AuditAction(models.TextChoices):
    PASSWORD_ACCEPTED = "password_accepted", "Password accepted (second factor next)"
    SIGNED_IN = "signed_in", "Signed in"
    SIGN_IN_FAILED = "sign_in_failed", "Sign-in failed"
    LOCKED_OUT = "locked_out", "Locked out"
    LOCKOUT_REMOVED = "lockout_removed", "Removed a lockout"
    TWO_FACTOR_FAILED = "two_factor_failed", "Wrong second-factor code"
    TWO_FACTOR_REPLAYED = "two_factor_replayed", "Second-factor code used again"
    TWO_FACTOR_ENROLLED = "two_factor_enrolled", "Set up two-factor authentication"
    TWO_FACTOR_RESET = "two_factor_reset", "Two-factor authentication reset"
    ACCOUNT_CREATED = "account_created", "Created an account"
    ACCESS_CHANGED = "access_changed", "Changed an account's access"
    PASSWORD_CHANGED = "password_changed", "Changed a password"
    PASSWORD_RESET_SENT = "password_reset_sent", "Sent a password reset link"
    VIEWED_PERSONAL_DETAILS = "viewed_personal_details", "Viewed personal details"
    FILTERED_PERSONAL_DETAILS = "filtered_personal_details", "Filtered by personal details"
    EXPORTED = "exported", "Exported submissions"
    STATUS_CHANGED = "status_changed", "Changed status"
    THEMES_CHANGED = "themes_changed", "Changed themes"
    NOTE_ADDED = "note_added", "Added a note"
    DETAILS_CHANGED = "details_changed", "Changed submission details"
    MESSAGE_SORTED = "message_sorted", "Sorted a message into views"
    MESSAGE_SET_ASIDE = "message_set_aside", "Set a message aside (not a view, or a duplicate)"
    ATTACHMENT_DOWNLOADED = "attachment_downloaded", "Downloaded an attachment"
    RESPONSES_IMPORTED = "responses_imported", "Imported responses from a spreadsheet"
    THEME_PROPOSAL_DECIDED = "theme_proposal_decided", "Added or dismissed an emerging theme"
    SECOND_OPINION_GIVEN = "second_opinion_given", "Coded a view blind, as a second opinion"
    SECOND_OPINION_SETTLED = "second_opinion_settled", "Settled two reviewers' disagreement"
    CALL_WINDOW_CHANGED = "call_window_changed", "Changed when the call opens or closes"
    VIEW_CHANGED = "view_changed", "The respondent changed a view"
    WITHDRAWN = "withdrawn", "The respondent withdrew their submission"
    DIGEST_WORDS_WITHDRAWN = "digest_words_withdrawn", "Withdrawn words taken out of a digest"
    THEME_DECIDED = "theme_decided", "Recorded what was done with a theme"
    OUTCOMES_PUBLISHED = "outcomes_published", "Published what was done with the views"
    RETENTION_APPLIED = "retention_applied", "Removed personal data past its time"
    SUBJECT_ACCESS = "subject_access", "Wrote out everything held about an email address"
    ERASED = "erased", "Erased everything held about an email address"


class AuditEventManager(models.Manager):
    def record(
        self, action: AuditAction, *, by=None, ip: str | None = None, submission=None, **detail
    ) -> "AuditEvent":
        """Add one entry: `by` whom (None for the portal itself), from which address, about which submission."""
        return self.create(
            action=action,
            actor=by,
            actor_username=by.get_username() if by else "",
            submission=submission,
            reference=submission.reference if submission else "",
            detail=detail,
            ip_address=ip,
        )


class AuditEvent(models.Model):
    """
    One entry in the append-only audit log. It holds no personal data of
    respondents (references, not names), so erasing a person never needs it
    edited. The app can only add entries.
    """

    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # Kept as text too, so the log still says who after an account is removed.
    actor_username = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=30, choices=AuditAction)
    submission = models.ForeignKey(
        Submission, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_events"
    )
    reference = models.CharField(max_length=11, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    objects = AuditEventManager()

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["submission", "at"], name="audit_submission_at")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_username or 'system'}: {self.get_action_display()}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.get("force_insert"):
            raise PermissionError("Audit events are never changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("Audit events are never deleted.")
