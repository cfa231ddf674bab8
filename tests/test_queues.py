"""
Every queue a task is routed to is read by the worker `make run` starts (the
Procfile.dev's command), on the embedded filesystem broker and on Redis. Tests
that run tasks eagerly would never notice a queue that no worker reads.
"""

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

from feedback import tasks
from qipp_portal.celery import app as celery_app

ROOT = Path(__file__).resolve().parent.parent
REDIS_BROKER = "redis://127.0.0.1:6379/12"

# One task routed to each queue that has work today.
ONE_TASK_PER_QUEUE = {
    "emails": (tasks.send_waiting_emails_task, ()),
    "digests": (tasks.compile_digest_task, ("2026-W47",)),
    "maintenance": (tasks.clear_expired_sessions_task, ()),
    "mailbox": (tasks.poll_mailbox_task, ()),
    "training": (tasks.train_suggestions_task, ()),
    # An export nobody asked for: the worker finds nothing to make.
    "exports": (tasks.build_export_task, ("00000000-0000-0000-0000-000000000000",)),
}


def procfile_worker() -> list[str]:
    line = next(line for line in (ROOT / "Procfile.dev").read_text().splitlines() if line.startswith("worker:"))
    command = shlex.split(line.removeprefix("worker:"))
    return [str(Path(sys.executable).parent / command[0]), *command[1:]]


# Publishes one task to each queue with exactly the worker's settings, and
# prints their ids: the test process's own Celery app has been set up for
# other brokers by other tests.
PUBLISH = """
import json, django
django.setup()
from feedback import tasks
from qipp_portal.celery import app
app.conf.task_always_eager = False
print(json.dumps({
    "emails": tasks.send_waiting_emails_task.apply_async().id,
    "digests": tasks.compile_digest_task.apply_async(args=["2026-W47"]).id,
    "maintenance": tasks.clear_expired_sessions_task.apply_async().id,
}))
"""


@pytest.fixture
def broker(request):
    url = request.param
    if url.startswith("redis://"):
        import redis

        redis.Redis.from_url(url).flushdb()
    return url


def test_every_task_is_routed_to_a_queue_the_settings_declare():
    declared = {queue.name for queue in settings.CELERY_TASK_QUEUES}
    ours = {name for name in celery_app.tasks if name.startswith("feedback.")}
    assert ours == set(settings.CELERY_TASK_ROUTES)
    assert {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()} <= declared
    assert set(ONE_TASK_PER_QUEUE) == {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}


@pytest.mark.parametrize("broker", ["filesystem://", REDIS_BROKER], indirect=True, ids=["filesystem", "redis"])
def test_the_worker_make_run_starts_takes_a_task_from_every_queue(broker, tmp_path):
    environment = {**os.environ, "CELERY_BROKER_URL": broker, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    published = json.loads(
        subprocess.run(  # noqa: S603
            [sys.executable, "-c", PUBLISH], cwd=ROOT, env=environment, capture_output=True, text=True, check=True
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    if broker.startswith("redis://"):
        import redis

        lengths = {queue.name: redis.Redis.from_url(broker).llen(queue.name) for queue in settings.CELERY_TASK_QUEUES}
        assert lengths == {queue.name: int(queue.name in published) for queue in settings.CELERY_TASK_QUEUES}, (
            "each task in its own queue, once"
        )
    log = tmp_path / "worker.log"
    with log.open("w") as output:
        worker = subprocess.Popen(  # noqa: S603
            procfile_worker(),
            cwd=ROOT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            received = set(re.findall(r"Task [\w.]+\[([0-9a-f-]+)\] received", log.read_text()))
            if set(published.values()) <= received:
                break
            time.sleep(0.5)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
    missing = [queue for queue, task_id in published.items() if task_id not in received]
    assert missing == [], f"no worker read these queues:\n{log.read_text()[-3000:]}"
