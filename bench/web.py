"""
The HTTP measures, through gunicorn (two sync workers, as the Procfile runs
it) with the load-run settings (bench/settings.py), loaded by wrk
(bench/wrk/load.lua). The ceiling views are served by the same gunicorn, so
ceiling and portal share the middleware, the server and the database:

- the start page and the form page against a bare page;
- the submission POST through the real view (CSRF, validation of the whole
  draft, save, enqueue) against a bare view that validates eight fields and
  inserts one row, each after a GET for the form's tokens;
- the environment's fingerprint: pgbench inserting the same row;
- a sustained load of 20 respondents sending at once: no errors, and one row
  for every submission accepted.
"""

import datetime
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

from harness import RESULTS, ROOT, Result, at_most, median

LUA = Path(__file__).resolve().parent / "wrk" / "load.lua"
BIN = Path(sys.executable).parent
# The benchmark's own Redis databases (the test run uses 14 and 15), emptied before and after.
BROKER_URL = "redis://127.0.0.1:6379/12"
CACHE_URL = "rediscache://127.0.0.1:6379/13"
# Gunicorn as the Procfile runs it.
WORKERS = 2
PAGE_CONNECTIONS = 8
FORM_CONNECTIONS = 8
SUSTAINED_RESPONDENTS = 20
# Drafts prepared for each second of a submission measure: well above what two workers can send.
SESSIONS_PER_SECOND = 500
# Seconds of load before each measure, not counted.
WARM_UP = 2
CEILING_FIELDS = "&" + urllib.parse.urlencode(
    {
        "name": "Priya Shah",
        "email": "priya.shah@example.nhs.uk",
        "role": "nurse_midwife",
        "organisation": "Northfield Community Health",
        "organisation_type": "primary_care_trust",
        "region": "north_west",
        "element": "prioritisation",
        "text": "Procurement of common supplies should be organised once per region, not by every trust. " * 4,
    }
)


def free_port() -> int:
    """A free loopback port, or the one BENCH_PORT names, refused if something already listens there."""
    wanted = int(os.environ.get("BENCH_PORT", "0"))
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", wanted))
        except OSError as error:
            raise SystemExit(f"Port {wanted} is taken: set BENCH_PORT to a free one.") from error
        return probe.getsockname()[1]


def redis_flush() -> None:
    for url in (BROKER_URL, CACHE_URL.replace("rediscache", "redis")):
        database = url.rsplit("/", 1)[1]
        flush = ["redis-cli", "-h", "127.0.0.1", "-n", database, "FLUSHDB"]
        subprocess.run(flush, capture_output=True, check=False)  # noqa: S603, S607


class Server:
    def __init__(self, port: int, process: subprocess.Popen, log: Path):
        self.port = port
        self.process = process
        self.log = log

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    @property
    def origin(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def workers(self) -> list[int]:
        return children(self.process.pid)


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def load_run_environment(settings_module: str) -> dict:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": settings_module,
        "ALLOWED_HOSTS": "127.0.0.1",
        # Production sits behind a proxy that terminates TLS; the load clients say so.
        "SECURE_PROXY_SSL_HEADER": "1",
        "CELERY_BROKER_URL": BROKER_URL,
        "CACHE_URL": CACHE_URL,
        "PYTHONPATH": str(ROOT),
    }


@contextmanager
def process(command: list[str], *, environment: dict, log: Path):
    """A process of the benchmark's own, in its own process group, stopped however the block ends."""
    with log.open("w") as output:
        started = subprocess.Popen(  # noqa: S603
            command, cwd=ROOT, env=environment, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield started
    finally:
        stop(started)


def stop(started: subprocess.Popen) -> None:
    if started.poll() is not None:
        return
    os.killpg(started.pid, signal.SIGTERM)
    try:
        started.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(started.pid, signal.SIGKILL)
        started.wait()


@contextmanager
def gunicorn(
    wsgi: str = "qipp_portal.wsgi", settings_module: str = "bench.settings", *, probe: str = "/", timeout: int = 30
):
    port = free_port()
    log = RESULTS / f"gunicorn-{port}.log"
    command = [
        str(BIN / "gunicorn"),
        "--config",
        str(ROOT / "gunicorn.conf.py"),
        wsgi,
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(WORKERS),
        "--access-logfile",
        str(RESULTS / f"gunicorn-{port}-access.log"),
        "--timeout",
        str(timeout),
        # No worker is replaced mid-measure (production replaces each after a few thousand requests).
        "--max-requests",
        "0",
    ]
    with process(command, environment=load_run_environment(settings_module), log=log) as started:
        server = Server(port, started, log)
        _wait_until_answering(server, probe)
        yield server
    for path in (log, RESULTS / f"gunicorn-{port}-access.log"):
        path.unlink(missing_ok=True)


def _wait_until_answering(server: Server, path: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"gunicorn stopped: {server.log.read_text()[-2000:]}")
        try:
            request = urllib.request.Request(server.url(path), headers={"X-Forwarded-Proto": "https"})  # noqa: S310
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
                if response.status == 200 and len(server.workers()) == WORKERS:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"gunicorn did not answer on {server.url(path)}")


def wrk(url: str, *, seconds: float, connections: int, threads: int, args: list[str]) -> dict:
    command = [
        "wrk",
        "-t",
        str(threads),
        "-c",
        str(connections),
        "-d",
        f"{seconds}s",
        "-s",
        str(LUA),
        url,
        "--",
        *args,
    ]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 120, check=False)  # noqa: S603
    match = re.search(r"^WRK_RESULT (.*)$", finished.stdout, re.MULTILINE)
    if finished.returncode or not match:
        raise RuntimeError(f"wrk failed: {finished.stdout}\n{finished.stderr}")
    result = json.loads(match.group(1))
    result["seconds"] = result["duration_us"] / 1e6
    result["rps"] = result["requests"] / result["seconds"]
    result["accepted_per_second"] = result["accepted"] / result["seconds"]
    result["errors"] = result["socket_errors"] + result["timeouts"] + result["bad_status"]
    return result


def prepare_sessions(count: int, path: Path, *, seed: int) -> Path:
    """`count` sessions, each holding a complete draft of realistic answers; their keys, one a line, in `path`."""
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.utils import timezone
    from django.utils.crypto import get_random_string

    from feedback.demo import Generator
    from feedback.questions import CURRENT_VERSION

    generator = Generator(seed=seed, weeks=1, now=timezone.now(), staff_ids=[], theme_ids=defaultdict(int))
    store = SessionStore()
    expires = timezone.now() + datetime.timedelta(days=1)
    started_at = time.time() - 600
    with path.open("w") as keys:
        for offset in range(0, count, 2000):
            submissions, views, _ = generator.chunk(min(2000, count - offset))
            drafts = [
                {
                    "token": str(uuid.uuid4()),
                    "started_at": started_at,
                    "views": [],
                    "about": {
                        **{
                            field: str(submission[field])
                            for field in ("name", "email", "role", "organisation", "organisation_type", "region")
                        },
                        "on_behalf_of_organisation": submission["on_behalf_of_organisation"],
                    },
                    "permissions": {
                        "principles": json.loads(submission["principles"]),
                        "consent_to_quote": submission["consent_to_quote"],
                        "consent_to_share": submission["consent_to_share"],
                        "consent_to_contact": submission["consent_to_contact"],
                    },
                }
                for submission in submissions
            ]
            for index, _position, element, level, text in views:
                drafts[index]["views"].append(
                    {
                        "element": str(element),
                        "level": str(level),
                        "text": text,
                        "example": "",
                        "question_version": CURRENT_VERSION,
                    }
                )
            rows = [
                Session(
                    session_key=get_random_string(32, "abcdefghijklmnopqrstuvwxyz0123456789"),
                    session_data=store.encode({"draft": draft}),
                    expire_date=expires,
                )
                for draft in drafts
            ]
            Session.objects.bulk_create(rows)
            keys.writelines(row.session_key + "\n" for row in rows)
    return path


def _throughput(name: str, ceilings: list[dict], portals: list[dict], *, key: str, share: float, p99: float) -> list:
    ceiling_rate, portal_rate = median([r[key] for r in ceilings]), median([r[key] for r in portals])
    ceiling_p99, portal_p99 = (
        median([r["p99_us"] / 1e3 for r in ceilings]),
        median([r["p99_us"] / 1e3 for r in portals]),
    )
    errors = sum(r["errors"] for r in ceilings + portals)
    notes = {"errors (socket, timeout, status)": errors} if errors else {}
    unit = "/s"
    return [
        Result(
            measure=f"{name}, req/s" if key == "rps" else f"{name}, sent/s",
            unit=unit,
            ceiling=ceiling_rate,
            portal=portal_rate,
            target=f">= {share:.0%}",
            ratio=portal_rate / ceiling_rate,
            passed=portal_rate / ceiling_rate >= share and not errors,
            notes=notes,
        ),
        Result(
            measure=f"{name}, p99",
            unit="ms",
            ceiling=ceiling_p99,
            portal=portal_p99,
            target=f"<= {p99:g}x",
            ratio=portal_p99 / ceiling_p99,
            passed=portal_p99 / ceiling_p99 <= p99,
        ),
    ]


def pages(server: Server, *, rounds: int, seconds: float) -> list[Result]:
    runs = defaultdict(list)
    for path in ("/ceiling/page/", "/", "/give-views/about-you/"):
        wrk(server.url(path), seconds=WARM_UP, connections=PAGE_CONNECTIONS, threads=2, args=["page"])
    for _ in range(rounds):
        for name, path in (("ceiling", "/ceiling/page/"), ("start", "/"), ("form", "/give-views/about-you/")):
            runs[name].append(
                wrk(server.url(path), seconds=seconds, connections=PAGE_CONNECTIONS, threads=2, args=["page"])
            )
    return [
        *_throughput("start page GET", runs["ceiling"], runs["start"], key="rps", share=0.40, p99=3),
        *_throughput("form page GET", runs["ceiling"], runs["form"], key="rps", share=0.50, p99=3),
    ]


def _form_args(
    server: Server, path: str, sessions: Path | None, connections: int, fields: str = "", accepted: Path | None = None
) -> list[str]:
    return [
        "form",
        path,
        server.origin,
        str(sessions) if sessions else "-",
        str(connections),
        fields,
        str(accepted) if accepted else "-",
    ]


def submissions(server: Server, *, rounds: int, seconds: float, seed: int) -> tuple[list[Result], float]:
    """The submission POST against the bare insert view. Returns the results and the portal's sends a second."""
    from bench.ceilings import create_table

    create_table()
    # Warm both up (imports on first use, connections to the database and the broker).
    check = "/give-views/check-your-answers/"
    warm = prepare_sessions(int(WARM_UP * SESSIONS_PER_SECOND), RESULTS / "sessions-warm-up.txt", seed=seed - 1)
    for path, sessions, fields in (("/ceiling/insert/", None, CEILING_FIELDS), (check, warm, "")):
        args = _form_args(server, path, sessions, FORM_CONNECTIONS, fields)
        wrk(server.url(path), seconds=WARM_UP, connections=FORM_CONNECTIONS, threads=FORM_CONNECTIONS, args=args)
    warm.unlink()
    ceilings, portals = [], []
    for round_number in range(rounds):
        sessions = prepare_sessions(
            int(seconds * SESSIONS_PER_SECOND), RESULTS / f"sessions-{round_number}.txt", seed=seed + round_number
        )
        ceilings.append(
            wrk(
                server.url("/ceiling/insert/"),
                seconds=seconds,
                connections=FORM_CONNECTIONS,
                threads=FORM_CONNECTIONS,
                args=_form_args(server, "/ceiling/insert/", None, FORM_CONNECTIONS, CEILING_FIELDS),
            )
        )
        portals.append(
            wrk(
                server.url(check),
                seconds=seconds,
                connections=FORM_CONNECTIONS,
                threads=FORM_CONNECTIONS,
                args=_form_args(server, check, sessions, FORM_CONNECTIONS),
            )
        )
        sessions.unlink()
    results = _throughput(
        "submission POST (after its GET)", ceilings, portals, key="accepted_per_second", share=0.40, p99=2.5
    )
    refused = sum(r["refused"] + r["exhausted"] for r in ceilings + portals)
    if refused:
        results[0].notes["refused or out of drafts"] = refused
        results[0].passed = False
    return results, results[0].portal


def fingerprint(database_url: str, *, seconds: float, portal_rate: float) -> Result:
    """pgbench inserting the same row as the ceiling view, as many clients: what this machine's database can do."""
    from bench.ceilings import FIELDS, TABLE

    script = RESULTS / "pgbench-insert.sql"
    values = ", ".join(f"'{field} value'" for field in FIELDS)
    script.write_text(f"INSERT INTO {TABLE} ({', '.join(FIELDS)}) VALUES ({values});\n")  # noqa: S608
    clients = ["-c", str(FORM_CONNECTIONS), "-j", "2"]
    finished = subprocess.run(  # noqa: S603
        ["pgbench", "-n", *clients, "-T", str(int(seconds)), "-f", str(script), database_url],  # noqa: S607
        capture_output=True,
        text=True,
        check=True,
    )
    script.unlink()
    tps = float(re.search(r"tps = ([\d.]+)", finished.stdout).group(1))
    return Result(
        measure="fingerprint: pgbench inserts vs portal sends",
        unit="/s",
        ceiling=tps,
        portal=portal_rate,
        target="reported",
        ratio=portal_rate / tps,
        passed=True,
        notes={"pgbench": f"{FORM_CONNECTIONS} clients, one INSERT a transaction"},
    )


def sustained(server: Server, *, seconds: float, seed: int) -> Result:
    """
    20 respondents sending at once for `seconds`: no errors, every accepted
    send saved exactly once, and no row beyond those accepted but for the
    sends still in flight when the load stopped (one a respondent at most).
    """
    from feedback.models import Submission

    sessions = prepare_sessions(int(seconds * SESSIONS_PER_SECOND), RESULTS / "sessions-sustained.txt", seed=seed)
    before = Submission.objects.count()
    check = "/give-views/check-your-answers/"
    accepted_prefix = RESULTS / "accepted"
    run = wrk(
        server.url(check),
        seconds=seconds,
        connections=SUSTAINED_RESPONDENTS,
        threads=SUSTAINED_RESPONDENTS,
        args=_form_args(server, check, sessions, SUSTAINED_RESPONDENTS, accepted=accepted_prefix),
    )
    sessions.unlink()
    receipts = []
    for path in RESULTS.glob("accepted-*"):
        receipts += path.read_text().split()
        path.unlink()
    tokens = [receipt.rstrip("/").rsplit("/", 1)[1] for receipt in receipts]
    saved = Submission.objects.filter(token__in=tokens).count()
    rows = Submission.objects.count() - before
    in_flight = rows - len(tokens)
    problems = run["errors"] + run["refused"] + run["exhausted"]
    passed = (
        len(tokens) == run["accepted"] == len(set(tokens)) == saved
        and 0 <= in_flight <= SUSTAINED_RESPONDENTS
        and not problems
    )
    return Result(
        measure=f"sustained: {SUSTAINED_RESPONDENTS} respondents for {seconds:g} s, accepted saved once",
        unit="",
        ceiling=run["accepted"],
        portal=saved,
        target="all, 0 errors",
        ratio=saved / max(run["accepted"], 1),
        passed=passed,
        notes={
            "accepted, sent a second, p99": f"{run['accepted']:,}, {run['accepted_per_second']:.0f}/s, "
            f"{run['p99_us'] / 1e3:.0f} ms",
            "rows beyond those accepted (in flight at the end)": in_flight,
            "errors (socket, timeout, status), refused, out of drafts": f"{run['errors']}, {run['refused']}, "
            f"{run['exhausted']}",
        },
    )


def _warm(server: Server, paths: list[str], times: int = 20) -> None:
    for _ in range(times):
        for path in paths:
            request = urllib.request.Request(server.url(path), headers={"X-Forwarded-Proto": "https"})  # noqa: S310
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                response.read()


def _gunicorn_worker_kib(wsgi: str, settings_module: str, paths: list[str]) -> int:
    """The largest resident memory of a gunicorn worker, after it has served each page a few times."""
    with gunicorn(wsgi, settings_module, probe=paths[0]) as server:
        _warm(server, paths)
        time.sleep(1)
        return max(rss_kib(pid) for pid in server.workers())


def _celery_child_kib(app: str, settings_module: str) -> int:
    """The resident memory of a Celery worker's pool process, started and left idle."""
    log = RESULTS / f"celery-{app}.log"
    command = [str(BIN / "celery"), "-A", app, "worker", "--concurrency=1", "--loglevel=WARNING"]
    with process(command, environment=load_run_environment(settings_module), log=log) as started:
        deadline = time.monotonic() + 60
        while not children(started.pid):
            if started.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"celery worker did not start: {log.read_text()[-2000:]}")
            time.sleep(0.3)
        time.sleep(5)
        (child,) = children(started.pid)
        kib = rss_kib(child)
    log.unlink(missing_ok=True)
    return kib


def memory_at_rest() -> list[Result]:
    """The portal's gunicorn worker and Celery pool process against a bare Django project's."""
    pages = ["/", "/give-views/about-you/", "/privacy/", "/staff/sign-in/"]
    web_bare = _gunicorn_worker_kib("bench.bare.wsgi", "bench.bare.settings", ["/"])
    web_portal = _gunicorn_worker_kib("qipp_portal.wsgi", "qipp_portal.settings", pages)
    celery_bare = _celery_child_kib("bench.bare.tasks", "bench.bare.settings")
    celery_portal = _celery_child_kib("qipp_portal", "qipp_portal.settings")
    return [
        at_most(1.5, measure=f"memory at rest: {name}", unit="MiB", ceiling=bare / 1024, portal=portal / 1024)
        for name, bare, portal in (
            ("gunicorn worker (resident)", web_bare, web_portal),
            ("Celery pool process (resident)", celery_bare, celery_portal),
        )
    ]
