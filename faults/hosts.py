"""
The portal on several hosts: `python -m faults.hosts` (part of `make faults`).

Network namespaces made by the run stand in for machines, each with its own
address on one bridge, its own network stack and its own `var` folder:

    db       10.77.0.10  PostgreSQL, Redis, an S3 API (moto's server mode,
                         standing in for the object store exports go to)
    web1     10.77.0.11  gunicorn
    web2     10.77.0.12  gunicorn
    worker1  10.77.0.21  Celery worker
    worker2  10.77.0.22  Celery worker
    beat     10.77.0.30  Celery beat

Every process listens on its own host's address only. The run itself stays
in the machine's own namespace, at 10.77.0.1 on the bridge: it is the load
balancer (health checks on /health/ready, round robin over the web hosts
that answer, a refused connection tried on the other), the respondents, the
mail relay (an SMTP sink) and the oracle, which reads the database.

Cutting a host takes its link down: its packets go nowhere and nothing tells
its peers, as when a machine drops off the network. Everything made here
(namespaces, bridge, processes, folders) is removed at the end.
"""

import argparse
import contextlib
import itertools
import json
import os
import platform
import subprocess
import sys
import threading
import time
import traceback
from collections import Counter
from dataclasses import dataclass

from . import load, oracle, services
from .load import Browser
from .services import VENV_BIN, Postgres, Process, Redis, SmtpSink, wait_until, workspace
from .suite import Result, wait_for

NETWORK = "10.77.0"
GATEWAY = f"{NETWORK}.1"
BRIDGE = "qipp-br0"
SITE = "qipp.test"
WEB_PORT = 8000
S3_PORT = 9000
BUCKET = "qipp-exports"
# What docs/deployment.md asks of postgresql.conf: a peer that vanished is
# dropped within about two minutes, and its locks with it.
POSTGRES_SETTINGS = {
    "tcp_keepalives_idle": 60,
    "tcp_keepalives_interval": 10,
    "tcp_keepalives_count": 6,
    "idle_in_transaction_session_timeout": "5min",
    "tcp_user_timeout": 120000,
}
# The mail relay takes this long to accept each message, so that a host cut
# off is likely to hold emails it has claimed and not yet heard back about.
SMTP_SECONDS = 0.2
# A compile slowed down to be in a worker's hands when its host is cut off.
COMPILE_SECONDS = 40


@dataclass(frozen=True)
class Host:
    name: str
    address: str
    network: str = f"{NETWORK}.0/24"

    @property
    def netns(self) -> str:
        return f"qipp-{self.name}"

    @property
    def link(self) -> str:
        """Its end of the cable, on the bridge."""
        return f"qv-{self.name}"

    def command(self, command: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.netns, *command]


HOSTS = {
    name: Host(name, f"{NETWORK}.{number}")
    for name, number in (("db", 10), ("web1", 11), ("web2", 12), ("worker1", 21), ("worker2", 22), ("beat", 30))
}


def _ip(*args: str, check: bool = True) -> None:
    subprocess.run(["ip", *args], check=check, capture_output=True)  # noqa: S603, S607


class Network:
    """A bridge, and a namespace per host joined to it by a veth pair."""

    def __init__(self, hosts):
        self.hosts = list(hosts)

    def create(self) -> "Network":
        self.remove()  # what a run that was killed left behind
        services._cleanups.append(self.remove)
        _ip("link", "add", BRIDGE, "type", "bridge")
        _ip("addr", "add", f"{GATEWAY}/24", "dev", BRIDGE)
        _ip("link", "set", BRIDGE, "up")
        for host in self.hosts:
            _ip("netns", "add", host.netns)
            _ip("link", "add", host.link, "type", "veth", "peer", "name", "eth0", "netns", host.netns)
            _ip("link", "set", host.link, "master", BRIDGE, "up")
            _ip("-n", host.netns, "addr", "add", f"{host.address}/24", "dev", "eth0")
            _ip("-n", host.netns, "link", "set", "eth0", "up")
            _ip("-n", host.netns, "link", "set", "lo", "up")
        return self

    def remove(self) -> None:
        _ip("link", "del", BRIDGE, check=False)
        for host in self.hosts:
            # Deleting one end of the pair deletes both, now: a namespace's own go when the kernel gets to it.
            _ip("link", "del", host.link, check=False)
            _ip("netns", "del", host.netns, check=False)

    def cut(self, host: Host) -> None:
        _ip("link", "set", host.link, "down")

    def restore(self, host: Host) -> None:
        _ip("link", "set", host.link, "up")


def reachable(address: str, port: int) -> bool:
    import socket

    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((address, port)) == 0


# --- The load balancer ---------------------------------------------------------


class Balancer:
    """
    Round robin over the web hosts whose /health/ready answers 200, checked
    twice a second, leaving out those an operator has drained.
    """

    def __init__(self, hosts: list[Host]):
        self.targets = [(host.address, WEB_PORT) for host in hosts]
        self.healthy = set(self.targets)
        self.drained = set()
        self.turn = itertools.count()
        self.served = Counter()
        self.refused = Counter()
        self.lock = threading.Lock()
        self.running = True
        self.checker = threading.Thread(target=self._check, daemon=True)
        self.checker.start()

    def _check(self) -> None:
        while self.running:
            for target in self.targets:
                probe = Browser(target[1], address=target[0], site=SITE, timeout=2)
                healthy = probe.request("GET", "/health/ready").status == 200
                with self.lock:
                    (self.healthy.add if healthy else self.healthy.discard)(target)
            time.sleep(0.5)

    def pick(self, avoid=None) -> tuple[str, int]:
        with self.lock:
            live = [target for target in self.targets if target not in self.drained]
        choices = [target for target in live if target in self.healthy and target != avoid]
        choices = choices or [target for target in live if target != avoid] or live
        return choices[next(self.turn) % len(choices)]

    def drain(self, host: Host) -> None:
        """Send the host no new requests (what an operator does before stopping it)."""
        with self.lock:
            self.drained.add((host.address, WEB_PORT))

    def stop(self) -> None:
        self.running = False
        self.checker.join(5)


class BalancedBrowser(Browser):
    """A respondent behind the load balancer: each request may go to either web host."""

    def __init__(self, balancer: Balancer):
        super().__init__(WEB_PORT, site=SITE)
        self.balancer = balancer
        self.current = balancer.targets[0]

    def target(self) -> tuple[str, int]:
        return self.current

    def request(self, method: str, path: str, form: dict | None = None) -> load.Response:
        avoid = None
        for _ in self.balancer.targets:
            self.current = self.balancer.pick(avoid)
            response = super().request(method, path, form)
            if not response.error.startswith("ConnectionRefusedError"):
                with self.balancer.lock:
                    self.balancer.served[self.current[0]] += 1
                return response
            # Nothing reached the host: the balancer tries the other, as a proxy does.
            with self.balancer.lock:
                self.balancer.refused[self.current[0]] += 1
            avoid = self.current
        return response


# --- The cluster ---------------------------------------------------------------


class Cluster:
    def __init__(self):
        self.base = workspace()
        self.logs = self.base / "logs"
        self.logs.mkdir()
        self.count = 0
        self.processes: list[Process] = []
        started = time.monotonic()
        self.network = Network(HOSTS.values()).create()
        db = HOSTS["db"]
        self.postgres = Postgres(self.base, host=db, settings=POSTGRES_SETTINGS).create()
        self.redis = Redis(self.base, host=db).start()
        self.smtp = SmtpSink(GATEWAY, delay=SMTP_SECONDS).start()
        self.object_store = self._start(
            db, "s3", [str(VENV_BIN / "moto_server"), "-H", db.address, "-p", str(S3_PORT)], base_env=dict(os.environ)
        )
        if not wait_until(lambda: reachable(db.address, S3_PORT), timeout=30):
            raise RuntimeError(f"the S3 API did not start:\n{self.object_store.output()[-2000:]}")
        self.env = {
            **services.portal_env(site=SITE, postgres=self.postgres, redis=self.redis, smtp=self.smtp),
            "EXPORTS_S3_BUCKET": BUCKET,
            "EXPORTS_S3_ENDPOINT_URL": f"http://{db.address}:{S3_PORT}",
            "EXPORTS_S3_REGION": "eu-west-2",
            "AWS_ACCESS_KEY_ID": "faults",
            "AWS_SECRET_ACCESS_KEY": "faults-only",
        }
        self._bucket()
        # Migrations run once per release, from one host.
        migrate = self._start(
            HOSTS["web1"], "migrate", [str(VENV_BIN / "python"), "manage.py", "migrate", "--noinput"]
        )
        if migrate.popen.wait(300):
            raise RuntimeError(f"migrate failed:\n{migrate.output()[-3000:]}")
        # The oracle reads the database through the portal's own models.
        os.environ.update({**self.env, "QIPP_VAR_DIR": str(self.base / "oracle")})
        import django

        django.setup()
        print(
            f"hosts: {', '.join(f'{h.name} {h.address}' for h in HOSTS.values())}; SMTP sink {GATEWAY}:"
            f"{self.smtp.port}; ready in {time.monotonic() - started:.0f}s; logs in {self.logs}"
        )

    def _bucket(self) -> None:
        import boto3

        s3 = boto3.client(
            "s3",
            endpoint_url=self.env["EXPORTS_S3_ENDPOINT_URL"],
            region_name="eu-west-2",
            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"],
        )
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-2"})
        self.s3 = s3

    def _start(self, host: Host, name: str, command: list[str], *, extra_env=None, base_env=None) -> Process:
        self.count += 1
        var = self.base / "hosts" / host.name / "var"
        var.mkdir(parents=True, exist_ok=True)
        env = {**(base_env or self.env), "QIPP_VAR_DIR": str(var), **(extra_env or {})}
        log = self.logs / f"{self.count:03d}-{host.name}-{name}.log"
        process = Process(f"{name} on {host.name}", host.command(command), env=env, log=log).start()
        process.host = host
        return process

    def web(self, host: Host) -> Process:
        process = self._start(host, "web", services.web_command(f"{host.address}:{WEB_PORT}"))
        if not wait_until(lambda: reachable(host.address, WEB_PORT) or not process.running, timeout=30):
            raise RuntimeError(f"web on {host.name} did not start:\n{process.output()[-3000:]}")
        self.processes.append(process)
        return process

    def worker(self, host: Host) -> Process:
        command = services.worker_command(f"worker@{host.name}", slow=True)
        process = self._start(
            host, "worker", command, extra_env={"FAULTS_COMPILE_DELAY_SECONDS": str(COMPILE_SECONDS)}
        )
        if not process.wait_for_output(" ready.", timeout=60):
            raise RuntimeError(f"worker on {host.name} did not start:\n{process.output()[-3000:]}")
        self.processes.append(process)
        return process

    def beat(self, host: Host) -> Process:
        schedule = self.base / "hosts" / host.name / "var" / "celerybeat-schedule"
        process = self._start(host, "beat", services.beat_command(schedule))
        if not process.wait_for_output("beat: Starting", timeout=60):
            raise RuntimeError(f"beat on {host.name} did not start:\n{process.output()[-3000:]}")
        self.processes.append(process)
        return process

    def logs_tail(self, characters: int = 1500) -> str:
        return "\n".join(f"--- {p.name} ({p.log.name})\n{p.output()[-characters:]}" for p in self.processes)


# --- What the database says ----------------------------------------------------


def compile_holder(digest_id: int) -> Host | None:
    """The host whose database session holds the digest's compile lock."""
    from django.db import connection

    from feedback.digests import COMPILE_LOCK

    oracle._fresh()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT host(a.client_addr) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s AND l.objid = %s",
            [COMPILE_LOCK, digest_id],
        )
        row = cursor.fetchone()
    return next((host for host in HOSTS.values() if row and host.address == row[0]), None)


def sessions_from(host: Host) -> int:
    from django.db import connection

    oracle._fresh()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE host(client_addr) = %s", [host.address])
        return cursor.fetchone()[0]


def signed_in_lead() -> tuple[object, dict]:
    """A policy lead with two-factor verified, and the session cookie a browser of theirs would carry."""
    from django.conf import settings
    from django.contrib.auth.models import Group, User
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_static.models import StaticDevice

    oracle._fresh()
    user = User.objects.create(username="hosts.lead", email="hosts.lead@example.nhs.uk", is_staff=True)
    user.groups.add(Group.objects.get(name="Policy leads"))
    device = StaticDevice.objects.create(user=user, name="Backup codes")
    client = Client(HTTP_HOST=SITE)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return user, {settings.SESSION_COOKIE_NAME: session.session_key}


# --- The scenario --------------------------------------------------------------


def export_across_hosts(cluster: Cluster, result: Result) -> None:
    """An export written by whichever worker host takes it, downloaded from both web hosts."""
    from django.db import transaction

    from feedback import background_exports
    from feedback.models import Export, ExportStatus, View

    user, cookies = signed_in_lead()
    with transaction.atomic():
        export = background_exports.request_export(user=user, file_format="csv", query="", include_personal=False)
    ready = wait_for(
        lambda: oracle._fresh() or Export.objects.get(pk=export.pk).status == ExportStatus.READY, timeout=120
    )
    if not result.check(ready is not None, "the export was not made within two minutes"):
        return
    stored = cluster.s3.get_object(Bucket=BUCKET, Key=f"{export.pk}.csv")["Body"].read().decode("utf-8")
    bodies = {}
    for name in ("web1", "web2"):
        browser = Browser(WEB_PORT, address=HOSTS[name].address, site=SITE)
        browser.cookies = dict(cookies)
        response = browser.request("GET", f"/admin/feedback/submission/exports/{export.pk}/download/")
        result.check(response.status == 200, f"the export's download from {name} answered {response.status}")
        bodies[name] = response.body
    rows = stored.count("\n") - 1
    result.figure(
        "export: views / rows in the object store / same file from web1 and web2",
        (f"{View.objects.count()} / {rows} / {'yes' if bodies['web1'] == bodies['web2'] == stored else 'no'}"),
    )
    result.check(bodies["web1"] == bodies["web2"] == stored, "the web hosts served different files")
    result.check(rows == View.objects.count(), f"the export has {rows} rows for {View.objects.count()} views")


def cut_the_compiling_host(cluster: Cluster, result: Result, *, week, seconds: float, label: str, during=None):
    """Wait for `week`'s compile, cut the host holding it for `seconds`, restore it. When it was cut, and the host."""
    from feedback.models import Digest, DigestStatus

    def holder():
        oracle._fresh()
        digest = Digest.objects.filter(period_start=week.start, status=DigestStatus.COMPILING).first()
        return compile_holder(digest.pk) if digest else None

    found = wait_for(lambda: holder() is not None, timeout=150, interval=0.5)
    if not result.check(found is not None, f"{label}: no worker host was compiling {week}"):
        return None, None
    host = holder()
    time.sleep(COMPILE_SECONDS / 4)  # well into the compile, its transaction open
    sending = _sending_now()
    cluster.network.cut(host)
    cut = time.time()
    dropped = None
    while time.time() < cut + seconds:
        if during:
            during(time.time() - cut)
        if dropped is None and sessions_from(host) == 0:
            dropped = time.time() - cut
        time.sleep(1)
    cluster.network.restore(host)
    result.figure(
        f"{label}: host cut off mid-compile, for",
        f"{host.name}, {seconds:.0f}s (emails 'sending', on any host, when cut: {sending})",
    )
    result.figure(
        f"{label}: its database sessions dropped by PostgreSQL after",
        f"{dropped:.0f}s" if dropped is not None else f"not within the cut ({seconds:.0f}s)",
    )
    return cut, host


def _log_lines(process: Process):
    """A process's JSON log lines (the worker's banner and other plain lines left out)."""
    for line in process.output().splitlines():
        with contextlib.suppress(ValueError):
            parsed = json.loads(line)
            if isinstance(parsed, dict) and "time" in parsed:
                yield parsed


def _sending_now() -> int:
    from feedback.models import EmailStatus, OutgoingEmail

    oracle._fresh()
    return OutgoingEmail.objects.filter(status=EmailStatus.SENDING).count()


def several_hosts(cluster: Cluster, result: Result, *, long_cut: float, short_cut: float, seeded: int = 150):
    from feedback import digests
    from feedback.models import Digest, EmailKind, EmailStatus, OutgoingEmail, Submission

    last = digests.last_complete_week()
    earlier = last.previous()
    oracle.seed_week(last, seeded)
    oracle.seed_week(earlier, seeded)
    subscribers = oracle.subscribers(10)
    webs = {name: cluster.web(HOSTS[name]) for name in ("web1", "web2")}
    for name in ("worker1", "worker2"):
        cluster.worker(HOSTS[name])
    export_across_hosts(cluster, result)
    balancer = Balancer([HOSTS["web1"], HOSTS["web2"]])
    outcomes: list[load.Outcome] = []
    streaming = threading.Event()
    rounds = itertools.count()

    def stream() -> None:
        while not streaming.is_set():
            outcomes.extend(
                load.stream(
                    WEB_PORT,
                    seconds=20,
                    clients=4,
                    prefix=f"hosts{next(rounds)}",
                    pause=0.5,
                    browser=lambda: BalancedBrowser(balancer),
                )
            )

    loader = threading.Thread(target=stream)
    loader.start()
    # Beat starts last-week's compile within its first interval.
    cluster.beat(HOSTS["beat"])
    stopped_web = {}

    def stop_web2(elapsed: float) -> None:
        # As docs/deployment.md says: out of the load balancer, then SIGTERM. gunicorn
        # finishes the requests it holds, but closes its socket at once: a
        # connection still queued there would be reset.
        if elapsed > 60 and not stopped_web:
            balancer.drain(HOSTS["web2"])
            time.sleep(2)
            stopped_web["at"] = time.time()
            webs["web2"].stop(timeout=35)

    long_cut_at, long_host = cut_the_compiling_host(
        cluster, result, week=last, seconds=long_cut, label="long cut", during=stop_web2
    )
    from feedback import tasks

    tasks.compile_digest_task.delay(earlier.label)
    short_cut_at, _ = cut_the_compiling_host(cluster, result, week=earlier, seconds=short_cut, label="short cut")
    time.sleep(30)
    streaming.set()
    loader.join()
    balancer.stop()
    ended = time.time()

    # Every accepted submission saved once.
    oracle._fresh()
    failed = [o for o in outcomes if not o.accepted]
    result.figure("submissions attempted / accepted", f"{len(outcomes)} / {len(outcomes) - len(failed)}")
    result.figure(
        "requests served by web1 / web2",
        f"{balancer.served[HOSTS['web1'].address]} / {balancer.served[HOSTS['web2'].address]}",
    )
    result.figure("connections refused and tried on the other host", sum(balancer.refused.values()))
    errors = sum(1 for o in outcomes for status in o.statuses if status >= 500 or status == 0)
    result.figure("5xx or dropped connections", errors)
    result.check(not failed, f"{len(failed)} submissions not accepted: {[o.failure for o in failed[:3]]}")
    result.check(errors == 0, "a respondent saw a 5xx or a dropped connection")
    report = oracle.tokens(outcomes)
    result.figure("accepted tokens / their rows", f"{report['accepted']} / {report['rows'] - 2 * seeded}")
    for key in ("accepted without a row", "accepted with more than one row"):
        result.check(report[key] == 0, f"{key}: {report[key]}")

    # Each digest compiled once.
    for week in (last, earlier):
        rows = list(Digest.objects.filter(period_start=week.start))
        digest = rows[0] if rows else None
        new = digest.content.get("headline", {}).get("new") if digest and digest.content else None
        result.figure(
            f"digest {week}: rows, status, attempts, counted",
            f"{len(rows)}, {digest.status if digest else '-'}, {digest.attempts if digest else '-'}, {new}",
        )
        result.check(len(rows) == 1 and digest.is_compiled, f"{week}: {len(rows)} digests, not one compiled")
        result.check(new == seeded, f"{week}'s digest counts {new}, not {seeded}")
        counted = Submission.objects.received_between(week.start, week.end)
        result.check(
            bool(digest) and not counted.exclude(membership__digest=digest).exists(),
            f"{week}: submissions not counted",
        )
    numbers = list(Digest.objects.values_list("number", flat=True))
    result.check(len(numbers) == len(set(numbers)), f"digest numbers repeat: {numbers}")

    # Every email once, or listed as stuck; never twice.
    settled = wait_for(
        lambda: not OutgoingEmail.objects.filter(status=EmailStatus.PENDING).exists(), timeout=180, interval=2
    )
    result.check(settled is not None, "emails still waiting three minutes after the load ended")
    time.sleep(15)
    messages = cluster.smtp.messages
    received = Counter((m.to, m.subject) for m in messages)
    rows = list(OutgoingEmail.objects.values_list("recipient", "status", "kind", "claimed_at", "message_id"))
    twice = sum(1 for count in received.values() if count > 1)
    stuck = [row for row in rows if row[1] == EmailStatus.SENDING]
    sent_not_received = [
        row for row in rows if row[1] == EmailStatus.SENT and row[4] not in {m.message_id for m in messages}
    ]
    states = Counter(row[1] for row in rows)
    result.figure("emails: rows by status", dict(states))
    result.figure("emails: received by the sink / received twice", f"{len(messages)} / {twice}")
    result.figure("emails listed as stuck (sending, for a person to send again)", len(stuck))
    result.check(twice == 0, f"{twice} emails received twice")
    result.check(not sent_not_received, f"{len(sent_not_received)} emails marked sent were never received")
    result.check(states[EmailStatus.FAILED] == 0, f"{states[EmailStatus.FAILED]} emails failed")
    in_long_cut = [
        row
        for row in stuck
        if long_cut_at and row[3] and long_cut_at - 60 <= row[3].timestamp() <= long_cut_at + long_cut
    ]
    result.check(
        len(in_long_cut) == len(stuck),
        f"{len(stuck) - len(in_long_cut)} emails stuck that the long cut cannot explain",
    )
    # Emails kept flowing while a worker host was gone: how long after each submission its acknowledgement came.
    received_at = dict(Submission.objects.exclude(email="").values_list("email", "received_at"))
    delays = sorted(
        m.at - received_at[m.to].timestamp()
        for m in messages
        if m.subject.startswith(oracle.ACK_SUBJECT) and m.to in received_at
    )
    if delays:
        result.figure(
            "acknowledgement after its submission: p50 / p95 / max",
            f"{load.percentile(delays, 0.5):.1f}s / {load.percentile(delays, 0.95):.1f}s / {delays[-1]:.1f}s",
        )
    acks_due = Submission.objects.exclude(email="").count()
    acks = OutgoingEmail.objects.filter(kind=EmailKind.ACKNOWLEDGEMENT).count()
    result.check(acks == acks_due, f"{acks} acknowledgements for {acks_due} submissions with an email address")
    weekly = oracle.weekly(messages, weeks=[last.label])
    result.figure("weekly emails: subscribers / received", f"{len(subscribers)} / {weekly['emails received']}")
    result.check(weekly["subscriber-weeks with two or more"] == 0, "a subscriber got last week's email twice")
    missing = weekly["subscriber-weeks with none"] - weekly["send rows left half-sent"]
    result.check(missing <= 0, f"{missing} subscribers got no weekly email and none is listed as stuck")

    # The cut-off host came back and worked again by itself.
    if long_host:
        worker = next(p for p in cluster.processes if p.host == long_host and p.name.startswith("worker"))
        result.check(worker.running, f"the worker on {long_host.name} did not survive the cut")
        back = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(long_cut_at + long_cut))
        ran = sum(1 for line in _log_lines(worker) if "succeeded in" in line["message"] and line["time"] >= back)
        result.figure(f"tasks {long_host.name} ran after the long cut", ran)
        result.check(ran > 0, f"{long_host.name} ran no task after it came back")
    if stopped_web:
        result.figure(
            "web2 drained, then stopped (SIGTERM), at seconds into the long cut",
            f"{stopped_web['at'] - long_cut_at:.0f}",
        )
    result.figure("load ended, seconds after the short cut ended", f"{ended - short_cut_at - short_cut:.0f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--long-cut", type=float, default=180, help="seconds the first host is cut off (180)")
    parser.add_argument("--short-cut", type=float, default=30, help="seconds the second host is cut off (30)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("The multi-host scenario makes network namespaces: run it as root.")
        return 2
    started = time.monotonic()
    print(f"fault suite, several hosts, {time.strftime('%Y-%m-%d %H:%M %Z')}, {platform.node()}")
    cluster = None
    try:
        cluster = Cluster()
        result = Result(
            9,
            "Several hosts: a worker host cut off mid-work, a web host stopped",
            f"the host compiling a digest cut off for {args.long_cut:.0f}s (web2 stopped meanwhile), "
            f"then the host compiling another for {args.short_cut:.0f}s, under load through both web hosts",
        )
        try:
            several_hosts(cluster, result, long_cut=args.long_cut, short_cut=args.short_cut)
        except Exception:  # noqa: BLE001 - a crashed scenario is a failed one
            result.problems.append(traceback.format_exc())
        result.seconds = time.monotonic() - started
        from .run import conclude

        conclude(result, cluster.processes, cluster.logs_tail)
    finally:
        if cluster:
            while cluster.processes:
                cluster.processes.pop().stop()
        services.stop_all()
    print(f"\n{'PASS' if result.passed else 'FAIL'} in {time.monotonic() - started:.0f}s")
    return 0 if result.passed else 1


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
