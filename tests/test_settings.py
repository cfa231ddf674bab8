import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from .conftest import ABOUT_YOU

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = {"SECRET_KEY": "a-long-random-production-secret-" + "x" * 40, "ALLOWED_HOSTS": "qipp.example.nhs.uk"}


def run_portal(code: str, **env: str) -> subprocess.CompletedProcess:
    """Run Python with the portal's own settings module and only the given environment."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if key
        in (
            "PATH",
            "HOME",
            "LANG",
            "PYENV_VERSION",
            "DATABASE_URL",
            "CELERY_BROKER_URL",
            "CACHE_URL",
            "QIPP_SINGLE_HOST",
        )
    }
    environment.update(
        {"DJANGO_SETTINGS_MODULE": "qipp_portal.settings", "QIPP_VAR_DIR": os.environ["QIPP_VAR_DIR"], **env}
    )
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def production_settings(*names: str, **env: str) -> dict:
    code = "from django.conf import settings; import json; print(json.dumps({n: getattr(settings, n) for n in %r}))"
    result = run_portal(code % (names,), **{**PRODUCTION, **env})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("missing", ["SECRET_KEY", "ALLOWED_HOSTS"])
def test_production_settings_refuse_to_start_without(missing):
    env = {key: value for key, value in PRODUCTION.items() if key != missing}
    result = run_portal("pass", **env)
    assert result.returncode != 0
    assert f"Set {missing}" in result.stderr


def test_production_settings_pass_the_deployment_checks_with_no_warnings():
    result = run_portal(
        "from django.core.management import call_command; call_command('check', deploy=True, fail_level='WARNING')",
        **PRODUCTION,
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_production_sends_mail_over_smtp_and_keeps_database_connections():
    values = production_settings("MAILERS", "DATABASES", "DEBUG", SMTP_HOST="smtp.example.nhs.uk", SMTP_PORT="587")
    assert values["DEBUG"] is False
    mailer = values["MAILERS"]["default"]
    assert mailer["BACKEND"] == "feedback.mailer.EmailBackend"
    assert mailer["OPTIONS"]["host"] == "smtp.example.nhs.uk"
    assert mailer["OPTIONS"]["port"] == 587
    assert values["DATABASES"]["default"]["CONN_MAX_AGE"] >= 60
    assert values["DATABASES"]["default"]["CONN_HEALTH_CHECKS"] is True


def test_production_refuses_a_minimum_fill_time_under_a_second():
    result = run_portal("pass", **PRODUCTION, QIPP_MIN_FILL_SECONDS="0")
    assert result.returncode != 0
    assert "QIPP_MIN_FILL_SECONDS must be at least 1" in result.stderr


def test_load_run_settings_refuse_to_serve_anything_but_loopback():
    result = run_portal("pass", **{**PRODUCTION, "DJANGO_SETTINGS_MODULE": "bench.settings"})
    assert result.returncode != 0
    assert "loopback only" in result.stderr
    loopback = run_portal(
        "from django.conf import settings; print(settings.QIPP_MIN_FILL_SECONDS)",
        **{**PRODUCTION, "DJANGO_SETTINGS_MODULE": "bench.settings", "ALLOWED_HOSTS": "127.0.0.1"},
    )
    assert loopback.returncode == 0, loopback.stderr
    assert loopback.stdout.strip() == "0"


@pytest.mark.django_db
def test_the_benchmark_ceiling_views_are_not_routed_by_the_portal(client):
    assert client.get("/ceiling/page/").status_code == 404
    assert client.get("/ceiling/insert/").status_code == 404


def test_development_writes_emails_to_files_and_needs_no_secret():
    result = run_portal(
        "from django.conf import settings; print(settings.MAILERS['default']['BACKEND'])", DJANGO_DEBUG="1"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "django.core.mail.backends.filebased.EmailBackend"


def test_the_broker_cannot_hang_a_request():
    values = production_settings(
        "CELERY_BROKER_TRANSPORT_OPTIONS", "CELERY_TASK_ACKS_LATE", CELERY_BROKER_URL="redis://127.0.0.1:6379/0"
    )
    options = values["CELERY_BROKER_TRANSPORT_OPTIONS"]
    assert 0 < options["socket_connect_timeout"] <= 5
    assert 0 < options["socket_timeout"] <= 5
    assert values["CELERY_TASK_ACKS_LATE"] is True


@pytest.mark.django_db
def test_plain_http_is_redirected_to_https():
    response = Client().get("/")
    assert response.status_code == 301
    assert response["Location"] == "https://testserver/"


@pytest.mark.django_db
def test_pages_carry_the_security_headers(client):
    response = client.get("/give-views/about-you/")
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response.cookies["csrftoken"]["secure"]
    # The session starts with the first answers saved.
    saved = client.post("/give-views/about-you/", ABOUT_YOU)
    session = saved.cookies["sessionid"]
    assert session["secure"] and session["httponly"]


@pytest.mark.django_db
def test_every_script_carries_the_nonce_from_the_content_security_policy(client):
    response = client.get("/")
    policy = response["Content-Security-Policy"]
    assert "unsafe-inline" not in policy
    nonce = re.search(r"'nonce-([^']+)'", policy).group(1)
    scripts = re.findall(r"<script\b[^>]*>", response.content.decode())
    assert scripts, "the page loads the design system's script"
    for script in scripts:
        assert f'nonce="{nonce}"' in script
    assert " style=" not in response.content.decode(), "no inline styles: the policy would block them"


def test_production_static_addresses_come_from_the_manifest_and_are_remembered(tmp_path):
    from qipp_portal.storage import StaticFilesStorage

    manifest = {"version": "1.1", "hash": "0", "paths": {"css/portal.css": "css/portal.0a1b2c.css"}}
    (tmp_path / "staticfiles.json").write_text(json.dumps(manifest))
    storage = StaticFilesStorage(location=tmp_path, base_url="/static/")
    assert storage.url("css/portal.css") == "/static/css/portal.0a1b2c.css"
    assert storage.url("css/portal.css") == "/static/css/portal.0a1b2c.css"
    with pytest.raises(ValueError, match="Missing staticfiles manifest entry"):
        storage.url("css/missing.css")


@pytest.mark.parametrize(
    ("setting", "value", "named"),
    [
        ("DATABASE_URL", "sqlite:////tmp/qipp-refused.sqlite3", "SQLite"),
        ("CELERY_BROKER_URL", "filesystem://", "the filesystem broker"),
        ("CACHE_URL", "locmemcache://", "the in-process cache"),
    ],
)
def test_production_refuses_a_one_machine_default_unless_told_it_is_meant(setting, value, named):
    servers = {
        "DATABASE_URL": "postgres://root@127.0.0.1:5432/qipp",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/15",
        "CACHE_URL": "rediscache://127.0.0.1:6379/14",
    }
    refused = run_portal("pass", **{**PRODUCTION, **servers, setting: value, "QIPP_SINGLE_HOST": "0"})
    assert refused.returncode != 0
    assert named in refused.stderr and "QIPP_SINGLE_HOST=1" in refused.stderr
    meant = run_portal("pass", **{**PRODUCTION, **servers, setting: value, "QIPP_SINGLE_HOST": "1"})
    assert meant.returncode == 0, meant.stderr


def test_errors_go_to_sentry_only_when_a_dsn_is_set_and_never_with_personal_data():
    code = (
        "import json, sentry_sdk; client = sentry_sdk.get_client(); options = client.options; "
        "print(json.dumps([client.is_active(), options['send_default_pii'], options['max_request_body_size'], "
        "options['include_local_variables']]))"
    )
    off = run_portal(code, DJANGO_DEBUG="1")
    on = run_portal(code, DJANGO_DEBUG="1", SENTRY_DSN="https://public@sentry.example.nhs.uk/7")
    assert json.loads(off.stdout.strip().splitlines()[-1])[0] is False, off.stderr
    assert json.loads(on.stdout.strip().splitlines()[-1]) == [True, False, "never", False], on.stderr


def test_an_error_sent_to_sentry_carries_no_user_cookie_body_query_or_personal_header():
    from qipp_portal.errors import without_personal_data

    event = without_personal_data(
        {
            "user": {"username": "lee.lead", "ip_address": "10.0.0.7"},
            "request": {
                "url": "https://qipp.example.nhs.uk/admin/feedback/submission/?q=Priya+Shah",
                "query_string": "q=Priya+Shah",
                "cookies": {"sessionid": "abc"},
                "data": {"name": "Priya Shah"},
                "headers": {"Cookie": "sessionid=abc", "X-Forwarded-For": "81.2.69.160", "User-Agent": "Firefox"},
            },
            "exception": {"values": [{"type": "ValueError"}]},
        }
    )
    assert "user" not in event
    assert event["request"] == {
        "url": "https://qipp.example.nhs.uk/admin/feedback/submission/",
        "headers": {"User-Agent": "Firefox"},
    }
    assert event["exception"] == {"values": [{"type": "ValueError"}]}


def test_the_links_in_paths_never_reach_sentry():
    from qipp_portal.errors import without_personal_data

    for path, shown in [
        ("/your-submission/abc:Signed-Token/", "/your-submission/[link]/"),
        ("/your-submission/views/2/", "/your-submission/views/2/"),
        ("/give-views/resume/Zm9v:bar/", "/give-views/resume/[link]/"),
        ("/give-views/received/5f0c6a8e-2b1d-4c7e-9a3f-0d2e4b6c8a10/", "/give-views/received/[token]/"),
        ("/staff/password/MQ/abc-123/", "/staff/password/[link]/"),
    ]:
        event = without_personal_data({"request": {"url": f"https://qipp.example.nhs.uk{path}?x=1"}})
        assert event["request"]["url"] == f"https://qipp.example.nhs.uk{shown}"
