"""
Staff accounts: who may do what, and a record of every change to it.

Roles are groups (see docs/security.md). Administrators look after accounts
without being able to reach more than their own role: they create accounts,
switch them on and off, and add or remove Digest readers. Every other group,
any single permission and superuser status need a superuser, and nobody
changes their own access. Nobody sets another person's password: the owner
gets a link to choose one. Owners are emailed whenever their password or
two-factor set-up changes, so a change they did not make does not go unseen.
"""

import time

from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from . import audit, outbox
from .models import AuditAction

# The only role an Administrator may hand out or take away.
GRANTED_BY_ADMINISTRATORS = ["Digest readers"]


def grantable_groups(by) -> QuerySet:
    """The groups `by` may add someone to or remove them from."""
    if by.is_superuser:
        return Group.objects.all()
    return Group.objects.filter(name__in=GRANTED_BY_ADMINISTRATORS)


def access(user) -> dict:
    """What an account may do, as the audit log records it before and after a change."""
    permissions = user.user_permissions.select_related("content_type")
    return {
        "active": user.is_active,
        "staff": user.is_staff,
        "superuser": user.is_superuser,
        "groups": sorted(user.groups.values_list("name", flat=True)),
        "permissions": sorted(f"{p.content_type.app_label}.{p.codename}" for p in permissions),
    }


def record_access_change(user, *, before: dict, request: HttpRequest) -> None:
    """Add an audit entry if `user`'s access differs from `before`, with what changed, before and after."""
    after = access(user)
    changed = [key for key in after if after[key] != before.get(key)]
    if changed:
        audit.record(
            AuditAction.ACCESS_CHANGED,
            request=request,
            account=user.get_username(),
            before={key: before.get(key) for key in changed},
            after={key: after[key] for key in changed},
        )


def send_password_link(user, *, request: HttpRequest, new_account: bool = False) -> bool:
    """Queue an email with a link for `user` to choose their password, and record it. False if they have no address."""
    queued = bool(user.email)
    if queued:
        outbox.enqueue_password_link(user, new_account=new_account)
    audit.record(
        AuditAction.PASSWORD_RESET_SENT,
        request=request,
        account=user.get_username(),
        new_account=new_account,
        sent=queued,
    )
    return queued


def _tell_owner(user, change: str) -> None:
    # Written in the change's own transaction: told only of a change that was made.
    if user.email:
        outbox.enqueue_account_change(user, change=change)


def password_changed(user, *, by, request: HttpRequest) -> None:
    """Record that `user`'s password was changed by `by`, and tell its owner."""
    audit.record(AuditAction.PASSWORD_CHANGED, request=request, user=by, account=user.get_username())
    _tell_owner(user, "your password was changed")


def two_factor_enrolled(user, *, request: HttpRequest) -> None:
    audit.record(AuditAction.TWO_FACTOR_ENROLLED, request=request, user=user)
    _tell_owner(user, "an authenticator app and backup codes were set up for two-factor authentication")


def remove_two_factor(user, *, request: HttpRequest | None = None) -> int:
    """
    Remove `user`'s authenticator app and backup codes (a lost phone). They set
    up new ones at their next sign-in, which needs their own password.
    """
    with transaction.atomic():
        removed = TOTPDevice.objects.filter(user=user).delete()[0]
        removed += StaticDevice.objects.filter(user=user).delete()[0]
        audit.record(AuditAction.TWO_FACTOR_RESET, request=request, account=user.get_username(), removed=removed)
        _tell_owner(user, "your two-factor authentication was removed; you will set it up again at your next sign-in")
    return removed


def is_replayed_code(user, code: str) -> bool:
    """Whether `code` is a right authenticator code for `user` that was already used (a replay, not a typo)."""
    if not code.isdigit():
        return False
    for device in TOTPDevice.objects.devices_for_user(user, confirmed=True):
        totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
        totp.time = time.time()
        if totp.verify(int(code), device.tolerance) and totp.t() <= device.last_t:
            return True
    return False
