"""The weekly email summary: who subscribes, and each email as a unit of work."""

from datetime import datetime

from django.db import models
from django.db.models import Q
from django.utils import timezone

from .choices import Element, SendStatus
from .submissions import STUCK_SENDING_AFTER

# The weekly email carries a digest's figures, themes and quotes: only those
# who may read digests get it.
DIGEST_READING_PERMISSION = "feedback.view_digest"


class SubscriptionQuerySet(models.QuerySet):
    def receiving(self) -> "SubscriptionQuerySet":
        """Subscriptions a weekly email goes to: switched on, by active staff with an address who may read digests."""
        from django.contrib.auth import get_user_model

        readers = get_user_model().objects.with_perm(
            DIGEST_READING_PERMISSION, backend="django.contrib.auth.backends.ModelBackend"
        )
        return (
            self.filter(active=True, user__is_active=True, user__is_staff=True)
            .exclude(user__email="")
            .filter(user__in=readers.values("pk"))
        )


class Subscription(models.Model):
    """A staff member's weekly email summary: on or off, for all elements or some."""

    user = models.OneToOneField("auth.User", on_delete=models.CASCADE, related_name="weekly_subscription")
    active = models.BooleanField("subscribed", default=True)
    # Element codes; empty means all four.
    elements = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = SubscriptionQuerySet.as_manager()

    def __str__(self) -> str:
        return f"{self.user.get_username()}: {'subscribed' if self.active else 'unsubscribed'}"

    @property
    def element_codes(self) -> list[str]:
        return [code for code in Element.values if not self.elements or code in self.elements]


class WeeklySendQuerySet(models.QuerySet):
    def due(self, *, now: datetime) -> "WeeklySendQuerySet":
        return self.filter(status=SendStatus.PENDING).filter(
            Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
        )

    def failed(self) -> "WeeklySendQuerySet":
        return self.filter(status=SendStatus.FAILED)

    def stuck(self, *, now: datetime) -> "WeeklySendQuerySet":
        return self.filter(status=SendStatus.SENDING, claimed_at__lt=now - STUCK_SENDING_AFTER)


class WeeklySend(models.Model):
    """
    One weekly summary email to one subscriber for one week: the unit of work.
    The unique constraint makes a second planning run a no-op; a conditional
    update claims the row before SMTP is touched.
    """

    user = models.ForeignKey("auth.User", on_delete=models.CASCADE, related_name="weekly_sends")
    period_start = models.DateTimeField()
    status = models.CharField(max_length=10, choices=SendStatus, default=SendStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # Which sender holds the row while sending: a batch finds its own rows by it.
    claim = models.UUIDField(null=True, blank=True, editable=False)
    sent_at = models.DateTimeField(null=True, blank=True)
    message_id = models.CharField(max_length=255, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = WeeklySendQuerySet.as_manager()

    class Meta:
        ordering = ["-period_start", "user"]
        constraints = [
            models.UniqueConstraint(fields=["user", "period_start"], name="one_weekly_email_per_person_per_week")
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="weekly_send_due")]

    def __str__(self) -> str:
        return f"{self.user.get_username()}, week of {timezone.localtime(self.period_start):%d %b %Y}"
