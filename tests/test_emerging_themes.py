"""Emerging themes: views no theme fits are grouped, and a lead adds a group to the codebook or dismisses it."""

import random

import pytest
from django.urls import reverse

from feedback import emerging
from feedback.models import AuditAction, AuditEvent, Element, Theme, ThemeProposal, ThemeTag

from .factories import SubmissionFactory

pytestmark = pytest.mark.django_db

TOPICS = {
    "parking": "staff parking charges at the hospital car park cost nurses on night shifts money every week",
    "interpreters": "interpreters for patients who speak little English are booked late and appointments are wasted",
}
FILLER = [
    "we",
    "think",
    "that",
    "this",
    "would",
    "help",
    "our",
    "service",
    "and",
    "the",
    "people",
    "we",
    "work",
    "with",
    "in",
    "the",
    "area",
]


def view_about(topic: str, rng: random.Random):
    words = TOPICS[topic].split()
    text = " ".join(rng.sample(words, len(words) - 3) + rng.sample(FILLER, 6))
    return SubmissionFactory(views=[{"element": Element.ENGAGEMENT, "text": text.capitalize() + "."}]).views.get()


@pytest.fixture
def unfitted():
    rng = random.Random(4)
    return {topic: [view_about(topic, rng) for _ in range(30)] for topic in TOPICS}


def test_views_no_theme_fits_are_grouped_by_what_they_share(unfitted):
    proposals = emerging.propose_themes(Element.ENGAGEMENT)

    assert len(proposals) == 2
    by_topic = {}
    for proposal in proposals:
        topic = "parking" if "parking" in " ".join(proposal.terms) else "interpreters"
        by_topic[topic] = proposal
        assert proposal.unfitted == 60
        assert len(proposal.ordered_examples()) == 5
    assert set(by_topic) == {"parking", "interpreters"}
    for topic, proposal in by_topic.items():
        assert proposal.size == 30
        assert {view.pk for view in proposal.ordered_examples()} <= {view.pk for view in unfitted[topic]}


def test_views_with_a_theme_or_a_suggestion_are_not_among_them(unfitted):
    theme = Theme.objects.create(element=Element.ENGAGEMENT, name="Car parking")
    for view in unfitted["parking"]:
        ThemeTag.objects.create(view=view, theme=theme, confidence=0.7, model_version="engagement-1")

    proposals = emerging.propose_themes(Element.ENGAGEMENT)

    assert all("parking" not in " ".join(proposal.terms) for proposal in proposals)


def test_training_again_replaces_open_proposals_and_keeps_decided_ones(unfitted, make_staff):
    lead = make_staff("Policy leads")
    first, second = emerging.propose_themes(Element.ENGAGEMENT)
    emerging.dismiss(first, by=lead)

    again = emerging.propose_themes(Element.ENGAGEMENT)

    assert ThemeProposal.objects.filter(pk=first.pk, status=ThemeProposal.DISMISSED).exists()
    assert not ThemeProposal.objects.filter(pk=second.pk).exists()
    assert len(again) == 2


def test_a_lead_adds_an_emerging_theme_to_the_codebook_from_the_workbench(client, make_staff, unfitted):
    lead = make_staff("Policy leads", client=client)
    proposal = emerging.propose_themes(Element.ENGAGEMENT)[0]

    page = client.get(reverse("admin:feedback_view_workbench"), {"element": "engagement"}).content.decode()
    assert "Emerging themes" in page and f"{proposal.size} of the 60 views no theme fitted" in page
    client.post(reverse("admin:feedback_view_proposal", args=[proposal.pk]), {"name": "Interpreting and parking"})

    theme = Theme.objects.get(element=Element.ENGAGEMENT, name="Interpreting and parking")
    proposal.refresh_from_db()
    assert (proposal.status, proposal.theme, proposal.decided_by) == (ThemeProposal.ACCEPTED, theme, lead)
    assert AuditEvent.objects.filter(action=AuditAction.THEME_PROPOSAL_DECIDED, actor=lead).exists()


def test_a_reviewer_neither_sees_nor_decides_emerging_themes(client, make_staff, unfitted):
    make_staff("Policy reviewers", client=client)
    proposal = emerging.propose_themes(Element.ENGAGEMENT)[0]

    page = client.get(reverse("admin:feedback_view_workbench"), {"element": "engagement"}).content.decode()
    response = client.post(reverse("admin:feedback_view_proposal", args=[proposal.pk]), {"name": "Mine"})

    assert "Emerging themes" not in page
    assert response.status_code == 403
    assert not Theme.objects.filter(name="Mine").exists()


def test_too_few_views_without_a_theme_propose_nothing():
    rng = random.Random(1)
    for _ in range(10):
        view_about("parking", rng)

    assert emerging.propose_themes(Element.ENGAGEMENT) == []
