"""
Staff accounts, roles and lockouts in the admin (the rules are in accounts.py).

Administrators create accounts, switch them on and off and manage Digest
readers; they send a password link rather than set a password, and remove a
lost phone rather than read or edit devices, which nobody changes here. Every change of access, and
every lockout removed, is in the audit log with before and after.
"""

from axes.admin import AccessAttemptAdmin, AccessFailureLogAdmin, AccessLogAdmin
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django_otp.plugins.otp_static.admin import StaticDeviceAdmin
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.admin import TOTPDeviceAdmin
from django_otp.plugins.otp_totp.models import TOTPDevice

from .. import accounts, audit
from ..models import AuditAction
from .base import GuardedLookups, ReadOnly


class NewStaffAccountForm(forms.ModelForm):
    """A new account has no password: its owner chooses one from the link they are emailed."""

    class Meta:
        model = User
        fields = ["username", "email", "first_name", "last_name"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["email"].required = True
        self.fields["email"].help_text = "The link to choose a password goes here."

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("Another account already uses this email address.")
        return email


admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class StaffUserAdmin(GuardedLookups, UserAdmin):
    add_form = NewStaffAccountForm
    add_form_template = None
    add_fieldsets = ((None, {"fields": ["username", "email", "first_name", "last_name"]}),)
    fieldsets = (
        (None, {"fields": ["username", "password_state"]}),
        ("Personal info", {"fields": ["first_name", "last_name", "email"]}),
        ("Access", {"fields": ["role_list", "is_active", "is_staff", "is_superuser", "groups", "user_permissions"]}),
        ("Important dates", {"fields": ["last_login", "date_joined"]}),
    )
    list_display = ["username", "email", "first_name", "last_name", "is_active", "role_list"]
    actions = ["send_password_links", "remove_two_factor"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")

    # On the account's page too: an Administrator's choice of roles lists only
    # Digest readers, and this shows every role the account holds.
    @admin.display(description="roles")
    def role_list(self, user: User) -> str:
        names = [group.name for group in user.groups.all()]
        return ", ".join(sorted(names + (["Superuser"] if user.is_superuser else []))) or "-"

    @admin.display(description="password")
    def password_state(self, user: User) -> str:
        if user.has_usable_password():
            return "Set. To reset it, send a password link (an action on the list of accounts)."
        return "Not set yet: its owner chooses one from the link they were emailed."

    def get_readonly_fields(self, request, obj=None):
        fields = ["password_state", "role_list", "last_login", "date_joined"]
        if obj is None:
            return fields
        if not request.user.is_superuser:
            fields += ["is_staff", "is_superuser", "user_permissions"]
            if obj.pk != request.user.pk:
                # A new address would receive the next password link.
                fields += ["email"]
        if obj.pk == request.user.pk:
            fields += ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]
        return list(dict.fromkeys(fields))

    # Roles as plain checkboxes (there are few), permissions as a plain list:
    # the admin's two-box chooser carries markup that fails accessibility checks.
    filter_horizontal = []

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "groups":
            kwargs["queryset"] = accounts.grantable_groups(request.user)
            kwargs["widget"] = forms.CheckboxSelectMultiple
            if not request.user.is_superuser:
                kwargs["help_text"] = "You may give or take away Digest readers; a superuser gives the other roles."
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def has_change_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser and super().has_delete_permission(request, obj)

    def user_change_password(self, request, id, form_url=""):
        # Whoever sets a password can sign in as its owner: nobody sets another
        # person's. Owners change their own under "Change password".
        raise PermissionDenied("Send a password link instead: its owner chooses the password.")

    def save_model(self, request, obj: User, form, change) -> None:
        if change:
            # Read before anything is saved: the groups are saved after this.
            form.access_before = accounts.access(User.objects.get(pk=obj.pk))
            form.kept_groups = list(
                Group.objects.filter(user=obj).exclude(pk__in=accounts.grantable_groups(request.user))
            )
        else:
            obj.is_staff = True
            obj.set_unusable_password()
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        user = form.instance
        if not change:
            audit.record(AuditAction.ACCOUNT_CREATED, request=request, account=user.get_username())
            accounts.send_password_link(user, request=request, new_account=True)
            messages.info(request, "Its owner is being emailed a link to choose a password.")
            return
        if "groups" in form.fields:
            # Groups this person may not take away stay as they were.
            user.groups.add(*form.kept_groups)
        accounts.record_access_change(user, before=form.access_before, request=request)

    def _changeable(self, request, queryset):
        return [user for user in queryset if self.has_change_permission(request, user)]

    @admin.action(description="Send a link to choose a new password", permissions=["change"])
    def send_password_links(self, request, queryset):
        users = self._changeable(request, queryset)
        queued = sum(accounts.send_password_link(user, request=request) for user in users)
        self.message_user(
            request, f"Password links are being emailed to {queued} of {len(users)} account(s) you may change."
        )

    @admin.action(description="Remove two-factor authentication (a lost phone)", permissions=["change"])
    def remove_two_factor(self, request, queryset):
        users = self._changeable(request, queryset)
        for user in users:
            accounts.remove_two_factor(user, request=request)
        self.message_user(request, f"Two-factor authentication removed from {len(users)} account(s).")


@admin.register(Group)
class RoleAdmin(GuardedLookups, GroupAdmin):
    """Roles; only superusers change what a role may do, and each change is recorded."""

    def save_model(self, request, obj, form, change) -> None:
        form.permissions_before = sorted(obj.permissions.values_list("codename", flat=True)) if change else []
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        after = sorted(form.instance.permissions.values_list("codename", flat=True))
        if after != form.permissions_before:
            audit.record(
                AuditAction.ACCESS_CHANGED,
                request=request,
                role=form.instance.name,
                before={"permissions": form.permissions_before},
                after={"permissions": after},
            )


# --- Lockouts (django-axes) --------------------------------------------------

for model in (AccessAttempt, AccessLog, AccessFailureLog):
    admin.site.unregister(model)


@admin.register(AccessAttempt)
class LockoutAdmin(GuardedLookups, AccessAttemptAdmin):
    """Failed sign-ins by account and address. Deleting an entry removes its lockout, and is recorded."""

    def _record_removal(self, request: HttpRequest, attempt: AccessAttempt) -> None:
        audit.record(
            AuditAction.LOCKOUT_REMOVED,
            request=request,
            account=attempt.username or "",
            address=attempt.ip_address or "",
            before={"failures": attempt.failures_since_start},
            after={"failures": 0},
        )

    def delete_model(self, request, obj) -> None:
        self._record_removal(request, obj)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset) -> None:
        for attempt in queryset:
            self._record_removal(request, attempt)
        super().delete_queryset(request, queryset)


@admin.register(AccessLog)
class SignInLogAdmin(GuardedLookups, AccessLogAdmin):
    pass


@admin.register(AccessFailureLog)
class FailedSignInLogAdmin(GuardedLookups, AccessFailureLogAdmin):
    pass


# --- Two-factor devices (django-otp) -----------------------------------------

for model in (TOTPDevice, StaticDevice):
    admin.site.unregister(model)


# Devices are listed for superusers, secrets hidden, and changed nowhere here:
# a device added with a known secret would let its maker pass as the owner,
# and a removal belongs on the account, where it is recorded and the owner
# told ("Remove two-factor authentication").


@admin.register(TOTPDevice)
class AuthenticatorAppAdmin(ReadOnly, GuardedLookups, TOTPDeviceAdmin):
    pass


@admin.register(StaticDevice)
class BackupCodesAdmin(ReadOnly, GuardedLookups, StaticDeviceAdmin):
    pass
