"""
Who may open what in the workspace: one table, tried page by page with an
account in each role, and the same table as docs/security.md prints it.
A page added to the workspace gets a row here and in the document.
"""

import re
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.contrib.auth.models import Group, User
from django.utils import timezone

from feedback import digests
from feedback.mail import store
from feedback.models import CallWindow, Element, MessageOrigin
from feedback.periods import week_of

from .factories import SubmissionFactory
from .mail_samples import email

pytestmark = pytest.mark.django_db

ROLES = ["Digest readers", "Policy reviewers", "Policy leads", "Administrators", "Superuser"]
RESPONDENT_EMAIL = "priya.shah@example.nhs.uk"

# (what the page is, its address, whether each role in ROLES reaches it).
# A page someone may not reach answers 403. "Respondents' names and email
# addresses" is reached when a submission's page shows them.
MATRIX = [
    ("Dashboard", "/admin/", "yes yes yes yes yes"),
    ("Submissions", "/admin/feedback/submission/", "no yes yes no yes"),
    ("A submission", "/admin/feedback/submission/{submission}/change/", "no yes yes no yes"),
    ("Respondents' names and email addresses", "/admin/feedback/submission/{submission}/change/", "no yes yes no yes"),
    ("Delete a submission", "/admin/feedback/submission/{submission}/delete/", "no no no no no"),
    ("Export submissions (CSV)", "/admin/feedback/submission/export/csv/", "no no yes no yes"),
    ("Export submissions (XLSX)", "/admin/feedback/submission/export/xlsx/", "no no yes no yes"),
    ("Import responses from a spreadsheet", "/admin/feedback/submission/import/", "no no yes no yes"),
    ("The import template", "/admin/feedback/submission/import/template.csv", "no no yes no yes"),
    ("Mail (the sorting queue)", "/admin/feedback/inboundmessage/", "no yes yes no yes"),
    ("A message, to sort it", "/admin/feedback/inboundmessage/{message}/change/", "no yes yes no yes"),
    (
        "A message's attachment (download)",
        "/admin/feedback/inboundmessage/attachment/{attachment}/",
        "no yes yes no yes",
    ),
    (
        "A message as it arrived (.eml, with its sender)",
        "/admin/feedback/inboundmessage/{message}/original/",
        "no yes yes no yes",
    ),
    ("Tag a view's themes", "/admin/feedback/view/{view}/change/", "no yes yes no yes"),
    ("The workbench (coding views)", "/admin/feedback/view/workbench/", "no yes yes no yes"),
    ("Reviewers' disagreements (settle them)", "/admin/feedback/view/workbench/disagreements/", "no no yes no yes"),
    ("Theme codebook", "/admin/feedback/theme/", "no yes yes no yes"),
    ("Add a theme", "/admin/feedback/theme/add/", "no no yes no yes"),
    ("Digests", "/admin/feedback/digest/", "yes yes yes no yes"),
    ("Read a digest", "/admin/feedback/digest/{digest}/read/", "yes yes yes no yes"),
    ("A digest as PDF", "/admin/feedback/digest/{digest}/pdf/", "yes yes yes no yes"),
    ("A digest's proposals shared in full", "/admin/feedback/digest/{digest}/shared/", "yes yes yes no yes"),
    ("Compile a digest", "/admin/feedback/digest/compile/", "no no yes no yes"),
    ("What was decided on each theme", "/admin/feedback/themedecision/", "yes yes yes no yes"),
    ("Record a decision on a theme", "/admin/feedback/themedecision/add/", "no no yes no yes"),
    ("Own weekly email subscription", "/staff/weekly-summary/", "yes yes yes no yes"),
    ("Everyone's subscriptions", "/admin/feedback/subscription/", "no no no yes yes"),
    ("Outbox (every email sent)", "/admin/feedback/outgoingemail/", "no no no yes yes"),
    ("Operations (queues, outbox, mailbox, beat jobs)", "/admin/operations/", "no no no yes yes"),
    ("Audit log", "/admin/feedback/auditevent/", "no no no yes yes"),
    ("Staff accounts", "/admin/auth/user/", "no no no yes yes"),
    ("Create an account", "/admin/auth/user/add/", "no no no yes yes"),
    ("Another person's account", "/admin/auth/user/{colleague}/change/", "no no no yes yes"),
    ("Set another person's password", "/admin/auth/user/{colleague}/password/", "no no no no no"),
    ("Roles", "/admin/auth/group/", "no no no yes yes"),
    ("Authenticator devices (secrets hidden)", "/admin/otp_totp/totpdevice/", "no no no no yes"),
    ("Backup code devices (codes hidden)", "/admin/otp_static/staticdevice/", "no no no no yes"),
    ("Lockouts", "/admin/axes/accessattempt/", "no no no yes yes"),
    (
        "When the call opens and closes (only Administrators change it)",
        "/admin/feedback/callwindow/{call}/change/",
        "no yes yes yes yes",
    ),
]
PERSONAL_ROW = "Respondents' names and email addresses"


def expected() -> list[tuple[str, list[str]]]:
    return [(label, reached.split()) for label, _, reached in MATRIX]


@pytest.fixture
def workspace():
    last_week = week_of(timezone.now()).previous()
    submission = SubmissionFactory(
        name="Priya Shah",
        email=RESPONDENT_EMAIL,
        received_at=last_week.start + timedelta(days=1),
        views=[{"element": Element.NATIONAL_POLICY, "text": "Let tariffs reward care closer to home."}],
    )
    with time_machine.travel(last_week.end + timedelta(hours=1)):
        digest = digests.compile_digest(week=last_week)
    colleague = User.objects.create_user("colleague", email="colleague@example.nhs.uk", is_staff=True)
    colleague.groups.add(Group.objects.get(name="Policy leads"))
    message, _ = store(
        email(attachments=[("response.txt", b"Our response.", "text", "plain")]), origin=MessageOrigin.MAILBOX
    )
    return {
        "message": message.pk,
        "attachment": message.attachments.get().pk,
        "submission": submission.pk,
        "view": submission.views.get().pk,
        "digest": digest.pk,
        "colleague": colleague.pk,
        "call": CallWindow.objects.create().pk,
    }


@pytest.mark.parametrize("role", ROLES)
def test_each_role_reaches_exactly_the_pages_the_table_gives_it(client, make_staff, workspace, role):
    if role == "Superuser":
        make_staff(None, client=client, username="named.superuser", is_superuser=True)
    else:
        make_staff(role, client=client)
    column = ROLES.index(role)
    wrong = []
    for label, url, reached in MATRIX:
        allowed = reached.split()[column] == "yes"
        response = client.get(url.format(**workspace))
        if label == PERSONAL_ROW:
            shown = response.status_code == 200 and RESPONDENT_EMAIL in response.content.decode()
            outcome_as_expected = shown is allowed
        else:
            outcome_as_expected = response.status_code == (200 if allowed else 403)
        if not outcome_as_expected:
            wrong.append(f"{label}: {response.status_code}, expected {'yes' if allowed else 'no'}")
    assert wrong == []


def test_docs_security_md_prints_the_same_table():
    text = (Path(__file__).resolve().parent.parent / "docs" / "security.md").read_text()
    table = text.split("<!-- role-matrix -->")[1]
    rows = [line.strip().strip("|").split("|") for line in table.strip().splitlines() if line.startswith("|")]
    header, _separator, *body = rows
    assert [cell.strip() for cell in header] == ["Page", *ROLES]
    documented = [(cells[0].strip(), [re.sub(r"\W", "", cell).lower() for cell in cells[1:]]) for cells in body]
    assert documented == expected()
