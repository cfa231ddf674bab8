"""
Submissions in the workspace: the list (filters, search, status actions),
each submission's page with its views and notes, and exports of exactly what
the list shows.

Respondents' names and email addresses are shown only to those with the
"view personal details" permission, and each time they are shown it is
recorded. Nobody deletes submissions through the admin.
"""

import re

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import SEARCH_VAR, ChangeList
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.db.models import Count, OuterRef, QuerySet, StringAgg, Subquery, Value
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from .. import audit, background_exports, exports, imports
from ..models import (
    REFERENCE_ALPHABET,
    AuditAction,
    Element,
    EmailKind,
    Export,
    ExportStatus,
    InboundMessage,
    Level,
    Note,
    OutgoingEmail,
    Principle,
    Source,
    Status,
    Submission,
    ThemeTag,
    View,
    confirmed_tags,
    normalise_reference,
)
from ..questions import question_asked
from ..search import ranked_matches, relevance, submissions_matching
from .base import CappedChoicesFilter, CappedPaginator, LabelledTabularInline, WorkspaceAdmin
from .filters import (
    AckProblemFilter,
    CampaignFilter,
    ChangedFilter,
    DigestFilter,
    ElementFilter,
    LateFilter,
    LevelFilter,
    OrganisationFilter,
    QuotableFilter,
    ReceivedFilter,
    RespondingAsFilter,
    StanceFilter,
    ThemeFilter,
    UnthemedFilter,
)

PERSONAL_FIELDS = ["name", "email"]
REFERENCE = re.compile(rf"[{REFERENCE_ALPHABET}]{{3}}-[{REFERENCE_ALPHABET}]{{3}}-[{REFERENCE_ALPHABET}]{{3}}")
IMPORT_PERMISSION = "feedback.import_submissions"
MAX_IMPORT_BYTES = 20 * 1024 * 1024


class ImportForm(forms.Form):
    file = forms.FileField(
        label="Spreadsheet (.csv or .xlsx)",
        help_text="One row per view; rows with the same response id make one submission.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.xlsx"}),
    )
    check_only = forms.BooleanField(label="Only check the rows; save nothing", required=False)

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_IMPORT_BYTES:
            raise forms.ValidationError(f"Choose a file smaller than {MAX_IMPORT_BYTES // 1024 // 1024} MB.")
        return upload


# --- Submissions -------------------------------------------------------------


def tag_label(tag: ThemeTag) -> str:
    if not tag.is_confirmed:
        return f"{tag} (suggested, not yet confirmed)"
    return f"{tag} (to read again: the respondent changed the view)" if tag.to_review else str(tag)


class ViewInline(admin.StackedInline):
    model = View
    extra = 0
    max_num = 0
    can_delete = False
    fields = ["element", "level", "question", "text", "example", "themes", "versions"]
    readonly_fields = fields
    show_change_link = True
    verbose_name_plural = "views (open a view to tag its themes)"

    @admin.display(description="changed by the respondent")
    def versions(self, view: View) -> str:
        if view.version == 1:
            return "No: as it was sent."
        earlier = format_html_join(
            "",
            "<li>Version {} (given {}, replaced {}){}: {}</li>",
            (
                (
                    old.version,
                    timezone.localtime(old.given_at).strftime("%d %b %Y %H:%M"),
                    timezone.localtime(old.replaced_at).strftime("%d %b %Y %H:%M"),
                    f", {old.get_level_display().lower()}" if old.level else "",
                    old.text,
                )
                for old in view.earlier_versions.all()
            ),
        )
        changed = timezone.localtime(view.changed_at).strftime("%d %b %Y %H:%M")
        return format_html("Version {}, changed on {}. Earlier:<ul>{}</ul>", view.version, changed, earlier)

    @admin.display(description="themes")
    def themes(self, view: View) -> str:
        return ", ".join(tag_label(tag) for tag in view.tags.all()) or "None yet"

    @admin.display(description="question asked")
    def question(self, view: View) -> str:
        return question_asked(view)


class NoteForm(forms.ModelForm):
    class Meta:
        model = Note
        fields = ["text"]
        widgets = {"text": forms.Textarea(attrs={"rows": 3})}


class NoteInline(LabelledTabularInline):
    """Notes are added, never edited or deleted: who wrote what, and when, stays."""

    model = Note
    form = NoteForm
    extra = 1
    can_delete = False
    fields = ["text", "author_name", "created_at"]
    readonly_fields = ["author_name", "created_at"]
    verbose_name_plural = "internal notes"

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_add_permission(self, request, obj=None) -> bool:
        # A withdrawn submission keeps nothing but its reference: no notes either.
        return super().has_add_permission(request, obj) and not (obj is not None and obj.withdrawn)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields

    @admin.display(description="author")
    def author_name(self, note: Note) -> str:
        return note.author.get_full_name() or note.author.get_username() if note.author else ""


# Between the codes or names of one aggregated column: a character none of them holds.
APART = "\x1f"


class SubmissionChangeList(ChangeList):
    """
    The list of submissions, with what it shows of each one's views (their
    elements, levels and themes) worked out in the page's own query, a
    subquery for each of the page's rows, rather than fetched as views and
    tags and matched up in Python. It never reads the views' text.
    """

    def get_queryset(self, request, exclude_parameters=None):
        views = View.objects.filter(submission=OuterRef("pk")).order_by().values("submission")
        tags = ThemeTag.objects.filter(view__submission=OuterRef("pk")).order_by().values("view__submission")
        return (
            super()
            .get_queryset(request, exclude_parameters)
            .annotate(
                listed_elements=Subquery(views.annotate(codes=StringAgg("element", Value(APART))).values("codes")),
                listed_levels=Subquery(views.annotate(codes=StringAgg("level", Value(APART))).values("codes")),
                listed_themes=Subquery(
                    tags.filter(confirmed_tags())
                    .annotate(names=StringAgg("theme__name", Value(APART)))
                    .values("names")
                ),
                suggested_themes=Subquery(
                    tags.exclude(confirmed_tags()).annotate(themes=Count("theme", distinct=True)).values("themes")
                ),
            )
        )


def _listed(codes_or_names: str | None) -> set[str]:
    return set(filter(None, (codes_or_names or "").split(APART)))


@admin.register(Submission)
class SubmissionAdmin(WorkspaceAdmin):
    list_display = [
        "reference",
        "received_at",
        "element_list",
        "level_list",
        "region",
        "organisation_type",
        "role",
        "status",
        "theme_list",
    ]
    list_filter = [
        ("status", CappedChoicesFilter),
        ElementFilter,
        LevelFilter,
        ("region", CappedChoicesFilter),
        ("organisation_type", CappedChoicesFilter),
        OrganisationFilter,
        RespondingAsFilter,
        ("role", CappedChoicesFilter),
        ReceivedFilter,
        ("source", CappedChoicesFilter),
        ThemeFilter,
        StanceFilter,
        UnthemedFilter,
        ChangedFilter,
        CampaignFilter,
        QuotableFilter,
        DigestFilter,
        LateFilter,
        AckProblemFilter,
    ]
    # The search itself is get_search_results; this only shows the box.
    search_fields = ["organisation"]
    search_help_text = (
        'Search views\' text, or type a reference number. Words match in any form; "quoted words" together; '
        'a or b for either; -word to leave out. Newest first: sort by "match" for the closest first. '
        "Organisations have their own filter."
    )
    ordering = ["-received_at"]
    list_per_page = 50
    # A count of the whole table on every page is slow at a million rows;
    # a filtered list counts up to CappedPaginator.CAP, a searched one to its SEARCH_CAP.
    show_full_result_count = False
    inlines = [ViewInline, NoteInline]
    actions = ["mark_read", "mark_flagged", "mark_actioned", "mark_new", "retry_acknowledgement"]
    change_list_template = "admin/feedback/submission/change_list.html"
    personal_fields = tuple(PERSONAL_FIELDS)
    readonly_fields = [
        "reference",
        "received_at",
        "source",
        "name",
        "email",
        "role",
        "organisation",
        "on_behalf_of_organisation",
        "organisation_type",
        "region",
        "principle_list",
        "consent_to_quote",
        "consent_to_share",
        "consent_to_contact",
        "status_history",
        "acknowledgement",
        "original_message",
    ]

    def get_fieldsets(self, request, obj=None):
        respondent = ["role", "organisation", "on_behalf_of_organisation", "organisation_type", "region"]
        if self.can_see_personal_details(request):
            respondent = PERSONAL_FIELDS + respondent
        first = ["reference", "status", "received_at", "source", "original_message"]
        if obj is not None and obj.withdrawn:
            first.insert(2, "withdrawn_at")
        return [
            (None, {"fields": first}),
            ("Respondent", {"fields": respondent}),
            (
                "Principles and consents",
                {"fields": ["principle_list", "consent_to_quote", "consent_to_share", "consent_to_contact"]},
            ),
            ("Status history", {"fields": ["status_history"]}),
            ("Acknowledgement email", {"classes": ["collapse"], "fields": ["acknowledgement"]}),
        ]

    def get_readonly_fields(self, request, obj=None):
        # A withdrawn submission is a tombstone: nobody changes it, its status least of all.
        if obj is not None and obj.withdrawn:
            return [*self.readonly_fields, "status", "withdrawn_at"]
        return self.readonly_fields

    def formfield_for_choice_field(self, db_field, request, **kwargs):
        if db_field.name == "status":
            # Only the respondent withdraws a submission (from their own page).
            kwargs["choices"] = [(code, label) for code, label in Status.choices if code != Status.WITHDRAWN]
        return super().formfield_for_choice_field(db_field, request, **kwargs)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # How closely each submission matches the list's search (0 without one): the "match"
        # column, and the list's order when a reviewer sorts by it (the admin orders before it searches).
        term = request.GET.get(SEARCH_VAR, "")
        return super().get_queryset(request).annotate(relevance=relevance(term))

    def get_changelist(self, request: HttpRequest, **kwargs) -> type[ChangeList]:
        return SubmissionChangeList

    def get_list_display(self, request: HttpRequest):
        # A search adds how closely each submission matches: sorting by it puts the closest first.
        if request.GET.get(SEARCH_VAR, "").strip():
            return [*self.list_display, "match"]
        return self.list_display

    def get_search_results(self, request, queryset, search_term):
        """A reference number finds its submission; anything else searches views' text."""
        term = search_term.strip()
        if not term:
            return queryset, False
        if REFERENCE.fullmatch(normalise_reference(term)):
            return queryset.filter(reference=normalise_reference(term)), False
        if connection.vendor == "postgresql" and {"relevance", "-relevance"} & set(queryset.query.order_by):
            # Sorted by match: every match is ranked, so rank them in one pass.
            return ranked_matches(queryset, term), False
        return queryset.filter(submissions_matching(term)), False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        searched = bool(request.GET.get(SEARCH_VAR, "").strip())
        cap = CappedPaginator.SEARCH_CAP if searched else CappedPaginator.CAP
        return CappedPaginator(queryset, per_page, orphans, allow_empty_first_page, cap=cap)

    def can_see_personal_details(self, request: HttpRequest) -> bool:
        return request.user.has_perm("feedback.view_personal_details")

    # Columns

    @admin.display(description="elements")
    def element_list(self, submission: Submission) -> str:
        codes = _listed(submission.listed_elements)
        return ", ".join(label for code, label in Element.choices if code in codes)

    @admin.display(description="level")
    def level_list(self, submission: Submission) -> str:
        codes = _listed(submission.listed_levels)
        return ", ".join(label for code, label in Level.choices if code in codes) or "-"

    @admin.display(description="themes")
    def theme_list(self, submission: Submission) -> str:
        names = sorted(_listed(submission.listed_themes))
        if submission.suggested_themes:
            names.append(f"{submission.suggested_themes} suggested")
        return ", ".join(names) or "-"

    @admin.display(description="match", ordering="-relevance")
    def match(self, submission: Submission) -> str:
        return f"{submission.relevance:.3f}" if submission.relevance else "-"

    @admin.display(description="principles")
    def principle_list(self, submission: Submission) -> str:
        return ", ".join(Principle(code).label for code in submission.principles) or "None given"

    @admin.display(description="changes")
    def status_history(self, submission: Submission) -> str:
        events = submission.audit_events.filter(action=AuditAction.STATUS_CHANGED).order_by("at")
        rows = format_html_join(
            "",
            "<li>{}: {} to {} by {}</li>",
            (
                (
                    timezone.localtime(event.at).strftime("%d %b %Y %H:%M"),
                    Status(event.detail["from"]).label,
                    Status(event.detail["to"]).label,
                    event.actor_username or "the system",
                )
                for event in events
            ),
        )
        return format_html("<ul>{}</ul>", rows) if rows else "Not changed since it arrived."

    @admin.display(description="acknowledgement")
    def acknowledgement(self, submission: Submission) -> str:
        email = submission.emails.filter(kind__in=[EmailKind.ACKNOWLEDGEMENT, EmailKind.MAIL_REPLY]).first()
        if email is None:
            if submission.source == Source.IMPORT:
                return "None: imported responses are not acknowledged."
            return "None: no email address was given."
        text = f"{email.get_status_display()} after {email.attempts} attempt(s)"
        if email.last_error:
            text += f". Last error: {email.last_error}"
        return text

    @admin.display(description="sent as")
    def original_message(self, submission: Submission) -> str:
        message = InboundMessage.objects.filter(submission=submission).only("pk", "subject").first()
        if message is None:
            return "Web form" if submission.source == Source.WEB else "Spreadsheet import"
        url = reverse("admin:feedback_inboundmessage_change", args=[message.pk])
        return format_html('The email <a href="{}">{}</a>', url, message.subject or "(no subject)")

    # Pages

    def change_view(self, request, object_id, form_url="", extra_context=None):
        submission = self.get_object(request, object_id)
        if submission is not None and request.method == "GET":
            if self.can_see_personal_details(request) and (submission.name or submission.email):
                audit.record(AuditAction.VIEWED_PERSONAL_DETAILS, request=request, submission=submission)
            if self.has_change_permission(request, submission):
                submission.open(**audit.who(request))
        return super().change_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj: Submission, form, change) -> None:
        # The status is the only field of a submission anyone changes here.
        if change and "status" in form.changed_data:
            Submission.objects.get(pk=obj.pk).set_status(obj.status, **audit.who(request))

    def save_formset(self, request, form, formset, change) -> None:
        notes = formset.save(commit=False)
        for note in notes:
            if isinstance(note, Note):
                note.author = request.user
                note.save()
                audit.record(AuditAction.NOTE_ADDED, request=request, submission=note.submission)
            else:
                note.save()
        formset.save_m2m()

    # Status actions: one line each, through the same recorded change.

    @admin.action(description="Mark selected as read", permissions=["change"])
    def mark_read(self, request, queryset):
        self.message_user(request, f"{queryset.set_status(Status.READ, **audit.who(request))} marked as read.")

    @admin.action(description="Flag selected", permissions=["change"])
    def mark_flagged(self, request, queryset):
        self.message_user(request, f"{queryset.set_status(Status.FLAGGED, **audit.who(request))} flagged.")

    @admin.action(description="Mark selected as actioned", permissions=["change"])
    def mark_actioned(self, request, queryset):
        self.message_user(request, f"{queryset.set_status(Status.ACTIONED, **audit.who(request))} marked as actioned.")

    @admin.action(description="Mark selected as new (unread)", permissions=["change"])
    def mark_new(self, request, queryset):
        self.message_user(request, f"{queryset.set_status(Status.NEW, **audit.who(request))} marked as new.")

    @admin.action(description="Try the acknowledgement email again", permissions=["change"])
    def retry_acknowledgement(self, request, queryset):
        emails = OutgoingEmail.objects.filter(kind=EmailKind.ACKNOWLEDGEMENT, submission__in=queryset)
        count = emails.send_again(now=timezone.now())
        self.message_user(request, f"{count} acknowledgement email(s) will be tried again within a few minutes.")

    # Exports of exactly what the list shows, filters and search included.

    def get_urls(self):
        export = self.admin_site.admin_view(self.export_view)
        return [
            path("export/<str:file_format>/", export, name="feedback_submission_export"),
            path(
                "exports/<uuid:pk>/",
                self.admin_site.admin_view(self.export_status_view),
                name="feedback_submission_export_status",
            ),
            path(
                "exports/<uuid:pk>/download/",
                self.admin_site.admin_view(self.export_download_view),
                name="feedback_submission_export_download",
            ),
            path("import/", self.admin_site.admin_view(self.import_view), name="feedback_submission_import"),
            path(
                "import/template.csv",
                self.admin_site.admin_view(self.import_template_view),
                name="feedback_submission_import_template",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = extra_context or {}
        extra_context["can_export"] = request.user.has_perm("feedback.export_submissions")
        extra_context["can_import"] = request.user.has_perm(IMPORT_PERMISSION)
        return super().changelist_view(request, extra_context)

    def import_view(self, request: HttpRequest) -> HttpResponse:
        """Upload a spreadsheet of responses: checked row by row, saved only if every row is right."""
        if not request.user.has_perm(IMPORT_PERMISSION):
            raise PermissionDenied
        form = ImportForm(request.POST or None, request.FILES or None)
        result = None
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                result = imports.import_responses(upload.name, upload.read(), dry_run=form.cleaned_data["check_only"])
            except imports.ImportRefused as error:
                form.add_error("file", str(error))
            else:
                if result.saved:
                    audit.record(
                        AuditAction.RESPONSES_IMPORTED,
                        request=request,
                        file=upload.name[:200],
                        responses=result.responses,
                        views=result.views,
                        skipped=result.already_imported,
                    )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Import responses from a spreadsheet",
            "form": form,
            "result": result,
            "columns": imports.COLUMNS,
        }
        return TemplateResponse(request, "admin/feedback/submission/import.html", context)

    def import_template_view(self, request: HttpRequest) -> HttpResponse:
        if not request.user.has_perm(IMPORT_PERMISSION):
            raise PermissionDenied
        response = HttpResponse(imports.template_csv(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="qipp-responses-template.csv"'
        return response

    def export_view(self, request: HttpRequest, file_format: str) -> HttpResponse:
        if not request.user.has_perm("feedback.export_submissions") or file_format not in ("csv", "xlsx"):
            raise PermissionDenied
        submissions = self.get_changelist_instance(request).get_queryset(request)
        include_personal = self.can_see_personal_details(request)
        # Counted only as far as deciding takes: a large selection is counted by the worker.
        rows = exports.count_rows(submissions, up_to=exports.IMMEDIATE_ROWS)
        back = reverse("admin:feedback_submission_changelist") + "?" + request.GET.urlencode()
        if file_format == "xlsx" and rows > exports.XLSX_MAX_ROWS:
            self.message_user(
                request,
                f"This selection has {rows:,} views, more than a spreadsheet sheet holds "
                f"({exports.XLSX_MAX_ROWS:,}). Narrow it with the filters, or export CSV.",
                messages.ERROR,
            )
            return HttpResponseRedirect(back)
        background = rows > exports.IMMEDIATE_ROWS
        with transaction.atomic():
            export = None
            if background:
                export = background_exports.request_export(
                    user=request.user,
                    file_format=file_format,
                    query=request.GET.urlencode(),
                    include_personal=include_personal,
                )
            audit.record(
                AuditAction.EXPORTED,
                request=request,
                format=file_format,
                rows=f"more than {exports.IMMEDIATE_ROWS:,}" if background else rows,
                # Filters on personal details are named, never their values.
                filters={
                    key: ["(personal details)"] if self.is_personal_lookup(key) else request.GET.getlist(key)
                    for key in request.GET
                },
                personal_details=include_personal,
                **({"export": str(export.pk)} if export else {}),
            )
        if export:
            return HttpResponseRedirect(background_exports.status_url(export))
        if file_format == "csv":
            return exports.csv_response(submissions, include_personal=include_personal)
        return exports.xlsx_response(submissions, include_personal=include_personal)

    def _own_export(self, request: HttpRequest, pk) -> Export:
        """An export is opened only by the person who asked for it: anyone else finds nothing there."""
        if not request.user.has_perm("feedback.export_submissions"):
            raise PermissionDenied
        return get_object_or_404(Export, pk=pk, requested_by=request.user)

    def export_status_view(self, request: HttpRequest, pk) -> HttpResponse:
        export = self._own_export(request, pk)
        context = {
            **self.admin_site.each_context(request),
            "title": "Your export",
            "export": export,
            "working": export.status in (ExportStatus.QUEUED, ExportStatus.RUNNING),
            "opts": self.opts,
        }
        return TemplateResponse(request, "admin/feedback/submission/export_status.html", context)

    def export_download_view(self, request: HttpRequest, pk) -> HttpResponse:
        export = self._own_export(request, pk)
        if export.status != ExportStatus.READY or export.expires_at <= timezone.now():
            raise Http404("This export is not ready, or was deleted after 24 hours.")
        if export.include_personal and not self.can_see_personal_details(request):
            # Made while they could see names and email addresses; they no longer may.
            raise PermissionDenied
        filename = f"qipp-submissions-{timezone.localtime(export.finished_at):%Y-%m-%d-%H%M}.{export.file_format}"
        return FileResponse(
            background_exports.storage().open(export.file, "rb"), as_attachment=True, filename=filename
        )
