from django.core.management.base import BaseCommand, CommandError

from feedback import digests, emails, outbox
from feedback.models import Subscription
from feedback.periods import Week


class Command(BaseCommand):
    help = (
        "Send the weekly email summary for an ISO week (default: the most recent one due), "
        "once per subscriber, or show what would be sent with --dry-run."
    )

    def add_arguments(self, parser):
        parser.add_argument("--week", help="An ISO week such as 2026-W47.")
        parser.add_argument("--dry-run", action="store_true", help="Print the emails instead of sending them.")

    def handle(self, *args, week: str | None = None, dry_run: bool = False, **options):
        try:
            target = Week.parse(week) if week else outbox.weekly_week_due()
            digest = digests.compile_digest(week=target)
        except ValueError as error:
            raise CommandError(str(error)) from error
        if not digest.is_compiled:
            raise CommandError(f"The digest for {target} could not be compiled: {digest.last_error}")
        if dry_run:
            rendered: dict = {}
            for subscription in Subscription.objects.receiving().select_related("user"):
                message = emails.build_weekly_summary(
                    user=subscription.user, digest=digest, subscription=subscription, rendered=rendered
                )
                self.stdout.write(
                    f"To: {', '.join(message.to)}\nSubject: {message.subject}\n\n{message.body}\n{'-' * 72}"
                )
            return
        planned = outbox.plan_weekly_emails(digest=digest)
        outcomes = outbox.send()
        self.stdout.write(
            f"{target}: {planned} new email(s) planned; sent {outcomes['sent']}, "
            f"to retry {outcomes['retry']}, failed {outcomes['failed']}."
        )
