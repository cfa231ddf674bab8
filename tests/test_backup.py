"""A backup restores: pg_dump, pg_restore into a new database, and the portal runs on the copy (PostgreSQL)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from feedback import dashboard
from feedback.models import Element, Submission

from .factories import SubmissionFactory

ROOT = Path(__file__).resolve().parent.parent
PG_DUMP, PG_RESTORE, CREATEDB, DROPDB = (
    shutil.which(name) for name in ("pg_dump", "pg_restore", "createdb", "dropdb")
)

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="pg_dump and pg_restore back up PostgreSQL"),
    pytest.mark.skipif(not (PG_DUMP and PG_RESTORE), reason="PostgreSQL's client tools are not installed"),
    pytest.mark.django_db(transaction=True),
]


def url_for(database: str) -> str:
    settings = connection.settings_dict
    user = settings["USER"] or os.environ.get("USER", "root")
    return f"postgres://{user}@{settings['HOST'] or '127.0.0.1'}:{settings['PORT'] or 5432}/{database}"


def test_a_dump_restores_into_a_new_database_and_the_portal_runs_on_it(tmp_path):
    for number in range(5):
        SubmissionFactory(views=[{"element": Element.LEADERSHIP, "text": f"View {number}."}])
    figures = dashboard.summary(now=Submission.objects.latest("received_at").received_at)
    source = connection.settings_dict["NAME"]
    copy = f"{source}_restored"
    dump = tmp_path / "qipp.dump"
    environment = {**os.environ, "PGCONNECT_TIMEOUT": "10"}

    subprocess.run([PG_DUMP, "--format=custom", "--no-owner", f"--file={dump}", url_for(source)], check=True)
    subprocess.run([DROPDB, "--if-exists", copy, "--maintenance-db", url_for("postgres")], check=True)
    subprocess.run([CREATEDB, copy, "--maintenance-db", url_for("postgres")], check=True)
    try:
        subprocess.run([PG_RESTORE, "--no-owner", f"--dbname={url_for(copy)}", str(dump)], check=True)
        portal = {
            **environment,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": url_for(copy),
        }
        unmigrated = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--check"], cwd=ROOT, env=portal, capture_output=True, text=True
        )
        counted = subprocess.run(
            [
                sys.executable,
                "-c",
                "import django, json; django.setup(); "
                "from feedback import dashboard; from feedback.models import Submission; "
                "latest = Submission.objects.latest('received_at').received_at; "
                "print(json.dumps(dashboard.summary(now=latest)['totals']))",
            ],
            cwd=ROOT,
            env=portal,
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        connection.close()
        subprocess.run([DROPDB, "--if-exists", "--force", copy, "--maintenance-db", url_for("postgres")], check=True)

    assert unmigrated.returncode == 0, unmigrated.stdout + unmigrated.stderr
    assert json.loads(counted.stdout.strip().splitlines()[-1]) == json.loads(json.dumps(figures["totals"]))
