"""
The policy team's roles as groups. Nobody in them can delete submissions or
audit entries; superusers are few, named, and made with `createsuperuser`.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

DIGEST_READERS = ["feedback.view_dashboard"]
POLICY_REVIEWERS = DIGEST_READERS + [
    "feedback.view_submission",
    "feedback.change_submission",
    "feedback.view_personal_details",
    "feedback.view_view",
    # To tag themes on a view's page; the view itself stays read-only.
    "feedback.change_view",
    "feedback.view_theme",
    "feedback.view_themetag",
    "feedback.add_themetag",
    "feedback.change_themetag",
    "feedback.delete_themetag",
    "feedback.view_note",
    "feedback.add_note",
]
POLICY_LEADS = POLICY_REVIEWERS + [
    "feedback.add_theme",
    "feedback.change_theme",
    "feedback.export_submissions",
]
ADMINISTRATORS = [
    "auth.view_user",
    "auth.add_user",
    "auth.change_user",
    "auth.view_group",
    "feedback.view_auditevent",
    "otp_totp.view_totpdevice",
    "otp_totp.delete_totpdevice",
    "otp_static.view_staticdevice",
    "otp_static.delete_staticdevice",
    "axes.view_accessattempt",
    "axes.delete_accessattempt",
]
GROUPS = {
    "Digest readers": DIGEST_READERS,
    "Policy reviewers": POLICY_REVIEWERS,
    "Policy leads": POLICY_LEADS,
    "Administrators": ADMINISTRATORS,
}


def create_groups(apps, schema_editor):
    # On a fresh database permissions are only created after migrate: make them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, perms in GROUPS.items():
        group, _ = Group.objects.get_or_create(name=name)
        wanted = [perm.split(".") for perm in perms]
        found = [
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
            for app_label, codename in wanted
        ]
        group.permissions.set(found)


class Migration(migrations.Migration):
    dependencies = [
        ("feedback", "0002_workspace"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("otp_totp", "0003_add_timestamps"),
        ("otp_static", "0003_add_timestamps"),
        ("axes", "0010_accessattemptexpiration"),
    ]

    operations = [migrations.RunPython(create_groups, migrations.RunPython.noop)]
