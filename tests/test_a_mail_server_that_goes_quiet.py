"""
A mail server that stops answering mid-conversation, over a real SMTP
connection on loopback. Before the message's last byte went out, the server
has nothing and the email is tried again later. After it, the server may
have accepted it: the email stays "sending" for a person to check, and is
never sent twice by itself. Either way the rest of the batch waits again.
"""

import asyncio
import socket
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from django.utils import timezone

from feedback import outbox
from feedback.models import EmailStatus, OutgoingEmail

from .factories import SubmissionFactory

pytestmark = pytest.mark.django_db

TIMEOUT_SECONDS = 1


class QuietServer:
    """Records each message it is given; goes quiet (longer than the client waits) at one step."""

    def __init__(self, quiet_at: str, after: int = 0):
        self.quiet_at, self.after = quiet_at, after
        self.received: list[str] = []
        self.recipients = 0

    async def handle_RCPT(self, server, session, envelope, address, options):
        self.recipients += 1
        if self.quiet_at == "recipient" and self.recipients > self.after:
            await asyncio.sleep(TIMEOUT_SECONDS * 3)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.received.extend(envelope.rcpt_tos)
        if self.quiet_at == "after the message":
            await asyncio.sleep(TIMEOUT_SECONDS * 3)
        return "250 OK"


def quiet_server(settings, quiet_at: str, after: int = 0, **options):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    handler = QuietServer(quiet_at, after)
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    settings.MAILERS = {
        "default": {
            "BACKEND": "feedback.mailer.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": TIMEOUT_SECONDS, **options},
        }
    }
    return handler, controller


def three_acknowledgements_due() -> list[OutgoingEmail]:
    for n in range(3):
        outbox.enqueue_acknowledgement(SubmissionFactory(email=f"respondent{n}@example.nhs.uk"))
    return list(OutgoingEmail.objects.order_by("pk"))


def test_silence_after_the_whole_message_went_leaves_it_sending_for_a_person_and_never_sends_it_twice(settings):
    server, controller = quiet_server(settings, "after the message")
    try:
        (first, *_) = three_acknowledgements_due()

        outcome = outbox.send(ids=[first.pk])
        later = timezone.now() + timedelta(days=2)
        again = outbox.send(ids=[first.pk], now=later)
    finally:
        controller.stop()

    assert outcome["unknown"] == 1
    first.refresh_from_db()
    assert first.status == EmailStatus.SENDING
    assert "may have it" in first.last_error and "Check before sending again" in first.last_error
    assert server.received.count("respondent0@example.nhs.uk") == 1
    # Nothing sends it again by itself, days later.
    assert sum(again.values()) == 0 and server.received.count("respondent0@example.nhs.uk") == 1
    assert OutgoingEmail.objects.filter(pk=first.pk, status=EmailStatus.SENDING).exists()
    # The admin lists it among the stuck once its claim is old.
    assert OutgoingEmail.objects.stuck(now=later).filter(pk=first.pk).exists()


def test_a_verdict_that_comes_late_but_within_the_reply_timeout_records_the_email_sent(settings):
    server, controller = quiet_server(settings, "after the message", reply_timeout=TIMEOUT_SECONDS * 6)
    try:
        first, second, _ = three_acknowledgements_due()
        outcome = outbox.send(ids=[first.pk, second.pk])
    finally:
        controller.stop()

    assert outcome["sent"] == 2 and outcome["unknown"] == 0
    assert set(OutgoingEmail.objects.filter(pk__in=[first.pk, second.pk]).values_list("status", flat=True)) == {
        EmailStatus.SENT
    }
    assert sorted(server.received) == ["respondent0@example.nhs.uk", "respondent1@example.nhs.uk"]


def test_the_rest_of_the_batch_waits_again_untried_when_the_server_goes_quiet(settings):
    _, controller = quiet_server(settings, "after the message")
    try:
        first, second, third = three_acknowledgements_due()
        outbox.send(batch_size=3, ids=[first.pk, second.pk, third.pk])
    finally:
        controller.stop()

    second.refresh_from_db()
    third.refresh_from_db()
    assert (second.status, second.attempts) == (EmailStatus.PENDING, 0)
    assert (third.status, third.attempts) == (EmailStatus.PENDING, 0)


def test_silence_before_the_message_went_is_tried_again_later(settings):
    server, controller = quiet_server(settings, "recipient")
    try:
        (first, *_) = three_acknowledgements_due()
        outcome = outbox.send(ids=[first.pk])
    finally:
        controller.stop()

    assert outcome["retry"] == 1 and outcome["unknown"] == 0
    first.refresh_from_db()
    assert first.status == EmailStatus.PENDING and first.next_attempt_at > timezone.now()
    assert server.received == []


def test_silence_before_the_second_message_went_is_tried_again_after_the_first_went(settings):
    server, controller = quiet_server(settings, "recipient", after=1)
    try:
        first, second, _ = three_acknowledgements_due()
        outcome = outbox.send(ids=[first.pk, second.pk])
    finally:
        controller.stop()

    assert (outcome["sent"], outcome["retry"], outcome["unknown"]) == (1, 1, 0)
    second.refresh_from_db()
    assert second.status == EmailStatus.PENDING
    assert server.received == ["respondent0@example.nhs.uk"]
