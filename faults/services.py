"""
The suite's own services, each on a spare loopback port: PostgreSQL (a
throwaway cluster in a temporary folder, run as the postgres user), Redis, an
SMTP sink that records every message, and the portal's web, worker and beat
pointed at them. The shared PostgreSQL and Redis are never touched.

Every process is started here as the leader of a new process group and is
stopped by that id (never by name), in `stop_all`, which also runs at exit.
"""

import asyncio
import atexit
import contextlib
import email
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
PG_BIN = Path(os.environ.get("FAULTS_PG_BIN", "/usr/lib/postgresql/15/bin"))
# The shared services: the suite refuses to use their ports, whatever it is given.
SHARED_PORTS = {5432, 6379, 8000}

_processes: list["Process"] = []
_cleanups: list = []


def free_port() -> int:
    """A port nothing listens on now, chosen by the kernel from the ephemeral range."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return claim_port(port)


def claim_port(port: int) -> int:
    """Refuse a shared service's port or one that something already listens on."""
    if port in SHARED_PORTS:
        raise RuntimeError(f"Port {port} belongs to a shared service: the suite runs its own on spare ports.")
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            raise RuntimeError(f"Port {port} is taken: refusing to start a service on it.")
    return port


def listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def wait_until(predicate, *, timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


class Process:
    """A child process in a process group of its own, with its output in a log file."""

    def __init__(self, name: str, command: list[str], *, env: dict, log: Path):
        self.name, self.command, self.env, self.log = name, command, env, log
        self.popen: subprocess.Popen | None = None
        self.stopped = False

    def start(self) -> "Process":
        with open(self.log, "ab") as out:
            self.popen = subprocess.Popen(  # noqa: S603
                self.command,
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        _processes.append(self)
        return self

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_for_output(self, text: str, *, timeout: float, after: int = 0) -> bool:
        return wait_until(lambda: text in self.output()[after:] or not self.running, timeout=timeout) and self.running

    def _signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, sig)

    def kill(self) -> None:
        """kill -9, the whole group: the process and its children (a worker's pool)."""
        if self.popen is None or self.stopped:
            return
        self._signal_group(signal.SIGKILL)
        self.popen.wait()
        self.stopped = True

    def stop(self, timeout: float = 15) -> None:
        if self.popen is None or self.stopped:
            return
        if self.popen.poll() is None:
            self._signal_group(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout)
        # Children that outlived their leader (a pool process) go too.
        self._signal_group(signal.SIGKILL)
        self.popen.wait()
        self.stopped = True


def stop_all() -> None:
    """Stop every process the suite started, newest first, then remove its folders."""
    while _processes:
        _processes.pop().stop(timeout=10)
    while _cleanups:
        try:
            _cleanups.pop()()
        except Exception as error:  # noqa: BLE001 - keep stopping the rest
            print(f"cleanup failed: {error}")


atexit.register(stop_all)


# Set when a scenario fails, so that its logs outlive the run.
keep_logs = False


def workspace() -> Path:
    """A temporary folder for the run (logs, the cluster, beat's schedules), removed at the end."""
    path = Path(tempfile.mkdtemp(prefix="qipp-faults-"))
    # The postgres user must reach its cluster below it.
    path.chmod(0o755)

    def remove() -> None:
        if keep_logs:
            shutil.rmtree(path / "postgres", ignore_errors=True)
            print(f"logs kept in {path / 'logs'}")
        else:
            shutil.rmtree(path, ignore_errors=True)

    _cleanups.append(remove)
    return path


# --- PostgreSQL --------------------------------------------------------------


class Postgres:
    """
    A throwaway PostgreSQL cluster run by the postgres user (initdb refuses
    root): on a spare loopback port, or on a host of the multi-host scenario
    (faults/hosts.py) at its own address, with `settings` for postgresql.conf.
    """

    def __init__(self, base: Path, *, host=None, settings: dict | None = None):
        self.host = host
        self.address = host.address if host else "127.0.0.1"
        self.port = 5432 if host else free_port()
        self.settings = settings or {}
        self.dir = base / "postgres"
        self.data = self.dir / "data"
        self.logfile = self.dir / "postgres.log"
        self.url = f"postgres://postgres@{self.address}:{self.port}/qipp"

    def _as_postgres(self, *command: str, check: bool = True) -> subprocess.CompletedProcess:
        run_as = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(  # noqa: S603
            self.host.command(run_as) if self.host else run_as,
            capture_output=True,
            text=True,
            check=check,
        )

    def create(self) -> "Postgres":
        self.dir.mkdir()
        shutil.chown(self.dir, "postgres", "postgres")
        self._as_postgres(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        if self.host:
            # The other hosts reach it over their network.
            with open(self.data / "pg_hba.conf", "a") as hba:
                hba.write(f"host all all {self.host.network} trust\n")
        _cleanups.append(self.stop)
        self.start()
        self._as_postgres(str(PG_BIN / "createdb"), "-h", self.address, "-p", str(self.port), "qipp")
        return self

    def start(self) -> None:
        if not self.host:
            claim_port(self.port)
        options = (
            f"-p {self.port} -c listen_addresses={self.address} -c unix_socket_directories={self.dir} "
            "-c fsync=off -c max_connections=200"
        ) + "".join(f" -c {name}={value}" for name, value in self.settings.items())
        self._as_postgres(
            str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.logfile), "-o", options, "-w", "start"
        )

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)

    @property
    def pid(self) -> int | None:
        pidfile = self.data / "postmaster.pid"
        return int(pidfile.read_text().split()[0]) if pidfile.exists() else None


# --- Redis -------------------------------------------------------------------


class Redis:
    def __init__(self, base: Path, *, host=None):
        self.host = host
        self.address = host.address if host else "127.0.0.1"
        self.port = 6379 if host else free_port()
        # Reached from other hosts, Redis wants a password (it refuses them otherwise).
        self.password = os.urandom(16).hex() if host else ""
        self.dir = base / "redis"
        self.dir.mkdir()
        self.process: Process | None = None

    def url(self, database: int, scheme: str = "redis") -> str:
        credentials = f":{self.password}@" if self.password else ""
        return f"{scheme}://{credentials}{self.address}:{self.port}/{database}"

    def start(self) -> "Redis":
        if not self.host:
            claim_port(self.port)
        command = [
            "redis-server",
            "--port", str(self.port),
            "--bind", self.address,
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            "--dir", str(self.dir),
        ]  # fmt: skip
        if self.host:
            command = self.host.command([*command, "--requirepass", self.password])
        self.process = Process("redis", command, env=dict(os.environ), log=self.dir / "redis.log").start()
        if not wait_until(lambda: self.cli("PING") == "PONG", timeout=10):
            raise RuntimeError(f"Redis did not start:\n{self.process.output()[-2000:]}")
        return self

    def stop(self) -> None:
        if self.process:
            self.process.stop()
            _processes.remove(self.process)
            self.process = None

    def _auth(self) -> list[str]:
        return ["-a", self.password, "--no-auth-warning"] if self.password else []

    def cli(self, *command: str) -> str:
        result = subprocess.run(  # noqa: S603
            ["redis-cli", "-h", self.address, "-p", str(self.port), *self._auth(), *command],  # noqa: S607
            capture_output=True,
            text=True,
        )
        return result.stdout.strip()


# --- SMTP sink ---------------------------------------------------------------


@dataclass
class Received:
    at: float
    to: str
    subject: str
    message_id: str
    sent_date: float | None


class Recorder:
    """aiosmtpd handler: keeps every message it accepts, then waits `delay` seconds before saying so."""

    def __init__(self, delay: float = 0.0):
        self.messages: list[Received] = []
        self.lock = threading.Lock()
        self.delay = delay

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content)
        date = message.get("Date")
        with self.lock:
            for recipient in envelope.rcpt_tos:
                self.messages.append(
                    Received(
                        at=time.time(),
                        to=recipient.lower(),
                        subject=" ".join(str(message.get("Subject", "")).split()),
                        message_id=str(message.get("Message-ID", "")),
                        sent_date=parsedate_to_datetime(date).timestamp() if date else None,
                    )
                )
        if self.delay:
            # A relay that is slow to answer: the message is in, the sender not yet told.
            await asyncio.sleep(self.delay)
        return "250 OK"


class SmtpSink:
    """An SMTP server on a fixed spare port. Stopped, the port refuses connections, as a mail server that is down."""

    def __init__(self, address: str = "127.0.0.1", *, delay: float = 0.0):
        self.address = address
        self.port = free_port()
        self.recorder = Recorder(delay)
        self.controller = None

    def start(self) -> "SmtpSink":
        from aiosmtpd.controller import Controller

        # aiosmtpd logs every SMTP command at INFO.
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        claim_port(self.port)
        self.controller = Controller(self.recorder, hostname=self.address, port=self.port)
        self.controller.start()
        _cleanups.append(self.stop)
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def messages(self) -> list[Received]:
        with self.recorder.lock:
            return list(self.recorder.messages)

    def clear(self) -> None:
        with self.recorder.lock:
            self.recorder.messages.clear()


# --- The portal --------------------------------------------------------------


def portal_env(*, site: str, postgres: Postgres, redis: Redis, smtp: SmtpSink) -> dict:
    """What every process of the portal is started with: the fault suite's settings and services."""
    return {
        "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "DJANGO_SETTINGS_MODULE": "faults.settings",
        "SECRET_KEY": "faults-only-" + os.urandom(24).hex(),
        "ALLOWED_HOSTS": site,
        "SITE_URL": f"https://{site}",
        "DATABASE_URL": postgres.url,
        "CELERY_BROKER_URL": redis.url(0),
        "CACHE_URL": redis.url(1, "rediscache"),
        "SMTP_HOST": smtp.address,
        "SMTP_PORT": str(smtp.port),
        "SECURE_PROXY_SSL_HEADER": "true",
        "LOG_LEVEL": "INFO",
    }


def web_command(bind: str) -> list[str]:
    """gunicorn with the production configuration, two workers, no access log, never recycled mid-scenario."""
    return [
        str(VENV_BIN / "gunicorn"),
        "--config", str(ROOT / "gunicorn.conf.py"),
        "--access-logfile", "/dev/null",
        "--max-requests", "0",
        "qipp_portal.wsgi",
        "--bind", bind,
        "--workers", "2",
        "--timeout", "60",
    ]  # fmt: skip


def worker_command(hostname: str, *, slow: bool = False) -> list[str]:
    """Procfile.dev's worker; with `slow`, the suite's own entry point that slows every compile (faults/worker.py)."""
    return [
        *([str(VENV_BIN / "python"), "-m", "faults.worker"] if slow else [str(VENV_BIN / "celery")]),
        "-A", "qipp_portal",
        "worker",
        "--loglevel=INFO",
        "--concurrency=2",
        "--hostname", hostname,
    ]  # fmt: skip


def beat_command(schedule: Path) -> list[str]:
    return [str(VENV_BIN / "celery"), "-A", "qipp_portal", "beat", "--loglevel=INFO", "--schedule", str(schedule)]


class Portal:
    """The portal's processes as Procfile.dev runs them, with the fault suite's settings."""

    def __init__(self, base: Path, *, postgres: Postgres, redis: Redis, smtp: SmtpSink):
        self.base = base
        self.web_port = free_port()
        self.logs = base / "logs"
        self.logs.mkdir(exist_ok=True)
        self.count = 0
        self.env = {
            **portal_env(site=f"127.0.0.1:{self.web_port}", postgres=postgres, redis=redis, smtp=smtp),
            "ALLOWED_HOSTS": "127.0.0.1",
            "QIPP_VAR_DIR": str(base / "var"),
        }

    def _process(self, name: str, command: list[str], extra_env: dict | None) -> Process:
        self.count += 1
        log = self.logs / f"{self.count:03d}-{name}.log"
        return Process(name, command, env={**self.env, **(extra_env or {})}, log=log)

    def manage(self, *args: str, extra_env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run(  # noqa: S603
            [str(VENV_BIN / "python"), "manage.py", *args],
            cwd=ROOT,
            env={**self.env, **(extra_env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def manage_process(self, *args: str, extra_env: dict | None = None) -> Process:
        return self._process("manage", [str(VENV_BIN / "python"), "manage.py", *args], extra_env).start()

    def web(self) -> Process:
        claim_port(self.web_port)
        process = self._process("web", web_command(f"127.0.0.1:{self.web_port}"), None).start()
        if not wait_until(lambda: listening(self.web_port) or not process.running, timeout=30) or not process.running:
            raise RuntimeError(f"web did not start:\n{process.output()[-3000:]}")
        return process

    def worker(self, *, extra_env: dict | None = None) -> Process:
        slow = "FAULTS_COMPILE_DELAY_SECONDS" in (extra_env or {})
        command = worker_command(f"faults{self.count + 1}@%h", slow=slow)
        process = self._process("worker", command, extra_env).start()
        if not process.wait_for_output(" ready.", timeout=60):
            raise RuntimeError(f"worker did not start:\n{process.output()[-3000:]}")
        return process

    def beat(self) -> Process:
        schedule = self.base / "var" / f"beat-{self.count + 1}"
        schedule.parent.mkdir(parents=True, exist_ok=True)
        process = self._process("beat", beat_command(schedule), None).start()
        if not process.wait_for_output("beat: Starting", timeout=60):
            raise RuntimeError(f"beat did not start:\n{process.output()[-3000:]}")
        return process
