"""
Ringing the doorbell: queueing a task once the current transaction commits.

PostgreSQL holds the work; a queued task only says "there is work". So a
broker that is down must never fail the request that saved the work: the
error is logged and the periodic sweepers ring again later.
"""

import logging
import time

from celery import current_app
from django.db import transaction

logger = logging.getLogger(__name__)

# After the broker fails to take a message, requests stop trying for a while:
# respondents are not kept waiting on a broker that is down.
BROKER_PAUSE_SECONDS = 30
_paused_until = 0.0


def ring_on_commit(task_name: str, *args) -> None:
    """Queue the task called `task_name` once the current transaction commits, never failing the caller."""
    transaction.on_commit(lambda: _publish(task_name, *args), robust=True)


def _publish(task_name: str, *args) -> None:
    global _paused_until
    if time.monotonic() < _paused_until:
        return
    try:
        current_app.tasks[task_name].apply_async(args=args)
    except Exception:
        _paused_until = time.monotonic() + BROKER_PAUSE_SECONDS
        logger.warning("Could not queue %s; a sweeper will queue it later", task_name, exc_info=True)
