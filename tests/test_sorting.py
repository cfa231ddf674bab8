"""Reviewers sort mail into views in the workspace; each message once, and its sender gets one reply in the thread."""

from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import Permission
from django.core import mail
from django.urls import reverse

from feedback import outbox
from feedback.mail import store
from feedback.models import (
    NOT_KNOWN,
    AuditAction,
    AuditEvent,
    Element,
    EmailKind,
    InboundMessage,
    Level,
    MessageOrigin,
    MessageStatus,
    OutgoingEmail,
    Source,
    Submission,
)

from .factories import SubmissionFactory
from .mail_samples import email
from .tallies import assert_tallies_equal_direct_counts

pytestmark = pytest.mark.django_db

ARRIVED = datetime(2009, 11, 3, 14, 5, tzinfo=UTC)


@pytest.fixture
def message() -> InboundMessage:
    raw = email(
        message_id="<view-from-amina@example.nhs.uk>",
        subject="Views on the QIPP challenge",
        text="Stroke services should be commissioned regionally.\n\nBoards must back clinical leaders.",
        headers={"References": "<earlier@example.nhs.uk>"},
    )
    return store(raw, origin=MessageOrigin.MAILBOX, arrived_at=ARRIVED)[0]


def page(message) -> str:
    return reverse("admin:feedback_inboundmessage_change", args=[message.pk])


def two_views(**sender) -> dict:
    return {
        "action": "sort",
        "sender-role": sender.get("role", "doctor"),
        "sender-organisation": sender.get("organisation", ""),
        "sender-organisation_type": sender.get("organisation_type", NOT_KNOWN),
        "sender-region": sender.get("region", NOT_KNOWN),
        **({"sender-name": sender["name"], "sender-email": sender["email"]} if "name" in sender else {}),
        "views-TOTAL_FORMS": "3",
        "views-INITIAL_FORMS": "0",
        "views-MIN_NUM_FORMS": "0",
        "views-MAX_NUM_FORMS": "20",
        "views-0-element": Element.PRIORITISATION,
        "views-0-level": Level.REGIONAL,
        "views-0-text": "Stroke services should be commissioned regionally.",
        "views-1-element": Element.LEADERSHIP,
        "views-1-level": "",
        "views-1-text": "Boards must back clinical leaders.",
        "views-2-element": "",
        "views-2-level": "",
        "views-2-text": "",
    }


def test_a_reviewer_sorts_a_message_into_two_views_of_one_email_submission(client, make_staff, message):
    reviewer = make_staff("Policy reviewers", client=client)
    data = two_views(name="Dr Amina Patel", email="amina.patel@example.nhs.uk", organisation="Northfield Network")
    data["views-0-example"] = "Our network commissions stroke care for five trusts."
    data["sender-on_behalf_of_organisation"] = "on"

    response = client.post(page(message), data)

    assert response.status_code == 302
    submission = Submission.objects.get()
    assert submission.source == Source.EMAIL
    assert submission.received_at == ARRIVED
    assert (submission.role, submission.organisation_type, submission.region) == ("doctor", NOT_KNOWN, NOT_KNOWN)
    assert submission.email == "amina.patel@example.nhs.uk"
    assert not submission.consent_to_quote and not submission.consent_to_contact
    assert [(v.element, v.level, v.text, v.example) for v in submission.views.all()] == [
        (
            Element.PRIORITISATION,
            Level.REGIONAL,
            "Stroke services should be commissioned regionally.",
            "Our network commissions stroke care for five trusts.",
        ),
        (Element.LEADERSHIP, "", "Boards must back clinical leaders.", ""),
    ]
    assert submission.on_behalf_of_organisation
    assert {view.question_version for view in submission.views.all()} == {None}, "mail answers no question of ours"
    message.refresh_from_db()
    assert message.status == MessageStatus.SORTED
    assert message.submission == submission
    assert message.sorted_by == reviewer
    assert AuditEvent.objects.filter(action=AuditAction.MESSAGE_SORTED, submission=submission).exists()
    assert_tallies_equal_direct_counts()


def test_a_second_save_of_the_same_message_is_refused_with_a_clear_message(client, make_staff, message):
    make_staff("Policy reviewers", client=client)
    client.post(page(message), two_views())

    response = client.post(page(message), two_views(), follow=True)

    assert Submission.objects.count() == 1
    assert "already been sorted or set aside" in response.content.decode()


def test_the_sender_gets_one_reply_in_the_same_thread(client, make_staff, message, django_capture_on_commit_callbacks):
    make_staff("Policy reviewers", client=client)

    with django_capture_on_commit_callbacks(execute=True):
        client.post(page(message), two_views())
    outbox.send()
    outbox.send()

    assert len(mail.outbox) == 1
    reply = mail.outbox[0]
    reference = Submission.objects.get().reference
    assert reply.to == ["amina.patel@example.nhs.uk"]
    assert reply.subject == f"Re: Views on the QIPP challenge ({reference})"
    assert reply.extra_headers["In-Reply-To"] == "<view-from-amina@example.nhs.uk>"
    assert reply.extra_headers["References"] == "<earlier@example.nhs.uk> <view-from-amina@example.nhs.uk>"
    assert reply.extra_headers["Auto-Submitted"] == "auto-replied"
    assert reference in reply.body and "2 views" in reply.body


def test_ignored_and_quarantined_mail_is_never_answered_or_sorted(client, make_staff):
    make_staff("Policy reviewers", client=client)
    ignored, _ = store(email(headers={"Auto-Submitted": "auto-replied"}), origin=MessageOrigin.MAILBOX)
    quarantined, _ = store(b"not an email", origin=MessageOrigin.MAILBOX)

    for message in (ignored, quarantined):
        client.post(page(message), two_views())

    assert Submission.objects.count() == 0
    assert not OutgoingEmail.objects.filter(kind=EmailKind.MAIL_REPLY).exists()


def test_not_a_view_and_duplicate_are_one_click_each_and_keep_the_message(client, make_staff, message):
    make_staff("Policy reviewers", client=client)
    other, _ = store(email(message_id="<again@example.nhs.uk>"), origin=MessageOrigin.MAILBOX)
    original = SubmissionFactory()

    client.post(page(message), {"action": "not_a_view", "reason": "Spam or advertising"})
    client.post(page(other), {"action": "duplicate", "reference": original.reference.lower().replace("-", " ")})

    message.refresh_from_db()
    other.refresh_from_db()
    assert (message.status, message.reason) == (MessageStatus.NOT_A_VIEW, "Spam or advertising")
    assert (other.status, other.duplicate_of) == (MessageStatus.DUPLICATE, original)
    assert InboundMessage.objects.count() == 2
    assert not OutgoingEmail.objects.filter(kind=EmailKind.MAIL_REPLY).exists()


def test_a_view_without_its_element_is_sent_back_with_the_error(client, make_staff, message):
    make_staff("Policy reviewers", client=client)
    data = two_views()
    data["views-0-level"] = ""

    response = client.post(page(message), data)

    assert response.status_code == 400
    assert "Select where this would be best organised" in response.content.decode()
    assert Submission.objects.count() == 0


def test_a_message_with_no_view_given_is_not_saved(client, make_staff, message):
    make_staff("Policy reviewers", client=client)
    data = two_views()
    for slot in range(3):
        data[f"views-{slot}-element"] = data[f"views-{slot}-text"] = data[f"views-{slot}-level"] = ""

    response = client.post(page(message), data)

    assert "Add at least one view" in response.content.decode()
    assert Submission.objects.count() == 0


def test_add_another_view_gives_one_more_slot_without_saving(client, make_staff, message):
    make_staff("Policy reviewers", client=client)
    data = {**two_views(), "action": "add_view"}

    response = client.post(page(message), data)

    assert 'name="views-3-text"' in response.content.decode()
    assert Submission.objects.count() == 0


def test_the_queue_leads_to_the_oldest_message_waiting(client, make_staff, message):
    make_staff("Policy reviewers", client=client)
    store(email(message_id="<newer@example.nhs.uk>"), origin=MessageOrigin.MAILBOX)

    response = client.get(reverse("admin:feedback_inboundmessage_next"))

    assert response.url == page(message)


def test_senders_are_hidden_from_those_who_may_not_see_personal_details(client, make_staff, message):
    reviewer = make_staff("Policy reviewers", client=client)
    reviewer.groups.clear()
    reviewer.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_inboundmessage", "sort_message", "view_attachment"])
    )

    shown = client.get(page(message)).content.decode()
    listed = client.get(reverse("admin:feedback_inboundmessage_changelist")).content.decode()
    original = client.get(reverse("admin:feedback_inboundmessage_original", args=[message.pk]))
    client.post(page(message), two_views())

    assert "amina.patel" not in shown and "Amina" not in shown
    assert "amina.patel" not in listed
    assert original.status_code == 403
    # Saved with the sender's details all the same, for those who may see them.
    assert Submission.objects.get().email == "amina.patel@example.nhs.uk"


def test_viewing_a_sender_is_recorded(client, make_staff, message):
    make_staff("Policy reviewers", client=client)

    client.get(page(message))

    assert AuditEvent.objects.filter(action=AuditAction.VIEWED_PERSONAL_DETAILS).count() == 1


def test_attachments_download_only_as_attachments(client, make_staff):
    make_staff("Policy reviewers", client=client)
    raw = email(attachments=[("page.html", b"<script>alert(1)</script>", "text", "html")])
    message, _ = store(raw, origin=MessageOrigin.MAILBOX)
    attachment = message.attachments.get()

    response = client.get(reverse("admin:feedback_inboundmessage_attachment", args=[attachment.pk]))

    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    assert response.content == b"<script>alert(1)</script>"
    assert AuditEvent.objects.filter(action=AuditAction.ATTACHMENT_DOWNLOADED).exists()


def test_markup_in_a_message_is_shown_as_text_never_run(client, make_staff):
    make_staff("Policy reviewers", client=client)
    raw = email(
        subject="<img src=x onerror=alert(1)>",
        text="<script>alert('text')</script>",
        attachments=[("<b>name</b>.txt", b"<script>alert('file')</script>", "text", "plain")],
    )
    message, _ = store(raw, origin=MessageOrigin.MAILBOX)

    body = client.get(page(message)).content.decode()

    assert "<script>alert" not in body and "<img src=x" not in body and "<b>name</b>" not in body
    assert "&lt;script&gt;alert(&#x27;text&#x27;)&lt;/script&gt;" in body


def test_digest_readers_cannot_see_mail_and_administrators_cannot_sort_it(client, make_staff, message):
    make_staff("Digest readers", client=client)
    assert client.get(page(message)).status_code == 403
    client.logout()
    make_staff("Administrators", client=client)
    assert client.get(page(message)).status_code == 403
    assert client.post(page(message), two_views()).status_code == 403
    assert Submission.objects.count() == 0


def test_a_sorted_submission_links_back_to_its_email_and_its_reply(client, make_staff, message):
    make_staff("Policy reviewers", client=client)
    client.post(page(message), two_views())
    submission = Submission.objects.get()

    body = client.get(reverse("admin:feedback_submission_change", args=[submission.pk])).content.decode()

    assert f'href="{page(message)}"' in body
    assert "Views on the QIPP challenge" in body
    assert "Waiting to send after 0 attempt(s)" in body
