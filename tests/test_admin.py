from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.utils import timezone

from feedback.models import Element, EmailStatus, OutgoingEmail

from .factories import AcknowledgementFactory, SubmissionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def reviewer(client, make_staff):
    return make_staff("Policy reviewers", client=client)


def test_a_reviewer_sees_submissions_with_their_elements_in_the_admin(client, reviewer):
    submission = SubmissionFactory(views=[{"element": Element.PRIORITISATION}, {"element": Element.NATIONAL_POLICY}])
    page = client.get("/admin/feedback/submission/")
    assert page.status_code == 200
    body = page.content.decode()
    assert submission.reference in body
    assert "Prioritisation by level, National policy framework" in body


def test_submitted_text_is_escaped_in_the_admin(client, reviewer):
    submission = SubmissionFactory(
        organisation="<script>alert(1)</script>", views=[{"element": Element.LEADERSHIP, "text": "<b>bold</b>"}]
    )
    body = client.get(f"/admin/feedback/submission/{submission.pk}/change/").content.decode()
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "<b>bold</b>" not in body


def test_nobody_can_delete_a_submission_from_the_admin(client, reviewer):
    submission = SubmissionFactory()
    assert client.get(f"/admin/feedback/submission/{submission.pk}/delete/").status_code == 403


def test_failed_and_stuck_acknowledgements_are_listed_and_can_be_tried_again(client, reviewer):
    failed = AcknowledgementFactory(status=EmailStatus.FAILED, attempts=12, last_error="550 No such user")
    stuck = AcknowledgementFactory(
        status=EmailStatus.SENDING, attempts=1, claimed_at=timezone.now() - timedelta(hours=1)
    )
    in_flight = AcknowledgementFactory(status=EmailStatus.SENDING, attempts=1, claimed_at=timezone.now())
    listed = client.get("/admin/feedback/submission/?ack_problem=stuck").content.decode()
    assert stuck.submission.reference in listed
    assert in_flight.submission.reference not in listed and failed.submission.reference not in listed
    page = client.get(f"/admin/feedback/submission/{failed.submission.pk}/change/").content.decode()
    assert "Failed after 12 attempt(s). Last error: 550 No such user" in page

    client.post(
        "/admin/feedback/submission/",
        {
            "action": "retry_acknowledgement",
            "_selected_action": [failed.submission.pk, stuck.submission.pk, in_flight.submission.pk],
        },
    )
    statuses = dict(OutgoingEmail.objects.values_list("pk", "status"))
    assert statuses[failed.pk] == EmailStatus.PENDING
    assert statuses[stuck.pk] == EmailStatus.PENDING
    assert statuses[in_flight.pk] == EmailStatus.SENDING, "a send in progress is never started twice"


def test_the_demo_login_is_a_staff_member_not_a_superuser_and_made_once(settings, tmp_path, capsys):
    settings.DEBUG = True
    settings.VAR_DIR = tmp_path
    call_command("ensure_demo_login")
    first = capsys.readouterr().out
    call_command("ensure_demo_login")
    second = capsys.readouterr().out
    user = User.objects.get(username="policy.demo")
    assert user.is_staff and not user.is_superuser
    password = first.split("password ")[1].strip()
    assert user.check_password(password)
    assert first == second
    assert User.objects.count() == 1


def test_the_demo_login_is_refused_in_production(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError):
        call_command("ensure_demo_login")
