"""
The policy team's workspace: triage, themes, notes, exports and the audit log.

Respondents' names and email addresses are shown only to those with the
"view personal details" permission, and each time they are shown it is
recorded. Nobody deletes submissions or audit entries through the admin.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Exists, F, OuterRef, Prefetch, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.text import capfirst

from . import audit, exports, periods
from .admin_filters import SendingProblemFilter
from .admin_guard import WorkspaceAdmin
from .models import (
    AuditAction,
    AuditEvent,
    Digest,
    Element,
    Level,
    Note,
    Principle,
    Stance,
    Status,
    Submission,
    Theme,
    ThemeTag,
    View,
    normalise_reference,
)

PERSONAL_FIELDS = ["name", "email"]


# --- Filters -----------------------------------------------------------------
# Each filter on a view's fields is an EXISTS subquery: a submission with two
# matching views is listed once, without a DISTINCT over the whole table.


class ViewExistsFilter(admin.SimpleListFilter):
    field: str

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        return queryset.filter(Exists(View.objects.filter(submission=OuterRef("pk"), **{self.field: self.value()})))


class ElementFilter(ViewExistsFilter):
    title = "element"
    parameter_name = "element"
    field = "element"

    def lookups(self, request, model_admin):
        return Element.choices


class LevelFilter(ViewExistsFilter):
    title = "level (prioritisation)"
    parameter_name = "level"
    field = "level"

    def lookups(self, request, model_admin):
        return Level.choices


class ThemeFilter(admin.SimpleListFilter):
    """Tags a person stands behind, as digests count them (not unconfirmed suggestions)."""

    title = "theme"
    parameter_name = "theme"

    def lookups(self, request, model_admin):
        return [(theme.pk, f"{Element(theme.element).label}: {theme}") for theme in Theme.objects.all()]

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        if not str(self.value()).isdigit():
            return queryset.none()
        tags = ThemeTag.objects.confirmed().filter(view__submission=OuterRef("pk"), theme_id=self.value())
        return queryset.filter(Exists(tags))


class ReceivedFilter(admin.SimpleListFilter):
    """By ISO week (Europe/London), as digests count: this week, last week, or any `?received=2026-W47`."""

    title = "received"
    parameter_name = "received"

    def lookups(self, request, model_admin):
        this_week = periods.week_of(timezone.now())
        return [
            (this_week.label, "This week"),
            (this_week.previous().label, "Last week"),
            ("last-4-weeks", "Last 4 weeks"),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        if value == "last-4-weeks":
            start = periods.week_of(timezone.now()).start - periods.WEEK * 3
            return queryset.filter(received_at__gte=start)
        try:
            week = periods.Week.parse(value)
        except ValueError:
            return queryset.none()
        return queryset.received_between(week.start, week.end)


class DigestFilter(admin.SimpleListFilter):
    """The submissions a digest counted: every figure in a digest links here."""

    title = "digest"
    parameter_name = "digest"

    def lookups(self, request, model_admin):
        return [(digest.pk, str(digest)) for digest in Digest.objects.compiled()[:12]]

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        return queryset.filter(digest_id=self.value()) if str(self.value()).isdigit() else queryset.none()


class LateFilter(admin.SimpleListFilter):
    title = "arrived late for a digest"
    parameter_name = "late"

    def lookups(self, request, model_admin):
        return [("yes", "Counted by a later digest")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(received_at__lt=F("digest__period_start"))
        return queryset


class StanceFilter(admin.SimpleListFilter):
    """A stance on any theme, or, with the theme filter, on that theme."""

    title = "stance"
    parameter_name = "stance"

    def lookups(self, request, model_admin):
        return Stance.choices

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        tags = ThemeTag.objects.confirmed().filter(view__submission=OuterRef("pk"), stance=self.value())
        if request.GET.get("theme", "").isdigit():
            tags = tags.filter(theme_id=request.GET["theme"])
        return queryset.filter(Exists(tags))


class QuotableFilter(admin.SimpleListFilter):
    title = "may be quoted"
    parameter_name = "quotable"

    def lookups(self, request, model_admin):
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(consent_to_quote=self.value() == "yes")
        return queryset


class AckProblemFilter(SendingProblemFilter):
    title = "acknowledgement problems"
    parameter_name = "ack_problem"


class LabelledTabularInline(admin.TabularInline):
    """
    A tabular inline whose inputs have names for assistive technology: the
    stock template heads each column with the field's name, but the inputs
    beneath it have no label of their own.
    """

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if field is not None:
            field.widget.attrs.setdefault("aria-label", capfirst(db_field.verbose_name))
        return field


# --- Submissions -------------------------------------------------------------


def tag_label(tag: ThemeTag) -> str:
    return str(tag) if tag.is_confirmed else f"{tag} (suggested, not yet confirmed)"


class ViewInline(admin.StackedInline):
    model = View
    extra = 0
    max_num = 0
    can_delete = False
    fields = ["element", "level", "text", "themes"]
    readonly_fields = fields
    show_change_link = True
    verbose_name_plural = "views (open a view to tag its themes)"

    @admin.display(description="themes")
    def themes(self, view: View) -> str:
        return ", ".join(tag_label(tag) for tag in view.tags.all()) or "None yet"


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

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields

    @admin.display(description="author")
    def author_name(self, note: Note) -> str:
        return note.author.get_full_name() or note.author.get_username() if note.author else ""


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
        "status",
        ElementFilter,
        LevelFilter,
        "region",
        "organisation_type",
        "role",
        ReceivedFilter,
        "source",
        ThemeFilter,
        StanceFilter,
        QuotableFilter,
        DigestFilter,
        LateFilter,
        AckProblemFilter,
    ]
    # The search itself is get_search_results; this only shows the box.
    search_fields = ["organisation"]
    search_help_text = "Search views' text, organisations and reference numbers."
    ordering = ["-received_at"]
    list_per_page = 50
    # A count of the whole table on every page is slow at a million rows.
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
        "organisation_type",
        "region",
        "principle_list",
        "consent_to_quote",
        "consent_to_contact",
        "status_history",
        "acknowledgement",
    ]

    def get_fieldsets(self, request, obj=None):
        respondent = ["role", "organisation", "organisation_type", "region"]
        if self.can_see_personal_details(request):
            respondent = PERSONAL_FIELDS + respondent
        return [
            (None, {"fields": ["reference", "status", "received_at", "source"]}),
            ("Respondent", {"fields": respondent}),
            ("Principles and consents", {"fields": ["principle_list", "consent_to_quote", "consent_to_contact"]}),
            ("Status history", {"fields": ["status_history"]}),
            ("Acknowledgement email", {"classes": ["collapse"], "fields": ["acknowledgement"]}),
        ]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # The list shows each view's element, level and themes, never its text:
        # fifty submissions' views can hold megabytes of it.
        views = (
            View.objects.only("pk", "submission_id", "position", "element", "level")
            .order_by("position")
            .prefetch_related("tags__theme")
        )
        return super().get_queryset(request).prefetch_related(Prefetch("views", queryset=views))

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        in_views = View.objects.filter(submission=OuterRef("pk"), text__icontains=term)
        matches = Q(organisation__icontains=term) | Q(Exists(in_views)) | Q(reference=normalise_reference(term))
        return queryset.filter(matches), False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def can_see_personal_details(self, request: HttpRequest) -> bool:
        return request.user.has_perm("feedback.view_personal_details")

    # Columns

    @admin.display(description="elements")
    def element_list(self, submission: Submission) -> str:
        return ", ".join(submission.elements)

    @admin.display(description="level")
    def level_list(self, submission: Submission) -> str:
        levels = {view.level for view in submission.views.all() if view.level}
        return ", ".join(label for code, label in Level.choices if code in levels) or "-"

    @admin.display(description="themes")
    def theme_list(self, submission: Submission) -> str:
        tags = [tag for view in submission.views.all() for tag in view.tags.all()]
        names = sorted({tag.theme.name for tag in tags if tag.is_confirmed})
        suggested = len({tag.theme_id for tag in tags if not tag.is_confirmed})
        if suggested:
            names.append(f"{suggested} suggested")
        return ", ".join(names) or "-"

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
        text = f"{submission.get_ack_status_display()} after {submission.ack_attempts} attempt(s)"
        if submission.ack_last_error:
            text += f". Last error: {submission.ack_last_error}"
        return text

    # Pages

    def change_view(self, request, object_id, form_url="", extra_context=None):
        submission = self.get_object(request, object_id)
        if submission is not None and request.method == "GET":
            if self.can_see_personal_details(request) and (submission.name or submission.email):
                audit.record(AuditAction.VIEWED_PERSONAL_DETAILS, request=request, submission=submission)
            if submission.status == Status.NEW and self.has_change_permission(request, submission):
                # Opening a new submission is reading it, as in a mailbox.
                self._set_status(request, Submission.objects.filter(pk=submission.pk), Status.READ)
        return super().change_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj: Submission, form, change) -> None:
        if change and "status" in form.changed_data:
            previous = form.initial["status"]
            super().save_model(request, obj, form, change)
            audit.record(
                AuditAction.STATUS_CHANGED, request=request, submission=obj, **{"from": previous, "to": obj.status}
            )
        elif form.changed_data:
            super().save_model(request, obj, form, change)

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

    def _set_status(self, request: HttpRequest, queryset: QuerySet, status: Status) -> int:
        changed = 0
        for submission in queryset.exclude(status=status).only("pk", "reference", "status"):
            previous = submission.status
            if Submission.objects.filter(pk=submission.pk, status=previous).update(status=status):
                changed += 1
                audit.record(
                    AuditAction.STATUS_CHANGED,
                    request=request,
                    submission=submission,
                    **{"from": previous, "to": status},
                )
        return changed

    @admin.action(description="Mark selected as read", permissions=["change"])
    def mark_read(self, request, queryset):
        self.message_user(request, f"{self._set_status(request, queryset, Status.READ)} marked as read.")

    @admin.action(description="Flag selected", permissions=["change"])
    def mark_flagged(self, request, queryset):
        self.message_user(request, f"{self._set_status(request, queryset, Status.FLAGGED)} flagged.")

    @admin.action(description="Mark selected as actioned", permissions=["change"])
    def mark_actioned(self, request, queryset):
        self.message_user(request, f"{self._set_status(request, queryset, Status.ACTIONED)} marked as actioned.")

    @admin.action(description="Mark selected as new (unread)", permissions=["change"])
    def mark_new(self, request, queryset):
        self.message_user(request, f"{self._set_status(request, queryset, Status.NEW)} marked as new.")

    @admin.action(description="Try the acknowledgement email again", permissions=["change"])
    def retry_acknowledgement(self, request, queryset):
        count = Submission.objects.retry_acknowledgements(queryset.values("pk"), now=timezone.now())
        self.message_user(request, f"{count} acknowledgement email(s) will be tried again within a few minutes.")

    # Exports of exactly what the list shows, filters and search included.

    def get_urls(self):
        export = self.admin_site.admin_view(self.export_view)
        return [path("export/<str:file_format>/", export, name="feedback_submission_export"), *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        extra_context = extra_context or {}
        extra_context["can_export"] = request.user.has_perm("feedback.export_submissions")
        return super().changelist_view(request, extra_context)

    def export_view(self, request: HttpRequest, file_format: str) -> HttpResponse:
        if not request.user.has_perm("feedback.export_submissions") or file_format not in ("csv", "xlsx"):
            raise PermissionDenied
        submissions = self.get_changelist_instance(request).get_queryset(request)
        include_personal = self.can_see_personal_details(request)
        rows = exports.count_rows(submissions)
        back = reverse("admin:feedback_submission_changelist") + "?" + request.GET.urlencode()
        if file_format == "xlsx" and rows > exports.XLSX_MAX_ROWS:
            self.message_user(
                request,
                f"This selection has {rows:,} views, more than a spreadsheet sheet holds "
                f"({exports.XLSX_MAX_ROWS:,}). Narrow it with the filters, or export CSV.",
                messages.ERROR,
            )
            return HttpResponseRedirect(back)
        audit.record(
            AuditAction.EXPORTED,
            request=request,
            format=file_format,
            rows=rows,
            # Filters on personal details are named, never their values.
            filters={
                key: ["(personal details)"] if self.is_personal_lookup(key) else request.GET.getlist(key)
                for key in request.GET
            },
            personal_details=include_personal,
        )
        if file_format == "csv":
            return exports.csv_response(submissions, include_personal=include_personal)
        return exports.xlsx_response(submissions, include_personal=include_personal)


# --- Views and their themes --------------------------------------------------


class ThemeTagInline(LabelledTabularInline):
    model = ThemeTag
    extra = 1
    fields = ["theme", "stance", "assigned"]
    readonly_fields = ["assigned"]
    verbose_name = "theme"
    verbose_name_plural = "themes"

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "theme":
            view = getattr(request, "_tagging_view", None)
            themes = Theme.objects.active()
            kwargs["queryset"] = themes.for_element(view.element) if view else themes
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description="assigned by")
    def assigned(self, tag: ThemeTag) -> str:
        if tag.pk is None:
            return "you, when saved"
        if tag.assigned_by:
            return tag.assigned_by.get_username()
        if tag.confirmed_by:
            return f"suggested, confirmed by {tag.confirmed_by.get_username()}"
        return "suggested (not yet confirmed)"


@admin.register(View)
class ViewAdmin(WorkspaceAdmin):
    """A view's page, reached from its submission: where reviewers tag themes."""

    fields = ["submission_link", "element", "level", "text"]
    readonly_fields = fields
    inlines = [ThemeTagInline]

    def get_model_perms(self, request):
        # Reached from submissions, not listed on its own.
        return {}

    def changelist_view(self, request, extra_context=None):
        return HttpResponseRedirect(reverse("admin:feedback_submission_changelist"))

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_object(self, request, object_id, from_field=None):
        view = super().get_object(request, object_id, from_field)
        request._tagging_view = view
        return view

    @admin.display(description="submission")
    def submission_link(self, view: View) -> str:
        url = reverse("admin:feedback_submission_change", args=[view.submission_id])
        return format_html('<a href="{}">{}</a>', url, view.submission.reference)

    def save_formset(self, request, form, formset, change) -> None:
        before = {tag.pk: str(tag) for tag in formset.queryset}
        tags = formset.save(commit=False)
        for tag in tags:
            if tag.pk is None:
                tag.assigned_by = request.user
            elif tag.assigned_by is None and tag.confirmed_by is None:
                tag.confirmed_by = request.user
            tag.save()
        for tag in formset.deleted_objects:
            tag.delete()
        if tags or formset.deleted_objects:
            view = form.instance
            audit.record(
                AuditAction.THEMES_CHANGED,
                request=request,
                submission=view.submission,
                view=view.position,
                before=sorted(before.values()),
                after=sorted(str(tag) for tag in view.tags.select_related("theme")),
            )


# --- The theme codebook ------------------------------------------------------


class MergeForm(forms.Form):
    target = forms.ModelChoiceField(queryset=Theme.objects.none(), label="Merge into")

    def __init__(self, *args, element: str, exclude: list[int], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["target"].queryset = Theme.objects.active().for_element(element).exclude(pk__in=exclude)


@admin.register(Theme)
class ThemeAdmin(WorkspaceAdmin):
    list_display = ["name", "element", "tag_count", "suggested_count", "state"]
    list_filter = ["element", ("retired_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "description"]
    fields = ["element", "name", "description", "state"]
    readonly_fields = ["state"]
    actions = ["retire", "restore", "merge"]

    def get_queryset(self, request):
        confirmed = Q(tags__assigned_by__isnull=False) | Q(tags__confirmed_by__isnull=False)
        return (
            super()
            .get_queryset(request)
            .select_related("merged_into")
            .annotate(tag_total=Count("tags", filter=confirmed), suggested=Count("tags", filter=~confirmed))
        )

    def get_readonly_fields(self, request, obj=None):
        # The element of a theme in use never changes: its tags would fall out of step.
        return ["state", "element"] if obj else ["state"]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    @admin.display(description="views tagged", ordering="tag_total")
    def tag_count(self, theme: Theme) -> int:
        return theme.tag_total

    @admin.display(description="suggested, not yet confirmed", ordering="suggested")
    def suggested_count(self, theme: Theme) -> int:
        return theme.suggested

    @admin.display(description="state")
    def state(self, theme: Theme) -> str:
        if theme.merged_into:
            return f"Merged into {theme.merged_into.name}"
        return "Retired" if theme.retired_at else "In use"

    @admin.action(description="Retire selected themes", permissions=["change"])
    def retire(self, request, queryset):
        count = queryset.filter(retired_at__isnull=True).update(retired_at=timezone.now())
        self.message_user(request, f"{count} theme(s) retired. Their tags stay on the views.")

    @admin.action(description="Bring selected themes back into use", permissions=["change"])
    def restore(self, request, queryset):
        count = queryset.filter(merged_into__isnull=True).update(retired_at=None)
        self.message_user(request, f"{count} theme(s) back in use.")

    @admin.action(description="Merge selected themes into another", permissions=["change"])
    def merge(self, request, queryset):
        elements = set(queryset.values_list("element", flat=True))
        if len(elements) != 1:
            self.message_user(request, "Choose themes of one element to merge.", messages.ERROR)
            return None
        selected = list(queryset)
        form = MergeForm(
            request.POST if "apply" in request.POST else None,
            element=elements.pop(),
            exclude=[theme.pk for theme in selected],
        )
        if form.is_valid():
            target = form.cleaned_data["target"]
            moved = sum(theme.merge_into(target, by=request.user) for theme in selected)
            self.message_user(request, f"Merged {len(selected)} theme(s) into {target.name}; {moved} tag(s) moved.")
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Merge themes",
            "themes": selected,
            "form": form,
            "opts": self.model._meta,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/feedback/theme/merge.html", context)


# --- The audit log -----------------------------------------------------------


@admin.register(AuditEvent)
class AuditEventAdmin(WorkspaceAdmin):
    list_display = ["at", "actor_username", "action", "reference", "summary", "ip_address"]
    list_filter = ["action", "at"]
    search_fields = ["actor_username", "reference"]
    date_hierarchy = "at"
    list_per_page = 100
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

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


# Digests, weekly emails and staff accounts have their own modules; importing them registers them.
from . import account_admin, digest_admin, weekly_admin  # noqa: E402, F401
