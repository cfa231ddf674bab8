"""
Hostile values in the workspace's addresses: every list filter, search box and
page the portal adds, walked with values an attacker or a mangled link would
send. None of them may give a server error.
"""

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.test import RequestFactory
from django.urls import reverse

from feedback.models import Element

from .factories import SubmissionFactory

pytestmark = pytest.mark.django_db

HOSTILE = [
    "99999999999999999999",
    "-1",
    "0",
    "1.5",
    "1e9",
    "abc",
    "2026-W99",
    "\x00",
    "a\x00b",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "%",
    "x" * 5000,
]
IDS = ["overflow", "negative", "zero", "decimal", "exponent", "text", "bad-week", "nul", "inner-nul", "markup", "sql"]
IDS += ["percent", "5000-chars"]


def our_model_admins():
    return [
        model_admin
        for model, model_admin in admin.site._registry.items()
        if model._meta.app_label in ("feedback", "auth", "axes", "otp_totp", "otp_static")
    ]


def filter_parameters(model_admin, superuser) -> list[str]:
    """The query parameters each of a list's filters reads, as the list itself reports them."""
    request = RequestFactory().get("/")
    request.user = superuser
    changelist = model_admin.get_changelist_instance(request)
    names = {name for spec in changelist.filter_specs for name in spec.expected_parameters()}
    if model_admin.date_hierarchy:
        names |= {f"{model_admin.date_hierarchy}__{part}" for part in ("year", "month", "day")}
    return sorted(names | {"q", "o", "p"})


@pytest.fixture
def superuser(client):
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_static.models import StaticDevice

    user = User.objects.create_superuser("named.superuser", email="super@example.nhs.uk", password="a-long-password-1")
    device = StaticDevice.objects.create(user=user, name="Backup codes")
    client.force_login(user)
    # Collect every server error rather than stop at the first.
    client.raise_request_exception = False
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    SubmissionFactory(views=[{"element": Element.NATIONAL_POLICY, "text": "Change the tariff."}])
    return user


@pytest.mark.parametrize("value", HOSTILE, ids=IDS)
def test_no_list_filter_gives_a_server_error_whatever_its_value(client, superuser, value):
    failures = []
    for model_admin in our_model_admins():
        url = reverse(f"admin:{model_admin.opts.app_label}_{model_admin.opts.model_name}_changelist")
        for name in filter_parameters(model_admin, superuser):
            response = client.get(url, {name: value})
            if response.status_code >= 500:
                failures.append(f"{url}?{name}=... answered {response.status_code}")
    assert failures == []


@pytest.mark.parametrize("value", HOSTILE, ids=IDS)
def test_no_page_the_workspace_adds_gives_a_server_error_for_a_hostile_id(client, superuser, value):
    failures = []
    for model_admin in our_model_admins():
        prefix = f"/admin/{model_admin.opts.app_label}/{model_admin.opts.model_name}/"
        for suffix in ("change/", "delete/", "history/", "read/", "pdf/", ""):
            response = client.get(f"{prefix}{value}/{suffix}")
            if response.status_code >= 500:
                failures.append(f"{prefix}<id>/{suffix} answered {response.status_code}")
    for url in ("/admin/feedback/submission/export/csv/", "/admin/feedback/submission/export/xlsx/"):
        for name in filter_parameters(admin.site._registry[SubmissionFactory._meta.model], superuser):
            response = client.get(url, {name: value})
            if response.status_code >= 500:
                failures.append(f"{url}?{name}=... answered {response.status_code}")
    response = client.get("/admin/feedback/theme/merge/", {"ids": f"{value},{value}"})
    if response.status_code >= 500:
        failures.append(f"theme merge ids answered {response.status_code}")
    response = client.post("/admin/feedback/digest/compile/", {"week": value})
    if response.status_code >= 500:
        failures.append(f"compile week answered {response.status_code}")
    assert failures == []
