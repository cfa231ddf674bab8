"""
Exports against formula injection: a cell someone typed must never run as a
formula in the spreadsheet a policy lead opens the export in.

The cells come from tests/data/hostile_cells.txt, which says how it is read;
a guard written elsewhere (in SQL, say) is meant to pass the same file.
"""

import codecs
import csv
import io
import re
from pathlib import Path

import pytest
from openpyxl import load_workbook

from feedback.models import Element

from .factories import SubmissionFactory

pytestmark = pytest.mark.django_db

LEAD = "Policy leads"
CELLS_FILE = Path(__file__).parent / "data" / "hostile_cells.txt"
COLUMNS = ["Organisation", "View text"]

# Written out here, not taken from feedback.exports, so the tests hold the code
# to the rule rather than to itself.
TRIGGERS = ("=", "+", "-", "@", "\uff1d", "\uff0b", "\uff0d", "\uff20")
SEPARATORS = re.compile(r"[,;\t\r\n]")


def read_cells() -> dict[str, list]:
    """The file's cells by verdict, as test parameters named by their line as written."""
    cells: dict[str, list] = {"hostile": [], "innocent": []}
    for line in CELLS_FILE.read_text(encoding="ascii").splitlines():
        if not line or line.startswith("#"):
            continue
        verdict, written = line.split(" ", 1)
        cells[verdict].append(pytest.param(codecs.decode(written, "unicode_escape"), id=written))
    return cells


HOSTILE, INNOCENT = read_cells().values()


def could_start_a_formula(text: str) -> bool:
    """Whether any piece a spreadsheet might split the text into starts, after spaces, with a trigger."""
    return any(piece.lstrip(" ").startswith(TRIGGERS) for piece in SEPARATORS.split(text))


def is_hostile(cell: str) -> bool:
    # A tab or carriage return first is hostile too, as the guard has always had it.
    return cell.startswith(("\t", "\r")) or could_start_a_formula(cell)


@pytest.fixture
def lead(client, make_staff):
    """The test client, signed in as a policy lead, who may export."""
    make_staff(LEAD, client=client)
    return client


def typed(cell: str) -> None:
    """A submission with the cell typed as its organisation and as its one view's text and example."""
    SubmissionFactory(organisation=cell, views=[{"element": Element.LEADERSHIP, "text": cell, "example": cell}])


def csv_text(client) -> str:
    response = client.get("/admin/feedback/submission/export/csv/")
    assert response.streaming, "CSV exports are streamed"
    return b"".join(response.streaming_content).decode("utf-8-sig")


def csv_cells(text: str, **dialect) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline=""), **dialect))


def exported_csv_cells(client) -> list[str]:
    header, row = csv_cells(csv_text(client))
    return [row[header.index(column)] for column in COLUMNS]


def exported_xlsx_cells(client) -> list:
    response = client.get("/admin/feedback/submission/export/xlsx/")
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    header, row = sheet.iter_rows()
    names = [name.value for name in header]
    return [row[names.index(column)] for column in COLUMNS]


def as_stored_in_xlsx(text: str) -> str:
    # XML keeps line breaks as newlines alone, so a carriage return comes back as one.
    return text.replace("\r\n", "\n").replace("\r", "\n")


def test_the_shared_file_calls_hostile_exactly_the_cells_that_could_start_a_formula():
    assert all(is_hostile(param.values[0]) for param in HOSTILE)
    assert not any(is_hostile(param.values[0]) for param in INNOCENT)


@pytest.mark.parametrize("cell", HOSTILE)
def test_a_hostile_cell_is_inert_in_the_csv_export(lead, cell):
    typed(cell)
    for exported in exported_csv_cells(lead):
        assert not is_hostile(exported), exported
        assert exported.startswith("'"), "a leading apostrophe marks the whole cell as text"


@pytest.mark.parametrize("cell", HOSTILE)
def test_a_hostile_cell_is_text_not_a_formula_in_the_xlsx_export(lead, cell):
    typed(cell)
    for exported in exported_xlsx_cells(lead):
        assert exported.data_type == "s", "text, never a formula"
        assert not is_hostile(exported.value), exported.value
        assert exported.value.startswith("'")


@pytest.mark.parametrize("cell", INNOCENT)
def test_an_innocent_cell_is_exported_exactly_as_typed(lead, cell):
    typed(cell)
    assert exported_csv_cells(lead) == [cell, cell]
    xlsx = exported_xlsx_cells(lead)
    assert [exported.value for exported in xlsx] == [as_stored_in_xlsx(cell)] * 2


@pytest.mark.parametrize("cell", HOSTILE + INNOCENT)
def test_every_cell_of_the_csv_export_is_quoted(lead, cell):
    typed(cell)
    text = csv_text(lead)
    assert text.startswith(
        '"Reference","Name","Email","Received","Source","Status","Role","Organisation","On behalf of organisation",'
        '"Organisation type","Region","Principles","May quote","May contact","May share in full with framework team",'
        '"View","Element","Level","View text","Example of practice","Question version","Themes"\r\n'
    )
    # Written back with every cell quoted, what was read is the export byte for byte:
    # so no cell of it was left unquoted.
    rewritten = io.StringIO(newline="")
    csv.writer(rewritten, quoting=csv.QUOTE_ALL).writerows(csv_cells(text))
    assert rewritten.getvalue() == text


@pytest.mark.parametrize("cell", HOSTILE + INNOCENT)
def test_a_cell_stays_inert_when_the_csv_is_read_with_semicolons(lead, cell):
    typed(cell)
    text = csv_text(lead)
    # Misread, a cell may begin with the tab typed before a formula: the piece
    # after the tab is what a spreadsheet reads, and that is what is checked.
    for row in csv_cells(text, delimiter=";"):
        for read in row:
            assert not could_start_a_formula(read), read


@pytest.mark.parametrize("cell", HOSTILE + INNOCENT)
def test_a_cell_stays_inert_when_the_csv_is_split_with_no_regard_for_quotes(lead, cell):
    typed(cell)
    text = csv_text(lead)
    for piece in SEPARATORS.split(text):
        assert not piece.strip(' "').startswith(TRIGGERS), piece


# What the guard does to a cell, exactly: the documented scheme of feedback.exports.neutralise.


@pytest.mark.parametrize(
    ("cell", "exported"),
    [
        ('=HYPERLINK("http://evil.example")', '\'=HYPERLINK("http://evil.example")'),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tTab", "'\tTab"),
        ("\rReturn", "'\rReturn"),
        (" =1+1", "' =1+1"),
        ('harmless;=HYPERLINK("http://evil.example")', "'harmless;'=HYPERLINK(\"http://evil.example\")"),
        ("safe;  @SUM(A1)", "'safe;  '@SUM(A1)"),
        ("safe;\t=1+1", "'safe;\t'=1+1"),
        ("Points:\n- one\n- two", "'Points:\n'- one\n'- two"),
    ],
)
def test_a_hostile_cell_keeps_its_text_with_an_apostrophe_before_each_place_a_formula_could_start(
    lead, cell, exported
):
    typed(cell)
    assert exported_csv_cells(lead) == [exported, exported]
    xlsx = exported_xlsx_cells(lead)
    assert [written.value for written in xlsx] == [as_stored_in_xlsx(exported)] * 2
    assert all(written.data_type == "s" for written in xlsx), "text, never a formula"
