"""Metrics for Prometheus, only with the token, and the same figures on the Administrators' Operations page."""

import datetime

import pytest
import time_machine
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from feedback import tasks
from feedback.models import EmailKind, EmailStatus, MailboxState, OutgoingEmail

pytestmark = pytest.mark.django_db
TOKEN = "a-long-random-metrics-token-for-prometheus"


@pytest.fixture
def scrape(client, settings):
    settings.QIPP_METRICS_TOKEN = TOKEN

    def scraped() -> dict:
        response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 200, response.content
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.content.decode())
            for sample in family.samples
        }

    return scraped


def test_metrics_are_off_without_a_token_and_refused_with_a_wrong_one(client, settings):
    settings.QIPP_METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404
    settings.QIPP_METRICS_TOKEN = TOKEN
    assert client.get("/metrics").status_code == 401
    refused = client.get("/metrics", headers={"Authorization": "Bearer not-the-token"})
    assert refused.status_code == 401 and "qipp_" not in refused.content.decode()


def test_requests_are_counted_and_timed_by_view(client, scrape):
    before = scrape().get(("qipp_http_requests_total", (("method", "GET"), ("status", "200"), ("view", "start"))), 0)
    client.get("/")
    client.get("/")
    after = scrape()
    assert after[("qipp_http_requests_total", (("method", "GET"), ("status", "200"), ("view", "start")))] == before + 2
    assert after[("qipp_http_request_duration_seconds_count", (("view", "start"),))] >= 2


def test_the_outbox_backlog_the_oldest_wait_and_the_mailbox_lag_are_reported(scrape):
    now = timezone.now()
    with time_machine.travel(now - datetime.timedelta(minutes=10)):
        OutgoingEmail.objects.create(kind=EmailKind.OUTCOME, key="outcome:a", recipient="a@example.nhs.uk")
    OutgoingEmail.objects.create(kind=EmailKind.OUTCOME, key="outcome:b", recipient="b@example.nhs.uk")
    OutgoingEmail.objects.create(
        kind=EmailKind.OUTCOME, key="outcome:c", recipient="c@example.nhs.uk", status=EmailStatus.SENT
    )
    MailboxState.objects.create(mailbox="views@imap.example.nhs.uk:993/INBOX", polled_at=now - datetime.timedelta(90))

    with time_machine.travel(now):
        found = scrape()

    assert found[("qipp_outbox_waiting", ())] == 2
    assert 599 <= found[("qipp_outbox_oldest_waiting_seconds", ())] <= 601
    lag = found[("qipp_mailbox_seconds_since_poll", (("mailbox", "imap.example.nhs.uk:993/INBOX"),))]
    assert lag == pytest.approx(90 * 86400, abs=5)
    assert not any("views@" in str(key) for key in found), "the mailbox's account is not named"


def test_tasks_are_counted_by_name_and_outcome_with_each_beat_jobs_last_success(scrape):
    tasks.send_waiting_emails_task.delay()
    tasks.send_waiting_emails_task.delay()
    found = scrape()
    name = "feedback.tasks.send_waiting_emails_task"
    assert found[("qipp_celery_tasks_total", (("outcome", "success"), ("task", name)))] == 2
    assert found[("qipp_beat_job_last_success_timestamp_seconds", (("job", "send-waiting-emails"),))] > 0


def test_only_administrators_see_the_operations_page(client, make_staff):
    make_staff("Policy leads", client=client)
    assert client.get("/admin/operations/").status_code == 403
    make_staff("Administrators", client=client, username="kim.admin")
    page = client.get("/admin/operations/").content.decode()
    assert "Outbox" in page and "Celery queues" in page and "send-waiting-emails" in page
