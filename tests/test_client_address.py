"""
The client's address behind proxies: one rule for the rate limit, the lockout
and the audit log, which a client cannot steer by writing X-Forwarded-For.
"""

import pytest
from django.contrib.auth.models import Group, User

from feedback.models import AuditAction, AuditEvent, Submission

from .test_settings import PRODUCTION, run_portal

pytestmark = pytest.mark.django_db

PROXY = "10.0.0.5"


def send_from(client, respondent, forwarded_for: str | None, remote: str = PROXY):
    client.defaults["REMOTE_ADDR"] = remote
    if forwarded_for is None:
        client.defaults.pop("HTTP_X_FORWARDED_FOR", None)
    else:
        client.defaults["HTTP_X_FORWARDED_FOR"] = forwarded_for
    respondent.complete_up_to_check()
    return respondent.send()


def test_behind_a_proxy_a_client_cannot_escape_the_rate_limit_by_writing_its_own_forwarded_for(
    client, respondent, settings
):
    settings.QIPP_TRUSTED_PROXIES = 1
    settings.QIPP_SUBMIT_RATE = "2/h"
    # The proxy appends the real client (203.0.113.7) to whatever the client wrote.
    assert send_from(client, respondent, "198.51.100.1, 203.0.113.7").status_code == 302
    assert send_from(client, respondent, "198.51.100.2, 203.0.113.7").status_code == 302
    refused = send_from(client, respondent, "198.51.100.3, 203.0.113.7")
    assert refused.status_code == 429
    assert Submission.objects.count() == 2


@pytest.mark.parametrize(
    "forwarded_for",
    [None, "", "not-an-address", "203.0.113.7:443", "  ,  ,", "203.0.113.7\x00", "2001:db8::1, 999.1.1.1"],
    ids=["missing", "empty", "text", "with-port", "only-commas", "nul", "malformed-last-hop"],
)
def test_a_missing_or_malformed_forwarded_for_never_switches_the_rate_limit_off(
    client, respondent, settings, forwarded_for
):
    settings.QIPP_TRUSTED_PROXIES = 1
    settings.QIPP_SUBMIT_RATE = "1/h"
    assert send_from(client, respondent, forwarded_for).status_code == 302
    assert send_from(client, respondent, forwarded_for).status_code == 429
    assert Submission.objects.count() == 1


def test_without_trusted_proxies_forwarded_for_is_ignored(client, respondent, settings):
    settings.QIPP_SUBMIT_RATE = "1/h"
    assert send_from(client, respondent, "198.51.100.1", remote="192.0.2.10").status_code == 302
    assert send_from(client, respondent, "198.51.100.2", remote="192.0.2.10").status_code == 429


def test_ipv6_clients_are_counted_by_their_64_bit_prefix(client, respondent, settings):
    settings.QIPP_SUBMIT_RATE = "1/h"
    assert send_from(client, respondent, None, remote="2001:db8:1:2::10").status_code == 302
    assert send_from(client, respondent, None, remote="2001:db8:1:2::99").status_code == 429


def test_the_lockout_and_the_audit_log_name_the_address_the_proxy_saw(client, settings):
    settings.QIPP_TRUSTED_PROXIES = 1
    user = User.objects.create_user("reviewer", password="a-long-test-password", is_staff=True)
    user.groups.add(Group.objects.get(name="Policy reviewers"))
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        # A different forged address each time, the same real client.
        client.post(
            "/staff/sign-in/",
            {"username": "reviewer", "password": "wrong-password"},
            REMOTE_ADDR=PROXY,
            HTTP_X_FORWARDED_FOR=f"198.51.100.{attempt}, 203.0.113.7",
        )
    locked = client.post(
        "/staff/sign-in/",
        {"username": "reviewer", "password": "a-long-test-password"},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR="198.51.100.200, 203.0.113.7",
    )
    assert locked.status_code == 429
    addresses = set(
        AuditEvent.objects.filter(action__in=[AuditAction.SIGN_IN_FAILED, AuditAction.LOCKED_OUT]).values_list(
            "ip_address", flat=True
        )
    )
    assert addresses == {"203.0.113.7"}


def test_production_refuses_the_old_header_setting_that_trusted_whatever_the_client_wrote():
    result = run_portal("pass", **PRODUCTION, RATELIMIT_IP_META_KEY="HTTP_X_FORWARDED_FOR")
    assert result.returncode != 0
    assert "set QIPP_TRUSTED_PROXIES instead" in result.stderr
