"""
One run of the suite: its services, started once, and the portal's processes,
started afresh for every scenario on an emptied database, Redis and sink.
"""

import os
import time
from dataclasses import dataclass, field

from .services import Portal, Postgres, Process, Redis, SmtpSink, wait_until, workspace


@dataclass
class Result:
    number: int
    name: str
    injected: str
    figures: dict = field(default_factory=dict)
    problems: list = field(default_factory=list)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return not self.problems

    def figure(self, name: str, value) -> None:
        self.figures[name] = value

    def check(self, condition: bool, problem: str) -> bool:
        if not condition:
            self.problems.append(problem)
        return bool(condition)


class Suite:
    def __init__(self):
        self.base = workspace()
        started = time.monotonic()
        self.postgres = Postgres(self.base).create()
        self.redis = Redis(self.base).start()
        self.smtp = SmtpSink().start()
        self.portal = Portal(self.base, postgres=self.postgres, redis=self.redis, smtp=self.smtp)
        migrated = self.portal.manage("migrate", "--noinput")
        if migrated.returncode:
            raise RuntimeError(f"migrate failed:\n{migrated.stdout[-2000:]}\n{migrated.stderr[-3000:]}")
        # The oracle reads the suite's database through the portal's own models.
        os.environ.update(self.portal.env)
        import django

        django.setup()
        self.processes: list[Process] = []
        print(
            f"services: PostgreSQL :{self.postgres.port}, Redis :{self.redis.port}, SMTP sink :{self.smtp.port}, "
            f"web :{self.portal.web_port}; ready in {time.monotonic() - started:.0f}s; logs in {self.portal.logs}"
        )

    # --- Between scenarios ---------------------------------------------------

    def reset(self) -> None:
        """Stop the portal's processes and empty the database, Redis and the sink."""
        self.stop_portal()
        if self.redis.process is None:
            self.redis.start()
        if not self.smtp.controller:
            self.smtp.start()
        self.redis.cli("FLUSHALL")
        self.truncate()
        self.smtp.clear()

    def truncate(self) -> None:
        from django.apps import apps
        from django.db import connection

        tables = [model._meta.db_table for model in apps.get_app_config("feedback").get_models()]
        tables += ["auth_user", "django_session", "axes_accessattempt"]
        connection.close()
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")

    def stop_portal(self) -> None:
        while self.processes:
            self.processes.pop().stop()

    # --- The portal's processes ----------------------------------------------

    def web(self) -> Process:
        process = self.portal.web()
        self.processes.append(process)
        return process

    def worker(self, **env) -> Process:
        process = self.portal.worker(extra_env={key: str(value) for key, value in env.items()})
        self.processes.append(process)
        return process

    def beat(self) -> Process:
        process = self.portal.beat()
        self.processes.append(process)
        return process

    def start(self, *, web: bool = True, worker: bool = True, beat: bool = True) -> None:
        if web:
            self.web()
        if worker:
            self.worker()
        if beat:
            self.beat()

    def logs_tail(self, characters: int = 1500) -> str:
        return "\n".join(f"--- {p.name} ({p.log.name})\n{p.output()[-characters:]}" for p in self.processes)


def wait_for(predicate, *, timeout: float, interval: float = 1.0) -> float | None:
    """Seconds until `predicate` held, or None if it did not within `timeout`."""
    started = time.monotonic()
    if wait_until(predicate, timeout=timeout, interval=interval):
        return time.monotonic() - started
    return None
