from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from feedback import personal_data


class Command(BaseCommand):
    help = (
        "Write everything held about an email address (submissions, views, emails sent, mail received, "
        "answers saved for later, staff accounts) as a ZIP of JSON and CSV files."
    )

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("--output", help="Where to write the ZIP (by default subject-access-<time>.zip here).")

    def handle(self, *args, email: str, output: str | None = None, **options):
        try:
            written = personal_data.subject_access(email)
        except personal_data.NotAnAddress as error:
            raise CommandError(str(error)) from error
        if written is None:
            self.stdout.write("Nothing is held about that address.")
            return
        archive, counts = written
        path = Path(output or f"subject-access-{timezone.localtime():%Y%m%d-%H%M%S}.zip")
        path.write_bytes(archive)
        path.chmod(0o600)
        held = ", ".join(f"{count} {kind.replace('_', ' ')}" for kind, count in counts.items() if count)
        self.stdout.write(f"Wrote {path}: {held}.")
