import re

import pytest
from django.core import mail

from feedback import outbox
from feedback.models import Element, Submission

from .keyboard import press_on

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

ADDRESS = "priya.shah@example.nhs.uk"


def test_a_respondent_saves_on_one_device_and_finishes_on_another(open_browser, check):
    mail.outbox = []
    laptop = open_browser()
    laptop.goto("/give-views/about-you/")
    laptop.locator("#id_email").fill(ADDRESS)
    laptop.locator("#id_role_0").check()
    laptop.locator("#id_organisation_type").select_option(label="Primary care trust")
    laptop.locator("#id_region_0").check()
    press_on(laptop, "button:has-text('Continue')")
    laptop.locator(f"input[name=element][value={Element.LEADERSHIP}]").check()
    press_on(laptop, "button:has-text('Continue')")
    laptop.locator("#id_text").fill("Boards should hear from clinical leaders at every meeting.")
    press_on(laptop, "button:has-text('Save and come back later')")

    assert laptop.title().startswith("Save your answers and come back later")
    assert laptop.locator("#id_email").input_value() == ADDRESS, "the address given is offered"
    check.page(laptop, "save-for-later")
    press_on(laptop, "button:has-text('Save and send me a link')")
    assert laptop.title().startswith("Your answers are saved")
    check.page(laptop, "saved")

    outbox.send()  # whatever the worker has not sent yet
    (message,) = [message for message in mail.outbox if "/give-views/resume/" in message.body]
    assert message.to == [ADDRESS]
    link = re.search(r"/give-views/resume/\S+/", message.body).group(0)

    phone = open_browser()
    phone.goto(link)
    assert phone.title().startswith("Continue with your saved answers")
    check.page(phone, "resume")
    press_on(phone, "button:has-text('Continue')")
    assert phone.title().startswith("Your views"), phone.title()
    assert "Boards should hear from clinical leaders" in phone.locator("main").inner_text()
    phone.locator("input[name=add_another][value=no]").check()
    press_on(phone, "button:has-text('Continue')")
    assert phone.title().startswith("Principles and permissions")
    press_on(phone, "button:has-text('Continue')")
    press_on(phone, "button:has-text('Send your views')")
    assert phone.title().startswith("Views received")

    phone.goto(link)
    assert phone.title().startswith("This link no longer works")
    check.page(phone, "link-used")
    assert Submission.objects.get().views.get().text == "Boards should hear from clinical leaders at every meeting."
