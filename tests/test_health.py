"""The load balancer's probes: alive, and ready while the database answers (Redis does not matter)."""

import pytest
from django.db import connections
from django.test import Client
from redis.exceptions import ConnectionError as RedisConnectionError

pytestmark = pytest.mark.django_db


@pytest.fixture
def probe(settings):
    """A probe as a load balancer sends it: plain HTTP, to the host's own address, which ALLOWED_HOSTS does not list."""
    settings.ALLOWED_HOSTS = ["qipp.example.nhs.uk"]
    settings.SECURE_SSL_REDIRECT = True
    return Client(HTTP_HOST="10.0.3.7:8000")


@pytest.mark.parametrize("path", ["/health/live", "/health/ready", "/health/live/", "/health/ready/"])
def test_each_probe_answers_200_over_plain_http_to_a_host_not_in_allowed_hosts(probe, path):
    response = probe.get(path)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


def test_other_pages_still_refuse_a_host_not_in_allowed_hosts(probe):
    assert probe.get("/", secure=True).status_code == 400
    assert probe.get("/health/other").status_code == 400


def test_not_ready_while_the_database_is_down_but_still_alive(probe, monkeypatch):
    def refuse(*args, **kwargs):
        from django.db import OperationalError

        raise OperationalError("connection refused")

    monkeypatch.setattr(type(connections["default"]), "temporary_connection", refuse)
    ready = probe.get("/health/ready")
    assert ready.status_code == 503
    assert "Database" in ready.content.decode()
    assert probe.get("/health/live").status_code == 200


def test_a_redis_outage_leaves_the_portal_ready(probe, monkeypatch):
    def down(*args, **kwargs):
        raise RedisConnectionError("Redis is down")

    monkeypatch.setattr("redis.connection.AbstractConnection.connect", down)
    assert probe.get("/health/ready").status_code == 200
