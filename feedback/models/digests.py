"""Digests: one per ISO week, compiled once and frozen."""

from datetime import datetime, timedelta

from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from .choices import DigestKind, DigestStatus

COMPILED = [DigestStatus.READY, DigestStatus.APPROVED]
# Without advisory locks (SQLite), a compile still "compiling" after this long
# died with its worker (its transaction rolled back with it): it may be
# claimed again. PostgreSQL tells a dead compile from a live one at once
# (digests._compile_lock).
STALE_COMPILE_AFTER = timedelta(minutes=30)
MAX_COMPILE_ATTEMPTS = 5


class DigestQuerySet(models.QuerySet):
    def compiled(self) -> "DigestQuerySet":
        return self.filter(status__in=COMPILED)

    def weekly(self) -> "DigestQuerySet":
        return self.filter(kind=DigestKind.WEEKLY)


class Digest(models.Model):
    """
    The policy team's brief on one ISO week (Europe/London). One per week,
    numbered in the order compiled, and frozen once compiled: its figures live
    in `content` and its rows are its memberships (`DigestMembership`).

    The final digest (one, `kind` "final") covers the whole call once it has
    closed: every submission the weekly digests of the call counted and
    nobody withdrew. Its rows are theirs; it has no memberships of its own.
    """

    kind = models.CharField(max_length=10, choices=DigestKind, default=DigestKind.WEEKLY)
    period_start = models.DateTimeField()
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
    # The final digest only: when its outcomes page went public (feedback.outcomes).
    published_at = models.DateTimeField(null=True, blank=True, editable=False)
    published_by = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    objects = DigestQuerySet.as_manager()

    class Meta:
        ordering = ["-period_start"]
        permissions = [("approve_digest", "Can approve digests")]
        constraints = [
            models.UniqueConstraint(
                fields=["period_start"], condition=Q(kind=DigestKind.WEEKLY), name="one_weekly_digest_per_week"
            ),
            models.UniqueConstraint(fields=["kind"], condition=Q(kind=DigestKind.FINAL), name="one_final_digest"),
        ]

    def __str__(self) -> str:
        if self.is_final:
            return f"Final digest {self.number} (the whole call)" if self.number else "Final digest (the whole call)"
        label = timezone.localtime(self.period_start).strftime("%G-W%V")
        return f"Digest {self.number} ({label})" if self.number else f"Digest for {label}"

    @property
    def is_final(self) -> bool:
        return self.kind == DigestKind.FINAL

    def counted(self) -> models.QuerySet:
        """
        The submissions behind the digest's figures: its memberships; for the
        final digest, those of every weekly digest of the call, less the withdrawn.
        """
        from .choices import Status
        from .submissions import Submission

        if not self.is_final:
            return Submission.objects.filter(membership__digest=self)
        weekly = Q(
            membership__digest__kind=DigestKind.WEEKLY,
            membership__digest__status__in=COMPILED,
            membership__digest__period_start__lt=self.period_end,
        )
        if self.compiled_at is not None:
            # Frozen: only what the weekly digests compiled before it had counted.
            weekly &= Q(membership__digest__compiled_at__lte=self.compiled_at)
        return Submission.objects.filter(weekly, received_at__lt=self.period_end).exclude(status=Status.WITHDRAWN)

    @property
    def is_compiled(self) -> bool:
        return self.status in COMPILED

    def claim(self, *, now: datetime, live_compile_excluded: bool) -> int:
        """
        Claim the digest for compiling, with a conditional update: the attempt's
        number (the claim's token), or 0 if it is not ours to compile. A row
        still "compiling" is taken over only when no live compile can hold it:
        `live_compile_excluded` (PostgreSQL's lock says so), or past its time.
        """
        dead_compile = Q(status=DigestStatus.COMPILING)
        if not live_compile_excluded:
            dead_compile &= Q(claimed_at__lt=now - STALE_COMPILE_AFTER)
        claimable = Q(status__in=[DigestStatus.PENDING, DigestStatus.FAILED]) | dead_compile
        claimed = Digest.objects.filter(claimable, pk=self.pk, attempts__lt=MAX_COMPILE_ATTEMPTS).update(
            status=DigestStatus.COMPILING, claimed_at=now, attempts=F("attempts") + 1
        )
        return Digest.objects.values_list("attempts", flat=True).get(pk=self.pk) if claimed else 0

    def undecided_themes(self) -> list[dict]:
        """
        For the final digest: its themes with more views than
        QIPP_DECIDE_THEMES_ABOVE that have no recorded decision, largest first.
        """
        from django.conf import settings

        from .themes import Theme, ThemeDecision

        if not self.is_final:
            return []
        themes = [
            {**theme, "element": element["label"]}
            for element in self.content.get("elements", [])
            for theme in element["themes"]
            if theme.get("views", theme["submissions"]) > settings.QIPP_DECIDE_THEMES_ABOVE
        ]
        # A theme merged since into another is decided with the theme it became.
        became = dict(Theme.objects.filter(pk__in=[t["id"] for t in themes]).values_list("pk", "merged_into_id"))
        for _ in range(5):
            onward = dict(
                Theme.objects.filter(pk__in=[t for t in became.values() if t]).values_list("pk", "merged_into_id")
            )
            became = {theme: onward.get(target) or target for theme, target in became.items()}
        decided = set(ThemeDecision.objects.filter(theme__isnull=False).values_list("theme_id", flat=True))
        undecided = [t for t in themes if t["id"] not in decided and became.get(t["id"]) not in decided]
        return sorted(undecided, key=lambda t: -t.get("views", t["submissions"]))

    def approve(self, *, by) -> bool:
        """
        Approve a ready digest for sharing beyond the policy team. False if it
        was not ready, or (the final digest) a large theme has no decision yet.
        """
        if self.undecided_themes():
            return False
        approved = Digest.objects.filter(pk=self.pk, status=DigestStatus.READY).update(
            status=DigestStatus.APPROVED, approved_at=timezone.now(), approved_by=by
        )
        if approved:
            self.refresh_from_db()
        return bool(approved)


class NotYetCounted(models.Model):
    """
    A submission no digest has counted yet, with when it was received: written
    with the submission, in its transaction, and only ever inserted or deleted.
    A compile takes the rows its week counts from this narrow table, so the
    wide, heavily indexed submissions table is never rewritten, and a row
    committed while a compile runs waits here for the next one.
    """

    submission = models.OneToOneField("Submission", primary_key=True, on_delete=models.CASCADE, related_name="+")
    received_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"Submission {self.submission_id}, not yet counted"


class DigestMembership(models.Model):
    """
    Which digest counted a submission: one row a submission, written by the
    compile that counted it. A submission received in a week already compiled
    is counted by the next digest compiled after it arrives, as arrived late.
    """

    submission = models.OneToOneField(
        "Submission", primary_key=True, on_delete=models.CASCADE, related_name="membership"
    )
    digest = models.ForeignKey(Digest, on_delete=models.PROTECT, related_name="memberships")

    def __str__(self) -> str:
        return f"Submission {self.submission_id} in digest {self.digest_id}"
