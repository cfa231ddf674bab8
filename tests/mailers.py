"""An email backend for tests that fails the way a mail server can."""

import smtplib

from django.core.mail.backends.locmem import EmailBackend as LocmemBackend


class FlakyBackend(LocmemBackend):
    """
    Raises `failure` (when set) instead of sending, and refuses connections
    while `down`, like a mail server that is off; otherwise behaves like locmem.
    """

    failure: Exception | None = None
    down = False
    attempts = 0
    connections = 0

    def open(self):
        FlakyBackend.connections += 1
        if FlakyBackend.down:
            raise SERVER_DOWN
        return super().open()

    def send_messages(self, messages):
        FlakyBackend.attempts += 1
        if FlakyBackend.failure is not None:
            raise FlakyBackend.failure
        return super().send_messages(messages)


SERVER_DOWN = ConnectionRefusedError(111, "Connection refused")
MAILBOX_FULL = smtplib.SMTPDataError(452, b"4.2.2 Mailbox full, try later")
NO_SUCH_USER = smtplib.SMTPRecipientsRefused({"x@example.nhs.uk": (550, b"5.1.1 No such user")})
