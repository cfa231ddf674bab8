"""Machine suggestions: trained on confirmed tags, written for uncoded views, counted only once a person confirms."""

import random
from io import StringIO

import pytest
from django.core.management import call_command

from feedback import suggestions
from feedback.models import Element, RejectedSuggestion, SuggestionModel, Theme, ThemeTag

from .factories import SubmissionFactory

pytestmark = pytest.mark.django_db

VOCABULARY = {
    "Clinical leaders": "clinicians doctors nurses lead redesign pathways clinical leadership ward senior",
    "Board support": "board directors governance backing trust executives support assurance minutes",
    "Estates": "buildings estates property maintenance sites land rent",
}
FILLER = [
    "the",
    "we",
    "our",
    "should",
    "would",
    "could",
    "local",
    "services",
    "patients",
    "care",
    "staff",
    "time",
    "year",
    "plan",
    "more",
    "better",
]


def text(theme: str, rng: random.Random) -> str:
    words = rng.sample(VOCABULARY[theme].split(), 5) + rng.sample(FILLER, 8)
    rng.shuffle(words)
    return " ".join(words).capitalize() + "."


@pytest.fixture
def coded(make_staff):
    """25 views confirmed for each of two themes, 10 for a third (too few), and six uncoded views."""
    reviewer = make_staff("Policy reviewers")
    rng = random.Random(15)
    themes = {name: Theme.objects.create(element=Element.LEADERSHIP, name=name) for name in VOCABULARY}
    for name, count in (("Clinical leaders", 25), ("Board support", 25), ("Estates", 10)):
        for _ in range(count):
            view = SubmissionFactory(views=[{"element": Element.LEADERSHIP, "text": text(name, rng)}]).views.get()
            ThemeTag.objects.create(view=view, theme=themes[name], assigned_by=reviewer)
    uncoded = {
        name: [
            SubmissionFactory(views=[{"element": Element.LEADERSHIP, "text": text(name, rng)}]).views.get()
            for _ in range(3)
        ]
        for name in ("Clinical leaders", "Board support")
    }
    return themes, uncoded, reviewer


def train() -> str:
    out = StringIO()
    call_command("train_suggestions", "--element", Element.LEADERSHIP, stdout=out)
    return out.getvalue()


def test_training_writes_suggestions_for_uncoded_views_with_confidence_and_model_version(coded):
    themes, uncoded, _ = coded

    output = train()

    model = SuggestionModel.objects.get()
    assert "positive agreement" in output and model.version in output
    for name, views in uncoded.items():
        for view in views:
            tag = ThemeTag.objects.get(view=view)
            assert tag.theme == themes[name]
            assert tag.assigned_by is None and tag.confirmed_by is None
            assert 0.5 <= tag.confidence <= 1
            assert tag.model_version == model.version


def test_the_model_is_measured_against_people_on_tags_it_did_not_learn_from(coded):
    train()

    metrics = SuggestionModel.objects.get().metrics
    assert metrics["held_out"] == 12 and metrics["trained_on"] == 48
    assert metrics["decisions"] == 12 * 2
    assert 0.8 <= metrics["positive_agreement"] <= 1
    assert metrics["kappa"] is not None


def test_a_theme_with_too_few_confirmed_examples_is_never_suggested(coded):
    themes, _, _ = coded

    train()

    assert themes["Estates"].pk not in SuggestionModel.objects.get().themes
    assert not ThemeTag.objects.filter(theme=themes["Estates"], assigned_by__isnull=True).exists()


def test_no_model_is_made_before_any_theme_has_enough_examples(make_staff):
    theme = Theme.objects.create(element=Element.ENGAGEMENT, name="Staff briefings")
    view = SubmissionFactory(views=[{"element": Element.ENGAGEMENT}]).views.get()
    ThemeTag.objects.create(view=view, theme=theme, assigned_by=make_staff("Policy reviewers"))

    output = StringIO()
    call_command("train_suggestions", "--element", Element.ENGAGEMENT, stdout=output)

    assert "no theme has enough confirmed examples yet" in output.getvalue()
    assert not SuggestionModel.objects.exists()


def test_suggestions_are_not_counted_until_a_person_confirms_them(coded):
    _, uncoded, reviewer = coded
    confirmed_before = ThemeTag.objects.confirmed().count()

    train()
    suggestion = ThemeTag.objects.filter(view=uncoded["Board support"][0]).get()

    assert ThemeTag.objects.confirmed().count() == confirmed_before
    assert suggestion.confirm(by=reviewer)
    assert ThemeTag.objects.confirmed().count() == confirmed_before + 1


def test_a_rejected_suggestion_is_never_proposed_again_whatever_the_model(coded):
    themes, uncoded, reviewer = coded
    train()
    view = uncoded["Clinical leaders"][0]

    assert ThemeTag.objects.get(view=view).reject(by=reviewer)
    train()
    suggestions.train_and_suggest([Element.LEADERSHIP])

    assert SuggestionModel.objects.count() == 3
    assert RejectedSuggestion.objects.filter(view=view, theme=themes["Clinical leaders"]).exists()
    assert not ThemeTag.objects.filter(view=view, theme=themes["Clinical leaders"]).exists()
    assert ThemeTag.objects.filter(view=uncoded["Clinical leaders"][1], theme=themes["Clinical leaders"]).exists()


def test_retraining_replaces_old_suggestions_and_never_touches_what_people_confirmed(coded):
    _, uncoded, reviewer = coded
    train()
    confirmed = ThemeTag.objects.get(view=uncoded["Board support"][0])
    confirmed.confirm(by=reviewer)

    train()

    newest = SuggestionModel.objects.latest()
    unconfirmed = ThemeTag.objects.filter(assigned_by__isnull=True, confirmed_by__isnull=True)
    assert set(unconfirmed.values_list("model_version", flat=True)) == {newest.version}
    confirmed.refresh_from_db()
    assert confirmed.confirmed_by == reviewer
    assert not ThemeTag.objects.filter(view=confirmed.view, model_version=newest.version).exists(), (
        "a view a person has coded gets no more suggestions"
    )


def test_a_person_cannot_reject_a_tag_a_person_gave(coded):
    _, _, reviewer = coded
    given = ThemeTag.objects.confirmed().first()

    assert not given.reject(by=reviewer)
    assert ThemeTag.objects.filter(pk=given.pk).exists()


def test_the_dashboard_prints_each_elements_agreement_from_its_newest_model(client, make_staff, coded):
    train()
    make_staff("Digest readers", client=client)
    metrics = SuggestionModel.objects.get().metrics

    page = client.get("/admin/").content.decode()

    assert "Machine suggestions and reviewers" in page
    assert f"{metrics['positive_agreement']:.2f}" in page and f"{metrics['kappa']:.2f}" in page


TEXTS = {
    Element.LEADERSHIP: VOCABULARY["Board support"],
    Element.ENGAGEMENT: "staff briefings partners local authorities public meetings listening events newsletters",
}


def test_the_element_and_level_of_a_text_are_proposed_from_views_people_placed(client, make_staff):
    from feedback.mail import store
    from feedback.models import Level, MessageOrigin

    from .mail_samples import email

    rng = random.Random(3)
    for element, words in TEXTS.items():
        for _ in range(30):
            text = " ".join(rng.sample(words.split(), 5) + rng.sample(FILLER, 6))
            SubmissionFactory(views=[{"element": element, "text": text}])
    levels = {
        Level.NATIONAL: "nationally once procurement contracts",
        Level.SEVERAL: "neighbouring trusts together shared network",
        Level.LOCAL: "locally each trust own sites",
    }
    for level, words in levels.items():
        for _ in range(25):
            text = " ".join(rng.sample(words.split(), 4) + rng.sample(FILLER, 6))
            SubmissionFactory(views=[{"element": Element.PRIORITISATION, "level": level, "text": text}])
    for _ in range(25):
        text = " ".join(rng.sample(levels[Level.NATIONAL].split(), 3) + ["regional"] + rng.sample(FILLER, 6))
        SubmissionFactory(views=[{"element": Element.PRIORITISATION, "level": Level.REGIONAL, "text": text}])

    output = train_all()
    proposal = suggestions.propose("Our board directors want governance and backing from executives.")
    message, _ = store(
        email(text="The board directors and executives must give backing."), origin=MessageOrigin.MAILBOX
    )
    make_staff("Policy reviewers", client=client)
    page = client.get(f"/admin/feedback/inboundmessage/{message.pk}/change/").content.decode()

    assert "The element of a text: model element-1-" in output and "accuracy" in output
    assert proposal["element"][0] == Element.LEADERSHIP and proposal["element"][1] > 0.5
    assert "level" not in proposal, "a level only for prioritisation"
    national = suggestions.propose("Sign the procurement contracts once, nationally.")
    assert national["element"][0] == Element.PRIORITISATION
    assert national["level"][0] == Level.NATIONAL
    together = suggestions.propose("Prioritise this: neighbouring trusts in a shared network, together.")
    assert together["level"][0] == Level.SEVERAL, "the level for several local systems is learnt like the others"
    assert "The machine's guess for the whole message: Leadership focus and behaviours (" in page


def train_all() -> str:
    out = StringIO()
    call_command("train_suggestions", stdout=out)
    return out.getvalue()


def test_a_model_with_only_one_theme_that_has_enough_examples_still_suggests_it(make_staff):
    reviewer = make_staff("Policy reviewers")
    rng = random.Random(3)
    themes = {name: Theme.objects.create(element=Element.LEADERSHIP, name=name) for name in VOCABULARY}
    for name, count in (("Clinical leaders", 25), ("Board support", 8), ("Estates", 8)):
        for _ in range(count):
            view = SubmissionFactory(views=[{"element": Element.LEADERSHIP, "text": text(name, rng)}]).views.get()
            ThemeTag.objects.create(view=view, theme=themes[name], assigned_by=reviewer)
    uncoded = SubmissionFactory(
        views=[{"element": Element.LEADERSHIP, "text": text("Clinical leaders", rng)}]
    ).views.get()

    train()

    assert SuggestionModel.objects.get().themes == [themes["Clinical leaders"].pk]
    assert ThemeTag.objects.get(view=uncoded).theme == themes["Clinical leaders"]
