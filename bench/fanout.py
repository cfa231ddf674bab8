"""
The weekly email fan-out: 1,000 subscribers sent last week's summary through
feedback.emails (send rows planned, claimed in batches, one SMTP connection a
batch, each row marked sent), against plain Django building and sending the
same 1,000 messages (the same subject and bodies) over one connection. Both
go to a local SMTP sink (aiosmtpd) on a free loopback port, started and
stopped here.
"""

import socket
import tracemalloc
from contextlib import contextmanager

from harness import Result, alternate, at_most, median

SUBSCRIBERS = 1000


class CountingHandler:
    def __init__(self):
        self.messages = 0

    async def handle_DATA(self, server, session, envelope):
        self.messages += 1
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def smtp_sink():
    from aiosmtpd.controller import Controller

    handler = CountingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller, handler
    finally:
        controller.stop()


def _subscribers() -> None:
    from django.contrib.auth.models import Group, User

    from feedback.models import Subscription

    users = User.objects.bulk_create(
        User(username=f"bench.subscriber.{n}", email=f"subscriber{n}@example.nhs.uk", is_staff=True)
        for n in range(SUBSCRIBERS)
    )
    Subscription.objects.bulk_create(Subscription(user=user, active=True) for user in users)
    # The weekly email goes only to those who may read digests.
    readers = Group.objects.get(name="Digest readers")
    User.groups.through.objects.bulk_create(User.groups.through(user=user, group=readers) for user in users)


def _plain_django(digest) -> None:
    from django.conf import settings
    from django.core import mail
    from django.core.mail import EmailMultiAlternatives
    from django.template.loader import render_to_string

    from feedback import emails
    from feedback.models import Element

    context = emails.weekly_summary_context(
        digest=digest, codes=list(Element.values), unsubscribe_url="https://example.nhs.uk/unsubscribe/"
    )
    context["subject_prefix"] = settings.QIPP_WEEKLY_EMAIL_SUBJECT
    subject = " ".join(render_to_string("emails/weekly-summary-subject.txt", context).split())
    text = render_to_string("emails/weekly-summary-body.txt", context)
    html = render_to_string("emails/weekly-summary-body.html", context)
    messages = []
    for n in range(SUBSCRIBERS):
        message = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, [f"subscriber{n}@example.nhs.uk"])
        message.attach_alternative(html, "text/html")
        messages.append(message)
    # Django's own SMTP backend: the ceiling knows nothing of the portal's.
    connection = mail.mailers["plain"]
    connection.open()
    connection.send_messages(messages)
    connection.close()


def _portal(digest) -> None:
    from feedback import outbox
    from feedback.models import OutgoingEmail

    OutgoingEmail.objects.all().delete()
    outbox.plan_weekly_emails(digest=digest)
    outcomes = outbox.send()
    assert outcomes["sent"] == SUBSCRIBERS, outcomes


def measure(*, rounds: int) -> Result:
    from django.conf import settings

    from feedback import digests, outbox

    week = outbox.weekly_week_due()
    digest = digests.compile_digest(week=week)
    _subscribers()
    with smtp_sink() as (controller, handler):
        settings.MAILERS = {
            "default": {
                "BACKEND": "feedback.mailer.EmailBackend",
                "OPTIONS": {"host": "127.0.0.1", "port": controller.port, "timeout": 10},
            },
            "plain": {
                "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "OPTIONS": {"host": "127.0.0.1", "port": controller.port, "timeout": 10},
            },
        }
        _plain_django(digest)
        _portal(digest)
        ceilings, portals = alternate(rounds, lambda: _plain_django(digest), lambda: _portal(digest))
        tracemalloc.start()
        _portal(digest)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        received = handler.messages
    ceiling, portal = median(ceilings) / SUBSCRIBERS, median(portals) / SUBSCRIBERS
    return at_most(
        2,
        measure=f"weekly email fan-out, {SUBSCRIBERS:,} subscribers, per email",
        unit="s",
        ceiling=ceiling,
        portal=portal,
        notes={
            "emails a second (plain Django, portal)": f"{1 / ceiling:,.0f}, {1 / portal:,.0f}",
            "batch (one SMTP connection each)": settings.QIPP_EMAIL_BATCH,
            "peak Python memory of a fan-out": f"{peak / 1024:,.0f} KiB",
            "messages the sink received": f"{received:,}",
        },
    )
