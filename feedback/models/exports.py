"""Exports too large to send at once: made by the worker, kept for a day, for the person who asked."""

import uuid
from datetime import timedelta

from django.db import models

# Export files are deleted this long after they are made.
KEPT_FOR = timedelta(hours=24)


class ExportStatus(models.TextChoices):
    QUEUED = "queued", "Waiting to start"
    RUNNING = "running", "Being made"
    READY = "ready", "Ready to download"
    FAILED = "failed", "Failed"
    TOO_LARGE = "too_large", "Too large for a spreadsheet"
    EXPIRED = "expired", "Deleted after 24 hours"


class Export(models.Model):
    """
    One export of submissions made in the background. The id is random and
    the file opens only for the person who asked for it, until `expires_at`.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    requested_by = models.ForeignKey("auth.User", on_delete=models.CASCADE, related_name="exports")
    requested_at = models.DateTimeField(auto_now_add=True)
    file_format = models.CharField(max_length=4)
    # The submission list's query string: the worker applies the same filters.
    query = models.TextField(blank=True)
    include_personal = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=ExportStatus, default=ExportStatus.QUEUED)
    rows_expected = models.PositiveIntegerField(default=0)
    rows_written = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    file = models.CharField(max_length=255, blank=True, help_text="The file's name in the exports storage.")
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at"]
        indexes = [models.Index(fields=["status", "expires_at"], name="export_status_expiry")]

    def __str__(self) -> str:
        return f"{self.file_format.upper()} export of {self.rows_expected:,} rows for {self.requested_by}"

    @property
    def progress(self) -> int:
        """Per cent of the rows written, as far as the worker has said."""
        if self.status == ExportStatus.READY:
            return 100
        return min(99, 100 * self.rows_written // self.rows_expected) if self.rows_expected else 0
