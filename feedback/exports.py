"""
CSV and XLSX exports of submissions, one row per view.

CSV is streamed a chunk of rows at a time, so memory stays flat however many
rows there are. XLSX is written by openpyxl's write-only mode to a temporary
file, then sent. Cells a spreadsheet would run as formulas are neutralised
(see neutralise), and every CSV cell is quoted, so a separator typed inside a
cell can never start a new cell.
"""

import csv
import io
import json
import re
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import datetime
from functools import lru_cache

from django.db.models import QuerySet, TextField
from django.db.models.functions import Cast
from django.http import FileResponse, StreamingHttpResponse
from django.utils import timezone

from .models import Element, Level, OrganisationType, Principle, Region, Role, Source, Stance, Status, ThemeTag, View

# A sheet holds 1,048,576 rows; one is the header.
XLSX_MAX_ROWS = 1_048_575
CHUNK = 2000

# A spreadsheet treats a cell starting with one of these as a formula; the
# full-width forms too, in some East Asian settings. Spaces and line breaks
# before them are skipped by some importers, so they are skipped here as well.
FORMULA_TRIGGERS = "=+\\-@\uff1d\uff0b\uff0d\uff20"
SPACES = " \t\r\n"
# Where a new cell could begin for a spreadsheet or importer that splits text:
# field separators in common use, and line breaks.
SEPARATORS = ",;\t\r\n"
# The start of the cell: a trigger after any spaces, or a tab or carriage
# return first, which some spreadsheets strip before reading a formula.
STARTS_A_FORMULA = re.compile(f"[\t\r]|[{SPACES}]*[{FORMULA_TRIGGERS}]")
# A separator and any spaces, followed by a trigger: where the apostrophe goes.
SEPARATOR_THEN_FORMULA = re.compile(f"[{SEPARATORS}][{SPACES}]*(?=[{FORMULA_TRIGGERS}])")

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


STANCES = dict(Stance.choices)

# Columns that hold what people typed: only these can start like a formula.
# Every other cell is a label, a date, a number or Yes and No of our own.
FREE_TEXT = {"submission__name", "submission__email", "submission__organisation", "text"}


def neutralise(value: object) -> object:
    """
    Text a spreadsheet could run as a formula, made inert; anything else as it is.

    Text is dangerous when a trigger (= + - @, or a full-width form of one)
    comes at its start or right after a separator a spreadsheet might split
    on (, ; tab, carriage return, newline), possibly after spaces and line
    breaks; or when it starts with a tab or carriage return. A lone "-" is
    dangerous too: the rule looks at one character, the same everywhere.

    Dangerous text gets a leading apostrophe, which marks the whole cell as
    text: " =1+1" becomes "' =1+1". That is enough for the cell as exported:
    XLSX cells are cells, and every CSV cell is quoted, so a separator inside
    one never splits it. In case something splits the text anyway (an
    importer that ignores quotes, or a person pasting a cell's text, which
    spreadsheets split at tabs and line breaks), each trigger after a
    separator also gets an apostrophe straight before it, so no piece starts
    with a trigger: 'harmless;=HYPERLINK(...)' becomes
    "'harmless;'=HYPERLINK(...)". Nothing is removed, so a person still reads
    what was typed; the cost is an apostrophe on lines like "- a bullet".
    A tab or line break after a separator is not a trigger by itself, so
    paragraphs (typed as CR LF CR LF) are left alone.

    The same function guards CSV and XLSX. tests/data/hostile_cells.txt lists
    the cases, for this and any other implementation of the rule.
    """
    if not isinstance(value, str):
        return value
    # Checked first because it also decides the apostrophes inside; when it
    # finds nothing, only the start of the cell is left to look at.
    if SEPARATOR_THEN_FORMULA.search(value):
        return "'" + SEPARATOR_THEN_FORMULA.sub(r"\g<0>'", value)
    if STARTS_A_FORMULA.match(value):
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
    """Every view of the given submissions as a list of cells."""
    for chunk in _chunks(submissions, include_personal=include_personal):
        yield from chunk


def _chunks(submissions: QuerySet, *, include_personal: bool) -> Iterator[list[list]]:
    """Every view of the given submissions as lists of cells, CHUNK rows at a time."""
    columns = _columns(include_personal)
    # Principles come as the stored JSON text: a few combinations recur on
    # every row, so each is read once (see _converter) rather than per row.
    raw = {"submission__principles": Cast("submission__principles", TextField())}
    paths = ["pk"] + [raw.get(path, path) for _, path, _ in columns]
    convert = [_converter(path, choices) for _, path, choices in columns]
    chunk: list[tuple] = []
    for values in _views(submissions).values_list(*paths).iterator(chunk_size=CHUNK):
        chunk.append(values)
        if len(chunk) == CHUNK:
            yield _format(chunk, convert)
            chunk = []
    if chunk:
        yield _format(chunk, convert)


def _converter(path: str, choices) -> Callable[[object], object]:
    """How one column's stored value becomes a cell: labels for codes, local times, Yes and No."""
    if choices is not None:
        labels = dict(choices.choices)
        return lambda value: labels.get(value, value) if value else ""
    if path == "submission__principles":
        principles = dict(Principle.choices)

        @lru_cache(maxsize=256)
        def principle_labels(stored: str) -> str:
            return ", ".join(principles.get(code, code) for code in json.loads(stored))

        return principle_labels
    if path == "submission__received_at":
        zone = timezone.get_current_timezone()

        def local_time(value: datetime) -> str:
            local = value.astimezone(zone)
            return f"{local.year:04d}-{local.month:02d}-{local.day:02d} {local.hour:02d}:{local.minute:02d}"

        return local_time
    if path in FREE_TEXT:
        return neutralise
    return lambda value: ("Yes" if value else "No") if isinstance(value, bool) else value


def _format(chunk: list[tuple], convert: list[Callable]) -> list[list]:
    # One query for the themes of the whole chunk, not one per row.
    themes = defaultdict(list)
    tags = ThemeTag.objects.confirmed().filter(view_id__in=[values[0] for values in chunk])
    for view_id, name, stance in tags.order_by("theme__name").values_list("view_id", "theme__name", "stance"):
        # As ThemeTag's str(): "Name (stance)".
        themes[view_id].append(f"{name} ({STANCES[stance].lower()})" if stance else name)
    formatted = []
    for view_id, *values in chunk:
        cells = [to_cell(value) for to_cell, value in zip(convert, values, strict=True)]
        cells.append(neutralise("; ".join(themes[view_id])))
        formatted.append(cells)
    return formatted


def _csv_text(lines: list[list]) -> str:
    buffer = io.StringIO()
    # Every cell quoted: a comma or semicolon inside a cell then never splits
    # it, even for a spreadsheet set to another separator.
    csv.writer(buffer, quoting=csv.QUOTE_ALL).writerows(lines)
    return buffer.getvalue()


def _filename(extension: str) -> str:
    return f"qipp-submissions-{timezone.localtime():%Y-%m-%d-%H%M}.{extension}"


def csv_response(submissions: QuerySet, *, include_personal: bool) -> StreamingHttpResponse:
    def blocks() -> Iterator[str]:
        # A byte-order mark so spreadsheet programs read the file as UTF-8.
        yield "\ufeff" + _csv_text([headers(include_personal=include_personal)])
        # CHUNK lines at a time: a line at a time spent more on handing lines
        # to the server than on writing them.
        for chunk in _chunks(submissions, include_personal=include_personal):
            yield _csv_text(chunk)

    response = StreamingHttpResponse(blocks(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{_filename("csv")}"'
    return response


def xlsx_response(submissions: QuerySet, *, include_personal: bool) -> FileResponse:
    # Imported here: openpyxl is large, and only XLSX exports need it.
    from openpyxl import Workbook

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
