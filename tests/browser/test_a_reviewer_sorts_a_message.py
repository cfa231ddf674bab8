import pytest

from feedback.mail import store
from feedback.models import Element, InboundMessage, Level, MessageOrigin, MessageStatus, Source, Submission
from tests.mail_samples import email

from .keyboard import follow
from .staff import sign_in, staff_with_app

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

FIRST = "Stroke services should be planned and commissioned across each region."
SECOND = "Boards must give clinical leaders the time and backing to redesign pathways."


@pytest.fixture
def reviewer():
    return staff_with_app("Policy reviewers", "sam.okafor", email="sam.okafor@example.nhs.uk")


@pytest.fixture
def message():
    raw = email(
        sender="Dr Amina Patel <amina.patel@example.nhs.uk>",
        subject="Our views on the QIPP challenge",
        text=f"Dear colleagues,\n\n{FIRST}\n\n{SECOND}\n\nKind regards,\nAmina",
        attachments=[("notes.txt", b"Further notes from our board.", "text", "plain")],
    )
    return store(raw, origin=MessageOrigin.MAILBOX)[0]


def select_in_message(page, text: str) -> None:
    """Select `text` in the message, as a person does with the mouse."""
    page.evaluate(
        """(wanted) => {
            const box = document.getElementById("message-text");
            const node = box.firstChild;
            const start = node.textContent.indexOf(wanted);
            const range = document.createRange();
            range.setStart(node, start);
            range.setEnd(node, start + wanted.length);
            const selection = window.getSelection();
            selection.removeAllRanges();
            selection.addRange(range);
        }""",
        text,
    )


@pytest.mark.parametrize("javascript", [True, False], ids=["with-javascript", "without-javascript"])
def test_a_reviewer_sorts_a_message_into_two_views(open_browser, check, reviewer, message, javascript):
    user, device = reviewer
    page = open_browser(javascript=javascript)
    sign_in(page, user, device, then="/admin/feedback/inboundmessage/")
    assert "Sort the next message (1 waiting)" in page.content()
    check.page(page, "messages", javascript=javascript)

    follow(page, "text=Sort the next message")
    assert page.locator("h1").inner_text() == "Our views on the QIPP challenge"
    assert "amina.patel@example.nhs.uk" in page.locator(".message-facts").inner_text()
    check.page(page, "sorting", javascript=javascript)

    page.locator("#id_sender-role").select_option("doctor")
    page.locator("#id_views-0-element").select_option(Element.PRIORITISATION)
    page.locator("#id_views-0-level").select_option(Level.REGIONAL)
    page.locator("#id_views-1-element").select_option(Element.LEADERSHIP)
    if javascript:
        select_in_message(page, FIRST)
        page.locator("#id_views-0-text ~ button.use-selection").click()
        select_in_message(page, SECOND)
        page.locator("#id_views-1-text ~ button.use-selection").click()
        assert page.locator("#id_views-0-text").input_value() == FIRST
    else:
        page.locator("#id_views-0-text").fill(FIRST)
        page.locator("#id_views-1-text").fill(SECOND)
    follow(page, "button:has-text('Save the views')")

    submission = Submission.objects.get()
    assert "No messages are waiting to be sorted." in page.content()
    assert f"Sorted into submission {submission.reference} with 2 view(s)." in page.content()
    check.page(page, "sorted", javascript=javascript)
    assert submission.source == Source.EMAIL
    assert [(v.element, v.level, v.text) for v in submission.views.all()] == [
        (Element.PRIORITISATION, Level.REGIONAL, FIRST),
        (Element.LEADERSHIP, "", SECOND),
    ]
    assert InboundMessage.objects.get().status == MessageStatus.SORTED


def test_a_mistake_in_a_view_is_shown_beside_it_and_keeps_what_was_typed(open_browser, check, reviewer, message):
    user, device = reviewer
    page = open_browser()
    sign_in(page, user, device, then=f"/admin/feedback/inboundmessage/{message.pk}/change/")
    page.locator("#id_views-0-element").select_option(Element.PRIORITISATION)
    page.locator("#id_views-0-text").fill(FIRST)
    follow(page, "button:has-text('Save the views')")

    assert "Select where this would be best organised" in page.content()
    assert page.locator("#id_views-0-text").input_value() == FIRST
    check.page(page, "sorting-error")
    assert not Submission.objects.exists()
