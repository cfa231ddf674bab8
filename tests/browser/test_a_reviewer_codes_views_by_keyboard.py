import pytest

from feedback.models import Element, Stance, Theme, ThemeTag
from tests.factories import SubmissionFactory

from .keyboard import follow
from .staff import sign_in, staff_with_app

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

QUEUE = "/admin/feedback/view/workbench/?element=leadership"


@pytest.fixture
def reviewer():
    return staff_with_app("Policy reviewers", "kim.lee", email="kim.lee@example.nhs.uk")


@pytest.fixture
def lead():
    return staff_with_app("Policy leads", "ria.shah", email="ria.shah@example.nhs.uk")


@pytest.fixture
def ten_views():
    themes = [Theme.objects.create(element=Element.LEADERSHIP, name=n) for n in ("Boards", "Clinicians", "Culture")]
    views = [
        SubmissionFactory(views=[{"element": Element.LEADERSHIP, "text": f"View number {n}."}]).views.get()
        for n in range(10)
    ]
    return themes, views


def test_a_reviewer_codes_ten_views_with_the_keyboard_alone(open_browser, check, reviewer, ten_views):
    themes, views = ten_views
    user, device = reviewer
    page = open_browser()
    sign_in(page, user, device, then=QUEUE)
    check.page(page, "workbench")

    with page.expect_navigation():
        page.locator("button:has-text('Code this queue')").focus()
        page.keyboard.press("Enter")
    assert "10 of 10 left" in page.content()
    check.page(page, "coding")

    for left in range(10, 0, -1):
        assert f"{left} of {left} left" in page.content()
        page.keyboard.press("Escape")
        page.locator("body").focus()
        page.keyboard.press("2")
        page.keyboard.press("s")
        with page.expect_navigation():
            page.keyboard.press("Enter")

    assert "Nothing left in this queue." in page.content()
    tags = ThemeTag.objects.filter(view__in=views)
    assert tags.count() == 10
    assert set(tags.values_list("theme", "stance")) == {(themes[1].pk, Stance.SUPPORTS)}
    assert all(tag.assigned_by == user for tag in tags)


def test_single_key_shortcuts_can_be_turned_off_and_stay_off(open_browser, check, lead, ten_views):
    # A lead, so the page also shows the form that adds a theme.
    user, device = lead
    page = open_browser()
    sign_in(page, user, device, then=QUEUE)
    follow(page, "button:has-text('Code this queue')")
    assert page.locator("kbd").first.is_visible()

    page.locator("#shortcuts-toggle").uncheck()
    page.locator("body").focus()
    page.keyboard.press("1")

    assert not page.locator('input[name="theme"]').first.is_checked()
    assert not page.locator("kbd").first.is_visible(), "no shortcut is shown while they are off"
    page.reload()
    assert not page.locator("#shortcuts-toggle").is_checked(), "the choice is kept"
    page.locator("#new-theme-name").fill("Protected time")
    follow(page, "button:has-text('Add the theme')")
    assert "Added the theme Protected time to the codebook." in page.content()
    check.page(page, "shortcuts-off-with-a-new-theme")


def test_without_javascript_the_workbench_is_a_plain_form(open_browser, check, reviewer, ten_views):
    themes, views = ten_views
    user, device = reviewer
    page = open_browser(javascript=False)
    sign_in(page, user, device, then=QUEUE)
    follow(page, "button:has-text('Code this queue')")

    page.locator(f"#theme-{themes[0].pk}").check()
    page.locator(f"#stance-{themes[0].pk}").select_option(Stance.OPPOSES)
    follow(page, "button:has-text('Save and next')")

    assert "9 of 9 left" in page.content()
    check.page(page, "coding-without-javascript", javascript=False)
    assert ThemeTag.objects.get(view=views[0]).stance == Stance.OPPOSES
