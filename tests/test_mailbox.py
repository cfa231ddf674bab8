"""The mailbox poll against a real IMAP server (Dovecot): new mail becomes rows once, and nothing is lost."""

from unittest import mock

import pytest

from feedback import mailbox
from feedback.mailbox import MailboxUnavailable, poll
from feedback.models import InboundMessage, MailboxState, MessageOrigin, MessageStatus

from .mail_samples import email

pytestmark = pytest.mark.django_db(transaction=True)


def views(count: int, start: int = 0) -> list[bytes]:
    return [
        email(message_id=f"<imap-{n}@example.nhs.uk>", subject=f"View {n}", text=f"The text of view {n}.")
        for n in range(start, start + count)
    ]


def test_new_mail_becomes_rows_and_moves_to_processed(imap_server):
    imap_server.append(*views(3), email(headers={"Auto-Submitted": "auto-replied"}))

    counts = poll(imap_server.url)

    assert (counts["new"], counts["ignored"], counts["moved"]) == (3, 1, 4)
    assert set(InboundMessage.objects.values_list("subject", flat=True)) >= {"View 0", "View 1", "View 2"}
    assert InboundMessage.objects.filter(origin=MessageOrigin.MAILBOX).count() == 4
    assert imap_server.count("INBOX") == 0
    assert imap_server.count(mailbox.PROCESSED) == 4


def test_a_second_poll_adds_nothing(imap_server):
    imap_server.append(*views(2))
    poll(imap_server.url)

    counts = poll(imap_server.url)

    assert counts["new"] == 0
    assert InboundMessage.objects.count() == 2


def test_mail_that_arrives_later_is_read_by_the_next_poll(imap_server):
    imap_server.append(*views(2))
    poll(imap_server.url)
    imap_server.append(*views(2, start=2))

    counts = poll(imap_server.url)

    assert counts["new"] == 2
    assert InboundMessage.objects.count() == 4
    state = MailboxState.objects.get()
    assert state.polled_at is not None and state.last_error == ""


def test_a_crash_before_the_move_costs_a_re_read_never_a_loss_or_a_duplicate(imap_server):
    imap_server.append(*views(3))
    with (
        mock.patch.object(mailbox, "_move", side_effect=ConnectionResetError("connection lost")),
        pytest.raises(MailboxUnavailable),
    ):
        poll(imap_server.url)
    assert imap_server.count("INBOX") == 3

    counts = poll(imap_server.url)

    assert InboundMessage.objects.count() == 3
    assert counts["moved"] == 3
    assert imap_server.count("INBOX") == 0


def test_a_crash_before_the_commit_loses_nothing(imap_server):
    imap_server.append(*views(3))
    real_store = mailbox.store
    calls = []

    def store_then_crash(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise ConnectionResetError("the worker died mid-poll")
        return real_store(*args, **kwargs)

    with mock.patch.object(mailbox, "store", side_effect=store_then_crash), pytest.raises(MailboxUnavailable):
        poll(imap_server.url)
    assert InboundMessage.objects.count() == 1

    poll(imap_server.url)

    assert InboundMessage.objects.count() == 3
    assert imap_server.count("INBOX") == 0


def test_the_server_restarted_mid_poll_loses_nothing_and_duplicates_nothing(imap_server, monkeypatch):
    monkeypatch.setattr(mailbox, "FETCH_MESSAGES", 1)
    imap_server.append(*views(4))
    real_store = mailbox.store
    calls = []

    def store_then_restart(*args, **kwargs):
        result = real_store(*args, **kwargs)
        calls.append(1)
        if len(calls) == 2:
            imap_server.stop()
        return result

    with mock.patch.object(mailbox, "store", side_effect=store_then_restart), pytest.raises(MailboxUnavailable):
        poll(imap_server.url)
    assert MailboxState.objects.get().last_error
    imap_server.start()

    poll(imap_server.url)

    assert InboundMessage.objects.count() == 4
    assert sorted(InboundMessage.objects.values_list("subject", flat=True)) == [f"View {n}" for n in range(4)]
    assert imap_server.count("INBOX") == 0
    assert imap_server.count(mailbox.PROCESSED) == 4


def test_a_new_uidvalidity_reads_the_folder_again_without_duplicates(imap_server):
    imap_server.append(*views(2))
    poll(imap_server.url)
    first_validity = MailboxState.objects.get().uidvalidity
    # The same two messages put back (a mailbox restored from a backup), then a new one.
    imap_server.append(*views(2))
    imap_server.reset_uidvalidity()
    imap_server.append(*views(1, start=2))

    counts = poll(imap_server.url)

    state = MailboxState.objects.get()
    assert state.uidvalidity != first_validity
    assert (counts["new"], counts["already_had"]) == (1, 2)
    assert InboundMessage.objects.count() == 3


def test_an_unreachable_server_is_recorded_and_the_next_poll_tries_again(imap_server):
    imap_server.stop()

    with pytest.raises(MailboxUnavailable):
        poll(imap_server.url)

    state = MailboxState.objects.get()
    assert state.last_error
    assert state.leased_until is None


def test_a_hostile_message_in_the_mailbox_never_stops_the_poll(imap_server):
    imap_server.append(views(1)[0], b"Subject: no body at all", *views(1, start=1))

    poll(imap_server.url)

    assert InboundMessage.objects.count() == 3
    assert InboundMessage.objects.filter(status=MessageStatus.TO_SORT).count() >= 2


def test_the_mailbox_is_off_when_no_address_is_set(settings):
    settings.MAILBOX_URL = ""

    assert poll() == {"mailbox": "off"}
