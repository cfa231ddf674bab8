"""When the call opens and closes: one row, set by Administrators."""

from django.contrib.auth.management import create_permissions
from django.db import migrations, models

# Administrators set when the call opens and closes; everyone in the workspace may see it.
GRANTS = {
    "Administrators": ["view_callwindow", "change_callwindow", "add_callwindow"],
    "Policy leads": ["view_callwindow"],
    "Policy reviewers": ["view_callwindow"],
}


def grant(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in GRANTS.items():
        group = Group.objects.filter(name=name).first()
        if group is not None:
            group.permissions.add(
                *Permission.objects.filter(content_type__app_label="feedback", codename__in=codenames)
            )


class Migration(migrations.Migration):
    dependencies = [
        ("feedback", "0020_background_exports"),
    ]

    operations = [
        migrations.AlterField(
            model_name="auditevent",
            name="action",
            field=models.CharField(
                choices=[
                    ("password_accepted", "Password accepted (second factor next)"),
                    ("signed_in", "Signed in"),
                    ("sign_in_failed", "Sign-in failed"),
                    ("locked_out", "Locked out"),
                    ("lockout_removed", "Removed a lockout"),
                    ("two_factor_failed", "Wrong second-factor code"),
                    ("two_factor_replayed", "Second-factor code used again"),
                    ("two_factor_enrolled", "Set up two-factor authentication"),
                    ("two_factor_reset", "Two-factor authentication reset"),
                    ("account_created", "Created an account"),
                    ("access_changed", "Changed an account's access"),
                    ("password_changed", "Changed a password"),
                    ("password_reset_sent", "Sent a password reset link"),
                    ("viewed_personal_details", "Viewed personal details"),
                    ("filtered_personal_details", "Filtered by personal details"),
                    ("exported", "Exported submissions"),
                    ("status_changed", "Changed status"),
                    ("themes_changed", "Changed themes"),
                    ("note_added", "Added a note"),
                    ("details_changed", "Changed submission details"),
                    ("message_sorted", "Sorted a message into views"),
                    ("message_set_aside", "Set a message aside (not a view, or a duplicate)"),
                    ("attachment_downloaded", "Downloaded an attachment"),
                    ("responses_imported", "Imported responses from a spreadsheet"),
                    ("theme_proposal_decided", "Added or dismissed an emerging theme"),
                    ("second_opinion_given", "Coded a view blind, as a second opinion"),
                    ("second_opinion_settled", "Settled two reviewers' disagreement"),
                    ("call_window_changed", "Changed when the call opens or closes"),
                ],
                max_length=30,
            ),
        ),
        migrations.CreateModel(
            name="CallWindow",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("opens_at", models.DateTimeField(blank=True, null=True, verbose_name="opens")),
                ("closes_at", models.DateTimeField(blank=True, null=True, verbose_name="closes")),
                (
                    "extended_to",
                    models.DateTimeField(
                        blank=True,
                        help_text="A later close, announced after the call opened. The call then closes at this time.",
                        null=True,
                        verbose_name="extended to",
                    ),
                ),
                ("changed_at", models.DateTimeField(auto_now=True)),
            ],
            options={
                "verbose_name": "call window",
                "constraints": [models.CheckConstraint(condition=models.Q(("id", 1)), name="call_window_is_one_row")],
            },
        ),
        migrations.RunPython(grant, migrations.RunPython.noop),
    ]
