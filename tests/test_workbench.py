"""The workbench: a queue oldest first, one view at a time, each action saved at once, no two reviewers on one view."""

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from feedback import coding
from feedback.models import (
    AuditAction,
    AuditEvent,
    Element,
    RejectedSuggestion,
    Stance,
    Status,
    Theme,
    ThemeTag,
)

from .factories import SubmissionFactory

pytestmark = pytest.mark.django_db

WORKBENCH = "/admin/feedback/view/workbench/"


@pytest.fixture
def queue():
    """Three leadership views, oldest first, and two themes; the middle view has a suggestion."""
    now = timezone.now()
    views = [
        SubmissionFactory(received_at=now - timedelta(days=3 - n), views=[{"element": Element.LEADERSHIP}]).views.get()
        for n in range(3)
    ]
    themes = [Theme.objects.create(element=Element.LEADERSHIP, name=name) for name in ("Boards", "Clinicians")]
    ThemeTag.objects.create(view=views[1], theme=themes[1], confidence=0.87, model_version="leadership-1")
    return views, themes


def coding_url(view) -> str:
    return reverse("admin:feedback_view_coding", args=[view.pk]) + "?element=leadership"


def test_the_queue_starts_with_the_oldest_view_and_shows_how_many_are_left(client, make_staff, queue):
    views, _ = queue
    make_staff("Policy reviewers", client=client)

    start = client.get(WORKBENCH, {"element": "leadership", "start": "1"})
    page = client.get(start.url).content.decode()

    assert start.url.startswith(reverse("admin:feedback_view_coding", args=[views[0].pk]))
    assert "3 of 3 left" in page
    assert views[0].text in page


def test_saving_gives_the_view_its_themes_and_moves_to_the_next(client, make_staff, queue):
    views, themes = queue
    reviewer = make_staff("Policy reviewers", client=client)

    response = client.post(
        coding_url(views[0]), {"action": "save", "theme": [themes[0].pk], f"stance-{themes[0].pk}": Stance.SUPPORTS}
    )

    tag = ThemeTag.objects.get(view=views[0])
    assert (tag.theme, tag.stance, tag.assigned_by) == (themes[0], Stance.SUPPORTS, reviewer)
    assert response.url.startswith(reverse("admin:feedback_view_coding", args=[views[1].pk]))
    assert AuditEvent.objects.filter(action=AuditAction.THEMES_CHANGED).count() == 1
    assert "2 of 2 left" in client.get(response.url).content.decode()


def test_a_kept_suggestion_is_confirmed_and_the_confirmation_recorded(client, make_staff, queue):
    views, themes = queue
    reviewer = make_staff("Policy reviewers", client=client)
    page = client.get(coding_url(views[1])).content.decode()

    client.post(coding_url(views[1]), {"action": "save", "theme": [themes[1].pk]})

    assert "suggested, 87% sure" in page
    assert ThemeTag.objects.get(view=views[1]).confirmed_by == reviewer
    event = AuditEvent.objects.get(action=AuditAction.THEMES_CHANGED)
    assert event.detail["confirmed"] == ["Clinicians"]


def test_a_suggestion_left_unticked_is_rejected_for_good(client, make_staff, queue):
    views, themes = queue
    reviewer = make_staff("Policy reviewers", client=client)

    client.post(coding_url(views[1]), {"action": "save"})

    assert not ThemeTag.objects.filter(view=views[1]).exists()
    assert RejectedSuggestion.objects.filter(view=views[1], theme=themes[1], rejected_by=reviewer).exists()


def test_confirm_all_suggestions_is_one_action(client, make_staff, queue):
    views, themes = queue
    reviewer = make_staff("Policy reviewers", client=client)

    client.post(coding_url(views[1]), {"action": "confirm"})

    assert ThemeTag.objects.get(view=views[1]).confirmed_by == reviewer


def test_flagging_flags_the_submission_and_stays_on_the_view(client, make_staff, queue):
    views, _ = queue
    make_staff("Policy reviewers", client=client)

    response = client.post(coding_url(views[0]), {"action": "flag"})

    views[0].submission.refresh_from_db()
    assert views[0].submission.status == Status.FLAGGED
    assert response.url.startswith(coding_url(views[0]))


def test_skipping_moves_on_without_saving(client, make_staff, queue):
    views, _ = queue
    make_staff("Policy reviewers", client=client)

    response = client.post(coding_url(views[0]), {"action": "skip"})

    assert response.url.startswith(reverse("admin:feedback_view_coding", args=[views[1].pk]))
    assert not ThemeTag.objects.filter(view=views[0]).exists()


def test_two_reviewers_never_get_the_same_view_at_the_same_moment(client, make_staff, queue):
    views, _ = queue
    first = make_staff("Policy reviewers", username="first")
    second = make_staff("Policy reviewers", username="second")
    now = timezone.now()
    work = coding.Queue(element=Element.LEADERSHIP)

    mine = coding.claim_next(work, user=first, now=now)
    theirs = coding.claim_next(work, user=second, now=now)
    later = coding.claim_next(work, user=second, now=now + coding.CLAIM_FOR + timedelta(seconds=1))

    assert mine == views[0].pk
    assert theirs == views[1].pk
    assert later == views[0].pk, "a claim left to lapse frees the view"


def test_opening_a_view_someone_else_holds_leads_to_the_next_one(client, make_staff, queue):
    views, _ = queue
    other = make_staff("Policy reviewers", username="other")
    coding.claim(views[0], user=other, now=timezone.now())
    make_staff("Policy reviewers", client=client, username="me")

    response = client.get(coding_url(views[0]))

    assert response.url.startswith(reverse("admin:feedback_view_coding", args=[views[1].pk]))


def test_an_empty_queue_says_so(client, make_staff):
    make_staff("Policy reviewers", client=client)

    response = client.get(WORKBENCH, {"element": "engagement", "start": "1"}, follow=True)

    assert "Nothing left in this queue." in response.content.decode()


def test_filters_choose_the_queue_and_nonsense_in_the_address_is_ignored():
    assert coding.Queue.from_query({"element": "bogus", "state": "x", "week": "2026-W99", "theme": "1; drop"}) == (
        coding.Queue()
    )
    assert coding.Queue.from_query({"element": "leadership", "state": "all", "week": "2026-W47"}).as_query() == {
        "element": "leadership",
        "state": "all",
        "week": "2026-W47",
    }


def test_names_show_only_to_those_allowed_to_see_personal_details(client, make_staff, queue):
    views, _ = queue
    reviewer = make_staff("Policy reviewers", client=client)
    submission = views[0].submission
    shown = client.get(coding_url(views[0])).content.decode()
    reviewer.groups.clear()
    reviewer.user_permissions.add(
        *Permission.objects.filter(codename__in=["add_themetag", "change_themetag", "delete_themetag", "view_view"])
    )
    hidden = client.get(coding_url(views[0])).content.decode()

    assert submission.email in shown
    assert AuditEvent.objects.filter(action=AuditAction.VIEWED_PERSONAL_DETAILS, submission=submission).count() == 1
    assert submission.email not in hidden and submission.organisation not in hidden


def test_digest_readers_and_administrators_cannot_code(client, make_staff, queue):
    views, _ = queue
    make_staff("Digest readers", client=client)
    assert client.get(WORKBENCH).status_code == 403
    assert client.post(coding_url(views[0]), {"action": "save"}).status_code == 403


def test_a_claim_lapses_when_the_reviewer_walks_away(make_staff, queue):
    views, _ = queue
    first, second = make_staff("Policy reviewers", username="a"), make_staff("Policy reviewers", username="b")
    now = timezone.now()
    coding.claim(views[0], user=first, now=now)

    with time_machine.travel(now + coding.CLAIM_FOR + timedelta(seconds=5)):
        assert coding.claim(views[0], user=second, now=timezone.now())


def test_a_lead_adds_a_theme_from_the_workbench_and_a_reviewer_cannot(client, make_staff, queue):
    views, _ = queue
    lead = make_staff("Policy leads", client=client)

    response = client.post(
        coding_url(views[0]), {"action": "add_theme", "name": "  Protected  time ", "description": "x"}
    )
    again = client.post(coding_url(views[0]), {"action": "add_theme", "name": "Protected time"}, follow=True)

    theme = Theme.objects.get(name="Protected time")
    assert (theme.element, theme.created_by) == (Element.LEADERSHIP, lead)
    assert response.url.startswith(coding_url(views[0]))
    assert "already has a theme called Protected time" in again.content.decode()
    assert "Protected time" in client.get(coding_url(views[0])).content.decode()
    client.logout()
    make_staff("Policy reviewers", client=client)
    assert client.post(coding_url(views[0]), {"action": "add_theme", "name": "Sneaky"}).status_code == 403
    assert not Theme.objects.filter(name="Sneaky").exists()
