"""
Moving to one outbox: acknowledgements kept on submissions and weekly sends
kept in their own table become outbox rows with the state they had.
"""

from datetime import UTC, datetime

import pytest

from .migrating import latest, migrate

BEFORE = [("feedback", "0010_security_roles")]
AFTER = [("feedback", "0011_outbox")]


@pytest.mark.django_db(transaction=True)
def test_acknowledgements_and_weekly_sends_move_into_the_outbox_keeping_their_state():
    newest = latest()
    apps = migrate(BEFORE)
    try:
        Submission = apps.get_model("feedback", "Submission")
        Digest = apps.get_model("feedback", "Digest")
        WeeklySend = apps.get_model("feedback", "WeeklySend")
        User = apps.get_model("auth", "User")
        common = {"role": "doctor", "organisation": "Northfield", "organisation_type": "pct", "region": "london"}
        sent = Submission.objects.create(
            reference="222-222-222", email="a@example.nhs.uk", ack_status="sent", ack_attempts=1,
            ack_message_id="<1@qipp.example.nhs.uk>", **common,
        )  # fmt: skip
        sending = Submission.objects.create(
            reference="333-333-333", email="b@example.nhs.uk", ack_status="sending", ack_attempts=2, **common
        )
        Submission.objects.create(reference="444-444-444", email="", ack_status="not_needed", **common)
        # Monday 16 November 2026 00:00 London is 00:00 UTC; 22 June 2026 00:00 London is 21 June 23:00 UTC.
        winter = Digest.objects.create(
            period_start=datetime(2026, 11, 16, tzinfo=UTC), period_end=datetime(2026, 11, 23, tzinfo=UTC)
        )
        summer = Digest.objects.create(
            period_start=datetime(2026, 6, 21, 23, tzinfo=UTC), period_end=datetime(2026, 6, 28, 23, tzinfo=UTC)
        )
        reader = User.objects.create(username="reader", email="reader@example.nhs.uk", is_staff=True)
        WeeklySend.objects.create(user=reader, period_start=winter.period_start, status="failed", attempts=12)
        WeeklySend.objects.create(user=reader, period_start=summer.period_start, status="pending")

        apps = migrate(AFTER)
        OutgoingEmail = apps.get_model("feedback", "OutgoingEmail")
        rows = {
            row.key: (row.kind, row.recipient, row.status, row.attempts)
            for row in OutgoingEmail.objects.order_by("key")
        }
        assert rows == {
            f"ack:{sent.pk}": ("acknowledgement", "a@example.nhs.uk", "sent", 1),
            f"ack:{sending.pk}": ("acknowledgement", "b@example.nhs.uk", "sending", 2),
            f"weekly:{reader.pk}:2026-W47": ("weekly_summary", "reader@example.nhs.uk", "failed", 12),
            f"weekly:{reader.pk}:2026-W26": ("weekly_summary", "reader@example.nhs.uk", "pending", 0),
        }
        assert OutgoingEmail.objects.get(key=f"ack:{sent.pk}").message_id == "<1@qipp.example.nhs.uk>"
        assert OutgoingEmail.objects.get(key=f"weekly:{reader.pk}:2026-W26").digest_id == summer.pk
    finally:
        migrate(newest)
