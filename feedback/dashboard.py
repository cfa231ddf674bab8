"""
Aggregate figures for the policy team's dashboard (the admin's landing page).

Digest readers see it too, so it holds counts, references and our own labels,
never a respondent's name, email address or text. The totals, the weeks
and the element x level grid are read from the running tallies
(`models.tallies`), a few hundred rows however many submissions there are;
the unread list is the newest ten. Four queries, at any size.
"""

from collections import defaultdict
from datetime import datetime

from django.urls import reverse

from .lookups import having_ids
from .models import (
    Element,
    Level,
    OrganisationType,
    Region,
    Status,
    Submission,
    SubmissionTally,
    SuggestionModel,
    View,
    ViewTally,
)
from .periods import Week, week_of

NEWEST_UNREAD = 10
NO_LEVEL = ""
LEVEL_COLUMNS = [
    *({"code": level.value, "label": level.short_label} for level in Level),
    {"code": NO_LEVEL, "label": "No level"},
]
# NHS palette colours, each at least 4.5:1 against the chart's white background.
ELEMENT_COLOURS = {
    Element.PRIORITISATION: "#005eb8",
    Element.LEADERSHIP: "#007f3b",
    Element.ENGAGEMENT: "#ae2573",
    Element.NATIONAL_POLICY: "#425563",
}


def summary(*, now: datetime, weeks: int = 12) -> dict:
    """
    What the dashboard shows at `now`: totals, views per element for each of
    the last `weeks` ISO weeks (the current one included, oldest first), the
    element x level grid, the newest unread submissions, and a chart of the
    weeks. Four queries, whatever the size of the tables: the two tallies are
    a few hundred rows each (a week by status, a week by element and level),
    read whole and added up here.
    """
    if weeks < 1:
        raise ValueError("The dashboard shows at least one week.")
    this_week = week_of(now)
    shown = [this_week]
    while len(shown) < weeks:
        shown.insert(0, shown[0].previous())
    views = list(ViewTally.objects.values_list("week", "element", "level", "views"))
    grid = _grid(views)
    weekly = _weekly(shown, views)
    return {
        "totals": {**_submission_totals(this_week), "views": grid["total"]},
        "this_week": this_week.label,
        "elements": [{"code": element.value, "label": element.label} for element in Element],
        "weeks": weekly,
        "grid": grid,
        "newest_unread": _newest_unread(),
        "chart": weekly_chart(weekly),
    }


def _submission_totals(this_week: Week) -> dict:
    totals = {"submissions": 0, "this_week": 0, "last_week": 0, "unread": 0, "withdrawn": 0}
    last_monday = this_week.previous().monday
    for week, status, count in SubmissionTally.objects.values_list("week", "status", "submissions"):
        if status == Status.WITHDRAWN:
            # Tombstones: counted apart, and in none of the figures (their views are gone too).
            totals["withdrawn"] += count
            continue
        totals["submissions"] += count
        totals["this_week"] += count if week == this_week.monday else 0
        totals["last_week"] += count if week == last_monday else 0
        totals["unread"] += count if status == Status.NEW else 0
    return totals


def _weekly(weeks: list[Week], views: list[tuple]) -> list[dict]:
    counts = defaultdict(int)
    for week, element, _, count in views:
        counts[week, element] += count
    weekly = []
    for week in weeks:
        by_element = [counts[week.monday, element] for element in Element.values]
        weekly.append({"label": week.label, "monday": week.monday, "counts": by_element, "total": sum(by_element)})
    return weekly


def _grid(views: list[tuple]) -> dict:
    counts = defaultdict(int)
    for _, element, level, count in views:
        counts[element, level] += count
    rows = []
    for element in Element:
        cells = [counts.get((element.value, column["code"]), 0) for column in LEVEL_COLUMNS]
        rows.append({"code": element.value, "label": element.label, "counts": cells, "total": sum(cells)})
    return {
        "columns": LEVEL_COLUMNS,
        "rows": rows,
        "column_totals": [sum(row["counts"][index] for row in rows) for index in range(len(LEVEL_COLUMNS))],
        # Every view, even one whose element or level is in none of the lists: the true number of views.
        "total": sum(counts.values()),
    }


def _newest_unread() -> list[dict]:
    newest = list(
        Submission.objects.filter(status=Status.NEW)
        .order_by("-received_at", "-pk")
        # Only what the list shows: names and email addresses are never even read.
        .values_list("pk", "reference", "received_at", "organisation_type", "region")[:NEWEST_UNREAD]
    )
    elements = defaultdict(set)
    views = View.objects.filter(having_ids([row[0] for row in newest], field="submission_id")).order_by()
    for submission_id, element in views.values_list("submission_id", "element"):
        elements[submission_id].add(element)
    return [
        {
            "reference": reference,
            "received_at": received_at,
            "elements": [label for code, label in Element.choices if code in elements[pk]],
            "organisation_type": OrganisationType(organisation_type).label,
            "region": Region(region).label,
            "url": reverse("admin:feedback_submission_change", args=[pk]),
        }
        for pk, reference, received_at, organisation_type, region in newest
    ]


# The chart's geometry, in SVG user units.
CHART_WIDTH = 760
CHART_HEIGHT = 360
PLOT_LEFT, PLOT_RIGHT, PLOT_TOP, PLOT_BOTTOM = 64, 744, 76, 300
TEXT_COLOUR = "#212b32"
GRID_COLOUR = "#d8dde0"


def weekly_chart(weekly: list[dict]) -> dict:
    """
    The geometry of a grouped bar chart of views per element, week by week:
    every position worked out here, drawn as inline SVG by
    templates/admin/feedback/weekly_chart.svg (presentation attributes only:
    the Content-Security-Policy allows no inline styles).
    """
    top, step = _scale(max((count for week in weekly for count in week["counts"]), default=0))
    plot_height = PLOT_BOTTOM - PLOT_TOP
    group_width = (PLOT_RIGHT - PLOT_LEFT) / max(len(weekly), 1)
    bar_width = group_width * 0.8 / len(Element)
    elements = list(Element)

    def y(value: int) -> float:
        return PLOT_BOTTOM - plot_height * value / top

    weeks = []
    for index, week in enumerate(weekly):
        left = PLOT_LEFT + group_width * index + group_width * 0.1
        bars = [
            {
                "x": _n(left + bar_width * position),
                "y": _n(y(count)),
                "width": _n(bar_width),
                "height": _n(PLOT_BOTTOM - y(count)),
                "colour": ELEMENT_COLOURS[elements[position]],
                "title": f"{week['label']}, {elements[position].label}: {count:,}",
            }
            for position, count in enumerate(week["counts"])
            if count
        ]
        centre = _n(PLOT_LEFT + group_width * (index + 0.5))
        weeks.append({"bars": bars, "x": centre, "week": week["label"][-3:], "monday": week["monday"]})
    middle_y = _n((PLOT_TOP + PLOT_BOTTOM) / 2)
    return {
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "text_colour": TEXT_COLOUR,
        "grid_colour": GRID_COLOUR,
        "plot": {
            "left": PLOT_LEFT,
            "right": PLOT_RIGHT,
            "bottom": PLOT_BOTTOM,
            "centre": _n((PLOT_LEFT + PLOT_RIGHT) / 2),
        },
        "ticks": [{"y": _n(y(tick)), "label": f"{tick:,}"} for tick in range(0, top + 1, step)],
        "label_left": PLOT_LEFT - 8,
        "week_y": PLOT_BOTTOM + 16,
        "date_y": PLOT_BOTTOM + 30,
        "axis_title_y": CHART_HEIGHT - 12,
        "middle_y": middle_y,
        "weeks": weeks,
        "legend": [
            {
                "x": PLOT_LEFT + (position % 2) * 340,
                "y": 20 + (position // 2) * 24,
                "text_x": PLOT_LEFT + (position % 2) * 340 + 20,
                "text_y": 20 + (position // 2) * 24 + 11,
                "colour": ELEMENT_COLOURS[element],
                "label": element.label,
            }
            for position, element in enumerate(elements)
        ],
        "title": "Views per element, week by week",
        "description": _describe(weekly),
    }


def _describe(weekly: list[dict]) -> str:
    if not weekly:
        return "No weeks to show."
    total = sum(week["total"] for week in weekly)
    busiest = max(weekly, key=lambda week: week["total"])
    first, last = weekly[0]["label"], weekly[-1]["label"]
    if not total:
        return f"Grouped bar chart, {first} to {last}: no views yet. The table below gives the same figures."
    return (
        f"Grouped bar chart of views on each of the four elements, {first} to {last}: {total:,} views in all, "
        f"the most in {busiest['label']} ({busiest['total']:,}). The table below gives every figure."
    )


def _scale(maximum: int) -> tuple[int, int]:
    """The top of the axis and the step between gridlines: 1, 2 or 5 times a power of ten, at most 5 steps."""
    if maximum <= 0:
        return 1, 1
    step = 1
    while True:
        for factor in (1, 2, 5):
            if maximum <= step * factor * 5:
                size = step * factor
                return -(-maximum // size) * size, size
        step *= 10


def _n(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def agreement_by_element() -> dict[str, dict]:
    """
    For each element with a trained theme model, how far its newest model's
    suggestions agreed with people on tags it did not learn from. One query.
    """
    newest: dict[str, dict] = {}
    models = (
        SuggestionModel.objects.filter(kind=SuggestionModel.THEMES)
        .order_by("-trained_at")
        .values("element", "version", "trained_at", "metrics")
    )
    for model in models[:200]:
        if model["element"] not in newest:
            newest[model["element"]] = {
                **model["metrics"],
                "version": model["version"],
                "trained_at": model["trained_at"],
            }
    return newest


def agreement() -> list[dict]:
    """
    For each element, in their order: the newest model's agreement with
    people (`agreement_by_element`) and the agreement between two reviewers
    on views coded twice (`coding.reviewer_agreement`); None where not measured yet.
    """
    from .coding import reviewer_agreement

    newest = agreement_by_element()
    rows = []
    for element in Element:
        reviewers = reviewer_agreement(element)
        if element in newest or reviewers:
            rows.append(
                {
                    "code": element.value,
                    "label": element.label,
                    "machine": newest.get(element),
                    "reviewers": reviewers.as_dict() if reviewers else None,
                }
            )
    return rows
