"""
The append-only audit log: who viewed, exported, changed or signed in.

Entries name submissions by reference and never hold a respondent's name or
email address, so erasing a person's details never needs the log changed.
"""

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from .clients import client_ip
from .models import AuditAction, AuditEvent, Submission


def record(
    action: AuditAction,
    *,
    request: HttpRequest | None = None,
    user=None,
    submission: Submission | None = None,
    **detail,
) -> AuditEvent:
    """Add one entry to the audit log, by the request's user (or `user`) from the request's address."""
    return AuditEvent.objects.record(action, submission=submission, **who(request, user=user), **detail)


def who(request: HttpRequest | None, *, user=None) -> dict:
    """The person and address a change comes from, as model methods that record one take them (`by`, `ip`)."""
    if user is None and request is not None and request.user.is_authenticated:
        user = request.user
    return {"by": user, "ip": client_ip(request) if request is not None else None}


@receiver(user_logged_in)
def record_password_accepted(sender, request, user, **kwargs) -> None:
    # Only the first factor: SIGNED_IN is recorded once the second one passes.
    record(AuditAction.PASSWORD_ACCEPTED, request=request, user=user)


@receiver(user_login_failed)
def record_failed_sign_in(sender, credentials, request=None, **kwargs) -> None:
    # Django has already masked the password in `credentials`.
    record(AuditAction.SIGN_IN_FAILED, request=request, username=str(credentials.get("username", ""))[:150])


def record_lockout(sender, request, username, ip_address, **kwargs) -> None:
    AuditEvent.objects.create(
        action=AuditAction.LOCKED_OUT, actor_username=(username or "")[:150], ip_address=ip_address
    )
