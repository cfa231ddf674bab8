import re
from datetime import UTC, datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core import mail
from django.core.management import call_command
from django.db.models import F

from feedback.models import (
    REFERENCE_ALPHABET,
    Attachment,
    Campaign,
    Element,
    InboundMessage,
    Level,
    MessageStatus,
    OrganisationType,
    OutgoingEmail,
    Region,
    Role,
    Status,
    Submission,
    SuggestionModel,
    Theme,
    ThemeTag,
    View,
    ViewFingerprint,
    answerable,
)

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 26, 15, 30, tzinfo=UTC)  # a Thursday
REFERENCE = re.compile(rf"^[{REFERENCE_ALPHABET}]{{3}}-[{REFERENCE_ALPHABET}]{{3}}-[{REFERENCE_ALPHABET}]{{3}}$")


def seed(submissions=60, **options) -> str:
    out = StringIO()
    with time_machine.travel(NOW, tick=False):
        call_command("seed_demo", submissions=submissions, stdout=out, **options)
    return out.getvalue()


def snapshot() -> list[tuple]:
    return [
        (
            s.reference,
            s.token,
            s.received_at,
            s.name,
            s.email,
            s.role,
            s.organisation,
            s.region,
            s.status,
            s.consent_to_quote,
            [(v.element, v.level, v.text) for v in s.views.all()],
        )
        for s in Submission.objects.order_by("reference").prefetch_related("views")
    ]


def test_it_adds_the_requested_number_of_submissions_each_with_one_to_three_views():
    output = seed(submissions=120)

    assert Submission.objects.count() == 120
    per_submission = {s.pk: s.views.count() for s in Submission.objects.all()}
    assert set(per_submission.values()) == {1, 2, 3}
    assert View.objects.count() == sum(per_submission.values())
    assert re.fullmatch(
        rf"Added 120 submissions, {View.objects.count()} views and {ThemeTag.objects.count()} theme tags "
        r"in [\d.]+ seconds \([\d,]+ submissions a second\)\.\n"
        r"Added 40 emails to the mailbox's sorting queue\.\n"
        r"Grouped near-identical views: \d+ campaign\(s\) in all\.\n"
        r"Trained \d+ suggestion model\(s\) on the confirmed tags\.\n",
        output,
    )


def test_it_covers_every_element_level_region_organisation_type_and_role():
    seed(submissions=20)

    assert set(View.objects.values_list("element", flat=True)) == set(Element.values)
    assert set(View.objects.exclude(level="").values_list("level", flat=True)) == set(Level.values)
    # "Not known" is for mail and imports; the demo's web submissions always say.
    assert set(Submission.objects.values_list("region", flat=True)) == {value for value, _ in answerable(Region)}
    assert set(Submission.objects.values_list("organisation_type", flat=True)) == {
        value for value, _ in answerable(OrganisationType)
    }
    assert set(Submission.objects.values_list("role", flat=True)) == {value for value, _ in answerable(Role)}


def test_only_prioritisation_views_name_a_level_and_every_one_of_them_does():
    seed(submissions=150)

    assert not View.objects.filter(element=Element.PRIORITISATION, level="").exists()
    assert not View.objects.exclude(element=Element.PRIORITISATION).exclude(level="").exists()
    assert View.objects.filter(element=Element.PRIORITISATION).count() > 20


def test_references_are_unique_and_in_the_reference_format_even_when_run_twice_with_the_same_seed():
    seed(submissions=80, seed=3)
    seed(submissions=80, seed=3)

    references = list(Submission.objects.values_list("reference", flat=True))
    assert len(references) == 160
    assert len(set(references)) == 160
    assert all(REFERENCE.match(reference) for reference in references)
    assert len(set(Submission.objects.values_list("token", flat=True))) == 160


def test_the_same_seed_gives_the_same_data_and_another_seed_other_data():
    seed(submissions=40, seed=11)
    first = snapshot()
    Submission.objects.all().delete()

    seed(submissions=40, seed=11)
    assert snapshot() == first
    Submission.objects.all().delete()

    seed(submissions=40, seed=12)
    assert snapshot() != first


def test_it_spreads_received_at_over_the_requested_iso_weeks_with_more_on_weekdays():
    seed(submissions=400, weeks=3)

    london = ZoneInfo("Europe/London")
    first_monday = datetime(2026, 11, 9, tzinfo=london)  # two ISO weeks before the week of NOW
    received = [moment.astimezone(london) for moment in Submission.objects.values_list("received_at", flat=True)]
    assert min(received) >= first_monday
    assert max(received) <= NOW
    assert {moment.isocalendar().week for moment in received} == {46, 47, 48}
    weekdays = sum(1 for moment in received if moment.weekday() < 5)
    assert weekdays > 0.75 * len(received)


def test_views_are_between_40_and_about_250_words_and_vary():
    seed(submissions=150)

    texts = list(View.objects.values_list("text", flat=True))
    lengths = [len(text.split()) for text in texts]
    assert min(lengths) >= 40
    assert max(lengths) <= 270
    assert max(lengths) > 100
    assert len(set(texts)) == len(texts)


def test_it_makes_respondents_varied_and_queues_no_emails():
    seed(submissions=400)

    with_email = Submission.objects.exclude(email="")
    assert 0.5 < with_email.count() / 400 < 0.7
    assert all(
        email.endswith(("@example.nhs.uk", "@example.org")) for email in with_email.values_list("email", flat=True)
    )
    assert not Submission.objects.filter(email="").exclude(name="").exists()
    assert 0.3 < Submission.objects.filter(consent_to_quote=True).count() / 400 < 0.5
    assert not Submission.objects.filter(email="", consent_to_contact=True).exists()
    assert Submission.objects.filter(consent_to_contact=True).exists()
    assert not OutgoingEmail.objects.exists(), "demo respondents are not emailed"
    assert Submission.objects.filter(status=Status.NEW).count() > 200
    # Every triage status; only a respondent withdraws a submission.
    assert set(Submission.objects.values_list("status", flat=True)) == set(Status.values) - {Status.WITHDRAWN}
    assert set(Submission.objects.values_list("source", flat=True)) == {"web", "email", "import"}
    assert mail.outbox == []


def test_it_makes_a_codebook_and_tags_some_views_with_themes_of_their_own_element():
    seed(submissions=300)

    themes_per_element = {element: Theme.objects.filter(element=element).count() for element in Element.values}
    assert all(4 <= count <= 6 for count in themes_per_element.values())
    tagged = View.objects.filter(tags__isnull=False).distinct().count()
    assert 0.12 < tagged / View.objects.count() < 0.28
    assert not ThemeTag.objects.exclude(theme__element=F("view__element")).exists()
    assert ThemeTag.objects.exclude(stance="").exists()


def test_without_staff_the_tags_are_confirmed_by_demo_reviewers_who_cannot_sign_in():
    seed(submissions=300)

    assert not ThemeTag.objects.filter(assigned_by__isnull=True).exists()
    coders = User.objects.filter(pk__in=ThemeTag.objects.values("assigned_by"))
    assert coders.exists()
    assert not coders.filter(is_active=True).exists()
    assert not coders.filter(is_staff=True).exists()
    assert not any(coder.has_usable_password() for coder in coders)


def test_with_staff_the_tags_are_confirmed_by_them():
    lead = User.objects.create_user("lead", is_staff=True)
    seed(submissions=300)

    assert set(ThemeTag.objects.values_list("assigned_by", flat=True)) == {lead.pk}


def test_some_views_are_copies_of_template_letters_grouped_as_campaigns():
    out = seed(submissions=1500)

    campaigns = Campaign.objects.all()
    assert campaigns.exists()
    in_campaigns = ViewFingerprint.objects.filter(campaign__isnull=False).count()
    assert 0.01 < in_campaigns / View.objects.count() < 0.06
    # Each letter's copies make one campaign: two letters per element at most.
    assert campaigns.count() <= 8
    assert "campaign(s) in all" in out


def test_without_analysis_it_leaves_grouping_and_training_to_the_worker():
    seed(submissions=100, analysis=False)

    assert not ViewFingerprint.objects.exists()
    assert not SuggestionModel.objects.exists()


def test_running_it_again_adds_more_and_reuses_the_codebook():
    seed(submissions=30)
    themes = Theme.objects.count()

    seed(submissions=30, seed=99)

    assert Submission.objects.count() == 60
    assert Theme.objects.count() == themes


def test_received_at_and_views_stay_within_the_weeks_when_now_is_just_after_midnight_on_monday():
    with time_machine.travel(datetime(2026, 11, 23, 0, 5, tzinfo=UTC), tick=False):
        call_command("seed_demo", submissions=50, weeks=2, verbosity=0)

    received = list(Submission.objects.values_list("received_at", flat=True))
    assert min(received) >= datetime(2026, 11, 16, tzinfo=UTC)
    assert max(received) <= datetime(2026, 11, 23, 0, 5, tzinfo=UTC)
    assert max(received) - min(received) > timedelta(days=3)


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_loading_side_by_side_on_postgresql_gives_the_same_data_as_loading_alone(monkeypatch):
    from feedback.management.commands import seed_demo

    monkeypatch.setattr(seed_demo.CopyWriter, "chunk_size", 100)
    # Loading alone: the suggestions trained afterwards would add tags of their own.
    seed(submissions=1000, seed=5, workers=1, analysis=False)
    alone, tags = snapshot(), ThemeTag.objects.count()
    Submission.objects.all().delete()

    seed(submissions=1000, seed=5, workers=2, analysis=False)

    assert snapshot() == alone
    assert len(alone) == 1000
    assert ThemeTag.objects.count() == tags > 0


def test_it_fills_the_mailbox_queue_with_mail_to_sort_and_some_automatic_mail():
    output = seed(submissions=10, messages=120)

    waiting = InboundMessage.objects.filter(status=MessageStatus.TO_SORT)
    assert "Added 120 emails to the mailbox's sorting queue." in output
    assert waiting.count() > 90
    assert InboundMessage.objects.filter(status=MessageStatus.IGNORED).exists()
    assert not InboundMessage.objects.filter(status=MessageStatus.QUARANTINED).exists()
    assert all(message.sender_email and message.text for message in waiting)
    assert Attachment.objects.filter(filename__endswith=".docx").exclude(text="").exists()
    assert all(message.arrived_at <= NOW for message in InboundMessage.objects.all())


def test_running_it_again_with_the_same_seed_adds_no_second_copy_of_its_mail():
    seed(submissions=5, messages=30)
    seed(submissions=5, messages=30)

    assert InboundMessage.objects.count() == 30
