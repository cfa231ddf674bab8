"""
The scenarios. Each starts the portal afresh on an empty database, drives
load, injects one fault, waits for the portal to recover by itself, and checks
the oracle. Each returns a Result with its figures and any problems.
"""

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from . import load, oracle
from .load import Browser, Outcome
from .suite import Result, Suite, wait_for

# How long acknowledgements may take once the fault is over: "a few minutes".
SETTLE_SECONDS = 180
# How long the task in the worker's hands takes when Redis stops (scenario 1).
IN_FLIGHT_SECONDS = 8


def _settle_acknowledgements(suite: Suite, result: Result, *, since: float) -> None:
    """Wait for every acknowledgement to be sent, then check each was received exactly once."""
    waited = wait_for(oracle.acknowledgements_settled, timeout=SETTLE_SECONDS, interval=2)
    result.check(waited is not None, f"acknowledgements still waiting {SETTLE_SECONDS}s after the fault ended")
    # One more sweeper interval: anything left behind would show now.
    time.sleep(suite_sweep_seconds() + 2)
    messages = suite.smtp.messages
    report = oracle.acknowledgements(messages)
    acks = [m.at for m in messages if m.subject.startswith(oracle.ACK_SUBJECT)]
    result.figure(
        "acknowledgements (due / sent / received by the sink)", _triple(report, "due", "sent", "received by the sink")
    )
    result.figure(
        "acknowledgements received twice / never / left half-sent",
        _triple(report, "received twice or more", "never received", "left half-sent"),
    )
    if acks:
        result.figure("last acknowledgement, seconds after the fault ended", f"{max(acks) - since:.0f}")
    result.figure("most attempts at one acknowledgement", report["most attempts at one"])
    result.problems.extend(oracle.acknowledgements_problems(report))


def suite_sweep_seconds() -> int:
    from django.conf import settings

    return settings.SWEEP_SECONDS


def _triple(report: dict, *keys: str) -> str:
    return " / ".join(str(report[key]) for key in keys)


def _latency(outcomes: list[Outcome], label: str) -> str:
    sends = [o.send_seconds + o.receipt_seconds for o in outcomes if o.accepted]
    if not sends:
        return f"{label}: none accepted"
    return (
        f"{len(sends)} sent, send + confirmation p50 {load.percentile(sends, 0.5) * 1000:.0f} ms, "
        f"p95 {load.percentile(sends, 0.95) * 1000:.0f} ms, max {max(sends) * 1000:.0f} ms"
    )


def _server_errors(outcomes: list[Outcome]) -> int:
    return sum(1 for o in outcomes for status in o.statuses if status >= 500 or status == 0)


def _tokens(result: Result, outcomes: list[Outcome]) -> dict:
    report = oracle.tokens(outcomes)
    result.figure("accepted tokens / rows", f"{report['accepted']} / {report['rows']}")
    for key in ("accepted without a row", "accepted with more than one row", "accepted twice by the client"):
        result.check(report[key] == 0, f"{key}: {report[key]}")
    return report


# --- 1. Redis stopped mid-stream ----------------------------------------------


def redis_outage(suite: Suite, *, before: float = 15, down: float = 30, after: float = 15) -> Result:
    result = Result(
        1,
        "Redis stopped mid-stream, restarted later",
        f"Redis stopped for {down:.0f}s under load, with a task in the worker's hands",
    )
    from feedback import digests, tasks
    from feedback.models import Digest, DigestStatus

    suite.reset()
    suite.web()
    # A digest compile made to take a while is in the worker's hands (not yet
    # acknowledged) when Redis stops, as some task usually is under load.
    suite.worker(FAULTS_COMPILE_DELAY_SECONDS=IN_FLIGHT_SECONDS)
    suite.beat()
    port = suite.portal.web_port
    outcomes: list[Outcome] = []
    streaming = threading.Thread(
        target=lambda: outcomes.extend(load.stream(port, seconds=before + down + after, clients=4, prefix="redis")),
    )
    streaming.start()
    earlier = digests.last_complete_week().previous()
    time.sleep(max(0.0, before - IN_FLIGHT_SECONDS / 2))
    tasks.compile_digest_task.delay(earlier.label)
    time.sleep(IN_FLIGHT_SECONDS / 2)
    oracle._fresh()
    in_flight = Digest.objects.filter(period_start=earlier.start, status=DigestStatus.COMPILING).exists()
    result.figure("a task in the worker's hands when Redis stopped", "yes" if in_flight else "no")
    stopped = time.time()
    suite.redis.stop()
    time.sleep(down)
    suite.redis.start()
    restarted = time.time()
    streaming.join()

    during = [o for o in outcomes if stopped <= o.started and o.ended <= restarted]
    outside = [o for o in outcomes if o not in during]
    result.figure("submissions attempted (during the outage)", f"{len(outcomes)} ({len(during)})")
    result.figure("5xx or dropped connections", _server_errors(outcomes))
    result.figure("while Redis was up", _latency(outside, "up"))
    result.figure("while Redis was down", _latency(during, "down"))
    result.check(_server_errors(outcomes) == 0, "a respondent saw a 5xx or a dropped connection")
    result.check(
        all(o.accepted for o in outcomes), f"{sum(not o.accepted for o in outcomes)} submissions not accepted"
    )
    result.check(bool(during), "no submission completed while Redis was down")
    slow = [o.send_seconds + o.receipt_seconds for o in during if o.accepted]
    result.check(
        not slow or load.percentile(slow, 0.95) < 1.0,
        "the confirmation page was slow (p95 >= 1s) while Redis was down",
    )
    _tokens(result, outcomes)
    _settle_acknowledgements(suite, result, since=restarted)
    oracle._fresh()
    compiled = Digest.objects.filter(period_start=earlier.start, status=DigestStatus.READY).count()
    result.check(compiled == 1, f"the compile in the worker's hands made {compiled} ready digests, not 1")
    return result


# --- 4. Beat firing twice, the weekly send from two processes -------------------


def weekly_twice(suite: Suite, *, rounds: int = 20, subscribers: int = 10) -> Result:
    result = Result(
        4,
        "Beat firing twice; the weekly send run from two processes at once",
        f"two beats; {rounds} rounds of two `send_weekly_summary` processes started together",
    )
    from feedback import outbox

    suite.reset()
    oracle.subscribers(subscribers)
    suite.start(web=False)
    suite.beat()  # a second beat: every periodic job fires twice
    due = outbox.weekly_week_due()
    weeks = [due.label]
    exits = Counter()
    started = time.monotonic()
    week = due
    for _ in range(rounds):
        week = week.previous()
        weeks.append(week.label)
        pair = [suite.portal.manage_process("send_weekly_summary", "--week", week.label) for _ in range(2)]
        for process in pair:
            exits[process.popen.wait(120)] += 1
            if process.popen.returncode:
                result.problems.append(f"send_weekly_summary --week {week.label}: {process.output()[-300:].strip()}")
    result.figure("rounds (two processes each), seconds", f"{rounds}, {time.monotonic() - started:.0f}")
    settled = wait_for(
        lambda: oracle.weekly_settled() and len(suite.smtp.messages) >= subscribers * len(weeks), timeout=90
    )
    result.check(settled is not None, "weekly emails still waiting 90s after the last round")
    time.sleep(6)  # two more beat ticks: a duplicate would show now
    report = oracle.weekly(suite.smtp.messages, weeks=weeks)
    result.figure("command runs that exited 0 / failed", f"{exits[0]} / {sum(exits.values()) - exits[0]}")
    result.figure("subscribers x weeks", f"{report['subscribers']} x {report['weeks']} = {report['emails expected']}")
    result.figure("weekly emails received", report["emails received"])
    result.figure(
        "subscriber-weeks with two or more / none",
        _triple(report, "subscriber-weeks with two or more", "subscriber-weeks with none"),
    )
    result.figure("beat processes / sends fired by beat", f"2 / {_beat_sends(suite)}")
    result.problems.extend(oracle.weekly_problems(report))
    return result


def _beat_sends(suite: Suite) -> int:
    return sum(p.output().count("send-weekly-emails") for p in suite.processes if p.name == "beat")


# --- 7. One token, 100 concurrent posts ---------------------------------------


def same_token(suite: Suite, *, posts: int = 100) -> Result:
    result = Result(7, "The same one-time token posted concurrently", f"{posts} concurrent POSTs of one token")
    from feedback.models import Submission, View

    suite.reset()
    suite.start(beat=False)
    port = suite.portal.web_port
    browser = Browser(port)
    outcome = Outcome(number=0, email="concurrent@example.nhs.uk", started=time.time())
    page = load.journey_to_check(browser, outcome)
    if page is None:
        result.problems.append(f"the journey failed before the check page: {outcome.failure}")
        return result
    barrier = threading.Barrier(posts)

    def post(_):
        own = Browser(port)
        own.cookies = dict(browser.cookies)
        barrier.wait()
        return own.post("/give-views/check-your-answers/", page, {"token": outcome.token})

    with ThreadPoolExecutor(posts) as pool:
        responses = list(pool.map(post, range(posts)))
    statuses = Counter(response.status for response in responses)
    locations = Counter(response.location for response in responses if response.status == 302)
    seconds = [response.seconds for response in responses]
    result.figure("responses by status", dict(statuses))
    result.figure("distinct receipts redirected to", len(locations))
    result.figure("slowest response", f"{max(seconds) * 1000:.0f} ms")
    result.check(statuses == Counter({302: posts}), f"not every post was redirected to the receipt: {dict(statuses)}")
    result.check(
        list(locations) == [f"/give-views/received/{outcome.token}/"], f"redirected to other places: {list(locations)}"
    )
    oracle._fresh()
    rows = Submission.objects.filter(token=outcome.token).count()
    views = View.objects.filter(submission__token=outcome.token).count()
    result.figure("submissions / views for the token", f"{rows} / {views}")
    result.check(rows == 1 and Submission.objects.count() == 1, f"{rows} submissions for the token")
    result.check(views == len(load.VIEWS), f"{views} views saved, not {len(load.VIEWS)}")
    wait_for(oracle.acknowledgements_settled, timeout=60)
    time.sleep(2)
    acks = [m for m in suite.smtp.messages if m.subject.startswith(oracle.ACK_SUBJECT)]
    result.figure("acknowledgements received", len(acks))
    result.check(len(acks) == 1, f"{len(acks)} acknowledgements received, not 1")
    return result


# --- 2. Redis flushed -----------------------------------------------------------


def redis_flushed(suite: Suite, *, subscribers: int = 15) -> Result:
    result = Result(
        2,
        "Redis flushed while work awaits",
        "FLUSHALL with acknowledgement and weekly tasks queued (worker stopped), then again under load",
    )
    from feedback import digests, outbox

    suite.reset()
    oracle.subscribers(subscribers)
    suite.start(worker=False)
    port = suite.portal.web_port
    # Work piles up in Redis while no worker takes it: acknowledgements from
    # the web, weekly sends from beat, and send rows waiting in the database.
    week = outbox.weekly_week_due()
    outbox.plan_weekly_emails(digest=digests.compile_digest(week=week))
    outcomes = load.stream(port, seconds=15, clients=3, prefix="flush-a")
    queued = sum(int(suite.redis.cli("LLEN", queue) or 0) for queue in ("emails", "digests", "maintenance"))
    suite.redis.cli("FLUSHALL")
    flushed = time.time()
    result.figure("tasks queued in Redis when it was flushed", queued)
    suite.worker()
    # Again with the worker running, in the middle of a stream.
    streaming = threading.Thread(
        target=lambda: outcomes.extend(load.stream(port, seconds=20, clients=3, prefix="flush-b"))
    )
    streaming.start()
    time.sleep(10)
    suite.redis.cli("FLUSHALL")
    streaming.join()
    result.figure("submissions attempted", len(outcomes))
    result.figure("5xx or dropped connections", _server_errors(outcomes))
    result.check(_server_errors(outcomes) == 0, "a respondent saw a 5xx or a dropped connection")
    result.check(all(o.accepted for o in outcomes), f"{sum(not o.accepted for o in outcomes)} not accepted")
    _tokens(result, outcomes)
    _settle_acknowledgements(suite, result, since=flushed)
    wait_for(oracle.weekly_settled, timeout=60)
    report = oracle.weekly(suite.smtp.messages, weeks=[week.label])
    result.figure("weekly emails expected / received", _triple(report, "emails expected", "emails received"))
    result.problems.extend(oracle.weekly_problems(report))
    return result


# --- 3. A worker killed mid-digest ----------------------------------------------


def worker_killed_mid_digest(suite: Suite, *, submissions: int = 200, delay: int = 20) -> Result:
    result = Result(
        3,
        "A worker killed with kill -9 in the middle of a digest",
        f"kill -9 of the worker (main process and pool) {delay // 4}s into a compile made to take {delay}s",
    )

    from feedback import digests, tasks
    from feedback.models import Digest, DigestStatus, Submission

    suite.reset()
    week = digests.last_complete_week()
    oracle.seed_week(week, submissions)
    worker = suite.worker(FAULTS_COMPILE_DELAY_SECONDS=delay)
    suite.beat()
    tasks.compile_digest_task.delay(week.label)
    compiling = wait_for(
        lambda: Digest.objects.filter(period_start=week.start, status=DigestStatus.COMPILING).exists(),
        timeout=60,
        interval=0.5,
    )
    if not result.check(compiling is not None, "the compile never started"):
        return result
    time.sleep(delay / 4)
    worker.kill()
    killed = time.time()
    oracle._fresh()
    left = Digest.objects.get(period_start=week.start)
    result.figure("digest when the worker died", f"{left.status}, attempt {left.attempts}")
    result.check(left.status == DigestStatus.COMPILING, f"the digest was {left.status} when the worker died")
    suite.worker(FAULTS_COMPILE_DELAY_SECONDS=delay)
    recovered = wait_for(
        lambda: oracle._fresh() or Digest.objects.filter(period_start=week.start, status=DigestStatus.READY).exists(),
        timeout=180,
    )
    result.check(recovered is not None, "the digest was not compiled within 3 minutes of the new worker starting")
    oracle._fresh()
    digests_for_week = Digest.objects.filter(period_start=week.start)
    digest = digests_for_week.first()
    in_week = Submission.objects.received_between(week.start, week.end)
    result.figure("ready, seconds after the kill", f"{time.time() - killed:.0f}" if recovered is not None else "never")
    result.figure("digests for the week", digests_for_week.count())
    result.figure("digest status, number, attempts", f"{digest.status}, {digest.number}, {digest.attempts}")
    result.figure(
        "submissions in the week / counted by it",
        f"{in_week.count()} / {in_week.filter(membership__digest=digest).count()}",
    )
    headline = digest.content.get("headline", {})
    result.figure("headline count in the digest", headline.get("new"))
    result.check(digests_for_week.count() == 1, "more than one digest for the week")
    result.check(digest.status == DigestStatus.READY and digest.number == 1, "the digest is not ready as number 1")
    result.check(headline.get("new") == submissions, f"the digest counts {headline.get('new')}, not {submissions}")
    result.check(
        not in_week.exclude(membership__digest=digest).exists(), "submissions of the week the digest did not count"
    )
    return result


# --- 5. SMTP down, then back ----------------------------------------------------


def smtp_outage(suite: Suite, *, down: float = 40, subscribers: int = 20) -> Result:
    result = Result(
        5, "SMTP down for a while, then back", f"SMTP sink stopped (connections refused) for {down:.0f}s under load"
    )
    from feedback import outbox
    from feedback.models import EmailKind, OutgoingEmail

    suite.reset()
    oracle.subscribers(subscribers)
    suite.start()
    week = outbox.weekly_week_due()
    suite.smtp.stop()
    stopped = time.time()
    outcomes = load.stream(suite.portal.web_port, seconds=down - 10, clients=3, prefix="smtp")
    time.sleep(max(0.0, down - (time.time() - stopped)))
    oracle._fresh()
    tried_rows = OutgoingEmail.objects.filter(attempts__gte=1)
    tried = tried_rows.filter(kind=EmailKind.ACKNOWLEDGEMENT).count()
    weekly_tried = tried_rows.filter(kind=EmailKind.WEEKLY_SUMMARY).count()
    attempts_down = sum(OutgoingEmail.objects.values_list("attempts", flat=True))
    suite.smtp.start()
    restarted = time.time()
    result.figure("submissions accepted while SMTP was down", sum(o.accepted for o in outcomes))
    result.figure(
        "tried while down: acknowledgements, weekly emails, attempts in all",
        f"{tried}, {weekly_tried}, {attempts_down} in {down:.0f}s",
    )
    result.check(all(o.accepted for o in outcomes), "a submission was not accepted while SMTP was down")
    _tokens(result, outcomes)
    _settle_acknowledgements(suite, result, since=restarted)
    wait_for(oracle.weekly_settled, timeout=SETTLE_SECONDS)
    time.sleep(6)
    report = oracle.weekly(suite.smtp.messages, weeks=[week.label])
    result.figure("weekly emails expected / received", _triple(report, "emails expected", "emails received"))
    result.problems.extend(oracle.weekly_problems(report))
    most = max(OutgoingEmail.objects.values_list("attempts", flat=True), default=0)
    # The first retry comes a minute after a failure: an outage shorter than
    # that costs each email one failed try, whatever the sweeper's pace.
    result.figure("most attempts at one email (failed + the one that went)", most)
    result.check(most <= 2, f"an email was tried {most} times in a {down:.0f}s outage: a busy retry loop")
    return result


# --- 6. PostgreSQL restarted mid-stream -----------------------------------------


def postgres_restart(suite: Suite, *, seconds: float = 45, restarts: tuple = ((12, 0), (28, 5))) -> Result:
    """`restarts`: (seconds into the stream, seconds PostgreSQL stays down) for each restart."""
    result = Result(
        6,
        "PostgreSQL restarted mid-stream",
        "PostgreSQL stopped (fast) under load and started again: "
        + ", ".join(f"at {at}s, down {hold}s + start-up" for at, hold in restarts),
    )
    from feedback.models import Submission

    suite.reset()
    suite.start()
    port = suite.portal.web_port
    outcomes: list[Outcome] = []
    streaming = threading.Thread(
        target=lambda: outcomes.extend(load.stream(port, seconds=seconds, clients=4, prefix="pg")),
    )
    began = time.time()
    streaming.start()
    downtime = []
    for at, hold in restarts:
        time.sleep(max(0.0, began + at - time.time()))
        stopped = time.time()
        suite.postgres.stop()
        time.sleep(hold)
        suite.postgres.start()
        downtime.append(time.time() - stopped)
    last_up = time.time()
    streaming.join()
    failures = [o for o in outcomes if not o.accepted]
    after = [o for o in outcomes if o.started > last_up + 5]
    result.figure("submissions attempted / accepted", f"{len(outcomes)} / {len(outcomes) - len(failures)}")
    result.figure("restarts, seconds down each", ", ".join(f"{d:.1f}" for d in downtime))
    result.figure(
        "failed steps: readable error page / other",
        f"{sum(o.failure_readable for o in failures)} / {sum(not o.failure_readable for o in failures)}",
    )
    result.figure("failed steps by status", dict(Counter(o.failure_status for o in failures)))
    slowest = max((o.slowest for o in outcomes), default=0)
    result.figure("slowest request", f"{slowest:.1f}s")
    result.check(all(o.failure_readable for o in failures), "a failed step showed no readable page")
    result.check(slowest < load.HANG_SECONDS, f"a request took {slowest:.1f}s: a hang")
    result.check(bool(after) and all(o.accepted for o in after), "submissions failed after PostgreSQL was back")
    _tokens(result, outcomes)
    oracle._fresh()
    rows = list(Submission.objects.values_list("token", "reference"))
    with ThreadPoolExecutor(4) as pool:
        reposts = list(pool.map(lambda row: load.repost(port, str(row[0])), rows))
    shown = sum(
        1 for (status, body), (_, reference) in zip(reposts, rows, strict=True) if status == 200 and reference in body
    )
    result.figure("rows whose token, posted again, shows its receipt", f"{shown} of {len(rows)}")
    result.check(shown == len(rows), f"{len(rows) - shown} rows' tokens did not show their receipt")
    _settle_acknowledgements(suite, result, since=last_up)
    result.figure("web, worker and beat running afterwards", all(p.running for p in suite.processes))
    return result


# --- 8. The mailbox's IMAP server down for a minute -----------------------------


def _deliver(server, raws: list[bytes]) -> None:
    """Deliver straight into the Maildir, as the mail server's delivery agent does while IMAP is down."""
    import os
    import shutil

    from tests.dovecot import USER

    new = server.root / "mail" / USER / "Maildir" / "new"
    for number, raw in enumerate(raws):
        path = new / f"{time.time():.6f}.faults{number}.localhost"
        path.write_bytes(raw)
        shutil.chown(path, "dovecot", "dovecot")
        os.chmod(path, 0o600)


def mailbox_outage(suite: Suite, *, before: int = 60, during: int = 60, down: float = 60) -> Result:
    """The beat reads mail each minute; the IMAP server stops mid-poll for `down` seconds while mail keeps coming."""
    result = Result(
        8,
        "The mailbox's IMAP server down for a minute",
        f"Dovecot stopped (every process killed) mid-poll for {down:.0f}s; {during} messages delivered meanwhile",
    )
    from feedback.models import InboundMessage, MailboxState
    from tests import dovecot
    from tests.mail_samples import email

    suite.reset()
    server = dovecot.Dovecot(suite.base / "dovecot").start()
    suite.portal.env["MAILBOX_URL"] = server.url
    try:
        first = [email(message_id=f"<before-{n}@faults.example.nhs.uk>", text=f"View {n}.") for n in range(before)]
        later = [email(message_id=f"<during-{n}@faults.example.nhs.uk>", text=f"View {n}.") for n in range(during)]
        server.append(*first)
        suite.start(web=False)
        oracle._fresh()
        # Stop the server as soon as the first poll has stored something: mid-poll, or just after it.
        wait_for(lambda: (oracle._fresh(), InboundMessage.objects.exists())[1], timeout=90, interval=0.05)
        stored_before = InboundMessage.objects.count()
        server.stop()
        stopped = time.time()
        time.sleep(5)
        _deliver(server, later)
        time.sleep(max(0.0, down - (time.time() - stopped)))
        errors_during = MailboxState.objects.exclude(last_error="").count()
        server.start()
        restarted = time.time()
        total = before + during

        def caught_up() -> bool:
            oracle._fresh()
            return InboundMessage.objects.count() >= total and server.count("INBOX") == 0

        took = wait_for(caught_up, timeout=150)
        oracle._fresh()
        rows = InboundMessage.objects.count()
        distinct = InboundMessage.objects.values("message_id").distinct().count()
        result.figure("stored when the server stopped", f"{stored_before} of {before}")
        result.figure("a poll failed while it was down", bool(errors_during))
        result.figure("messages delivered / rows / distinct Message-IDs", f"{total} / {rows} / {distinct}")
        result.figure("caught up after the restart", f"{took:.0f}s" if took is not None else "no")
        result.figure("left in INBOX / in Processed", f"{server.count('INBOX')} / {server.count('Processed')}")
        result.check(rows == total == distinct, f"{total} messages delivered but {rows} rows ({distinct} distinct)")
        result.check(server.count("INBOX") == 0, "messages were left in INBOX after the restart")
        result.check(took is not None and time.time() - restarted < 150, "the mailbox did not catch up")
        result.check(all(p.running for p in suite.processes), "the worker or beat stopped")
    finally:
        suite.portal.env.pop("MAILBOX_URL", None)
        suite.stop_portal()
        server.stop()
    return result
