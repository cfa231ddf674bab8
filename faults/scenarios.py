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
    result = Result(1, "Redis stopped mid-stream, restarted later", f"Redis stopped for {down:.0f}s under load")
    suite.reset()
    suite.start()
    port = suite.portal.web_port
    outcomes: list[Outcome] = []
    streaming = threading.Thread(
        target=lambda: outcomes.extend(load.stream(port, seconds=before + down + after, clients=4, prefix="redis")),
    )
    streaming.start()
    time.sleep(before)
    stopped = time.time()
    suite.redis.stop()
    time.sleep(down)
    suite.redis.start()
    restarted = time.time()
    streaming.join()

    during = [o for o in outcomes if stopped <= o.started and o.started + o.slowest <= restarted]
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
    return result


# --- 4. Beat firing twice, the weekly send from two processes -------------------


def weekly_twice(suite: Suite, *, rounds: int = 20, subscribers: int = 10) -> Result:
    result = Result(
        4,
        "Beat firing twice; the weekly send run from two processes at once",
        f"two beats; {rounds} rounds of two `send_weekly_summary` processes started together",
    )
    from feedback import emails

    suite.reset()
    oracle.subscribers(subscribers)
    suite.start(web=False)
    suite.beat()  # a second beat: every periodic job fires twice
    due = emails.weekly_week_due()
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
