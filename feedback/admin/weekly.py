"""Weekly email summaries in the admin: who is subscribed, and every send, stuck ones included."""

from django.contrib import admin
from django.utils import timezone

from ..models import Element, SendStatus, Subscription, WeeklySend
from .base import WorkspaceAdmin
from .filters import SendingProblemFilter


@admin.register(Subscription)
class SubscriptionAdmin(WorkspaceAdmin):
    list_display = ["user", "active", "element_list", "updated_at"]
    list_filter = ["active"]
    search_fields = ["user__username", "user__email"]
    fields = ["user", "active", "elements"]
    autocomplete_fields = ["user"]

    @admin.display(description="elements")
    def element_list(self, subscription: Subscription) -> str:
        if not subscription.elements:
            return "All elements"
        return ", ".join(Element(code).label for code in subscription.element_codes)


@admin.register(WeeklySend)
class WeeklySendAdmin(WorkspaceAdmin):
    list_display = ["user", "period_start", "status", "attempts", "sent_at", "next_attempt_at", "last_error"]
    list_filter = ["status", SendingProblemFilter, "period_start"]
    search_fields = ["user__username", "user__email", "message_id"]
    list_select_related = ["user"]
    actions = ["send_again"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Send failed or stuck emails again", permissions=["view"])
    def send_again(self, request, queryset):
        # A row stuck in "sending" may have reached the mail server before its
        # worker died: sending it again is a person's decision, made here.
        count = (queryset.failed() | queryset.stuck(now=timezone.now())).update(
            status=SendStatus.PENDING, attempts=0, next_attempt_at=None, claim=None
        )
        self.message_user(request, f"{count} email(s) will be sent again within ten minutes.")
