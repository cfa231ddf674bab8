from django.core.management.base import BaseCommand

from feedback import retention
from feedback.templatetags.moments import moment


class Command(BaseCommand):
    help = (
        "Remove respondents' names, email addresses, individuals' organisations and the senders of stored mail "
        "once QIPP_KEEP_PERSONAL_DATA_MONTHS have passed since the call closed. Views and figures stay."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Say what would be removed; change nothing.")
        parser.add_argument("--now", action="store_true", help="Remove it now, before its time (an operator's call).")

    def handle(self, *args, dry_run: bool = False, now: bool = False, **options):
        removed = retention.apply(dry_run=dry_run, force=now)
        if removed is None:
            due = retention.removal_date()
            self.stdout.write(
                f"Nothing is removed before {moment(due)}." if due else "The call has no closing time: nothing is due."
            )
            return
        verb = "Would remove" if dry_run else "Removed"
        if not removed.anything:
            self.stdout.write("No personal data is left to remove.")
            return
        self.stdout.write(
            f"{verb}: {removed.names} name(s), {removed.email_addresses} email address(es) and "
            f"{removed.organisations} organisation name(s) given by individuals, from submissions; the sender and "
            f"personal headers of {removed.messages} stored message(s); the address of {removed.recipients} "
            "email(s) sent to respondents."
        )
        if dry_run and options["verbosity"] > 1:
            for reference in removed.references:
                self.stdout.write(f"  submission {reference}")
