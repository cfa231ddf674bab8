"""manage.py group_campaigns: group views that came in since the last run into campaigns of near-identical views."""

from django.core.management.base import BaseCommand

from feedback.campaigns import group_new_views
from feedback.models import Campaign


class Command(BaseCommand):
    help = (
        "Sign the views that have no signature yet and group them with the near-identical views before them "
        "(template letters, copied text). Incremental and safe to rerun; beat runs it every quarter of an hour."
    )

    def handle(self, *args, **options):
        grouped = group_new_views()
        self.stdout.write(
            f"Signed {grouped.fingerprinted:,} new view(s); {grouped.joined:,} joined a campaign; "
            f"{grouped.campaigns:,} campaign(s) made or grown. {Campaign.objects.count():,} campaign(s) in all."
        )
