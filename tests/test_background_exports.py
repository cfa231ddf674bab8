"""
Exports larger than the immediate limit: made by the worker, shown with their
progress, emailed as a link only the person who asked can open, deleted after
24 hours. On PostgreSQL the CSV is written by COPY with labels and the formula
guard in SQL: it must match the immediate export cell for cell and pass the
same hostile cells.
"""

import csv
import io
import random
import re

import pytest
import time_machine
from django.core import mail

from feedback import background_exports, exports
from feedback.models import (
    AuditAction,
    AuditEvent,
    Element,
    EmailKind,
    Export,
    ExportStatus,
    Level,
    OutgoingEmail,
    Principle,
    Role,
    Stance,
    Theme,
    ThemeTag,
    View,
)

from .conftest import HttpsClient
from .factories import SubmissionFactory
from .test_exports import HOSTILE, INNOCENT, is_hostile

pytestmark = pytest.mark.django_db

LEAD = "Policy leads"
STATUS = re.compile(r"/admin/feedback/submission/exports/([0-9a-f-]{36})/$")


@pytest.fixture(autouse=True)
def small_limit(monkeypatch, settings, tmp_path):
    """Anything over three rows goes to the worker; files go to a folder of the test's own."""
    monkeypatch.setattr(exports, "IMMEDIATE_ROWS", 3)
    settings.STORAGES = {
        **settings.STORAGES,
        "exports": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": tmp_path}},
    }


@pytest.fixture
def lead(client, make_staff):
    make_staff(LEAD, client=client, email="lead@example.nhs.uk")
    return client


def varied_submissions(count: int = 12) -> None:
    rng = random.Random(5)
    reviewer_theme = Theme.objects.create(element=Element.LEADERSHIP, name="Boards, and = signs")
    for n in range(count):
        views = [{"element": Element.LEADERSHIP, "text": f"View {n}: boards must back clinical leaders."}]
        if n % 2:
            views.append({"element": Element.PRIORITISATION, "level": rng.choice(list(Level)), "text": "=1+1, -2"})
        SubmissionFactory(
            role=rng.choice(list(Role)),
            organisation=rng.choice(["Northfield PCT", "@Trust", "Hill; =HYPERLINK()"]),
            principles=rng.sample(list(Principle.values), rng.randint(0, 3)),
            consent_to_quote=bool(n % 3),
            views=views,
        )
    for view in View.objects.filter(element=Element.LEADERSHIP)[:6]:
        ThemeTag.objects.create(view=view, theme=reviewer_theme, stance=rng.choice(["", *Stance.values]))


def ask(client, path: str, captured) -> str:
    """Ask for an export; the worker runs when the request's transaction commits. The export's id."""
    with captured(execute=True):
        response = client.get(path)
    assert response.status_code == 302
    return STATUS.search(response["Location"]).group(1)


def download(client, export_id: str) -> bytes:
    response = client.get(f"/admin/feedback/submission/exports/{export_id}/download/")
    assert response.status_code == 200
    return b"".join(response.streaming_content)


def immediate_csv(client, monkeypatch) -> bytes:
    monkeypatch.setattr(exports, "IMMEDIATE_ROWS", 10_000)
    response = client.get("/admin/feedback/submission/export/csv/")
    assert response.streaming
    return b"".join(response.streaming_content)


def cells(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_a_large_export_is_made_by_the_worker_and_the_person_gets_a_link(lead, django_capture_on_commit_callbacks):
    varied_submissions()

    export_id = ask(lead, "/admin/feedback/submission/export/csv/", django_capture_on_commit_callbacks)

    export = Export.objects.get(pk=export_id)
    assert export.status == ExportStatus.READY
    assert export.rows_written == export.rows_expected == View.objects.count()
    page = lead.get(f"/admin/feedback/submission/exports/{export_id}/").content.decode()
    assert "Ready." in page and "Download the CSV file" in page and "Only you can download it" in page
    assert len(cells(download(lead, export_id))) == View.objects.count() + 1
    email = OutgoingEmail.objects.get(kind=EmailKind.EXPORT_READY)
    assert email.recipient == "lead@example.nhs.uk"
    audit = AuditEvent.objects.get(action=AuditAction.EXPORTED)
    assert audit.detail["export"] == export_id and audit.detail["rows"] == "more than 3"


def test_the_email_links_to_the_export_and_says_when_it_is_deleted(lead, django_capture_on_commit_callbacks):
    varied_submissions()
    with time_machine.travel("2026-12-01 10:00 +0000", tick=False):
        export_id = ask(lead, "/admin/feedback/submission/export/csv/", django_capture_on_commit_callbacks)

    (message,) = [m for m in mail.outbox if "export" in m.subject.lower()]
    assert f"/admin/feedback/submission/exports/{export_id}/" in message.body
    assert "10:00 on 2 December 2026" in message.body


def test_a_page_that_checks_again_shows_progress_while_the_worker_is_busy(lead):
    varied_submissions()
    response = lead.get("/admin/feedback/submission/export/xlsx/")  # the worker is not run: still queued
    page = lead.get(response["Location"]).content.decode()
    assert 'id="export-status" aria-live="polite" data-working="true"' in page
    assert "Waiting to start" in page and "<progress" in page and "check again now" in page


def test_the_background_csv_matches_the_immediate_one_cell_for_cell(
    lead, monkeypatch, django_capture_on_commit_callbacks
):
    varied_submissions()
    query = "?q=boards&quotable=yes"
    export_id = ask(lead, f"/admin/feedback/submission/export/csv/{query}", django_capture_on_commit_callbacks)
    background = cells(download(lead, export_id))

    monkeypatch.setattr(exports, "IMMEDIATE_ROWS", 10_000)
    response = lead.get(f"/admin/feedback/submission/export/csv/{query}")
    assert cells(b"".join(response.streaming_content)) == background
    assert {row[background[0].index("May quote")] for row in background[1:]} == {"Yes"}
    assert len(background) - 1 == View.objects.filter(submission__consent_to_quote=True).count()


def test_a_background_xlsx_holds_every_row(lead, django_capture_on_commit_callbacks):
    from openpyxl import load_workbook

    varied_submissions()
    export_id = ask(lead, "/admin/feedback/submission/export/xlsx/", django_capture_on_commit_callbacks)
    sheet = load_workbook(io.BytesIO(download(lead, export_id))).active
    assert sheet.max_row == View.objects.count() + 1


def typed_many(cell: str) -> None:
    for _ in range(4):
        SubmissionFactory(organisation=cell, views=[{"element": Element.LEADERSHIP, "text": cell}])


@pytest.mark.parametrize("cell", HOSTILE)
def test_a_hostile_cell_is_inert_in_the_background_csv(lead, cell, django_capture_on_commit_callbacks):
    typed_many(cell)
    header, *rows = cells(
        download(lead, ask(lead, "/admin/feedback/submission/export/csv/", django_capture_on_commit_callbacks))
    )
    for row in rows:
        for column in ("Organisation", "View text"):
            exported = row[header.index(column)]
            assert not is_hostile(exported), exported
            assert exported.startswith("'")


@pytest.mark.parametrize("cell", INNOCENT)
def test_an_innocent_cell_is_exported_exactly_as_typed_in_the_background_csv(
    lead, cell, django_capture_on_commit_callbacks
):
    typed_many(cell)
    header, *rows = cells(
        download(lead, ask(lead, "/admin/feedback/submission/export/csv/", django_capture_on_commit_callbacks))
    )
    assert {row[header.index("View text")] for row in rows} == {cell}


def test_only_the_person_who_asked_can_see_or_download_an_export(lead, make_staff, django_capture_on_commit_callbacks):
    varied_submissions()
    export_id = ask(lead, "/admin/feedback/submission/export/csv/", django_capture_on_commit_callbacks)

    # Another lead may export, but finds nothing at someone else's export; the others may not export at all.
    for group, refused in ((LEAD, 404), ("Policy reviewers", 403), ("Digest readers", 403)):
        other = HttpsClient()
        make_staff(group, client=other, username=f"other.{group.split()[-1].lower()}")
        assert other.get(f"/admin/feedback/submission/exports/{export_id}/").status_code == refused
        assert other.get(f"/admin/feedback/submission/exports/{export_id}/download/").status_code == refused


def test_an_export_is_deleted_after_24_hours(lead, django_capture_on_commit_callbacks, tmp_path):
    varied_submissions()
    with time_machine.travel("2026-12-01 10:00 +0000", tick=False):
        export_id = ask(lead, "/admin/feedback/submission/export/csv/", django_capture_on_commit_callbacks)
    assert list(tmp_path.iterdir())

    with time_machine.travel("2026-12-02 09:59 +0000", tick=False):
        assert background_exports.sweep()["expired"] == 0
    assert Export.objects.get(pk=export_id).status == ExportStatus.READY and list(tmp_path.iterdir())
    with time_machine.travel("2026-12-02 10:05 +0000", tick=False):
        assert background_exports.sweep()["expired"] == 1
        signed_in_again(lead)
        assert lead.get(f"/admin/feedback/submission/exports/{export_id}/download/").status_code == 404
        assert (
            "deleted 24 hours after" in lead.get(f"/admin/feedback/submission/exports/{export_id}/").content.decode()
        )
    assert not list(tmp_path.iterdir())


def signed_in_again(client) -> None:
    """The lead signs in again (a day later their session has ended), two-factor verified."""
    from django.contrib.auth.models import User
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_static.models import StaticDevice

    user = User.objects.get(username="policy.leads")
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = StaticDevice.objects.get(user=user).persistent_id
    session.save()


def test_building_twice_makes_one_file_and_one_email(lead, django_capture_on_commit_callbacks, tmp_path):
    varied_submissions()
    export_id = ask(lead, "/admin/feedback/submission/export/csv/", django_capture_on_commit_callbacks)

    assert background_exports.build(export_id) == ExportStatus.READY
    assert len(list(tmp_path.iterdir())) == 1
    assert OutgoingEmail.objects.filter(kind=EmailKind.EXPORT_READY).count() == 1


def test_the_sweep_queues_again_an_export_the_broker_lost(lead, django_capture_on_commit_callbacks):
    varied_submissions()
    with time_machine.travel("2026-12-01 10:00 +0000", tick=False):
        response = lead.get("/admin/feedback/submission/export/csv/")  # queued; the message never arrives
    export_id = STATUS.search(response["Location"]).group(1)

    with time_machine.travel("2026-12-01 10:10 +0000", tick=False), django_capture_on_commit_callbacks(execute=True):
        assert background_exports.sweep()["queued_again"] == 1

    assert Export.objects.get(pk=export_id).status == ExportStatus.READY


def test_an_xlsx_larger_than_a_sheet_is_refused_by_the_worker_with_a_clear_message(
    lead, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(exports, "XLSX_MAX_ROWS", 5)
    varied_submissions()

    export_id = ask(lead, "/admin/feedback/submission/export/xlsx/", django_capture_on_commit_callbacks)

    assert Export.objects.get(pk=export_id).status == ExportStatus.TOO_LARGE
    page = lead.get(f"/admin/feedback/submission/exports/{export_id}/").content.decode()
    assert f"This selection has {View.objects.count()} views, more than a spreadsheet sheet holds" in page
    assert lead.get(f"/admin/feedback/submission/exports/{export_id}/download/").status_code == 404


def test_losing_the_right_to_see_personal_details_keeps_them_out_of_the_file_and_its_download(
    lead, django_capture_on_commit_callbacks
):
    from django.contrib.auth.models import Permission, User

    varied_submissions()
    user = User.objects.get(username="policy.leads")
    # A lead who may see names and email addresses asks; the worker runs after they lost that right.
    with django_capture_on_commit_callbacks() as waiting:
        response = lead.get("/admin/feedback/submission/export/csv/")
    export_id = STATUS.search(response["Location"]).group(1)
    assert Export.objects.get(pk=export_id).include_personal
    user.groups.clear()
    user.user_permissions.set(Permission.objects.filter(codename__in=["view_submission", "export_submissions"]))
    for callback in waiting:
        callback()

    header, *_ = cells(download(lead, export_id))
    assert "Email" not in header and "Name" not in header


def test_an_account_that_lost_the_right_to_export_gets_no_file(lead, django_capture_on_commit_callbacks):
    from django.contrib.auth.models import User

    varied_submissions()
    with django_capture_on_commit_callbacks() as waiting:
        response = lead.get("/admin/feedback/submission/export/csv/")
    export_id = STATUS.search(response["Location"]).group(1)
    User.objects.filter(username="policy.leads").update(is_active=False)
    for callback in waiting:
        callback()

    assert Export.objects.get(pk=export_id).status == ExportStatus.FAILED
    assert not OutgoingEmail.objects.filter(kind=EmailKind.EXPORT_READY).exists()


def test_a_file_with_personal_details_no_longer_downloads_for_someone_who_lost_the_right(
    lead, django_capture_on_commit_callbacks
):
    from django.contrib.auth.models import Permission, User

    varied_submissions()
    export_id = ask(lead, "/admin/feedback/submission/export/csv/", django_capture_on_commit_callbacks)
    assert "Email" in cells(download(lead, export_id))[0]

    user = User.objects.get(username="policy.leads")
    user.groups.clear()
    user.user_permissions.set(Permission.objects.filter(codename__in=["view_submission", "export_submissions"]))

    assert lead.get(f"/admin/feedback/submission/exports/{export_id}/download/").status_code == 403
