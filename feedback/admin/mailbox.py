"""
Mail in the workspace: the list of messages by status (the sorting queue,
ignored automatic mail, quarantined mail), and the sorting page, one message
at a time, where a reviewer records who sent it and splits it into views.

The sender's name and address are personal details: only those who may see
respondents' details see them (and each showing is recorded), exactly as on
a submission. Attachments and the original message are only ever downloaded,
never shown inline.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.forms import formset_factory
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.http import content_disposition_header

from .. import audit, call, sorting, suggestions
from ..clients import client_ip
from ..forms import MAX_VIEWS, SenderForm, ViewForm
from ..models import (
    Attachment,
    AuditAction,
    Element,
    InboundMessage,
    Level,
    MailboxState,
    MessageAlreadySorted,
    MessageStatus,
    Submission,
    normalise_reference,
)
from .base import PERSONAL_DETAILS_PERMISSION, CappedChoicesFilter, ReadOnly, WorkspaceAdmin
from .filters import AfterTheCallFilter

SORT_PERMISSION = "feedback.sort_message"
VIEW_SLOTS = 2


class SortedViewForm(ViewForm):
    """One view taken from a message: the web form's rules, laid out for the workspace."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["element"].label = "Element"
        self.fields["element"].widget = forms.Select(choices=[("", "Choose an element")] + Element.choices)
        self.fields["level"].label = "Level"
        self.fields["level"].help_text = "For a view on prioritisation only."
        self.fields["level"].widget = forms.Select(choices=[("", "Not prioritisation")] + Level.choices)
        self.fields["text"].label = "The view, in the sender's words"
        self.fields["text"].widget.attrs.update({"rows": 6, "data-selection-target": "true"})


def download(content: bytes, filename: str) -> HttpResponse:
    """Bytes a sender chose, sent so that no browser shows or runs them: a download, never a page."""
    response = HttpResponse(bytes(content), content_type="application/octet-stream")
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    return response


@admin.register(InboundMessage)
class MessageAdmin(ReadOnly, WorkspaceAdmin):
    list_display = ["subject_line", "sender", "arrived_at", "status", "attachment_count", "origin"]
    list_filter = [("status", CappedChoicesFilter), ("origin", CappedChoicesFilter), AfterTheCallFilter]
    date_hierarchy = "arrived_at"
    list_per_page = 50
    show_full_result_count = False
    personal_fields = ("sender_name", "sender_email", "raw", "references")
    change_list_template = "admin/feedback/inboundmessage/change_list.html"

    def get_queryset(self, request):
        return super().get_queryset(request).defer("raw").annotate(attachment_count=Count("attachments"))

    def get_search_fields(self, request):
        if self.may_see_senders(request):
            return ["subject", "sender_name", "sender_email"]
        return ["subject"]

    def may_see_senders(self, request) -> bool:
        return request.user.has_perm(PERSONAL_DETAILS_PERMISSION)

    @admin.display(description="subject", ordering="subject")
    def subject_line(self, message: InboundMessage) -> str:
        return message.subject or "(no subject)"

    @admin.display(description="attachments", ordering="attachment_count")
    def attachment_count(self, message: InboundMessage) -> int:
        return message.attachment_count

    @admin.display(description="from")
    def sender(self, message: InboundMessage) -> str:
        return "(hidden)"

    @admin.display(description="after the call closed")
    def after_close(self, message: InboundMessage) -> str:
        return "Arrived after the call closed" if call.window().closed_by(message.arrived_at) else ""

    def get_list_display(self, request):
        columns = super().get_list_display(request)
        if call.window().closes:
            columns = [*columns, "after_close"]
        if self.may_see_senders(request):
            return [("sender_email" if column == "sender" else column) for column in columns]
        return columns

    def get_urls(self):
        return [
            path("next/", self.admin_site.admin_view(self.next_view), name="feedback_inboundmessage_next"),
            path(
                "<int:object_id>/original/",
                self.admin_site.admin_view(self.original_view),
                name="feedback_inboundmessage_original",
            ),
            path(
                "attachment/<int:attachment_id>/",
                self.admin_site.admin_view(self.attachment_view),
                name="feedback_inboundmessage_attachment",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "waiting": InboundMessage.objects.to_sort().count(),
            "may_sort": request.user.has_perm(SORT_PERMISSION),
            "mailbox_states": MailboxState.objects.order_by("mailbox"),
        }
        return super().changelist_view(request, extra_context)

    def next_view(self, request: HttpRequest) -> HttpResponse:
        """The oldest message waiting to be sorted: the queue is worked oldest first."""
        if not request.user.has_perm(SORT_PERMISSION):
            raise PermissionDenied
        message = InboundMessage.objects.next_to_sort()
        if message is None:
            self.message_user(request, "No messages are waiting to be sorted.")
            return HttpResponseRedirect(reverse("admin:feedback_inboundmessage_changelist"))
        return HttpResponseRedirect(reverse("admin:feedback_inboundmessage_change", args=[message.pk]))

    def original_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """The message exactly as it arrived, as a .eml download (it holds the sender's details)."""
        if not (self.has_view_permission(request) and self.may_see_senders(request)):
            raise PermissionDenied
        message = get_object_or_404(InboundMessage, pk=object_id)
        audit.record(AuditAction.VIEWED_PERSONAL_DETAILS, request=request, message=message.pk, original=True)
        return download(message.raw, f"message-{message.pk}.eml")

    def attachment_view(self, request: HttpRequest, attachment_id: int) -> HttpResponse:
        if not request.user.has_perm("feedback.view_attachment"):
            raise PermissionDenied
        attachment = get_object_or_404(Attachment, pk=attachment_id)
        audit.record(
            AuditAction.ATTACHMENT_DOWNLOADED, request=request, message=attachment.message_id, attachment=attachment.pk
        )
        return download(attachment.content, attachment.filename)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        if not object_id.isdigit() or len(object_id) > 18:
            raise Http404
        message = get_object_or_404(InboundMessage.objects.defer("raw"), pk=object_id)
        if not self.has_view_permission(request, message):
            raise PermissionDenied
        return SortingPage(self, request, message).respond()


class SortingPage:
    """One message, and the form that settles it."""

    def __init__(self, admin_: MessageAdmin, request: HttpRequest, message: InboundMessage):
        self.admin, self.request, self.message = admin_, request, message
        self.personal = admin_.may_see_senders(request)
        self.may_sort = request.user.has_perm(SORT_PERMISSION) and message.status == MessageStatus.TO_SORT
        self.here = reverse("admin:feedback_inboundmessage_change", args=[message.pk])

    def respond(self) -> HttpResponse:
        request = self.request
        if request.method == "POST":
            if not request.user.has_perm(SORT_PERMISSION):
                raise PermissionDenied
            if self.message.status != MessageStatus.TO_SORT:
                return self.refused()
            action = request.POST.get("action", "sort")
            if action == "not_a_view":
                return self.not_a_view()
            if action == "duplicate":
                return self.duplicate()
            return self.sort(adding=action == "add_view")
        if self.personal and (self.message.sender_name or self.message.sender_email):
            audit.record(AuditAction.VIEWED_PERSONAL_DETAILS, request=request, message=self.message.pk)
        return self.render(self.sender_form(), self.view_formset())

    # --- The forms ---

    def sender_form(self, data=None) -> SenderForm:
        initial = {"name": self.message.sender_name, "email": self.sender_address()}
        form = SenderForm(data, initial=initial, prefix="sender")
        if not self.personal:
            del form.fields["name"], form.fields["email"]
        return form

    def view_formset(self, data=None, *, adding: bool = False):
        total = VIEW_SLOTS
        if data is not None:
            data = data.copy()
            try:
                total = int(data.get("views-TOTAL_FORMS", VIEW_SLOTS))
            except ValueError:
                total = VIEW_SLOTS
            total = max(1, min(total + (1 if adding else 0), MAX_VIEWS))
            data["views-TOTAL_FORMS"] = str(total)
        formset_class = formset_factory(SortedViewForm, extra=total, max_num=MAX_VIEWS, validate_max=True)
        return formset_class(data, prefix="views")

    def sender_address(self) -> str:
        return self.message.sender_email if sorting.replyable(self.message.sender_email) else ""

    # --- The actions ---

    def sort(self, *, adding: bool) -> HttpResponse:
        sender, views = self.sender_form(self.request.POST), self.view_formset(self.request.POST, adding=adding)
        if adding:
            return self.render(sender, views)
        chosen = [form.cleaned_data for form in views if form.has_changed()] if views.is_valid() else None
        if sender.is_valid() and chosen:
            about = dict(sender.cleaned_data)
            if not self.personal:
                about.update(name=self.message.sender_name[:200], email=self.sender_address())
            try:
                submission = sorting.sort_message(
                    self.message,
                    by=self.request.user,
                    about=about,
                    views=[{key: view[key] for key in ("element", "level", "text", "example")} for view in chosen],
                    ip=client_ip(self.request),
                )
            except MessageAlreadySorted:
                return self.refused()
            return self.done(f"Sorted into submission {submission.reference} with {len(chosen)} view(s).")
        if chosen == []:
            messages.error(self.request, "Add at least one view: choose its element and give its text.")
        return self.render(sender, views, status=400)

    def not_a_view(self) -> HttpResponse:
        reason = " ".join(self.request.POST.get("reason", "").split())[:500]
        if not reason:
            messages.error(self.request, "Say why this is not a view.")
            return HttpResponseRedirect(self.here)
        try:
            sorting.set_aside(self.message, by=self.request.user, reason=reason, ip=client_ip(self.request))
        except MessageAlreadySorted:
            return self.refused()
        return self.done(f"Marked not a view: {reason}.")

    def duplicate(self) -> HttpResponse:
        reference = normalise_reference(self.request.POST.get("reference", ""))[:11]
        original = Submission.objects.filter(reference=reference).first()
        if original is None:
            messages.error(self.request, f"No submission has the reference {reference or '(none given)'}.")
            return HttpResponseRedirect(self.here)
        try:
            sorting.set_aside(
                self.message,
                by=self.request.user,
                duplicate_of=original,
                reason=f"Duplicate of {original.reference}",
                ip=client_ip(self.request),
            )
        except MessageAlreadySorted:
            return self.refused()
        return self.done(f"Marked a duplicate of {original.reference}.")

    def refused(self) -> HttpResponse:
        messages.error(
            self.request,
            "This message has already been sorted or set aside (perhaps by someone else, or by a second click), "
            "so nothing was changed. Here is what was decided.",
        )
        return HttpResponseRedirect(self.here)

    def done(self, text: str) -> HttpResponse:
        messages.success(self.request, text)
        return HttpResponseRedirect(reverse("admin:feedback_inboundmessage_next"))

    # --- The page ---

    def render(self, sender: SenderForm, views, *, status: int = 200) -> HttpResponse:
        message = self.message
        earlier = []
        if self.may_sort and message.sender_email:
            # The same sender's earlier submissions: a message sent twice is one click from "duplicate".
            earlier = list(
                Submission.objects.filter(message__sender_email__iexact=message.sender_email)
                .order_by("-received_at")
                .values_list("reference", flat=True)[:5]
            )
        context = {
            **self.admin.admin_site.each_context(self.request),
            "opts": self.admin.opts,
            "title": message.subject or "(no subject)",
            "message": message,
            "attachments": message.attachments.defer("content"),
            "personal": self.personal,
            "call_closed_at": closes if (closes := call.window().closes) and message.arrived_at >= closes else None,
            "may_sort": self.may_sort,
            "sender_form": sender,
            "views": views,
            "reasons": sorting.NOT_A_VIEW_REASONS,
            "earlier": earlier,
            "waiting": InboundMessage.objects.to_sort().count(),
            "proposal": self.proposal() if self.may_sort else None,
        }
        return TemplateResponse(self.request, "admin/feedback/inboundmessage/sort.html", context, status=status)

    def proposal(self) -> str:
        """The machine's guess at the element (and level) of the message as a whole, in words."""
        guessed = suggestions.propose(self.message.text)
        if "element" not in guessed:
            return ""
        element, sure = guessed["element"]
        words = f"{Element(element).label} ({sure:.0%} sure)"
        if "level" in guessed:
            level, sure = guessed["level"]
            words += f", {Level(level).label.split(',')[0].lower()} ({sure:.0%} sure)"
        return words
