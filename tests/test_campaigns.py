"""Campaigns: near-identical views are found and grouped, incrementally, and never mistaken for views on the same topic."""

import random
from datetime import UTC, datetime, timedelta
from io import StringIO
from itertools import combinations

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from feedback import campaigns, coding, digests, tasks
from feedback.demo import Generator, campaign_copy
from feedback.models import (
    AuditAction,
    AuditEvent,
    Campaign,
    Digest,
    Element,
    Level,
    RejectedSuggestion,
    Stance,
    Submission,
    Theme,
    ThemeTag,
    View,
    ViewFingerprint,
    new_reference,
)
from feedback.periods import Week

from .factories import SubmissionFactory

pytestmark = pytest.mark.django_db


def seeded(count: int, letters: int, seed: int = 7) -> tuple[list[str], list[int]]:
    """
    `count` views on one element and level from the demo generator (views on
    the same topic: the hard negatives), and `letters` template letters each
    copied 2 to 8 times with 5 to 20% of their words changed. Returns
    (texts, labels), shuffled: copies of one letter share a label, every other view has its own.
    """
    rng = random.Random(seed)
    generator = Generator(seed=seed, weeks=2, now=datetime(2026, 11, 30, tzinfo=UTC), staff_ids=[], theme_ids={})
    texts = [generator.view_text(Element.PRIORITISATION, Level.LOCAL) for _ in range(count)]
    labels = [-1 - index for index in range(count)]
    words = " ".join(texts[:200]).split()
    for letter_number in range(letters):
        letter = generator.view_text(Element.PRIORITISATION, Level.LOCAL)
        for _ in range(rng.randint(2, 8)):
            texts.append(campaign_copy(rng, letter, rng.uniform(0.05, 0.2), words))
            labels.append(letter_number)
    order = list(range(len(texts)))
    rng.shuffle(order)
    return [texts[i] for i in order], [labels[i] for i in order]


def save(texts: list[str], element: str = Element.PRIORITISATION) -> list[int]:
    """One submission a view, saved in bulk. Returns the views' ids in the order of `texts`."""
    level = Level.LOCAL if element == Element.PRIORITISATION else ""
    submissions = Submission.objects.bulk_create(
        Submission(reference=new_reference(), role="doctor", organisation_type="acute_trust", region="london")
        for _ in texts
    )
    views = View.objects.bulk_create(
        View(submission=submission, position=1, element=element, level=level, text=text)
        for submission, text in zip(submissions, texts, strict=True)
    )
    return [view.pk for view in views]


def pair_scores(view_ids: list[int], labels: list[int]) -> tuple[float, float]:
    """Precision and recall over pairs of views: grouped together by the portal, against copies of one letter."""
    campaign_of = dict(ViewFingerprint.objects.filter(view_id__in=view_ids).values_list("view_id", "campaign_id"))
    found = true = both = 0
    for (first, first_label), (second, second_label) in combinations(zip(view_ids, labels, strict=True), 2):
        grouped = campaign_of[first] is not None and campaign_of[first] == campaign_of[second]
        same = first_label == second_label
        found += grouped
        true += same
        both += grouped and same
    return both / max(found, 1), both / max(true, 1)


def test_copies_of_template_letters_are_grouped_and_views_on_the_same_topic_are_not():
    texts, labels = seeded(1500, 60)
    view_ids = save(texts)

    campaigns.group_new_views()

    precision, recall = pair_scores(view_ids, labels)
    print(f"precision {precision:.3f} recall {recall:.3f}")
    assert precision >= 0.95
    assert recall >= 0.95


LETTER = (
    "I am writing as a member of the Northfield Patients' Forum to ask that the operating framework protects "
    "community hospitals. Our local beds let older people recover close to their families, and closing them "
    "would move costs to the acute trust rather than save money. Please keep funding for intermediate care "
    "and let primary care trusts plan it with the people who use it."
)


def copies(count: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    return [
        campaign_copy(rng, LETTER, 0.1, ["really", "strongly", "also", "our", "town", "please"]) for _ in range(count)
    ]


def test_new_copies_join_the_campaign_already_found_without_regrouping_it():
    first = save(copies(4, seed=1) + ["Board members should walk the wards once a month and listen to staff."])
    campaigns.group_new_views()
    campaign = Campaign.objects.get()
    assert campaign.size == 4
    assert campaign.first_view_id == first[0]

    later = save(copies(3, seed=2))
    grouped = campaigns.group_new_views()

    campaign.refresh_from_db()
    assert Campaign.objects.count() == 1
    assert campaign.size == 7
    assert grouped.fingerprinted == 3
    assert grouped.joined == 3
    assert set(ViewFingerprint.objects.filter(campaign=campaign).values_list("view_id", flat=True)) == {
        *first[:4],
        *later,
    }


def test_grouping_again_changes_nothing():
    save(copies(5))
    campaigns.group_new_views()
    before = list(ViewFingerprint.objects.values_list("view_id", "campaign_id").order_by("view_id"))

    again = campaigns.group_new_views()

    assert again.fingerprinted == 0
    assert again.joined == 0
    assert list(ViewFingerprint.objects.values_list("view_id", "campaign_id").order_by("view_id")) == before
    assert Campaign.objects.get().size == 5


def test_the_same_letter_on_two_elements_makes_a_campaign_on_each():
    save(copies(3), element=Element.LEADERSHIP)
    save(copies(3), element=Element.ENGAGEMENT)

    campaigns.group_new_views()

    assert sorted(Campaign.objects.values_list("element", "size")) == [
        (Element.ENGAGEMENT, 3),
        (Element.LEADERSHIP, 3),
    ]


def test_views_on_the_same_topic_in_their_own_words_are_not_a_campaign():
    save(
        [
            "Community hospitals let older people recover near their families; please keep their beds open.",
            "Please protect community hospital beds: older patients recover better close to home and family.",
            "Keeping older people in community hospitals near their families helps them recover, so keep the beds.",
        ]
    )

    campaigns.group_new_views()

    assert not Campaign.objects.exists()


def test_the_command_says_what_it_grouped():
    save(copies(3))
    out = StringIO()

    call_command("group_campaigns", stdout=out)

    assert "Signed 3 new view(s); 3 joined a campaign; 1 campaign(s) made or grown. 1 campaign(s) in all." in (
        out.getvalue()
    )


def test_a_digest_counts_submissions_distinct_texts_and_campaigns_side_by_side(client, make_staff):
    make_staff("Policy leads", client=client)
    week = Week.parse("2026-W47")
    quoted = copies(4)
    for number, text in enumerate(quoted):
        SubmissionFactory(
            received_at=week.start + timedelta(days=1, minutes=number),
            consent_to_quote=number == 0,
            views=[{"element": Element.LEADERSHIP, "text": text}],
        )
    for text in ["Boards should back clinical leaders openly.", "Leaders must stop moving staff every year."]:
        SubmissionFactory(
            received_at=week.start + timedelta(days=2), views=[{"element": Element.LEADERSHIP, "text": text}]
        )

    with time_machine.travel("2026-11-23 09:00 +0000", tick=False):
        tasks.compile_digest_task("2026-W47")
    digest = Digest.objects.get(period_start=week.start)

    headline = digest.content["headline"]
    assert (headline["new"], headline["views"], headline["distinct_texts"]) == (6, 6, 3)
    assert (headline["campaigns"], headline["campaign_views"]) == (1, 4)
    leadership = next(element for element in digest.content["elements"] if element["code"] == Element.LEADERSHIP)
    assert leadership["distinct_texts"] == 3
    [campaign] = leadership["campaigns"]
    assert (campaign["views"], campaign["size"]) == (4, 4)
    assert "Patients' Forum to ask that the operating framework protects" in campaign["excerpt"]
    page = client.get(f"/admin/feedback/digest/{digest.pk}/read/").content.decode()
    assert (
        "3</span> distinct texts among this week&#x27;s 6 views" in page
        or "3</span> distinct texts among this week's 6 views" in page
    )
    assert f"?digest={digest.pk}&amp;campaign={campaign['id']}" in page


def test_a_campaigns_words_stay_out_of_the_digest_when_its_first_sender_did_not_agree_to_be_quoted():
    week = Week.parse("2026-W47")
    for number, text in enumerate(copies(3)):
        SubmissionFactory(
            received_at=week.start + timedelta(days=1, minutes=number),
            consent_to_quote=False,
            views=[{"element": Element.ENGAGEMENT, "text": text}],
        )

    with time_machine.travel("2026-11-23 09:00 +0000", tick=False):
        tasks.compile_digest_task("2026-W47")
    digest = Digest.objects.get(period_start=week.start)

    engagement = next(element for element in digest.content["elements"] if element["code"] == Element.ENGAGEMENT)
    assert engagement["campaigns"][0]["excerpt"] == ""
    assert "Northfield" not in str(digest.content)


def test_a_reviewer_codes_a_whole_campaign_at_once_from_one_of_its_views(client, make_staff):
    reviewer = make_staff("Policy reviewers", client=client)
    other = make_staff("Policy reviewers", username="other.reviewer")
    boards, clinicians = (Theme.objects.create(element=Element.LEADERSHIP, name=name) for name in ("Boards", "Wards"))
    first, suggested, coded, held, fifth = (
        View.objects.get(pk=pk) for pk in save(copies(5), element=Element.LEADERSHIP)
    )
    campaigns.group_new_views()
    ThemeTag.objects.create(view=suggested, theme=clinicians, confidence=0.6, model_version="leadership-1")
    ThemeTag.objects.create(view=coded, theme=clinicians, assigned_by=other)
    coding.claim(held, user=other, now=timezone.now())
    url = reverse("admin:feedback_view_coding", args=[first.pk]) + "?element=leadership"

    page = client.get(url).content.decode()
    assert "5 near-identical views, 3 more not yet coded" in page
    client.post(url, {"action": "save_campaign", "theme": [boards.pk], f"stance-{boards.pk}": Stance.SUPPORTS})

    confirmed = ThemeTag.objects.confirmed()
    for view in (first, suggested, fifth):
        assert list(confirmed.filter(view=view).values_list("theme", "stance")) == [(boards.pk, Stance.SUPPORTS)]
    assert RejectedSuggestion.objects.filter(view=suggested, theme=clinicians).exists()
    assert list(coded.tags.values_list("theme", flat=True)) == [clinicians.pk]  # a person's coding stands
    assert not held.tags.exists()  # someone else is on it
    assert AuditEvent.objects.filter(action=AuditAction.THEMES_CHANGED, actor=reviewer).count() == 3


def test_the_workbench_queue_can_be_one_campaign(client, make_staff):
    make_staff("Policy reviewers", client=client)
    ids = save(copies(3) + ["Boards should listen to ward staff more often."], element=Element.LEADERSHIP)
    campaigns.group_new_views()
    campaign = Campaign.objects.get()

    queue = coding.Queue.from_query({"element": "leadership", "campaign": str(campaign.pk)})

    assert sorted(queue.views().values_list("pk", flat=True)) == ids[:3]


def test_a_campaign_is_shown_once_among_the_national_policy_proposals():
    week = Week.parse("2026-W47")
    for number, text in enumerate(copies(6)):
        SubmissionFactory(
            received_at=week.start + timedelta(days=1, minutes=number),
            consent_to_quote=True,
            views=[{"element": Element.NATIONAL_POLICY, "text": text}],
        )
    SubmissionFactory(
        received_at=week.start + timedelta(days=2),
        consent_to_quote=True,
        views=[{"element": Element.NATIONAL_POLICY, "text": "Let trusts keep the savings they make from estates."}],
    )

    with time_machine.travel("2026-11-23 09:00 +0000", tick=False):
        tasks.compile_digest_task("2026-W47")
    digest = Digest.objects.get(period_start=week.start)

    [group] = digest.content["national_policy"]["groups"]
    assert group["views"] == 7
    assert [campaign["views"] for campaign in group["campaigns"]] == [6]
    from_the_campaign = [proposal for proposal in group["proposals"] if proposal["campaign"]]
    assert len(from_the_campaign) == 1
    assert len(group["proposals"]) == 2


def test_compiling_a_digest_by_itself_leaves_grouping_to_the_worker():
    week = Week.parse("2026-W47")
    for number, text in enumerate(copies(3)):
        SubmissionFactory(
            received_at=week.start + timedelta(days=1, minutes=number),
            views=[{"element": Element.ENGAGEMENT, "text": text}],
        )

    with time_machine.travel("2026-11-23 09:00 +0000", tick=False):
        digest = digests.compile_digest(week=week)

    assert not ViewFingerprint.objects.exists()
    assert digest.content["headline"]["distinct_texts"] == 3
