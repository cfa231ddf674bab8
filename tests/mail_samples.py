"""Emails as senders' mail programs write them, and as hostile senders do, for the mailbox tests."""

import io
import zipfile
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from django.utils import timezone

WORD_NAMESPACE = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def email(
    *,
    sender="Dr Amina Patel <amina.patel@example.nhs.uk>",
    to="qipp.views@example.nhs.uk",
    subject="Views on the QIPP challenge",
    text="Urgent care should be planned across the whole local system.",
    html=None,
    date=None,
    message_id=True,
    headers=None,
    attachments=(),
) -> bytes:
    """A message as a mail program sends it: plain text, optionally HTML and attachments."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(date or timezone.now())
    if message_id:
        message["Message-ID"] = message_id if isinstance(message_id, str) else make_msgid(domain="example.nhs.uk")
    for name, value in (headers or {}).items():
        message[name] = value
    if text is not None:
        message.set_content(text)
    if html is not None:
        if text is None:
            message.set_content(html, subtype="html")
        else:
            message.add_alternative(html, subtype="html")
    for filename, content, maintype, subtype in attachments:
        message.add_attachment(content, maintype=maintype, subtype=subtype, filename=filename)
    return message.as_bytes()


def docx(*paragraphs: str) -> bytes:
    """A minimal Word document with these paragraphs."""
    body = "".join(f"<w:p><w:r><w:t>{paragraph}</w:t></w:r></w:p>" for paragraph in paragraphs)
    document = f'<?xml version="1.0"?><w:document xmlns:w="{WORD_NAMESPACE}"><w:body>{body}</w:body></w:document>'
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", document)
    return buffer.getvalue()


def docx_bomb(inflated_bytes: int) -> bytes:
    """A .docx whose document.xml inflates from a few hundred kB to `inflated_bytes`."""
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive,
        archive.open("word/document.xml", "w", force_zip64=True) as document,
    ):
        document.write(f'<w:document xmlns:w="{WORD_NAMESPACE}"><w:body><w:p><w:r><w:t>'.encode())
        chunk = b"A" * (1024 * 1024)
        for _ in range(inflated_bytes // len(chunk)):
            document.write(chunk)
        document.write(b"</w:t></w:r></w:p></w:body></w:document>")
    return buffer.getvalue()


def nested(depth: int, text: str) -> bytes:
    """A message whose MIME parts nest `depth` levels deep, with its text at the top."""
    boundary = "level{}"
    lines = [
        "From: Nested Sender <nested@example.nhs.uk>",
        "Subject: Deeply nested",
        "Message-ID: <nested@example.nhs.uk>",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/mixed; boundary="{boundary.format(0)}"',
        "",
        f"--{boundary.format(0)}",
        "Content-Type: text/plain",
        "",
        text,
    ]
    for level in range(1, depth):
        lines += [
            f"--{boundary.format(level - 1)}",
            f'Content-Type: multipart/mixed; boundary="{boundary.format(level)}"',
            "",
        ]
    lines += [f"--{boundary.format(depth - 1)}", "Content-Type: text/plain", "", "the innermost part"]
    for level in reversed(range(depth)):
        lines.append(f"--{boundary.format(level)}--")
    return "\r\n".join(lines).encode()


def outlook_msg(body: str) -> bytes:
    """
    A minimal Outlook .msg: a compound file (OLE, version 3) holding one
    stream, the Unicode body. Padded to 4,096 bytes so that it lives in
    ordinary sectors rather than the mini stream.
    """
    import struct

    end, free, fat_sector, no_stream = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD, 0xFFFFFFFF
    data = (body + " " * max(0, 2048 - len(body))).encode("utf-16-le")
    data_sectors = -(-len(data) // 512)
    fat = [fat_sector, end, *range(3, 2 + data_sectors), end]
    fat += [free] * (128 - len(fat))

    def entry(name: str, kind: int, *, child=no_stream, start=end, size=0) -> bytes:
        encoded = (name + "\x00").encode("utf-16-le")
        return (
            encoded.ljust(64, b"\x00")
            + struct.pack("<HBB3I", len(encoded), kind, 1, no_stream, no_stream, child)
            + bytes(16 + 4 + 16)
            + struct.pack("<IQ", start, size)
        )

    directory = (
        entry("Root Entry", 5, child=1)
        + entry("__substg1.0_1000001F", 2, start=2, size=len(data))
        + (bytes(64) + struct.pack("<HBB3I", 0, 0, 0, no_stream, no_stream, no_stream) + bytes(48)) * 2
    )
    header = (
        bytes.fromhex("D0CF11E0A1B11AE1")
        + bytes(16)
        + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
        + bytes(6)
        + struct.pack("<IIIIIIIII", 0, 1, 1, 0, 4096, end, 0, end, 0)
        + struct.pack("<I", 0)
        + struct.pack("<108I", *([free] * 108))
    )
    return header + struct.pack("<128I", *fat) + directory + data.ljust(data_sectors * 512, b"\x00")
