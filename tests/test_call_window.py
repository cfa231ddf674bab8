"""When the call for views opens and closes: the respondent's pages, sending, the mail queue and the workspace's page."""

import datetime
import re
import zoneinfo

import pytest
import time_machine

from feedback.mail import store
from feedback.models import (
    AuditAction,
    AuditEvent,
    CallWindow,
    MessageOrigin,
    NotYetCounted,
    OutgoingEmail,
    Submission,
    View,
)

from .conftest import ABOUT_YOU
from .mail_samples import email

pytestmark = pytest.mark.django_db

LONDON = zoneinfo.ZoneInfo("Europe/London")
OPENS = datetime.datetime(2010, 1, 4, 9, 0, tzinfo=LONDON)
CLOSES = datetime.datetime(2010, 3, 26, 17, 0, tzinfo=LONDON)
JOURNEY = [
    "/give-views/about-you/",
    "/give-views/your-views/",
    "/give-views/your-views/add/",
    "/give-views/permissions/",
    "/give-views/check-your-answers/",
]


def set_window(**times) -> CallWindow:
    window = CallWindow(**times)
    window.full_clean()
    window.save()
    return window


def test_with_no_window_set_the_call_is_open(client):
    start = client.get("/").content.decode()
    assert "Start now" in start
    assert client.get("/give-views/about-you/").status_code == 200


def test_before_opening_the_start_page_says_when_and_the_journey_says_it_is_not_open(client):
    set_window(opens_at=OPENS, closes_at=CLOSES)
    with time_machine.travel(OPENS - datetime.timedelta(days=1)):
        start = client.get("/").content.decode()
        pages = [client.get(address) for address in JOURNEY]
        posted = client.post("/give-views/about-you/", ABOUT_YOU)

    assert "opens at 9am on Monday 4 January 2010 and closes at 5pm on Friday 26 March 2010" in start
    assert "Start now" not in start
    assert all(page.status_code == 200 for page in pages)
    assert all("The call for views is not open yet" in page.content.decode() for page in pages)
    assert posted.status_code == 403 and "Nothing has been sent or kept." in posted.content.decode()
    assert "draft" not in client.session


def test_while_open_the_start_page_says_when_to_send_by(client):
    set_window(opens_at=OPENS, closes_at=CLOSES)
    with time_machine.travel(OPENS + datetime.timedelta(days=1)):
        start = client.get("/").content.decode()
    assert "Send your views by 5pm on Friday 26 March 2010." in start and "Start now" in start


def test_a_draft_sent_after_closing_is_refused_kindly_and_nothing_is_saved(client, respondent):
    set_window(opens_at=OPENS, closes_at=CLOSES)
    with time_machine.travel(CLOSES - datetime.timedelta(minutes=10)):
        respondent.complete_up_to_check()
        token = respondent.token()
    with time_machine.travel(CLOSES + datetime.timedelta(seconds=1)):
        refused = respondent.send(token)

    page = refused.content.decode()
    assert refused.status_code == 403
    assert "The call for views has closed" in page and "closed at 5pm on Friday 26 March 2010" in page
    assert "Your answers arrived after it closed, so they have not been sent or kept." in page
    assert not Submission.objects.exists() and not View.objects.exists()
    assert not NotYetCounted.objects.exists() and not OutgoingEmail.objects.exists()


def test_an_extension_keeps_the_call_open_until_its_new_close(client, respondent):
    set_window(opens_at=OPENS, closes_at=CLOSES, extended_to=CLOSES + datetime.timedelta(days=7))
    with time_machine.travel(CLOSES + datetime.timedelta(days=1)):
        start = client.get("/").content.decode()
        respondent.complete_up_to_check()
        sent = respondent.send()

    assert "Send your views by 5pm on Friday 2 April 2010. The call has been extended." in start
    assert sent.status_code == 302 and Submission.objects.count() == 1


def test_times_are_london_time_in_summer_too(client):
    summer_close = datetime.datetime(2010, 6, 30, 17, 30, tzinfo=LONDON)
    set_window(closes_at=summer_close)
    with time_machine.travel(summer_close + datetime.timedelta(minutes=1)):
        start = client.get("/").content.decode()
    assert "closed at 5:30pm on Wednesday 30 June 2010" in start
    assert summer_close.utcoffset() == datetime.timedelta(hours=1)


def test_sending_reads_a_window_changed_by_another_process_at_once(client, respondent):
    respondent.complete_up_to_check()
    client.get("/give-views/check-your-answers/")  # this process now keeps an open window
    # Another process closes the call: this one saw nothing of it.
    CallWindow.objects.bulk_create([CallWindow(pk=1, closes_at=CLOSES)])

    still_shown = client.get("/give-views/check-your-answers/")
    refused = respondent.send()

    assert "Check your answers" in still_shown.content.decode()
    assert refused.status_code == 403 and not Submission.objects.exists()


def test_mail_that_arrives_after_closing_is_marked_in_the_sorting_queue(client, make_staff):
    make_staff("Policy reviewers", client=client)
    set_window(opens_at=OPENS, closes_at=CLOSES)
    on_time, _ = store(email(subject="Before the close"), origin=MessageOrigin.MAILBOX, arrived_at=CLOSES)
    late, _ = store(
        email(subject="After the close", message_id="<late@example.nhs.uk>"),
        origin=MessageOrigin.MAILBOX,
        arrived_at=CLOSES + datetime.timedelta(minutes=5),
    )
    on_time.arrived_at = CLOSES - datetime.timedelta(minutes=5)
    on_time.save(update_fields=["arrived_at"])

    queue = client.get("/admin/feedback/inboundmessage/").content.decode()
    only_late = client.get("/admin/feedback/inboundmessage/", {"after_close": "yes"}).content.decode()
    late_page = client.get(f"/admin/feedback/inboundmessage/{late.pk}/change/").content.decode()
    on_time_page = client.get(f"/admin/feedback/inboundmessage/{on_time.pk}/change/").content.decode()

    rows = {
        subject: row
        for row in re.findall(r"<tr>.*?</tr>", queue, re.S)
        for subject in ("Before the close", "After the close")
        if subject in row
    }
    assert "Arrived after the call closed" in rows["After the close"]
    assert "Arrived after the call closed" not in rows["Before the close"]
    assert "After the close" in only_late and "Before the close" not in only_late
    assert "after the call closed" in late_page and "after the call closed" not in on_time_page


def test_an_administrator_sets_the_window_and_the_change_is_audited(client, make_staff):
    administrator = make_staff("Administrators", client=client)
    page = client.get("/admin/feedback/callwindow/", follow=True)
    assert page.status_code == 200 and "London time" in page.content.decode()

    saved = client.post(
        "/admin/feedback/callwindow/1/change/",
        {
            "opens_at_0": "2010-01-04",
            "opens_at_1": "09:00:00",
            "closes_at_0": "2010-03-26",
            "closes_at_1": "17:00:00",
            "extended_to_0": "",
            "extended_to_1": "",
        },
    )

    assert saved.status_code == 302
    window = CallWindow.objects.get()
    assert (window.opens_at, window.closes_at, window.extended_to) == (OPENS, CLOSES, None)
    event = AuditEvent.objects.get(action=AuditAction.CALL_WINDOW_CHANGED)
    assert event.actor == administrator
    assert event.detail["before"]["closes_at"] == ""
    assert event.detail["after"]["closes_at"] == "2010-03-26T17:00:00+00:00"


def test_a_window_that_closes_before_it_opens_or_an_extension_that_shortens_it_is_refused(client, make_staff):
    make_staff("Administrators", client=client)
    client.get("/admin/feedback/callwindow/")
    backwards = client.post(
        "/admin/feedback/callwindow/1/change/",
        {"opens_at_0": "2010-03-26", "opens_at_1": "17:00:00", "closes_at_0": "2010-01-04", "closes_at_1": "09:00:00"},
    )
    shorter = client.post(
        "/admin/feedback/callwindow/1/change/",
        {
            "closes_at_0": "2010-03-26",
            "closes_at_1": "17:00:00",
            "extended_to_0": "2010-03-20",
            "extended_to_1": "17:00:00",
        },
    )

    assert "The call must close after it opens." in backwards.content.decode()
    assert "An extension must end after the call&#x27;s first closing time." in shorter.content.decode()
    assert CallWindow.objects.get().closes is None
    assert not AuditEvent.objects.filter(action=AuditAction.CALL_WINDOW_CHANGED).exists()


@pytest.mark.parametrize("role", ["Policy reviewers", "Policy leads"])
def test_the_policy_team_sees_the_window_but_cannot_change_it(client, make_staff, role):
    make_staff(role, client=client)
    set_window(closes_at=CLOSES)
    page = client.get("/admin/feedback/callwindow/1/change/")
    refused = client.post(
        "/admin/feedback/callwindow/1/change/", {"closes_at_0": "2011-01-01", "closes_at_1": "00:00"}
    )

    assert page.status_code == 200 and "26 Mar 2010, 5 p.m." in page.content.decode()
    assert refused.status_code == 403
    assert CallWindow.objects.get().closes_at == CLOSES
