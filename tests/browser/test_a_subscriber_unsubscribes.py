import re

import pytest
from django.contrib.auth.models import Group, User

from feedback import digests, emails
from feedback.models import Subscription

from .keyboard import press_on

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def subscriber():
    user = User.objects.create_user("sam.okafor", email="sam.okafor@example.nhs.uk", is_staff=True)
    user.groups.add(Group.objects.get(name="Digest readers"))
    return Subscription.objects.create(user=user, active=True)


def unsubscribe_link(subscription: Subscription) -> str:
    """The link in the subscriber's weekly email, as their mail client shows it."""
    digest = digests.compile_digest(week=digests.last_complete_week())
    message = emails.build_weekly_summary(user=subscription.user, digest=digest, subscription=subscription)
    html = message.alternatives[0].content
    links = set(re.findall(r'href="([^"]*/email/unsubscribe/[^"]+)"', html))
    assert len(links) == 1, links
    link = links.pop()
    assert message.message()["List-Unsubscribe"] == f"<{link}>"
    return link


@pytest.mark.parametrize("javascript", [True, False], ids=["with-javascript", "without-javascript"])
def test_a_subscriber_unsubscribes_from_the_link_in_their_weekly_email(
    open_browser, check, settings, live_server, subscriber, javascript
):
    settings.SITE_URL = live_server.url
    page = open_browser(javascript=javascript)

    page.goto(unsubscribe_link(subscriber))
    assert page.title().startswith("Unsubscribe from the weekly summary")
    assert "sam.okafor@example.nhs.uk" not in page.locator("main").inner_text(), "the link does not reveal the address"
    check.page(page, "unsubscribe", javascript=javascript)
    # Opening the link (as a mail scanner might) changes nothing.
    subscriber.refresh_from_db()
    assert subscriber.active

    press_on(page, "button:has-text('Unsubscribe')")
    assert page.title().startswith("You have unsubscribed")
    check.page(page, "unsubscribed", javascript=javascript)
    subscriber.refresh_from_db()
    assert not subscriber.active


def test_an_unsubscribe_link_copied_only_in_part_says_it_does_not_work(page, check, settings, live_server, subscriber):
    settings.SITE_URL = live_server.url
    response = page.goto(unsubscribe_link(subscriber)[:-6])
    assert response.status == 404
    assert page.title().startswith("This link does not work")
    check.page(page, "unsubscribe-link-broken")
    subscriber.refresh_from_db()
    assert subscriber.active
