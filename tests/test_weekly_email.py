import re
import time
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import Permission, User
from django.core import mail
from django.core.management import call_command
from django.test import Client

from feedback import digests, emails, outbox, tasks
from feedback.models import Element, EmailKind, EmailStatus, Level, OutgoingEmail, Subscription
from feedback.periods import Week
from qipp_portal.celery import app as celery_app

from . import mailers
from .factories import SubmissionFactory

pytestmark = pytest.mark.django_db

W46, W47, W48, W49 = (Week.parse(f"2026-W{n}") for n in (46, 47, 48, 49))
# Monday 23 November 2026, 08:00 London (GMT) is when the W47 summary is due.
DUE_W47 = "2026-11-23 08:00:00 +0000"


def subscriber(username: str, *, elements=(), active=True, email=None) -> User:
    user = User.objects.create_user(
        username, email=f"{username}@example.nhs.uk" if email is None else email, is_staff=True
    )
    # Given directly rather than through a role: transactional tests empty the
    # roles that migrations made, but Django makes permissions again.
    user.user_permissions.add(Permission.objects.get(content_type__app_label="feedback", codename="view_digest"))
    Subscription.objects.create(user=user, active=active, elements=list(elements))
    return user


@pytest.fixture
def week47():
    SubmissionFactory(
        received_at=W47.start + timedelta(days=1),
        consent_to_quote=True,
        views=[
            {"element": Element.PRIORITISATION, "level": Level.LOCAL, "text": "Commission <diabetes> care locally."},
            {"element": Element.ENGAGEMENT, "text": "Explain the savings to staff & patients."},
        ],
    )
    SubmissionFactory(received_at=W47.start + timedelta(days=2), views=[{"element": Element.LEADERSHIP}])
    SubmissionFactory(received_at=W46.start + timedelta(days=2), views=[{"element": Element.LEADERSHIP}])


def run_beat(when: str) -> dict:
    with time_machine.travel(when, tick=False):
        return tasks.send_weekly_emails_task()


def weekly_rows():
    return OutgoingEmail.objects.filter(kind=EmailKind.WEEKLY_SUMMARY)


def plan(week: Week) -> None:
    outbox.plan_weekly_emails(digest=digests.compile_digest(week=week))


def sent_to() -> list[str]:
    return sorted(address for message in mail.outbox for address in message.to)


# --- Exactly once ------------------------------------------------------------


def test_each_subscriber_gets_one_email_when_beat_fires_twice(week47):
    subscriber("ana"), subscriber("ben"), subscriber("cat", active=False), subscriber("dee", email="")
    run_beat(DUE_W47)
    run_beat(DUE_W47)
    assert sent_to() == ["ana@example.nhs.uk", "ben@example.nhs.uk"]
    assert weekly_rows().filter(key__endswith=":2026-W47", status=EmailStatus.SENT).count() == 2
    assert all(send.message_id for send in weekly_rows())


def test_nothing_is_sent_before_the_weeks_summary_is_due(week47):
    subscriber("ana")
    run_beat("2026-11-23 07:50:00 +0000")
    assert [message.subject for message in mail.outbox if "2026-W47" in message.subject] == []


def test_a_worker_down_at_the_scheduled_hour_catches_up_when_it_returns(week47):
    subscriber("ana")
    run_beat("2026-11-24 15:30:00 +0000")  # Tuesday afternoon
    assert len(mail.outbox) == 1 and "2026-W47" in mail.outbox[0].subject


def test_after_a_long_outage_only_the_most_recent_week_is_caught_up(week47):
    subscriber("ana")
    run_beat("2026-12-07 09:00:00 +0000")  # two summaries (W47, W48) were missed; W49 is due
    assert [message.subject for message in mail.outbox] == [m.subject for m in mail.outbox if "2026-W49" in m.subject]
    assert len(mail.outbox) == 1
    assert list(weekly_rows().values_list("digest__period_start", flat=True)) == [W49.start]


def test_a_mail_server_down_for_a_day_delays_the_email_without_a_busy_loop_then_sends_once(week47, flaky_mailer):
    subscriber("ana"), subscriber("ben")
    flaky_mailer.down = True
    with time_machine.travel(DUE_W47, tick=False) as clock:
        for _ in range(6 * 24):  # every ten minutes for a day
            tasks.send_weekly_emails_task()
            clock.shift(timedelta(minutes=10))
        sends = list(weekly_rows())
        assert {send.status for send in sends} == {EmailStatus.PENDING}
        # Backoff, not a try every ten minutes: about ten attempts in a day, and not given up.
        assert all(send.attempts <= 11 for send in sends)
        assert flaky_mailer.connections == sends[0].attempts, "one connection attempt per batch, not per email"
        assert flaky_mailer.attempts == 0
        flaky_mailer.down = False
        for _ in range(6 * 8):
            tasks.send_weekly_emails_task()
            clock.shift(timedelta(minutes=10))
    assert sent_to() == ["ana@example.nhs.uk", "ben@example.nhs.uk"]


def test_a_permanent_refusal_marks_the_send_failed_and_a_stuck_one_shows_in_the_admin(
    week47, flaky_mailer, client, make_staff
):
    subscriber("ana")
    flaky_mailer.failure = mailers.NO_SUCH_USER
    run_beat(DUE_W47)
    send = weekly_rows().get()
    assert send.status == EmailStatus.FAILED and "No such user" in send.last_error

    make_staff("Administrators", client=client)
    stuck = OutgoingEmail.objects.create(
        kind=EmailKind.WEEKLY_SUMMARY,
        key="weekly:stuck:2026-W46",
        recipient="ben@example.nhs.uk",
        user=subscriber("ben"),
        digest=send.digest,
        status=EmailStatus.SENDING,
        claimed_at=send.created_at - timedelta(hours=2),
    )
    page = client.get("/admin/feedback/outgoingemail/?problem=stuck").content.decode()
    assert "ben@example.nhs.uk" in page and "ana@example.nhs.uk" not in page
    client.post("/admin/feedback/outgoingemail/", {"action": "send_again", "_selected_action": [stuck.pk, send.pk]})
    assert set(weekly_rows().values_list("status", flat=True)) == {EmailStatus.PENDING}


# --- Content -----------------------------------------------------------------


def test_the_email_has_a_text_part_and_an_html_part_with_the_weeks_figures(week47):
    subscriber("ana")
    run_beat(DUE_W47)
    message = mail.outbox[0]
    html = message.alternatives[0].content
    assert message.subject == "QIPP challenge feedback: weekly summary, week 2026-W47 (Digest 1 (2026-W47))"
    assert message.to == ["ana@example.nhs.uk"]
    for part in (message.body, html):
        assert "New submissions this week" in part or "new submissions this week" in part
        assert "Prioritisation by level" in part and "Leadership focus and behaviours" in part
        assert "has not been approved yet" in part
        assert "/admin/feedback/digest/" in part
    assert "Commission <diabetes> care locally." in message.body
    assert "Commission &lt;diabetes&gt; care locally." in html
    assert "<script" not in html
    assert 'style="' in html, "inline styles for mail clients"


def test_a_subscriber_hears_only_about_their_elements_and_gets_a_short_email_when_nothing_came_in(week47):
    subscriber("nat", elements=[Element.NATIONAL_POLICY])
    subscriber("pri", elements=[Element.PRIORITISATION])
    run_beat(DUE_W47)
    by_person = {message.to[0]: message for message in mail.outbox}
    national = by_person["nat@example.nhs.uk"].body
    assert "Nothing new came in on the elements you follow this week." in national
    assert "Leadership" not in national
    prioritisation = by_person["pri@example.nhs.uk"].body
    assert "Prioritisation by level: 1 submission" in prioritisation
    assert "Engaging staff" not in prioritisation


def test_the_links_open_the_admin_filtered_to_the_rows_behind_each_figure(week47, client, make_staff):
    subscriber("ana")
    run_beat(DUE_W47)
    make_staff("Policy leads", client=client)
    html = mail.outbox[0].alternatives[0].content
    links = re.findall(
        r'href="https://qipp\.example\.nhs\.uk(/admin/feedback/submission/\?[^"]+)"[^>]*>([^<]+)<', html
    )
    assert links
    for url, text in links:
        page = client.get(url.replace("&amp;", "&")).content.decode()
        expected = re.search(r": (\d+)$", text)
        if expected:  # level links say "Locally, ...: 1"
            assert f"{expected.group(1)} submission" in page
    digest_url = re.search(r'href="https://qipp\.example\.nhs\.uk(/admin/feedback/digest/\d+/read/)"', html).group(1)
    assert client.get(digest_url).status_code == 200


def test_the_email_says_when_the_digest_is_approved(week47, make_staff):
    subscriber("ana")
    with time_machine.travel(DUE_W47):
        digests.compile_digest(week=W47).approve(by=make_staff("Policy leads"))
    run_beat(DUE_W47)
    assert "This digest has been approved." in mail.outbox[0].body


# --- Unsubscribing -----------------------------------------------------------


def test_every_email_carries_one_click_unsubscribe_headers_and_a_signed_link(week47):
    user = subscriber("ana")
    run_beat(DUE_W47)
    message = mail.outbox[0]
    link = re.search(r"Unsubscribe: (\S+)", message.body).group(1)
    headers = message.message()
    assert headers["List-Unsubscribe"] == f"<{link}>"
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert link == f"https://qipp.example.nhs.uk/email/unsubscribe/{emails.unsubscribe_token(user)}/"


def test_the_unsubscribe_link_asks_first_and_a_post_unsubscribes(client):
    user = subscriber("ana")
    path = f"/email/unsubscribe/{emails.unsubscribe_token(user)}/"
    page = client.get(path)
    assert "Unsubscribe from the weekly summary" in page.content.decode()
    assert user.email not in page.content.decode(), "whoever holds the link does not learn the address"
    assert Subscription.objects.get(user=user).active, "a GET (a mail scanner following links) changes nothing"
    # A mail client's one-click unsubscribe posts without a CSRF token.
    strict = Client(enforce_csrf_checks=True)
    done = strict.post(path, {"List-Unsubscribe": "One-Click"}, secure=True)
    assert done.status_code == 200 and "You have unsubscribed" in done.content.decode()
    assert not Subscription.objects.get(user=user).active


def test_a_tampered_unsubscribe_link_changes_nothing(client):
    user = subscriber("ana")
    token = emails.unsubscribe_token(user)
    other = subscriber("ben")
    forged = token.replace(str(user.pk), str(other.pk), 1)
    response = client.post(f"/email/unsubscribe/{forged}x/")
    assert response.status_code == 404
    assert Subscription.objects.filter(active=True).count() == 2


def test_staff_subscribe_for_some_elements_on_their_own_page(client, make_staff):
    user = make_staff("Digest readers", client=client, email="reader@example.nhs.uk")
    page = client.get("/staff/weekly-summary/")
    assert page.status_code == 200
    client.post("/staff/weekly-summary/", {"active": "on", "elements": ["leadership", "engagement"]})
    subscription = Subscription.objects.get(user=user)
    assert subscription.active and subscription.element_codes == ["leadership", "engagement"]
    client.post("/staff/weekly-summary/", {})
    assert not Subscription.objects.get(user=user).active


def test_the_subscription_page_needs_a_two_factor_sign_in(client):
    response = client.get("/staff/weekly-summary/")
    assert response.status_code == 302 and "/login/" in response["Location"]


# --- The command -------------------------------------------------------------


def test_the_command_previews_with_dry_run_and_then_sends_once(week47, capsys):
    subscriber("ana")
    with time_machine.travel(DUE_W47):
        call_command("send_weekly_summary", "--week", "2026-W47", "--dry-run")
        preview = capsys.readouterr().out
        assert "To: ana@example.nhs.uk" in preview and "week 2026-W47" in preview
        assert mail.outbox == [] and not weekly_rows().exists()
        call_command("send_weekly_summary", "--week", "2026-W47")
        call_command("send_weekly_summary", "--week", "2026-W47")
    assert len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True)
def test_the_weekly_task_runs_through_a_real_celery_worker():
    from celery.contrib.testing.worker import start_worker

    subscriber("ana")
    celery_app.conf.task_always_eager = False
    try:
        with (
            time_machine.travel(DUE_W47, tick=True),
            start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10),
        ):
            tasks.send_weekly_emails_task.delay()
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not weekly_rows().filter(status=EmailStatus.SENT).exists():
                time.sleep(0.1)
    finally:
        celery_app.conf.task_always_eager = True
    assert len(mail.outbox) == 1


def test_someone_who_unsubscribes_after_the_send_is_planned_gets_nothing(week47):
    user = subscriber("ana")
    with time_machine.travel(DUE_W47, tick=False):
        plan(W47)
        Subscription.objects.filter(user=user).update(active=False)
        assert outbox.send()["skipped"] == 1
    assert mail.outbox == []
    assert not weekly_rows().exists()


@pytest.mark.django_db(transaction=True)
def test_a_database_that_blinks_just_after_a_weekly_email_went_still_records_it_sent(monkeypatch):
    from django.db import OperationalError
    from django.db.models.query import QuerySet

    subscriber("blink")
    monkeypatch.setattr(outbox, "RECORD_RETRY_PAUSES", [0, 0, 0])
    update = QuerySet.update
    blinks = []

    def update_while_the_database_restarts(self, **fields):
        if fields.get("status") == EmailStatus.SENT and not blinks:
            blinks.append(fields)
            raise OperationalError("server closed the connection unexpectedly")
        return update(self, **fields)

    with time_machine.travel("2026-11-23 08:00 +0000"):
        plan(W47)
        monkeypatch.setattr(QuerySet, "update", update_while_the_database_restarts)
        assert outbox.send()["sent"] == 1
    row = weekly_rows().get()
    assert row.status == EmailStatus.SENT and blinks
    assert [message.to for message in mail.outbox] == [["blink@example.nhs.uk"]]


@pytest.mark.django_db(transaction=True)
def test_a_batch_stopped_before_its_emails_went_waits_again_instead_of_sitting_sending(monkeypatch):
    from django.db import OperationalError

    for name in ("ana", "ben", "cy"):
        subscriber(name)
    build = emails.build_weekly_summary
    lost = []

    def build_as_the_database_restarts(**kwargs):
        if len(lost) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        lost.append(True)
        return build(**kwargs)

    with time_machine.travel(DUE_W47, tick=False):
        plan(W47)
        monkeypatch.setattr(emails, "build_weekly_summary", build_as_the_database_restarts)
        with pytest.raises(OperationalError):
            outbox.send()
        # The first went; the other two never reached the mail server.
        assert sorted(weekly_rows().values_list("status", "attempts")) == [
            (EmailStatus.PENDING, 0),
            (EmailStatus.PENDING, 0),
            (EmailStatus.SENT, 1),
        ]
        monkeypatch.setattr(emails, "build_weekly_summary", build)
        assert outbox.send()["sent"] == 2
    assert sorted(message.to[0] for message in mail.outbox) == sorted(
        user.email for user in User.objects.filter(username__in=["ana", "ben", "cy"])
    )


# --- Only for those who may read digests -------------------------------------


def test_a_staff_account_that_may_not_read_digests_cannot_subscribe(client, make_staff):
    user = make_staff(None, client=client, email="no.role@example.nhs.uk")
    assert client.get("/staff/weekly-summary/").status_code == 403
    assert client.post("/staff/weekly-summary/", {"active": "on"}).status_code == 403
    assert not Subscription.objects.filter(user=user).exists()
    assert "Weekly email summary" not in client.get("/admin/").content.decode(), "no link to a page they cannot use"


def test_a_subscription_without_the_right_to_read_digests_gets_no_weekly_email(week47):
    user = subscriber("ana")
    user.user_permissions.clear()
    subscriber("ben")
    run_beat(DUE_W47)
    assert sent_to() == ["ben@example.nhs.uk"]
    assert not weekly_rows().filter(user=user).exists()


def test_losing_the_right_to_read_digests_stops_an_email_already_planned(week47):
    user = subscriber("ana")
    with time_machine.travel(DUE_W47, tick=False):
        plan(W47)
        user.user_permissions.clear()
        outbox.send()
    assert mail.outbox == []
    assert not weekly_rows().exists()
