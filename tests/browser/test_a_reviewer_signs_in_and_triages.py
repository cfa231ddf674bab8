import csv
import io
from datetime import timedelta

import pytest

from feedback import digests
from feedback.models import Element, Level, Stance, Theme, ThemeTag
from tests.factories import SubmissionFactory

from .keyboard import follow
from .staff import PASSWORD, code_for, staff_with_app

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def policy_lead():
    return staff_with_app("Policy leads", "alex.morgan", email="alex.morgan@example.nhs.uk", first_name="Alex")


@pytest.fixture
def last_week():
    """Views received last week, compiled into its digest."""
    week = digests.last_complete_week()
    monday = week.start + timedelta(hours=10)
    SubmissionFactory(
        received_at=monday,
        consent_to_quote=True,
        views=[
            {
                "element": Element.PRIORITISATION,
                "level": Level.NATIONAL,
                "text": "Buy common supplies once, nationally.",
            }
        ],
    )
    SubmissionFactory(
        received_at=monday + timedelta(days=1),
        views=[{"element": Element.PRIORITISATION, "level": Level.LOCAL, "text": "Leave estates to each trust."}],
    )
    SubmissionFactory(
        received_at=monday + timedelta(days=2),
        views=[{"element": Element.ENGAGEMENT, "text": "Ask patients before redesigning discharge."}],
    )
    Theme.objects.create(element=Element.PRIORITISATION, name="Shared procurement")
    Theme.objects.create(element=Element.ENGAGEMENT, name="Patient voice")
    return digests.compile_digest(week=week)


@pytest.mark.parametrize("javascript", [True, False], ids=["with-javascript", "without-javascript"])
def test_a_reviewer_signs_in_with_two_factor_filters_tags_a_view_opens_a_digest_and_exports(
    open_browser, check, policy_lead, last_week, javascript
):
    user, device = policy_lead
    page = open_browser(javascript=javascript)

    def checked(state: str) -> None:
        check.page(page, state, javascript=javascript)

    page.goto("/admin/")
    assert "/staff/sign-in/" in page.url
    checked("sign-in")
    page.locator("#id_username").fill(user.username)
    page.locator("#id_password").fill("not the password")
    follow(page, "button:has-text('Continue')")
    assert page.title().startswith("Error: Sign in"), page.title()
    checked("sign-in-error")
    page.locator("#id_username").fill(user.username)
    page.locator("#id_password").fill(PASSWORD)
    follow(page, "button:has-text('Continue')")

    assert "/staff/two-factor/" in page.url
    assert page.title().startswith("Enter your security code")
    checked("two-factor")
    page.locator("#id_code").fill(code_for(device))
    follow(page, "button:has-text('Sign in')")

    assert page.url.endswith("/admin/")
    assert page.locator("h1").inner_text() == "Dashboard"
    checked("dashboard")

    follow(page, "#content-main a[href='/admin/feedback/submission/']:text-is('Submissions')")
    checked("submissions")
    follow(page, "#changelist-filter a[href='?element=prioritisation']")
    assert "element=prioritisation" in page.url
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 2
    checked("submissions-filtered")
    filtered_url = page.url

    follow(page, "#result_list tbody tr:has-text('National') th a")
    checked("submission")
    follow(page, ".inline-related a.inlinechangelink")
    checked("view")
    page.locator("select[name='tags-0-theme']").select_option(label="Shared procurement")
    page.locator("select[name='tags-0-stance']").select_option(Stance.SUPPORTS)
    follow(page, "input[name='_save']")
    assert "was changed successfully" in page.locator(".messagelist").inner_text()
    tag = ThemeTag.objects.get()
    assert (tag.theme.name, tag.stance, tag.assigned_by) == ("Shared procurement", Stance.SUPPORTS, user)
    assert tag.view.text == "Buy common supplies once, nationally."

    page.goto("/admin/feedback/digest/")
    checked("digests")
    follow(page, f"#result_list a[href*='/{last_week.pk}/']")
    assert page.url.endswith(f"/admin/feedback/digest/{last_week.pk}/read/")
    checked("digest")
    assert "Buy common supplies once, nationally." in page.locator("#content").inner_text()

    page.goto(filtered_url)
    with page.expect_download() as download:
        page.locator("a:has-text('Export CSV')").click()
    exported = list(csv.DictReader(io.StringIO(download.value.path().read_text(encoding="utf-8-sig"))))
    assert sorted(row["Level"] for row in exported) == sorted([Level.NATIONAL.label, Level.LOCAL.label])
