"""
Errors to Sentry, when SENTRY_DSN is set (off otherwise), with nothing
personal in them: no user, no cookies, no request body, no query string
(a search or a filter can hold a respondent's name or words), no local
variables, and only the request headers that say nothing about a person.
"""

import re

import sentry_sdk
from sentry_sdk.integrations.celery import CeleryIntegration
from sentry_sdk.integrations.django import DjangoIntegration

# Paths whose segments are secrets: a respondent's links, a staff password link, a receipt.
TOKENS_IN_PATHS = [
    (re.compile(r"/your-submission/(?!views/|withdraw/)[^/]+/"), "/your-submission/[link]/"),
    (re.compile(r"/give-views/resume/[^/]+/"), "/give-views/resume/[link]/"),
    (re.compile(r"/give-views/received/[^/]+/"), "/give-views/received/[token]/"),
    (re.compile(r"/staff/password/[^/]+/[^/]+/"), "/staff/password/[link]/"),
    (re.compile(r"/email/unsubscribe/[^/]+/"), "/email/unsubscribe/[link]/"),
]
HEADERS_KEPT = {"host", "user-agent", "content-type", "content-length", "x-forwarded-proto", "x-request-id"}


def start(dsn: str, *, environment: str, release: str | None = None) -> None:
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        send_default_pii=False,
        max_request_body_size="never",
        include_local_variables=False,
        traces_sample_rate=0,
        before_send=without_personal_data,
        # Breadcrumbs would carry log lines and requests from before the error: none are sent.
        max_breadcrumbs=0,
    )


def without_personal_data(event: dict, hint: dict | None = None) -> dict:
    """The event with anything that could identify a respondent or a member of staff taken out."""
    event.pop("user", None)
    request = event.get("request")
    if request:
        for field in ("cookies", "data", "query_string", "env"):
            request.pop(field, None)
        if isinstance(request.get("url"), str):
            request["url"] = without_tokens(request["url"].split("?", 1)[0])
        headers = request.get("headers") or {}
        request["headers"] = {name: value for name, value in headers.items() if name.lower() in HEADERS_KEPT}
    return event


def without_tokens(url: str) -> str:
    for pattern, replacement in TOKENS_IN_PATHS:
        url = pattern.sub(replacement, url)
    return url
