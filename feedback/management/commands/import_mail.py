"""manage.py import_mail PATH: bring in a backlog of mail, once."""

import mailbox
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from feedback.mail import store
from feedback.models import MessageOrigin, MessageStatus

PROGRESS_EVERY = 500


def messages_in(path: Path) -> tuple[int, Iterator[bytes]]:
    """How many messages, and their raw bytes: an mbox file, a Maildir, a folder of .eml files, or one .eml."""
    if path.is_dir() and all((path / sub).is_dir() for sub in ("cur", "new", "tmp")):
        box = mailbox.Maildir(path, factory=None, create=False)
        keys = sorted(box.keys())
        return len(keys), (box.get_bytes(key) for key in keys)
    if path.is_dir():
        files = sorted(path.rglob("*.eml"))
        return len(files), (file.read_bytes() for file in files)
    if path.suffix.lower() == ".eml":
        return 1, iter([path.read_bytes()])
    return _mbox_count(path), _mbox_messages(path)


def _mbox_count(path: Path) -> int:
    with path.open("rb") as file:
        return sum(1 for line in file if line.startswith(b"From "))


def _mbox_messages(path: Path) -> Iterator[bytes]:
    """
    Each message of an mbox file, read a line at a time, so memory stays flat
    however long the file (the stdlib's reader keeps an index of every
    message). Like it, a line starting "From " starts the next message; the
    blank line before it belongs to neither.
    """
    lines: list[bytes] | None = None  # None until the first "From " line: anything before it is not mail
    with path.open("rb") as file:
        for line in file:
            if line.startswith(b"From "):
                if lines is not None:
                    yield _without_separator(lines)
                lines = []
            elif lines is not None:
                lines.append(line)
    if lines is not None:
        yield _without_separator(lines)


def _without_separator(lines: list[bytes]) -> bytes:
    if lines and lines[-1] in (b"\n", b"\r\n"):
        lines = lines[:-1]
    return b"".join(lines)


class Command(BaseCommand):
    help = (
        "Import a backlog of mail (an mbox file, a Maildir, or a folder of .eml files) with the "
        "mailbox's parsing and dedup. Running it twice adds nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path)

    def handle(self, *args, path: Path, **options):
        if not path.exists():
            raise CommandError(f"{path} does not exist.")
        try:
            total, raws = messages_in(path)
        except (OSError, mailbox.Error) as error:
            raise CommandError(f"Could not open {path} as mail: {error}") from error
        counts = Counter()
        for number, raw in enumerate(raws, start=1):
            message, created = store(raw, origin=MessageOrigin.BACKLOG)
            if not created:
                counts["already had"] += 1
            elif message.status == MessageStatus.IGNORED:
                counts["ignored"] += 1
            elif message.status == MessageStatus.QUARANTINED:
                counts["quarantined"] += 1
            else:
                counts["new"] += 1
            if number % PROGRESS_EVERY == 0 and number < total:
                self.stdout.write(f"Read {number:,} of {total:,} messages…")
        self.stdout.write(
            self.style.SUCCESS(
                f"{total:,} messages: {counts['new']:,} new, {counts['already had']:,} already had, "
                f"{counts['ignored']:,} ignored, {counts['quarantined']:,} quarantined."
            )
        )
