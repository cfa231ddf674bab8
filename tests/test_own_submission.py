"""A respondent reads their own submission from the link in their receipt email."""

import re

import pytest
from django.core import mail

from feedback import outbox, own
from feedback.models import Element, Submission

from .conftest import ENGAGEMENT_VIEW, HttpsClient
from .factories import SubmissionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def receipt_link(client, respondent, django_capture_on_commit_callbacks) -> str:
    """A sent submission, and the path of the link its receipt email carries."""
    respondent.complete_up_to_check(views=[{**ENGAGEMENT_VIEW, "example": "Our joint team in Northfield."}])
    respondent.send()
    mail.outbox.clear()
    outbox.send()
    (receipt,) = mail.outbox
    return re.search(r"https?://[^/\s]+(/your-submission/\S+/)", receipt.body).group(1)


def test_the_receipt_links_to_the_submission_which_opens_only_after_a_button(receipt_link):
    browser = HttpsClient()
    opened = browser.get(receipt_link).content.decode()
    before = browser.get("/your-submission/")
    shown = browser.post(receipt_link, follow=True).content.decode()

    submission = Submission.objects.get()
    assert "Show my submission" in opened and ENGAGEMENT_VIEW["text"] not in opened
    assert before.status_code == 404, "opening the link (as a mail scanner does) lets nothing in"
    assert submission.reference in shown
    assert ENGAGEMENT_VIEW["text"] in shown and "Our joint team in Northfield." in shown
    assert "Priya Shah" in shown


def test_the_receipt_page_address_or_an_altered_link_opens_nothing(receipt_link):
    submission = Submission.objects.get()
    for address in (
        f"/your-submission/{submission.token}/",
        receipt_link[:-3] + "xx/",
        f"/your-submission/{submission.reference}/",
    ):
        browser = HttpsClient()
        assert browser.post(address).status_code == 404, address
        assert browser.get("/your-submission/").status_code == 404


def test_another_browser_cannot_read_a_submission_opened_in_one(receipt_link):
    HttpsClient().post(receipt_link)
    assert HttpsClient().get("/your-submission/").status_code == 404


def test_each_submission_has_a_link_of_its_own():
    first, second = SubmissionFactory(views=[{"element": Element.LEADERSHIP}]), SubmissionFactory()
    assert own.link_for(first) != own.link_for(second)
    assert own.submission_for(own.link_for(second).split("/")[2]) == second
