"""After the call: a lead decides on a theme from the final digest and publishes; the public reads what was done."""

import datetime

import pytest
from django.utils import timezone

from feedback import digests
from feedback.models import CallWindow, Digest, DigestKind, DigestStatus, Element, Theme, ThemeDecision, ThemeTag

from ..factories import SubmissionFactory
from .keyboard import follow
from .staff import sign_in, staff_with_app

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

QUOTED = "Boards should hear from ward nurses every month."


def a_closed_call_with_its_final_digest(settings) -> Digest:
    settings.QIPP_DECIDE_THEMES_ABOVE = 1
    now = timezone.now()
    closes = now - datetime.timedelta(days=14)
    CallWindow(pk=1, opens_at=closes - datetime.timedelta(days=21), closes_at=closes).save()
    tagger, _ = staff_with_app("Policy reviewers", "tagger")
    theme = Theme.objects.create(element=Element.LEADERSHIP, name="Boards back clinical leaders")
    for number in range(3):
        submission = SubmissionFactory(
            received_at=closes - datetime.timedelta(days=3, hours=number),
            consent_to_quote=number == 0,
            views=[{"element": Element.LEADERSHIP, "text": QUOTED if number == 0 else f"A view, number {number}."}],
        )
        ThemeTag.objects.create(view=submission.views.get(), theme=theme, assigned_by=tagger)
    final = digests.compile_final_digest()
    assert final is not None and final.status == DigestStatus.READY
    return final


def test_a_lead_decides_approves_and_publishes_and_the_public_page_passes_the_checks(open_browser, check, settings):
    final = a_closed_call_with_its_final_digest(settings)
    lead, device = staff_with_app("Policy leads", "lee.lead")
    page = open_browser()
    sign_in(page, lead, device, then=f"/admin/feedback/digest/{final.pk}/read/")
    assert "Decisions needed before approval" in page.locator("main, #content").first.inner_text()
    check.page(page, "final-digest-undecided")

    follow(page, "a:has-text('record the decision')")
    page.locator("#id_decision").select_option(label="Partly adopted")
    page.locator("#id_reason").fill("Boards will report how they support clinical leaders.")
    page.locator("#id_framework_section").fill("Chapter 3, leadership")
    check.page(page, "record-a-decision")
    follow(page, "input[name=_save]")
    assert ThemeDecision.objects.count() == 1

    page.goto(f"/admin/feedback/digest/{final.pk}/read/")
    follow(page, "button:has-text('Approve this digest')")
    follow(page, "button:has-text('Publish what was done')")
    assert Digest.objects.get(kind=DigestKind.FINAL).published_at is not None
    check.page(page, "final-digest-published")

    public = open_browser()
    public.goto("/")
    follow(public, "a:has-text('Read what we did with the views')")
    assert public.title().startswith("What we did with your views")
    text = public.locator("main").inner_text()
    assert "Partly adopted" in text and QUOTED in text and "A view, number 1." not in text
    check.page(public, "what-we-did")


def test_the_public_page_works_without_javascript(open_browser, settings):
    final = a_closed_call_with_its_final_digest(settings)
    Digest.objects.filter(pk=final.pk).update(status=DigestStatus.APPROVED, published_at=timezone.now())
    page = open_browser(javascript=False)
    page.goto("/what-we-did/")
    assert page.locator("h1").inner_text() == "What we did with your views on the QIPP challenge"
    page.locator("a:has-text('Leadership')").first.click()
    assert page.url.endswith("#leadership")
