"""
The mail import measure: `manage.py import_mail` of 10,000 realistic messages
(feedback.demo_mail, a fixed seed: views in plain text and HTML, some with a
Word attachment, and automatic mail) from an mbox file, against a ceiling of
the standard library's parser plus a bare INSERT of the same fields (sender,
subject, date, Message-ID, text, the raw message), one row and one commit a
message, as the import does. Rounds alternate on emptied tables. Peak Python
memory: the most memory (resident set) an `import_mail` process holds, for
1,000 of those messages and for the same 1,000 ten times over (new
Message-IDs, so 10,000 rows); it must stay flat.
"""

import mailbox
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from email import message_from_bytes
from email.policy import compat32
from email.utils import parseaddr, parsedate_to_datetime
from io import StringIO
from pathlib import Path

from harness import ROOT, Result, alternate, at_most, median

MESSAGES = 10_000
SMALL = 1_000
SEED = 2009

BARE_TABLE = """CREATE TABLE IF NOT EXISTS bench_bare_message (
    id bigserial PRIMARY KEY, message_id varchar(998) UNIQUE, sender varchar(254), subject varchar(500),
    sent_at timestamptz, text text, raw bytea)"""
BARE_INSERT = """INSERT INTO bench_bare_message (message_id, sender, subject, sent_at, text, raw)
    VALUES (%s, %s, %s, %s, %s, %s)"""


def write_mbox(folder: Path, count: int, *, seed: int = SEED, times: int = 1) -> Path:
    """`count` realistic messages, written `times` over (each copy with Message-IDs of its own)."""
    from feedback.demo_mail import MailGenerator

    path = folder / f"backlog-{seed}-{count}x{times}.mbox"
    box = mailbox.mbox(path)
    raws = [
        raw for raw, _ in MailGenerator(seed=seed, weeks=12, now=datetime(2009, 12, 21, tzinfo=UTC)).messages(count)
    ]
    for copy in range(times):
        for raw in raws:
            box.add(raw.replace(b"Message-ID: <", f"Message-ID: <copy{copy}.".encode(), 1) if copy else raw)
    box.flush()
    return path


def empty() -> None:
    """Empty the messages (the mail measure runs first, so the outbox it cascades to is empty too)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE feedback_attachment, feedback_inboundmessage, bench_bare_message RESTART IDENTITY CASCADE"
        )


def ceiling(path: Path) -> None:
    """The least an import can do: parse each message, take its fields, insert one row, commit."""
    from django.db import connection, transaction

    box = mailbox.mbox(path, create=False)
    with connection.cursor() as cursor:
        for key in box.iterkeys():
            raw = box.get_bytes(key)
            message = message_from_bytes(raw, policy=compat32)
            body = next((part for part in message.walk() if part.get_content_type() == "text/plain"), None)
            payload = body.get_payload(decode=True) if body is not None else b""
            with transaction.atomic():
                cursor.execute(
                    BARE_INSERT,
                    [
                        message.get("Message-ID", ""),
                        parseaddr(message.get("From", ""))[1],
                        str(message.get("Subject", ""))[:500],
                        parsedate_to_datetime(message["Date"]) if message["Date"] else None,
                        payload.decode("utf-8", "replace"),
                        raw,
                    ],
                )


def portal(path: Path) -> None:
    from django.core.management import call_command

    call_command("import_mail", str(path), stdout=StringIO())


def peak_rss(path: Path) -> int:
    """
    The most memory (resident set, bytes) a `manage.py import_mail` process of
    its own held: its VmHWM, read until it exits. (The kernel's ru_maxrss would
    carry over this benchmark's own size from before the exec.)
    """
    empty()
    child = subprocess.Popen(  # noqa: S603 - the portal's own command
        [sys.executable, "manage.py", "import_mail", str(path)], cwd=ROOT, stdout=subprocess.DEVNULL
    )
    status, highest = Path(f"/proc/{child.pid}/status"), 0
    while child.poll() is None:
        try:
            line = next(line for line in status.read_text().splitlines() if line.startswith("VmHWM:"))
            highest = max(highest, int(line.split()[1]) * 1024)
        except (OSError, StopIteration):
            pass
        time.sleep(0.05)
    if child.returncode:
        raise RuntimeError(f"import_mail exited with {child.returncode}")
    return highest


def measure(*, rounds: int) -> list[Result]:
    from django.db import connection
    from django.db.models import Count

    from feedback.models import InboundMessage, MessageStatus

    with connection.cursor() as cursor:
        cursor.execute(BARE_TABLE)
    with tempfile.TemporaryDirectory(prefix="qipp-bench-mail-") as folder:
        started = time.monotonic()
        large, small = write_mbox(Path(folder), MESSAGES), write_mbox(Path(folder), SMALL)
        repeated = write_mbox(Path(folder), SMALL, times=MESSAGES // SMALL)
        print(f"  wrote {MESSAGES:,} and {SMALL:,} messages ({time.monotonic() - started:.0f} s)", flush=True)

        def ceiling_round():
            empty()
            ceiling(large)

        def portal_round():
            empty()
            portal(large)

        ceilings, portals = alternate(rounds, ceiling_round, portal_round)
        stored = InboundMessage.objects.count()
        statuses = dict(InboundMessage.objects.order_by().values_list("status").annotate(n=Count("pk")))
        memory = {SMALL: peak_rss(small), MESSAGES: peak_rss(repeated)}
        empty()
    ceiling_rate, portal_rate = MESSAGES / median(ceilings), MESSAGES / median(portals)
    throughput = at_most(
        2.0,
        measure=f"import_mail, {MESSAGES:,} messages",
        unit="s",
        ceiling=median(ceilings),
        portal=median(portals),
        notes={
            "messages a second (ceiling / portal)": f"{ceiling_rate:,.0f} / {portal_rate:,.0f}",
            "rows stored": stored,
            "by status": statuses,
            "to sort": statuses.get(MessageStatus.TO_SORT, 0),
        },
    )
    flat = at_most(
        1.25,
        measure="import_mail process memory, 10,000 vs 1,000",
        unit="MB",
        ceiling=memory[SMALL] / 1e6,
        portal=memory[MESSAGES] / 1e6,
        notes={"most memory of the process (RSS)": f"{memory[SMALL] / 1e6:.1f} MB, {memory[MESSAGES] / 1e6:.1f} MB"},
    )
    return [throughput, flat]
