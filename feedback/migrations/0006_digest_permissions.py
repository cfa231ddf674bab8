from django.contrib.auth.management import create_permissions
from django.db import migrations

GRANTS = {
    "Digest readers": ["view_digest"],
    "Policy reviewers": ["view_digest"],
    # Leads compile a chosen week (add) and approve.
    "Policy leads": ["view_digest", "add_digest", "approve_digest"],
}


def grant(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in GRANTS.items():
        group = Group.objects.get(name=name)
        group.permissions.add(*Permission.objects.filter(content_type__app_label="feedback", codename__in=codenames))


class Migration(migrations.Migration):
    dependencies = [("feedback", "0005_digests")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
