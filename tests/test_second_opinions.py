"""Second opinions: a share of coded views is coded again, blind, by another reviewer; leads settle disagreements."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from feedback import coding
from feedback.models import AuditAction, AuditEvent, Element, SecondOpinion, Stance, Theme, ThemeTag

from .factories import SubmissionFactory

pytestmark = pytest.mark.django_db

WORKBENCH = "/admin/feedback/view/workbench/"


@pytest.fixture
def every_view_drawn(settings):
    settings.QIPP_SECOND_OPINION_SHARE = 1.0


@pytest.fixture
def themes():
    return [Theme.objects.create(element=Element.LEADERSHIP, name=name) for name in ("Boards", "Wards", "Blame")]


def leadership_view(days_ago: int = 1):
    return SubmissionFactory(
        received_at=timezone.now() - timedelta(days=days_ago), views=[{"element": Element.LEADERSHIP}]
    ).views.get()


def coding_url(view, state: str = "second") -> str:
    return reverse("admin:feedback_view_coding", args=[view.pk]) + f"?element=leadership&state={state}"


def test_a_drawn_view_waits_for_a_second_opinion_once_a_person_has_coded_it(make_staff, every_view_drawn, themes):
    first = make_staff("Policy reviewers")
    view = leadership_view()

    coding.code(view, by=first, chosen={themes[0].pk: Stance.SUPPORTS})

    opinion = SecondOpinion.objects.get(view=view)
    assert (opinion.first_by, opinion.first_themes, opinion.second_at) == (first, [themes[0].pk], None)


def test_about_the_set_share_of_coded_views_is_drawn(make_staff, settings, themes):
    settings.QIPP_SECOND_OPINION_SHARE = 0.05
    drawn = sum(coding.drawn_for_second_opinion(view_id) for view_id in range(1, 20_001))
    assert 800 < drawn < 1200
    settings.QIPP_SECOND_OPINION_SHARE = 0
    assert not any(coding.drawn_for_second_opinion(view_id) for view_id in range(1, 2001))


def test_the_second_reviewer_codes_blind_and_the_views_tags_stay_the_first_reviewers(
    client, make_staff, every_view_drawn, themes
):
    first = make_staff("Policy reviewers", username="first.reviewer")
    second = make_staff("Policy reviewers", client=client)
    view = leadership_view()
    coding.code(view, by=first, chosen={themes[0].pk: Stance.SUPPORTS})

    start = client.get(WORKBENCH, {"element": "leadership", "state": "second", "start": "1"})
    page = client.get(start.url).content.decode()
    assert start.url.startswith(reverse("admin:feedback_view_coding", args=[view.pk]))
    assert "Second opinion:" in page
    assert "checked" not in page.split('id="codebook-heading"')[1].split("</table>")[0]
    client.post(coding_url(view), {"action": "save", "theme": [themes[1].pk]})

    opinion = SecondOpinion.objects.get(view=view)
    assert (opinion.second_by, opinion.second_themes) == (second, [themes[1].pk])
    assert list(view.tags.values_list("theme", "stance")) == [(themes[0].pk, Stance.SUPPORTS)]
    assert AuditEvent.objects.filter(action=AuditAction.SECOND_OPINION_GIVEN, actor=second).exists()


def test_nobody_gives_the_second_opinion_on_their_own_coding(client, make_staff, every_view_drawn, themes):
    first = make_staff("Policy reviewers", client=client)
    view = leadership_view()
    coding.code(view, by=first, chosen={themes[0].pk: ""})

    start = client.get(WORKBENCH, {"element": "leadership", "state": "second", "start": "1"})
    client.post(coding_url(view), {"action": "save", "theme": [themes[2].pk]})

    assert reverse("admin:feedback_view_coding", args=[view.pk]) not in start.url
    assert SecondOpinion.objects.get(view=view).second_at is None


def test_reviewer_agreement_equals_the_figures_worked_out_by_hand(make_staff, themes):
    """
    10 views x 3 themes = 30 decisions. Both reviewers said yes to 6 pairs,
    only the first to 2, only the second to 1, so neither to 21.
    Positive agreement = 2*6 / (2*6 + 2 + 1) = 12/15 = 0.8.
    Kappa: observed (6 + 21)/30 = 0.9; the first said yes 8 times, the second 7,
    so chance gives (8*7 + 22*23)/900 = 562/900; kappa = (0.9 - 562/900) / (1 - 562/900) = 248/338.
    """
    reviewer = make_staff("Policy reviewers")
    boards, wards, blame = (theme.pk for theme in themes)
    coded_twice = [
        ([boards], [boards]),
        ([boards, wards], [boards, wards]),
        ([wards], [wards]),
        ([blame], [blame]),
        ([boards], []),  # only the first
        ([wards], []),  # only the first
        ([], [blame]),  # only the second
        ([blame], [blame]),
        ([], []),
        ([], []),
    ]
    for first, second in coded_twice:
        SecondOpinion.objects.create(
            view=leadership_view(),
            first_by=reviewer,
            first_themes=first,
            second_by=reviewer,
            second_themes=second,
            second_at=timezone.now(),
        )

    figures = coding.reviewer_agreement(Element.LEADERSHIP)

    assert (figures.views, figures.decisions, figures.tags) == (10, 30, 8)
    assert figures.positive_agreement == pytest.approx(0.8)
    assert figures.kappa == pytest.approx(248 / 338)


def test_a_lead_settles_a_disagreement_and_the_view_takes_the_leads_themes(
    client, make_staff, every_view_drawn, themes
):
    first = make_staff("Policy reviewers", username="first.reviewer")
    second = make_staff("Policy reviewers", username="second.reviewer")
    lead = make_staff("Policy leads", client=client)
    view = leadership_view()
    coding.code(view, by=first, chosen={themes[0].pk: Stance.OPPOSES})
    coding.give_second_opinion(view, by=second, chosen={themes[1].pk: ""})
    url = reverse("admin:feedback_view_disagreements")

    page = client.get(url, {"element": "leadership"}).content.decode()
    assert view.submission.reference in page
    opinion = SecondOpinion.objects.get(view=view)
    client.post(url, {"opinion": opinion.pk, "theme": [themes[0].pk, themes[1].pk]})

    opinion.refresh_from_db()
    assert opinion.settled_by == lead
    assert sorted(ThemeTag.objects.confirmed().filter(view=view).values_list("theme", "stance")) == sorted(
        [(themes[0].pk, Stance.OPPOSES), (themes[1].pk, "")]
    )
    assert "No disagreements are waiting" in client.get(url, {"element": "leadership"}).content.decode()


def test_reviewers_cannot_settle_disagreements(client, make_staff):
    make_staff("Policy reviewers", client=client)

    assert client.get(reverse("admin:feedback_view_disagreements")).status_code == 403


def test_both_agreement_figures_show_on_the_dashboard_and_in_the_digest(client, make_staff, every_view_drawn, themes):
    import time_machine

    from feedback import digests
    from feedback.periods import Week

    first = make_staff("Policy reviewers", username="first.reviewer")
    second = make_staff("Policy reviewers", username="second.reviewer")
    make_staff("Policy leads", client=client)
    week = Week.parse("2026-W47")
    for number in range(4):
        view = SubmissionFactory(
            received_at=week.start + timedelta(days=1, hours=number), views=[{"element": Element.LEADERSHIP}]
        ).views.get()
        coding.code(view, by=first, chosen={themes[0].pk: ""})
        coding.give_second_opinion(view, by=second, chosen={themes[number % 2].pk: ""})
    figures = coding.reviewer_agreement(Element.LEADERSHIP)

    dashboard = client.get("/admin/").content.decode()
    with time_machine.travel("2026-11-23 09:00 +0000", tick=False):
        digest = digests.compile_digest(week=week)
    page = client.get(f"/admin/feedback/digest/{digest.pk}/read/").content.decode()

    leadership = next(element for element in digest.content["elements"] if element["code"] == Element.LEADERSHIP)
    assert leadership["agreement"]["reviewers"]["views"] == 4
    assert leadership["agreement"]["reviewers"]["kappa"] == pytest.approx(figures.kappa)
    expected = (
        f"two reviewers: positive agreement {figures.positive_agreement:.2f}, kappa {figures.kappa:.2f}, 4 views"
    )
    assert expected in " ".join(page.split())
    assert f"<td>{figures.positive_agreement:.2f}</td>" in dashboard
