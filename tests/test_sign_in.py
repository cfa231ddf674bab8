import re
import time

import pytest
import time_machine
from django.contrib.auth.models import Group, User
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from feedback.models import AuditAction, AuditEvent

from .test_settings import PRODUCTION, run_portal

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-test-password"


@pytest.fixture
def reviewer():
    user = User.objects.create_user("reviewer", password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name="Policy reviewers"))
    return user


def sign_in(client, username="reviewer", password=PASSWORD):
    return client.post(
        "/staff/sign-in/?next=/admin/feedback/submission/", {"username": username, "password": password}
    )


def code_for(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def test_the_admin_sends_anyone_not_signed_in_to_the_sign_in_page(client):
    response = client.get("/admin/feedback/submission/", follow=True)
    assert response.redirect_chain[-1][0] == "/staff/sign-in/?next=%2Fadmin%2Ffeedback%2Fsubmission%2F"
    assert "Sign in to the policy team" in response.content.decode()


def test_a_password_alone_does_not_open_the_admin(client, reviewer):
    sign_in(client)
    assert client.get("/admin/feedback/submission/").status_code == 302


def test_a_new_staff_member_sets_up_an_authenticator_app_and_sees_backup_codes_once(client, reviewer):
    response = sign_in(client)
    assert response["Location"].startswith("/staff/two-factor/set-up/")
    page = client.get(response["Location"]).content.decode()
    assert 'src="data:image/svg+xml;base64,' in page
    device = TOTPDevice.objects.get(user=reviewer, confirmed=False)

    # Frozen at the present, so the code, the throttle and the session agree on the time.
    with time_machine.travel(time.time(), tick=False) as clock:
        wrong = client.post(
            "/staff/two-factor/set-up/", {"code": "000000" if code_for(device) != "000000" else "111111"}
        )
        assert "That code did not work" in wrong.content.decode()
        throttled = client.post("/staff/two-factor/set-up/", {"code": code_for(device)})
        assert "Wait" in throttled.content.decode(), "a failed code makes the next try wait a moment"
        clock.shift(5)
        done = client.post("/staff/two-factor/set-up/?next=/admin/feedback/submission/", {"code": code_for(device)})
    codes_page = client.get(done["Location"]).content.decode()
    codes = re.findall(r"<code>(\w+)</code>", codes_page)
    assert len(codes) == 10
    assert set(codes) == set(StaticDevice.objects.get(user=reviewer).token_set.values_list("token", flat=True))
    assert client.get(done["Location"]).status_code == 302, "the codes are shown once"

    assert client.get("/admin/feedback/submission/").status_code == 200
    assert AuditEvent.objects.filter(action=AuditAction.TWO_FACTOR_ENROLLED, actor=reviewer).exists()


def test_a_staff_member_with_an_app_signs_in_with_its_code(client, reviewer):
    device = TOTPDevice.objects.create(user=reviewer, name="Authenticator app", confirmed=True)
    response = sign_in(client)
    assert response["Location"].startswith("/staff/two-factor/?next=")
    verified = client.post(response["Location"], {"code": code_for(device)})
    assert verified["Location"] == "/admin/feedback/submission/"
    assert client.get("/admin/feedback/submission/").status_code == 200


def test_a_backup_code_works_once_in_place_of_the_app(client, reviewer):
    TOTPDevice.objects.create(user=reviewer, name="Authenticator app", confirmed=True)
    backup = StaticDevice.objects.create(user=reviewer, name="Backup codes")
    backup.token_set.create(token="lostphone1")
    sign_in(client)
    assert client.post("/staff/two-factor/", {"code": "lostphone1"}).status_code == 302
    assert client.get("/admin/feedback/submission/").status_code == 200

    client.logout()
    sign_in(client)
    again = client.post("/staff/two-factor/", {"code": "lostphone1"})
    assert "That code did not work" in again.content.decode()


def test_someone_who_is_not_staff_cannot_sign_in(client):
    User.objects.create_user("respondent", password=PASSWORD)
    page = sign_in(client, "respondent")
    assert "cannot sign in to the policy team" in page.content.decode()


def test_repeated_wrong_passwords_lock_the_account_out_and_are_recorded(client, reviewer, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert sign_in(client, password="wrong-password").status_code == 200
    locked = sign_in(client, password="wrong-password")
    assert locked.status_code == 429
    assert "Too many attempts to sign in" in locked.content.decode()
    assert sign_in(client).status_code == 429, "even the right password, while locked out"
    assert AuditEvent.objects.filter(action=AuditAction.LOCKED_OUT, actor_username="reviewer").exists()
    assert AuditEvent.objects.filter(action=AuditAction.SIGN_IN_FAILED).count() >= settings.AXES_FAILURE_LIMIT - 1


def test_the_password_and_the_completed_sign_in_are_recorded_apart(client, reviewer, settings):
    device = TOTPDevice.objects.create(user=reviewer, name="Authenticator app", confirmed=True)
    sign_in(client)
    assert list(AuditEvent.objects.filter(actor=reviewer).values_list("action", flat=True)) == [
        AuditAction.PASSWORD_ACCEPTED
    ], "a password alone is not a sign-in"
    assert client.session.get_expiry_age() == settings.QIPP_STAFF_IDLE_SECONDS
    client.post("/staff/two-factor/", {"code": code_for(device)})
    assert AuditEvent.objects.filter(action=AuditAction.SIGNED_IN, actor=reviewer).count() == 1


def test_each_request_pushes_the_end_of_a_staff_session_back(client, reviewer, settings):
    from django.contrib.sessions.models import Session

    settings.QIPP_RELAX_TWO_FACTOR = True
    with time_machine.travel("2026-11-23 09:00:00+00:00", tick=False) as clock:
        sign_in(client)
        clock.shift(20 * 60)
        assert client.get("/admin/feedback/submission/").status_code == 200
        clock.shift(20 * 60)
        assert client.get("/admin/feedback/submission/").status_code == 200, "40 minutes in, 20 since the last request"
        session = Session.objects.get(session_key=client.session.session_key)
        assert session.expire_date.isoformat() == "2026-11-23T10:10:00+00:00"


def test_development_may_relax_two_factor_for_accounts_without_a_device(client, reviewer, settings):
    settings.QIPP_RELAX_TWO_FACTOR = True
    assert sign_in(client)["Location"] == "/admin/feedback/submission/"
    assert client.get("/admin/feedback/submission/").status_code == 200


def test_production_settings_refuse_to_relax_two_factor():
    result = run_portal("pass", **PRODUCTION, QIPP_RELAX_TWO_FACTOR="1")
    assert result.returncode != 0
    assert "QIPP_RELAX_TWO_FACTOR is for development only" in result.stderr


def test_the_sign_in_page_only_redirects_within_the_portal(client, reviewer, settings):
    settings.QIPP_RELAX_TWO_FACTOR = True
    response = client.post(
        "/staff/sign-in/", {"username": "reviewer", "password": PASSWORD, "next": "https://evil.example/"}
    )
    assert response["Location"] == "/admin/"


def test_wrong_and_replayed_codes_are_recorded_apart(client, reviewer):
    device = TOTPDevice.objects.create(user=reviewer, name="Authenticator app", confirmed=True)
    with time_machine.travel(time.time(), tick=False) as clock:
        sign_in(client)
        code = code_for(device)
        wrong = "000000" if code != "000000" else "111111"
        client.post("/staff/two-factor/", {"code": wrong})
        clock.shift(5)
        assert client.post("/staff/two-factor/", {"code": code}).status_code == 302
        client.logout()
        sign_in(client)
        clock.shift(5)
        replayed = client.post("/staff/two-factor/", {"code": code})
    assert "That code did not work" in replayed.content.decode()
    assert list(AuditEvent.objects.filter(actor=reviewer).order_by("pk").values_list("action", flat=True)) == [
        AuditAction.PASSWORD_ACCEPTED,
        AuditAction.TWO_FACTOR_FAILED,
        AuditAction.SIGNED_IN,
        AuditAction.PASSWORD_ACCEPTED,
        AuditAction.TWO_FACTOR_REPLAYED,
    ]


def test_the_session_key_changes_when_the_second_factor_passes(client, reviewer):
    device = TOTPDevice.objects.create(user=reviewer, name="Authenticator app", confirmed=True)
    sign_in(client)
    between = client.cookies["sessionid"].value
    client.post("/staff/two-factor/", {"code": code_for(device)})
    assert client.cookies["sessionid"].value != between
    assert client.get("/admin/feedback/submission/").status_code == 200


def test_setting_up_two_factor_tells_the_owner_by_email(client, reviewer, django_capture_on_commit_callbacks):
    from django.core import mail

    reviewer.email = "reviewer@example.nhs.uk"
    reviewer.save()
    client.get(sign_in(client)["Location"])
    device = TOTPDevice.objects.get(user=reviewer, confirmed=False)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/staff/two-factor/set-up/", {"code": code_for(device)})
    assert [message.to for message in mail.outbox] == [["reviewer@example.nhs.uk"]]
    assert "authenticator app" in mail.outbox[0].body
