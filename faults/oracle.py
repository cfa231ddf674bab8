"""
The oracle: what must hold after every fault, read from the suite's database
and its SMTP sink.

- Every accepted one-time token exists exactly once.
- Every acknowledgement due is sent, exactly once, and nothing is left
  waiting or half-sent once the sweeper has had its turn.
- At most (and, once the run settles, exactly) one weekly email per
  subscriber per week.
"""

import re
from collections import Counter

from django.db import close_old_connections

from .load import Outcome

ACK_SUBJECT = "Your views on the QIPP challenge have been received"
WEEK_IN_SUBJECT = re.compile(r"week (\d{4}-W\d\d)")


def _fresh() -> None:
    # The suite's own connection may have died with a PostgreSQL restart.
    close_old_connections()
    from django.db import connection

    connection.close()


def tokens(outcomes: list[Outcome]) -> dict:
    """Accepted tokens against the rows: each accepted token must have exactly one submission."""
    from feedback.models import Submission

    _fresh()
    accepted = [outcome.token for outcome in outcomes if outcome.accepted]
    counts = Counter(
        str(token) for token in Submission.objects.filter(token__in=accepted).values_list("token", flat=True)
    )
    return {
        "accepted": len(accepted),
        "accepted twice by the client": len(accepted) - len(set(accepted)),
        "accepted without a row": sum(1 for token in set(accepted) if counts[token] == 0),
        "accepted with more than one row": sum(1 for token in set(accepted) if counts[token] > 1),
        "rows": Submission.objects.count(),
    }


def _acknowledgements():
    from feedback.models import EmailKind, OutgoingEmail

    return OutgoingEmail.objects.filter(kind=EmailKind.ACKNOWLEDGEMENT)


def acknowledgement_states() -> Counter:
    _fresh()
    return Counter(_acknowledgements().values_list("status", flat=True))


def acknowledgements_settled() -> bool:
    from feedback.models import EmailStatus

    states = acknowledgement_states()
    return states[EmailStatus.PENDING] == 0 and states[EmailStatus.SENDING] == 0


def acknowledgements(sink_messages) -> dict:
    """Every submission with an email address against the acknowledgements the sink received."""
    from feedback.models import EmailKind, EmailStatus, Submission

    _fresh()
    received = Counter(message.to for message in sink_messages if message.subject.startswith(ACK_SUBJECT))
    ids = {message.message_id for message in sink_messages if message.subject.startswith(ACK_SUBJECT)}
    rows = list(_acknowledgements().values_list("recipient", "status", "message_id", "attempts"))
    states = Counter(status for _, status, _, _ in rows)
    with_email = Submission.objects.exclude(email="")
    return {
        "due": with_email.count(),
        "with no row in the outbox": with_email.exclude(emails__kind=EmailKind.ACKNOWLEDGEMENT).count(),
        "sent": states[EmailStatus.SENT],
        "still waiting": states[EmailStatus.PENDING],
        "left half-sent": states[EmailStatus.SENDING],
        "failed": states[EmailStatus.FAILED],
        "received by the sink": sum(received.values()),
        "received twice or more": sum(1 for email, _, _, _ in rows if received[email.lower()] > 1),
        "never received": sum(1 for email, _, _, _ in rows if received[email.lower()] == 0),
        "recorded Message-ID not received": sum(1 for _, _, mid, _ in rows if mid and mid not in ids),
        "most attempts at one": max((attempts for *_, attempts in rows), default=0),
    }


def acknowledgements_problems(report: dict) -> list[str]:
    problems = []
    keys = ("with no row in the outbox", "still waiting", "left half-sent", "failed", "received twice or more")
    for key in (*keys, "never received"):
        if report[key]:
            problems.append(f"acknowledgements {key}: {report[key]}")
    if report["recorded Message-ID not received"]:
        problems.append(f"acknowledgements recorded but not received: {report['recorded Message-ID not received']}")
    return problems


def weekly(sink_messages, *, weeks: list[str] | None = None) -> dict:
    """Weekly emails per subscriber and week, from the sink, against the subscribers and the send rows."""
    from feedback.models import EmailKind, EmailStatus, OutgoingEmail, Subscription

    _fresh()
    per = Counter()
    for message in sink_messages:
        found = WEEK_IN_SUBJECT.search(message.subject)
        if found and not message.subject.startswith(ACK_SUBJECT):
            per[(message.to, found.group(1))] += 1
    subscribers = [email.lower() for email in Subscription.objects.values_list("user__email", flat=True)]
    weeks = weeks if weeks is not None else sorted({week for _, week in per})
    expected = {(subscriber, week) for subscriber in subscribers for week in weeks}
    rows = Counter(OutgoingEmail.objects.filter(kind=EmailKind.WEEKLY_SUMMARY).values_list("status", flat=True))
    return {
        "subscribers": len(subscribers),
        "weeks": len(weeks),
        "emails expected": len(expected),
        "emails received": sum(per.values()),
        "subscriber-weeks with two or more": sum(1 for count in per.values() if count > 1),
        "subscriber-weeks with none": sum(1 for key in expected if per[key] == 0),
        "send rows sent": rows[EmailStatus.SENT],
        "send rows waiting": rows[EmailStatus.PENDING],
        "send rows left half-sent": rows[EmailStatus.SENDING],
        "send rows failed": rows[EmailStatus.FAILED],
    }


def weekly_problems(report: dict) -> list[str]:
    return [
        f"weekly emails: {key}: {report[key]}"
        for key in (
            "subscriber-weeks with two or more",
            "subscriber-weeks with none",
            "send rows waiting",
            "send rows left half-sent",
            "send rows failed",
        )
        if report[key]
    ]


def weekly_settled() -> bool:
    from feedback.models import EmailKind, EmailStatus, OutgoingEmail

    _fresh()
    waiting = OutgoingEmail.objects.filter(status__in=[EmailStatus.PENDING, EmailStatus.SENDING])
    return not waiting.filter(kind=EmailKind.WEEKLY_SUMMARY).exists()


def seed_week(week, count: int) -> None:
    """`count` submissions received during `week` (without email addresses), for its digest to count."""
    import uuid
    from datetime import timedelta

    from feedback.models import Submission

    from .load import VIEWS

    _fresh()
    for n in range(count):
        Submission.objects.record(
            token=uuid.uuid4(),
            views=[{"element": view["element"], "level": view["level"], "text": view["text"]} for view in VIEWS],
            received_at=week.start + timedelta(minutes=n * 7 % (7 * 24 * 60)),
            role="manager",
            organisation="Westbrook Primary Care Trust",
            organisation_type="pct",
            region="north_west",
            consent_to_quote=n % 2 == 0,
        )


def subscribers(count: int, *, prefix: str = "subscriber") -> list[str]:
    """`count` staff subscribed to the weekly summary, all elements."""
    from django.contrib.auth.models import Group, User

    from feedback.models import Subscription

    _fresh()
    users = User.objects.bulk_create(
        User(username=f"{prefix}.{n}", email=f"{prefix}.{n}@example.nhs.uk", is_staff=True) for n in range(count)
    )
    Subscription.objects.bulk_create(Subscription(user=user, active=True) for user in users)
    # The weekly email goes only to those who may read digests.
    readers = Group.objects.get(name="Digest readers")
    User.groups.through.objects.bulk_create(User.groups.through(user=user, group=readers) for user in users)
    return [user.email for user in users]
