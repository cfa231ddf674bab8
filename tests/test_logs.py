"""Log lines: JSON with the request id, which goes with the tasks a request queues, and the task's own id."""

import io
import json
import logging
import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from pythonjsonlogger.json import JsonFormatter

from feedback.models import EmailStatus, OutgoingEmail
from qipp_portal import logs
from qipp_portal.celery import app as celery_app

from .conftest import Respondent

REQUEST_ID = "5f0c6a8e-2b1d-4c7e-9a3f-0d2e4b6c8a10"


@pytest.fixture
def json_lines():
    """
    What the outbox logs, formatted as the production handler formats it (JSON,
    with the ids), one dict a line. On the outbox's own logger, which a worker
    setting logging up again as it starts leaves alone.
    """
    assert settings.LOG_FORMAT == "json", "production settings (the tests' own) log JSON"
    production = logs.config(level="INFO", style="json")["formatters"]["json"]
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter(production["fmt"], rename_fields=production["rename_fields"]))
    handler.addFilter(logs.Ids())
    outbox_log = logging.getLogger("feedback.outbox")
    level = outbox_log.level
    outbox_log.addHandler(handler)
    outbox_log.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    outbox_log.removeHandler(handler)
    outbox_log.setLevel(level)


@pytest.mark.django_db
def test_each_response_carries_its_request_id_keeping_a_valid_one_from_the_proxy(client):
    kept = client.get("/", headers={"X-Request-ID": REQUEST_ID})
    replaced = client.get("/", headers={"X-Request-ID": 'evil"\n{"level": "CRITICAL"}'})
    made = client.get("/")

    assert kept["X-Request-ID"] == REQUEST_ID
    assert replaced["X-Request-ID"] != made["X-Request-ID"]
    assert all(len(r["X-Request-ID"]) == 32 and r["X-Request-ID"].isalnum() for r in (replaced, made))


@pytest.mark.django_db(transaction=True)
def test_a_task_queued_by_a_request_logs_json_lines_with_the_requests_id_and_its_own_task_id(
    client, json_lines, settings
):
    respondent = Respondent(client)
    settings.QIPP_MIN_FILL_SECONDS = 0
    respondent.complete_up_to_check()
    celery_app.conf.task_always_eager = False
    try:
        with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            sent = client.post(
                "/give-views/check-your-answers/",
                {"token": respondent.token()},
                headers={"X-Request-ID": REQUEST_ID},
            )
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not OutgoingEmail.objects.filter(status=EmailStatus.SENT).exists():
                time.sleep(0.1)
    finally:
        celery_app.conf.task_always_eager = True

    assert sent.status_code == 302 and sent["X-Request-ID"] == REQUEST_ID
    (line,) = [line for line in json_lines() if line["message"].startswith("Sent ack:")]
    assert line["request_id"] == REQUEST_ID
    assert line["task_id"] and line["task_id"] != REQUEST_ID
    assert {"time", "level", "logger"} <= line.keys() and line["logger"] == "feedback.outbox"
