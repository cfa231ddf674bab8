"""
Importing responses gathered outside the portal (events, other surveys) from a CSV or XLSX file.

One row per view; rows that share a `response id` make one submission. Each
row is checked by the forms the web journey uses (with "Not known" allowed
for who sent it, as for mail). If any row is wrong, every wrong row is
reported with its line number and nothing is saved. Imported submissions
have `source=import`, every consent "no", and no acknowledgement; a response
id imported before is skipped, so importing a file again adds nothing.
"""

import csv
import io
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, time

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from .forms import MAX_VIEWS, SenderForm, ViewForm
from .models import NOT_KNOWN, Element, Level, OrganisationType, Region, Role, Source, Submission

# Submissions from a spreadsheet have a token derived from their response id:
# the same id imported again finds the submission it made.
IMPORT_TOKENS = uuid.UUID("0c6b2f7e-1f0a-4d55-8a52-7b1f3c9d2e64")
MAX_ROWS = 50_000
COLUMNS = [
    "response id",
    "received",
    "name",
    "email",
    "role",
    "organisation",
    "organisation type",
    "region",
    "element",
    "level",
    "view",
    "example",
]
REQUIRED_COLUMNS = {"response id", "element", "view"}
CHOICES = {
    "role": Role,
    "organisation type": OrganisationType,
    "region": Region,
    "element": Element,
    "level": Level,
}
ABOUT = ["received", "name", "email", "role", "organisation", "organisation type", "region"]


class ImportRefused(Exception):
    """The file itself cannot be read (not a CSV or XLSX, no header, missing columns, too long)."""


@dataclass
class Result:
    """What an import did, or would do with --dry-run: nothing is saved if `errors` has any."""

    responses: int = 0
    views: int = 0
    already_imported: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    saved: bool = False


def template_csv() -> str:
    """The file to fill in: the header and two example rows of one response."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    about = ["R-001", "2009-11-20", "", "", "Commissioner", "NHS Northfield", "Primary care trust", "North West"]
    writer.writerow(
        [
            *about,
            "Prioritisation by level",
            "Regionally",
            "Stroke services need a regional plan.",
            "Our network's stroke unit cut average stays by two days.",
        ]
    )
    writer.writerow([*about, "National policy framework", "", "Let the tariff reward care closer to home.", ""])
    return buffer.getvalue()


def rows_of(name: str, content: bytes) -> Iterator[tuple[int, dict]]:
    """(line number, {column: text}) for each row of a CSV or XLSX file, after its header."""
    if name.lower().endswith(".xlsx"):
        yield from _xlsx_rows(content)
    elif name.lower().endswith(".csv"):
        yield from _csv_rows(content)
    else:
        raise ImportRefused("Choose a .csv or .xlsx file.")


def _header(cells: list) -> list[str]:
    header = [" ".join(str(cell or "").replace("_", " ").split()).lower() for cell in cells]
    missing = REQUIRED_COLUMNS - set(header)
    if missing:
        raise ImportRefused(f"The first row must name the columns; missing: {', '.join(sorted(missing))}.")
    return header


def _csv_rows(content: bytes) -> Iterator[tuple[int, dict]]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ImportRefused("Save the CSV file as UTF-8 and try again.") from error
    reader = csv.reader(io.StringIO(text, newline=""))
    header = _header(next(reader, []))
    for row in reader:
        if any(cell.strip() for cell in row):
            yield reader.line_num, dict(zip(header, (cell.strip() for cell in row), strict=False))


def _xlsx_rows(content: bytes) -> Iterator[tuple[int, dict]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as error:  # noqa: BLE001 - any unreadable workbook is the same answer
        raise ImportRefused("This file could not be opened as an Excel workbook (.xlsx).") from error
    try:
        rows = workbook.worksheets[0].iter_rows(values_only=True)
        header = _header(list(next(rows, [])))
        for number, row in enumerate(rows, start=2):
            cells = [_cell(value) for value in row]
            if any(cells):
                yield number, dict(zip(header, cells, strict=False))
    finally:
        workbook.close()


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value).strip()


def _choice(text: str, choices, *, blank: str = "") -> str:
    """
    A code, a label or a label's first words ("Regionally"), in any case;
    blank gives `blank`. Unknown text is passed on for the form to refuse.
    """
    if not text:
        return blank
    wanted = " ".join(text.split()).casefold()
    for value, label in choices.choices:
        if wanted in (value.casefold(), label.casefold(), label.split(",")[0].casefold()):
            return value
    return text


def _received(text: str) -> datetime:
    if not text:
        return timezone.now()
    when = parse_datetime(text)
    if when is None:
        day = parse_date(text[:10])
        if day is None:
            raise ValidationError("Give the date received as YYYY-MM-DD")
        when = datetime.combine(day, time(12, 0))
    if timezone.is_naive(when):
        when = timezone.make_aware(when)
    if when > timezone.now():
        raise ValidationError("The date received is in the future")
    return when


def _errors(form) -> str:
    return "; ".join(f"{field}: {' '.join(errors)}" for field, errors in form.errors.items())


def read(name: str, content: bytes) -> tuple[dict[str, dict], Result]:
    """Check every row; group them by response id. Nothing is saved here."""
    result = Result()
    responses: dict[str, dict] = {}
    for count, (line, row) in enumerate(rows_of(name, content), start=1):
        if count > MAX_ROWS:
            raise ImportRefused(f"A file may hold at most {MAX_ROWS:,} rows: split it into several files.")
        problems = []
        response_id = row.get("response id", "")[:100]
        if not response_id:
            problems.append("response id: give each row the id of the response it belongs to")
        sender = SenderForm(
            {
                "name": row.get("name", ""),
                "email": row.get("email", ""),
                "role": _choice(row.get("role", ""), Role, blank=NOT_KNOWN),
                "organisation": row.get("organisation", ""),
                "organisation_type": _choice(row.get("organisation type", ""), OrganisationType, blank=NOT_KNOWN),
                "region": _choice(row.get("region", ""), Region, blank=NOT_KNOWN),
            }
        )
        view = ViewForm(
            {
                "element": _choice(row.get("element", ""), Element),
                "level": _choice(row.get("level", ""), Level),
                "text": row.get("view", ""),
                "example": row.get("example", ""),
            }
        )
        if not sender.is_valid():
            problems.append(_errors(sender))
        if not view.is_valid():
            problems.append(_errors(view))
        try:
            received = _received(row.get("received", ""))
        except ValidationError as error:
            problems.append(f"received: {' '.join(error.messages)}")
            received = None
        if problems:
            result.errors.append((line, "; ".join(problems)))
            continue
        about = {**sender.cleaned_data, "received_at": received}
        response = responses.setdefault(response_id, {"line": line, "about": about, "views": []})
        if response["about"] | {"received_at": None} != about | {"received_at": None}:
            result.errors.append(
                (
                    line,
                    f"who sent response {response_id} differs from line {response['line']}; its rows must agree",
                )
            )
            continue
        if len(response["views"]) >= MAX_VIEWS:
            result.errors.append((line, f"response {response_id} has more than {MAX_VIEWS} views"))
            continue
        response["views"].append({key: view.cleaned_data[key] for key in ("element", "level", "text", "example")})
    return responses, result


def import_responses(name: str, content: bytes, *, dry_run: bool = False) -> Result:
    """Read, check and (unless dry_run or any row is wrong) save every response in one transaction."""
    responses, result = read(name, content)
    tokens = {response_id: uuid.uuid5(IMPORT_TOKENS, response_id) for response_id in responses}
    known = set(Submission.objects.filter(token__in=tokens.values()).values_list("token", flat=True))
    new = {response_id: response for response_id, response in responses.items() if tokens[response_id] not in known}
    result.already_imported = len(responses) - len(new)
    result.responses = len(new)
    result.views = sum(len(response["views"]) for response in new.values())
    if result.errors or dry_run:
        return result
    with transaction.atomic():
        for response_id, response in new.items():
            Submission.objects.record(
                token=tokens[response_id], views=response["views"], source=Source.IMPORT, **response["about"]
            )
    result.saved = True
    return result
