"""The questions the letter asks: each element its own, an example of practice, organisations, sharing in full."""

import html
import re

import pytest

from feedback.models import Element, Level, Submission, View
from feedback.questions import CURRENT_VERSION, QUESTIONS

from .conftest import ENGAGEMENT_VIEW, PRIORITISATION_VIEW
from .factories import SubmissionFactory

pytestmark = pytest.mark.django_db


def heading(page) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", re.search(r"<h1[^>]*>(.*?)</h1>", page, re.S).group(1))).strip()


@pytest.mark.parametrize("element", Element.values)
def test_each_element_asks_its_own_question_with_its_hint(client, respondent, element):
    respondent.about_you()
    chosen = client.post("/give-views/your-views/add/", {"element": element})
    page = client.get(chosen["Location"]).content.decode()

    asked = QUESTIONS[CURRENT_VERSION][element]
    assert chosen["Location"] == f"/give-views/your-views/add/{element}/"
    assert heading(page) == asked.text
    assert html.escape(asked.hint, quote=True) in page
    assert ("Where would this be best organised?" in page) is (element == Element.PRIORITISATION)


def test_the_questions_differ_from_one_element_to_the_next():
    current = QUESTIONS[CURRENT_VERSION]
    assert len({question.text for question in current.values()}) == len(Element.values)


def test_a_sent_view_keeps_the_wording_it_answered_and_its_example(client, respondent):
    respondent.complete_up_to_check(
        views=[{**ENGAGEMENT_VIEW, "example": "Our joint discharge team cut delayed days by a third."}]
    )
    respondent.send()

    view = View.objects.get()
    assert view.question_version == CURRENT_VERSION
    assert view.example == "Our joint discharge team cut delayed days by a third."


def test_the_check_page_shows_each_views_question_and_example(client, respondent):
    respondent.complete_up_to_check(views=[{**ENGAGEMENT_VIEW, "example": "Joint teams in Northfield."}])
    page = html.unescape(client.get("/give-views/check-your-answers/").content.decode())
    assert QUESTIONS[CURRENT_VERSION][Element.ENGAGEMENT].text in page
    assert "Joint teams in Northfield." in page


def test_a_view_moved_to_prioritisation_asks_for_its_level_and_saves_nothing_until_then(client, respondent):
    respondent.complete_up_to_check(views=[ENGAGEMENT_VIEW])
    moved = client.post("/give-views/your-views/1/element/?change=1", {"element": Element.PRIORITISATION})
    question_page = client.get(moved["Location"]).content.decode()
    unchanged = client.session["draft"]["views"][0]["element"]
    without_level = client.post(moved["Location"], {"text": ENGAGEMENT_VIEW["text"]})
    saved = client.post(moved["Location"], {"text": ENGAGEMENT_VIEW["text"], "level": Level.SEVERAL})

    assert moved["Location"] == "/give-views/your-views/1/?element=prioritisation&change=1"
    assert heading(question_page) == QUESTIONS[CURRENT_VERSION][Element.PRIORITISATION].text
    assert ENGAGEMENT_VIEW["text"] in question_page, "the words come along"
    assert unchanged == Element.ENGAGEMENT
    assert "Select where this would be best organised" in without_level.content.decode()
    assert saved["Location"] == "/give-views/check-your-answers/"
    assert client.session["draft"]["views"][0] | {"question_version": None} == {
        "element": Element.PRIORITISATION,
        "level": Level.SEVERAL,
        "text": ENGAGEMENT_VIEW["text"],
        "example": "",
        "question_version": None,
    }


def test_a_view_on_another_element_keeps_no_level_even_if_one_is_sent(client, respondent):
    respondent.about_you()
    client.post("/give-views/your-views/add/leadership/", {"text": "Boards back clinical leaders.", "level": "local"})
    assert client.session["draft"]["views"][0]["level"] == ""


def test_several_local_systems_together_is_a_level_of_its_own(client, respondent):
    respondent.complete_up_to_check(views=[{**PRIORITISATION_VIEW, "level": Level.SEVERAL}])
    check = client.get("/give-views/check-your-answers/").content.decode()
    respondent.send()

    assert "Across several local health systems together" in check
    assert View.objects.get().level == Level.SEVERAL


def test_a_response_on_behalf_of_an_organisation_is_recorded_and_shown_before_sending(client, respondent):
    respondent.complete_up_to_check(on_behalf_of_organisation="on")
    check = client.get("/give-views/check-your-answers/").content.decode()
    respondent.send()

    assert "Responding on behalf of your organisation" in check
    assert Submission.objects.get().on_behalf_of_organisation is True


def test_sharing_in_full_is_asked_apart_from_quoting(client, respondent):
    respondent.about_you()
    respondent.add_view(ENGAGEMENT_VIEW)
    respondent.no_more_views()
    respondent.permissions(consent_to_quote="", consent_to_share="on")
    check = html.unescape(client.get("/give-views/check-your-answers/").content.decode())
    respondent.send()

    submission = Submission.objects.get()
    assert (submission.consent_to_share, submission.consent_to_quote) == (True, False)
    assert "May we share your views in full with the operating framework team?" in check


def test_a_reviewer_sees_the_question_each_view_answered_and_the_respondents_answers(client, make_staff):
    make_staff("Policy reviewers", client=client)
    submission = SubmissionFactory(
        on_behalf_of_organisation=True,
        consent_to_share=True,
        views=[
            {
                "element": Element.LEADERSHIP,
                "text": "Signals are mixed.",
                "example": "Our board's clinical fellows.",
                "question_version": CURRENT_VERSION,
            },
            {"element": Element.ENGAGEMENT, "text": "Talk to councils.", "question_version": 1},
        ],
    )
    mailed = SubmissionFactory(views=[{"element": Element.ENGAGEMENT, "text": "By post.", "question_version": None}])

    page = html.unescape(client.get(f"/admin/feedback/submission/{submission.pk}/change/").content.decode())
    mail_page = html.unescape(client.get(f"/admin/feedback/submission/{mailed.pk}/change/").content.decode())

    assert f"{QUESTIONS[CURRENT_VERSION][Element.LEADERSHIP].text} (wording {CURRENT_VERSION})" in page
    assert "Your view (wording 1)" in page
    assert "Our board's clinical fellows." in page
    assert "None: it came by email or in a spreadsheet" in mail_page


def test_the_list_filters_organisational_responses_from_individual_ones(client, make_staff):
    make_staff("Policy reviewers", client=client)
    trust = SubmissionFactory(on_behalf_of_organisation=True)
    person = SubmissionFactory(on_behalf_of_organisation=False)

    organisations = client.get("/admin/feedback/submission/", {"responding_as": "organisation"}).content.decode()
    individuals = client.get("/admin/feedback/submission/", {"responding_as": "individual"}).content.decode()

    assert trust.reference in organisations and person.reference not in organisations
    assert person.reference in individuals and trust.reference not in individuals
