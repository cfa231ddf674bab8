"""
Digests in the admin: the list, a readable page for each (the page the
weekly email links to), approval, compiling a chosen week, and the PDF.
"""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.staticfiles import finders
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from .. import audit, digest_content, digests, doorbell, outcomes, pdf, tasks
from ..models import Digest, DigestStatus, Element, ThemeTag, View
from ..periods import Week, week_of
from .base import WorkspaceAdmin


class CompileForm(forms.Form):
    week = forms.CharField(
        label="ISO week",
        max_length=8,
        help_text="For example 2026-W47. Weeks run Monday to Sunday, London time.",
    )

    def clean_week(self) -> Week:
        try:
            week = Week.parse(self.cleaned_data["week"].strip())
        except ValueError:
            raise forms.ValidationError("Enter a week like 2026-W47.") from None
        if week.end > timezone.now():
            raise forms.ValidationError("That week has not ended yet.")
        return week


@admin.register(Digest)
class DigestAdmin(WorkspaceAdmin):
    list_display = ["__str__", "status", "new_submissions", "compiled_at", "approved_at", "approved_by"]
    list_filter = ["status"]
    ordering = ["-period_start"]
    actions = ["approve", "retry"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="new submissions")
    def new_submissions(self, digest: Digest):
        return digest.content.get("headline", {}).get("new", "-")

    @admin.action(description="Approve selected digests", permissions=["approve"])
    def approve(self, request, queryset):
        approved = sum(digest.approve(by=request.user) for digest in queryset)
        self.message_user(
            request,
            f"{approved} digest(s) approved. Only digests ready for approval can be approved, and the final "
            "digest only once every large theme has a decision.",
        )

    def has_approve_permission(self, request) -> bool:
        return request.user.has_perm("feedback.approve_digest")

    @admin.action(description="Compile failed digests again", permissions=["add"])
    def retry(self, request, queryset):
        failed = list(queryset.filter(status=DigestStatus.FAILED))
        # A person asking again gets a fresh set of attempts.
        queryset.filter(status=DigestStatus.FAILED).update(attempts=0)
        for digest in failed:
            if digest.is_final:
                doorbell.ring_on_commit(tasks.compile_final_digest_task.name)
            else:
                doorbell.ring_on_commit(tasks.compile_digest_task.name, week_of(digest.period_start).label)
        self.message_user(request, f"{len(failed)} digest(s) will be compiled again shortly.")

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("compile/", wrap(self.compile_view), name="feedback_digest_compile"),
            path("<int:pk>/read/", wrap(self.read_view), name="feedback_digest_read"),
            path("<int:pk>/pdf/", wrap(self.pdf_view), name="feedback_digest_pdf"),
            path("<int:pk>/shared/", wrap(self.shared_view), name="feedback_digest_shared"),
            *super().get_urls(),
        ]

    def add_view(self, request, form_url="", extra_context=None):
        return HttpResponseRedirect(reverse("admin:feedback_digest_compile"))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if not str(object_id).isdigit():
            raise Http404("No such digest.")
        return HttpResponseRedirect(reverse("admin:feedback_digest_read", args=[object_id]))

    def compile_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = CompileForm(
            request.POST if request.method == "POST" else None, initial={"week": digests.last_complete_week().label}
        )
        if request.method == "POST" and form.is_valid():
            week = form.cleaned_data["week"]
            doorbell.ring_on_commit(tasks.compile_digest_task.name, week.label)
            self.message_user(request, f"The digest for {week} is being compiled. It appears here when it is ready.")
            return HttpResponseRedirect(reverse("admin:feedback_digest_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": "Compile a digest",
            "form": form,
            "opts": self.opts,
        }
        return TemplateResponse(request, "admin/feedback/digest/compile.html", context)

    def _readable(self, request: HttpRequest, pk: int) -> Digest:
        if not self.has_view_permission(request):
            raise PermissionDenied
        digest = get_object_or_404(Digest, pk=pk)
        if not digest.is_compiled:
            raise PermissionDenied("This digest has not been compiled.")
        return digest

    def read_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        digest = self._readable(request, pk)
        context = {
            **self.admin_site.each_context(request),
            "title": str(digest),
            "digest": digest,
            "content": digest_content.present(digest),
            "opts": self.opts,
            "can_approve": digest.status == DigestStatus.READY and self.has_approve_permission(request),
            "can_export": request.user.has_perm("feedback.export_submissions"),
            "can_follow_links": request.user.has_perm("feedback.view_submission"),
            "can_decide": request.user.has_perm("feedback.add_themedecision"),
            "undecided": digest.undecided_themes() if digest.status == DigestStatus.READY else [],
            "decide_above": settings.QIPP_DECIDE_THEMES_ABOVE,
        }
        context["can_publish"] = (
            digest.is_final
            and digest.status == DigestStatus.APPROVED
            and digest.published_at is None
            and self.has_approve_permission(request)
        )
        if request.method == "POST" and request.POST.get("publish") and context["can_publish"]:
            emails = outcomes.publish(digest, **audit.who(request))
            if emails is not None:
                self.message_user(
                    request,
                    f"Published at {reverse('outcomes')}. {emails} respondent(s) who agreed to be contacted will be "
                    "emailed the link.",
                    messages.SUCCESS,
                )
            return HttpResponseRedirect(request.path)
        if request.method == "POST" and request.POST.get("approve") and context["can_approve"]:
            if digest.approve(by=request.user):
                self.message_user(request, f"{digest} approved.", messages.SUCCESS)
            else:
                self.message_user(
                    request,
                    f"{digest} cannot be approved yet: record what was done with each theme listed first.",
                    messages.ERROR,
                )
            return HttpResponseRedirect(request.path)
        return TemplateResponse(request, "admin/feedback/digest/read.html", context)

    def shared_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """
        Every national policy proposal the digest counted whose respondent
        agreed it may be read in full by the operating framework's team: the
        words as they stand now, the reference, never a name or address.
        """
        digest = self._readable(request, pk)
        proposals = (
            View.objects.filter(
                element=Element.NATIONAL_POLICY,
                submission__in=digest.counted(),
                submission__consent_to_share=True,
            )
            .select_related("submission")
            .only("text", "example", "level", "position", "submission__reference", "submission__organisation_type")
            .prefetch_related(Prefetch("tags", ThemeTag.objects.confirmed().select_related("theme")))
            .order_by("submission__received_at", "submission_id", "position")
        )
        page = Paginator(proposals, 50).get_page(request.GET.get("page"))
        context = {
            **self.admin_site.each_context(request),
            "title": f"{digest}: national policy proposals shared in full",
            "digest": digest,
            "page": page,
            "opts": self.opts,
            "can_follow_links": request.user.has_perm("feedback.view_submission"),
        }
        return TemplateResponse(request, "admin/feedback/digest/shared.html", context)

    def pdf_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        digest = self._readable(request, pk)
        html = render_to_string(
            "digests/print.html",
            {
                "digest": digest,
                "content": digest_content.present(digest, absolute=True),
                "styles": _stylesheet(),
                "can_follow_links": request.user.has_perm("feedback.view_submission"),
            },
        )
        response = HttpResponse(pdf.render_pdf(html), content_type="application/pdf")
        name = "final-digest" if digest.is_final else f"digest-{digest.number}-{digest.content['period']['label']}"
        response["Content-Disposition"] = f'attachment; filename="qipp-{name}.pdf"'
        return response


def _stylesheet() -> str:
    with open(finders.find("digest/digest.css"), encoding="utf-8") as css:
        return css.read()
