"""
Personal data kept only as long as needed: removal after the retention
period, a copy of everything held about an address, and erasure; and the
privacy page's promises, each with the code behind it.
"""

import datetime
import io
import json
import zipfile
import zoneinfo

import pytest
import time_machine
from django.apps import apps
from django.contrib.sessions.models import Session
from django.core.management import CommandError, call_command
from django.db import models

from feedback import dashboard, digests, retention, tasks
from feedback.drafts import SESSION_KEY
from feedback.mail import store
from feedback.models import (
    KEEP_SAVED_DRAFTS,
    AuditAction,
    AuditEvent,
    CallWindow,
    Digest,
    Element,
    EmailKind,
    EmailStatus,
    InboundMessage,
    MessageOrigin,
    OutgoingEmail,
    SavedDraft,
    Submission,
    View,
)
from feedback.periods import Week
from feedback.sessions import SessionStore
from feedback.sorting import sort_message

from .factories import AcknowledgementFactory, SubmissionFactory
from .mail_samples import email
from .tallies import assert_tallies_equal_direct_counts

pytestmark = pytest.mark.django_db

LONDON = zoneinfo.ZoneInfo("Europe/London")
W47 = Week.parse("2026-W47")
CLOSES = datetime.datetime(2026, 11, 27, 17, 0, tzinfo=LONDON)
ADDRESS = "amina.patel@example.nhs.uk"
HER_VIEW = "Urgent care should be planned across the whole local system."


@pytest.fixture
def closed_call():
    CallWindow(pk=1, opens_at=CLOSES - datetime.timedelta(days=60), closes_at=CLOSES).save()


@pytest.fixture
def amina(closed_call):
    """One respondent, everywhere: two submissions (one sent by email), a receipt, saved answers, a live draft."""
    on_the_form = SubmissionFactory(
        name="Amina Patel",
        email="Amina.Patel@example.nhs.uk",
        organisation="Northfield Walk-in Centre",
        consent_to_quote=True,
        received_at=W47.start + datetime.timedelta(days=1),
        views=[{"element": Element.ENGAGEMENT, "text": HER_VIEW}],
    )
    AcknowledgementFactory(submission=on_the_form, status=EmailStatus.SENT)
    raw = email(sender=f"Dr Amina Patel <{ADDRESS}>", text="Talk to staff before any change. Amina Patel")
    message, _ = store(raw, origin=MessageOrigin.MAILBOX, arrived_at=W47.start + datetime.timedelta(days=2))
    by_mail = sort_message(
        message,
        by=None,
        about={
            "name": "Amina Patel",
            "email": ADDRESS,
            "role": "doctor",
            "organisation": "",
            "organisation_type": "acute_trust",
            "region": "london",
        },
        views=[{"element": Element.LEADERSHIP, "level": "", "text": "Talk to staff before any change."}],
    )
    saved = SavedDraft(email=ADDRESS, data={"token": "t", "email": ADDRESS, "views": []})
    saved.keep()
    saved.save()
    store_ = SessionStore()
    store_[SESSION_KEY] = {"email": ADDRESS, "views": []}
    store_.create()
    other = SubmissionFactory(
        name="Sam Lee",
        email="sam.lee@example.nhs.uk",
        organisation="Riverside PCT",
        on_behalf_of_organisation=True,
        received_at=W47.start + datetime.timedelta(days=3),
    )
    return {"form": on_the_form, "mail": by_mail, "message": message, "other": other}


def traces_of(address: str) -> list[str]:
    """Every place in the database the address still appears, whatever its case: text, JSON, bytes, sessions."""
    needle, found = address.lower(), []
    for model in apps.get_models():
        textual = [
            f.attname
            for f in model._meta.concrete_fields
            if isinstance(f, models.CharField | models.TextField | models.JSONField | models.BinaryField)
        ]
        if not textual:
            continue
        for row in model.objects.values_list("pk", *textual).iterator():
            for name, value in zip(textual, row[1:], strict=True):
                if isinstance(value, memoryview | bytes):
                    text = bytes(value).decode("latin-1")
                elif model is Session and name == "session_data":
                    text = json.dumps(SessionStore().decode(value))
                else:
                    text = json.dumps(value) if not isinstance(value, str) else value
                if needle in text.lower():
                    found.append(f"{model._meta.label}.{name} (pk {row[0]})")
    return found


# --- Retention -----------------------------------------------------------------------


def test_nothing_is_removed_before_the_retention_period_has_passed(amina, settings):
    settings.QIPP_KEEP_PERSONAL_DATA_MONTHS = 12
    with time_machine.travel(datetime.datetime(2027, 11, 27, 16, 59, tzinfo=LONDON)):
        assert retention.apply() is None
        assert tasks.apply_retention_task() == {"due": False}
    assert Submission.objects.get(pk=amina["form"].pk).name == "Amina Patel"


def test_a_call_with_no_closing_time_keeps_personal_data(amina):
    CallWindow.objects.filter(pk=1).update(closes_at=None)
    with time_machine.travel(datetime.datetime(2040, 1, 1, tzinfo=LONDON)):
        assert retention.apply() is None


def test_the_period_counts_calendar_months_in_london():
    assert retention.months_after(datetime.datetime(2027, 1, 31, 12, tzinfo=LONDON), 1) == datetime.datetime(
        2027, 2, 28, 12, tzinfo=LONDON
    )
    assert retention.months_after(CLOSES, 12) == datetime.datetime(2027, 11, 27, 17, tzinfo=LONDON)


def test_past_its_time_personal_details_go_and_every_view_and_figure_stays(amina, settings):
    settings.QIPP_KEEP_PERSONAL_DATA_MONTHS = 12
    with time_machine.travel(datetime.datetime(2026, 12, 1, 9, tzinfo=LONDON)):
        digest = digests.compile_digest(week=W47)
    texts = dict(View.objects.values_list("pk", "text"))
    figures = dashboard.summary(now=CLOSES)
    after = datetime.datetime(2027, 11, 28, 3, 10, tzinfo=LONDON)

    with time_machine.travel(after):
        tasks.clear_expired_sessions_task()  # the hourly job: drafts and saved answers long gone
        removed = retention.apply()
        again = retention.apply()

    assert (removed.names, removed.email_addresses, removed.organisations, removed.messages) == (3, 3, 1, 1)
    assert removed.recipients == 2  # the receipt and the reply to the email
    assert not again.anything
    assert not Submission.objects.exclude(name="").exists() and not Submission.objects.exclude(email="").exists()
    assert Submission.objects.get(pk=amina["other"].pk).organisation == "Riverside PCT", "an organisation's own name"
    assert Submission.objects.get(pk=amina["form"].pk).organisation == ""
    message = InboundMessage.objects.get(pk=amina["message"].pk)
    assert message.sender_email == "" and message.sender_name == ""
    assert b"amina.patel@" not in bytes(message.raw).lower() and b"From:" not in bytes(message.raw)
    assert b"Talk to staff before any change." in bytes(message.raw) and b"Subject:" in bytes(message.raw)
    assert not OutgoingEmail.objects.filter(kind__in=retention.RESPONDENT_EMAILS).exclude(recipient="").exists()
    assert dict(View.objects.values_list("pk", "text")) == texts
    assert dashboard.summary(now=CLOSES)["totals"] == figures["totals"]
    assert dashboard.summary(now=CLOSES)["grid"] == figures["grid"]
    assert Digest.objects.get(pk=digest.pk).content == digest.content
    assert_tallies_equal_direct_counts()
    assert traces_of(ADDRESS) == [] and traces_of("sam.lee@example.nhs.uk") == []
    (event,) = AuditEvent.objects.filter(action=AuditAction.RETENTION_APPLIED)
    assert event.detail["names"] == 3 and "amina" not in json.dumps(event.detail).lower()


def test_a_dry_run_lists_what_it_would_remove_and_changes_nothing(amina, settings):
    settings.QIPP_KEEP_PERSONAL_DATA_MONTHS = 0
    out = io.StringIO()
    with time_machine.travel(CLOSES + datetime.timedelta(minutes=1)):
        call_command("apply_retention", "--dry-run", verbosity=2, stdout=out)
    said = out.getvalue()
    assert "Would remove: 3 name(s), 3 email address(es) and 1 organisation name(s)" in said
    assert f"submission {amina['form'].reference}" in said
    assert Submission.objects.get(pk=amina["form"].pk).email == "Amina.Patel@example.nhs.uk"
    assert not AuditEvent.objects.filter(action=AuditAction.RETENTION_APPLIED).exists()


# --- A copy of everything held ------------------------------------------------------------


def test_a_subject_access_request_writes_everything_held_about_the_address(amina, tmp_path):
    out = io.StringIO()
    target = tmp_path / "copy.zip"
    call_command("subject_access", "AMINA.patel@example.nhs.uk", "--output", str(target), stdout=out)

    with zipfile.ZipFile(target) as archive:
        names = set(archive.namelist())
        everything = json.loads(archive.read("everything.json"))
        views_csv = archive.read("views.csv").decode()
        eml = next(archive.read(name) for name in names if name.endswith(".eml"))
    assert {"everything.json", "submissions.csv", "views.csv", "emails_sent.csv", "saved_drafts.csv"} <= names
    assert {s["reference"] for s in everything["submissions"]} == {amina["form"].reference, amina["mail"].reference}
    assert HER_VIEW in views_csv
    assert len(everything["emails_sent_to_this_address"]) == 2
    assert len(everything["emails_received_from_this_address"]) == 1
    assert len(everything["answers_saved_for_later"]) == 1
    assert amina["other"].reference not in json.dumps(everything)
    assert b"Talk to staff before any change." in eml
    assert "Wrote" in out.getvalue() and "2 submissions" in out.getvalue()
    (event,) = AuditEvent.objects.filter(action=AuditAction.SUBJECT_ACCESS)
    assert event.detail["submissions"] == 2 and "amina" not in json.dumps(event.detail).lower()


@pytest.mark.parametrize("command", ["subject_access", "erase_person"])
def test_both_commands_refuse_an_address_that_is_not_valid_and_say_when_nothing_is_held(command, db):
    with pytest.raises(CommandError, match="is not a valid email address"):
        call_command(command, "not-an-address")
    out = io.StringIO()
    call_command(command, "nobody@example.nhs.uk", stdout=out)
    assert out.getvalue().strip() == "Nothing is held about that address."
    assert not AuditEvent.objects.exists()


# --- Erasure --------------------------------------------------------------------------------


def test_erasing_a_person_leaves_no_trace_of_the_address_and_the_figures_stand(amina):
    with time_machine.travel(datetime.datetime(2026, 12, 1, 9, tzinfo=LONDON)):
        digest = digests.compile_digest(week=W47)
    OutgoingEmail.objects.create(kind=EmailKind.OUTCOME, key="outcome:amina", recipient=ADDRESS)
    assert traces_of(ADDRESS), "the respondent is held in many places"
    figures = {key: digest.content[key] for key in ("headline", "priorities", "breakdowns")}

    dry = io.StringIO()
    call_command("erase_person", ADDRESS, "--dry-run", stdout=dry)
    assert traces_of(ADDRESS)
    out = io.StringIO()
    call_command("erase_person", ADDRESS, stdout=out)

    assert traces_of(ADDRESS) == []
    assert "Would erase: submissions" in dry.getvalue() and amina["form"].reference in dry.getvalue()
    assert "Erased: submissions" in out.getvalue()
    assert set(Submission.objects.filter(status="withdrawn").values_list("pk", flat=True)) == {
        amina["form"].pk,
        amina["mail"].pk,
    }
    digest.refresh_from_db()
    assert {key: digest.content[key] for key in ("headline", "priorities", "breakdowns")} == figures
    assert HER_VIEW not in json.dumps(digest.content)
    assert Submission.objects.get(pk=amina["other"].pk).email == "sam.lee@example.nhs.uk"
    assert_tallies_equal_direct_counts()
    (event,) = AuditEvent.objects.filter(action=AuditAction.ERASED)
    assert set(event.detail["submissions"]) == {amina["form"].reference, amina["mail"].reference}
    assert event.detail["sessions"] == 1 and event.detail["saved_drafts"] == 1
    mail_sent = OutgoingEmail.objects.filter(kind=EmailKind.OUTCOME)
    assert not mail_sent.exists(), "an email not yet sent to the address is dropped"


# --- The privacy page's promises -------------------------------------------------------------


def test_each_promise_the_privacy_page_makes_has_the_code_behind_it(client, closed_call, settings, tmp_path):
    settings.QIPP_KEEP_PERSONAL_DATA_MONTHS = 6
    settings.QIPP_CONTACT_EMAIL = "qipp.privacy@example.nhs.uk"
    page = client.get("/privacy/").content.decode()

    # How long: the period the job uses, and the date it falls on.
    assert "6 months after the call closes (on 27 May 2027)" in page
    assert retention.removal_date() == datetime.datetime(2027, 5, 27, 17, tzinfo=LONDON)
    assert f"{KEEP_SAVED_DRAFTS.days} days if you save them" in page
    # Who to ask, for a copy or for deletion: the contact address, and the two commands that do it.
    assert 'href="mailto:qipp.privacy@example.nhs.uk"' in page
    assert "ask for a copy of everything we hold under your email address, or ask us to delete it" in page
    SubmissionFactory(email=ADDRESS, name="Amina Patel")
    call_command("subject_access", ADDRESS, "--output", str(tmp_path / "copy.zip"), stdout=io.StringIO())
    assert zipfile.is_zipfile(tmp_path / "copy.zip")
    call_command("erase_person", ADDRESS, stdout=io.StringIO())
    assert traces_of(ADDRESS) == []
    # Withdrawing yourself: the receipt's link and the withdrawal page.
    assert "withdraw your whole submission yourself, from the link in your receipt email" in page
    assert client.get("/your-submission/withdraw/").status_code == 404, "only from the link"
