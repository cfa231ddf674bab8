"""Mail becomes stored messages: what is kept, what is ignored, what is quarantined, and hostile mail."""

import base64
import mailbox
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from feedback import mail
from feedback.mail import store
from feedback.models import InboundMessage, MessageOrigin, MessageStatus
from feedback.pdf import render_pdf

from .mail_samples import docx, docx_bomb, email, nested, outlook_msg

pytestmark = pytest.mark.django_db


def stored(raw: bytes) -> InboundMessage:
    message, created = store(raw, origin=MessageOrigin.MAILBOX)
    assert created
    return InboundMessage.objects.get(pk=message.pk)


def test_a_message_keeps_its_sender_subject_date_text_and_raw_bytes():
    sent = datetime(2009, 11, 2, 9, 30, tzinfo=UTC)
    raw = email(date=sent, text="Commission stroke services across the region.")

    message = stored(raw)

    assert message.sender_name == "Dr Amina Patel"
    assert message.sender_email == "amina.patel@example.nhs.uk"
    assert message.subject == "Views on the QIPP challenge"
    assert message.sent_at == sent
    assert message.text == "Commission stroke services across the region."
    assert bytes(message.raw) == raw
    assert message.status == MessageStatus.TO_SORT


def test_a_date_in_the_future_is_clamped_to_when_the_message_arrived():
    arrived = timezone.now()
    raw = email(date=arrived + timedelta(days=300))

    message, _ = store(raw, origin=MessageOrigin.MAILBOX, arrived_at=arrived)

    assert message.sent_at == arrived


def test_the_plain_part_is_preferred_and_html_alone_is_turned_into_text():
    both = stored(email(text="The plain words.", html="<p>The <b>HTML</b> words.</p>"))
    html_only = stored(
        email(
            text=None,
            html="<html><head><style>p{}</style><script>alert(1)</script></head>"
            "<body><p>First &amp; foremost.</p><p>Second line.</p></body></html>",
        )
    )

    assert both.text == "The plain words."
    assert html_only.text == "First & foremost.\n\nSecond line."


def test_reading_a_message_twice_stores_it_once_by_message_id_or_by_its_bytes():
    with_id = email(message_id="<view-1@example.nhs.uk>")
    without_id = email(message_id=False, subject="No Message-ID here")

    first, created_first = store(with_id, origin=MessageOrigin.MAILBOX)
    again, created_again = store(with_id, origin=MessageOrigin.MAILBOX)
    store(without_id, origin=MessageOrigin.MAILBOX)
    _, created_twice = store(without_id, origin=MessageOrigin.MAILBOX)

    assert created_first and not created_again and again.pk == first.pk
    assert not created_twice
    assert InboundMessage.objects.count() == 2


@pytest.mark.parametrize(
    ("headers", "sender", "subject", "content_type", "reason"),
    [
        ({"Auto-Submitted": "auto-replied"}, None, None, None, "Auto-Submitted"),
        ({}, None, "Automatic reply: Views on the QIPP challenge", None, "out of office"),
        ({"X-Autoreply": "yes"}, None, None, None, "out of office"),
        ({}, "Mail Delivery System <MAILER-DAEMON@example.nhs.uk>", None, None, "bounce"),
        ({}, None, None, "multipart/report", "delivery or read report"),
        ({"List-Id": "QIPP leads <qipp-leads.lists.example.nhs.uk>"}, None, None, None, "mailing list"),
        ({"Precedence": "bulk"}, None, None, None, "Bulk"),
    ],
)
def test_automatic_mail_is_stored_as_ignored_with_the_reason(headers, sender, subject, content_type, reason):
    raw = email(headers=headers, sender=sender or "Someone <someone@example.nhs.uk>", subject=subject or "Re: QIPP")
    if content_type:
        raw = raw.replace(b"Content-Type: text/plain", f"Content-Type: {content_type}".encode(), 1)

    message = stored(raw)

    assert message.status == MessageStatus.IGNORED
    assert reason.lower() in message.reason.lower()


def test_a_message_that_cannot_be_read_is_quarantined_with_the_error_and_kept_whole():
    raw = b"\x00\x01\x02 this is not an email at all"

    message = stored(raw)

    assert message.status == MessageStatus.QUARANTINED
    assert "not an email" in message.reason
    assert bytes(message.raw) == raw


def test_attachments_are_kept_with_their_text_extracted():
    inner = email(subject="Forwarded view", text="The text of the forwarded message.")
    pdf = render_pdf("<html><body><p>Evidence from the pathway review.</p></body></html>")
    raw = email(
        attachments=[
            ("response.docx", docx("Our board's response.", "Second paragraph."), "application", "octet-stream"),
            ("notes.txt", b"Plain notes.", "text", "plain"),
            ("evidence.pdf", pdf, "application", "pdf"),
            ("forwarded.eml", inner, "application", "octet-stream"),
            ("photo.png", b"\x89PNG not really", "image", "png"),
            ("outlook.msg", outlook_msg("The view in an Outlook message."), "application", "vnd.ms-outlook"),
        ]
    )

    message = stored(raw)
    attachments = {a.filename: a for a in message.attachments.all()}

    assert attachments["response.docx"].text == "Our board's response.\nSecond paragraph."
    assert attachments["notes.txt"].text == "Plain notes."
    assert "Evidence from the pathway review." in attachments["evidence.pdf"].text
    assert attachments["forwarded.eml"].text == "The text of the forwarded message."
    assert attachments["outlook.msg"].text == "The view in an Outlook message."
    assert attachments["photo.png"].text == ""
    assert "Not read" in attachments["photo.png"].note
    assert bytes(attachments["photo.png"].content) == b"\x89PNG not really"


# --- Hostile mail ---------------------------------------------------------------


def test_megabytes_of_attachments_are_kept_but_not_read_beyond_the_cap():
    big = b"word " * (3 * 1024 * 1024)  # 15 MB
    message = stored(email(attachments=[("huge.txt", big, "text", "plain")]))

    attachment = message.attachments.get()
    assert attachment.size == len(big)
    assert "Too large to read" in attachment.note
    assert attachment.text == ""


def test_an_archive_that_inflates_to_hundreds_of_megabytes_is_not_inflated():
    bomb = docx_bomb(300 * 1024 * 1024)
    assert len(bomb) < 2 * 1024 * 1024

    message = stored(email(attachments=[("bomb.docx", bomb, "application", "octet-stream")]))

    attachment = message.attachments.get()
    assert "Could not be read" in attachment.note
    assert attachment.text == ""


def test_a_pdf_that_is_not_a_pdf_leaves_a_note_and_the_file():
    message = stored(email(attachments=[("broken.pdf", b"%PDF-1.7 then nonsense", "application", "pdf")]))

    attachment = message.attachments.get()
    assert attachment.note.startswith("Could not be read")
    assert bytes(attachment.content) == b"%PDF-1.7 then nonsense"


def test_a_long_pdf_is_read_only_as_far_as_the_page_cap(monkeypatch):
    monkeypatch.setattr(mail, "MAX_PDF_PAGES", 2)
    pages = "".join(f'<p style="break-after: page">Page {n} of the response.</p>' for n in range(1, 5))
    pdf = render_pdf(f"<html><body>{pages}</body></html>")

    attachment = stored(email(attachments=[("long.pdf", pdf, "application", "pdf")])).attachments.get()

    assert "Page 2 of the response." in attachment.text
    assert "Page 3" not in attachment.text
    assert "[Only the first 2 pages were read.]" in attachment.text


def test_a_pdf_that_takes_too_long_is_stopped_and_the_file_kept(monkeypatch):
    monkeypatch.setattr(mail, "PDF_SECONDS", 0)
    pdf = render_pdf("<html><body><p>Slow to read.</p></body></html>")

    attachment = stored(email(attachments=[("slow.pdf", pdf, "application", "pdf")])).attachments.get()

    assert attachment.text == ""
    assert attachment.note == "Could not be read: it needs more time or memory than a PDF is allowed"
    assert bytes(attachment.content) == pdf


def test_nesting_fifty_levels_deep_is_read_as_far_as_the_cap():
    message = stored(nested(50, "The view at the top."))

    assert message.status == MessageStatus.TO_SORT
    assert message.text.startswith("The view at the top.")
    assert "the innermost part" not in message.text


def test_broken_mime_boundaries_still_give_the_text():
    raw = (
        b"From: a@example.nhs.uk\r\nSubject: Broken\r\nMessage-ID: <broken@example.nhs.uk>\r\n"
        b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="never-closed"\r\n\r\n'
        b"--never-closed\r\nContent-Type: text/plain\r\n\r\nThe words survive.\r\n"
        b"--a-boundary-that-was-never-declared\r\n"
    )

    message = stored(raw)

    assert "The words survive." in message.text


def test_an_undecodable_charset_is_read_as_far_as_it_can_be():
    raw = (
        b"From: a@example.nhs.uk\r\nSubject: =?x-no-such-charset?q?Caf=E9?=\r\n"
        b"Message-ID: <charset@example.nhs.uk>\r\n"
        b'Content-Type: text/plain; charset="x-no-such-charset"\r\n\r\nCaf\xe9 culture \xff\xfe in the NHS.\r\n'
    )

    message = stored(raw)

    assert message.status == MessageStatus.TO_SORT
    assert "culture" in message.text
    assert "Caf" in message.subject


def test_header_injection_in_an_encoded_word_stays_on_one_line():
    injected = base64.b64encode(b"Hello\r\nBcc: victim@example.com\r\nX-Evil: yes").decode()
    raw = (
        f"From: a@example.nhs.uk\r\nSubject: =?utf-8?b?{injected}?=\r\nMessage-ID: <inject@example.nhs.uk>\r\n"
        "Content-Type: text/plain\r\n\r\nBody.\r\n"
    ).encode()

    message = stored(raw)

    assert "\n" not in message.subject and "\r" not in message.subject
    assert message.subject == "Hello Bcc: victim@example.com X-Evil: yes"


def test_file_names_lose_their_folders_and_control_characters():
    raw = email(
        attachments=[
            ("../../etc/passwd", b"root", "text", "plain"),
            ("C:\\Users\\evil\\view.txt", b"view", "text", "plain"),
            ("a\x00b<script>.txt", b"x", "text", "plain"),
        ]
    )

    names = list(stored(raw).attachments.values_list("filename", flat=True))

    assert names == ["passwd", "view.txt", "ab<script>.txt"]


def test_nul_bytes_never_reach_the_database():
    raw = email(text="Before\x00after.", subject="Nul\x00subject")

    message = stored(raw)

    assert message.text == "Beforeafter."
    assert "\x00" not in message.subject


# --- The backlog ----------------------------------------------------------------


def backlog(count: int) -> list[bytes]:
    return [email(message_id=f"<backlog-{n}@example.nhs.uk>", text=f"View number {n}.") for n in range(count)]


def import_mail(path) -> str:
    out = StringIO()
    call_command("import_mail", str(path), stdout=out)
    return out.getvalue()


def test_import_mail_reads_an_mbox_and_a_second_run_adds_nothing(tmp_path):
    path = tmp_path / "backlog.mbox"
    box = mailbox.mbox(path)
    for raw in [*backlog(3), email(headers={"Auto-Submitted": "auto-replied"}), b"not mail"]:
        box.add(raw)
    box.flush()

    first = import_mail(path)
    second = import_mail(path)

    assert "5 messages: 3 new, 0 already had, 1 ignored, 1 quarantined." in first
    assert "5 messages: 0 new, 5 already had, 0 ignored, 0 quarantined." in second
    assert InboundMessage.objects.filter(origin=MessageOrigin.BACKLOG).count() == 5


def test_import_mail_reads_a_maildir_and_a_folder_of_eml_files(tmp_path):
    box = mailbox.Maildir(tmp_path / "Maildir")
    for raw in backlog(2):
        box.add(raw)
    folder = tmp_path / "eml"
    folder.mkdir()
    for number, raw in enumerate(backlog(4)):
        (folder / f"{number}.eml").write_bytes(raw)

    from_maildir = import_mail(tmp_path / "Maildir")
    from_folder = import_mail(folder)

    assert "2 messages: 2 new" in from_maildir
    assert "4 messages: 2 new, 2 already had" in from_folder


def test_import_mail_shows_its_progress_on_a_long_backlog(tmp_path):
    folder = tmp_path / "eml"
    folder.mkdir()
    for number, raw in enumerate(backlog(501)):
        (folder / f"{number:04}.eml").write_bytes(raw)

    output = import_mail(folder)

    assert "Read 500 of 501 messages" in output
    assert "501 messages: 501 new" in output


def test_a_backlog_message_arrived_when_its_mail_server_received_it():
    raw = b"Received: from relay.example.nhs.uk by mx; Mon, 2 Nov 2009 10:15:00 +0000\r\n" + email(
        date=datetime(2009, 11, 2, 9, 0, tzinfo=UTC)
    )

    message, _ = store(raw, origin=MessageOrigin.BACKLOG)

    assert message.arrived_at == datetime(2009, 11, 2, 10, 15, tzinfo=UTC)


def test_import_mail_reads_each_mbox_message_exactly_as_the_standard_library_does(tmp_path):
    path = tmp_path / "backlog.mbox"
    box = mailbox.mbox(path)
    raws = [email(text="From the start of a line, a quoted word.\n\nFrom here on."), *backlog(2)]
    for raw in raws:
        box.add(raw)
    box.flush()
    expected = [box.get_bytes(key) for key in box.iterkeys()]

    import_mail(path)

    stored = list(InboundMessage.objects.order_by("pk").values_list("raw", flat=True))
    assert [bytes(raw) for raw in stored] == expected
