import re

import pytest
from django.core import mail

from feedback import outbox
from feedback.models import Digest, Element, Status, Submission, View

from .keyboard import press_on

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

ADDRESS = "priya.shah@example.nhs.uk"
FIRST_WORDS = "Boards should hear from clinical leaders at every meeting."
NEW_WORDS = "Boards should hear from clinical leaders, and from nurses on the wards, at every meeting."


def test_a_respondent_changes_a_view_from_the_receipt_email_and_then_withdraws_everything(open_browser, check):
    mail.outbox = []
    page = open_browser()
    page.goto("/give-views/about-you/")
    page.locator("#id_name").fill("Priya Shah")
    page.locator("#id_email").fill(ADDRESS)
    page.locator("#id_role_0").check()
    page.locator("#id_organisation_type").select_option(label="Primary care trust")
    page.locator("#id_region_0").check()
    press_on(page, "button:has-text('Continue')")
    page.locator(f"input[name=element][value={Element.LEADERSHIP}]").check()
    press_on(page, "button:has-text('Continue')")
    page.locator("#id_text").fill(FIRST_WORDS)
    press_on(page, "button:has-text('Save and continue')")
    page.locator("input[name=add_another][value=no]").check()
    press_on(page, "button:has-text('Continue')")
    press_on(page, "button:has-text('Continue')")
    press_on(page, "button:has-text('Send your views')")
    assert page.title().startswith("Views received")

    outbox.send()
    (receipt,) = [message for message in mail.outbox if message.to == [ADDRESS]]
    link = re.search(r"/your-submission/\S+/", receipt.body).group(0)

    # Another device: the email's link, its button, then the submission.
    phone = open_browser()
    phone.goto(link)
    press_on(phone, "button:has-text('Show my submission')")
    assert phone.title().startswith("Your submission")
    check.page(phone, "own-submission")

    press_on(phone, "a:has-text('Change')")
    assert phone.title().startswith("Change view 1")
    assert phone.locator("#id_text").input_value() == FIRST_WORDS
    check.page(phone, "own-change-view")
    phone.locator("#id_text").fill("")
    press_on(phone, "button:has-text('Save the change')")
    assert phone.title().startswith("Error: Change view 1")
    check.page(phone, "own-change-view-error")
    phone.locator("#id_text").fill(NEW_WORDS)
    press_on(phone, "button:has-text('Save the change')")
    assert "View 1 has been changed" in phone.locator(".nhsuk-notification-banner").inner_text()
    assert NEW_WORDS in phone.locator("main").inner_text()
    check.page(phone, "own-submission-changed")
    assert View.objects.get().version == 2

    press_on(phone, "a:has-text('Withdraw my submission')")
    assert phone.title().startswith("Withdraw your submission")
    check.page(phone, "own-withdraw")
    press_on(phone, "button:has-text('Withdraw my submission')")
    assert phone.locator("h1").inner_text() == "You withdrew your submission"
    check.page(phone, "own-withdrawn")
    main = phone.locator("main").inner_text()
    assert NEW_WORDS not in main and "Priya" not in main

    submission = Submission.objects.get()
    assert submission.status == Status.WITHDRAWN and not submission.views.exists() and submission.email == ""
    assert not Digest.objects.exists()
