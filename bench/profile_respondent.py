"""
Where a respondent's requests spend their time: the form page GET and the
submission POST, each run many times through Django's test client with the
load-run settings on a database of the benchmark's own, under cProfile. It
prints, per request, the milliseconds in each part of the work (the parts
are whole call trees: the view, the template, the session, the database),
so that what is left is a choice, not a mystery. Run: `make profile`.

The parts overlap the way calls nest (the view includes the database calls
it makes): each line says what it includes.
"""

import cProfile
import os
import pstats
import sys
import time
from pathlib import Path

from harness import Database, setup_django

ROUNDS = int(os.environ.get("PROFILE_ROUNDS", "400"))

# (what the part is, the function whose whole call tree it is)
PARTS = {
    "form page GET": [
        ("whole request through the test client", "django/test/client.py", "request"),
        ("middleware and view, inside the handler", "django/core/handlers/base.py", "_get_response"),
        ("the view, its template included", "feedback/views.py", None),
        ("  of which template rendering", "django/template/backends/django.py", "render"),
        ("session read", "feedback/sessions.py", "load"),
        ("session write", "django/contrib/sessions/backends/db.py", "save"),
        ("database round trips (all)", "django/db/backends/utils.py", "execute"),
        ("CSRF token", "django/middleware/csrf.py", "process_view"),
    ],
    "submission POST": [
        ("whole request through the test client", "django/test/client.py", "request"),
        ("middleware and view, inside the handler", "django/core/handlers/base.py", "_get_response"),
        ("checking the whole draft", "feedback/drafts.py", "problems"),
        ("rate limit", "feedback/views.py", "_over_rate_limit"),
        ("saving: submission, views, counts, receipt email (one transaction)", "feedback/drafts.py", "send"),
        ("  of which the submission and its views", "feedback/models/submissions.py", "record"),
        ("  of which the dashboard's tallies", "feedback/models/tallies.py", "add"),
        ("  of which the receipt email's row", "feedback/outbox.py", "enqueue_acknowledgement"),
        ("  of which forgetting the draft (the session ends)", "feedback/drafts.py", "forget"),
        ("  of which the commit", "django/db/backends/base/base.py", "commit"),
        ("queueing the email task after commit", "feedback/doorbell.py", "_publish"),
        ("session read", "feedback/sessions.py", "load"),
        ("database round trips (all)", "django/db/backends/utils.py", "execute"),
    ],
}


def cumulative_ms(stats: pstats.Stats, path_part: str, function: str | None, requests: int) -> float:
    """Milliseconds a request in the call trees of matching functions (the outermost calls only)."""
    total = 0.0
    for (filename, _, name), (_, _, _, cumulative, callers) in stats.stats.items():
        if path_part not in filename or (function is not None and name != function):
            continue
        # Count only calls from outside the same part, so recursion is not counted twice.
        if any(path_part in caller[0] and (function is None or caller[2] == function) for caller in callers):
            continue
        total += cumulative
    return 1000 * total / requests


def report(title: str, profile: cProfile.Profile, requests: int, elapsed: float) -> None:
    stats = pstats.Stats(profile)
    print(f"\n{title}: {requests} requests, {1000 * elapsed / requests:.2f} ms each (profiled)")
    for label, path_part, function in PARTS[title]:
        print(f"  {cumulative_ms(stats, path_part, function, requests):7.2f} ms  {label}")


def main() -> None:
    from web import BROKER_URL, CACHE_URL

    # The benchmark's own Redis databases, as the load runs use them (the task is queued there).
    os.environ.update(CELERY_BROKER_URL=BROKER_URL, CACHE_URL=CACHE_URL)
    with Database(f"qipp_profile_{os.getpid()}") as database:
        setup_django(database.url, settings_module="bench.settings")
        from django.core.management import call_command
        from django.test import Client

        call_command("migrate", verbosity=0)
        call_command("collectstatic", verbosity=0, interactive=False)
        import web

        sessions = web.prepare_sessions(ROUNDS + 20, Path(database.name + ".sessions"), seed=2009)
        keys = sessions.read_text().split()
        sessions.unlink()

        client = Client(HTTP_HOST="127.0.0.1")
        for _ in range(20):  # caches, templates and connections settle first
            client.get("/give-views/about-you/", secure=True)
        profile = cProfile.Profile()
        started = time.perf_counter()
        profile.enable()
        for _ in range(ROUNDS):
            client.get("/give-views/about-you/", secure=True)
        profile.disable()
        report("form page GET", profile, ROUNDS, time.perf_counter() - started)

        # Only the POST is profiled: the GET before it fetches the form's tokens. The
        # first twenty are not counted: caches, templates and connections settle first.
        profile = cProfile.Profile()
        elapsed = 0.0
        for number, key in enumerate(keys):
            client.cookies["sessionid"] = key
            page = client.get("/give-views/check-your-answers/", secure=True).content.decode()
            token = page.split('name="token" value="', 1)[1].split('"', 1)[0]
            counted = number >= 20
            started = time.perf_counter()
            if counted:
                profile.enable()
            response = client.post("/give-views/check-your-answers/", {"token": token}, secure=True)
            if counted:
                profile.disable()
                elapsed += time.perf_counter() - started
            assert response.status_code == 302, response.status_code
        report("submission POST", profile, ROUNDS, elapsed)
        web.redis_flush()


if __name__ == "__main__":
    sys.exit(main())
