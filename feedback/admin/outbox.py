"""
The outbox in the workspace: every email the portal has made, by kind and
status, with "send again" for those that failed or are stuck.

Respondents' addresses are shown only to those who may see personal details:
Administrators, who look after the outbox, see the submission's reference.
"""

from django.contrib import admin
from django.utils import timezone

from ..models import EmailKind, OutgoingEmail
from .base import PERSONAL_DETAILS_PERMISSION, CappedChoicesFilter, ReadOnly, WorkspaceAdmin
from .filters import SendingProblemFilter


@admin.register(OutgoingEmail)
class OutboxAdmin(ReadOnly, WorkspaceAdmin):
    list_display = ["created_at", "kind", "to", "status", "attempts", "sent_at", "next_attempt_at", "last_error"]
    list_filter = [("kind", CappedChoicesFilter), ("status", CappedChoicesFilter), SendingProblemFilter]
    search_fields = ["key", "message_id"]
    list_select_related = ["submission", "user"]
    list_per_page = 100
    show_full_result_count = False
    personal_fields = ("recipient",)
    fields = ["kind", "key", "to", "status", "attempts", "next_attempt_at", "claimed_at", "sent_at", "message_id"]
    fields += ["last_error", "created_at"]
    readonly_fields = fields
    actions = ["send_again"]

    @admin.display(description="to")
    def to(self, email: OutgoingEmail) -> str:
        if email.kind in (EmailKind.ACKNOWLEDGEMENT, EmailKind.MAIL_REPLY):
            return f"the respondent of {email.submission.reference}"
        return email.recipient

    def _may_see_addresses(self, request) -> bool:
        return request.user.has_perm(PERSONAL_DETAILS_PERMISSION)

    def get_list_display(self, request):
        columns = super().get_list_display(request)
        return [("recipient" if column == "to" and self._may_see_addresses(request) else column) for column in columns]

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        return [("recipient" if field == "to" and self._may_see_addresses(request) else field) for field in fields]

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    @admin.action(description="Send failed or stuck emails again", permissions=["view"])
    def send_again(self, request, queryset):
        # A row stuck in "sending" may have reached the mail server before its
        # worker died: sending it again is a person's decision, made here.
        count = queryset.send_again(now=timezone.now())
        self.message_user(request, f"{count} email(s) will be sent again within two minutes.")
