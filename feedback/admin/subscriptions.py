"""Who is subscribed to the weekly email summary (the emails themselves are in the outbox)."""

from django.contrib import admin

from ..models import Element, Subscription
from .base import WorkspaceAdmin


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
