import pytest

from feedback.models import Submission

from .keyboard import focused_id, press_on, tab_to

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

ERROR_LINKS = ".nhsuk-error-summary__list a"

# The error summary's script focuses the summary when the page loads and, when
# a link in it is followed, the question itself; without JavaScript the link
# is a plain fragment link that scrolls the question into view.
DESCRIBED_BY_ERROR = """(el) => {
  const holder = el.closest("fieldset") || el;
  const ids = (holder.getAttribute("aria-describedby") || "").split(/\\s+/);
  return ids.some((id) => { const node = id && document.getElementById(id); return !!node && node.classList.contains("nhsuk-error-message"); });
}"""
IN_VIEW = "(el) => { const r = el.getBoundingClientRect(); return r.bottom > 0 && r.top < innerHeight; }"


def follow_each_error(page, check, state: str, *, javascript: bool, expected: list[str]) -> None:
    """The error summary lists each problem in order, and each link leads to its question."""
    assert page.title().startswith("Error: "), page.title()
    if javascript:
        assert page.evaluate("() => !!document.activeElement.closest('.nhsuk-error-summary')")
    check.page(page, state, javascript=javascript)
    links = page.locator(ERROR_LINKS)
    assert links.all_inner_texts() == expected
    for number, href in enumerate(links.evaluate_all("links => links.map((a) => a.getAttribute('href'))"), start=1):
        target = href.rsplit("#", 1)[1]
        page.evaluate("() => { document.activeElement.blur(); window.scrollTo(0, 0); }")
        tab_to(page, f".nhsuk-error-summary__list li:nth-child({number}) a")
        page.keyboard.press("Enter")
        field = page.locator(f"#{target}")
        if javascript:
            assert focused_id(page) == target, f"{href} did not focus its question"
        else:
            page.wait_for_url(f"**#{target}")
        assert field.evaluate(IN_VIEW) or page.locator(f"label[for={target}]").evaluate(IN_VIEW)
        assert field.evaluate(DESCRIBED_BY_ERROR), f"#{target} is not described by its error message"


@pytest.mark.parametrize("javascript", [True, False], ids=["with-javascript", "without-javascript"])
def test_a_respondent_who_makes_mistakes_is_led_to_each_error_from_the_error_summary(
    open_browser, check, settings, javascript
):
    page = open_browser(javascript=javascript)
    page.goto("/give-views/about-you/")
    tab_to(page, "#id_email")
    page.keyboard.type("priya.shah@")
    page.locator("#id_on_behalf_of_organisation").check()
    press_on(page, "button:has-text('Continue')")
    follow_each_error(
        page,
        check,
        "about-you-errors",
        javascript=javascript,
        expected=[
            "Enter an email address in the correct format, like name@example.nhs.uk",
            "Select your role",
            "Enter the name of the organisation you are responding for",
            "Select the type of organisation",
            "Select a region",
        ],
    )
    # What was typed is kept, to be put right.
    assert page.locator("#id_email").input_value() == "priya.shah@"
    page.locator("#id_email").fill("")
    page.locator("#id_role_1").check()
    page.locator("#id_organisation").fill("Northfield Community Health")
    page.locator("#id_organisation_type").select_option(label="Primary care trust")
    page.locator("#id_region_1").check()
    press_on(page, "button:has-text('Continue')")

    press_on(page, "button:has-text('Continue')")
    follow_each_error(
        page,
        check,
        "choose-element-errors",
        javascript=javascript,
        expected=["Select which part of the challenge this view is about"],
    )
    page.locator("#id_element_0").check()
    press_on(page, "button:has-text('Continue')")
    press_on(page, "button:has-text('Save and continue')")
    follow_each_error(
        page,
        check,
        "your-view-errors",
        javascript=javascript,
        expected=["Enter your view", "Select where this would be best organised"],
    )
    page.locator("#id_level_0").check()
    page.locator("#id_text").fill("Buy common supplies once for the whole NHS.")
    press_on(page, "button:has-text('Save and continue')")

    press_on(page, "button:has-text('Continue')")
    follow_each_error(
        page,
        check,
        "your-views-errors",
        javascript=javascript,
        expected=["Select yes if you want to add another view"],
    )
    page.locator("input[name=add_another][value=no]").check()
    press_on(page, "button:has-text('Continue')")

    page.locator("#id_consent_to_contact").check()
    press_on(page, "button:has-text('Continue')")
    follow_each_error(
        page,
        check,
        "permissions-errors",
        javascript=javascript,
        expected=["Give an email address in 'About you' so we can contact you, or leave this unticked"],
    )

    # An email address given, then taken away after agreeing to be contacted:
    # the check page finds the answer that no longer holds.
    press_on(page, "text=add one in 'About you'")
    page.locator("#id_email").fill("priya.shah@example.nhs.uk")
    press_on(page, "button:has-text('Continue')")
    page.locator("input[name=add_another][value=no]").check()
    press_on(page, "button:has-text('Continue')")
    page.locator("#id_consent_to_contact").check()
    press_on(page, "button:has-text('Continue')")
    assert page.title().startswith("Check your answers")
    press_on(page, "a[href*='about-you'][href$='#id_email']")
    page.locator("#id_email").fill("")
    press_on(page, "button:has-text('Continue')")
    assert page.title().startswith("Error: Check your answers"), page.title()
    check.page(page, "check-your-answers-problem", javascript=javascript)
    problem = page.locator(ERROR_LINKS)
    assert problem.all_inner_texts() == [
        "Give an email address in 'About you' so we can contact you, or leave this unticked"
    ]
    press_on(page, ERROR_LINKS)
    assert page.url.endswith("/give-views/permissions/?change=1#id_consent_to_contact")
    assert page.locator("#id_consent_to_contact").evaluate(IN_VIEW)
    page.locator("#id_consent_to_contact").uncheck()
    press_on(page, "button:has-text('Continue')")

    # Sent sooner than a person could have filled the form in.
    settings.QIPP_MIN_FILL_SECONDS = 3600
    press_on(page, "button:has-text('Send your views')")
    assert page.title().startswith("Error: Check your answers"), page.title()
    assert "sent very quickly" in page.locator(".nhsuk-error-summary").inner_text()
    check.page(page, "check-your-answers-too-quick", javascript=javascript)
    assert not Submission.objects.exists()

    settings.QIPP_MIN_FILL_SECONDS = 0
    press_on(page, "button:has-text('Send your views')")
    assert page.title().startswith("Views received")
    submission = Submission.objects.get()
    assert (submission.email, submission.consent_to_contact) == ("", False)
