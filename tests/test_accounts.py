"""
Staff accounts, tried as an Administrator who wants more than their role
would: nobody reads a device's secret, sets another person's password or
changes their own access; Administrators hand out only the Digest readers
role; every change of access is in the audit log, and owners are told by
email when their password or two-factor set-up changes.
"""

import re

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.core import mail
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from feedback.models import AuditAction, AuditEvent

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-test-password"


@pytest.fixture
def colleague():
    """A policy lead with an authenticator app: the account an attacker would like to become."""
    user = User.objects.create_user("lead", email="lead@example.nhs.uk", password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name="Policy leads"))
    TOTPDevice.objects.create(
        user=user, name="Authenticator app", confirmed=True, key="3132333435363738393031323334353637383930"
    )
    StaticDevice.objects.create(user=user, name="Backup codes").token_set.create(token="backup1234")
    return user


def user_form(user: User, **changes) -> dict:
    """What the account's page posts back, with `changes`."""
    data = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "is_active": "on" if user.is_active else "",
        "is_staff": "on" if user.is_staff else "",
        "is_superuser": "on" if user.is_superuser else "",
        "groups": [group.pk for group in user.groups.all()],
        "_save": "Save",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value not in ("", None)}


def role(name: str) -> int:
    return Group.objects.get(name=name).pk


def actions() -> list[str]:
    return list(AuditEvent.objects.order_by("pk").values_list("action", flat=True))


# --- 1. Authenticator secrets and passwords ----------------------------------


@pytest.mark.parametrize("page", ["change/", "config/", "qrcode/", "delete/"])
def test_an_administrator_cannot_open_an_authenticator_device(client, make_staff, colleague, page):
    make_staff("Administrators", client=client)
    device = TOTPDevice.objects.get(user=colleague)
    response = client.get(f"/admin/otp_totp/totpdevice/{device.pk}/{page}")
    assert response.status_code == 403
    assert client.get("/admin/otp_static/staticdevice/").status_code == 403


def test_even_a_superuser_never_sees_a_devices_secret_or_backup_codes(client, make_staff, colleague):
    make_staff(None, client=client, username="named.superuser", is_superuser=True)
    device = TOTPDevice.objects.get(user=colleague)
    page = client.get(f"/admin/otp_totp/totpdevice/{device.pk}/change/").content.decode()
    assert device.key not in page
    assert client.get(f"/admin/otp_totp/totpdevice/{device.pk}/config/").status_code == 403
    assert client.get(f"/admin/otp_totp/totpdevice/{device.pk}/qrcode/").status_code == 403
    backup = StaticDevice.objects.get(user=colleague)
    assert "backup1234" not in client.get(f"/admin/otp_static/staticdevice/{backup.pk}/change/").content.decode()


@pytest.mark.parametrize("group", ["Administrators", None])
def test_nobody_sets_another_persons_password(client, make_staff, colleague, group):
    extra = {} if group else {"is_superuser": True, "username": "named.superuser"}
    make_staff(group, client=client, **extra)
    new = {"password1": "an-attackers-password-9", "password2": "an-attackers-password-9"}
    assert client.get(f"/admin/auth/user/{colleague.pk}/password/").status_code == 403
    assert client.post(f"/admin/auth/user/{colleague.pk}/password/", new).status_code == 403
    colleague.refresh_from_db()
    assert colleague.check_password(PASSWORD)


def test_an_administrator_sends_a_link_and_only_the_owner_chooses_the_password(
    client, make_staff, colleague, django_capture_on_commit_callbacks
):
    from django.test import Client

    make_staff("Administrators", client=client)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/admin/auth/user/", {"action": "send_password_links", "_selected_action": [colleague.pk]}, follow=True
        )
    (link_email,) = mail.outbox
    assert link_email.to == ["lead@example.nhs.uk"]
    link = re.search(r"https://\S+/staff/password/\S+/", link_email.body).group(0)
    assert "Reset your password" in link_email.subject

    owner = Client()
    form_page = owner.get(link.replace("https://qipp.example.nhs.uk", ""), follow=True, secure=True)
    assert "Choose your password" in form_page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        chosen = owner.post(
            form_page.redirect_chain[-1][0],
            {"new_password1": "a-new-long-password-42", "new_password2": "a-new-long-password-42"},
            secure=True,
        )
    assert chosen.status_code == 302
    colleague.refresh_from_db()
    assert colleague.check_password("a-new-long-password-42")
    assert "your password was changed" in mail.outbox[-1].body.lower()
    assert mail.outbox[-1].to == ["lead@example.nhs.uk"]
    assert actions()[-2:] == [AuditAction.PASSWORD_RESET_SENT, AuditAction.PASSWORD_CHANGED]

    again = owner.get(link.replace("https://qipp.example.nhs.uk", ""), follow=True, secure=True)
    assert "This link cannot be used" in again.content.decode(), "a link works once"


def test_a_staff_member_who_changes_their_own_password_is_told_by_email(
    client, make_staff, django_capture_on_commit_callbacks
):
    # make_staff's accounts have PASSWORD.
    user = make_staff("Policy reviewers", client=client, email="me@example.nhs.uk")
    with django_capture_on_commit_callbacks(execute=True):
        changed = client.post(
            "/admin/password_change/",
            {
                "old_password": PASSWORD,
                "new_password1": "another-long-password-7",
                "new_password2": "another-long-password-7",
            },
        )
    assert changed["Location"] == "/admin/password_change/done/"
    assert [message.to for message in mail.outbox] == [["me@example.nhs.uk"]]
    assert "your password was changed" in mail.outbox[0].body.lower()
    assert AuditEvent.objects.filter(action=AuditAction.PASSWORD_CHANGED, actor=user).exists()


def test_an_administrator_removes_a_lost_phone_and_the_owner_is_told(
    client, make_staff, colleague, django_capture_on_commit_callbacks
):
    admin = make_staff("Administrators", client=client)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/admin/auth/user/", {"action": "remove_two_factor", "_selected_action": [colleague.pk]})
    assert not TOTPDevice.objects.filter(user=colleague).exists()
    assert not StaticDevice.objects.filter(user=colleague).exists()
    event = AuditEvent.objects.get(action=AuditAction.TWO_FACTOR_RESET)
    assert (event.actor, event.detail["account"]) == (admin, "lead")
    assert [message.to for message in mail.outbox] == [["lead@example.nhs.uk"]]
    assert "two-factor authentication was removed" in mail.outbox[0].body.lower()


def test_an_administrator_creates_an_account_whose_owner_chooses_the_password(
    client, make_staff, django_capture_on_commit_callbacks
):
    make_staff("Administrators", client=client)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/auth/user/add/",
            {"username": "new.reader", "email": "new.reader@example.nhs.uk", "first_name": "Nia", "_save": "Save"},
        )
    assert response.status_code == 302
    user = User.objects.get(username="new.reader")
    assert user.is_staff and not user.has_usable_password() and not user.groups.exists()
    assert "Set your password" in mail.outbox[0].subject
    assert AuditAction.ACCOUNT_CREATED in actions()


# --- 2. No one reaches more than their role ----------------------------------


def test_an_administrator_cannot_give_themselves_a_role_or_a_permission(client, make_staff):
    admin = make_staff("Administrators", client=client, email="admin@example.nhs.uk")
    personal = Permission.objects.get(codename="view_personal_details")
    client.post(
        f"/admin/auth/user/{admin.pk}/change/",
        user_form(admin, groups=[role("Policy leads"), role("Administrators")], user_permissions=[personal.pk]),
    )
    admin.refresh_from_db()
    assert list(admin.groups.values_list("name", flat=True)) == ["Administrators"]
    assert not admin.user_permissions.exists()
    assert not admin.has_perm("feedback.view_personal_details")
    assert client.get("/admin/feedback/submission/").status_code == 403


def test_a_superuser_cannot_change_their_own_access_from_their_page_either(client, make_staff):
    boss = make_staff(None, client=client, username="named.superuser", is_superuser=True)
    client.post(f"/admin/auth/user/{boss.pk}/change/", user_form(boss, is_superuser="", is_active=""))
    boss.refresh_from_db()
    assert boss.is_superuser and boss.is_active


def test_an_administrator_hands_out_only_the_digest_readers_role(client, make_staff):
    make_staff("Administrators", client=client)
    newcomer = User.objects.create_user("newcomer", email="newcomer@example.nhs.uk", is_staff=True)
    page = client.get(f"/admin/auth/user/{newcomer.pk}/change/").content.decode()
    assert "Digest readers" in page and "Policy leads" not in page
    refused = client.post(
        f"/admin/auth/user/{newcomer.pk}/change/",
        user_form(newcomer, groups=[role("Digest readers"), role("Policy leads"), role("Administrators")]),
    )
    assert refused.status_code == 200 and "Select a valid choice" in refused.content.decode()
    assert not newcomer.groups.exists()
    client.post(f"/admin/auth/user/{newcomer.pk}/change/", user_form(newcomer, groups=[role("Digest readers")]))
    assert list(newcomer.groups.values_list("name", flat=True)) == ["Digest readers"]


def test_an_administrator_cannot_take_a_policy_role_away_or_change_an_address(client, make_staff, colleague):
    make_staff("Administrators", client=client)
    client.post(
        f"/admin/auth/user/{colleague.pk}/change/",
        # What the page shows an Administrator: only the role they may hand out.
        user_form(colleague, groups=[role("Digest readers")], email="attacker@example.org"),
    )
    colleague.refresh_from_db()
    assert sorted(colleague.groups.values_list("name", flat=True)) == ["Digest readers", "Policy leads"]
    assert colleague.email == "lead@example.nhs.uk", "a new address would receive the next password link"


def test_every_change_of_access_is_recorded_with_before_and_after(client, make_staff, colleague):
    admin = make_staff("Administrators", client=client)
    client.post(f"/admin/auth/user/{colleague.pk}/change/", user_form(colleague, is_active="", groups=[]))
    event = AuditEvent.objects.get(action=AuditAction.ACCESS_CHANGED)
    assert event.actor == admin
    assert event.detail == {"account": "lead", "before": {"active": True}, "after": {"active": False}}


def test_a_superuser_gives_a_policy_role_and_it_is_recorded(client, make_staff):
    make_staff(None, client=client, username="named.superuser", is_superuser=True)
    reader = User.objects.create_user("reader", email="reader@example.nhs.uk", is_staff=True)
    reader.groups.add(Group.objects.get(name="Digest readers"))
    client.post(
        f"/admin/auth/user/{reader.pk}/change/",
        user_form(reader, groups=[role("Digest readers"), role("Policy reviewers")]),
    )
    assert sorted(reader.groups.values_list("name", flat=True)) == ["Digest readers", "Policy reviewers"]
    event = AuditEvent.objects.get(action=AuditAction.ACCESS_CHANGED)
    assert event.detail["before"] == {"groups": ["Digest readers"]}
    assert event.detail["after"] == {"groups": ["Digest readers", "Policy reviewers"]}


def test_removing_a_lockout_is_recorded(client, make_staff, settings):
    from axes.models import AccessAttempt

    admin = make_staff("Administrators", client=client)
    attempt = AccessAttempt.objects.create(
        username="lead",
        ip_address="203.0.113.7",
        failures_since_start=settings.AXES_FAILURE_LIMIT,
        get_data="",
        post_data="",
    )
    client.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"})
    assert not AccessAttempt.objects.exists()
    event = AuditEvent.objects.get(action=AuditAction.LOCKOUT_REMOVED)
    assert event.actor == admin
    assert event.detail["account"] == "lead" and event.detail["before"] == {"failures": settings.AXES_FAILURE_LIMIT}


def test_not_even_a_superuser_adds_changes_or_deletes_a_device_outside_the_recorded_removal(
    client, make_staff, colleague
):
    make_staff(None, client=client, username="named.superuser", is_superuser=True)
    device = TOTPDevice.objects.get(user=colleague)
    assert client.get("/admin/otp_totp/totpdevice/add/").status_code == 403
    client.post(f"/admin/otp_totp/totpdevice/{device.pk}/change/", {"name": "Mine now", "user": colleague.pk})
    assert client.post(f"/admin/otp_totp/totpdevice/{device.pk}/delete/", {"post": "yes"}).status_code == 403
    device.refresh_from_db()
    assert device.name == "Authenticator app"
