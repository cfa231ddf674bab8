from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone


class CallState(models.TextChoices):
    NOT_OPEN = "not_open", "Not open yet"
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"


class CallWindow(models.Model):
    """
    When the call for views is open: one row, set by Administrators. A date
    left empty sets no limit that way, so a portal with no window is open.
    The call closes at its extension when it has one.
    """

    opens_at = models.DateTimeField("opens", null=True, blank=True)
    closes_at = models.DateTimeField("closes", null=True, blank=True)
    extended_to = models.DateTimeField(
        "extended to",
        null=True,
        blank=True,
        help_text="A later close, announced after the call opened. The call then closes at this time.",
    )
    changed_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "call window"
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="call_window_is_one_row")]

    def __str__(self) -> str:
        return "The call's window"

    def save(self, *args, **kwargs):
        self.pk = 1
        super().save(*args, **kwargs)

    def clean(self) -> None:
        if self.opens_at and self.closes_at and self.closes_at <= self.opens_at:
            raise ValidationError({"closes_at": "The call must close after it opens."})
        if self.extended_to and not self.closes_at:
            raise ValidationError({"extended_to": "Set when the call closes before extending it."})
        if self.extended_to and self.closes_at and self.extended_to <= self.closes_at:
            raise ValidationError({"extended_to": "An extension must end after the call's first closing time."})

    @property
    def closes(self):
        """When the call closes, extension included (None: it does not close)."""
        return self.extended_to or self.closes_at

    def state(self, now=None) -> CallState:
        now = now or timezone.now()
        if self.opens_at and now < self.opens_at:
            return CallState.NOT_OPEN
        if self.closes and now >= self.closes:
            return CallState.CLOSED
        return CallState.OPEN

    def is_open(self, now=None) -> bool:
        return self.state(now) == CallState.OPEN

    def closed_by(self, moment) -> bool:
        """Whether something that arrived at `moment` came after the call closed."""
        return bool(self.closes and moment >= self.closes)
