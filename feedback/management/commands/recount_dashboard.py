from django.core.management.base import BaseCommand
from django.db import transaction

from feedback.models import SubmissionTally, ViewTally, tallies


class Command(BaseCommand):
    help = (
        "Count the dashboard's running totals again from the submissions and views themselves. "
        "Every change through the portal keeps them; this is for rows changed by hand in the database."
    )

    def handle(self, *args, **options):
        with transaction.atomic():
            tallies.recount()
        submissions = sum(SubmissionTally.objects.values_list("submissions", flat=True))
        views = sum(ViewTally.objects.values_list("views", flat=True))
        self.stdout.write(f"Counted {submissions:,} submissions and {views:,} views.")
