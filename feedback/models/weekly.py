"""Who subscribes to the weekly email summary (each email is a row in the outbox)."""

from django.db import models

from .choices import Element

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
