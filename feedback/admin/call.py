"""When the call for views opens and closes: one row, set by Administrators, every change audited."""

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone

from .. import audit
from ..models import AuditAction, CallWindow


def _london(moment) -> str:
    return timezone.localtime(moment).isoformat() if moment else ""


@admin.register(CallWindow)
class CallWindowAdmin(admin.ModelAdmin):
    fields = ["opens_at", "closes_at", "extended_to", "state", "changed_at"]
    readonly_fields = ["state", "changed_at"]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if field is not None and db_field.name in ("opens_at", "closes_at", "extended_to"):
            field.help_text = " ".join(
                filter(None, [str(db_field.help_text), "London time. Leave empty for no limit this way."])
            )
        return field

    @admin.display(description="now")
    def state(self, window: CallWindow) -> str:
        return window.state().label

    def changelist_view(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        # There is one window: its list is its page.
        if not self.has_view_or_change_permission(request):
            return super().changelist_view(request, extra_context)
        window, _ = CallWindow.objects.get_or_create(pk=1)
        return redirect("admin:feedback_callwindow_change", window.pk)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: CallWindow, form, change: bool) -> None:
        before = CallWindow.objects.filter(pk=obj.pk).first() or CallWindow()
        super().save_model(request, obj, form, change)
        fields = ("opens_at", "closes_at", "extended_to")
        audit.record(
            AuditAction.CALL_WINDOW_CHANGED,
            request=request,
            before={name: _london(getattr(before, name)) for name in fields},
            after={name: _london(getattr(obj, name)) for name in fields},
        )
