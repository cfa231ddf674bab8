"""
The mailbox: messages kept whole with their attachments, where the IMAP poll
stands, replies in the outbox, and "Not known" for who sent a view when mail
or a spreadsheet does not say. Reviewers sort mail; leads also import.
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

# Reviewers sort mail; leads also import spreadsheets.
REVIEWERS = ["view_inboundmessage", "sort_message", "view_attachment"]
LEADS = REVIEWERS + ["import_submissions"]


def grant_mail_permissions(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in {"Policy reviewers": REVIEWERS, "Policy leads": LEADS}.items():
        group = Group.objects.filter(name=name).first()
        if group is not None:
            group.permissions.add(
                *Permission.objects.filter(content_type__app_label="feedback", codename__in=codenames)
            )


class Migration(migrations.Migration):

    dependencies = [
        ('feedback', '0011_outbox'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='MailboxState',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('mailbox', models.CharField(max_length=500, unique=True)),
                ('uidvalidity', models.BigIntegerField(null=True)),
                ('last_uid', models.BigIntegerField(default=0)),
                ('polled_at', models.DateTimeField(null=True)),
                ('last_error', models.TextField(blank=True)),
                ('leased_until', models.DateTimeField(null=True)),
            ],
        ),
        migrations.AlterModelOptions(
            name='submission',
            options={'ordering': ['-received_at'], 'permissions': [('view_personal_details', "Can see respondents' names and email addresses"), ('export_submissions', 'Can export submissions'), ('view_dashboard', 'Can see aggregate figures'), ('import_submissions', 'Can import responses from a spreadsheet')]},
        ),
        migrations.AlterField(
            model_name='auditevent',
            name='action',
            field=models.CharField(choices=[('password_accepted', 'Password accepted (second factor next)'), ('signed_in', 'Signed in'), ('sign_in_failed', 'Sign-in failed'), ('locked_out', 'Locked out'), ('lockout_removed', 'Removed a lockout'), ('two_factor_failed', 'Wrong second-factor code'), ('two_factor_replayed', 'Second-factor code used again'), ('two_factor_enrolled', 'Set up two-factor authentication'), ('two_factor_reset', 'Two-factor authentication reset'), ('account_created', 'Created an account'), ('access_changed', "Changed an account's access"), ('password_changed', 'Changed a password'), ('password_reset_sent', 'Sent a password reset link'), ('viewed_personal_details', 'Viewed personal details'), ('filtered_personal_details', 'Filtered by personal details'), ('exported', 'Exported submissions'), ('status_changed', 'Changed status'), ('themes_changed', 'Changed themes'), ('note_added', 'Added a note'), ('details_changed', 'Changed submission details'), ('message_sorted', 'Sorted a message into views'), ('message_set_aside', 'Set a message aside (not a view, or a duplicate)'), ('attachment_downloaded', 'Downloaded an attachment'), ('responses_imported', 'Imported responses from a spreadsheet')], max_length=30),
        ),
        migrations.AlterField(
            model_name='outgoingemail',
            name='kind',
            field=models.CharField(choices=[('acknowledgement', 'Acknowledgement to a respondent'), ('weekly_summary', 'Weekly summary'), ('password_link', 'Link to choose a password'), ('account_change', 'Account change notice'), ('mail_reply', 'Reply acknowledging a view sent by email')], max_length=20),
        ),
        migrations.AlterField(
            model_name='submission',
            name='organisation',
            field=models.CharField(blank=True, max_length=200),
        ),
        migrations.AlterField(
            model_name='submission',
            name='organisation_type',
            field=models.CharField(choices=[('department_of_health', 'Department of Health'), ('sha', 'Strategic health authority'), ('pct', 'Primary care trust'), ('acute_trust', 'NHS trust (acute)'), ('foundation_trust', 'NHS foundation trust'), ('mental_health_trust', 'Mental health trust'), ('ambulance_trust', 'Ambulance trust'), ('care_trust', 'Care trust'), ('primary_care', 'GP practice or other primary care contractor'), ('local_authority', 'Local authority (including social care)'), ('voluntary', 'Voluntary or community sector'), ('independent', 'Independent sector provider'), ('professional_body', 'Professional body or trade union'), ('patient_group', 'Patient or public representative group'), ('public', 'Individual member of the public'), ('other', 'Other'), ('not_known', 'Not known')], max_length=30),
        ),
        migrations.AlterField(
            model_name='submission',
            name='region',
            field=models.CharField(choices=[('north_east', 'North East'), ('north_west', 'North West'), ('yorkshire_humber', 'Yorkshire and the Humber'), ('east_midlands', 'East Midlands'), ('west_midlands', 'West Midlands'), ('east_of_england', 'East of England'), ('london', 'London'), ('south_east_coast', 'South East Coast'), ('south_central', 'South Central'), ('south_west', 'South West'), ('national', 'National / not region-specific'), ('not_known', 'Not known')], max_length=20),
        ),
        migrations.AlterField(
            model_name='submission',
            name='role',
            field=models.CharField(choices=[('doctor', 'Doctor'), ('nurse_midwife', 'Nurse or midwife'), ('allied_health', 'Allied health professional'), ('other_clinical', 'Other clinical'), ('manager', 'Manager'), ('board', 'Board member or executive'), ('commissioner', 'Commissioner'), ('finance', 'Finance'), ('social_care', 'Social care professional'), ('patient_carer', 'Patient or carer'), ('public', 'Member of the public'), ('other', 'Other'), ('not_known', 'Not known')], max_length=20),
        ),
        migrations.CreateModel(
            name='InboundMessage',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('dedup_key', models.CharField(editable=False, max_length=300, unique=True)),
                ('message_id', models.CharField(blank=True, editable=False, max_length=998)),
                ('raw', models.BinaryField()),
                ('size', models.PositiveIntegerField(editable=False)),
                ('origin', models.CharField(choices=[('mailbox', 'The mailbox'), ('backlog', 'Imported backlog')], editable=False, max_length=10)),
                ('arrived_at', models.DateTimeField(editable=False)),
                ('sent_at', models.DateTimeField(editable=False)),
                ('stored_at', models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                ('sender_name', models.CharField(blank=True, editable=False, max_length=200)),
                ('sender_email', models.CharField(blank=True, editable=False, max_length=254)),
                ('subject', models.CharField(blank=True, editable=False, max_length=500)),
                ('references', models.TextField(blank=True, editable=False)),
                ('text', models.TextField(blank=True, editable=False)),
                ('status', models.CharField(choices=[('to_sort', 'Waiting to be sorted'), ('sorted', 'Sorted into views'), ('not_a_view', 'Not a view'), ('duplicate', 'Duplicate'), ('ignored', 'Ignored (automatic mail)'), ('quarantined', 'Quarantined (could not be read)')], default='to_sort', max_length=12)),
                ('reason', models.TextField(blank=True)),
                ('sorted_at', models.DateTimeField(blank=True, editable=False, null=True)),
                ('duplicate_of', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='duplicate_messages', to='feedback.submission')),
                ('sorted_by', models.ForeignKey(blank=True, editable=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('submission', models.OneToOneField(blank=True, editable=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='message', to='feedback.submission')),
            ],
            options={
                'verbose_name': 'message',
                'ordering': ['-arrived_at'],
                'permissions': [('sort_message', 'Can sort mail into views')],
            },
        ),
        migrations.CreateModel(
            name='Attachment',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('position', models.PositiveSmallIntegerField()),
                ('filename', models.CharField(max_length=200)),
                ('content_type', models.CharField(max_length=200)),
                ('size', models.PositiveIntegerField()),
                ('content', models.BinaryField()),
                ('text', models.TextField(blank=True)),
                ('note', models.CharField(blank=True, max_length=500)),
                ('message', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='attachments', to='feedback.inboundmessage')),
            ],
            options={
                'ordering': ['message_id', 'position'],
            },
        ),
        migrations.AddField(
            model_name='outgoingemail',
            name='in_reply_to',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='replies', to='feedback.inboundmessage'),
        ),
        migrations.AddIndex(
            model_name='inboundmessage',
            index=models.Index(condition=models.Q(('status', 'to_sort')), fields=['arrived_at'], name='message_to_sort'),
        ),
        migrations.AddIndex(
            model_name='inboundmessage',
            index=models.Index(fields=['status', '-arrived_at'], name='message_status_arrived'),
        ),
        migrations.AddConstraint(
            model_name='attachment',
            constraint=models.UniqueConstraint(fields=('message', 'position'), name='attachment_position_unique'),
        ),
        migrations.RunPython(grant_mail_permissions, migrations.RunPython.noop),
    ]
