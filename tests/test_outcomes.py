"""What was done with the views: publishing the final digest's outcomes, the public page, one email per address."""

import datetime
import hashlib

import pytest
import time_machine
from django.core import mail

from feedback import changes, digests, outbox, outcomes
from feedback.models import (
    AuditAction,
    AuditEvent,
    CallWindow,
    Decision,
    Digest,
    Element,
    EmailKind,
    OutgoingEmail,
    Theme,
    ThemeDecision,
    ThemeTag,
)
from feedback.periods import Week

from .factories import SubmissionFactory

pytestmark = pytest.mark.django_db

W46, W47, W48 = (Week.parse(f"2026-W{n}") for n in (46, 47, 48))
CLOSES = W47.start + datetime.timedelta(days=4, hours=17)
MONDAY_AFTER = W48.start + datetime.timedelta(hours=9)
QUOTED = "Boards should hear from ward nurses every month."
NOT_QUOTED = "My private view, which I did not agree to have quoted."
WITHDRAWN = "A view whose respondent withdrew it after the digest."


@pytest.fixture
def approved_final(django_user_model):
    CallWindow(pk=1, opens_at=W46.start, closes_at=CLOSES).save()
    reviewer = django_user_model.objects.create_user("tagger", is_staff=True)
    theme = Theme.objects.create(element=Element.LEADERSHIP, name="Boards back clinical leaders")
    people = [
        ("Priya Shah", "Priya.Shah@example.nhs.uk", True, True, QUOTED),
        ("Priya Shah", "priya.shah@example.nhs.uk", True, True, "Clinical leaders need time in board meetings."),
        ("Sam Patel", "sam.patel@example.nhs.uk", False, False, NOT_QUOTED),
        ("Jo Lee", "jo.lee@example.nhs.uk", True, True, WITHDRAWN),
    ]
    made = []
    for number, (name, address, contact, quote, text) in enumerate(people):
        submission = SubmissionFactory(
            name=name,
            email=address,
            organisation="Northfield Community Health",
            consent_to_contact=contact,
            consent_to_quote=quote,
            received_at=W47.start + datetime.timedelta(days=1, hours=number),
            views=[{"element": Element.LEADERSHIP, "text": text}],
        )
        ThemeTag.objects.create(view=submission.views.get(), theme=theme, assigned_by=reviewer)
        made.append(submission)
    with time_machine.travel(MONDAY_AFTER):
        final = digests.compile_final_digest()
    ThemeDecision.objects.create(
        theme=theme,
        decision=Decision.PARTLY,
        reason="Boards will report how they support clinical leaders.",
        framework_section="Chapter 3, leadership",
    )
    lead = django_user_model.objects.create_user("lead", is_staff=True)
    assert final.approve(by=lead)
    return {"digest": final, "lead": lead, "made": made, "theme": theme}


def test_nothing_is_public_until_the_final_digest_is_published(client, approved_final):
    with time_machine.travel(MONDAY_AFTER):
        start = client.get("/").content.decode()
    assert client.get("/what-we-did/").status_code == 404
    assert "/what-we-did/" not in start


def test_publishing_emails_each_address_that_agreed_to_be_contacted_once(approved_final):
    changes.withdraw(approved_final["made"][3])

    written = outcomes.publish(approved_final["digest"], by=approved_final["lead"])
    again = outcomes.publish(approved_final["digest"], by=approved_final["lead"])

    assert written == 1 and again is None
    (email,) = OutgoingEmail.objects.filter(kind=EmailKind.OUTCOME)
    assert email.recipient == "priya.shah@example.nhs.uk"
    unsalted = hashlib.sha256(b"priya.shah@example.nhs.uk").hexdigest()
    assert "priya" not in email.key and unsalted not in email.key, "the key does not give the address away"
    mail.outbox = []
    outbox.send()
    (sent,) = mail.outbox
    assert sent.to == ["priya.shah@example.nhs.uk"]
    assert sent.subject == "What we did with your views on the QIPP challenge"
    assert "/what-we-did/" in sent.body
    assert AuditEvent.objects.get(action=AuditAction.OUTCOMES_PUBLISHED).detail == {
        "digest": approved_final["digest"].number,
        "emails": 1,
    }


def test_only_an_approved_final_digest_is_published(approved_final, django_user_model):
    with time_machine.travel(W47.end + datetime.timedelta(hours=1)):
        weekly = digests.compile_digest(week=W47)
    assert outcomes.publish(weekly, by=approved_final["lead"]) is None
    Digest.objects.filter(pk=approved_final["digest"].pk).update(status="ready")
    assert outcomes.publish(approved_final["digest"], by=approved_final["lead"]) is None
    assert not OutgoingEmail.objects.filter(kind=EmailKind.OUTCOME).exists()


def test_the_public_page_shows_themes_decisions_and_consented_words_and_nothing_personal(client, approved_final):
    changes.withdraw(approved_final["made"][3])
    outcomes.publish(approved_final["digest"], by=approved_final["lead"])

    with time_machine.travel(MONDAY_AFTER):
        start = client.get("/").content.decode()
    page = client.get("/what-we-did/").content.decode()

    assert 'href="/what-we-did/"' in start
    assert "Boards back clinical leaders" in page and "Raised in 4 submissions" in page
    assert "Partly adopted" in page and "Boards will report how they support clinical leaders." in page
    assert "Chapter 3, leadership" in page
    assert QUOTED in page
    for hidden in (NOT_QUOTED, WITHDRAWN, "[withdrawn]", "Priya", "Shah", "Sam Patel", "Northfield", "example.nhs.uk"):
        assert hidden not in page, hidden
    for submission in approved_final["made"]:
        assert submission.reference not in page


def test_a_proposal_answered_on_its_own_is_shown_with_its_words_only_if_its_respondent_agreed(
    client, approved_final, make_staff
):
    quoted, private = (
        SubmissionFactory(
            consent_to_quote=agreed,
            received_at=W47.start + datetime.timedelta(days=2),
            views=[{"element": Element.NATIONAL_POLICY, "text": text}],
        )
        for agreed, text in ((True, "Pool capital budgets regionally."), (False, "Scrap the tariff for rehab."))
    )
    make_staff("Policy leads", client=client)
    for submission, decision in ((quoted, Decision.ADOPTED), (private, Decision.NOT_ADOPTED)):
        saved = client.post(
            "/admin/feedback/themedecision/add/",
            {"proposal": submission.views.get().pk, "decision": decision, "reason": f"Reason for {decision}."},
        )
        assert saved.status_code == 302, saved.content.decode()[:3000]
    leadership_view = approved_final["made"][0].views.get()
    refused = client.post(
        "/admin/feedback/themedecision/add/",
        {"proposal": leadership_view.pk, "decision": Decision.ADOPTED, "reason": "Not a proposal."},
    )
    undecided = Theme.objects.create(element=Element.NATIONAL_POLICY, name="Capital budgets")
    both = client.post(
        "/admin/feedback/themedecision/add/",
        {"theme": undecided.pk, "proposal": quoted.views.get().pk, "decision": "adopted", "reason": "x"},
    )
    outcomes.publish(approved_final["digest"], by=approved_final["lead"])

    page = client.get("/what-we-did/").content.decode()

    assert refused.status_code == 200 and ThemeDecision.objects.filter(proposal=leadership_view).count() == 0
    assert both.status_code == 200 and "not both" in both.content.decode()
    assert "Proposals we answered one by one" in page
    assert "Pool capital budgets regionally." in page and "Reason for adopted." in page
    assert "Scrap the tariff for rehab." not in page and "did not agree to be quoted" in page
    assert "Reason for not_adopted." in page
