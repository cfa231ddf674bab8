"""
Acknowledgements through the outbox: each sent once, whatever the mail
server, the broker or the database does. The outbox's rules are the same for
every kind of email; these tests use the respondent's receipt.
"""

import time
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from feedback import doorbell, outbox, tasks
from feedback.models import EmailStatus, OutgoingEmail, Submission
from qipp_portal.celery import app as celery_app

from . import mailers
from .factories import AcknowledgementFactory, SubmissionFactory

pytestmark = pytest.mark.django_db

NOW = "2026-11-23 09:00:00 +0000"


def use_broker(url: str) -> None:
    celery_app.conf.broker_url = url
    # Drop pooled connections to the previous broker, as a forked worker does.
    celery_app._after_fork()


@pytest.fixture
def unreachable_broker(monkeypatch):
    """A Redis broker on a port where nothing listens, with tasks really published."""
    previous = celery_app.conf.broker_url
    use_broker("redis://127.0.0.1:9/0")
    celery_app.conf.task_always_eager = False
    # No pause after the failure, so that later tests reach the broker at once.
    monkeypatch.setattr(doorbell, "BROKER_PAUSE_SECONDS", 0)
    yield
    use_broker(previous)
    celery_app.conf.task_always_eager = True


def acknowledgement() -> OutgoingEmail:
    return AcknowledgementFactory()


def fresh(email: OutgoingEmail) -> OutgoingEmail:
    return OutgoingEmail.objects.get(pk=email.pk)


def test_running_the_send_task_twice_sends_one_email():
    email = acknowledgement()
    assert tasks.send_email_task(email.pk)["sent"] == 1
    assert tasks.send_email_task(email.pk)["sent"] == 0
    assert len(mail.outbox) == 1
    assert (fresh(email).status, fresh(email).attempts) == (EmailStatus.SENT, 1)


def test_a_submission_without_an_email_address_is_never_acknowledged():
    submission = SubmissionFactory(email="")
    assert outbox.enqueue_acknowledgement(submission) is None
    assert not OutgoingEmail.objects.exists()


def test_the_database_refuses_a_second_acknowledgement_for_the_same_submission():
    from django.db import IntegrityError, transaction

    submission = SubmissionFactory()
    outbox.enqueue_acknowledgement(submission)
    with pytest.raises(IntegrityError), transaction.atomic():
        outbox.enqueue_acknowledgement(submission)
    assert OutgoingEmail.objects.get().key == f"ack:{submission.pk}"


def test_sending_the_same_answers_twice_makes_one_acknowledgement(client, respondent):
    respondent.complete_up_to_check()
    token = respondent.token()
    respondent.send(token=token)
    respondent.send(token=token)
    assert OutgoingEmail.objects.count() == 1


def test_a_mail_server_that_is_down_delays_the_email_with_backoff(flaky_mailer):
    email = acknowledgement()
    flaky_mailer.failure = mailers.SERVER_DOWN
    with time_machine.travel(NOW, tick=False):
        assert outbox.send()["retry"] == 1
        row = fresh(email)
        assert (row.status, row.attempts) == (EmailStatus.PENDING, 1)
        assert row.next_attempt_at == timezone.now() + timedelta(minutes=1)
        assert "Connection refused" in row.last_error
        # Not due yet: neither the sweeper nor a stray task tries it.
        assert outbox.send() == {"sent": 0, "retry": 0, "failed": 0, "skipped": 0, "unknown": 0}
        assert tasks.send_email_task(email.pk)["retry"] == 0
        assert flaky_mailer.attempts == 1


def test_a_mail_server_down_for_a_day_costs_latency_not_the_email(flaky_mailer, settings):
    email = acknowledgement()
    flaky_mailer.failure = mailers.SERVER_DOWN
    with time_machine.travel(NOW, tick=False) as clock:
        outage_ends = timezone.now() + timedelta(hours=24)
        while timezone.now() < outage_ends:
            tasks.send_waiting_emails_task()
            clock.shift(timedelta(minutes=2))  # the sweeper's interval
        row = fresh(email)
        assert row.status == EmailStatus.PENDING, "still waiting, not given up"
        assert row.attempts < settings.QIPP_EMAIL_MAX_ATTEMPTS
        assert flaky_mailer.attempts == row.attempts, "attempts count real tries only"

        flaky_mailer.failure = None
        for _ in range(24 * 30):
            tasks.send_waiting_emails_task()
            clock.shift(timedelta(minutes=2))
    assert fresh(email).status == EmailStatus.SENT
    assert len(mail.outbox) == 1


def test_a_temporary_refusal_is_retried_and_a_permanent_one_is_marked_failed(flaky_mailer):
    temporary, permanent = acknowledgement(), acknowledgement()
    flaky_mailer.failure = mailers.MAILBOX_FULL
    assert tasks.send_email_task(temporary.pk)["retry"] == 1
    flaky_mailer.failure = mailers.NO_SUCH_USER
    assert tasks.send_email_task(permanent.pk)["failed"] == 1
    assert fresh(temporary).status == EmailStatus.PENDING
    assert fresh(permanent).status == EmailStatus.FAILED
    assert "No such user" in fresh(permanent).last_error


def test_it_gives_up_after_the_last_attempt_and_marks_the_row_failed(flaky_mailer, settings):
    settings.QIPP_EMAIL_MAX_ATTEMPTS = 3
    email = acknowledgement()
    flaky_mailer.failure = mailers.SERVER_DOWN
    with time_machine.travel(NOW, tick=False) as clock:
        outcomes = []
        for _ in range(5):
            outcome = tasks.send_email_task(email.pk)
            outcomes.append(next((name for name, count in outcome.items() if count), "nothing"))
            clock.shift(timedelta(days=1))
    assert outcomes == ["retry", "retry", "failed", "nothing", "nothing"]
    assert (fresh(email).status, fresh(email).attempts) == (EmailStatus.FAILED, 3)


def test_a_row_left_sending_by_a_dead_worker_is_not_sent_again_by_itself(client, make_staff):
    make_staff("Administrators", client=client)
    email = acknowledgement()
    with time_machine.travel(NOW, tick=False) as clock:
        OutgoingEmail.objects.filter(pk=email.pk).update(
            status=EmailStatus.SENDING, attempts=1, claimed_at=timezone.now()
        )
        clock.shift(timedelta(hours=1))
        assert tasks.send_waiting_emails_task()["sent"] == 0
        assert list(OutgoingEmail.objects.stuck(now=timezone.now())) == [email]
        listed = client.get("/admin/feedback/outgoingemail/?problem=stuck").content.decode()
        assert f"the respondent of {email.submission.reference}" in listed, "an Administrator sees no address"
        client.post("/admin/feedback/outgoingemail/", {"action": "send_again", "_selected_action": [email.pk]})
        assert tasks.send_waiting_emails_task()["sent"] == 1
    assert len(mail.outbox) == 1


def test_the_sweeper_sends_what_is_due_and_nothing_twice():
    due = [acknowledgement() for _ in range(3)]
    assert tasks.send_waiting_emails_task()["sent"] == 3
    assert tasks.send_waiting_emails_task()["sent"] == 0
    assert sorted(m.to[0] for m in mail.outbox) == sorted(e.recipient for e in due)


def test_emails_due_together_go_over_one_connection_to_the_mail_server(flaky_mailer, settings):
    settings.QIPP_EMAIL_BATCH = 50
    for _ in range(7):
        acknowledgement()
    assert outbox.send()["sent"] == 7
    assert flaky_mailer.connections == 1


def test_with_the_broker_unreachable_the_respondent_still_gets_a_receipt_and_the_sweeper_sends_later(
    client, respondent, unreachable_broker, django_capture_on_commit_callbacks, settings
):
    respondent.complete_up_to_check()
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        sent = respondent.send()
    elapsed = time.monotonic() - started
    assert sent.status_code == 302
    assert client.get(sent["Location"]).status_code == 200
    email = Submission.objects.get().emails.get()
    assert email.status == EmailStatus.PENDING
    assert mail.outbox == []
    # Bounded by the broker's connect timeout, not hanging on it.
    assert elapsed < settings.CELERY_BROKER_CONNECTION_TIMEOUT * 5

    # The broker is back: the sweeper finds the email and sends it once.
    celery_app.conf.task_always_eager = True
    tasks.send_waiting_emails_task()
    tasks.send_waiting_emails_task()
    assert fresh(email).status == EmailStatus.SENT
    assert len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True)
def test_the_send_task_runs_through_a_real_celery_worker():
    from celery.contrib.testing.worker import start_worker

    celery_app.conf.task_always_eager = False
    email = acknowledgement()
    try:
        with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            tasks.send_email_task.delay(email.pk)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and fresh(email).status != EmailStatus.SENT:
                time.sleep(0.1)
    finally:
        celery_app.conf.task_always_eager = True
    assert fresh(email).status == EmailStatus.SENT
    assert len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True)
def test_a_database_that_blinks_just_after_the_email_went_still_records_it_sent(monkeypatch):
    from django.db import OperationalError
    from django.db.models.query import QuerySet

    email = acknowledgement()
    monkeypatch.setattr(outbox, "RECORD_RETRY_PAUSES", [0, 0, 0])
    update = QuerySet.update
    blinks = []

    def update_while_the_database_restarts(self, **fields):
        if fields.get("status") == EmailStatus.SENT and len(blinks) < 2:
            blinks.append(fields)
            raise OperationalError("server closed the connection unexpectedly")
        return update(self, **fields)

    monkeypatch.setattr(QuerySet, "update", update_while_the_database_restarts)
    assert outbox.send()["sent"] == 1
    # Not left "sending" for a person to sort out: the email went, once.
    assert fresh(email).status == EmailStatus.SENT
    assert fresh(email).message_id == mail.outbox[0].extra_headers["Message-ID"]
    assert len(blinks) == 2 and len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True)
def test_a_database_lost_just_after_the_claim_leaves_the_email_waiting_not_sending(monkeypatch):
    from django.db import OperationalError
    from django.db.models.query import QuerySet

    email = acknowledgement()
    monkeypatch.setattr(outbox, "RECORD_RETRY_PAUSES", [0, 0, 0])
    prefetch = QuerySet.prefetch_related
    lost = []

    def read_back_as_the_database_restarts(self, *lookups):
        if not lost:
            lost.append(True)
            raise OperationalError("server closed the connection unexpectedly")
        return prefetch(self, *lookups)

    monkeypatch.setattr(QuerySet, "prefetch_related", read_back_as_the_database_restarts)
    with pytest.raises(OperationalError):
        outbox.send()
    # Nothing was sent: the row waits for the sweeper, its attempt uncounted.
    assert (fresh(email).status, fresh(email).attempts) == (EmailStatus.PENDING, 0)
    assert mail.outbox == []
    assert outbox.send()["sent"] == 1
    assert len(mail.outbox) == 1
