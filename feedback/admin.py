from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from .models import STUCK_SENDING_AFTER, AckStatus, Submission, View


class ViewInline(admin.StackedInline):
    model = View
    extra = 0
    fields = ["position", "element", "level", "text"]
    readonly_fields = ["position"]
    can_delete = False


class StuckSendingFilter(admin.SimpleListFilter):
    title = "acknowledgement problems"
    parameter_name = "ack_problem"

    def lookups(self, request, model_admin):
        return [("failed", "Failed"), ("stuck", f"Sending for over {STUCK_SENDING_AFTER.seconds // 60} minutes")]

    def queryset(self, request, queryset):
        if self.value() == "failed":
            return queryset.filter(ack_status=AckStatus.FAILED)
        if self.value() == "stuck":
            return queryset.stuck_sending(older_than=timezone.now() - STUCK_SENDING_AFTER)
        return queryset


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin):
    list_display = [
        "reference",
        "received_at",
        "element_list",
        "region",
        "organisation_type",
        "role",
        "status",
        "source",
        "ack_status",
    ]
    list_filter = ["status", "source", "region", "organisation_type", "role", "views__element", StuckSendingFilter]
    search_fields = ["reference", "organisation"]
    date_hierarchy = "received_at"
    ordering = ["-received_at"]
    inlines = [ViewInline]
    readonly_fields = [
        "reference",
        "token",
        "received_at",
        "created_at",
        "source",
        "ack_status",
        "ack_attempts",
        "ack_next_attempt_at",
        "ack_claimed_at",
        "ack_sent_at",
        "ack_message_id",
        "ack_last_error",
    ]
    fieldsets = [
        (None, {"fields": ["reference", "status", "received_at", "created_at", "source"]}),
        (
            "Respondent",
            {
                "fields": [
                    "name",
                    "email",
                    "role",
                    "organisation",
                    "organisation_type",
                    "region",
                    "principles",
                    "consent_to_quote",
                    "consent_to_contact",
                ]
            },
        ),
        (
            "Acknowledgement email",
            {
                "classes": ["collapse"],
                "fields": [
                    "ack_status",
                    "ack_attempts",
                    "ack_next_attempt_at",
                    "ack_claimed_at",
                    "ack_sent_at",
                    "ack_message_id",
                    "ack_last_error",
                    "token",
                ],
            },
        ),
    ]
    actions = ["retry_acknowledgement"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).prefetch_related("views")

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description="elements")
    def element_list(self, submission: Submission) -> str:
        return ", ".join(submission.elements)

    @admin.action(description="Try the acknowledgement email again")
    def retry_acknowledgement(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = Submission.objects.retry_acknowledgements(queryset.values("pk"), now=timezone.now())
        self.message_user(request, f"{count} acknowledgement email(s) will be tried again within a few minutes.")
