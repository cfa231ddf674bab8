"""
Log lines: JSON in production, plain text in development (LOG_FORMAT), each
carrying the request id and, in a Celery task, the task's id.

The request id is the proxy's X-Request-ID when it looks like one (letters,
digits and dashes), otherwise a new one; the response sends it back. A task
queued while a request is served carries the request's id in its message
headers into the worker, so one id follows a submission from the form to its
acknowledgement email. (django-guid does this too, but pins Django below 6
on Python 3.12; these few lines are all the portal needs of it.)
"""

import logging
import re
import uuid
from contextvars import ContextVar

from celery import current_task
from celery.signals import before_task_publish, task_postrun, task_prerun

HEADER = "X-Request-ID"
LOOKS_LIKE_AN_ID = re.compile(r"[A-Za-z0-9-]{8,64}")
request_id: ContextVar[str] = ContextVar("request_id", default="")


def request_ids(get_response):
    """Middleware: the request's id, for every line it logs and every task it queues."""

    def middleware(request):
        given = request.headers.get(HEADER, "")
        token = request_id.set(given if LOOKS_LIKE_AN_ID.fullmatch(given) else uuid.uuid4().hex)
        try:
            response = get_response(request)
            response[HEADER] = request_id.get()
            return response
        finally:
            request_id.reset(token)

    return middleware


@before_task_publish.connect
def _carry_the_request_id(headers: dict | None = None, **kwargs) -> None:
    if headers is not None and request_id.get():
        headers["request_id"] = request_id.get()


@task_prerun.connect
def _take_the_request_id(task=None, **kwargs) -> None:
    request_id.set((task.request.get("request_id") if task is not None else "") or "")


@task_postrun.connect
def _forget_the_request_id(**kwargs) -> None:
    request_id.set("")


class Ids(logging.Filter):
    """Adds `request_id` and `task_id` (the Celery task being run, or empty) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        task = current_task._get_current_object() if current_task else None
        record.task_id = (getattr(task.request, "id", None) or "") if task is not None else ""
        return True


def config(*, level: str, style: str) -> dict:
    """The LOGGING setting: one console handler, in `style` "json" or "plain"."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"ids": {"()": "qipp_portal.logs.Ids"}},
        "formatters": {
            "plain": {"format": "%(asctime)s %(levelname)s [%(request_id)s %(task_id)s] %(name)s %(message)s"},
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(task_id)s",
                "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            },
        },
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": style, "filters": ["ids"]}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {"django.db.backends": {"level": "WARNING"}, "axes": {"level": "WARNING"}},
    }
