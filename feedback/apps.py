from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class FeedbackConfig(AppConfig):
    default = True
    default_auto_field = "django.db.models.BigAutoField"
    name = "feedback"
    verbose_name = "QIPP challenge feedback"

    def ready(self) -> None:
        from importlib import import_module

        from axes.signals import user_locked_out

        # metrics: its signal receivers count every task that ends, in whichever process runs it.
        from . import admin, audit, metrics  # noqa: F401

        user_locked_out.connect(audit.record_lockout, dispatch_uid="feedback.audit.lockout")
        for screen in admin.SCREENS:
            import_module(f"feedback.admin.{screen}")


class PortalAdminConfig(admin_apps.AdminConfig):
    """The Django admin, served by the portal's own site: two-factor sign-in and the dashboard."""

    default = False
    default_site = "feedback.admin.site.PortalAdminSite"
