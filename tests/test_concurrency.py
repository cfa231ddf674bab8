import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from threading import Barrier

import pytest
from django.db import connection
from django.utils import timezone

from feedback import outbox, tasks
from feedback.models import Element, EmailStatus, OrganisationType, Region, Role, Submission, View

from .factories import AcknowledgementFactory, SubmissionFactory

pytestmark = [pytest.mark.postgresql, pytest.mark.django_db(transaction=True)]

FIELDS = {
    "role": Role.MANAGER,
    "organisation": "Eastgate Hospitals NHS Foundation Trust",
    "organisation_type": OrganisationType.FOUNDATION_TRUST,
    "region": Region.EAST_OF_ENGLAND,
    "email": "manager@example.nhs.uk",
}


def all_at_once(count: int, work):
    """Run `work` in `count` threads released together, each on its own database connection."""
    barrier = Barrier(count)

    def run(_):
        barrier.wait()
        try:
            return work()
        finally:
            connection.close()

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def test_the_same_token_sent_concurrently_makes_one_submission():
    token = uuid.uuid4()
    views = [{"element": Element.LEADERSHIP, "level": "", "text": "Boards should back clinical leaders."}]
    results = all_at_once(20, lambda: Submission.objects.record(token=token, views=views, **FIELDS))
    assert Submission.objects.count() == 1
    assert View.objects.count() == 1
    assert {submission.pk for submission, _ in results} == {Submission.objects.get().pk}
    assert sum(created for _, created in results) == 1


def test_eight_workers_given_the_same_email_send_it_once(mailoutbox):
    email = AcknowledgementFactory()
    outcomes = all_at_once(8, lambda: tasks.send_email_task(email.pk))
    assert sorted(outcome["sent"] for outcome in outcomes) == [0] * 7 + [1]
    email.refresh_from_db()
    assert email.status == EmailStatus.SENT
    assert len(mailoutbox) == 1


def test_the_same_week_compiled_concurrently_makes_one_digest():
    import time_machine

    from feedback import digests
    from feedback.models import Digest, DigestStatus
    from feedback.periods import Week

    week = Week.parse("2026-W47")
    SubmissionFactory.create_batch(5, received_at=week.start + timedelta(days=2))
    with time_machine.travel("2026-11-30 09:00 +0000"):
        results = all_at_once(6, lambda: digests.compile_digest(week=week))
    assert Digest.objects.count() == 1
    digest = Digest.objects.get()
    assert digest.status == DigestStatus.READY and digest.number == 1
    assert digest.content["headline"]["new"] == 5
    assert {result.pk for result in results} == {digest.pk}


def test_the_weekly_send_run_from_two_processes_at_once_sends_one_email_each(mailoutbox):
    import time_machine
    from django.contrib.auth.models import Permission, User

    from feedback import digests
    from feedback.models import EmailStatus, OutgoingEmail, Subscription
    from feedback.periods import Week

    week = Week.parse("2026-W47")
    users = [User.objects.create_user(f"sub{n}", email=f"sub{n}@example.nhs.uk", is_staff=True) for n in range(30)]
    reading = Permission.objects.get(content_type__app_label="feedback", codename="view_digest")
    for user in users:
        user.user_permissions.add(reading)
    Subscription.objects.bulk_create(Subscription(user=user) for user in users)
    with time_machine.travel("2026-11-23 08:00 +0000"):
        outbox.plan_weekly_emails(digest=digests.compile_digest(week=week))
        outcomes = all_at_once(2, lambda: outbox.send(batch_size=4))
    assert sum(outcome["sent"] for outcome in outcomes) == 30
    assert sorted(message.to[0] for message in mailoutbox) == sorted(user.email for user in users)
    assert OutgoingEmail.objects.filter(status=EmailStatus.SENT).count() == 30


def test_a_compile_left_by_a_worker_killed_mid_compile_is_taken_up_at_once():
    import time_machine

    from feedback import digests
    from feedback.models import Digest, DigestStatus
    from feedback.periods import Week

    week = Week.parse("2026-W47")
    SubmissionFactory.create_batch(3, received_at=week.start + timedelta(days=2))
    with time_machine.travel("2026-11-30 09:00 +0000"):
        # What a worker killed with kill -9 leaves: the claim committed, the
        # compile's transaction (and its row lock) gone with the connection.
        Digest.objects.create(
            period_start=week.start,
            period_end=week.end,
            status=DigestStatus.COMPILING,
            claimed_at=timezone.now(),
            attempts=1,
        )
        digest = digests.compile_digest(week=week)
    assert digest.status == DigestStatus.READY, "not left for half an hour"
    assert digest.content["headline"]["new"] == 3
    assert digest.attempts == 2


def test_a_compile_under_way_is_waited_for_and_never_repeated(monkeypatch):
    import time

    import time_machine

    from feedback import digests
    from feedback.models import Digest, DigestStatus
    from feedback.periods import Week

    build = digests.build_content

    def slowly(digest):
        time.sleep(1)
        return build(digest)

    monkeypatch.setattr(digests, "build_content", slowly)
    week = Week.parse("2026-W47")
    SubmissionFactory.create_batch(4, received_at=week.start + timedelta(days=2))
    with time_machine.travel("2026-11-30 09:00 +0000"):
        results = all_at_once(3, lambda: digests.compile_digest(week=week))
    # Every caller (the weekly send, `send_weekly_summary`, a redelivered
    # task) gets the compiled digest, not one still "compiling".
    assert [result.status for result in results] == [DigestStatus.READY] * 3
    assert Digest.objects.get().attempts == 1
