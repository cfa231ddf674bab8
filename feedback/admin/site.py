from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import urlencode
from django_otp import user_has_device

from .. import accounts, dashboard, metrics


class PortalAdminSite(admin.AdminSite):
    """The policy team's workspace: the Django admin behind two-factor sign-in, opening on the dashboard."""

    site_header = "QIPP challenge feedback: policy team"
    site_title = "QIPP feedback workspace"
    index_title = "Dashboard"
    # The workspace's tables need the width more than a second menu.
    enable_nav_sidebar = False

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        if not (user.is_active and user.is_staff):
            return False
        if user.is_verified():
            return True
        # Development only (settings refuse it in production): accounts that
        # have not set up two-factor yet get in on their password.
        return settings.QIPP_RELAX_TWO_FACTOR and not user_has_device(user)

    def login(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        next_url = request.GET.get("next") or reverse("admin:index")
        return redirect(f"{reverse('staff_sign_in')}?{urlencode({'next': next_url})}")

    def password_change(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        """A staff member changes their own password (the old one first), and is told by email."""
        response = super().password_change(request, extra_context)
        if request.method == "POST" and response.status_code == 302:
            accounts.password_changed(request.user, by=request.user, request=request)
        return response

    def each_context(self, request: HttpRequest) -> dict:
        context = super().each_context(request)
        context["two_factor_relaxed"] = settings.QIPP_RELAX_TWO_FACTOR
        return context

    def get_urls(self):
        return [path("operations/", self.admin_view(self.operations), name="operations"), *super().get_urls()]

    def operations(self, request: HttpRequest) -> HttpResponse:
        """What the background work is doing: queues, the outbox, the mailbox, beat jobs (Administrators)."""
        if not request.user.has_perm("feedback.view_outgoingemail"):
            raise PermissionDenied
        context = {**self.each_context(request), "title": "Operations", "figures": metrics.figures()}
        return TemplateResponse(request, "admin/operations.html", context)

    def index(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        extra_context = extra_context or {}
        if request.user.has_perm("feedback.view_dashboard"):
            extra_context["dashboard"] = dashboard.summary(now=timezone.now())
            extra_context["agreement"] = dashboard.agreement()
            extra_context["can_see_submissions"] = request.user.has_perm("feedback.view_submission")
        return super().index(request, extra_context)
