"""
Administrators lose every permission on two-factor devices: seeing a device
showed its secret. A lost phone is handled by "Remove two-factor
authentication" on the account instead. New audit actions for access changes.
"""

from django.db import migrations, models

DEVICE_PERMISSIONS = [
    ("otp_totp", "view_totpdevice"),
    ("otp_totp", "delete_totpdevice"),
    ("otp_static", "view_staticdevice"),
    ("otp_static", "delete_staticdevice"),
]


def withdraw_device_permissions(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    administrators = Group.objects.filter(name="Administrators").first()
    if administrators is None:
        return
    for app_label, codename in DEVICE_PERMISSIONS:
        administrators.permissions.remove(
            *Permission.objects.filter(content_type__app_label=app_label, codename=codename)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("feedback", "0009_triage_indexes"),
        ("feedback", "0003_groups"),
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
                ],
                max_length=30,
            ),
        ),
        migrations.RunPython(withdraw_device_permissions, migrations.RunPython.noop),
    ]
