"""Save and come back later: a link by email, used once, within 28 days, on any device; nothing given away."""

import datetime
import re

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from feedback import outbox, resume
from feedback.models import EmailKind, OutgoingEmail, SavedDraft, Submission

from .conftest import ENGAGEMENT_VIEW, PRIORITISATION_VIEW, HttpsClient, Respondent

pytestmark = pytest.mark.django_db

ADDRESS = "priya.shah@example.nhs.uk"


def link_in(message) -> str:
    return re.search(r"https?://\S+/give-views/resume/\S+/", message.body).group(0).split("://", 1)[1].split("/", 1)[1]


def save(client, email: str = ADDRESS):
    return client.post("/give-views/save/", {"email": email})


def sent_links() -> list[str]:
    """Send what waits in the outbox; the links each email carried, newest email last."""
    mail.outbox.clear()
    outbox.send()
    return ["/" + link_in(message) for message in mail.outbox]


@pytest.fixture
def elsewhere(settings):
    """Another device: a browser of its own."""
    return Respondent(HttpsClient())


def test_every_page_of_the_journey_offers_to_save_and_come_back_later(client, respondent):
    respondent.about_you()
    pages = ["/give-views/about-you/", "/give-views/your-views/add/", "/give-views/your-views/add/leadership/"]
    respondent.add_view(ENGAGEMENT_VIEW)
    pages += ["/give-views/your-views/", "/give-views/your-views/1/", "/give-views/your-views/1/element/"]
    respondent.no_more_views()
    pages += ["/give-views/permissions/"]
    respondent.permissions()
    pages += ["/give-views/check-your-answers/"]
    for page in pages:
        body = client.get(page).content.decode()
        assert "Save and come back later" in body or "Save your answers and come back later" in body, page


def test_saving_keeps_the_page_just_answered_and_emails_a_link_that_resumes_on_another_device(
    client, respondent, elsewhere
):
    respondent.about_you()
    respondent.add_view(ENGAGEMENT_VIEW)
    later = client.post(
        "/give-views/your-views/add/national_policy/", {"text": "Let tariffs reward care at home.", "later": "1"}
    )
    assert later["Location"] == "/give-views/save/"
    saved_page = save(client).content.decode()
    (link,) = sent_links()

    opened = elsewhere.client.get(link)
    continued = elsewhere.client.post(link)

    assert "Your answers are saved" in saved_page and ADDRESS in saved_page
    assert mail.outbox[0].to == [ADDRESS]
    assert "Continue" in opened.content.decode()
    assert continued["Location"] == "/give-views/your-views/"
    draft = elsewhere.client.session["draft"]
    assert [view["text"] for view in draft["views"]] == [ENGAGEMENT_VIEW["text"], "Let tariffs reward care at home."]
    assert draft["token"] == client.session["draft"]["token"], "the one-time token comes along"


def test_opening_a_link_uses_nothing_so_a_mail_scanner_cannot_spend_it(client, respondent, elsewhere):
    respondent.complete_up_to_check()
    save(client)
    (link,) = sent_links()

    for _ in range(3):
        assert elsewhere.client.get(link).status_code == 200
    assert "draft" not in elsewhere.client.session
    assert elsewhere.client.post(link).status_code == 302


def test_a_link_works_once_and_a_new_one_can_be_asked_for(client, respondent, elsewhere):
    respondent.complete_up_to_check()
    save(client)
    (link,) = sent_links()
    elsewhere.client.post(link)

    again = HttpsClient()
    second_use = again.post(link)
    asked = again.post("/give-views/resume/", {"email": ADDRESS})
    (new_link,) = sent_links()

    assert second_use.status_code == 410 and "This link no longer works" in second_use.content.decode()
    assert "Check your email" in asked.content.decode()
    assert new_link != link
    assert again.post(new_link)["Location"] == "/give-views/check-your-answers/"


def test_only_the_newest_link_works(client, respondent):
    respondent.complete_up_to_check()
    save(client)
    (first,) = sent_links()
    client.post("/give-views/resume/", {"email": ADDRESS})
    (second,) = sent_links()

    assert HttpsClient().get(first).status_code == 410
    assert HttpsClient().get(second).status_code == 200


def test_a_link_stops_working_after_28_days_and_the_answers_are_then_deleted(client, respondent):
    respondent.complete_up_to_check()
    save(client)
    (link,) = sent_links()

    with time_machine.travel(timezone.now() + datetime.timedelta(days=28, minutes=1)):
        expired = HttpsClient().post(link)
        gone = resume.forget_expired()

    assert expired.status_code == 410
    assert gone == 1 and not SavedDraft.objects.exists()


def test_a_forged_or_altered_link_opens_nothing(client, respondent):
    respondent.complete_up_to_check()
    save(client)
    (link,) = sent_links()
    saved = SavedDraft.objects.get()
    token = link.rstrip("/").rsplit("/", 1)[1]
    other_draft = token.replace(f"{saved.pk}:", f"{saved.pk + 1}:", 1)

    for bad in (other_draft, token[:-2] + "xx", "1:abc:def:ghi", "nonsense"):
        assert HttpsClient().post(f"/give-views/resume/{bad}/").status_code == 410


def test_asking_for_a_link_says_the_same_and_writes_the_same_whether_or_not_answers_are_saved(client, respondent):
    respondent.complete_up_to_check()
    save(client)
    sent_links()

    def ask(address: str) -> tuple[int, str, int]:
        before = OutgoingEmail.objects.filter(kind=EmailKind.RESUME_LINK).count()
        page = HttpsClient().post("/give-views/resume/", {"email": address})
        rows = OutgoingEmail.objects.filter(kind=EmailKind.RESUME_LINK).count() - before
        return page.status_code, page.content.decode().replace(address, "ADDRESS"), rows

    with_answers, without = ask(ADDRESS), ask("nobody@example.nhs.uk")
    mail.outbox.clear()
    outcome = outbox.send()

    assert with_answers[0] == without[0] == 200

    def fixed(page: str) -> str:  # without what differs on every response: the CSRF token and the nonce
        return re.sub(r'(value|nonce)="[^"]+"', "", page)

    assert fixed(with_answers[1]) == fixed(without[1])
    assert with_answers[2] == without[2] == 1
    assert [message.to for message in mail.outbox] == [[ADDRESS]], "an address with nothing saved gets no email"
    assert outcome["skipped"] == 1
    assert not OutgoingEmail.objects.filter(recipient="nobody@example.nhs.uk").exists(), "nor is it kept"


def test_a_resumed_draft_is_sent_once_however_many_times_it_was_resumed(client, respondent, elsewhere):
    respondent.complete_up_to_check()
    save(client)
    (link,) = sent_links()
    elsewhere.client.post(link)

    first = respondent.send()
    second = elsewhere.send()

    assert first["Location"] == second["Location"]
    assert Submission.objects.count() == 1
    assert not SavedDraft.objects.exists(), "the saved copy goes once it is sent"


def test_saving_again_updates_the_same_saved_answers(client, respondent):
    respondent.complete_up_to_check(views=[PRIORITISATION_VIEW])
    save(client)
    respondent.add_view(ENGAGEMENT_VIEW)
    save(client)

    saved = SavedDraft.objects.get()
    assert len(saved.data["views"]) == 2


def test_asking_for_links_too_often_from_one_address_gets_a_readable_429_page(client, settings):
    settings.QIPP_RESUME_LINK_RATE = "2/h"
    pages = [client.post("/give-views/resume/", {"email": ADDRESS}) for _ in range(3)]
    assert [page.status_code for page in pages] == [200, 200, 429]
