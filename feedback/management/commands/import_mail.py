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
    box = mailbox.mbox(path, factory=None, create=False)
    keys = list(box.keys())
    return len(keys), (box.get_bytes(key) for key in keys)


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
