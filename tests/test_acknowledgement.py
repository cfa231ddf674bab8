import time
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from feedback import emails, tasks
from feedback.models import AckStatus, Submission
from qipp_portal.celery import app as celery_app

from . import mailers
from .factories import SubmissionFactory

pytestmark = pytest.mark.django_db

NOW = "2026-11-23 09:00:00 +0000"


def use_broker(url: str) -> None:
    celery_app.conf.broker_url = url
    # Drop pooled connections to the previous broker, as a forked worker does.
    celery_app._after_fork()


@pytest.fixture
def unreachable_broker():
    """A Redis broker on a port where nothing listens, with tasks really published."""
    previous = celery_app.conf.broker_url
    use_broker("redis://127.0.0.1:9/0")
    celery_app.conf.task_always_eager = False
    tasks._broker_paused_until = 0.0
    yield
    use_broker(previous)
    celery_app.conf.task_always_eager = True
    tasks._broker_paused_until = 0.0


def test_running_the_acknowledgement_task_twice_sends_one_email():
    submission = SubmissionFactory()
    assert tasks.send_acknowledgement_task(submission.pk) == "sent"
    assert tasks.send_acknowledgement_task(submission.pk) == "skipped"
    assert len(mail.outbox) == 1
    submission.refresh_from_db()
    assert submission.ack_status == AckStatus.SENT
    assert submission.ack_attempts == 1


def test_a_submission_without_an_email_address_is_never_acknowledged():
    submission = SubmissionFactory(email="")
    assert submission.ack_status == AckStatus.NOT_NEEDED
    assert emails.send_acknowledgement(submission_id=submission.pk) == "skipped"
    assert mail.outbox == []


def test_a_mail_server_that_is_down_delays_the_email_with_backoff(flaky_mailer):
    submission = SubmissionFactory()
    flaky_mailer.failure = mailers.SERVER_DOWN
    with time_machine.travel(NOW, tick=False):
        assert emails.send_acknowledgement(submission_id=submission.pk) == "retry"
        submission.refresh_from_db()
        assert submission.ack_status == AckStatus.PENDING
        assert submission.ack_attempts == 1
        assert submission.ack_next_attempt_at == timezone.now() + timedelta(minutes=1)
        assert "Connection refused" in submission.ack_last_error
        # Not due yet: the sweeper leaves it alone, and a stray task does nothing.
        assert emails.due_acknowledgements() == []
        assert emails.send_acknowledgement(submission_id=submission.pk) == "skipped"
        assert flaky_mailer.attempts == 1


def test_a_mail_server_down_for_a_day_costs_latency_not_the_email(flaky_mailer, settings):
    submission = SubmissionFactory()
    flaky_mailer.failure = mailers.SERVER_DOWN
    with time_machine.travel(NOW, tick=False) as clock:
        outage_ends = timezone.now() + timedelta(hours=24)
        while timezone.now() < outage_ends:
            for pk in emails.due_acknowledgements():
                emails.send_acknowledgement(submission_id=pk)
            clock.shift(timedelta(minutes=2))  # the sweeper's interval
        submission.refresh_from_db()
        assert submission.ack_status == AckStatus.PENDING, "still waiting, not given up"
        assert submission.ack_attempts < settings.QIPP_EMAIL_MAX_ATTEMPTS
        assert flaky_mailer.attempts == submission.ack_attempts, "attempts count real tries only"

        flaky_mailer.failure = None
        for _ in range(24 * 30):
            for pk in emails.due_acknowledgements():
                emails.send_acknowledgement(submission_id=pk)
            clock.shift(timedelta(minutes=2))
    submission.refresh_from_db()
    assert submission.ack_status == AckStatus.SENT
    assert len(mail.outbox) == 1


def test_a_temporary_refusal_is_retried_and_a_permanent_one_is_marked_failed(flaky_mailer):
    temporary, permanent = SubmissionFactory(), SubmissionFactory()
    flaky_mailer.failure = mailers.MAILBOX_FULL
    assert emails.send_acknowledgement(submission_id=temporary.pk) == "retry"
    flaky_mailer.failure = mailers.NO_SUCH_USER
    assert emails.send_acknowledgement(submission_id=permanent.pk) == "failed"
    permanent.refresh_from_db()
    assert permanent.ack_status == AckStatus.FAILED
    assert "No such user" in permanent.ack_last_error


def test_it_gives_up_after_the_last_attempt_and_marks_the_row_failed(flaky_mailer, settings):
    settings.QIPP_EMAIL_MAX_ATTEMPTS = 3
    submission = SubmissionFactory()
    flaky_mailer.failure = mailers.SERVER_DOWN
    with time_machine.travel(NOW, tick=False) as clock:
        outcomes = []
        for _ in range(5):
            outcomes.append(emails.send_acknowledgement(submission_id=submission.pk))
            clock.shift(timedelta(days=1))
    assert outcomes == ["retry", "retry", "failed", "skipped", "skipped"]
    submission.refresh_from_db()
    assert submission.ack_status == AckStatus.FAILED
    assert submission.ack_attempts == 3


def test_a_row_left_sending_by_a_dead_worker_is_not_sent_again_by_itself():
    submission = SubmissionFactory()
    with time_machine.travel(NOW, tick=False) as clock:
        assert submission.claim_acknowledgement(now=timezone.now())
        clock.shift(timedelta(hours=1))
        assert emails.due_acknowledgements() == []
        assert tasks.sweep_acknowledgements_task() == 0
        stuck = Submission.objects.stuck(now=timezone.now())
        assert list(stuck) == [submission]
        assert Submission.objects.retry_acknowledgements([submission.pk], now=timezone.now()) == 1
        assert tasks.sweep_acknowledgements_task() == 1
    assert len(mail.outbox) == 1


def test_the_sweeper_sends_what_is_due_and_nothing_twice():
    due = SubmissionFactory.create_batch(3)
    SubmissionFactory(email="")
    assert tasks.sweep_acknowledgements_task() == 3
    assert tasks.sweep_acknowledgements_task() == 0
    assert sorted(m.to[0] for m in mail.outbox) == sorted(s.email for s in due)


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
    submission = Submission.objects.get()
    assert submission.ack_status == AckStatus.PENDING
    assert mail.outbox == []
    # Bounded by the broker's connect timeout, not hanging on it.
    assert elapsed < settings.CELERY_BROKER_CONNECTION_TIMEOUT * 5

    # The broker is back: the sweeper finds the submission and sends once.
    celery_app.conf.task_always_eager = True
    tasks.sweep_acknowledgements_task()
    tasks.sweep_acknowledgements_task()
    submission.refresh_from_db()
    assert submission.ack_status == AckStatus.SENT
    assert len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True)
def test_the_acknowledgement_task_runs_through_a_real_celery_worker():
    from celery.contrib.testing.worker import start_worker

    celery_app.conf.task_always_eager = False
    submission = SubmissionFactory()
    try:
        with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            tasks.send_acknowledgement_task.delay(submission.pk)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                submission.refresh_from_db()
                if submission.ack_status == AckStatus.SENT:
                    break
                time.sleep(0.1)
    finally:
        celery_app.conf.task_always_eager = True
    assert submission.ack_status == AckStatus.SENT
    assert len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True)
def test_a_database_that_blinks_just_after_the_email_went_still_records_it_sent(monkeypatch):
    from django.db import OperationalError
    from django.db.models.query import QuerySet

    submission = SubmissionFactory()
    monkeypatch.setattr(emails, "RECORD_RETRY_PAUSES", [0, 0, 0])
    update = QuerySet.update
    blinks = []

    def update_while_the_database_restarts(self, **fields):
        if fields.get("ack_status") == AckStatus.SENT and len(blinks) < 2:
            blinks.append(fields)
            raise OperationalError("server closed the connection unexpectedly")
        return update(self, **fields)

    monkeypatch.setattr(QuerySet, "update", update_while_the_database_restarts)
    assert emails.send_acknowledgement(submission_id=submission.pk) == "sent"
    submission.refresh_from_db()
    # Not left "sending" for a person to sort out: the email went, once.
    assert submission.ack_status == AckStatus.SENT
    assert submission.ack_message_id == mail.outbox[0].extra_headers["Message-ID"]
    assert len(blinks) == 2 and len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True)
def test_a_database_lost_just_after_the_claim_leaves_the_acknowledgement_waiting_not_sending(monkeypatch):
    from django.db import OperationalError

    submission = SubmissionFactory()
    monkeypatch.setattr(emails, "RECORD_RETRY_PAUSES", [0, 0, 0])
    refresh = Submission.refresh_from_db
    lost = []

    def refresh_as_the_database_restarts(self, *args, **kwargs):
        if not lost:
            lost.append(True)
            raise OperationalError("server closed the connection unexpectedly")
        return refresh(self, *args, **kwargs)

    monkeypatch.setattr(Submission, "refresh_from_db", refresh_as_the_database_restarts)
    with pytest.raises(OperationalError):
        emails.send_acknowledgement(submission_id=submission.pk)
    submission = Submission.objects.get(pk=submission.pk)
    # Nothing was sent: the row waits for the sweeper, its attempt uncounted.
    assert submission.ack_status == AckStatus.PENDING and submission.ack_attempts == 0
    assert mail.outbox == []
    assert emails.send_acknowledgement(submission_id=submission.pk) == "sent"
    assert len(mail.outbox) == 1
