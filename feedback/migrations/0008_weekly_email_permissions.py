from django.contrib.auth.management import create_permissions
from django.db import migrations

GRANTS = {
    # Staff manage their own subscription on their own page; administrators
    # can manage anyone's and see every send.
    "Administrators": ["view_subscription", "add_subscription", "change_subscription", "view_weeklysend"],
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
    dependencies = [("feedback", "0007_weekly_emails")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
