"""
CSV and XLSX exports of submissions, one row per view.

CSV is streamed a chunk of rows at a time, so memory stays flat however many
rows there are. XLSX is written by openpyxl's write-only mode to a temporary
file, then sent. Cells a spreadsheet would run as formulas are neutralised.
"""

import csv
import tempfile
from collections import defaultdict
from collections.abc import Iterator

from django.db.models import QuerySet
from django.http import FileResponse, StreamingHttpResponse
from django.utils import timezone
from openpyxl import Workbook

from .models import Element, Level, OrganisationType, Principle, Region, Role, Source, Status, ThemeTag, View

# A sheet holds 1,048,576 rows; one is the header.
XLSX_MAX_ROWS = 1_048_575
CHUNK = 2000

# A spreadsheet treats a cell starting with one of these as a formula (or, for
# tab and carriage return, as the start of one after its own parsing).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

SUBMISSION_FIELDS = [
    ("Reference", "submission__reference", None),
    ("Received", "submission__received_at", None),
    ("Source", "submission__source", Source),
    ("Status", "submission__status", Status),
    ("Role", "submission__role", Role),
    ("Organisation", "submission__organisation", None),
    ("Organisation type", "submission__organisation_type", OrganisationType),
    ("Region", "submission__region", Region),
    ("Principles", "submission__principles", None),
    ("May quote", "submission__consent_to_quote", None),
    ("May contact", "submission__consent_to_contact", None),
]
PERSONAL_FIELDS = [("Name", "submission__name", None), ("Email", "submission__email", None)]
VIEW_FIELDS = [
    ("View", "position", None),
    ("Element", "element", Element),
    ("Level", "level", Level),
    ("View text", "text", None),
]


def neutralise(value: object) -> object:
    """Text that a spreadsheet would evaluate gets a leading apostrophe; everything else is left as it is."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def _columns(include_personal: bool) -> list[tuple]:
    fields = SUBMISSION_FIELDS[:1] + (PERSONAL_FIELDS if include_personal else []) + SUBMISSION_FIELDS[1:]
    return fields + VIEW_FIELDS


def _views(submissions: QuerySet) -> QuerySet:
    return View.objects.filter(submission__in=submissions.order_by().values("pk")).order_by(
        "-submission__received_at", "submission_id", "position"
    )


def count_rows(submissions: QuerySet) -> int:
    """How many rows an export of these submissions has: one per view."""
    return _views(submissions).count()


def headers(*, include_personal: bool) -> list[str]:
    return [header for header, _, _ in _columns(include_personal)] + ["Themes"]


def rows(submissions: QuerySet, *, include_personal: bool) -> Iterator[list]:
    """Every view of the given submissions as a list of cells, read in chunks."""
    columns = _columns(include_personal)
    paths = ["pk"] + [path for _, path, _ in columns]
    chunk: list[tuple] = []
    for values in _views(submissions).values_list(*paths).iterator(chunk_size=CHUNK):
        chunk.append(values)
        if len(chunk) == CHUNK:
            yield from _format(chunk, columns)
            chunk = []
    if chunk:
        yield from _format(chunk, columns)


def _format(chunk: list[tuple], columns: list[tuple]) -> Iterator[list]:
    # One query for the themes of the whole chunk, not one per row.
    themes = defaultdict(list)
    tags = ThemeTag.objects.confirmed().filter(view_id__in=[values[0] for values in chunk]).select_related("theme")
    for tag in tags.order_by("theme__name"):
        themes[tag.view_id].append(str(tag))
    for view_id, *values in chunk:
        cells = []
        for (_, path, choices), value in zip(columns, values, strict=True):
            if choices is not None:
                value = choices(value).label if value else ""
            elif path == "submission__principles":
                value = ", ".join(Principle(code).label for code in value)
            elif path == "submission__received_at":
                value = timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
            elif isinstance(value, bool):
                value = "Yes" if value else "No"
            cells.append(neutralise(value))
        cells.append(neutralise("; ".join(themes[view_id])))
        yield cells


class _Echo:
    """A file-like object whose write() hands the line back, for streaming csv.writer output."""

    def write(self, value: str) -> str:
        return value


def _filename(extension: str) -> str:
    return f"qipp-submissions-{timezone.localtime():%Y-%m-%d-%H%M}.{extension}"


def csv_response(submissions: QuerySet, *, include_personal: bool) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        # A byte-order mark so spreadsheet programs read the file as UTF-8.
        yield "\ufeff" + writer.writerow(headers(include_personal=include_personal))
        for row in rows(submissions, include_personal=include_personal):
            yield writer.writerow(row)

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{_filename("csv")}"'
    return response


def xlsx_response(submissions: QuerySet, *, include_personal: bool) -> FileResponse:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Views")
    sheet.append(headers(include_personal=include_personal))
    for row in rows(submissions, include_personal=include_personal):
        sheet.append(row)
    # Write-only mode still needs a file before the workbook can be sent; the
    # temporary file is removed when the response closes it.
    output = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115 - closed by FileResponse
    workbook.save(output)
    output.seek(0)
    return FileResponse(output, as_attachment=True, filename=_filename("xlsx"))
