from django.core.management.base import BaseCommand, CommandError

from feedback import digests
from feedback.periods import Week


class Command(BaseCommand):
    help = "Compile the digest for an ISO week (Europe/London). Without --week, the last complete week."

    def add_arguments(self, parser):
        parser.add_argument("--week", help="An ISO week such as 2026-W47.")

    def handle(self, *args, week: str | None = None, **options):
        try:
            target = Week.parse(week) if week else digests.last_complete_week()
            digests.group_campaigns_before(target)
            digest = digests.compile_digest(week=target)
        except ValueError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"{digest}: {digest.get_status_display()}")
        if digest.last_error:
            self.stdout.write(f"Last error: {digest.last_error}")
        if digest.status == "failed":
            raise CommandError("The digest could not be compiled.")
