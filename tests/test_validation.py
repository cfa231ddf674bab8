import pytest

from feedback.models import Submission

from .conftest import ABOUT_YOU, ENGAGEMENT_VIEW

pytestmark = pytest.mark.django_db


def errors_on(page) -> str:
    body = page.content.decode()
    assert page.status_code == 200
    assert "There is a problem" in body, "the error summary is shown"
    assert "<title>Error: " in body, "the page title says there is an error"
    return body


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("organisation", "x" * 201, "Ensure this value has at most 200 characters"),
        ("name", "y" * 201, "Ensure this value has at most 200 characters"),
        ("email", "not-an-email", "Enter an email address in the correct format"),
        ("role", "", "Select your role"),
        ("role", "astronaut", "Select your role from the list"),
        ("organisation_type", "ministry", "Select the type of organisation from the list"),
        ("region", "scotland", "Select a region from the list"),
        ("organisation", "Trust\x00Name", "Null characters are not allowed"),
        ("organisation", "Trust\x07Name", "Remove the hidden control characters"),
    ],
)
def test_bad_answers_about_you_get_an_error_next_to_the_field_and_in_the_summary(client, field, value, message):
    client.get("/give-views/about-you/")
    page = client.post("/give-views/about-you/", {**ABOUT_YOU, field: value})
    body = errors_on(page)
    assert body.count(message) == 2, "once in the summary, once next to the field"
    assert f'id="id_{field}-error"' in body
    assert "about" not in client.session.get("draft", {}), "nothing is saved"


def test_organisation_is_optional_unless_responding_on_its_behalf(client, respondent):
    client.get("/give-views/about-you/")
    as_myself = client.post("/give-views/about-you/", {**ABOUT_YOU, "organisation": ""})
    for_it = client.post(
        "/give-views/about-you/?change=1", {**ABOUT_YOU, "organisation": " ", "on_behalf_of_organisation": "on"}
    )

    assert as_myself.status_code == 302
    body = errors_on(for_it)
    assert body.count("Enter the name of the organisation you are responding for") == 2
    assert client.session["draft"]["about"]["on_behalf_of_organisation"] is False, "the earlier answer is kept"


@pytest.mark.parametrize(
    ("element", "message"),
    [
        ("", "Select which part of the challenge this view is about"),
        ("finance", "Select one of the four parts of the challenge"),
    ],
)
def test_a_view_must_say_which_part_of_the_challenge_it_is_about(client, respondent, element, message):
    respondent.about_you()
    body = errors_on(client.post("/give-views/your-views/add/", {"element": element}))
    assert body.count(message) == 2


@pytest.mark.parametrize(
    ("view", "message"),
    [
        ({**ENGAGEMENT_VIEW, "text": ""}, "Enter your view"),
        ({**ENGAGEMENT_VIEW, "text": "z" * 5001}, "Ensure this value has at most 5000 characters"),
        ({**ENGAGEMENT_VIEW, "example": "z" * 5001}, "Ensure this value has at most 5000 characters"),
        ({**ENGAGEMENT_VIEW, "element": "prioritisation", "level": ""}, "Select where this would be best organised"),
        (
            {**ENGAGEMENT_VIEW, "element": "prioritisation", "level": "global"},
            "Select where this should be done from the list",
        ),
        (
            {**ENGAGEMENT_VIEW, "text": "tab\tand newline\nare fine but not \x1b"},
            "Remove the hidden control characters",
        ),
    ],
)
def test_a_bad_view_gets_a_clear_error_and_is_not_added(client, respondent, view, message):
    respondent.about_you()
    body = errors_on(client.post(f"/give-views/your-views/add/{view['element']}/", view))
    assert message in body
    assert client.session["draft"]["views"] == []


def test_the_views_list_asks_whether_to_add_another(client, respondent):
    respondent.about_you()
    respondent.add_view(ENGAGEMENT_VIEW)
    body = errors_on(client.post("/give-views/your-views/", {}))
    assert "Select yes if you want to add another view" in body


def test_consent_to_contact_needs_an_email_address(client, respondent):
    respondent.about_you(email="")
    respondent.add_view(ENGAGEMENT_VIEW)
    respondent.no_more_views()
    body = errors_on(respondent.permissions(consent_to_contact="on"))
    assert "Give an email address" in body


def test_unknown_principles_are_refused(client, respondent):
    respondent.about_you()
    respondent.add_view(ENGAGEMENT_VIEW)
    respondent.no_more_views()
    body = errors_on(respondent.permissions(principles=["austerity"]))
    assert "Select principles from the list" in body


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/give-views/about-you/", {"role": ["a", "b"], "region": "\x00", "email": "a@\x00"}),
        ("/give-views/your-views/add/", {"element": "\x00", "level": "\x00", "text": "\x00" * 10}),
        ("/give-views/your-views/99/", {"element": "leadership"}),
        ("/give-views/your-views/add/finance/", {"text": "A view"}),
        ("/give-views/your-views/add/%00/", {"text": "A view"}),
        ("/give-views/your-views/99/element/", {"element": "leadership"}),
        ("/give-views/your-views/0/remove/", {}),
        ("/give-views/permissions/", {"principles": "\x00"}),
        ("/give-views/check-your-answers/", {"token": "not-a-uuid"}),
        ("/give-views/check-your-answers/", {"token": "\x00"}),
        ("/give-views/received/00000000-0000-0000-0000-000000000000/", None),
    ],
)
def test_no_input_makes_the_server_fail(client, respondent, path, data):
    respondent.about_you()
    page = client.get(path) if data is None else client.post(path, data)
    assert page.status_code < 500
    assert Submission.objects.count() == 0


def test_a_request_body_over_the_size_limit_is_refused_without_saving(client, respondent):
    respondent.about_you()
    page = client.post("/give-views/your-views/add/", {**ENGAGEMENT_VIEW, "text": "a" * 300_000})
    assert page.status_code == 400


def test_removing_the_email_after_agreeing_to_be_contacted_is_caught_and_linked_before_sending(client, respondent):
    respondent.about_you()
    respondent.add_view(ENGAGEMENT_VIEW)
    respondent.no_more_views()
    respondent.permissions(consent_to_contact="on")
    client.post("/give-views/about-you/?change=1", {**ABOUT_YOU, "email": ""})
    check = client.get("/give-views/check-your-answers/").content.decode()
    assert "There is a problem" in check
    assert 'href="/give-views/permissions/?change=1#id_consent_to_contact"' in check
    sent = respondent.send()
    assert sent.status_code == 400
    assert Submission.objects.count() == 0


def test_the_level_question_is_not_called_optional(client, respondent):
    respondent.about_you()
    page = client.get("/give-views/your-views/add/prioritisation/").content.decode()
    assert "Where would this be best organised?" in page
    assert "organised? (optional)" not in page


def test_forms_post_back_to_their_own_address_keeping_the_change_flag(client, respondent):
    respondent.complete_up_to_check()
    page = client.get("/give-views/about-you/?change=1").content.decode()
    assert 'action="/give-views/about-you/?change=1"' in page
