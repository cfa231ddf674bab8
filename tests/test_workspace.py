import csv
import io
import re

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core.management import call_command

from feedback import exports
from feedback.models import (
    AuditAction,
    AuditEvent,
    Element,
    Level,
    Note,
    Region,
    Stance,
    Status,
    Submission,
    Theme,
    ThemeTag,
)

from .factories import SubmissionFactory

pytestmark = pytest.mark.django_db

READER, REVIEWER, LEAD, ADMINISTRATOR = "Digest readers", "Policy reviewers", "Policy leads", "Administrators"


@pytest.fixture
def submission():
    return SubmissionFactory(
        name="Priya Shah",
        email="priya@example.nhs.uk",
        organisation="Northfield PCT",
        views=[
            {"element": Element.PRIORITISATION, "level": Level.REGIONAL, "text": "Buy supplies once per region."},
            {"element": Element.ENGAGEMENT, "text": "Joint discharge teams with social care."},
        ],
    )


def changelist(client, query: str = "") -> str:
    page = client.get(f"/admin/feedback/submission/{query}")
    assert page.status_code == 200
    return page.content.decode()


# --- Roles -------------------------------------------------------------------


# Which role reaches which page: tests/test_role_matrix.py.


@pytest.mark.parametrize("group", [REVIEWER, LEAD, ADMINISTRATOR])
def test_nobody_in_the_policy_groups_can_change_or_delete_the_audit_log(client, make_staff, group):
    make_staff(group, client=client)
    event = AuditEvent.objects.create(action=AuditAction.SIGNED_IN, actor_username="someone")
    assert client.get(f"/admin/feedback/auditevent/{event.pk}/delete/").status_code == 403
    client.post(f"/admin/feedback/auditevent/{event.pk}/change/", {"actor_username": "edited"})
    event.refresh_from_db()
    assert event.actor_username == "someone"


def test_the_audit_log_refuses_changes_and_deletion_in_code_too():
    event = AuditEvent.objects.create(action=AuditAction.SIGNED_IN, actor_username="someone")
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()


def test_reviewers_see_respondents_details_and_digest_readers_never_do(client, make_staff, submission):
    make_staff(REVIEWER, client=client)
    page = client.get(f"/admin/feedback/submission/{submission.pk}/change/").content.decode()
    assert "priya@example.nhs.uk" in page and "Priya Shah" in page

    client.logout()
    make_staff(READER, client=client)
    dashboard = client.get("/admin/").content.decode()
    assert "priya@example.nhs.uk" not in dashboard and "Priya Shah" not in dashboard


def test_an_administrator_cannot_make_anyone_a_superuser(client, make_staff):
    admin = make_staff(ADMINISTRATOR, client=client)
    page = client.get(f"/admin/auth/user/{admin.pk}/change/").content.decode()
    assert 'name="is_superuser"' not in page
    superuser = User.objects.create_superuser("named.superuser", password="a-long-test-password")
    seen = client.get(f"/admin/auth/user/{superuser.pk}/change/").content.decode()
    assert 'name="username"' not in seen, "a superuser's account is read-only to an Administrator"
    client.post(f"/admin/auth/user/{superuser.pk}/change/", {"username": "renamed"})
    superuser.refresh_from_db()
    assert superuser.username == "named.superuser"


# --- Triage ------------------------------------------------------------------


def test_the_list_shows_what_a_reviewer_needs_at_a_glance(client, make_staff, submission):
    make_staff(REVIEWER, client=client)
    theme = Theme.objects.create(element=Element.ENGAGEMENT, name="Discharge")
    ThemeTag.objects.create(view=submission.views.get(position=2), theme=theme, stance=Stance.SUPPORTS)
    page = changelist(client)
    for text in [
        submission.reference,
        "Prioritisation by level, Engaging staff, partners and the public",
        "Regionally",
        "North West",
        "NHS foundation trust",
        "Nurse or midwife",
        "New",
        "Discharge",
    ]:
        assert text in page


def test_each_row_shows_its_own_views_elements_levels_and_themes_once_each(client, make_staff, submission):
    reviewer = make_staff(REVIEWER, client=client)
    plain = SubmissionFactory(views=[{"element": Element.LEADERSHIP, "text": "Boards should back clinicians."}])
    first, second = submission.views.get(position=1), submission.views.get(position=2)
    both = Theme.objects.create(element=Element.ENGAGEMENT, name="Joint working")
    one = Theme.objects.create(element=Element.PRIORITISATION, name="Buying together")
    machine = Theme.objects.create(element=Element.ENGAGEMENT, name="Narrative")
    for view in (first, second):
        ThemeTag.objects.create(view=view, theme=both, assigned_by=reviewer)
        ThemeTag.objects.create(view=view, theme=machine)
    ThemeTag.objects.create(view=first, theme=one, assigned_by=reviewer)

    def cells(reference: str) -> dict:
        page = changelist(client)
        row = page[page.index(reference) :].split("</tr>", 1)[0]
        return {
            column: re.search(rf'class="field-{column}[^"]*">(.*?)</td>', row, re.S).group(1)
            for column in ("element_list", "level_list", "theme_list")
        }

    assert cells(submission.reference) == {
        "element_list": "Prioritisation by level, Engaging staff, partners and the public",
        "level_list": Level.REGIONAL.label,
        "theme_list": "Buying together, Joint working, 1 suggested",
    }
    assert cells(plain.reference) == {"element_list": Element.LEADERSHIP.label, "level_list": "-", "theme_list": "-"}


def test_the_list_makes_the_same_number_of_queries_for_5_or_50_submissions(
    client, make_staff, django_assert_max_num_queries
):
    make_staff(REVIEWER, client=client)
    SubmissionFactory.create_batch(5)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as five:
        changelist(client)
    SubmissionFactory.create_batch(45)
    with django_assert_max_num_queries(len(five.captured_queries)):
        changelist(client)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?element=engagement", {"both", "engagement"}),
        ("?element=prioritisation", {"both"}),
        ("?level=national", {"both"}),
        ("?region=london", {"engagement"}),
        ("?status=flagged", {"engagement"}),
        ("?source=email", {"engagement"}),
        ("?q=discharge+lounge", {"engagement"}),
        ("?organisation=eastgate", {"both"}),
        ("?organisation=eastgate&q=lounge", set()),
        ("?received=2026-W47", {"both"}),
        ("?received=2026-W48", {"engagement"}),
    ],
)
def test_filters_and_search_list_exactly_the_matching_submissions_once(client, make_staff, query, expected):
    make_staff(REVIEWER, client=client)
    with time_machine.travel("2026-11-20 12:00 +0000"):
        both = SubmissionFactory(
            organisation="Eastgate Hospitals",
            views=[
                {"element": Element.PRIORITISATION, "level": Level.NATIONAL},
                {"element": Element.ENGAGEMENT},
                {"element": Element.ENGAGEMENT},
            ],
        )
    with time_machine.travel("2026-11-24 12:00 +0000"):
        engagement = SubmissionFactory(
            region=Region.LONDON,
            status=Status.FLAGGED,
            source="email",
            views=[{"element": Element.ENGAGEMENT, "text": "Open a Discharge Lounge in every acute trust."}],
        )
    names = {both.reference: "both", engagement.reference: "engagement"}
    page = changelist(client, query)
    listed = {name for reference, name in names.items() if reference in page}
    assert listed == expected
    for reference in names:
        assert page.count(f">{reference}<") <= 1


def test_a_reference_is_found_however_it_is_typed(client, make_staff, submission):
    make_staff(REVIEWER, client=client)
    typed = submission.reference.replace("-", "").lower()
    assert submission.reference in changelist(client, f"?q={typed}")


def test_opening_a_new_submission_marks_it_read_and_keeps_the_history(client, make_staff, submission):
    reviewer = make_staff(REVIEWER, client=client)
    page = client.get(f"/admin/feedback/submission/{submission.pk}/change/").content.decode()
    submission.refresh_from_db()
    assert submission.status == Status.READ
    assert f"New to Read by {reviewer.username}" in page


def test_each_row_has_a_checkbox_named_for_its_submission_that_selects_it_for_an_action(client, make_staff):
    make_staff(REVIEWER, client=client)
    first = SubmissionFactory()
    page = changelist(client)
    assert (
        f'<input type="checkbox" name="_selected_action" value="{first.pk}" class="action-select" '
        f'aria-label="Select this object for an action - {first}">' in page
    )


def test_bulk_actions_change_status_and_record_who_did_it(client, make_staff):
    reviewer = make_staff(REVIEWER, client=client)
    first, second = SubmissionFactory.create_batch(2)
    client.post("/admin/feedback/submission/", {"action": "mark_flagged", "_selected_action": [first.pk, second.pk]})
    assert set(Submission.objects.values_list("status", flat=True)) == {Status.FLAGGED}
    events = AuditEvent.objects.filter(action=AuditAction.STATUS_CHANGED)
    assert events.count() == 2
    assert {e.actor for e in events} == {reviewer}
    assert {e.detail["to"] for e in events} == {"flagged"}


def test_a_reviewer_adds_a_note_that_keeps_its_author_and_cannot_be_edited(client, make_staff, submission):
    reviewer = make_staff(REVIEWER, client=client)
    client.get(f"/admin/feedback/submission/{submission.pk}/change/")
    response = client.post(
        f"/admin/feedback/submission/{submission.pk}/change/",
        {
            "status": "read",
            "views-TOTAL_FORMS": "2",
            "views-INITIAL_FORMS": "2",
            "views-MIN_NUM_FORMS": "0",
            "views-MAX_NUM_FORMS": "0",
            "views-0-id": submission.views.get(position=1).pk,
            "views-0-submission": submission.pk,
            "views-1-id": submission.views.get(position=2).pk,
            "views-1-submission": submission.pk,
            "notes-TOTAL_FORMS": "1",
            "notes-INITIAL_FORMS": "0",
            "notes-MIN_NUM_FORMS": "0",
            "notes-MAX_NUM_FORMS": "1000",
            "notes-0-text": "Ask the region about this.",
            "notes-0-submission": submission.pk,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    note = Note.objects.get()
    assert note.author == reviewer and note.text == "Ask the region about this."
    assert AuditEvent.objects.filter(action=AuditAction.NOTE_ADDED, submission=submission).exists()
    page = client.get(f"/admin/feedback/submission/{submission.pk}/change/").content.decode()
    assert "Ask the region about this." in page
    assert 'name="notes-0-text"' not in page, "a saved note is shown, not offered for editing"


# --- Themes ------------------------------------------------------------------


def test_a_reviewer_tags_a_view_with_themes_of_its_element_and_a_stance(client, make_staff, submission):
    reviewer = make_staff(REVIEWER, client=client)
    view = submission.views.get(position=2)
    wanted = Theme.objects.create(element=Element.ENGAGEMENT, name="Joint working")
    Theme.objects.create(element=Element.LEADERSHIP, name="Board support")
    Theme.objects.create(element=Element.ENGAGEMENT, name="Old theme")
    Theme.objects.filter(name="Old theme").retire()
    page = client.get(f"/admin/feedback/view/{view.pk}/change/").content.decode()
    assert "Joint working" in page
    assert "Board support" not in page and "Old theme" not in page

    client.post(
        f"/admin/feedback/view/{view.pk}/change/",
        {
            "tags-TOTAL_FORMS": "1",
            "tags-INITIAL_FORMS": "0",
            "tags-MIN_NUM_FORMS": "0",
            "tags-MAX_NUM_FORMS": "1000",
            "tags-0-theme": wanted.pk,
            "tags-0-stance": Stance.OPPOSES,
            "tags-0-view": view.pk,
        },
    )
    tag = ThemeTag.objects.get()
    assert (tag.view, tag.theme, tag.stance, tag.assigned_by) == (view, wanted, Stance.OPPOSES, reviewer)
    event = AuditEvent.objects.get(action=AuditAction.THEMES_CHANGED)
    assert event.submission == submission and event.detail["after"] == ["Joint working (opposes)"]


def test_merging_themes_moves_their_tags_once_and_retires_them(make_staff):
    lead = make_staff(LEAD)
    first, second = SubmissionFactory(), SubmissionFactory()
    a_view, b_view = first.views.get(), second.views.get()
    old = Theme.objects.create(element=Element.LEADERSHIP, name="Clinical leaders")
    target = Theme.objects.create(element=Element.LEADERSHIP, name="Clinical leadership")
    ThemeTag.objects.create(view=a_view, theme=old, assigned_by=lead)
    ThemeTag.objects.create(view=b_view, theme=old, assigned_by=lead)
    ThemeTag.objects.create(view=b_view, theme=target, assigned_by=lead)
    old.merge_into(target, by=lead)
    assert sorted(ThemeTag.objects.values_list("view_id", "theme_id")) == sorted(
        [(a_view.pk, target.pk), (b_view.pk, target.pk)]
    )
    old.refresh_from_db()
    assert old.merged_into == target and old.retired_at is not None
    with pytest.raises(ValueError):
        target.merge_into(Theme.objects.create(element=Element.ENGAGEMENT, name="Elsewhere"), by=lead)


def test_a_lead_merges_themes_from_the_codebook(client, make_staff):
    make_staff(LEAD, client=client)
    old = Theme.objects.create(element=Element.LEADERSHIP, name="Clinical leaders")
    target = Theme.objects.create(element=Element.LEADERSHIP, name="Clinical leadership")
    chosen = client.post("/admin/feedback/theme/", {"action": "merge", "_selected_action": [old.pk]})
    form = client.get(chosen["Location"])
    assert "Merge into" in form.content.decode() and "Clinical leaders" in form.content.decode()
    done = client.post(chosen["Location"], {"target": target.pk}, follow=True)
    assert "Merged 1 theme(s) into Clinical leadership" in done.content.decode()
    old.refresh_from_db()
    assert old.merged_into == target


def test_themes_of_two_elements_cannot_be_merged_together(client, make_staff):
    make_staff(LEAD, client=client)
    one = Theme.objects.create(element=Element.LEADERSHIP, name="Clinical leaders")
    other = Theme.objects.create(element=Element.ENGAGEMENT, name="Local authorities")
    page = client.get(f"/admin/feedback/theme/merge/?ids={one.pk},{other.pk}", follow=True)
    assert "Choose themes of one element to merge." in page.content.decode()
    assert not Theme.objects.filter(merged_into__isnull=False).exists()


def test_machine_suggested_tags_are_not_counted_until_a_person_confirms_them(make_staff):
    reviewer = make_staff(REVIEWER)
    view = SubmissionFactory().views.get()
    theme = Theme.objects.create(element=Element.LEADERSHIP, name="Board support")
    tag = ThemeTag.objects.create(view=view, theme=theme)
    assert not ThemeTag.objects.confirmed().exists()
    assert tag.confirm(by=reviewer)
    assert not tag.confirm(by=reviewer), "confirmed once"
    assert ThemeTag.objects.confirmed().get() == tag


# --- Exports -----------------------------------------------------------------


def read_csv(response) -> list[list[str]]:
    assert response.streaming, "CSV exports are streamed"
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def test_a_lead_exports_the_filtered_list_as_csv_one_row_per_view(client, make_staff, submission):
    make_staff(LEAD, client=client)
    SubmissionFactory(region=Region.LONDON)
    response = client.get("/admin/feedback/submission/export/csv/?region=north_west&element=engagement")
    rows = read_csv(response)
    header, *data = rows
    assert header[:3] == ["Reference", "Name", "Email"]
    assert "View text" in header and "Themes" in header
    assert [row[0] for row in data] == [submission.reference, submission.reference]
    assert {row[header.index("Element")] for row in data} == {
        "Prioritisation by level",
        "Engaging staff, partners and the public",
    }
    assert data[0][header.index("Level")] == "Regionally, by each of the 10 strategic health authorities"


def test_exports_are_recorded_with_their_filters_and_row_count(client, make_staff, submission):
    lead = make_staff(LEAD, client=client)
    read_csv(client.get("/admin/feedback/submission/export/csv/?region=north_west"))
    event = AuditEvent.objects.get(action=AuditAction.EXPORTED)
    assert event.actor == lead
    assert event.detail["filters"] == {"region": ["north_west"]}
    assert event.detail["rows"] == 2
    assert event.detail["format"] == "csv"


def test_exports_leave_out_personal_details_for_those_who_may_not_see_them(client, make_staff, submission):
    lead = make_staff(None, client=client, username="exporter")
    from django.contrib.auth.models import Permission

    lead.user_permissions.set(Permission.objects.filter(codename__in=["view_submission", "export_submissions"]))
    header, *data = read_csv(client.get("/admin/feedback/submission/export/csv/"))
    assert "Email" not in header and "Name" not in header
    assert "priya@example.nhs.uk" not in str(data)


def test_an_xlsx_export_larger_than_a_sheet_is_refused_with_a_clear_message(client, make_staff, monkeypatch):
    make_staff(LEAD, client=client)
    monkeypatch.setattr(exports, "XLSX_MAX_ROWS", 2)
    SubmissionFactory(views=[{"element": Element.LEADERSHIP}] * 3)
    response = client.get("/admin/feedback/submission/export/xlsx/", follow=True)
    assert "more than a spreadsheet sheet holds" in response.content.decode()
    assert not AuditEvent.objects.filter(action=AuditAction.EXPORTED).exists()


def test_the_csv_export_reads_rows_in_chunks_not_one_query_per_row(
    client, make_staff, monkeypatch, django_assert_max_num_queries
):
    make_staff(LEAD, client=client)
    monkeypatch.setattr(exports, "CHUNK", 10)
    SubmissionFactory.create_batch(35)
    response = client.get("/admin/feedback/submission/export/csv/")
    # A chunk's themes are one query: 4 chunks, plus the rows themselves and the session.
    with django_assert_max_num_queries(8):
        rows = read_csv(response)
    assert len(rows) == 36


# --- Audit of personal data --------------------------------------------------


def test_viewing_personal_details_is_recorded(client, make_staff, submission):
    reviewer = make_staff(REVIEWER, client=client)
    client.get(f"/admin/feedback/submission/{submission.pk}/change/")
    event = AuditEvent.objects.get(action=AuditAction.VIEWED_PERSONAL_DETAILS)
    assert (event.actor, event.submission, event.reference) == (reviewer, submission, submission.reference)
    assert "priya" not in str(event.detail).lower(), "the log holds no personal data"


def test_an_administrator_resets_a_lost_device_with_a_command(make_staff):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    user = make_staff(REVIEWER)
    TOTPDevice.objects.create(user=user, name="Authenticator app")
    call_command("reset_two_factor", user.username)
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert AuditEvent.objects.filter(action=AuditAction.TWO_FACTOR_RESET).exists()


def test_the_list_shows_its_filter_counts_without_failing(client, make_staff, submission):
    make_staff(REVIEWER, client=client)
    Theme.objects.create(element=Element.LEADERSHIP, name="Board support")
    assert client.get("/admin/feedback/submission/?_facets=True").status_code == 200


def test_a_page_someone_may_not_see_says_so_in_plain_words(client, make_staff):
    make_staff(READER, client=client)
    page = client.get("/admin/feedback/submission/")
    assert page.status_code == 403
    assert "You cannot see this page" in page.content.decode()


def test_suggested_themes_are_marked_apart_from_confirmed_ones(client, make_staff, submission):
    reviewer = make_staff(REVIEWER, client=client)
    view = submission.views.get(position=2)
    confirmed = Theme.objects.create(element=Element.ENGAGEMENT, name="Joint working")
    suggested = Theme.objects.create(element=Element.ENGAGEMENT, name="Narrative")
    ThemeTag.objects.create(view=view, theme=confirmed, assigned_by=reviewer)
    ThemeTag.objects.create(view=view, theme=suggested)
    assert "Joint working, 1 suggested" in changelist(client)
    codebook = client.get("/admin/feedback/theme/").content.decode()
    assert "suggested, not yet confirmed" in codebook.lower()


def test_the_views_list_leads_back_to_the_submissions(client, make_staff):
    make_staff(REVIEWER, client=client)
    assert client.get("/admin/feedback/view/")["Location"] == "/admin/feedback/submission/"
