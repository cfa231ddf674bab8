import secrets
from datetime import timedelta

from django.db import models
from django.utils import timezone

# How long answers saved for later, and each link to them, last.
KEEP_SAVED_DRAFTS = timedelta(days=28)


def new_nonce() -> str:
    return secrets.token_urlsafe(16)


class SavedDraftQuerySet(models.QuerySet):
    def live(self, *, now=None) -> "SavedDraftQuerySet":
        return self.filter(kept_until__gt=now or timezone.now())


class SavedDraft(models.Model):
    """
    A respondent's unsent answers, saved to come back to from any device with
    a link sent to their email address. The draft keeps its one-time token,
    so however many times it is resumed it is sent once. Each link names the
    current `link_nonce`: using a link clears it, asking for a new one
    replaces it, so a link works once and only the newest works. Kept until
    28 days after it was last saved or sent a link, then deleted.
    """

    email = models.EmailField(max_length=254, db_index=True)
    data = models.JSONField()
    saved_at = models.DateTimeField(default=timezone.now)
    link_nonce = models.CharField(max_length=32, blank=True)
    kept_until = models.DateTimeField(db_index=True)

    objects = SavedDraftQuerySet.as_manager()

    class Meta:
        verbose_name = "saved draft"

    def __str__(self) -> str:
        return f"Saved draft {self.pk}"

    def keep(self, *, now=None) -> None:
        self.kept_until = (now or timezone.now()) + KEEP_SAVED_DRAFTS
