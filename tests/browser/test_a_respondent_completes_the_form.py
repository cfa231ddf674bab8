import re

import pytest

from feedback.models import Element, Level, OrganisationType, Region, Role, Submission
from feedback.questions import CURRENT_VERSION, QUESTIONS

from .keyboard import press_on, tab_to

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

SUFFIX = " - QIPP challenge feedback - NHS"


def choose(page, first_option: str, option: str) -> None:
    """Tab into a radio group and move to an option with the arrow keys, as a keyboard user does."""
    tab_to(page, first_option)
    page.keyboard.press("Space")
    while not page.locator(option).is_checked():
        page.keyboard.press("ArrowDown")


@pytest.mark.parametrize("javascript", [True, False], ids=["with-javascript", "without-javascript"])
def test_a_respondent_completes_the_form_with_the_keyboard_alone_and_gets_a_receipt(open_browser, check, javascript):
    page = open_browser(javascript=javascript)

    page.goto("/")
    assert page.title() == "Give your views on the QIPP challenge" + SUFFIX
    check.page(page, "start", javascript=javascript)
    press_on(page, "text=Start now")

    assert page.title() == "About you" + SUFFIX
    check.page(page, "about-you", javascript=javascript)
    tab_to(page, "#id_name")
    page.keyboard.type("Priya Shah")
    tab_to(page, "#id_email")
    page.keyboard.type("priya.shah@example.nhs.uk")
    choose(page, "#id_role_0", f"input[name=role][value={Role.NURSE_MIDWIFE}]")
    tab_to(page, "#id_organisation")
    page.keyboard.type("Northfield Community Health")
    tab_to(page, "#id_organisation_type")
    page.keyboard.type("Primary care")
    assert page.locator("#id_organisation_type").input_value() == OrganisationType.PRIMARY_CARE_TRUST
    choose(page, "#id_region_0", f"input[name=region][value={Region.NORTH_WEST}]")
    press_on(page, "button:has-text('Continue')")

    assert page.title() == "Which part of the challenge is your view about?" + SUFFIX
    check.page(page, "choose-element", javascript=javascript)
    choose(page, "#id_element_0", f"input[name=element][value={Element.PRIORITISATION}]")
    press_on(page, "button:has-text('Continue')")

    asked = QUESTIONS[CURRENT_VERSION]
    assert page.title() == asked[Element.PRIORITISATION].text + SUFFIX
    assert page.locator("h1").inner_text() == asked[Element.PRIORITISATION].text
    check.page(page, "your-view", javascript=javascript)
    tab_to(page, "#id_text")
    page.keyboard.type("Procurement of common supplies should be organised once per region.")
    choose(page, "#id_level_0", f"input[name=level][value={Level.REGIONAL}]")
    tab_to(page, "#id_example")
    page.keyboard.type("Our region buys dressings once and saved 8% last year.")
    press_on(page, "button:has-text('Save and continue')")

    assert page.title() == "Your views" + SUFFIX
    check.page(page, "your-views", javascript=javascript)
    choose(page, "#id_add_another_0", "input[name=add_another][value=yes]")
    press_on(page, "button:has-text('Continue')")
    choose(page, "#id_element_0", f"input[name=element][value={Element.ENGAGEMENT}]")
    press_on(page, "button:has-text('Continue')")
    assert page.locator("h1").inner_text() == asked[Element.ENGAGEMENT].text
    tab_to(page, "#id_text")
    page.keyboard.type("Joint discharge teams with social care would stop patients waiting in acute beds.")
    press_on(page, "button:has-text('Save and continue')")
    assert page.locator("h1").inner_text() == "You have given 2 views"
    choose(page, "#id_add_another_0", "input[name=add_another][value=no]")
    press_on(page, "button:has-text('Continue')")

    assert page.title() == "Principles and permissions" + SUFFIX
    check.page(page, "principles-and-permissions", javascript=javascript)
    tab_to(page, "#id_principles_0")
    page.keyboard.press("Space")
    tab_to(page, "#id_consent_to_quote")
    page.keyboard.press("Space")
    tab_to(page, "#id_consent_to_share")
    page.keyboard.press("Space")
    tab_to(page, "#id_consent_to_contact")
    page.keyboard.press("Space")
    press_on(page, "button:has-text('Continue')")

    assert page.title() == "Check your answers before sending" + SUFFIX
    check.page(page, "check-your-answers", javascript=javascript)
    answers = page.locator("main").inner_text()
    assert "Northfield Community Health" in answers
    assert "View 2: Engaging staff, partners and the public" in answers
    press_on(page, "button:has-text('Send your views')")

    assert page.title() == "Views received" + SUFFIX
    check.page(page, "receipt", javascript=javascript)
    reference = page.locator(".app-reference").inner_text()
    assert re.fullmatch(r"[A-Z0-9]{3}-[A-Z0-9]{3}-[A-Z0-9]{3}", reference)
    submission = Submission.objects.get(reference=reference)
    assert [view.element for view in submission.views.order_by("position")] == [
        Element.PRIORITISATION,
        Element.ENGAGEMENT,
    ]
    assert submission.consent_to_quote and submission.consent_to_contact and submission.consent_to_share
    assert submission.views.get(position=1).example == "Our region buys dressings once and saved 8% last year."
    assert submission.email == "priya.shah@example.nhs.uk"
