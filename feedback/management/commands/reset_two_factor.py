from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from feedback import accounts


class Command(BaseCommand):
    help = (
        "Remove a staff member's authenticator app and backup codes (a lost phone). "
        "They set up two-factor authentication again at their next sign-in, and are told by email."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username: str, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"There is no account called {username!r}.")
        accounts.remove_two_factor(user)
        self.stdout.write(
            f"Two-factor authentication reset for {username}: they will set it up at their next sign-in."
        )
