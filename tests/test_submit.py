import re
import time

import pytest
import time_machine
from django.core import mail

from feedback.models import Element, EmailStatus, Level, OutgoingEmail, Source, Status, Submission, View

from .conftest import ABOUT_YOU, ENGAGEMENT_VIEW, PRIORITISATION_VIEW, HttpsClient, Respondent
from .tallies import assert_tallies_equal_direct_counts

pytestmark = pytest.mark.django_db


def reference_on(page) -> str:
    match = re.search(r'class="app-reference">([0-9A-Z-]+)<', page.content.decode())
    assert match, "the receipt shows a reference number"
    return match.group(1)


def test_the_start_page_explains_the_challenge_and_links_to_the_form(client):
    page = client.get("/")
    assert page.status_code == 200
    for element in Element:
        assert element.label in page.content.decode()
    assert 'href="/give-views/about-you/"' in page.content.decode()
    assert 'href="/privacy/"' in page.content.decode()


def test_a_respondent_completes_the_journey_and_gets_a_receipt(client, respondent, django_capture_on_commit_callbacks):
    respondent.complete_up_to_check()
    check = client.get("/give-views/check-your-answers/")
    assert check.status_code == 200
    body = check.content.decode()
    assert "Northfield Community Health" in body
    assert "Prioritisation by level" in body and "Regionally" in body
    assert "Coproduction, Subsidiarity" in body

    with django_capture_on_commit_callbacks(execute=True):
        sent = respondent.send()
    assert sent.status_code == 302
    receipt = client.get(sent["Location"])
    assert receipt.status_code == 200

    submission = Submission.objects.get()
    assert reference_on(receipt) == submission.reference
    assert submission.source == Source.WEB
    assert submission.status == Status.NEW
    assert submission.email == "priya.shah@example.nhs.uk"
    assert submission.organisation == "Northfield Community Health"
    assert submission.principles == ["coproduction", "subsidiarity"]
    assert submission.consent_to_quote is True
    assert submission.consent_to_contact is False
    assert [(v.element, v.level) for v in submission.views.all()] == [
        (Element.PRIORITISATION, Level.REGIONAL),
        (Element.ENGAGEMENT, ""),
    ]
    assert "draft" not in client.session
    assert_tallies_equal_direct_counts()


def test_the_reference_is_short_unambiguous_and_not_the_database_id(client, respondent):
    respondent.complete_up_to_check()
    receipt = client.get(respondent.send()["Location"])
    reference = reference_on(receipt)
    assert re.fullmatch(r"[2-9CFHKMRWY]{3}-[2-9CFHKMRWY]{3}-[2-9CFHKMRWY]{3}", reference)
    assert str(Submission.objects.get().pk) not in reference.replace("-", "")


def test_sending_the_same_answers_twice_makes_one_submission_and_the_same_receipt(client, respondent):
    respondent.complete_up_to_check()
    token = respondent.token()
    first = respondent.send(token)
    second = respondent.send(token)
    assert first["Location"] == second["Location"]
    assert Submission.objects.count() == 1
    assert View.objects.count() == 2


def test_a_resubmission_from_another_session_with_a_used_token_shows_its_receipt(client, respondent):
    respondent.complete_up_to_check()
    token = respondent.token()
    first = respondent.send(token)
    client.cookies.clear()
    client.get("/give-views/about-you/")
    again = respondent.send(token)
    assert again["Location"] == first["Location"]
    assert Submission.objects.count() == 1


def test_an_unknown_token_saves_nothing_and_says_the_answers_were_not_found(client, respondent):
    respondent.complete_up_to_check()
    page = respondent.send("6f1c3f3e-8a7f-4d0b-9f59-1d1c1a2b3c4d")
    assert page.status_code == 400
    assert "Your answers could not be found" in page.content.decode()
    assert Submission.objects.count() == 0


def test_the_receipt_email_gives_reference_date_and_elements_but_not_the_views(
    client, respondent, django_capture_on_commit_callbacks
):
    respondent.complete_up_to_check()
    with django_capture_on_commit_callbacks(execute=True):
        respondent.send()
    submission = Submission.objects.get()
    acknowledgement = submission.emails.get()
    assert acknowledgement.status == EmailStatus.SENT
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == ["priya.shah@example.nhs.uk"]
    assert submission.reference in email.subject
    html = email.alternatives[0].content
    for part in (email.body, html):
        assert submission.reference in part
        assert "Prioritisation by level" in part
        assert "Engaging staff, partners and the public" in part
        assert PRIORITISATION_VIEW["text"] not in part
        assert "Northfield" not in part
    assert email.extra_headers["Message-ID"] == acknowledgement.message_id


def test_an_anonymous_respondent_gets_a_receipt_page_and_no_email(
    client, respondent, django_capture_on_commit_callbacks
):
    respondent.complete_up_to_check(name="", email="")
    with django_capture_on_commit_callbacks(execute=True):
        receipt = client.get(respondent.send()["Location"])
    assert receipt.status_code == 200
    submission = Submission.objects.get()
    assert submission.name == "" and submission.email == ""
    assert not OutgoingEmail.objects.exists()
    assert mail.outbox == []


def test_a_view_can_be_changed_and_removed_before_sending(client, respondent):
    respondent.about_you()
    respondent.add_view(PRIORITISATION_VIEW)
    respondent.add_view(ENGAGEMENT_VIEW)
    client.post("/give-views/your-views/1/", {**PRIORITISATION_VIEW, "level": Level.NATIONAL})
    client.post("/give-views/your-views/2/remove/")
    respondent.no_more_views()
    respondent.permissions()
    respondent.send()
    views = list(Submission.objects.get().views.all())
    assert [(v.element, v.level) for v in views] == [(Element.PRIORITISATION, Level.NATIONAL)]


def test_change_links_return_to_check_your_answers(client, respondent):
    respondent.complete_up_to_check()
    check = client.get("/give-views/check-your-answers/").content.decode()
    assert 'href="/give-views/about-you/?change=1#id_organisation"' in check
    changed = client.post("/give-views/about-you/?change=1", {**ABOUT_YOU, "organisation": "Southfield PCT"})
    assert changed["Location"] == "/give-views/check-your-answers/"
    assert "Southfield PCT" in client.get("/give-views/check-your-answers/").content.decode()


def test_pages_ahead_of_the_journey_send_the_respondent_back_to_the_first_unanswered_one(client, respondent):
    assert client.get("/give-views/check-your-answers/")["Location"] == "/give-views/about-you/"
    respondent.about_you()
    assert client.get("/give-views/permissions/")["Location"] == "/give-views/your-views/add/"
    assert client.get("/give-views/your-views/")["Location"] == "/give-views/your-views/add/"


def test_a_level_is_kept_only_for_prioritisation_views(client, respondent):
    respondent.about_you()
    respondent.add_view({**ENGAGEMENT_VIEW, "level": Level.LOCAL})
    assert client.session["draft"]["views"][0]["level"] == ""


def test_submitted_html_is_stored_as_typed_and_shown_escaped(client, respondent):
    script = '<script>alert("x")</script> & <b>bold</b>'
    respondent.about_you(organisation=script)
    respondent.add_view({**ENGAGEMENT_VIEW, "text": script})
    respondent.no_more_views()
    respondent.permissions()
    check = client.get("/give-views/check-your-answers/").content.decode()
    assert "<script>alert" not in check
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in check
    respondent.send()
    submission = Submission.objects.get()
    assert submission.organisation == script
    assert submission.views.get().text == script


def test_the_minimum_fill_time_turns_away_answers_sent_too_quickly(client, respondent, settings):
    settings.QIPP_MIN_FILL_SECONDS = 30
    with time_machine.travel("2026-11-23 10:00:00 +0000", tick=False) as clock:
        respondent.complete_up_to_check()
        clock.shift(10)
        too_fast = respondent.send()
        assert too_fast.status_code == 400
        assert "very quickly" in too_fast.content.decode()
        assert Submission.objects.count() == 0
        clock.shift(30)
        assert respondent.send().status_code == 302
    assert Submission.objects.count() == 1


def test_a_filled_in_honeypot_saves_nothing(client, respondent):
    respondent.complete_up_to_check()
    page = respondent.send(website="http://spam.example")
    assert page.status_code == 400
    assert Submission.objects.count() == 0


def test_too_many_submissions_from_one_client_get_a_readable_429_page(client, respondent, settings):
    settings.QIPP_SUBMIT_RATE = "2/h"
    for _ in range(2):
        respondent.complete_up_to_check()
        assert respondent.send().status_code == 302
    respondent.complete_up_to_check()
    page = respondent.send()
    assert page.status_code == 429
    assert "Too many" in page.content.decode()
    assert Submission.objects.count() == 2
    assert "draft" in client.session, "the answers are kept for later"


def test_the_rate_limit_lets_submissions_through_when_the_cache_is_down(client, respondent, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    respondent.complete_up_to_check()
    assert respondent.send().status_code == 302
    assert Submission.objects.count() == 1


def test_looking_at_the_first_page_leaves_nothing_stored(client):
    from django.contrib.sessions.models import Session

    page = client.get("/give-views/about-you/")
    assert page.status_code == 200
    assert "sessionid" not in page.cookies
    assert Session.objects.count() == 0


def test_each_first_visit_gets_its_own_csrf_token_and_nonce_and_the_form_takes_its_token():
    def tokens(page) -> tuple[str, str]:
        html = page.content.decode()
        nonce = re.search(r"'nonce-([^']+)'", page["Content-Security-Policy"]).group(1)
        assert re.findall(r'<script[^>]* nonce="([^"]+)"', html) == [nonce, nonce]
        return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1), nonce

    first_browser, second_browser = HttpsClient(enforce_csrf_checks=True), HttpsClient(enforce_csrf_checks=True)
    first, second = first_browser.get("/give-views/about-you/"), second_browser.get("/give-views/about-you/")
    (first_token, first_nonce), (second_token, second_nonce) = tokens(first), tokens(second)
    assert first_token != second_token and first_nonce != second_nonce
    assert first.cookies["csrftoken"].value != second.cookies["csrftoken"].value

    page = "https://testserver/give-views/about-you/"
    saved = first_browser.post(page, {**ABOUT_YOU, "csrfmiddlewaretoken": first_token}, HTTP_REFERER=page)
    assert saved.status_code == 302
    refused = second_browser.post(page, {**ABOUT_YOU, "csrfmiddlewaretoken": first_token}, HTTP_REFERER=page)
    assert refused.status_code == 403, "another visitor's token is refused"


def test_the_first_visit_shows_the_same_page_as_one_rendered_for_a_change(client):
    def normalised(page) -> str:
        html = page.content.decode()
        html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "TOKEN", html)
        html = re.sub(r'nonce="[^"]+"', "NONCE", html)
        return html.replace('action="/give-views/about-you/?change=1"', 'action="/give-views/about-you/"')

    for _ in range(2):  # the second first visit is answered from what the first one rendered
        first_visit = client.get("/give-views/about-you/")
    assert first_visit.status_code == 200 and "no-store" in first_visit["Cache-Control"]
    assert normalised(first_visit) == normalised(client.get("/give-views/about-you/?change=1"))


def test_a_draft_is_gone_once_its_session_has_expired(client, respondent, settings):
    with time_machine.travel("2026-11-23 10:00:00+00:00", tick=False) as clock:
        respondent.about_you()
        respondent.add_view(PRIORITISATION_VIEW)
        assert client.get("/give-views/your-views/").status_code == 200
        clock.shift(settings.SESSION_COOKIE_AGE + 1)
        assert client.get("/give-views/your-views/")["Location"] == "/give-views/about-you/"


def test_the_minimum_fill_time_counts_from_the_first_answers_the_server_saved(client, settings):
    settings.QIPP_MIN_FILL_SECONDS = 30
    respondent = Respondent(client)
    with time_machine.travel("2026-11-23 10:00:00+00:00", tick=False) as clock:
        client.get("/give-views/about-you/")
        clock.shift(600)
        respondent.about_you()
        respondent.add_view(PRIORITISATION_VIEW)
        respondent.no_more_views()
        respondent.permissions()
        clock.shift(10)
        assert respondent.send().status_code == 400, "10 seconds after the first save, however long the page was open"
        clock.shift(20)
        assert respondent.send().status_code == 302
    assert Submission.objects.count() == 1


def test_a_start_time_kept_from_an_old_page_does_not_let_a_new_session_send_at_once(client, settings):
    from django.core import signing

    settings.QIPP_MIN_FILL_SECONDS = 30
    respondent = Respondent(client)
    # What the first page used to carry: its signed start time, two hours old.
    kept = signing.dumps(time.time() - 7200, salt="feedback.views.started")
    client.post("/give-views/about-you/", {**ABOUT_YOU, "started": kept})
    respondent.add_view(PRIORITISATION_VIEW)
    respondent.no_more_views()
    respondent.permissions()
    assert respondent.send().status_code == 400
    assert Submission.objects.count() == 0


def test_reading_the_check_page_writes_nothing(client, respondent):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    respondent.complete_up_to_check()
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/give-views/check-your-answers/").status_code == 200
    assert [query["sql"] for query in queries if not query["sql"].startswith("SELECT")] == []


def test_sending_ends_a_respondents_session(client, respondent):
    from django.contrib.sessions.models import Session

    respondent.complete_up_to_check()
    sent = respondent.send()
    assert sent.status_code == 302
    assert sent.cookies["sessionid"].value == "", "the cookie is removed"
    assert Session.objects.count() == 0


def test_a_signed_in_member_of_staff_who_sends_views_stays_signed_in(client, respondent, make_staff):
    make_staff("Policy reviewers", client=client)
    respondent.complete_up_to_check()
    assert respondent.send().status_code == 302
    assert "draft" not in client.session
    assert client.get("/admin/").status_code == 200


@pytest.mark.parametrize(
    "step",
    [
        "/give-views/about-you/",
        "/give-views/your-views/",
        "/give-views/your-views/add/",
        "/give-views/your-views/1/",
        "/give-views/your-views/1/remove/",
        "/give-views/permissions/",
        "/give-views/check-your-answers/",
    ],
)
def test_no_page_of_the_journey_may_be_kept_by_a_browser_or_proxy(client, respondent, step):
    respondent.complete_up_to_check()
    page = client.get(step)
    assert page.status_code == 200
    assert "no-store" in page["Cache-Control"]


def test_the_receipt_may_not_be_kept_by_a_browser_or_proxy(client, respondent):
    respondent.complete_up_to_check()
    receipt = client.get(respondent.send()["Location"])
    assert receipt.status_code == 200
    assert "no-store" in receipt["Cache-Control"]


def test_abandoned_drafts_are_deleted_by_the_hourly_job_once_their_session_expires(client, respondent, settings):
    from django.contrib.sessions.models import Session

    from feedback import tasks

    assert settings.CELERY_BEAT_SCHEDULE["clear-expired-sessions"]["task"] == tasks.clear_expired_sessions_task.name
    with time_machine.travel("2026-11-23 10:00:00+00:00", tick=False) as clock:
        respondent.about_you()
        abandoned = client.session.session_key
        clock.shift(settings.SESSION_COOKIE_AGE - 60)
        Respondent(HttpsClient()).about_you()
        clock.shift(120)
        tasks.clear_expired_sessions_task.delay()
    assert not Session.objects.filter(session_key=abandoned).exists()
    assert Session.objects.count() == 1, "a draft still in its time is kept"
