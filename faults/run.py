"""
Run the fault suite: `python -m faults.run [--quick] [--only 1,4]`.

Starts its own PostgreSQL, Redis and SMTP sink on spare loopback ports, then
runs each scenario against the portal's web, worker and beat and prints its
figures and PASS or FAIL. Exits non-zero if any scenario fails.
"""

import argparse
import platform
import sys
import time
import traceback

from . import scenarios, services
from .services import stop_all
from .suite import Result, Suite

# (number, the full run's call, the quick run's call or None to leave it out).
SCENARIOS = [
    (7, lambda s: scenarios.same_token(s), lambda s: scenarios.same_token(s)),
    (4, lambda s: scenarios.weekly_twice(s), lambda s: scenarios.weekly_twice(s)),
    (1, lambda s: scenarios.redis_outage(s), lambda s: scenarios.redis_outage(s, before=8, down=20, after=8)),
    (2, lambda s: scenarios.redis_flushed(s), None),
    (3, lambda s: scenarios.worker_killed_mid_digest(s), None),
    (5, lambda s: scenarios.smtp_outage(s), None),
    (6, lambda s: scenarios.postgres_restart(s), None),
    (8, lambda s: scenarios.mailbox_outage(s), None),
]


def report(result: Result) -> None:
    print(f"\n[{result.number}] {result.name}: {'PASS' if result.passed else 'FAIL'} ({result.seconds:.0f}s)")
    print(f"    injected: {result.injected}")
    for name, value in result.figures.items():
        print(f"    {name}: {value}")
    for problem in result.problems:
        print(f"    problem: {problem}")


def conclude(result: Result, processes, logs_tail) -> None:
    """
    The portal's processes recover by themselves: none may have died on its
    own (one the scenario killed was stopped by it). Keep the logs of a
    failure, and print the result.
    """
    died = [p.name for p in processes if not p.running and not p.stopped]
    result.check(not died, f"processes that exited by themselves: {', '.join(died)}")
    if not result.passed:
        services.keep_logs = True
        result.problems.append("logs:\n" + logs_tail())
    report(result)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="scenarios 7, 4 and a short Redis outage only")
    parser.add_argument("--only", help="comma-separated scenario numbers")
    args = parser.parse_args()
    chosen = {int(n) for n in args.only.split(",")} if args.only else None

    started = time.monotonic()
    print(
        f"fault suite ({'quick' if args.quick else 'full'}), {time.strftime('%Y-%m-%d %H:%M %Z')}, "
        f"{platform.node()}, Python {platform.python_version()}"
    )
    results: list[Result] = []
    suite = None
    try:
        suite = Suite()
        for number, full, quick in SCENARIOS:
            run = quick if args.quick else full
            if run is None or (chosen and number not in chosen):
                continue
            began = time.monotonic()
            try:
                result = run(suite)
            except Exception:  # noqa: BLE001 - a crashed scenario is a failed one; the rest still run
                result = Result(number, f"scenario {number}", "(crashed)")
                result.problems.append(traceback.format_exc())
            result.seconds = time.monotonic() - began
            conclude(result, suite.processes, suite.logs_tail)
            results.append(result)
    finally:
        if suite:
            suite.stop_portal()
        stop_all()
    passed = sum(result.passed for result in results)
    print(f"\n{passed} of {len(results)} scenarios passed in {time.monotonic() - started:.0f}s")
    for result in results:
        print(f"  [{result.number}] {'PASS' if result.passed else 'FAIL'}  {result.name}")
    return 0 if results and passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
