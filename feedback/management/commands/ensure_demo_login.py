import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError

DEMO_USERNAME = "policy.demo"


class Command(BaseCommand):
    help = "Create a demo policy-team login for local development, if there is none, and say how to sign in."

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("The demo login is for development only: set DJANGO_DEBUG=1.")
        password_file = settings.VAR_DIR / "demo-login.txt"
        User = get_user_model()
        user = User.objects.filter(username=DEMO_USERNAME).first()
        if user is None or not password_file.exists():
            password = secrets.token_urlsafe(12)
            user = user or User(username=DEMO_USERNAME, first_name="Demo", last_name="Lead")
            user.is_staff = True
            user.is_superuser = False
            user.set_password(password)
            user.save()
            user.groups.set([Group.objects.get(name="Policy leads")])
            password_file.parent.mkdir(parents=True, exist_ok=True)
            password_file.write_text(password + "\n")
            password_file.chmod(0o600)
        password = password_file.read_text().strip()
        self.stdout.write(
            f"Policy-team demo login (a policy lead): {settings.SITE_URL}/admin/  "
            f"username {DEMO_USERNAME}  password {password}"
        )
