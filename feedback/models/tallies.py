"""
Running totals behind the dashboard: submissions per ISO week and triage
status, views per week, element and level. Every change to submissions and
views adds to them in its own transaction (`Submission.objects.record`,
`Submission.set_status`, `seed_demo`), so the admin's home page reads a few
hundred rows however many submissions there are, and its figures equal a
direct count (`recount` rebuilds them from the rows, for an operator who
changed rows by hand).
"""

from collections import Counter
from datetime import date, datetime

from django.apps import apps as global_apps
from django.db import connection, models
from django.db.models import Count
from django.db.models.functions import TruncWeek
from django.utils import timezone

from ..periods import week_of


class SubmissionTally(models.Model):
    week = models.DateField(help_text="The Monday of the ISO week (Europe/London) the submissions were received in.")
    status = models.CharField(max_length=10)
    submissions = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["week", "status"], name="submission_tally_key")]

    def __str__(self) -> str:
        return f"{self.week}, {self.status}: {self.submissions}"


class ViewTally(models.Model):
    week = models.DateField(help_text="The Monday of the ISO week (Europe/London) the submissions were received in.")
    element = models.CharField(max_length=20)
    level = models.CharField(max_length=10, blank=True)
    views = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["week", "element", "level"], name="view_tally_key")]

    def __str__(self) -> str:
        return f"{self.week}, {self.element} {self.level}: {self.views}"


def monday_of(moment: datetime) -> date:
    """The Monday of the ISO week a moment falls in, on the portal's calendar (Europe/London)."""
    return week_of(moment).monday


def add(*, submissions: Counter | None = None, views: Counter | None = None) -> None:
    """
    Add counts: `submissions` keyed by (Monday, status), `views` by (Monday,
    element, level); negative counts take away. One statement a table, its
    rows in key order, so two transactions adding to the same weeks queue
    behind each other instead of deadlocking.
    """
    _add(SubmissionTally, ["week", "status"], "submissions", submissions or Counter())
    _add(ViewTally, ["week", "element", "level"], "views", views or Counter())


def _add(model, key: list[str], count: str, counts: Counter) -> None:
    rows = sorted((k, n) for k, n in counts.items() if n)
    if not rows:
        return
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    columns = ", ".join(quote(field) for field in [*key, count])
    values = ", ".join(["(" + ", ".join(["%s"] * (len(key) + 1)) + ")"] * len(rows))
    params = [value for (week, *rest), n in rows for value in (connection.ops.adapt_datefield_value(week), *rest, n)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({columns}) VALUES {values} "  # noqa: S608 (names from the model; values are parameters)
            f"ON CONFLICT ({', '.join(quote(field) for field in key)}) "
            f"DO UPDATE SET {quote(count)} = {table}.{quote(count)} + excluded.{quote(count)}",
            params,
        )


def recount(apps=global_apps) -> None:
    """
    Rebuild both tables from the submissions and views themselves (`apps`
    may be a migration's historical models).
    """
    submissions, views = apps.get_model("feedback", "Submission"), apps.get_model("feedback", "View")
    zone = timezone.get_default_timezone()
    by_status = (
        submissions.objects.annotate(monday=TruncWeek("received_at", tzinfo=zone))
        .values_list("monday", "status")
        .annotate(n=Count("*"))
        .order_by()
    )
    by_level = (
        views.objects.annotate(monday=TruncWeek("submission__received_at", tzinfo=zone))
        .values_list("monday", "element", "level")
        .annotate(n=Count("*"))
        .order_by()
    )
    submission_tally, view_tally = (
        apps.get_model("feedback", "SubmissionTally"),
        apps.get_model("feedback", "ViewTally"),
    )
    submission_counts, view_counts = Counter(), Counter()
    for moment, status, n in by_status:
        submission_counts[monday_of(moment), status] += n
    for moment, element, level, n in by_level:
        view_counts[monday_of(moment), element, level] += n
    submission_tally.objects.all().delete()
    view_tally.objects.all().delete()
    _add(submission_tally, ["week", "status"], "submissions", submission_counts)
    _add(view_tally, ["week", "element", "level"], "views", view_counts)
