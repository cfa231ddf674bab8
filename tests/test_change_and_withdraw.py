"""
A respondent changes a view or withdraws their submission from the link in
their receipt email, until the call closes; digests and figures follow.
"""

import datetime
import threading
import zoneinfo
from io import BytesIO

import pytest
import time_machine
from django.db import connection
from pypdf import PdfReader

from feedback import campaigns, changes, coding, dashboard, digests, own
from feedback.mail import store
from feedback.models import (
    Attachment,
    AuditAction,
    AuditEvent,
    CallWindow,
    Campaign,
    Digest,
    DigestMembership,
    Element,
    EmailStatus,
    InboundMessage,
    Level,
    MessageOrigin,
    Note,
    NotYetCounted,
    OutgoingEmail,
    Status,
    Submission,
    Theme,
    ThemeTag,
    View,
    ViewVersion,
)
from feedback.periods import Week
from feedback.sorting import sort_message

from .factories import AcknowledgementFactory, SubmissionFactory
from .mail_samples import email
from .tallies import assert_tallies_equal_direct_counts

pytestmark = pytest.mark.django_db

LONDON = zoneinfo.ZoneInfo("Europe/London")
W47, W48 = Week.parse("2026-W47"), Week.parse("2026-W48")
AFTER_W47 = "2026-11-23 09:00 +0000"
AFTER_W48 = "2026-11-30 09:00 +0000"
OLD_WORDS = "Waiting lists should be shared across the whole local system, not held trust by trust."


def opened(client, submission: Submission):
    """This browser has opened the submission from its receipt email's link (pressing its button)."""
    assert client.post(own.link_for(submission)).status_code == 302
    return client


def prioritisation_submission(**fields) -> Submission:
    return SubmissionFactory(
        views=[
            {"element": Element.PRIORITISATION, "level": Level.REGIONAL, "text": OLD_WORDS, "question_version": 2},
            {"element": Element.ENGAGEMENT, "text": "Joint teams with social care."},
        ],
        **fields,
    )


def closing_in_an_hour() -> CallWindow:
    now = datetime.datetime.now(LONDON)
    window = CallWindow(opens_at=now - datetime.timedelta(days=30), closes_at=now + datetime.timedelta(hours=1))
    window.full_clean()
    window.save()
    return window


# --- Changing a view ----------------------------------------------------------


def test_a_respondent_changes_a_views_words_and_level_and_the_words_sent_before_are_kept(client):
    submission = prioritisation_submission()
    opened(client, submission)
    own_page = client.get("/your-submission/").content.decode()
    form = client.get("/your-submission/views/1/").content.decode()

    saved = client.post(
        "/your-submission/views/1/",
        {"text": "Shared waiting lists, run by several local systems together.", "level": Level.SEVERAL},
    )
    after = client.get(saved["Location"]).content.decode()

    assert 'href="/your-submission/views/1/"' in own_page and "Withdraw my submission" in own_page
    assert OLD_WORDS in form and "Where would this be best organised?" in form
    assert saved.status_code == 302
    assert "View 1 has been changed" in after
    assert "Shared waiting lists, run by several local systems together." in after
    view = submission.views.get(position=1)
    assert (view.text, view.level, view.version) == (
        "Shared waiting lists, run by several local systems together.",
        Level.SEVERAL,
        2,
    )
    (earlier,) = ViewVersion.objects.filter(view=view)
    assert (earlier.version, earlier.text, earlier.level) == (1, OLD_WORDS, Level.REGIONAL)
    assert earlier.given_at == submission.received_at
    event = AuditEvent.objects.get(action=AuditAction.VIEW_CHANGED)
    assert event.reference == submission.reference and event.actor is None
    assert event.detail == {"view": 1, "version": 2, "level_from": "regional", "level_to": "several"}
    assert OLD_WORDS not in str(event.detail)


def test_a_changed_view_is_counted_once_under_its_new_level():
    submission = prioritisation_submission()
    SubmissionFactory(views=[{"element": Element.PRIORITISATION, "level": Level.REGIONAL}])
    view = submission.views.get(position=1)

    changes.change_view(view, text="Better across several systems.", level=Level.SEVERAL, example="")

    assert View.objects.count() == 3
    assert_tallies_equal_direct_counts()
    grid = dashboard.summary(now=datetime.datetime.now(LONDON))["grid"]
    columns = [column["code"] for column in grid["columns"]]
    row = next(row for row in grid["rows"] if row["code"] == Element.PRIORITISATION)
    assert row["counts"][columns.index(Level.REGIONAL)] == 1
    assert row["counts"][columns.index(Level.SEVERAL)] == 1
    assert grid["total"] == 3


def test_sending_the_same_words_again_changes_nothing():
    submission = prioritisation_submission()
    view = submission.views.get(position=1)
    assert not changes.change_view(view, text=OLD_WORDS, level=Level.REGIONAL, example="")
    assert view.version == 1 and not ViewVersion.objects.exists()


def test_a_change_that_empties_the_view_is_refused_with_its_error(client):
    submission = prioritisation_submission()
    opened(client, submission)
    page = client.post("/your-submission/views/1/", {"text": "", "level": Level.REGIONAL})
    assert page.status_code == 200
    assert "Enter your view" in page.content.decode()
    assert submission.views.get(position=1).text == OLD_WORDS


def test_a_respondent_can_change_only_the_views_of_the_submission_they_opened(client):
    theirs, other = prioritisation_submission(), prioritisation_submission()
    opened(client, theirs)
    assert client.get("/your-submission/views/3/").status_code == 404
    client.post("/your-submission/views/2/", {"text": "Changed."})
    assert theirs.views.get(position=2).text == "Changed."
    assert other.views.get(position=2).text == "Joint teams with social care."
    stranger = client.__class__()
    assert stranger.post("/your-submission/views/1/", {"text": "Not mine."}).status_code == 404
    assert stranger.post("/your-submission/withdraw/").status_code == 404
    assert not Submission.objects.filter(status=Status.WITHDRAWN).exists()


def test_the_themes_people_gave_a_changed_view_are_flagged_to_read_again_and_the_machines_go(django_user_model):
    reviewer = django_user_model.objects.create_user("tagger", is_staff=True)
    submission = prioritisation_submission()
    view = submission.views.get(position=1)
    kept, suggested = (Theme.objects.create(element=Element.PRIORITISATION, name=name) for name in ("Lists", "Beds"))
    ThemeTag.objects.create(view=view, theme=kept, assigned_by=reviewer)
    ThemeTag.objects.create(view=view, theme=suggested, confidence=0.8, model_version="m1")

    changes.change_view(view, text="Beds should be planned by region.", level=Level.REGIONAL, example="")

    (tag,) = ThemeTag.objects.filter(view=view)
    assert tag.theme == kept and tag.to_review
    queue = coding.Queue(element=Element.PRIORITISATION, state="changed")
    assert list(queue.views()) == [view]

    coding.code(view, by=reviewer, chosen={kept.pk: ""})

    assert not ThemeTag.objects.get(view=view).to_review
    assert not queue.views().exists()


def test_a_changed_view_leaves_its_campaign_and_is_grouped_again_by_its_new_words():
    letter = "We the undersigned ask that the community hospital in Northfield stays open for local people. " * 3
    made = [SubmissionFactory(views=[{"element": Element.ENGAGEMENT, "text": letter}]) for _ in range(3)]
    campaigns.group_new_views()
    campaign = Campaign.objects.get()
    assert campaign.size == 3
    leader = View.objects.get(pk=campaign.first_view_id)

    changes.change_view(leader, text="Something else entirely, in my own words.", level="", example="")

    campaign.refresh_from_db()
    assert campaign.size == 2 and campaign.first_view_id != leader.pk
    campaigns.group_new_views()
    campaign.refresh_from_db()
    assert campaign.size == 2
    assert {v.submission_id for v in View.objects.filter(fingerprint__campaign=campaign)} == {
        s.pk for s in made if s.pk != leader.submission_id
    }


def test_a_change_sent_after_the_call_closed_is_refused_and_nothing_of_it_is_kept(client):
    window = closing_in_an_hour()
    submission = prioritisation_submission()
    opened(client, submission)
    assert client.get("/your-submission/views/1/").status_code == 200

    with time_machine.travel(window.closes_at + datetime.timedelta(minutes=1)):
        refused = client.post("/your-submission/views/1/", {"text": "Too late.", "level": Level.NATIONAL})
        own_page = client.get("/your-submission/").content.decode()
        form = client.get("/your-submission/views/1/")

    assert refused.status_code == 403
    assert "Your change arrived after it closed" in refused.content.decode()
    assert submission.views.get(position=1).text == OLD_WORDS
    assert not ViewVersion.objects.exists() and not AuditEvent.objects.filter(action=AuditAction.VIEW_CHANGED)
    assert "can no longer be changed or withdrawn" in own_page and OLD_WORDS in own_page
    assert "/your-submission/views/1/" not in own_page and "Withdraw my submission" not in own_page
    assert form.status_code == 302


# --- Withdrawing ---------------------------------------------------------------


def test_withdrawing_leaves_a_tombstone_with_the_reference_and_nothing_else_of_the_respondent(
    client, django_user_model
):
    submission = prioritisation_submission(name="Priya Shah", email="priya.shah@example.nhs.uk", consent_to_quote=True)
    Note.objects.create(submission=submission, text="Priya phoned about this.")
    AcknowledgementFactory(submission=submission, status=EmailStatus.SENT)
    opened(client, submission)

    confirm = client.get("/your-submission/withdraw/").content.decode()
    assert Submission.objects.get(pk=submission.pk).status == Status.NEW, "opening the page withdraws nothing"
    done = client.post("/your-submission/withdraw/")
    own_page = client.get(done["Location"]).content.decode()

    assert "Are you sure you want to withdraw your submission?" in confirm
    assert "You withdrew your submission" in own_page and submission.reference in own_page
    assert OLD_WORDS not in own_page and "Priya" not in own_page
    tombstone = Submission.objects.get(pk=submission.pk)
    assert tombstone.status == Status.WITHDRAWN and tombstone.withdrawn_at is not None
    assert (tombstone.reference, tombstone.received_at) == (submission.reference, submission.received_at)
    assert (tombstone.name, tombstone.email, tombstone.organisation) == ("", "", "")
    assert not (tombstone.consent_to_quote or tombstone.consent_to_share or tombstone.consent_to_contact)
    assert not View.objects.filter(submission=tombstone).exists()
    assert not Note.objects.filter(submission=tombstone).exists()
    assert list(OutgoingEmail.objects.filter(submission=tombstone).values_list("recipient", flat=True)) == [""]
    assert not NotYetCounted.objects.filter(submission=tombstone).exists()
    event = AuditEvent.objects.get(action=AuditAction.WITHDRAWN)
    assert event.reference == submission.reference and event.detail["views"] == 2
    assert_tallies_equal_direct_counts()
    totals = dashboard.summary(now=datetime.datetime.now(LONDON))["totals"]
    assert (totals["submissions"], totals["views"], totals["withdrawn"]) == (0, 0, 1)


def test_an_acknowledgement_not_yet_sent_to_a_withdrawn_respondent_is_never_sent():
    submission = prioritisation_submission()
    AcknowledgementFactory(submission=submission)
    changes.withdraw(submission)
    assert not OutgoingEmail.objects.filter(submission=submission).exists()


def test_withdrawing_twice_withdraws_once():
    submission = prioritisation_submission()
    assert changes.withdraw(submission)
    assert not changes.withdraw(submission)
    assert AuditEvent.objects.filter(action=AuditAction.WITHDRAWN).count() == 1
    assert_tallies_equal_direct_counts()


def test_a_withdrawn_submission_cannot_be_changed_or_given_a_status(client, django_user_model):
    reviewer = django_user_model.objects.create_user("reviewer", is_staff=True)
    submission = prioritisation_submission()
    view = submission.views.get(position=1)
    opened(client, submission)
    changes.withdraw(submission)

    with pytest.raises(changes.AlreadyWithdrawn):
        changes.change_view(view, text="After.", level=Level.LOCAL, example="")
    assert client.get("/your-submission/views/1/").status_code == 302
    assert client.get("/your-submission/withdraw/").status_code == 302
    assert not submission.set_status(Status.FLAGGED, by=reviewer)
    assert Submission.objects.filter(pk=submission.pk).set_status(Status.READ, by=reviewer) == 0
    assert Submission.objects.get(pk=submission.pk).status == Status.WITHDRAWN


def test_a_withdrawal_sent_after_the_call_closed_is_refused_and_nothing_is_withdrawn(client):
    window = closing_in_an_hour()
    submission = prioritisation_submission()
    opened(client, submission)
    assert client.get("/your-submission/withdraw/").status_code == 200

    with time_machine.travel(window.closes_at + datetime.timedelta(seconds=1)):
        refused = client.post("/your-submission/withdraw/")

    assert refused.status_code == 403
    assert "Your request to withdraw arrived after it closed" in refused.content.decode()
    kept = Submission.objects.get(pk=submission.pk)
    assert kept.status == Status.NEW and kept.views.count() == 2 and kept.name
    assert NotYetCounted.objects.filter(submission=kept).exists()


def test_withdrawing_a_view_sent_by_email_empties_the_stored_message():
    raw = email(text="Urgent care should be planned across the whole local system. Amina.")
    message, _ = store(raw, origin=MessageOrigin.MAILBOX)
    about = {
        "name": "Amina Patel",
        "email": "amina.patel@example.nhs.uk",
        "role": "doctor",
        "organisation": "",
        "organisation_type": "acute_trust",
        "region": "london",
    }
    submission = sort_message(
        message, by=None, about=about, views=[{"element": Element.ENGAGEMENT, "level": "", "text": "Plan it."}]
    )
    Attachment.objects.create(
        message=message, position=1, filename="a.txt", content_type="text/plain", size=1, content=b"x"
    )

    changes.withdraw(submission)

    message = InboundMessage.objects.get(pk=message.pk)
    assert bytes(message.raw) == b"" and message.text == "" and message.subject == ""
    assert message.sender_email == "" and message.sender_name == ""
    assert not message.attachments.exists()
    assert store(raw, origin=MessageOrigin.MAILBOX)[1] is False, "the same message is not taken in again"


# --- Digests ----------------------------------------------------------------------


def in_week(week: Week, **fields) -> Submission:
    return prioritisation_submission(received_at=week.start + datetime.timedelta(days=2), **fields)


def compiled(week: Week, when: str) -> Digest:
    with time_machine.travel(when):
        return digests.compile_digest(week=week)


def quoted_words(content: dict) -> list[str]:
    passages = [quote["text"] for element in content["elements"] for quote in element["quotes"]]
    passages += [p["text"] for group in content["national_policy"]["groups"] for p in group["proposals"]]
    return passages


def figures(content: dict) -> dict:
    """Everything a digest counted, without the words it quoted."""
    return {
        "headline": content["headline"],
        "elements": [
            {key: value for key, value in element.items() if key not in ("quotes", "campaigns")}
            for element in content["elements"]
        ],
        "priorities": content["priorities"],
        "breakdowns": content["breakdowns"],
    }


def test_withdrawal_keeps_a_frozen_digests_figures_and_takes_the_words_out_of_it_and_its_pdf(client, make_staff):
    leaving = in_week(W47, consent_to_quote=True)
    staying = in_week(W47, consent_to_quote=True)
    View.objects.filter(submission=staying, position=1).update(text="Stroke services need regional planning.")
    digest = compiled(W47, AFTER_W47)
    assert OLD_WORDS in quoted_words(digest.content)
    before = figures(digest.content)

    changes.withdraw(leaving)

    digest.refresh_from_db()
    assert figures(digest.content) == before
    assert OLD_WORDS not in str(digest.content)
    assert "[withdrawn]" in quoted_words(digest.content)
    assert "Stroke services need regional planning." in quoted_words(digest.content)
    event = AuditEvent.objects.get(action=AuditAction.DIGEST_WORDS_WITHDRAWN)
    assert event.reference == leaving.reference and event.detail["digest"] == digest.number
    assert event.detail["passages"] >= 1
    make_staff("Policy leads", client=client)
    page = client.get(f"/admin/feedback/digest/{digest.pk}/read/").content.decode()
    pdf = client.get(f"/admin/feedback/digest/{digest.pk}/pdf/").content
    pdf_text = "\n".join(page.extract_text() for page in PdfReader(BytesIO(pdf)).pages)
    assert "Waiting lists should be shared" not in page and "[withdrawn]" in page
    assert "Waiting lists should be shared" not in pdf_text and "[withdrawn]" in pdf_text
    assert DigestMembership.objects.filter(digest=digest).count() == 2, "the figures' links still find both rows"


def test_a_campaigns_excerpt_from_a_withdrawn_respondent_is_taken_out_of_the_digest():
    letter = "We the undersigned ask that the community hospital in Northfield stays open for local people. " * 3
    # Only the first sender agreed to be quoted: only their words could be the excerpt, or quoted.
    made = [in_week(W47, consent_to_quote=quotable) for quotable in (True, False, False)]
    for submission in made:
        View.objects.filter(submission=submission, position=2).update(text=letter)
    campaigns.group_new_views()
    digest = compiled(W47, AFTER_W47)
    (summary,) = next(e for e in digest.content["elements"] if e["code"] == Element.ENGAGEMENT)["campaigns"]
    assert summary["excerpt"].startswith("We the undersigned")
    leader = Submission.objects.get(pk=summary["submission_id"])

    changes.withdraw(leader)

    digest.refresh_from_db()
    (summary,) = next(e for e in digest.content["elements"] if e["code"] == Element.ENGAGEMENT)["campaigns"]
    assert summary["excerpt"] == "[withdrawn]" and summary["size"] == 3
    assert "We the undersigned" not in str(digest.content)
    assert Campaign.objects.get(element=Element.ENGAGEMENT).size == 2


def test_the_next_digest_notes_what_was_changed_and_withdrawn_since_the_last(client, make_staff):
    changed, withdrawn, untouched = in_week(W47), in_week(W47), in_week(W47)
    first = compiled(W47, AFTER_W47)
    uncounted = in_week(W48)
    with time_machine.travel("2026-11-25 10:00 +0000"):
        changes.change_view(changed.views.get(position=1), text="New words.", level=Level.LOCAL, example="")
        changes.withdraw(withdrawn)
        changes.withdraw(uncounted)
    in_week(W48)

    second = compiled(W48, AFTER_W48)

    since = second.content["since_previous"]
    assert since["since"] == first.compiled_at.isoformat()
    assert (since["changed_views"], since["changed_submissions"]) == (1, 1)
    assert since["changed"] == [
        {
            "submission_id": changed.pk,
            "reference": changed.reference,
            "element": Element.PRIORITISATION.label,
            "digest_number": 1,
        }
    ]
    assert (since["withdrawn"], since["withdrawn_uncounted"]) == (1, 1)
    assert since["withdrawn_list"] == [
        {"submission_id": withdrawn.pk, "reference": withdrawn.reference, "digest_number": 1}
    ]
    assert second.content["headline"]["new"] == 1, "the withdrawn submission of its week is not counted"
    assert not DigestMembership.objects.filter(submission=uncounted).exists()
    assert untouched.reference not in str(since)
    make_staff("Policy leads", client=client)
    page = client.get(f"/admin/feedback/digest/{second.pk}/read/").content.decode()
    assert "Changed or withdrawn since the last digest" in page
    assert changed.reference in page and withdrawn.reference in page
    assert "withdrawn before any digest counted it" in page


def test_a_digest_compiled_before_changes_were_noted_shows_no_such_section(client, make_staff):
    in_week(W47)
    digest = compiled(W47, AFTER_W47)
    stored = dict(digest.content)
    del stored["since_previous"]
    Digest.objects.filter(pk=digest.pk).update(content={**stored, "schema": 3})
    make_staff("Policy leads", client=client)
    page = client.get(f"/admin/feedback/digest/{digest.pk}/read/")
    assert page.status_code == 200 and "since the last digest" not in page.content.decode()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks between two connections")
@pytest.mark.django_db(transaction=True)
def test_a_withdrawal_during_a_compile_waits_for_it_and_then_takes_the_words_out(monkeypatch):
    leaving = in_week(W47, consent_to_quote=True)
    real_build = digests.build_content
    withdrawal = {}

    def build_then_withdraw_elsewhere(digest):
        content = real_build(digest)

        def withdraw():
            try:
                withdrawal["done"] = changes.withdraw(Submission.objects.get(pk=leaving.pk))
            finally:
                connection.close()

        withdrawal["thread"] = threading.Thread(target=withdraw)
        withdrawal["thread"].start()
        withdrawal["thread"].join(timeout=1)
        assert withdrawal["thread"].is_alive(), "the withdrawal waits for the compile to commit"
        return content

    monkeypatch.setattr(digests, "build_content", build_then_withdraw_elsewhere)
    digest = compiled(W47, AFTER_W47)
    withdrawal["thread"].join(timeout=30)

    assert withdrawal["done"]
    digest.refresh_from_db()
    assert OLD_WORDS not in str(digest.content) and "[withdrawn]" in quoted_words(digest.content)
    assert digest.content["headline"]["new"] == 1


# --- In the workspace ----------------------------------------------------------------


def test_a_reviewer_sees_a_tombstone_and_cannot_give_it_a_status_or_a_note(client, make_staff):
    submission = prioritisation_submission()
    changes.withdraw(submission)
    make_staff("Policy reviewers", client=client)
    address = f"/admin/feedback/submission/{submission.pk}/change/"

    page = client.get(address).content.decode()
    posted = client.post(
        address,
        {
            "status": "flagged",
            "views-TOTAL_FORMS": "0",
            "views-INITIAL_FORMS": "0",
            "views-MIN_NUM_FORMS": "0",
            "views-MAX_NUM_FORMS": "0",
            "notes-TOTAL_FORMS": "1",
            "notes-INITIAL_FORMS": "0",
            "notes-MIN_NUM_FORMS": "0",
            "notes-MAX_NUM_FORMS": "1000",
            "notes-0-text": "A note on a tombstone.",
            "notes-0-submission": submission.pk,
        },
    )
    listed = client.get("/admin/feedback/submission/?status__exact=withdrawn").content.decode()

    assert "Withdrawn by the respondent" in page and submission.reference in page
    assert 'name="status"' not in page and 'name="notes-0-text"' not in page
    assert posted.status_code == 302, "the form saves, changing nothing a tombstone holds"
    assert Submission.objects.get(pk=submission.pk).status == Status.WITHDRAWN
    assert not Note.objects.exists()
    assert submission.reference in listed


def test_a_reviewer_reads_the_words_a_view_had_before_its_respondent_changed_it(client, make_staff):
    submission = prioritisation_submission()
    changes.change_view(submission.views.get(position=1), text="New words.", level=Level.LOCAL, example="")
    make_staff("Policy reviewers", client=client)

    page = client.get(f"/admin/feedback/submission/{submission.pk}/change/").content.decode()
    changed = client.get("/admin/feedback/submission/?changed=yes").content.decode()

    assert "Version 2, changed on" in page and OLD_WORDS in page and "New words." in page
    assert submission.reference in changed


def test_the_weekly_email_leaves_out_words_withdrawn_after_its_digest_was_compiled():
    from feedback.emails import weekly_summary_context

    leaving = in_week(W47, consent_to_quote=True)
    digest = compiled(W47, AFTER_W47)
    changes.withdraw(leaving)
    digest.refresh_from_db()

    context = weekly_summary_context(digest=digest, codes=list(Element.values), unsubscribe_url="https://x/")

    assert context["quotes"] == []
    assert OLD_WORDS not in str(context)
