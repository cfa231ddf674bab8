"""The audit log in the workspace: read by Administrators, changed by nobody."""

from django.contrib import admin

from ..models import (
    AuditEvent,
)
from .base import CappedChoicesFilter, CappedDateFilter, ReadOnly, WorkspaceAdmin

# --- The audit log -----------------------------------------------------------


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnly, WorkspaceAdmin):
    list_display = ["at", "actor_username", "action", "reference", "summary", "ip_address"]
    list_filter = [("action", CappedChoicesFilter), ("at", CappedDateFilter)]
    search_fields = ["actor_username", "reference"]
    date_hierarchy = "at"
    list_per_page = 100
    show_full_result_count = False

    @admin.display(description="detail")
    def summary(self, event: AuditEvent) -> str:
        return "; ".join(f"{key.replace('_', ' ')}: {_readable(value)}" for key, value in event.detail.items())


def _readable(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return ", ".join(f"{key}={_readable(item)}" for key, item in value.items()) or "none"
    if isinstance(value, list):
        return ", ".join(_readable(item) for item in value) or "none"
    return str(value)
