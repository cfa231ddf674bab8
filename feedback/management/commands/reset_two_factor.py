from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from feedback import audit
from feedback.models import AuditAction


class Command(BaseCommand):
    help = (
        "Remove a staff member's authenticator app and backup codes (a lost phone). "
        "They set up two-factor authentication again at their next sign-in."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username: str, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"There is no account called {username!r}.")
        removed = TOTPDevice.objects.filter(user=user).delete()[0] + StaticDevice.objects.filter(user=user).delete()[0]
        audit.record(AuditAction.TWO_FACTOR_RESET, user=None, account=username, removed=removed)
        self.stdout.write(
            f"Two-factor authentication reset for {username}: they will set it up at their next sign-in."
        )
