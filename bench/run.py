"""
`make bench` (and `make bench-quick`): the portal measured against ceilings
measured in the same run. Creates its own PostgreSQL database, runs the real
migrations, seeds it with seed_demo (fixed seed), measures, and drops the
database at the end, even when a measure fails; every server it starts is
stopped. Exits non-zero only with --strict and a failed target.
"""

import argparse
import os
import sys
import time

from harness import RESULTS, Database, Result, report, setup_django

SEED = 2009
WEEKS = 52
GROUPS = ["mail", "http", "digest", "workspace", "search", "analysis", "memory", "fanout"]
# The 10,000-message import takes minutes: the full benchmark only, unless asked for.
NOT_QUICK = {"mail"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="100k submissions only, short runs (a few minutes)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds of ceiling and portal, alternating")
    parser.add_argument("--only", default=None, help=f"measures to run, of {','.join(GROUPS)}")
    parser.add_argument("--sizes", default=None, help="database sizes, e.g. 100000,1000000")
    parser.add_argument("--strict", action="store_true", help="exit non-zero if any target is missed")
    options = parser.parse_args()
    groups = options.only.split(",") if options.only else [g for g in GROUPS if not (options.quick and g in NOT_QUICK)]
    if unknown := set(groups) - set(GROUPS):
        parser.error(f"unknown measures: {', '.join(sorted(unknown))}")
    sizes = [int(size) for size in options.sizes.split(",")] if options.sizes else None
    sizes = sizes or ([100_000] if options.quick else [100_000, 1_000_000])
    rounds = options.rounds or (3 if options.quick else 5)
    # Seconds of load for each wrk run, and for the sustained run.
    seconds, sustained_seconds = (4, 20) if options.quick else (10, 300)

    results: list[Result] = []
    RESULTS.mkdir(parents=True, exist_ok=True)
    with Database(f"qipp_bench_{os.getpid()}") as database:
        setup_django(database.url)
        import fanout
        import web
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        call_command("collectstatic", verbosity=0, interactive=False)
        web.redis_flush()
        try:
            if "mail" in groups:
                import mail

                results += mail.measure(rounds=rounds)
                print(f"  mail import: {results[-2].ratio:.2f}x, memory {results[-1].ratio:.2f}x", flush=True)
            results += measure_sizes(groups, sizes, rounds, quick=options.quick)
            if "http" in groups:
                # On the largest database: the rush comes when the tables are full.
                with web.gunicorn() as server:
                    results += web.pages(server, rounds=rounds, seconds=seconds)
                    print(f"  pages: {results[-4].ratio:.2f}, {results[-2].ratio:.2f}", flush=True)
                    submitted, rate = web.submissions(server, rounds=rounds, seconds=seconds, seed=SEED)
                    results += submitted
                    results.append(web.fingerprint(database.url, seconds=seconds, portal_rate=rate))
                    print(f"  submissions: {submitted[0].ratio:.2f}", flush=True)
                    results.append(web.sustained(server, seconds=sustained_seconds, seed=SEED + 99))
                    print(f"  sustained: {'pass' if results[-1].passed else 'FAIL'}", flush=True)
            if "memory" in groups:
                results += web.memory_at_rest()
            if "fanout" in groups:
                # Last: it compiles last week's digest for good, which the digest measure must not find.
                results.append(fanout.measure(rounds=rounds))
        finally:
            web.redis_flush()
    report(results, name="bench-quick" if options.quick else "bench")
    failed = [result for result in results if not result.passed]
    return 1 if options.strict and failed else 0


def measure_sizes(groups: list[str], sizes: list[int], rounds: int, *, quick: bool = False) -> list[Result]:
    import analysis
    import digest
    import search
    import workspace
    from django.core.management import call_command

    results: list[Result] = []
    # The HTTP measures run on the largest database, so it is seeded for them too.
    if not {"digest", "workspace", "search", "analysis", "http"} & set(groups):
        return results
    seeded, memories, week_rows = 0, {}, {}
    export_memory, grouping_memory = {}, {}
    for size in sizes:
        started = time.monotonic()
        call_command(
            "seed_demo", submissions=size - seeded, seed=SEED + seeded, weeks=WEEKS, analysis=False, verbosity=0
        )
        print(f"seeded {size:,} submissions ({time.monotonic() - started:.0f} s)", flush=True)
        seeded = size
        if "digest" in groups:
            result, memories[size], week_rows[size] = digest.measure(size=size, rounds=rounds)
            results.append(result)
            print(f"  {result.measure}: {result.ratio:.2f}x", flush=True)
        if "workspace" in groups:
            measured, export_memory[size] = workspace.measure(size=size, rounds=rounds)
            results += measured
            for result in measured:
                print(f"  {result.measure}: {result.ratio:.2f}x", flush=True)
        if "search" in groups:
            for result in search.measure(size=size, rounds=rounds):
                results.append(result)
                print(f"  {result.measure}: {result.portal:.1f} ms ({result.ratio:.2f}x)", flush=True)
        if "analysis" in groups:
            # Training is measured once, on the largest database: the one with 20,000 tags to train on.
            measured, per_view = analysis.measure(
                size=size, rounds=rounds, train=size == sizes[-1] and not quick, group=not quick
            )
            if per_view is not None:
                grouping_memory[size] = per_view
            results += measured
            for result in measured:
                print(f"  {result.measure}: {result.portal:.3f}{result.unit} ({result.ratio:.2f}x)", flush=True)
    if len(grouping_memory) > 1:
        results.append(analysis.grouping_memory(grouping_memory))
    if len(memories) > 1:
        results.append(digest.memory_per_row(memories, week_rows))
    if len(export_memory) > 1:
        results.append(workspace.export_memory(export_memory))
    return results


if __name__ == "__main__":
    sys.exit(main())
