"""
Shared pieces of the benchmark: a throwaway PostgreSQL database, Django set
up against it with production settings, timing in alternating rounds, and the
results table. Every measure compares the portal with a ceiling measured in
the same run on the same machine, so the ratio means something on a shared,
noisy machine where absolute numbers do not.
"""

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "var" / "bench"


@dataclass
class Result:
    measure: str
    unit: str
    ceiling: float
    portal: float
    target: str
    # Ratio of portal to ceiling, computed so that lower is better for times.
    ratio: float
    passed: bool
    notes: dict = field(default_factory=dict)


def at_most(
    limit: float, *, measure: str, unit: str, ceiling: float, portal: float, notes: dict | None = None
) -> Result:
    """A measure where lower is better: it passes when the portal is within `limit` times the ceiling."""
    ratio = portal / ceiling
    return Result(
        measure=measure,
        unit=unit,
        ceiling=ceiling,
        portal=portal,
        target=f"<= {limit:g}x",
        ratio=ratio,
        passed=ratio <= limit,
        notes=notes or {},
    )


def admin_dsn(database: str = "postgres") -> str:
    return os.environ.get("BENCH_POSTGRES_DSN", "postgres://root@127.0.0.1:5432/") + database


class Database:
    """A PostgreSQL database of the benchmark's own, dropped when it ends, whatever happens."""

    def __init__(self, name: str):
        self.name = name
        self.url = admin_dsn(name)

    def __enter__(self) -> "Database":
        self._sql(f'DROP DATABASE IF EXISTS "{self.name}"')
        self._sql(f'CREATE DATABASE "{self.name}"')
        return self

    def __exit__(self, *exc) -> None:
        from django.db import connections

        connections.close_all()
        self._sql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    @staticmethod
    def _sql(statement: str) -> None:
        import psycopg2

        connection = psycopg2.connect(admin_dsn())
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(statement)
        connection.close()


def setup_django(database_url: str, *, settings_module: str = "qipp_portal.settings") -> None:
    """Django with the portal's production settings (DEBUG off), pointed at the benchmark's database."""
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": settings_module,
            "DATABASE_URL": database_url,
            "SECRET_KEY": "benchmark-only-" + "x" * 40,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "QIPP_VAR_DIR": str(ROOT / "var" / "bench"),
            "LOG_LEVEL": "WARNING",
            # This process only seeds and measures; the portal's own processes
            # get the benchmark's Redis (web.load_run_environment).
            "QIPP_SINGLE_HOST": "1",
        }
    )
    os.environ.pop("DJANGO_DEBUG", None)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def alternate(rounds: int, ceiling, portal) -> tuple[list[float], list[float]]:
    """Time ceiling and portal in turn, `rounds` times each, so drifts in the machine's load hit both alike."""
    ceilings, portals = [], []
    for _ in range(rounds):
        ceilings.append(timed(ceiling))
        portals.append(timed(portal))
    return ceilings, portals


def machine() -> dict:
    load = os.getloadavg()
    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average": [round(value, 2) for value in load],
        "postgres": subprocess.run(["psql", "--version"], capture_output=True, text=True).stdout.strip(),  # noqa: S607
    }


def report(results: list[Result], *, name: str) -> Path:
    """Print the table and keep a JSON copy for history."""
    header = f"{'measure':<44} {'ceiling':>12} {'portal':>12} {'ratio':>7}  {'target':<10} result"
    print()
    print(header)
    print("-" * len(header))
    for result in results:
        print(
            f"{result.measure:<44} {result.ceiling:>10.4f}{result.unit:>2} {result.portal:>10.4f}{result.unit:>2} "
            f"{result.ratio:>6.2f}x  {result.target:<10} {'pass' if result.passed else 'FAIL'}"
        )
        for key, value in result.notes.items():
            print(f"    {key}: {value}")
    details = machine()
    print(f"\nmachine: {details}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps({"machine": details, "results": [asdict(r) for r in results]}, indent=2))
    print(f"results: {path.relative_to(ROOT)}")
    return path


def median(values: list[float]) -> float:
    return statistics.median(values)
