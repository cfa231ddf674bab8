"""
Themes in the workspace: tagging a view's themes (its own page, reached from
its submission) and the codebook of themes beneath each element.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.http import urlencode

from .. import audit
from ..models import (
    AuditAction,
    Theme,
    ThemeTag,
    View,
    confirmed_tags,
)
from .base import LabelledTabularInline, WorkspaceAdmin
from .workbench import WorkbenchPages

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
class ViewAdmin(WorkbenchPages, WorkspaceAdmin):
    """A view's page, reached from its submission, and the workbench where reviewers code views fast."""

    fields = ["submission_link", "element", "level", "text"]
    readonly_fields = fields
    inlines = [ThemeTagInline]

    def get_model_perms(self, request):
        # Reached from submissions and the workbench, not listed on its own.
        return {}

    def get_urls(self):
        return [*self.workbench_urls(), *super().get_urls()]

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
            tag.save()
            # Changing a machine's suggestion is standing behind it.
            tag.confirm(by=request.user)
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
        confirmed = confirmed_tags("tags__")
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
        self.message_user(request, f"{queryset.retire()} theme(s) retired. Their tags stay on the views.")

    @admin.action(description="Bring selected themes back into use", permissions=["change"])
    def restore(self, request, queryset):
        self.message_user(request, f"{queryset.restore()} theme(s) back in use.")

    @admin.action(description="Merge selected themes into another", permissions=["change"])
    def merge(self, request, queryset):
        ids = ",".join(str(pk) for pk in queryset.values_list("pk", flat=True))
        return HttpResponseRedirect(f"{reverse('admin:feedback_theme_merge')}?{urlencode({'ids': ids})}")

    def get_urls(self):
        return [
            path("merge/", self.admin_site.admin_view(self.merge_view), name="feedback_theme_merge"),
            *super().get_urls(),
        ]

    def merge_view(self, request: HttpRequest) -> HttpResponse:
        """Choose the theme to merge the selected ones into (the merge action leads here)."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        ids = [int(pk) for pk in request.GET.get("ids", "").split(",") if pk.isdigit() and len(pk) < 19]
        themes = Theme.objects.filter(pk__in=ids)
        elements = set(themes.values_list("element", flat=True))
        back = HttpResponseRedirect(reverse("admin:feedback_theme_changelist"))
        if len(elements) != 1:
            self.message_user(request, "Choose themes of one element to merge.", messages.ERROR)
            return back
        form = MergeForm(request.POST or None, element=elements.pop(), exclude=ids)
        if request.method == "POST" and form.is_valid():
            target = form.cleaned_data["target"]
            moved = themes.merge_into(target, by=request.user)
            self.message_user(request, f"Merged {len(ids)} theme(s) into {target.name}; {moved} tag(s) moved.")
            return back
        context = {**self.admin_site.each_context(request), "title": "Merge themes", "themes": themes, "form": form}
        return TemplateResponse(request, "admin/feedback/theme/merge.html", {**context, "opts": self.opts})
