from django.core.management.base import BaseCommand, CommandError

from feedback import personal_data


class Command(BaseCommand):
    help = (
        "Erase everything held about an email address as a withdrawal does: its submissions become tombstones "
        "(digests keep their figures; the words become [withdrawn]), its mail is emptied, emails to it and its "
        "saved answers go."
    )

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("--dry-run", action="store_true", help="Say what would be erased; change nothing.")

    def handle(self, *args, email: str, dry_run: bool = False, **options):
        try:
            erased = personal_data.erase(email, dry_run=dry_run)
        except personal_data.NotAnAddress as error:
            raise CommandError(str(error)) from error
        if erased.nothing:
            self.stdout.write("Nothing is held about that address.")
            return
        verb = "Would erase" if dry_run else "Erased"
        references = ", ".join(erased.submissions) or "none"
        self.stdout.write(
            f"{verb}: submissions {references}; {erased.messages} email(s) received; "
            f"{erased.emails} email(s) sent; {erased.drafts} set(s) of answers saved for later; "
            f"{erased.sessions} set(s) of answers being given now."
        )
