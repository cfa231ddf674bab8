"""
Respondents' names and email addresses cannot be found out through the
list's address by anyone who may not see them, a letter at a time.
"""

import re

import pytest

from feedback.models import AuditAction, AuditEvent, Element

from .factories import SubmissionFactory

pytestmark = pytest.mark.django_db

PROBES = [
    "?email__startswith=p",
    "?email__istartswith=P",
    "?email=priya@example.nhs.uk",
    "?email__contains=example",
    "?name__regex=^P",
    "?name__icontains=shah",
    "?name__isnull=False",
    "?email__gt=o",
]


@pytest.fixture
def submission():
    return SubmissionFactory(
        name="Priya Shah", email="priya@example.nhs.uk", views=[{"element": Element.LEADERSHIP, "text": "Lead."}]
    )


def without_personal_details(make_staff, client):
    """A reviewer who may read submissions but not respondents' personal details."""
    from django.contrib.auth.models import Permission

    user = make_staff(None, client=client)
    keep = Permission.objects.filter(codename__in=["view_submission", "view_view", "export_submissions"])
    user.user_permissions.set(keep)
    return user


@pytest.mark.parametrize("probe", PROBES)
def test_someone_without_the_personal_details_permission_cannot_filter_on_them(client, make_staff, submission, probe):
    without_personal_details(make_staff, client)
    listing = client.get(f"/admin/feedback/submission/{probe}")
    assert listing.status_code == 400
    assert "Priya" not in listing.content.decode()
    assert client.get(f"/admin/feedback/submission/export/csv/{probe}").status_code == 400


def test_the_answer_to_a_probe_is_the_same_whether_or_not_anyone_matches(client, make_staff, submission):
    without_personal_details(make_staff, client)
    matching = client.get("/admin/feedback/submission/?email__startswith=p")
    not_matching = client.get("/admin/feedback/submission/?email__startswith=z")

    def page(response):
        return response.status_code, re.sub(r'nonce="[^"]+"', "", response.content.decode())

    assert page(matching) == page(not_matching)


def test_regular_expression_lookups_are_refused_even_with_the_permission(client, make_staff, submission):
    make_staff("Policy leads", client=client)
    assert client.get("/admin/feedback/submission/?name__regex=^P").status_code == 400
    assert client.get("/admin/feedback/submission/?organisation__iregex=.*").status_code == 400
    assert client.get("/admin/feedback/auditevent/?actor_username__regex=a").status_code == 403


def test_filtering_on_personal_details_with_the_permission_works_and_is_recorded_without_the_value(
    client, make_staff, submission
):
    make_staff("Policy leads", client=client)
    page = client.get("/admin/feedback/submission/?email__startswith=priya")
    assert page.status_code == 200
    assert submission.reference in page.content.decode()
    event = AuditEvent.objects.get(action=AuditAction.FILTERED_PERSONAL_DETAILS)
    assert event.detail["lookups"] == ["email__startswith"]
    assert "priya" not in str(event.detail)


def test_an_export_filtered_on_personal_details_records_the_filter_but_not_its_value(client, make_staff, submission):
    make_staff("Policy leads", client=client)
    response = client.get("/admin/feedback/submission/export/csv/?email__startswith=priya")
    assert response.status_code == 200
    assert submission.reference in b"".join(response.streaming_content).decode()
    event = AuditEvent.objects.get(action=AuditAction.EXPORTED)
    assert event.detail["filters"] == {"email__startswith": ["(personal details)"]}


def test_a_value_the_list_cannot_use_shows_the_whole_list_with_a_message(client, make_staff, submission):
    make_staff("Administrators", client=client)
    page = client.get("/admin/feedback/auditevent/?at__year=99999999999999999999", follow=True)
    assert page.status_code == 200
    assert "could not be used, so the whole list is shown" in page.content.decode()
