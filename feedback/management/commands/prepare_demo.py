"""
A portal with something on every page, for a newcomer (`make demo`): the
demo login subscribed to the weekly email, realistic submissions over the
past weeks (with campaigns, confirmed themes, machine suggestions and mail
to sort) when there are none yet, every complete week's digest compiled
(all approved but the newest, left for the demo lead to approve), and last
week's summary emailed to the demo login (development writes it to
var/sent-emails/). Running it again adds nothing twice.
"""

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from feedback import digests, outbox
from feedback.models import DigestStatus, Submission, Subscription
from feedback.periods import week_of

from .ensure_demo_login import DEMO_USERNAME


class Command(BaseCommand):
    help = "Fill an empty development portal with demo data, compile and approve its digests, email the summary."

    def add_arguments(self, parser):
        parser.add_argument("--submissions", type=int, default=2500, help="How many submissions, if there are none.")
        parser.add_argument("--weeks", type=int, default=8, help="Spread over this many ISO weeks up to now.")

    def handle(self, *args, submissions: int, weeks: int, **options):
        if not settings.DEBUG:
            raise CommandError("Demo data is for development only: set DJANGO_DEBUG=1.")
        call_command("ensure_demo_login", stdout=self.stdout)
        from django.contrib.auth import get_user_model

        lead = get_user_model().objects.get(username=DEMO_USERNAME)
        if not lead.email:
            lead.email = "policy.demo@example.nhs.uk"
            lead.save(update_fields=["email"])
        Subscription.objects.get_or_create(user=lead)
        if not Submission.objects.exists():
            self.stdout.write(f"Adding {submissions:,} demo submissions over {weeks} weeks (a minute or two)...")
            call_command("seed_demo", submissions=submissions, weeks=weeks, stdout=self.stdout)
        week = week_of(Submission.objects.order_by("received_at").values_list("received_at", flat=True).first())
        last = digests.last_complete_week()
        compiled = []
        while week.start <= last.start:
            compiled.append(digests.compile_digest(week=week))
            week = week.next()
        for digest in compiled[:-1]:
            if digest.status == DigestStatus.READY:
                digest.approve(by=lead)
        if compiled:
            outbox.plan_weekly_emails(digest=compiled[-1])
            outbox.send()
            self.stdout.write(
                f"{len(compiled)} weekly digests compiled ({len(compiled) - 1} approved; the newest waits for you "
                f"to approve it). Last week's summary went to {lead.email}: see {settings.VAR_DIR / 'sent-emails'}/."
            )
