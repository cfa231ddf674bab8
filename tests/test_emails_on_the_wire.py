"""
Every kind of email as it leaves: sent through the outbox to a real SMTP
server on loopback (aiosmtpd), and read back from the bytes it received.
Headers are where mail clients disagree, so they are checked as sent.
"""

import email
import email.policy
import socket
from datetime import timedelta

import pytest
import time_machine
from aiosmtpd.controller import Controller
from django.contrib.auth.models import Permission, User
from django.utils import timezone

from feedback import digests, outbox, resume, sorting
from feedback.mail import store
from feedback.models import (
    KEPT_FOR,
    NOT_KNOWN,
    Element,
    EmailKind,
    Export,
    ExportStatus,
    MessageOrigin,
    OutgoingEmail,
    SavedDraft,
    Subscription,
)
from feedback.periods import Week

from . import mail_samples
from .factories import SubmissionFactory

pytestmark = pytest.mark.django_db

W47 = Week.parse("2026-W47")


class Sink:
    def __init__(self):
        self.received: list[bytes] = []

    async def handle_DATA(self, server, session, envelope):
        self.received.append(envelope.original_content)
        return "250 OK"


@pytest.fixture
def sink(settings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    handler = Sink()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    settings.MAILERS = {
        "default": {
            "BACKEND": "feedback.mailer.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 10},
        }
    }
    yield handler
    controller.stop()


@pytest.fixture
def one_of_each_kind():
    """
    An acknowledgement, a weekly summary, a password link, an account notice,
    a reply to mail, an export's link, a link to saved answers and the news of
    what was done with the views, all waiting.
    """
    submission = SubmissionFactory(
        email="priya@example.nhs.uk",
        received_at=W47.start + timedelta(days=1),
        views=[{"element": Element.LEADERSHIP, "text": "Boards should back clinical leaders."}],
    )
    outbox.enqueue_acknowledgement(submission)
    reader = User.objects.create_user(
        "a.reader.with.a.rather.long.username.for.the.unsubscribe.link",
        email="reader@example.nhs.uk",
        is_staff=True,
    )
    reader.user_permissions.add(Permission.objects.get(codename="view_digest"))
    Subscription.objects.create(user=reader)
    with time_machine.travel(W47.end + timedelta(hours=9)):
        outbox.plan_weekly_emails(digest=digests.compile_digest(week=W47))
    colleague = User.objects.create_user("colleague", email="colleague@example.nhs.uk", is_staff=True)
    outbox.enqueue_password_link(colleague, new_account=True)
    outbox.enqueue_account_change(colleague, change="your password was changed")
    message, _ = store(mail_samples.email(sender="Amina <amina@example.nhs.uk>"), origin=MessageOrigin.MAILBOX)
    about = {"role": NOT_KNOWN, "organisation_type": NOT_KNOWN, "region": NOT_KNOWN, "organisation": ""}
    views = [{"element": Element.ENGAGEMENT, "level": "", "text": "Talk to staff first."}]
    sorting.sort_message(message, by=colleague, about=about, views=views)
    lead = User.objects.create_user("lead", email="lead@example.nhs.uk", is_staff=True)
    made = timezone.now()
    export = Export.objects.create(
        requested_by=lead,
        file_format="csv",
        status=ExportStatus.READY,
        rows_expected=12_000,
        rows_written=12_000,
        file="made.csv",
        finished_at=made,
        expires_at=made + KEPT_FOR,
    )
    outbox.enqueue(
        EmailKind.EXPORT_READY,
        key=f"export:{export.pk}",
        recipient=lead.email,
        user=lead,
        context={"export": str(export.pk)},
    )
    saved = SavedDraft(email="saver@example.nhs.uk", data={"token": "unused", "views": []})
    saved.keep()
    saved.save()
    resume.ask_for_links(saved.email)
    OutgoingEmail.objects.create(kind=EmailKind.OUTCOME, key="outcome:one", recipient="told@example.nhs.uk")


def received(sink) -> dict[str, tuple[bytes, email.message.EmailMessage]]:
    messages = {}
    for raw in sink.received:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        messages[message["To"]] = (raw, message)
    return messages


def test_every_kind_of_email_arrives_once_with_the_headers_mail_clients_need(sink, one_of_each_kind):
    assert outbox.send()["sent"] == len(EmailKind.values)
    recipients = sorted(email.message_from_bytes(raw, policy=email.policy.default)["To"] for raw in sink.received)
    assert recipients == [
        "amina@example.nhs.uk",
        "colleague@example.nhs.uk",
        "colleague@example.nhs.uk",
        "lead@example.nhs.uk",
        "priya@example.nhs.uk",
        "reader@example.nhs.uk",
        "saver@example.nhs.uk",
        "told@example.nhs.uk",
    ]
    for raw in sink.received:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        # RFC 3834: out-of-office replies are not sent back to automatic mail.
        expected = "auto-replied" if message["To"] == "amina@example.nhs.uk" else "auto-generated"
        assert message["Auto-Submitted"] == expected
        assert message["Message-ID"].endswith("@qipp.example.nhs.uk>"), message["Message-ID"]
        assert message.get_content_type() == "multipart/alternative"
        assert {part.get_content_type() for part in message.iter_parts()} == {"text/plain", "text/html"}


def test_the_weekly_emails_unsubscribe_header_is_one_plain_address_a_mail_client_can_use(sink, one_of_each_kind):
    outbox.send()
    raw, message = received(sink)["reader@example.nhs.uk"]
    headers = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    line = next(line for line in headers.split("\r\n") if line.startswith("List-Unsubscribe:"))
    address = line.removeprefix("List-Unsubscribe: ")
    assert address.startswith("<https://qipp.example.nhs.uk/email/unsubscribe/") and address.endswith("/>")
    assert "=?" not in address, "never an RFC 2047 encoded word"
    assert len(line) > 78, "long enough that ordinary folding would have broken it"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert address[1:-1] in message.get_body(("plain",)).get_content()
