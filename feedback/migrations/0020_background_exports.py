"""Exports too large to send at once, made by the worker; the email that says one is ready."""

import django.db.models.deletion
import uuid
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("feedback", "0019_dashboard_tallies"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="outgoingemail",
            name="kind",
            field=models.CharField(
                choices=[
                    ("acknowledgement", "Acknowledgement to a respondent"),
                    ("weekly_summary", "Weekly summary"),
                    ("password_link", "Link to choose a password"),
                    ("account_change", "Account change notice"),
                    ("mail_reply", "Reply acknowledging a view sent by email"),
                    ("export_ready", "Export ready to download"),
                ],
                max_length=20,
            ),
        ),
        migrations.CreateModel(
            name="Export",
            fields=[
                ("id", models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ("requested_at", models.DateTimeField(auto_now_add=True)),
                ("file_format", models.CharField(max_length=4)),
                ("query", models.TextField(blank=True)),
                ("include_personal", models.BooleanField(default=False)),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("queued", "Waiting to start"),
                            ("running", "Being made"),
                            ("ready", "Ready to download"),
                            ("failed", "Failed"),
                            ("too_large", "Too large for a spreadsheet"),
                            ("expired", "Deleted after 24 hours"),
                        ],
                        default="queued",
                        max_length=10,
                    ),
                ),
                ("rows_expected", models.PositiveIntegerField(default=0)),
                ("rows_written", models.PositiveIntegerField(default=0)),
                ("started_at", models.DateTimeField(blank=True, null=True)),
                (
                    "file",
                    models.CharField(blank=True, help_text="The file's name in the exports storage.", max_length=255),
                ),
                ("finished_at", models.DateTimeField(blank=True, null=True)),
                ("expires_at", models.DateTimeField(blank=True, null=True)),
                ("last_error", models.TextField(blank=True)),
                (
                    "requested_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="exports",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["-requested_at"],
                "indexes": [models.Index(fields=["status", "expires_at"], name="export_status_expiry")],
            },
        ),
    ]
