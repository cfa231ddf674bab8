"""
The dashboard's running totals, counted once from the submissions and views
already here; from now on every change adds to them in its own transaction.
"""

from django.db import migrations, models

from feedback.models.tallies import recount


def count_what_is_here(apps, schema_editor):
    recount(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("feedback", "0018_digest_membership"),
    ]

    operations = [
        migrations.CreateModel(
            name="SubmissionTally",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "week",
                    models.DateField(
                        help_text="The Monday of the ISO week (Europe/London) the submissions were received in."
                    ),
                ),
                ("status", models.CharField(max_length=10)),
                ("submissions", models.IntegerField(default=0)),
            ],
            options={
                "constraints": [models.UniqueConstraint(fields=("week", "status"), name="submission_tally_key")],
            },
        ),
        migrations.CreateModel(
            name="ViewTally",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "week",
                    models.DateField(
                        help_text="The Monday of the ISO week (Europe/London) the submissions were received in."
                    ),
                ),
                ("element", models.CharField(max_length=20)),
                ("level", models.CharField(blank=True, max_length=10)),
                ("views", models.IntegerField(default=0)),
            ],
            options={
                "constraints": [models.UniqueConstraint(fields=("week", "element", "level"), name="view_tally_key")],
            },
        ),
        migrations.RunPython(count_what_is_here, migrations.RunPython.noop),
    ]
