"""
`make bench` (and `make bench-quick`): the portal measured against ceilings
measured in the same run. Creates its own PostgreSQL database, runs the real
migrations, seeds it with seed_demo (fixed seed), measures, and drops the
database at the end, even when a measure fails. Exits non-zero only with
--strict and a failed target.
"""

import argparse
import os
import sys
import time

from harness import Database, Result, report, setup_django

SEED = 2009
WEEKS = 52


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="100k submissions only, fewer rounds (about two minutes)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds of ceiling and portal, alternating")
    parser.add_argument("--strict", action="store_true", help="exit non-zero if any target is missed")
    options = parser.parse_args()
    sizes = [100_000] if options.quick else [100_000, 1_000_000]
    rounds = options.rounds or (3 if options.quick else 5)

    results: list[Result] = []
    with Database(f"qipp_bench_{os.getpid()}") as database:
        setup_django(database.url)
        import digest
        import fanout
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        seeded, memories, week_rows = 0, {}, {}
        for size in sizes:
            started = time.monotonic()
            call_command("seed_demo", submissions=size - seeded, seed=SEED + seeded, weeks=WEEKS, verbosity=0)
            print(f"seeded {size:,} submissions ({time.monotonic() - started:.0f} s)", flush=True)
            seeded = size
            result, memories[size], week_rows[size] = digest.measure(size=size, rounds=rounds)
            results.append(result)
            print(f"  {result.measure}: {result.ratio:.2f}x", flush=True)
        if len(memories) > 1:
            # A digest holds the week's national policy proposals in full, so its
            # memory follows the size of the week compiled; what must not grow is
            # the memory for each of those rows as the table grows around them.
            smallest, largest = min(memories), max(memories)
            per_row = {size: memories[size] / max(week_rows[size], 1) for size in (smallest, largest)}
            ratio = per_row[largest] / per_row[smallest]
            results.append(
                Result(
                    measure=f"digest peak memory a week's row, {largest:,} vs {smallest:,}",
                    unit="B",
                    ceiling=per_row[smallest],
                    portal=per_row[largest],
                    target="<= 1.5x",
                    ratio=ratio,
                    passed=ratio <= 1.5,
                    notes={
                        "peak KiB (weeks of rows)": f"{memories[smallest] / 1024:,.0f} ({week_rows[smallest]:,}), "
                        f"{memories[largest] / 1024:,.0f} ({week_rows[largest]:,})"
                    },
                )
            )
        # Last: it compiles last week's digest for good, which the digest measure must not find.
        results.append(fanout.measure(rounds=rounds))
    report(results, name="bench-quick" if options.quick else "bench")
    failed = [result for result in results if not result.passed]
    return 1 if options.strict and failed else 0


if __name__ == "__main__":
    sys.exit(main())
