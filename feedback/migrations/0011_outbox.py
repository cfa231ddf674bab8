"""
One outbox for every email. Acknowledgements (the ack_* columns of
submissions) and weekly summaries (WeeklySend) become rows of OutgoingEmail,
one INSERT ... SELECT per kind, keeping their status: a row left "sending"
stays "sending" for a person to decide on.
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


# The ISO week of a weekly summary, as "2026-W47", from the Monday (London) its
# period starts on. Noon that Monday is the same date in UTC, whatever the
# clocks say; SQLite's strftime has no ISO week, so its Thursday gives it.
ISO_WEEK = {
    "postgresql": "to_char(w.period_start + interval '12 hours', 'IYYY-\"W\"IW')",
    "sqlite": (
        "strftime('%Y', date(w.period_start, '+12 hours', '-3 days', 'weekday 4')) || '-W' || "
        "printf('%02d', (CAST(strftime('%j', date(w.period_start, '+12 hours', '-3 days', 'weekday 4')) AS INTEGER)"
        " - 1) / 7 + 1)"
    ),
}

COLUMNS = (
    "kind, key, recipient, submission_id, user_id, digest_id, context, status, attempts, next_attempt_at, "
    "claim, claimed_at, sent_at, message_id, last_error, created_at"
)


def move_emails_into_the_outbox(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO feedback_outgoingemail ({COLUMNS})
            SELECT 'acknowledgement', 'ack:' || CAST(s.id AS TEXT), s.email, s.id, NULL, NULL, '{{}}',
                   s.ack_status, s.ack_attempts, s.ack_next_attempt_at, NULL, s.ack_claimed_at, s.ack_sent_at,
                   s.ack_message_id, s.ack_last_error, s.created_at
            FROM feedback_submission s
            WHERE s.ack_status <> 'not_needed' AND s.email <> ''
            """
        )
        cursor.execute(
            f"""
            INSERT INTO feedback_outgoingemail ({COLUMNS})
            SELECT 'weekly_summary', 'weekly:' || CAST(w.user_id AS TEXT) || ':' || {ISO_WEEK[vendor]}, u.email,
                   NULL, w.user_id, d.id, '{{}}', w.status, w.attempts, w.next_attempt_at, w.claim, w.claimed_at,
                   w.sent_at, w.message_id, w.last_error, w.created_at
            FROM feedback_weeklysend w
            JOIN auth_user u ON u.id = w.user_id
            JOIN feedback_digest d ON d.period_start = w.period_start
            """
        )


def let_administrators_read_the_outbox(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    administrators = Group.objects.filter(name="Administrators").first()
    if administrators is not None:
        administrators.permissions.add(
            Permission.objects.get(content_type__app_label="feedback", codename="view_outgoingemail")
        )


class Migration(migrations.Migration):
    dependencies = [
        ("feedback", "0010_security_roles"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="OutgoingEmail",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("acknowledgement", "Acknowledgement to a respondent"),
                            ("weekly_summary", "Weekly summary"),
                            ("password_link", "Link to choose a password"),
                            ("account_change", "Account change notice"),
                        ],
                        max_length=20,
                    ),
                ),
                ("key", models.CharField(max_length=200, unique=True)),
                ("recipient", models.EmailField(max_length=254)),
                ("context", models.JSONField(blank=True, default=dict)),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("pending", "Waiting to send"),
                            ("sending", "Sending"),
                            ("sent", "Sent"),
                            ("failed", "Failed"),
                        ],
                        default="pending",
                        max_length=10,
                    ),
                ),
                ("attempts", models.PositiveSmallIntegerField(default=0)),
                ("next_attempt_at", models.DateTimeField(blank=True, null=True)),
                ("claim", models.UUIDField(blank=True, editable=False, null=True)),
                ("claimed_at", models.DateTimeField(blank=True, null=True)),
                ("sent_at", models.DateTimeField(blank=True, null=True)),
                ("message_id", models.CharField(blank=True, max_length=255)),
                ("last_error", models.TextField(blank=True)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                "verbose_name": "email",
                "ordering": ["-created_at"],
            },
        ),
        migrations.AddField(
            model_name="outgoingemail",
            name="digest",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="emails",
                to="feedback.digest",
            ),
        ),
        migrations.AddField(
            model_name="outgoingemail",
            name="submission",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="emails",
                to="feedback.submission",
            ),
        ),
        migrations.AddField(
            model_name="outgoingemail",
            name="user",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="emails",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddIndex(
            model_name="outgoingemail",
            index=models.Index(fields=["status", "next_attempt_at"], name="outgoing_email_due"),
        ),
        migrations.AddIndex(
            model_name="outgoingemail",
            index=models.Index(fields=["kind", "status"], name="outgoing_email_kind_status"),
        ),
        migrations.RunPython(move_emails_into_the_outbox, migrations.RunPython.noop),
        migrations.RunPython(let_administrators_read_the_outbox, migrations.RunPython.noop),
        migrations.RemoveIndex(
            model_name="weeklysend",
            name="weekly_send_due",
        ),
        migrations.RemoveConstraint(
            model_name="weeklysend",
            name="one_weekly_email_per_person_per_week",
        ),
        migrations.RemoveIndex(
            model_name="submission",
            name="submission_ack_due",
        ),
        migrations.RemoveField(
            model_name="weeklysend",
            name="user",
        ),
        migrations.RemoveField(
            model_name="submission",
            name="ack_attempts",
        ),
        migrations.RemoveField(
            model_name="submission",
            name="ack_claimed_at",
        ),
        migrations.RemoveField(
            model_name="submission",
            name="ack_last_error",
        ),
        migrations.RemoveField(
            model_name="submission",
            name="ack_message_id",
        ),
        migrations.RemoveField(
            model_name="submission",
            name="ack_next_attempt_at",
        ),
        migrations.RemoveField(
            model_name="submission",
            name="ack_sent_at",
        ),
        migrations.RemoveField(
            model_name="submission",
            name="ack_status",
        ),
        migrations.DeleteModel(
            name="WeeklySend",
        ),
    ]
