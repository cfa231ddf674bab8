"""A lead's analysis pages in a browser: emerging themes, a campaign coded at once, reviewers' disagreements."""

import random

import pytest
from django.urls import reverse

from feedback import campaigns, coding, emerging
from feedback.models import Element, SecondOpinion, Theme, ThemeTag, View
from tests.factories import SubmissionFactory

from .keyboard import follow
from .staff import sign_in, staff_with_app

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

LETTER = (
    "As members of the Holmford Older People's Forum we ask that community hospital beds are kept open, because "
    "they let people recover near their families and stop delayed discharges from the acute trust. Please make "
    "intermediate care part of next year's operating framework."
)


@pytest.fixture
def lead():
    return staff_with_app("Policy leads", "ria.shah", email="ria.shah@example.nhs.uk")


def engagement_views_no_theme_fits():
    rng = random.Random(9)
    topics = [
        "parking charges for staff at the hospital car park cost night shift nurses money",
        "interpreters for patients with little English are booked too late and appointments wasted",
    ]
    for topic in topics:
        for _ in range(25):
            words = topic.split()
            rng.shuffle(words)
            SubmissionFactory(views=[{"element": Element.ENGAGEMENT, "text": " ".join(words).capitalize() + "."}])
    emerging.propose_themes(Element.ENGAGEMENT)


def test_a_lead_adds_an_emerging_theme_codes_a_campaign_and_settles_a_disagreement(
    open_browser, check, lead, settings
):
    settings.QIPP_SECOND_OPINION_SHARE = 1.0
    user, device = lead
    engagement_views_no_theme_fits()
    boards = Theme.objects.create(element=Element.LEADERSHIP, name="Boards")
    Theme.objects.create(element=Element.LEADERSHIP, name="Wards")
    for number in range(4):
        SubmissionFactory(views=[{"element": Element.LEADERSHIP, "text": LETTER.replace("ask", f"ask ({number})")}])
    campaigns.group_new_views()
    first = staff_with_app("Policy reviewers", "kim.lee", email="kim.lee@example.nhs.uk")[0]
    second = staff_with_app("Policy reviewers", "sam.ode", email="sam.ode@example.nhs.uk")[0]
    disputed = SubmissionFactory(views=[{"element": Element.LEADERSHIP, "text": "Boards hide behind wards."}])
    view = disputed.views.get()
    coding.code(view, by=first, chosen={boards.pk: ""})
    coding.give_second_opinion(view, by=second, chosen={})
    page = open_browser()

    sign_in(page, user, device, then="/admin/feedback/view/workbench/?element=engagement")
    page.locator(".workbench-proposal summary").first.click()
    check.page(page, "emerging-themes")
    page.locator(".workbench-proposal input[name='name']").first.fill("Practical barriers")
    follow(page, ".workbench-proposal button:has-text('Add to the codebook') >> nth=0")
    assert "Added the theme Practical barriers" in page.content()
    assert Theme.objects.filter(element=Element.ENGAGEMENT, name="Practical barriers").exists()

    letter = View.objects.filter(element=Element.LEADERSHIP, text__contains="Holmford").order_by("pk").first()
    page.goto(reverse("admin:feedback_view_coding", args=[letter.pk]) + "?element=leadership")
    assert "4 near-identical views" in page.content()
    check.page(page, "coding-a-campaign")
    page.locator(f"#theme-{boards.pk}").check()
    follow(page, "button:has-text('Save for all 4 uncoded views of the campaign')")
    assert ThemeTag.objects.filter(theme=boards, view__text__contains="Holmford").count() == 4

    page.goto("/admin/feedback/view/workbench/disagreements/?element=leadership")
    check.page(page, "disagreements")
    follow(page, "button:has-text('Settle with these themes')")
    assert SecondOpinion.objects.get(view=view).settled_by == user
