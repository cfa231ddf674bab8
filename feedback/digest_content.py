"""
What a digest holds, and how every reader of it is shown it.

`Content` describes the JSON a compiled digest stores (digests.build_content
writes it, frozen). It carries a `schema` number: a digest compiled today
keeps the shape it was compiled with, so `read` brings any stored version up
to the current one before it is shown. `present` is the one presenter: the
digest's page, its PDF and the weekly email all show what it returns, with a
link beside every figure and quote to exactly the submissions behind it.
"""

import copy
from datetime import datetime, timedelta
from typing import NotRequired, TypedDict
from urllib.parse import urlencode

from django.conf import settings
from django.urls import reverse

from .models import Digest

# The shape of the content compiled now. Digests compiled before the number
# was stored have the first shape. 2 added campaigns and distinct texts, and
# grouped the national policy proposals, and the coding's agreement figures.
# 3 counted organisations apart from individuals; 4 notes what respondents
# changed or withdrew since the last digest.
SCHEMA = 4

# In place of a withdrawn respondent's words, wherever a digest stored them.
WITHDRAWN_WORDS = "[withdrawn]"
WITHDRAWN_ATTRIBUTION = "Withdrawn by the respondent"


class Period(TypedDict):
    label: str  # "2026-W47"
    start: str  # ISO 8601, London midnight on the Monday
    end: str


class LateWeek(TypedDict):
    week: str
    submissions: int


class Headline(TypedDict):
    new: int
    on_time: int
    late: int
    late_weeks: list[LateWeek]
    to_date: int
    quotable: int
    quotable_share: str
    # Responses on behalf of an organisation, and the rest; None before the form asked.
    organisations: int | None
    individuals: int | None
    previous_number: int | None
    previous_new: int | None
    change: str
    # None in digests compiled before near-identical views were grouped.
    views: int | None
    distinct_texts: int | None  # a campaign's views count once
    campaigns: int | None
    campaign_views: int | None


class Count(TypedDict):
    """A number of submissions under a fixed list's entry: a level, a region, a stance."""

    code: str
    label: str
    submissions: int


class Share(Count):
    share: str


class Theme(TypedDict):
    id: int
    name: str
    submissions: int
    views: NotRequired[int]  # views tagged with it (from schema 4)
    stances: list[Count]
    first_week: NotRequired[str | None]  # the final digest: the week it first appeared
    trend: NotRequired[list[int]]  # the final digest: submissions each week of the call


class Quote(TypedDict):
    text: str
    attribution: str  # role, organisation type and region: never a name
    submission_id: int
    view_id: int
    theme: NotRequired[str]


class CampaignSummary(TypedDict):
    id: int
    views: int  # in this digest
    size: int  # in all, when the digest was compiled
    excerpt: str  # the first letter's opening, only if its sender agreed to be quoted
    submission_id: NotRequired[int | None]  # the first letter's sender (from schema 4)


class AgreementFigures(TypedDict):
    positive_agreement: float | None
    kappa: float | None
    tags: int
    views: int
    version: NotRequired[str]  # the model's, for suggestions


class CodingAgreement(TypedDict):
    machine: AgreementFigures | None  # suggestions against reviewers, on held-out tags
    reviewers: AgreementFigures | None  # two reviewers, on views coded twice (the second blind)


class ElementSummary(TypedDict):
    code: str
    label: str
    submissions: int
    views: int
    distinct_texts: int | None
    campaigns: list[CampaignSummary]
    share: str
    change: str
    levels: list[Count]  # prioritisation only
    themes: list[Theme]
    agreement: CodingAgreement | None
    quotes: list[Quote]


class Breakdowns(TypedDict):
    region: list[Share]
    organisation_type: list[Share]
    role: list[Share]


class CampaignCount(TypedDict):
    id: int
    views: int


class ProposalGroup(TypedDict):
    kind: str  # "theme" (confirmed by people) or "cluster" (the rest, by what their words share)
    id: int | None  # the theme's
    label: str  # the theme's name, or the cluster's telling words
    stances: list[Count]  # themes only
    submissions: int
    views: int
    campaigns: list[CampaignCount]
    proposals: list[Quote]  # up to three, nearest the group's centre, quotable, a campaign once


class NationalPolicy(TypedDict):
    groups: list[ProposalGroup]
    # Every quotable proposal in full: digests compiled before grouping (schema 1); empty since.
    proposals: list[Quote]
    not_quotable: int
    submissions: int | None
    # Proposals from respondents who agreed they may be read in full by the framework's team; None before asked.
    shared: int | None


class ChangedView(TypedDict):
    submission_id: int
    reference: str
    element: str  # its label
    digest_number: int  # the earlier digest that counted it


class WithdrawnSubmission(TypedDict):
    submission_id: int
    reference: str
    digest_number: int


class SincePrevious(TypedDict):
    """What respondents changed or withdrew after the previous digest was compiled."""

    since: str | None  # when the previous digest was compiled; None for the first
    changed_views: int  # of submissions earlier digests counted
    changed_submissions: int
    changed: list[ChangedView]  # the first 50
    withdrawn: int  # submissions earlier digests counted: their figures stay, their words are gone
    withdrawn_uncounted: int  # withdrawn before any digest counted them
    withdrawn_list: list[WithdrawnSubmission]  # the first 50


class Content(TypedDict):
    schema: int
    period: Period
    headline: Headline
    elements: list[ElementSummary]
    elements_by_code: dict[str, int]
    priorities: list[Share]
    breakdowns: Breakdowns
    national_policy: NationalPolicy
    since_previous: SincePrevious | None  # None before respondents could change or withdraw


def read(stored: dict) -> Content:
    """A digest's stored content in the current shape, whichever version it was compiled with."""
    content = copy.deepcopy(stored)
    content.setdefault("schema", 1)
    if content["schema"] < 2:
        # Not measured then: shown as such, never guessed.
        for field in ("views", "distinct_texts", "campaigns", "campaign_views"):
            content["headline"].setdefault(field, None)
        for element in content["elements"]:
            element.setdefault("distinct_texts", None)
            element.setdefault("campaigns", [])
            element.setdefault("agreement", None)
        content["national_policy"].setdefault("groups", [])
        content["national_policy"].setdefault("submissions", None)
        content["schema"] = 2
    if content["schema"] < 3:
        # Before the form asked whether a response spoke for an organisation.
        content["headline"].setdefault("organisations", None)
        content["headline"].setdefault("individuals", None)
        content["national_policy"].setdefault("shared", None)
        content["schema"] = 3
    if content["schema"] < 4:
        content["since_previous"] = None
        content["schema"] = 4
    # Later versions add their upgrade steps here, oldest first.
    content.setdefault("kind", "weekly")  # every digest was weekly before the final one
    return content


def withdraw_words(content: dict, submission_ids: set[int], *, led_campaigns: set[int] = frozenset()) -> int:
    """
    In a digest's stored content (of any schema), replace the words of
    `submission_ids` with "[withdrawn]", in place: their quotes and proposals,
    and the excerpts of campaigns their views led (`led_campaigns`, for
    excerpts stored before they named their submission). Returns how many passages.
    """
    passages = [
        *(quote for element in content.get("elements", []) for quote in element.get("quotes", [])),
        *content.get("national_policy", {}).get("proposals", []),
        *(
            proposal
            for group in content.get("national_policy", {}).get("groups", [])
            for proposal in group.get("proposals", [])
        ),
        # A campaign's excerpt is its first view's words.
        *(
            campaign
            for element in content.get("elements", [])
            for campaign in element.get("campaigns", [])
            if campaign.get("excerpt")
        ),
    ]
    taken = 0
    for passage in passages:
        theirs = passage.get("submission_id") in submission_ids
        if "excerpt" in passage:
            theirs = theirs or ("submission_id" not in passage and passage.get("id") in led_campaigns)
        if not theirs:
            continue
        if "excerpt" in passage:
            if passage["excerpt"] != WITHDRAWN_WORDS:
                passage["excerpt"] = WITHDRAWN_WORDS
                taken += 1
        elif passage["text"] != WITHDRAWN_WORDS:
            passage.update(text=WITHDRAWN_WORDS, attribution=WITHDRAWN_ATTRIBUTION)
            taken += 1
    return taken


def submissions_url(digest: Digest | None, *, absolute: bool = False, **filters: str) -> str:
    """The submission list filtered to exactly the rows behind one of the digest's figures (or any digest's)."""
    query = {"digest": digest.pk, **filters} if digest else filters
    path = f"{reverse('admin:feedback_submission_changelist')}?{urlencode(query)}"
    return settings.SITE_URL + path if absolute else path


def present(digest: Digest, *, absolute: bool = False) -> dict:
    """
    The digest's content with a link beside every figure and quote (absolute
    ones for email and PDF), the chart's geometry and the dates as shown.
    """
    content = read(digest.content)

    def link(**filters: str) -> str:
        return submissions_url(digest, absolute=absolute, **filters)

    def change_link(submission_id: int) -> str:
        path = reverse("admin:feedback_submission_change", args=[submission_id])
        return settings.SITE_URL + path if absolute else path

    content["final"] = content["kind"] == "final"
    # How the page speaks of what the digest covers.
    content["scope"] = "the call's" if content["final"] else "this week's"
    content["in_scope"] = "in the call" if content["final"] else "this week"
    if content["final"]:
        for element in content["elements"]:
            for theme in element["themes"]:
                theme["spark"] = sparkline(theme["trend"])
    headline = content["headline"]
    headline["url"] = link()
    headline["late_url"] = link(late="yes")
    headline["organisations_url"] = link(responding_as="organisation")
    headline["individuals_url"] = link(responding_as="individual")
    content["period"]["last_day"] = datetime.fromisoformat(content["period"]["end"]) - timedelta(days=1)
    content["chart"] = chart(content["elements"])
    content["breakdown_list"] = [
        ("region", content["breakdowns"]["region"]),
        ("organisation type", content["breakdowns"]["organisation_type"]),
        ("role", content["breakdowns"]["role"]),
    ]
    for element in content["elements"]:
        element["url"] = link(element=element["code"])
        for level in element["levels"]:
            level["url"] = link(element=element["code"], level=level["code"])
        for theme in element["themes"]:
            theme["url"] = link(theme=str(theme["id"]))
            for stance in theme["stances"]:
                stance["url"] = link(theme=str(theme["id"]), stance=stance["code"])
        for quote in element["quotes"]:
            quote["url"] = change_link(quote["submission_id"])
        for campaign in element["campaigns"]:
            campaign["url"] = link(campaign=str(campaign["id"]))
    for level in content["priorities"]:
        level["url"] = link(element="prioritisation", level=level["code"])
    for field, rows in content["breakdowns"].items():
        for row in rows:
            row["url"] = link(**{field: row["code"]})
    national_policy = content["national_policy"]
    for proposal in national_policy["proposals"]:
        proposal["url"] = change_link(proposal["submission_id"])
    for group in national_policy["groups"]:
        if group["kind"] == "theme":
            group["url"] = link(theme=str(group["id"]))
            for stance in group["stances"]:
                stance["url"] = link(theme=str(group["id"]), stance=stance["code"])
        else:
            group["url"] = link(unthemed="national_policy")
        for proposal in group["proposals"]:
            proposal["url"] = change_link(proposal["submission_id"])
        for campaign in group["campaigns"]:
            campaign["url"] = link(campaign=str(campaign["id"]))
    national_policy["url"] = link(element="national_policy")
    content["national_policy"]["not_quotable_url"] = link(element="national_policy", quotable="no")
    since = content["since_previous"]
    if since is not None:
        since["changed_url"] = submissions_url(None, absolute=absolute, changed="yes")
        since["withdrawn_url"] = submissions_url(None, absolute=absolute, status__exact="withdrawn")
        for row in [*since["changed"], *since["withdrawn_list"]]:
            row["url"] = change_link(row["submission_id"])
    shared_path = reverse("admin:feedback_digest_shared", args=[digest.pk])
    content["national_policy"]["shared_url"] = settings.SITE_URL + shared_path if absolute else shared_path
    return content


SPARK_WIDTH, SPARK_HEIGHT = 120, 24


def sparkline(counts: list[int]) -> str:
    """The points of a small line chart of weekly counts, for an SVG polyline SPARK_WIDTH by SPARK_HEIGHT."""
    if not counts:
        return ""
    largest = max(counts) or 1
    step = SPARK_WIDTH / max(len(counts) - 1, 1)
    return " ".join(
        f"{round(index * step, 1)},{round(SPARK_HEIGHT - 2 - (SPARK_HEIGHT - 4) * count / largest, 1)}"
        for index, count in enumerate(counts)
    )


def chart(elements: list[ElementSummary]) -> dict:
    """Positions for a horizontal bar chart of submissions by element, drawn as SVG by the template."""
    largest = max((element["submissions"] for element in elements), default=0) or 1
    bars = []
    for index, element in enumerate(elements):
        top = index * 36
        width = round(320 * element["submissions"] / largest)
        bars.append(
            {
                "label": element["label"],
                "value": element["submissions"],
                "label_y": top + 12,
                "bar_y": top + 16,
                "width": width,
                "value_x": width + 6,
                "value_y": top + 26,
            }
        )
    return {"height": len(elements) * 36, "bars": bars}
