"""
The questions the QIPP letter asks: a view records which wording it answered
(views already sent through the form answered the first, one question for
every element; mail and spreadsheets answered none), an example of practice,
responses on behalf of an organisation, consent to share a view in full with
the operating framework's team, and a level for several local systems
together. Nothing is guessed for existing rows: the new answers stay empty.
"""

from django.db import migrations, models


def first_wording_for_form_views(apps, schema_editor):
    View = apps.get_model("feedback", "View")
    View.objects.filter(submission__source="web").update(question_version=1)


class Migration(migrations.Migration):
    dependencies = [
        ("feedback", "0021_call_window"),
    ]

    operations = [
        migrations.AddField(
            model_name="submission",
            name="consent_to_share",
            field=models.BooleanField(
                default=False, verbose_name="may be shared in full with the operating framework team"
            ),
        ),
        migrations.AddField(
            model_name="submission",
            name="on_behalf_of_organisation",
            field=models.BooleanField(default=False, verbose_name="responds on behalf of their organisation"),
        ),
        migrations.AddField(
            model_name="view",
            name="example",
            field=models.TextField(blank=True, max_length=5000),
        ),
        migrations.AddField(
            model_name="view",
            name="question_version",
            field=models.PositiveSmallIntegerField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="view",
            name="level",
            field=models.CharField(
                blank=True,
                choices=[
                    ("national", "Nationally, once for the whole NHS"),
                    ("regional", "Regionally, by each of the 10 strategic health authorities"),
                    ("several", "Across several local health systems together"),
                    ("local", "Locally, by each of the 152 primary care trusts"),
                ],
                max_length=10,
            ),
        ),
        migrations.RunPython(first_wording_for_form_views, migrations.RunPython.noop),
    ]
