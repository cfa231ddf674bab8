from django.contrib import admin
from django.utils import timezone

from .models import STUCK_SENDING_AFTER


class SendingProblemFilter(admin.SimpleListFilter):
    """
    Emails that need a person: failed for good, or stuck in "sending" (a worker
    died mid-send). For querysets with `failed()` and `stuck(now=)` verbs.
    """

    title = "email problems"
    parameter_name = "problem"

    def lookups(self, request, model_admin):
        minutes = int(STUCK_SENDING_AFTER.total_seconds() // 60)
        return [("failed", "Failed"), ("stuck", f"Sending for over {minutes} minutes")]

    def queryset(self, request, queryset):
        if self.value() == "failed":
            return queryset.failed()
        if self.value() == "stuck":
            return queryset.stuck(now=timezone.now())
        return queryset
