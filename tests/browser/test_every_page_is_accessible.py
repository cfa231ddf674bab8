"""
The pages the journeys do not pass through, each in every state a person can
meet it in: axe's WCAG 2.2 A and AA rules, focus always visible, reflow at 320
CSS pixels, and a screenshot.
"""

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from feedback import digests, emails
from feedback.models import KEPT_FOR, CallWindow, Element, EmailStatus, Export, ExportStatus, Subscription, Theme

from ..factories import AcknowledgementFactory, SubmissionFactory
from .keyboard import focused_id, follow
from .staff import PASSWORD, sign_in, staff_with_app

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def fill_up_to_check(page) -> None:
    page.goto("/give-views/about-you/")
    page.locator("#id_role_0").check()
    page.locator("#id_organisation").fill("Northfield Community Health")
    page.locator("#id_organisation_type").select_option(label="Primary care trust")
    page.locator("#id_region_0").check()
    follow(page, "button:has-text('Continue')")
    page.locator("#id_element_1").check()
    follow(page, "button:has-text('Continue')")
    page.locator("#id_text").fill("Clinical leaders should sit on every trust board.")
    follow(page, "button:has-text('Save and continue')")
    page.locator("input[name=add_another][value=no]").check()
    follow(page, "button:has-text('Continue')")
    follow(page, "button:has-text('Continue')")
    assert page.title().startswith("Check your answers")


@pytest.mark.parametrize(
    ("path", "title", "status"),
    [
        ("/privacy/", "Privacy notice", 200),
        ("/accessibility/", "Accessibility statement", 200),
        ("/no-such-page/", "Page not found", 404),
    ],
    ids=["privacy", "accessibility-statement", "page-not-found"],
)
def test_the_information_pages_pass_the_checks(page, check, path, title, status):
    response = page.goto(path)
    assert response.status == status
    assert page.title().startswith(title), page.title()
    check.page(page, path.strip("/"))


def test_changing_and_removing_a_view_pass_the_checks(page, check):
    fill_up_to_check(page)
    follow(page, "text=Add or remove views")
    follow(page, "a:has-text('Change view 1')")
    assert page.title().startswith("Change view 1")
    check.page(page, "change-view")
    page.locator("#id_text").fill("")
    follow(page, "button:has-text('Save and continue')")
    assert page.title().startswith("Error: Change view 1")
    check.page(page, "change-view-error")
    page.locator("#id_text").fill("Clinical leaders should chair every trust's quality committee.")
    follow(page, "text=Move this view to another part of the challenge")
    assert page.title().startswith("Which part of the challenge"), page.title()
    check.page(page, "move-view")
    follow(page, "button:has-text('Continue')")
    follow(page, "button:has-text('Save and continue')")
    follow(page, "a:has-text('Remove view 1')")
    assert page.title().startswith("Remove view 1"), page.title()
    check.page(page, "remove-view")
    follow(page, "button:has-text('Remove view 1')")
    assert page.title().startswith("Which part of the challenge is your view about?")


@pytest.mark.parametrize("state", ["not-open", "closed"])
def test_the_pages_outside_the_calls_window_pass_the_checks(page, check, state):
    now = timezone.now()
    if state == "closed":
        CallWindow(opens_at=now - timedelta(days=60), closes_at=now - timedelta(days=1)).save()
    else:
        CallWindow(opens_at=now + timedelta(days=1), closes_at=now + timedelta(days=60)).save()
    page.goto("/")
    assert "Start now" not in page.content()
    check.page(page, f"start-{state}")
    page.goto("/give-views/about-you/")
    assert page.title().startswith("The call for views"), page.title()
    check.page(page, f"journey-{state}")


def test_a_draft_lost_with_its_session_ends_on_a_page_that_passes_the_checks(page, check):
    fill_up_to_check(page)
    page.context.clear_cookies(name="sessionid")
    follow(page, "button:has-text('Send your views')")
    assert page.title().startswith("Your answers could not be found"), page.title()
    check.page(page, "session-ended")


def test_a_form_sent_without_its_security_cookie_ends_on_a_page_that_passes_the_checks(page, check):
    fill_up_to_check(page)
    page.context.clear_cookies(name="csrftoken")
    with page.expect_response("**/check-your-answers/") as response:
        follow(page, "button:has-text('Send your views')")
    assert response.value.status == 403
    assert page.title().startswith("Your answers could not be sent"), page.title()
    check.page(page, "csrf-failure")


def test_too_many_submissions_from_one_address_end_on_a_page_that_passes_the_checks(page, check, settings):
    settings.QIPP_SUBMIT_RATE = "0/h"
    fill_up_to_check(page)
    with page.expect_response("**/check-your-answers/") as response:
        follow(page, "button:has-text('Send your views')")
    assert response.value.status == 429
    assert page.title().startswith("Too many attempts"), page.title()
    check.page(page, "rate-limited")


def test_setting_up_two_factor_passes_the_checks(page, check, settings):
    # A wrong code makes the device wait before the next try; not here.
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    user = User.objects.create_user("robin.hale", password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name="Policy reviewers"))
    page.goto("/admin/")
    page.locator("#id_username").fill(user.username)
    page.locator("#id_password").fill(PASSWORD)
    follow(page, "button:has-text('Continue')")
    assert page.title().startswith("Set up two-factor authentication")
    check.page(page, "set-up-two-factor")
    page.locator("#id_code").fill("000000")
    follow(page, "button:has-text('Continue')")
    assert page.title().startswith("Error: Set up two-factor authentication")
    check.page(page, "set-up-two-factor-error")
    device = TOTPDevice.objects.get(user=user)
    page.locator("#id_code").fill(f"{totp(device.bin_key):06d}")
    follow(page, "button:has-text('Continue')")
    assert page.title().startswith("Your backup codes"), page.title()
    check.page(page, "backup-codes")
    follow(page, "text=I have saved my codes")
    assert page.locator("h1").inner_text() == "Dashboard"


def test_an_account_locked_after_wrong_passwords_sees_a_page_that_passes_the_checks(page, check, settings):
    user, _ = staff_with_app("Policy reviewers", "robin.hale")
    page.goto("/staff/sign-in/")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        page.locator("#id_username").fill(user.username)
        page.locator("#id_password").fill("not the password")
        follow(page, "button:has-text('Continue')")
    assert page.locator("h1").inner_text() == "Too many attempts to sign in"
    check.page(page, "locked-out")


def test_the_workspace_pages_we_wrote_pass_the_checks(page, check):
    lead, device = staff_with_app("Policy leads", "alex.morgan", email="alex.morgan@example.nhs.uk")
    sign_in(page, lead, device)

    follow(page, "#user-tools a:has-text('Weekly email summary')")
    check.page(page, "weekly-summary")
    page.locator("#id_active").check()
    page.locator("input[name=elements][value=prioritisation]").check()
    follow(page, "input[value=Save]")
    assert "You will get the weekly summary." in page.locator(".messagelist").inner_text()
    assert Subscription.objects.get(user=lead).elements == ["prioritisation"]
    check.page(page, "weekly-summary-saved")

    page.goto("/admin/feedback/digest/compile/")
    check.page(page, "compile-digest")
    page.locator("#id_week").fill("last week")
    follow(page, "input[value=Compile]")
    check.page(page, "compile-digest-error")
    week = digests.last_complete_week()
    page.locator("#id_week").fill(week.label)
    follow(page, "input[value=Compile]")
    assert f"The digest for {week} is being compiled" in page.locator(".messagelist").inner_text()
    check.page(page, "digests-compiling")

    for name in ("Shared procurement", "Buying once", "Regional buying"):
        Theme.objects.create(element=Element.PRIORITISATION, name=name)
    page.goto("/admin/feedback/theme/")
    check.page(page, "themes")
    for name in ("Buying once", "Regional buying"):
        page.locator(f"#result_list tr:has-text('{name}') input.action-select").check()
    page.locator("select[name=action]").select_option("merge")
    follow(page, "button[name=index]")
    assert page.locator("h1").inner_text() == "Merge themes"
    check.page(page, "merge-themes")
    page.locator("#id_target").select_option(label="Shared procurement")
    follow(page, "input[value=Merge]")
    assert Theme.objects.get(name="Buying once").merged_into.name == "Shared procurement"

    SubmissionFactory(organisation="Westbury Trust", views=[{"text": "Open a discharge lounge in every trust."}])
    SubmissionFactory(organisation="Eastgate Trust", views=[{"text": "Open a discharge lounge in every trust."}])
    page.goto("/admin/feedback/submission/")
    page.locator("#searchbar").fill('"discharge lounge"')
    follow(page, "#changelist-search input[type=submit]")
    page.locator("#organisation-filter").fill("westbury")
    follow(page, ".organisation-filter input[type=submit]")
    assert "1 result" in page.locator("#changelist-search").inner_text()
    check.page(page, "submissions-searched")


def test_an_export_made_by_the_worker_shows_each_state_on_a_page_that_passes_the_checks(page, check):
    lead, device = staff_with_app("Policy leads", "alex.morgan", email="alex.morgan@example.nhs.uk")
    sign_in(page, lead, device)
    made = timezone.now()
    states = {
        "export-running": {"status": ExportStatus.RUNNING, "rows_expected": 250_000, "rows_written": 61_000},
        "export-ready": {
            "status": ExportStatus.READY,
            "rows_expected": 250_000,
            "rows_written": 250_000,
            "finished_at": made,
            "expires_at": made + KEPT_FOR,
            "file": "made.csv",
        },
        "export-too-large": {"status": ExportStatus.TOO_LARGE, "rows_expected": 1_200_000, "file_format": "xlsx"},
        "export-deleted": {"status": ExportStatus.EXPIRED, "rows_expected": 250_000},
    }
    for name, fields in states.items():
        export = Export.objects.create(
            requested_by=lead, **{"file_format": "csv", "query": "region__exact=london", **fields}
        )
        page.goto(f"/admin/feedback/submission/exports/{export.pk}/")
        assert page.locator("h1").inner_text() == "Your export"
        check.page(page, name)

    # While it is being made, the page checks again by itself and says when it is ready.
    running = Export.objects.filter(requested_by=lead, status=ExportStatus.RUNNING).get()
    page.goto(f"/admin/feedback/submission/exports/{running.pk}/")
    Export.objects.filter(pk=running.pk).update(**states["export-ready"])
    page.locator("#export-status a:has-text('Download the CSV file')").wait_for(timeout=15_000)
    assert "Ready." in page.locator("#export-status").inner_text()


def test_a_digest_reader_kept_from_submissions_sees_a_page_that_passes_the_checks(page, check):
    reader, device = staff_with_app("Digest readers", "jo.reader")
    sign_in(page, reader, device)
    check.page(page, "dashboard-for-digest-readers")
    response = page.goto("/admin/feedback/submission/")
    assert response.status == 403
    assert page.title().startswith("You cannot see this page")
    check.page(page, "forbidden")


def test_choosing_a_password_from_a_link_passes_the_checks(page, check, settings):
    # A new account: no password until its owner chooses one from the emailed link.
    owner = User.objects.create_user("sam.patel", email="sam.patel@example.nhs.uk", is_staff=True)
    owner.groups.add(Group.objects.get(name="Digest readers"))
    assert not owner.has_usable_password()
    link = emails.password_link_url(owner)
    assert link.startswith(settings.SITE_URL + "/staff/password/"), link
    path = link.removeprefix(settings.SITE_URL)

    page.goto(path)
    # The token leaves the address bar for the session before the form shows.
    assert re.search(r"/staff/password/[^/]+/set-password/$", page.url), page.url
    assert page.title().startswith("Choose your password"), page.title()
    check.page(page, "choose-password")

    page.locator("#id_new_password1").fill("lighthouse orchard kettle river")
    page.locator("#id_new_password2").fill("lighthouse orchard kettle rivers")
    follow(page, "button:has-text('Set password')")
    assert page.title().startswith("Error: Choose your password"), page.title()
    assert page.evaluate("() => !!document.activeElement.closest('.nhsuk-error-summary')")
    check.page(page, "choose-password-error")
    links = page.locator(".nhsuk-error-summary__list a")
    assert links.evaluate_all("links => links.map((a) => a.getAttribute('href'))") == ["#id_new_password2"]
    assert page.locator("#id_new_password2").evaluate(
        "(el) => (el.getAttribute('aria-describedby') || '').split(/\\s+/)"
        ".some((id) => document.getElementById(id)?.classList.contains('nhsuk-error-message'))"
    ), "#id_new_password2 is not described by its error message"
    links.first.click()
    assert focused_id(page) == "id_new_password2", "the error summary's link did not focus its field"

    page.locator("#id_new_password1").fill("lighthouse orchard kettle river")
    page.locator("#id_new_password2").fill("lighthouse orchard kettle river")
    follow(page, "button:has-text('Set password')")
    assert page.url.endswith("/staff/sign-in/"), page.url
    assert page.title().startswith("Sign in to the policy team's workspace"), page.title()
    assert "Your password is set. Sign in with it now." in page.locator(".nhsuk-inset-text").inner_text()
    owner.refresh_from_db()
    assert owner.check_password("lighthouse orchard kettle river")
    check.page(page, "password-set")

    page.goto(path)
    assert page.title().startswith("This link cannot be used"), page.title()
    assert page.locator("h1").inner_text() == "This link cannot be used"
    assert page.locator("#id_new_password1").count() == 0
    check.page(page, "password-link-used")


def test_the_staff_account_and_outbox_pages_pass_the_checks(page, check):
    administrator, device = staff_with_app("Administrators", "kim.admin", email="kim.admin@example.nhs.uk")
    assert list(administrator.groups.values_list("name", flat=True)) == ["Administrators"]
    assert not administrator.is_superuser
    reader, _ = staff_with_app("Digest readers", "jo.reader", email="jo.reader@example.nhs.uk")
    sign_in(page, administrator, device)

    page.goto("/admin/auth/user/")
    assert page.locator("#result_list").is_visible()
    assert "jo.reader" in page.locator("#result_list").inner_text()
    check.page(page, "staff-accounts")

    page.goto(f"/admin/auth/user/{reader.pk}/change/")
    assert page.locator("h1").inner_text() == "Change user"
    assert "jo.reader" in page.locator("#content").inner_text()
    check.page(page, "staff-account")

    # The outbox, with an acknowledgement that failed: no respondent's address shown.
    failed = AcknowledgementFactory(status=EmailStatus.FAILED, attempts=12, last_error="550 No such user")
    page.goto("/admin/feedback/outgoingemail/?problem=failed")
    listed = page.locator("#result_list").inner_text()
    assert f"the respondent of {failed.submission.reference}" in listed
    assert failed.recipient not in listed
    check.page(page, "outbox")

    page.goto("/admin/operations/")
    assert page.locator("h1").inner_text() == "Operations"
    assert "Failed for good" in page.locator("#content").inner_text()
    check.page(page, "operations")


def test_asking_for_a_new_link_to_saved_answers_passes_the_checks(page, check):
    page.goto("/give-views/resume/")
    assert page.title().startswith("Get a new link to your saved answers")
    check.page(page, "ask-for-link")
    follow(page, "button:has-text('Send me a link')")
    assert page.title().startswith("Error: Get a new link")
    check.page(page, "ask-for-link-error")
    page.locator("#id_email").fill("priya.shah@example.nhs.uk")
    follow(page, "button:has-text('Send me a link')")
    assert page.title().startswith("Check your email")
    check.page(page, "link-asked")


def test_a_respondents_own_submission_passes_the_checks(page, check):
    from feedback import own

    submission = SubmissionFactory(
        views=[{"element": Element.LEADERSHIP, "text": "Boards should back clinical leaders.", "example": "Ours do."}]
    )
    page.goto(own.link_for(submission))
    assert page.title().startswith(f"Your submission {submission.reference}")
    check.page(page, "own-submission-link")
    follow(page, "button:has-text('Show my submission')")
    assert "Boards should back clinical leaders." in page.content()
    check.page(page, "own-submission")
    page.goto("/your-submission/not-a-link/")
    assert page.title().startswith("This link does not work")
    check.page(page, "own-submission-link-broken")
