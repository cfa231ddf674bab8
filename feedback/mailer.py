"""
The SMTP mail backend: Django's, with connections that know whether a
message's last byte went out.

SMTP has no idempotency key. A connection lost, or a reply that never comes,
before the message's closing "." was sent means the server has nothing: the
email can be tried again. After it, the server may have accepted the message
and we cannot know: trying again could send it twice. The outbox leaves such
an email "sending", for a person to check and send again (feedback/outbox.py).
"""

import smtplib

from django.core.mail.backends import smtp


class _KnowsWhenMessageSent:
    message_sent = False

    def data(self, msg):
        self.message_sent = False
        return super().data(msg)

    def send(self, s):
        super().send(s)
        # data() sends the whole message, ending with CRLF "." CRLF, in one call; commands are text.
        if isinstance(s, bytes) and s.endswith(b"\r\n.\r\n"):
            self.message_sent = True


class SMTP(_KnowsWhenMessageSent, smtplib.SMTP):
    pass


class SMTPOverSSL(_KnowsWhenMessageSent, smtplib.SMTP_SSL):
    pass


class EmailBackend(smtp.EmailBackend):
    @property
    def connection_class(self):
        return SMTPOverSSL if self.use_ssl else SMTP

    @property
    def message_sent(self) -> bool:
        """Whether the last message's data all went out (whatever the reply, if any, said)."""
        return bool(getattr(self.connection, "message_sent", False))
