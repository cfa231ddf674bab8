"""
Which digest counted each submission moves off the wide submissions table
into a narrow one, and every submission no digest has counted yet gets its
row in the table the next compile takes from, so compiling a week no longer
rewrites the week's submission rows. The copies run on PostgreSQL and SQLite.
"""

import django.db.models.deletion
from django.db import migrations, models


COPY_FORWARDS = [
    """INSERT INTO feedback_digestmembership (submission_id, digest_id)
       SELECT id, digest_id FROM feedback_submission WHERE digest_id IS NOT NULL""",
    """INSERT INTO feedback_notyetcounted (submission_id, received_at)
       SELECT id, received_at FROM feedback_submission WHERE digest_id IS NULL""",
]
COPY_BACKWARDS = [
    """UPDATE feedback_submission SET digest_id = (
       SELECT digest_id FROM feedback_digestmembership m WHERE m.submission_id = feedback_submission.id)""",
]


class Migration(migrations.Migration):
    dependencies = [
        ("feedback", "0017_search_vector"),
    ]

    operations = [
        migrations.CreateModel(
            name="DigestMembership",
            fields=[
                (
                    "submission",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="membership",
                        serialize=False,
                        to="feedback.submission",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="NotYetCounted",
            fields=[
                (
                    "submission",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to="feedback.submission",
                    ),
                ),
                ("received_at", models.DateTimeField(db_index=True)),
            ],
        ),
        migrations.AddField(
            model_name="digestmembership",
            name="digest",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, related_name="memberships", to="feedback.digest"
            ),
        ),
        migrations.RunSQL(COPY_FORWARDS, COPY_BACKWARDS),
        migrations.RemoveIndex(
            model_name="submission",
            name="submission_uncounted",
        ),
        migrations.RemoveField(
            model_name="submission",
            name="digest",
        ),
    ]
