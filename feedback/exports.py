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
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import lru_cache

from django.conf import settings
from django.db import connection
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
    ("On behalf of organisation", "submission__on_behalf_of_organisation", None),
    ("Organisation type", "submission__organisation_type", OrganisationType),
    ("Region", "submission__region", Region),
    ("Principles", "submission__principles", None),
    ("May quote", "submission__consent_to_quote", None),
    ("May contact", "submission__consent_to_contact", None),
    ("May share in full with framework team", "submission__consent_to_share", None),
]
PERSONAL_FIELDS = [("Name", "submission__name", None), ("Email", "submission__email", None)]
VIEW_FIELDS = [
    ("View", "position", None),
    ("Element", "element", Element),
    ("Level", "level", Level),
    ("View text", "text", None),
    ("Example of practice", "example", None),
    ("Question version", "question_version", None),
]


STANCES = dict(Stance.choices)

# Columns that hold what people typed: only these can start like a formula.
# Every other cell is a label, a date, a number or Yes and No of our own.
FREE_TEXT = {"submission__name", "submission__email", "submission__organisation", "text", "example"}


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


def count_rows(submissions: QuerySet, *, up_to: int | None = None) -> int:
    """
    How many rows an export of these submissions has: one per view. With
    `up_to`, counting stops past it (enough to choose how to export).
    """
    views = _views(submissions).order_by()
    if up_to is None:
        return views.count()
    return views.values("pk")[: up_to + 1].count()


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


# --- Exports made in the background ------------------------------------------

# Selections up to this many rows are sent at once; larger ones are made by the worker.
IMMEDIATE_ROWS = 10_000
# How often the worker writes down how far an export has got.
PROGRESS_EVERY_SECONDS = 2.0

# The guard (`neutralise`) as PostgreSQL regular expressions, characters as
# they are (they travel as parameters, never inside the SQL): a hyphen last
# in a bracket is itself. Most cells are innocent and hold no trigger at
# all: the cheapest test (one character class) lets them through first.
_TRIGGERS = "[=+@\uff1d\uff0b\uff0d\uff20-]"
_SQL_COULD_START_A_FORMULA = f"(^|[{SEPARATORS}])[{SPACES}]*{_TRIGGERS}|^[\t\r]"
_SQL_SEPARATOR_THEN_FORMULA = f"[{SEPARATORS}][{SPACES}]*{_TRIGGERS}"
_SQL_BEFORE_EACH_TRIGGER = f"([{SEPARATORS}][{SPACES}]*)({_TRIGGERS})"


def _sql_guard(column: str) -> tuple[str, list]:
    """`neutralise` in SQL, for a text column of the query it is used in."""
    sql = (
        f"CASE WHEN {column} !~ %s AND left({column}, 1) NOT IN (%s, %s) THEN {column} "
        f"WHEN {column} !~ %s THEN {column} "
        f"WHEN {column} ~ %s THEN '''' || regexp_replace({column}, %s, %s, 'g') "
        f"ELSE '''' || {column} END"
    )
    apostrophe_before_trigger = "\\1'\\2"
    return sql, [
        _TRIGGERS,
        "\t",
        "\r",
        _SQL_COULD_START_A_FORMULA,
        _SQL_SEPARATOR_THEN_FORMULA,
        _SQL_BEFORE_EACH_TRIGGER,
        apostrophe_before_trigger,
    ]


def _sql_label(column: str, choices) -> tuple[str, list]:
    """A code as its label, as `_converter` gives it; a code no list has stays as it is."""
    cases = " ".join("WHEN %s THEN %s" for _ in choices.choices)
    return f"COALESCE(CASE {column} {cases} ELSE {column} END, '')", [v for pair in choices.choices for v in pair]


def _sql_principles(column: str) -> tuple[str, list]:
    """
    The stored list of principle codes as their labels, comma-separated. As
    text, PostgreSQL writes the list as ["code", "code"]: each quoted code
    becomes its label (string replacement, far cheaper per row than taking
    the list apart), then the brackets and any unknown code's quotes go.
    """
    sql = f"{column}::text"
    params = []
    for code, label in Principle.choices:
        sql = f"replace({sql}, %s, %s)"
        params += [f'"{code}"', label]
    return f"replace(trim(both '[]' from {sql}), '\"', '')", params


def _copy_sql(submissions: QuerySet, *, include_personal: bool) -> tuple[str, list]:
    """
    One SELECT giving the export's cells as the Python path formats them:
    labels, London times, Yes and No, and the formula guard, all in SQL. The
    raw values come from an inner query (OFFSET 0 keeps PostgreSQL from
    merging it, which would work out the themes once per guard test).
    """
    if submissions.query.where:
        selection, selection_params = submissions.order_by().values("pk").query.sql_with_params()
        chosen = f"v.submission_id IN ({selection})"
    else:  # every submission: nothing to join against
        chosen, selection_params = "TRUE", ()
    stance_labels = " ".join("WHEN %s THEN ' (' || %s || ')'" for _ in Stance.choices)
    raw = f"""SELECT s.reference, s.name, s.email, s.received_at, s.source, s.status, s.role, s.organisation,
        s.organisation_type, s.region, s.consent_to_quote, s.consent_to_contact, s.consent_to_share,
        s.on_behalf_of_organisation, v.position, v.element, v.level, v.text, v.example, v.question_version,
        s.principles,
        (SELECT string_agg(th.name || CASE t.stance {stance_labels} ELSE '' END, '; ' ORDER BY th.name)
           FROM feedback_themetag t JOIN feedback_theme th ON th.id = t.theme_id
           WHERE t.view_id = v.id AND (t.assigned_by_id IS NOT NULL OR t.confirmed_by_id IS NOT NULL)) AS themes
      FROM feedback_view v JOIN feedback_submission s ON s.id = v.submission_id
      WHERE {chosen}
      ORDER BY s.received_at DESC, s.id, v.position OFFSET 0"""  # noqa: S608 (the ORM's own SQL; values are parameters)
    raw_params = [value for code, label in Stance.choices for value in (code, label.lower())] + list(selection_params)
    cells, params = [], []

    def cell(sql: str, values: list | tuple = ()) -> None:
        cells.append(sql)
        params.extend(values)

    by_path = {
        "submission__reference": ("r.reference", []),
        "submission__name": _sql_guard("r.name"),
        "submission__email": _sql_guard("r.email"),
        "submission__received_at": (
            "to_char(r.received_at AT TIME ZONE %s, 'YYYY-MM-DD HH24:MI')",
            [settings.TIME_ZONE],
        ),
        "submission__source": _sql_label("r.source", Source),
        "submission__status": _sql_label("r.status", Status),
        "submission__role": _sql_label("r.role", Role),
        "submission__organisation": _sql_guard("r.organisation"),
        "submission__organisation_type": _sql_label("r.organisation_type", OrganisationType),
        "submission__region": _sql_label("r.region", Region),
        "submission__principles": _sql_principles("r.principles"),
        "submission__consent_to_quote": ("CASE WHEN r.consent_to_quote THEN 'Yes' ELSE 'No' END", []),
        "submission__consent_to_contact": ("CASE WHEN r.consent_to_contact THEN 'Yes' ELSE 'No' END", []),
        "submission__consent_to_share": ("CASE WHEN r.consent_to_share THEN 'Yes' ELSE 'No' END", []),
        "submission__on_behalf_of_organisation": (
            "CASE WHEN r.on_behalf_of_organisation THEN 'Yes' ELSE 'No' END",
            [],
        ),
        "position": ("r.position", []),
        "element": _sql_label("r.element", Element),
        "level": _sql_label("r.level", Level),
        "text": _sql_guard("r.text"),
        "example": _sql_guard("r.example"),
        "question_version": ("r.question_version", []),
    }
    for _, path, _ in _columns(include_personal):
        cell(*by_path[path])
    cell(*_sql_guard("COALESCE(r.themes, '')"))
    return f"SELECT {', '.join(cells)} FROM ({raw}) AS r", params + raw_params  # noqa: S608


class _CountingFile:
    """A binary file that counts the CSV lines written through it (every line starts with a quoted cell)."""

    def __init__(self, out):
        self.out = out
        self.rows = 0

    def write(self, data: bytes) -> int:
        self.rows += data.count(b'\n"')
        return self.out.write(data)


def write_csv(submissions: QuerySet, out, *, include_personal: bool, progress: Callable[[int], None]) -> None:
    """
    The CSV export into the binary file `out`. On PostgreSQL, COPY writes
    the rows as the database makes them, with labels and the guard done in
    SQL; elsewhere the Python path writes them a chunk at a time.
    `progress` is told the rows written so far, every few seconds.
    """
    out.write(("\ufeff" + _csv_text([headers(include_personal=include_personal)])).encode())
    if connection.vendor != "postgresql":
        written = 0
        for chunk in _chunks(submissions, include_personal=include_personal):
            out.write(_csv_text(chunk).encode())
            written += len(chunk)
            progress(written)
        return
    select, params = _copy_sql(submissions, include_personal=include_personal)
    counting = _CountingFile(out)
    with connection.cursor() as cursor, _reporting(lambda: progress(counting.rows)):
        sql = cursor.mogrify(f"COPY ({select}) TO STDOUT WITH (FORMAT csv, FORCE_QUOTE *)", params)
        cursor.cursor.copy_expert(sql, counting)
        progress(cursor.cursor.rowcount if cursor.cursor.rowcount >= 0 else counting.rows)


def write_xlsx(submissions: QuerySet, out, *, include_personal: bool, progress: Callable[[int], None]) -> None:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Views")
    sheet.append(headers(include_personal=include_personal))
    written = 0
    for chunk in _chunks(submissions, include_personal=include_personal):
        for row in chunk:
            sheet.append(row)
        written += len(chunk)
        progress(written)
    workbook.save(out)


@contextmanager
def _reporting(report: Callable[[], None]):
    """Call `report` every few seconds from another thread (with its own connection) while the block runs."""
    stop = threading.Event()

    def loop() -> None:
        try:
            while not stop.wait(PROGRESS_EVERY_SECONDS):
                report()
        finally:
            connection.close()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
