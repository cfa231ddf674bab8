"""
Reading an email into an InboundMessage: the same for the mailbox and the backlog.

`store(raw, origin=...)` keeps the raw message whatever happens, once per
Message-ID (or per hash of the bytes when there is none). It reads the
sender, subject, dates, the text (plain part preferred, HTML turned into
text) and the attachments' text, and decides whether the message is a view to
sort, automatic mail to ignore, or something the parser could not read
(quarantined with the error). Hostile mail is bounded everywhere: parts,
nesting depth, attachment size, extracted text, and PDF pages and time (PDFs
are read in a separate process with memory and CPU limits).
"""

import hashlib
import io
import logging
import re
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes
from email.header import decode_header, make_header
from email.message import Message
from email.policy import compat32
from email.utils import parseaddr, parsedate_to_datetime
from html.parser import HTMLParser
from pathlib import Path
from xml.etree import ElementTree

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from .models import Attachment, InboundMessage, MessageOrigin, MessageStatus

logger = logging.getLogger(__name__)

MAX_PARTS = 500
MAX_DEPTH = 20
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
MAX_TEXT_CHARACTERS = 200_000
MAX_PDF_PAGES = 50
PDF_SECONDS = 20
PDF_MEMORY_BYTES = 768 * 1024 * 1024
# A .docx is a zip: its text is read a chunk at a time and no further than
# this, however far the archive claims (or really would) inflate.
MAX_DOCX_XML_BYTES = 20 * 1024 * 1024
READ_TYPES = (".docx", ".pdf", ".txt", ".msg", ".eml")

CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
LINE_BREAKS = re.compile(r"\s+")
AUTO_REPLY_SUBJECT = re.compile(
    r"^\s*(out of (the )?office|automatic reply|auto[- ]?reply|autoreply|auto:|away from the office)", re.I
)
BULK_PRECEDENCE = {"bulk", "list", "junk"}


# --- Text that is safe to store and show ---------------------------------------


def clean_text(text: str) -> str:
    """Text PostgreSQL can hold and nobody is surprised by: no NULs or control characters, no lone surrogates."""
    try:
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def clean_line(text: str, limit: int) -> str:
    """A header value on one line: line breaks (an injected header) become spaces."""
    return LINE_BREAKS.sub(" ", clean_text(text)).strip()[:limit]


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Bytes in a declared charset, which may be wrong, unknown or missing."""
    for candidate in (charset, "utf-8"):
        if not candidate:
            continue
        try:
            return data.decode(candidate)
        except (LookupError, UnicodeDecodeError, ValueError):
            continue
    return data.decode("cp1252", "replace")


def decoded(text: str) -> str:
    """Text with its RFC 2047 encoded words decoded; as it stands when they are broken."""
    try:
        return str(make_header(decode_header(text)))
    except Exception:  # noqa: BLE001 - a broken encoded word still leaves the raw text
        return text


def header(message: Message, name: str, limit: int = 998) -> str:
    """A header decoded from its encoded words, on one line; "" when absent."""
    value = message.get(name)
    return "" if value is None else clean_line(decoded(str(value)), limit)


class _TextFromHTML(HTMLParser):
    """The words of an HTML body, a line per block: nothing of it is ever rendered."""

    BLOCKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table", "hr"}
    SKIPPED = {"script", "style", "head", "title"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIPPED:
            self.skipping += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in self.SKIPPED:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self.skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _TextFromHTML()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def tidy(text: str) -> str:
    return clean_text(text).strip()[:MAX_TEXT_CHARACTERS]


# --- Attachments ---------------------------------------------------------------


def safe_filename(name: str, position: int, content_type: str) -> str:
    """The last part of whatever path the sender gave, without control characters; never empty."""
    name = clean_line(name, 500).replace("\\", "/").rsplit("/", 1)[-1].lstrip(". ")
    if not name:
        extension = {"text/plain": ".txt", "message/rfc822": ".eml", "application/pdf": ".pdf"}.get(content_type, "")
        name = f"attachment-{position}{extension}"
    stem, dot, extension = name.rpartition(".")
    if len(name) > 200:
        name = f"{stem[: 190 - len(extension)]}.{extension}" if dot and len(extension) < 10 else name[:200]
    return name


def docx_text(data: bytes) -> str:
    """The paragraphs of a .docx, read from word/document.xml a chunk at a time, within a cap."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive, archive.open("word/document.xml") as document:
        parser = ElementTree.XMLPullParser(events=("end",))
        paragraphs, words, read = [], [], 0
        while chunk := document.read(64 * 1024):
            read += len(chunk)
            if read > MAX_DOCX_XML_BYTES:
                raise ValueError("the document inflates beyond what is read")
            parser.feed(chunk)
            for _, element in parser.read_events():
                tag = element.tag.rsplit("}", 1)[-1]
                if tag == "t":
                    words.append(element.text or "")
                elif tag == "tab":
                    words.append("\t")
                elif tag == "p":
                    paragraphs.append("".join(words))
                    words = []
                    element.clear()
        parser.close()
    return "\n".join(paragraphs)


def msg_text(data: bytes) -> str:
    """The body of an Outlook .msg file (an OLE file): the Unicode body, or the 8-bit one."""
    import olefile

    with olefile.OleFileIO(io.BytesIO(data)) as ole:
        for stream, encoding in (("__substg1.0_1000001F", "utf-16-le"), ("__substg1.0_1000001E", "cp1252")):
            if ole.exists(stream):
                return ole.openstream(stream).read(MAX_TEXT_CHARACTERS * 4).decode(encoding, "replace")
    return ""


def pdf_text(data: bytes) -> str:
    """A PDF's text, read by a separate process that is stopped at a memory, CPU and time limit."""
    script = Path(__file__).with_name("pdf_text.py")
    result = subprocess.run(  # noqa: S603 - our own script, the PDF on standard input
        [sys.executable, str(script), str(MAX_PDF_PAGES), str(PDF_MEMORY_BYTES), str(PDF_SECONDS)],
        input=data,
        capture_output=True,
        timeout=PDF_SECONDS + 5,
        check=False,
    )
    if result.returncode < 0 or b"MemoryError" in result.stderr:
        # Stopped by its CPU or memory limit.
        raise ValueError("it needs more time or memory than a PDF is allowed")
    if result.returncode != 0:
        reason = result.stderr.decode("utf-8", "replace").strip().splitlines()
        raise ValueError(reason[-1] if reason else f"the reader stopped (exit status {result.returncode})")
    return result.stdout.decode("utf-8", "replace")


@dataclass
class ReadAttachment:
    filename: str
    content_type: str
    content: bytes
    text: str = ""
    note: str = ""


def read_attachment(filename: str, content_type: str, content: bytes, *, depth: int) -> ReadAttachment:
    attachment = ReadAttachment(filename, content_type, content)
    suffix = Path(filename).suffix.lower()
    if content_type == "message/rfc822":
        suffix = ".eml"
    if suffix not in READ_TYPES:
        attachment.note = "Not read: the portal reads text from .docx, .pdf, .txt, .msg and .eml files."
        return attachment
    if len(content) > MAX_ATTACHMENT_BYTES:
        attachment.note = f"Too large to read ({len(content) / 1024 / 1024:.1f} MB); the original is kept."
        return attachment
    try:
        if suffix == ".txt":
            text = decode_bytes(content, None)
        elif suffix == ".eml":
            inner = message_from_bytes(content, policy=compat32)
            text, _ = body_and_attachments(inner, depth=depth + 1, with_attachments=False)
        elif suffix == ".docx":
            text = docx_text(content)
        elif suffix == ".msg":
            text = msg_text(content)
        else:
            text = pdf_text(content)
    except subprocess.TimeoutExpired:
        attachment.note = "Could not be read in time; the original is kept."
    except Exception as error:  # noqa: BLE001 - any failure leaves the file kept, with a note
        attachment.note = clean_line(f"Could not be read: {error}", 480) or "Could not be read."
    else:
        attachment.text = tidy(text)
    return attachment


# --- The message ---------------------------------------------------------------


def body_and_attachments(
    message: Message, *, depth: int = 0, with_attachments: bool = True
) -> tuple[str, list[ReadAttachment]]:
    """
    The message's text and its attachments, walking the MIME tree without
    recursion, at most MAX_PARTS parts and MAX_DEPTH levels deep.
    """
    plain, html, attachments = [], [], []
    stack = [(message, depth)]
    seen = 0
    while stack and seen < MAX_PARTS:
        part, level = stack.pop()
        seen += 1
        content_type = part.get_content_type()
        if part.is_multipart():
            if level < MAX_DEPTH:
                children = part.get_payload()
                if isinstance(children, list):
                    stack.extend((child, level + 1) for child in reversed(children[:MAX_PARTS]))
            continue
        disposition = (part.get("Content-Disposition") or "").split(";")[0].strip().lower()
        try:
            raw_name = part.get_filename() or ""
        except Exception:  # noqa: BLE001 - a broken RFC 2231 name
            raw_name = ""
        is_attachment = disposition == "attachment" or raw_name or content_type == "message/rfc822"
        payload = part.get_payload(decode=True)
        if payload is None:
            payload = b""
        if not is_attachment and content_type == "text/plain":
            plain.append(decode_bytes(payload, part.get_content_charset()))
        elif not is_attachment and content_type == "text/html":
            html.append(decode_bytes(payload, part.get_content_charset()))
        elif with_attachments and (payload or raw_name):
            if content_type == "message/rfc822" and not payload:
                inner = part.get_payload()
                inner = inner[0] if isinstance(inner, list) and inner else None
                payload = inner.as_bytes() if isinstance(inner, Message) else b""
            name = safe_filename(decoded(raw_name), len(attachments) + 1, content_type)
            attachments.append(read_attachment(name, content_type, payload, depth=level))
    text = "\n\n".join(plain) if plain else "\n\n".join(html_to_text(part) for part in html)
    return tidy(text), attachments


def dedup_key(message: Message, raw: bytes) -> tuple[str, str]:
    """("mid:<id>" or "sha256:<hash>", the Message-ID or "")."""
    message_id = header(message, "Message-ID", 900)
    if message_id:
        return f"mid:{message_id}"[:300], message_id
    return f"sha256:{hashlib.sha256(raw).hexdigest()}", ""


def header_date(value: str) -> datetime | None:
    if not value:
        return None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def arrival(message: Message) -> datetime | None:
    """When the newest mail server took the message in: the date at the end of the top Received header."""
    received = message.get_all("Received") or []
    for value in received[:1]:
        when = header_date(str(value).rsplit(";", 1)[-1].strip())
        if when:
            return when
    return None


def automatic_reason(message: Message, sender: str, subject: str) -> str:
    """Why this is automatic mail rather than a person's view (RFC 3834), or ""."""
    auto = header(message, "Auto-Submitted", 100).lower()
    if auto and auto != "no":
        return f"Automatic mail (Auto-Submitted: {auto})."
    if header(message, "X-Autoreply") or header(message, "X-Autorespond") or AUTO_REPLY_SUBJECT.match(subject):
        return "An automatic reply (out of office)."
    if message.get_content_type() == "multipart/report":
        return "A delivery or read report."
    if sender.split("@", 1)[0].lower() in {"mailer-daemon", "postmaster"} or header(message, "Return-Path") == "<>":
        return "A bounce from a mail server."
    if header(message, "List-Id"):
        return "Mail from a mailing list (List-Id)."
    if header(message, "Precedence", 50).lower() in BULK_PRECEDENCE:
        return "Bulk or list mail (Precedence)."
    return ""


@dataclass
class Read:
    """What was read from a message, ready to store."""

    fields: dict
    attachments: list[ReadAttachment] = field(default_factory=list)


def read(message: Message, *, arrived_at: datetime) -> Read:
    name, address = parseaddr(header(message, "From"))
    address = clean_line(address, 254)
    try:
        validate_email(address)
    except ValidationError:
        address = address if "@" in address else ""
    subject = header(message, "Subject", 500)
    sent_at = min(header_date(header(message, "Date")) or arrived_at, arrived_at)
    text, attachments = body_and_attachments(message)
    reason = automatic_reason(message, address, subject)
    return Read(
        fields={
            "sender_name": clean_line(name, 200),
            "sender_email": address,
            "subject": subject,
            "references": header(message, "References", 4000),
            "sent_at": sent_at,
            "text": text,
            "status": MessageStatus.IGNORED if reason else MessageStatus.TO_SORT,
            "reason": reason,
        },
        attachments=attachments,
    )


def store(raw: bytes, *, origin: MessageOrigin, arrived_at: datetime | None = None) -> tuple[InboundMessage, bool]:
    """
    Keep one message, read as far as it can be. Returns (message, created):
    a message already held (same Message-ID, or same bytes) is not stored again.
    """
    now = timezone.now()
    try:
        message = message_from_bytes(raw, policy=compat32)
        key, message_id = dedup_key(message, raw)
    except Exception:  # noqa: BLE001 - not even headers: keep the bytes, quarantined
        message, key, message_id = None, f"sha256:{hashlib.sha256(raw).hexdigest()}", ""
    arrived_at = min(arrived_at or (message and arrival(message)) or now, now)
    row = InboundMessage(
        dedup_key=key, message_id=message_id, raw=raw, size=len(raw), origin=origin, arrived_at=arrived_at
    )
    attachments: list[ReadAttachment] = []
    try:
        if message is None or not message.keys():
            raise ValueError("no headers: this is not an email")
        result = read(message, arrived_at=arrived_at)
    except Exception as error:  # noqa: BLE001 - the job goes on with the next message
        logger.warning("Quarantined message %s: %r", key, error)
        row.sent_at = arrived_at
        row.status = MessageStatus.QUARANTINED
        row.reason = clean_line(f"{type(error).__name__}: {error}", 2000)
    else:
        for name, value in result.fields.items():
            setattr(row, name, value)
        attachments = result.attachments
    # No look-up first: most messages are new, and the unique key decides.
    try:
        _save(row, attachments)
    except IntegrityError:
        # Held already: read before, or stored by another reader at the same moment.
        return InboundMessage.objects.defer("raw").get(dedup_key=key), False
    except DatabaseError as error:
        # Something read from it does not fit: keep the bytes alone, quarantined.
        logger.warning("Quarantined message %s: %r", key, error)
        row = InboundMessage(
            dedup_key=key,
            raw=raw,
            size=len(raw),
            origin=origin,
            arrived_at=arrived_at,
            sent_at=arrived_at,
            status=MessageStatus.QUARANTINED,
            reason=clean_line(f"{type(error).__name__}: {error}", 2000),
        )
        _save(row, [])
    return row, True


def _save(row: InboundMessage, attachments: list[ReadAttachment]) -> None:
    # A savepoint inside the mailbox poll's transaction, so a duplicate fails alone.
    with transaction.atomic():
        row.save(force_insert=True)
        Attachment.objects.bulk_create(
            Attachment(
                message=row,
                position=position,
                filename=attachment.filename,
                content_type=clean_line(attachment.content_type, 200),
                size=len(attachment.content),
                content=attachment.content,
                text=attachment.text,
                note=attachment.note,
            )
            for position, attachment in enumerate(attachments, start=1)
        )
