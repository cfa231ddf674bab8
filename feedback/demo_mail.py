"""
Realistic mail for the demo and the benchmark: views written as people email
them (a greeting, a few paragraphs, a signature), some as HTML, some with a
Word attachment, and the automatic mail a real mailbox also gets
(out-of-office replies, bounces, list mail). Drawn from a seeded generator,
with the same vocabulary as feedback.demo.
"""

import io
import random
import uuid
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from html import escape

from .demo import Generator, _one
from .demo_vocabulary import FIRST_NAMES, LAST_NAMES
from .models import Element, Role

SUBJECTS = [
    "QIPP challenge: views from {organisation}",
    "Response to the QIPP letter",
    "Our views on the QIPP challenge",
    "QIPP - comments on prioritisation and leadership",
    "Feedback on the QIPP challenge",
    "RE: Quality, innovation, productivity and prevention",
    "QIPP views ({organisation})",
    "Comments for the operating framework",
]
GREETINGS = ["Dear colleagues,", "Dear QIPP team,", "Hello,", "To the policy team,", "Dear Sir or Madam,", ""]
SIGN_OFFS = ["Kind regards,", "Best wishes,", "Regards,", "Many thanks,", "Yours faithfully,"]
WORD_NAMESPACE = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
MAILBOX = "qipp.views@example.nhs.uk"


def docx(paragraphs: list[str]) -> bytes:
    """A small Word document holding these paragraphs."""
    body = "".join(f"<w:p><w:r><w:t>{escape(paragraph)}</w:t></w:r></w:p>" for paragraph in paragraphs)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        archive.writestr(
            "word/document.xml",
            f'<?xml version="1.0"?><w:document xmlns:w="{WORD_NAMESPACE}"><w:body>{body}</w:body></w:document>',
        )
    return buffer.getvalue()


class MailGenerator:
    """`messages(count)` yields (raw bytes, arrival time): reproducible from the seed."""

    def __init__(self, *, seed: int, weeks: int, now: datetime):
        self.people = Generator(seed=seed, weeks=weeks, now=now, staff_ids=[], theme_ids={})
        self.rng = random.Random(f"{seed}:mail")  # noqa: S311 - demo data, reproducible
        self.now = now

    def messages(self, count: int) -> Iterator[tuple[bytes, datetime]]:
        people, rng = self.people, self.rng
        hours = rng.choices(range(len(people.hour_starts)), cum_weights=people.hour_cumulative, k=count)
        for turn, hour in enumerate(hours):
            arrived = datetime.fromtimestamp(people.hour_starts[hour] + rng.random() * 3600, UTC)
            arrived = min(arrived, self.now)
            roll = rng.random()
            if roll < 0.04:
                yield self._auto_reply(arrived), arrived
            elif roll < 0.05:
                yield self._bounce(arrived), arrived
            elif roll < 0.06:
                yield self._list_mail(arrived), arrived
            else:
                yield self._view(arrived, turn), arrived

    def _headers(self, message: EmailMessage, *, sender: str, subject: str, arrived: datetime, domain: str) -> None:
        sent = arrived - timedelta(seconds=5 + self.rng.random() * 120)
        message["Received"] = f"from mail.{domain} by mx.example.nhs.uk; {format_datetime(arrived)}"
        message["From"] = sender
        message["To"] = MAILBOX
        message["Subject"] = subject
        message["Date"] = format_datetime(sent)
        message["Message-ID"] = f"<{uuid.UUID(int=self.rng.getrandbits(128), version=4)}@{domain}>"

    def _view(self, arrived: datetime, turn: int) -> bytes:
        people, rng = self.people, self.rng
        who = people._respondent(people.rng, turn + 1000)
        name = who["name"] or f"{_one(rng, FIRST_NAMES)} {_one(rng, LAST_NAMES)}"
        address = who["email"] or name.lower().replace(" ", ".").replace("'", "") + "@example.nhs.uk"
        domain = address.rsplit("@", 1)[1]
        paragraphs = []
        for element in people._elements(people.rng, turn + 1000):
            level = people.levels.pick(people.rng) if element == Element.PRIORITISATION else ""
            text, _ = people._text(people.rng, element, level)
            paragraphs.append(text)
        greeting = _one(rng, GREETINGS)
        signature = [_one(rng, SIGN_OFFS), name, Role(who["role"]).label, who["organisation"]]
        body = "\n\n".join(filter(None, [greeting, *paragraphs, "\n".join(signature)]))
        message = EmailMessage()
        subject = _one(rng, SUBJECTS).format(organisation=who["organisation"])
        self._headers(message, sender=f"{name} <{address}>", subject=subject, arrived=arrived, domain=domain)
        roll = rng.random()
        if roll < 0.06:
            # The response itself in a Word document, with a covering note.
            message.set_content(f"{greeting}\n\nPlease find our response attached.\n\n" + "\n".join(signature))
            message.add_attachment(
                docx(paragraphs),
                maintype="application",
                subtype="vnd.openxmlformats-officedocument.wordprocessingml.document",
                filename=f"QIPP response - {who['organisation'][:60]}.docx",
            )
        else:
            message.set_content(body)
            if roll < 0.3:
                html = "".join(f"<p>{escape(part).replace(chr(10), '<br>')}</p>" for part in body.split("\n\n"))
                message.add_alternative(f"<html><body>{html}</body></html>", subtype="html")
        return message.as_bytes()

    def _auto_reply(self, arrived: datetime) -> bytes:
        rng = self.rng
        name = f"{_one(rng, FIRST_NAMES)} {_one(rng, LAST_NAMES)}"
        message = EmailMessage()
        self._headers(
            message,
            sender=f"{name} <{name.lower().replace(' ', '.')}@example.nhs.uk>",
            subject="Automatic reply: QIPP challenge feedback: weekly summary",
            arrived=arrived,
            domain="example.nhs.uk",
        )
        message["Auto-Submitted"] = "auto-replied"
        message.set_content(f"I am out of the office until Monday with limited access to email.\n\n{name}")
        return message.as_bytes()

    def _bounce(self, arrived: datetime) -> bytes:
        message = EmailMessage()
        self._headers(
            message,
            sender="Mail Delivery System <MAILER-DAEMON@example.org>",
            subject="Undelivered Mail Returned to Sender",
            arrived=arrived,
            domain="example.org",
        )
        message.set_content("This is the mail system. Your message could not be delivered to one or more recipients.")
        return message.as_bytes()

    def _list_mail(self, arrived: datetime) -> bytes:
        message = EmailMessage()
        self._headers(
            message,
            sender="Health Policy Digest <news@lists.example.org>",
            subject="This week in health policy",
            arrived=arrived,
            domain="lists.example.org",
        )
        message["List-Id"] = "Health Policy Digest <digest.lists.example.org>"
        message["Precedence"] = "bulk"
        message.set_content("The week's news in health policy. Unsubscribe at any time.")
        return message.as_bytes()
