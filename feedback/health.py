"""
Health endpoints for load balancers and orchestrators (django-health-check):

- `/health/live`: the process answers; nothing else is asked.
- `/health/ready`: the database answers. 503 only when it does not: Redis
  (the broker, the cache behind the rate limits) is not asked, since its
  outage fails open and respondents never notice it, and taking every web
  host out of the load balancer for it would turn a small fault into an outage.

Both are answered by the first middleware, before the host is checked
against ALLOWED_HOSTS and before any redirect to HTTPS: a probe calls a host
by its own address, over plain HTTP. Only these two paths are answered so,
and they say nothing but whether each check passed.
"""

from asgiref.sync import async_to_sync
from django.http import HttpRequest, HttpResponse
from health_check.views import HealthCheckView

PROBES = {
    "/health/live": async_to_sync(HealthCheckView.as_view(checks=())),
    "/health/ready": async_to_sync(HealthCheckView.as_view(checks=["health_check.checks.Database"])),
}


def probes(get_response):
    """Middleware, first in the list: answer the two health paths, whatever the Host header."""

    def middleware(request: HttpRequest) -> HttpResponse:
        probe = PROBES.get(request.path_info.rstrip("/"))
        if probe is None:
            return get_response(request)
        request.META["HTTP_ACCEPT"] = "text/plain"
        response = probe(request)
        if response.status_code == 500:
            # A check failed: not ready (503), rather than the library's 500.
            response.status_code = 503
        return response

    return middleware
