"""Responses from a spreadsheet: checked like the web form, all or nothing, once per response id."""

import csv
import io
from io import StringIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse
from openpyxl import Workbook

from feedback.imports import COLUMNS, template_csv
from feedback.models import NOT_KNOWN, AuditAction, AuditEvent, Element, Level, OutgoingEmail, Source, Submission

from .tallies import assert_tallies_equal_direct_counts

pytestmark = pytest.mark.django_db

ABOUT = {"received": "2009-11-20", "role": "Commissioner", "organisation type": "Primary care trust"}


def row(response_id, element="National policy framework", view="Let the tariff reward care closer to home.", **more):
    return {"response id": response_id, **ABOUT, "element": element, "view": view, **more}


def csv_bytes(rows: list[dict]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode()


def xlsx_bytes(rows: list[dict]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(COLUMNS)
    for values in rows:
        sheet.append([values.get(column, "") for column in COLUMNS])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


GOOD = [
    row(
        "R-1",
        element="Prioritisation by level",
        level="Regionally",
        view="Stroke needs a regional plan.",
        example="Our network's stroke unit cut stays by two days.",
    ),
    row("R-1"),
    row("R-2", element="leadership", view="Boards must back clinical leaders.", region=""),
]


def run(path, *options) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_responses", str(path), *options, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_rows_sharing_a_response_id_make_one_import_submission(tmp_path):
    path = tmp_path / "responses.csv"
    path.write_bytes(csv_bytes(GOOD))

    out, _ = run(path)

    assert "Imported 2 response(s) with 3 view(s)." in out
    first = Submission.objects.get(views__text="Stroke needs a regional plan.")
    assert first.source == Source.IMPORT
    assert first.role == "commissioner" and first.organisation_type == "pct"
    assert first.region == NOT_KNOWN
    assert not first.consent_to_quote and not first.consent_to_contact
    assert first.received_at.date().isoformat() == "2009-11-20"
    assert [(v.element, v.level, v.example, v.question_version) for v in first.views.all()] == [
        (Element.PRIORITISATION, Level.REGIONAL, "Our network's stroke unit cut stays by two days.", None),
        (Element.NATIONAL_POLICY, "", "", None),
    ]
    assert not OutgoingEmail.objects.exists(), "imported rows get no acknowledgement"
    assert AuditEvent.objects.filter(action=AuditAction.RESPONSES_IMPORTED).exists()
    assert_tallies_equal_direct_counts()


def test_an_xlsx_file_imports_the_same_way(tmp_path):
    path = tmp_path / "responses.xlsx"
    path.write_bytes(xlsx_bytes(GOOD))

    run(path)

    assert Submission.objects.filter(source=Source.IMPORT).count() == 2


def test_importing_the_same_response_ids_again_adds_nothing(tmp_path):
    path = tmp_path / "responses.csv"
    path.write_bytes(csv_bytes(GOOD))
    run(path)

    out, _ = run(path)

    assert "Imported 0 response(s) with 0 view(s); 2 imported before, skipped." in out
    assert Submission.objects.count() == 2


def test_every_bad_row_is_reported_with_its_line_and_nothing_is_saved(tmp_path):
    path = tmp_path / "responses.csv"
    bad = [
        *GOOD,
        row("R-3", element="Prioritisation by level", view="No level given."),
        row("R-4", element="Something else"),
        row("R-5", view=""),
        row("R-6", email="not-an-address"),
        row("R-7", received="next tuesday"),
        row("R-1", role="Doctor"),
    ]
    path.write_bytes(csv_bytes(bad))

    err = StringIO()
    with pytest.raises(CommandError, match="6 row"):
        call_command("import_responses", str(path), stdout=StringIO(), stderr=err)

    report = err.getvalue()
    assert "Line 5: level: Select where this would be best organised" in report
    assert "Line 6: element: Select one of the four parts of the challenge" in report
    assert "Line 7: text: Enter your view" in report
    assert "Line 8: email:" in report
    assert "Line 9: received: Give the date received as YYYY-MM-DD" in report
    assert "Line 10: who sent response R-1 differs from line 2" in report
    assert Submission.objects.count() == 0


def test_a_dry_run_checks_every_row_and_saves_nothing(tmp_path):
    path = tmp_path / "responses.csv"
    path.write_bytes(csv_bytes(GOOD))

    out, _ = run(path, "--dry-run")

    assert "Would import 2 response(s) with 3 view(s)" in out
    assert Submission.objects.count() == 0


def test_a_file_without_the_columns_is_refused_with_the_missing_ones(tmp_path):
    path = tmp_path / "responses.csv"
    path.write_text("name,comment\nPriya,hello\n")

    with pytest.raises(CommandError, match="missing: element, response id, view"):
        run(path)


def test_the_template_imports_as_it_is(tmp_path):
    path = tmp_path / "template.csv"
    path.write_text(template_csv())

    out, _ = run(path)

    assert "Imported 1 response(s) with 2 view(s)." in out


def test_a_lead_uploads_a_spreadsheet_and_sees_bad_rows_listed(client, make_staff):
    make_staff("Policy leads", client=client)
    url = reverse("admin:feedback_submission_import")
    bad = SimpleUploadedFile("responses.csv", csv_bytes([*GOOD, row("R-9", element="Nonsense")]))

    refused = client.post(url, {"file": bad}).content.decode()
    good = SimpleUploadedFile("responses.xlsx", xlsx_bytes(GOOD))
    saved = client.post(url, {"file": good}).content.decode()

    assert "1 row is wrong, so nothing was saved" in refused
    assert "Select one of the four parts of the challenge" in refused
    assert "Imported 2 responses with 3 views." in saved
    assert Submission.objects.count() == 2


def test_the_upload_page_and_template_are_for_leads_only(client, make_staff):
    make_staff("Policy reviewers", client=client)

    assert client.get(reverse("admin:feedback_submission_import")).status_code == 403
    assert client.get(reverse("admin:feedback_submission_import_template")).status_code == 403
