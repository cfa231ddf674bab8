"""
The SMTP mail backend: Django's, with connections that know whether a
message's last byte went out, and wait longer for the server's verdict on a
message than for anything else.

SMTP has no idempotency key. A connection lost, or a reply that never comes,
before the message's closing "." was sent means the server has nothing: the
email can be tried again. After it, the server may have accepted the message
and we cannot know: trying again could send it twice. The outbox leaves such
an email "sending", for a person to check and send again (feedback/outbox.py).
So the wait for that verdict is long (`reply_timeout`; RFC 5321 suggests up to
ten minutes): a network that blinks for less leaves nothing in doubt.
"""

import smtplib

from django.core.mail.backends import smtp


class _KnowsWhenMessageSent:
    message_sent = False
    reply_timeout: float | None = None

    def sendmail(self, *args, **kwargs):
        # Each message starts unsent, whatever happened to the one before on this connection.
        self.message_sent = False
        return super().sendmail(*args, **kwargs)

    def data(self, msg):
        try:
            return super().data(msg)
        finally:
            if self.sock is not None:
                # Back to the connection's own timeout (smtplib's default is a marker, meaning none).
                self.sock.settimeout(self.timeout if isinstance(self.timeout, int | float) else None)

    def send(self, s):
        super().send(s)
        # data() sends the whole message, ending with CRLF "." CRLF, in one call; commands are text.
        if isinstance(s, bytes) and s.endswith(b"\r\n.\r\n"):
            self.message_sent = True
            if self.reply_timeout and self.sock is not None:
                self.sock.settimeout(self.reply_timeout)


class SMTP(_KnowsWhenMessageSent, smtplib.SMTP):
    pass


class SMTPOverSSL(_KnowsWhenMessageSent, smtplib.SMTP_SSL):
    pass


class EmailBackend(smtp.EmailBackend):
    def __init__(self, *args, reply_timeout: float | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.reply_timeout = reply_timeout

    @property
    def connection_class(self):
        return SMTPOverSSL if self.use_ssl else SMTP

    def open(self):
        opened = super().open()
        if self.connection is not None:
            self.connection.reply_timeout = self.reply_timeout
        return opened

    @property
    def message_sent(self) -> bool:
        """Whether the last message's data all went out (whatever the reply, if any, said)."""
        return bool(getattr(self.connection, "message_sent", False))
