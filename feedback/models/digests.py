"""Digests: one per ISO week, compiled once and frozen."""

from django.db import models
from django.utils import timezone

from .choices import DigestStatus

COMPILED = [DigestStatus.READY, DigestStatus.APPROVED]


class DigestQuerySet(models.QuerySet):
    def compiled(self) -> "DigestQuerySet":
        return self.filter(status__in=COMPILED)


class Digest(models.Model):
    """
    The policy team's brief on one ISO week (Europe/London). One per week,
    numbered in the order compiled, and frozen once compiled: its figures live
    in `content` and its rows are the submissions that point at it.
    """

    period_start = models.DateTimeField(unique=True)
    period_end = models.DateTimeField()
    number = models.PositiveIntegerField(unique=True, null=True, blank=True)
    status = models.CharField(max_length=10, choices=DigestStatus, default=DigestStatus.PENDING, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    compiled_at = models.DateTimeField(null=True, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    content = models.JSONField(default=dict, blank=True, editable=False)

    objects = DigestQuerySet.as_manager()

    class Meta:
        ordering = ["-period_start"]
        permissions = [("approve_digest", "Can approve digests")]

    def __str__(self) -> str:
        label = timezone.localtime(self.period_start).strftime("%G-W%V")
        return f"Digest {self.number} ({label})" if self.number else f"Digest for {label}"

    @property
    def is_compiled(self) -> bool:
        return self.status in COMPILED

    def approve(self, *, by) -> bool:
        """Approve a ready digest for sharing beyond the policy team. False if it was not ready."""
        approved = Digest.objects.filter(pk=self.pk, status=DigestStatus.READY).update(
            status=DigestStatus.APPROVED, approved_at=timezone.now(), approved_by=by
        )
        if approved:
            self.refresh_from_db()
        return bool(approved)
