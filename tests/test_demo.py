"""`make demo`: a newcomer's portal with something on every page."""

import io

import pytest
from django.core import mail
from django.core.management import call_command

from feedback.models import Digest, DigestStatus, InboundMessage, Submission, Subscription, ThemeTag

pytestmark = pytest.mark.django_db


def test_the_demo_fills_an_empty_portal_compiles_and_approves_its_digests_and_emails_the_summary(settings, tmp_path):
    settings.DEBUG = True
    settings.VAR_DIR = tmp_path
    mail.outbox = []
    out = io.StringIO()

    call_command("prepare_demo", submissions=120, weeks=3, stdout=out)
    again = io.StringIO()
    call_command("prepare_demo", submissions=120, weeks=3, stdout=again)

    assert Submission.objects.count() == 120, "a second run adds nothing"
    assert ThemeTag.objects.exists() and InboundMessage.objects.exists()
    digests = list(Digest.objects.order_by("period_start"))
    assert len(digests) == 2, "the three weeks up to now: two complete"
    assert {d.status for d in digests[:-1]} == {DigestStatus.APPROVED}
    assert digests[-1].status == DigestStatus.READY
    assert Subscription.objects.get(user__username="policy.demo").active
    summaries = [m for m in mail.outbox if m.to == ["policy.demo@example.nhs.uk"]]
    assert len(summaries) == 1, "one weekly summary, however often the demo is prepared"
    assert "username policy.demo" in out.getvalue() and "weekly digests compiled" in out.getvalue()
    password = (tmp_path / "demo-login.txt").read_text().strip()
    from django.contrib.auth import get_user_model

    assert get_user_model().objects.get(username="policy.demo").check_password(password)
