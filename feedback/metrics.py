"""
Metrics for Prometheus (prometheus-client), at `/metrics` with the bearer
token QIPP_METRICS_TOKEN (404 while it is unset), and the same operational
figures on the workspace's Operations page for Administrators.

- Requests and their latency by view: counted in each web process (with
  PROMETHEUS_MULTIPROC_DIR set, across all of a host's gunicorn workers).
- Tasks by name and outcome, and the last success of each: every worker on
  every host adds to `TaskRuns` as a task ends, so any web host reports them all.
- Read at each scrape: the length of each Celery queue (Redis), the outbox's
  backlog and the age of its oldest waiting email, the mailbox's time since
  its last good poll, and the mail waiting to be sorted.
"""

import hmac
import logging
import os
import time
from datetime import datetime

from celery.signals import task_failure, task_retry, task_success
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import Count, Max, Min
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from .models import EmailStatus, InboundMessage, MailboxState, MessageStatus, OutgoingEmail, TaskRuns

logger = logging.getLogger(__name__)
requests_log = logging.getLogger("qipp.requests")

REQUESTS = Counter(
    "qipp_http_requests", "HTTP requests answered, by view, method and status", ["view", "method", "status"]
)
LATENCY = Histogram(
    "qipp_http_request_duration_seconds",
    "Time to answer a request, by view",
    ["view"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)


def measure(get_response):
    """Middleware: count and time every request by the view that answered it."""

    def middleware(request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = get_response(request)
        match = getattr(request, "resolver_match", None)
        view = match.view_name if match else "unresolved"
        took = time.perf_counter() - started
        LATENCY.labels(view).observe(took)
        REQUESTS.labels(view, request.method, str(response.status_code)).inc()
        # The request's line in the log: the view's name, never its path or query (they can hold tokens, searches).
        requests_log.info(
            "%s %s %s %.1fms",
            request.method,
            view,
            response.status_code,
            took * 1000,
            extra={"view": view, "status": response.status_code, "duration_ms": round(took * 1000, 1)},
        )
        return response

    return middleware


# --- Tasks, counted by the workers -------------------------------------------------


def record_task(task_name: str, outcome: str, *, now: datetime | None = None) -> None:
    """Add one run to the task's count for the outcome; never failing the task it counts."""
    table = connection.ops.quote_name(TaskRuns._meta.db_table)
    at = connection.ops.adapt_datetimefield_value(now or timezone.now())
    try:
        # In a savepoint: a failure here never spoils a transaction the task ran in (an eager task's caller).
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (task, outcome, runs, last_at) VALUES (%s, %s, 1, %s) "  # noqa: S608
                f"ON CONFLICT (task, outcome) DO UPDATE SET runs = {table}.runs + 1, last_at = excluded.last_at",
                [task_name[:100], outcome, at],
            )
    except DatabaseError:
        logger.warning("Could not count a run of %s", task_name, exc_info=True)


@task_success.connect
def _succeeded(sender=None, **kwargs) -> None:
    record_task(sender.name, "success")


@task_failure.connect
def _failed(sender=None, **kwargs) -> None:
    record_task(sender.name, "failure")


@task_retry.connect
def _retried(sender=None, **kwargs) -> None:
    record_task(sender.name, "retry")


# --- Figures read at each scrape ----------------------------------------------------


def figures(*, now: datetime | None = None) -> dict:
    """The operational figures, as the Operations page shows them and the collector reports them."""
    now = now or timezone.now()
    waiting = OutgoingEmail.objects.filter(status=EmailStatus.PENDING).aggregate(
        n=Count("pk"), oldest=Min("created_at")
    )
    polls = list(MailboxState.objects.values_list("mailbox", "polled_at", "last_error"))
    last_success = dict(
        TaskRuns.objects.filter(outcome="success").values_list("task").annotate(last=Max("last_at")).order_by()
    )
    schedule = {
        name: {
            "task": entry["task"],
            "last_success": last_success.get(entry["task"]),
            "seconds_since": (now - last_success[entry["task"]]).total_seconds()
            if entry["task"] in last_success
            else None,
        }
        for name, entry in settings.CELERY_BEAT_SCHEDULE.items()
    }
    return {
        "queues": queue_lengths(),
        "outbox_waiting": waiting["n"],
        "outbox_oldest_seconds": (now - waiting["oldest"]).total_seconds() if waiting["oldest"] else 0.0,
        "outbox_failed": OutgoingEmail.objects.failed().count(),
        "outbox_stuck": OutgoingEmail.objects.stuck(now=now).count(),
        "mailboxes": [
            {
                # The server and folder, without the account's name.
                "mailbox": mailbox.rsplit("@", 1)[-1],
                "seconds_since_poll": (now - polled_at).total_seconds() if polled_at else None,
                "error": bool(error),
            }
            for mailbox, polled_at, error in polls
        ],
        "mail_to_sort": InboundMessage.objects.filter(status=MessageStatus.TO_SORT).count(),
        "tasks": list(TaskRuns.objects.order_by("task", "outcome").values("task", "outcome", "runs", "last_at")),
        "beat": schedule,
    }


def queue_lengths() -> dict[str, int | None]:
    """Messages waiting in each Celery queue (Redis lists); None where the broker cannot be asked."""
    names = [queue.name for queue in settings.CELERY_TASK_QUEUES]
    if not settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
        return dict.fromkeys(names)
    import redis

    try:
        client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=2, socket_connect_timeout=2)
        with client.pipeline() as pipe:
            for name in names:
                pipe.llen(name)
            return dict(zip(names, pipe.execute(), strict=True))
    except redis.RedisError:
        return dict.fromkeys(names)


class _Collector:
    """The figures as Prometheus families, read from the database and the broker at each scrape."""

    def collect(self):
        found = figures()
        queued = GaugeMetricFamily("qipp_celery_queue_length", "Messages waiting in a Celery queue", labels=["queue"])
        for name, length in found["queues"].items():
            if length is not None:
                queued.add_metric([name], length)
        yield queued
        yield GaugeMetricFamily("qipp_outbox_waiting", "Emails waiting to be sent", value=found["outbox_waiting"])
        yield GaugeMetricFamily(
            "qipp_outbox_oldest_waiting_seconds",
            "Age of the oldest email waiting",
            value=found["outbox_oldest_seconds"],
        )
        yield GaugeMetricFamily("qipp_outbox_failed", "Emails that failed for good", value=found["outbox_failed"])
        yield GaugeMetricFamily("qipp_outbox_stuck", "Emails claimed and never finished", value=found["outbox_stuck"])
        lag = GaugeMetricFamily("qipp_mailbox_seconds_since_poll", "Time since a good poll", labels=["mailbox"])
        for mailbox in found["mailboxes"]:
            if mailbox["seconds_since_poll"] is not None:
                lag.add_metric([mailbox["mailbox"]], mailbox["seconds_since_poll"])
        yield lag
        yield GaugeMetricFamily("qipp_mail_to_sort", "Messages waiting to be sorted", value=found["mail_to_sort"])
        runs = CounterMetricFamily("qipp_celery_tasks", "Tasks ended, by name and outcome", labels=["task", "outcome"])
        for row in found["tasks"]:
            runs.add_metric([row["task"], row["outcome"]], row["runs"])
        yield runs
        beat = GaugeMetricFamily(
            "qipp_beat_job_last_success_timestamp_seconds", "When each beat job last succeeded", labels=["job"]
        )
        for name, job in found["beat"].items():
            if job["last_success"] is not None:
                beat.add_metric([name], job["last_success"].timestamp())
        yield beat


def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus's scrape: 404 without a token configured, 401 without the right bearer token."""
    token = settings.QIPP_METRICS_TOKEN
    if not token:
        raise Http404("Metrics are off: set QIPP_METRICS_TOKEN.")
    given = request.headers.get("Authorization", "").removeprefix("Bearer ")
    if not hmac.compare_digest(given.encode(), token.encode()):
        response = HttpResponse("Unauthorised\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(REQUESTS)
        registry.register(LATENCY)
    registry.register(_Collector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
