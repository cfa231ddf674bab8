import random
import re
from datetime import UTC, date, datetime, timedelta
from html import unescape
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from feedback import dashboard
from feedback.models import Element, Level, Status, Submission, SubmissionTally, View, ViewTally

from .factories import SubmissionFactory
from .tallies import assert_tallies_equal_direct_counts

pytestmark = pytest.mark.django_db

LONDON = ZoneInfo("Europe/London")
ELEMENTS = list(Element)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def reviewer(client, make_staff):
    return make_staff("Policy reviewers", client=client)


def dashboard_html(client) -> str:
    page = client.get("/admin/")
    assert page.status_code == 200
    body = page.content.decode()
    start, end = body.index('<div class="qipp-dashboard">'), body.index('<div id="content-main"')
    return body[start:end]


def table(html: str, table_id: str) -> list[list[str]]:
    """The text of each cell, row by row, of the table with this id."""
    markup = re.search(rf'<table id="{table_id}">(.*?)</table>', html, re.S).group(1)
    return [
        [
            unescape(re.sub(r"<[^>]+>", "", cell)).strip()
            for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        ]
        for row in re.findall(r"<tr>(.*?)</tr>", markup, re.S)
    ]


def number(text: str) -> int:
    return int(text.replace(",", ""))


def views_received(element, start: datetime, end: datetime) -> int:
    return View.objects.filter(
        element=element, submission__received_at__gte=start, submission__received_at__lt=end
    ).count()


# 2026: British Summer Time starts at 01:00 GMT on Sunday 29 March and ends at
# 01:00 GMT on Sunday 25 October. Boundaries below are written out in UTC.


@time_machine.travel(utc(2026, 3, 31, 9, 0), tick=False)
def test_it_counts_submissions_this_and_last_iso_week_in_london_time_across_the_start_of_summer_time():
    at = {
        "before last week": utc(2026, 3, 22, 23, 59, 59),  # Sunday 22 March, 23:59:59 GMT
        "last week opens": utc(2026, 3, 23, 0, 0),  # Monday 23 March, 00:00 GMT
        "last week closes": utc(2026, 3, 29, 22, 59, 59),  # Sunday 29 March, 23:59:59 BST
        "this week opens": utc(2026, 3, 29, 23, 0),  # Monday 30 March, 00:00 BST
        "this week": utc(2026, 3, 31, 8, 0),
    }
    for received_at in at.values():
        SubmissionFactory(
            received_at=received_at, views=[{"element": Element.LEADERSHIP}, {"element": Element.ENGAGEMENT}]
        )
    Submission.objects.filter(received_at=at["this week"]).set_status(Status.READ, by=None)

    totals = dashboard.summary(now=datetime.now(UTC))["totals"]

    assert (
        totals["this_week"] == Submission.objects.received_between(at["this week opens"], utc(2026, 4, 5, 23)).count()
    )
    assert totals["this_week"] == 2
    assert (
        totals["last_week"]
        == Submission.objects.received_between(at["last week opens"], at["this week opens"]).count()
    )
    assert totals["last_week"] == 2
    assert totals["submissions"] == Submission.objects.count() == 5
    assert totals["views"] == View.objects.count() == 10
    assert totals["unread"] == Submission.objects.filter(status=Status.NEW).count() == 4


@time_machine.travel(utc(2026, 11, 4, 12, 0), tick=False)
def test_it_counts_views_per_element_week_by_week_across_the_end_of_summer_time():
    SubmissionFactory(received_at=utc(2026, 10, 18, 22, 59), views=[{"element": Element.LEADERSHIP}])  # W42, BST
    SubmissionFactory(received_at=utc(2026, 10, 18, 23, 0), views=[{"element": Element.PRIORITISATION}])  # W43 opens
    SubmissionFactory(  # Sunday 25 October, 23:30 GMT: still W43
        received_at=utc(2026, 10, 25, 23, 30),
        views=[{"element": Element.NATIONAL_POLICY}, {"element": Element.NATIONAL_POLICY}],
    )
    SubmissionFactory(received_at=utc(2026, 10, 26, 0, 0), views=[{"element": Element.ENGAGEMENT}])  # W44 opens
    SubmissionFactory(received_at=utc(2026, 11, 4, 11, 0), views=[{"element": Element.LEADERSHIP}])  # W45, now

    weeks = dashboard.summary(now=datetime.now(UTC), weeks=4)["weeks"]

    assert [week["label"] for week in weeks] == ["2026-W42", "2026-W43", "2026-W44", "2026-W45"]
    assert [week["monday"] for week in weeks] == [
        date(2026, 10, 12),
        date(2026, 10, 19),
        date(2026, 10, 26),
        date(2026, 11, 2),
    ]
    boundaries = [
        utc(2026, 10, 11, 23),
        utc(2026, 10, 18, 23),
        utc(2026, 10, 26, 0),
        utc(2026, 11, 2, 0),
        utc(2026, 11, 9, 0),
    ]
    for week, start, end in zip(weeks, boundaries, boundaries[1:], strict=False):
        assert week["counts"] == [views_received(element, start, end) for element in ELEMENTS]
    assert [week["counts"] for week in weeks] == [[0, 1, 0, 0], [1, 0, 0, 2], [0, 0, 1, 0], [0, 1, 0, 0]]
    assert [week["total"] for week in weeks] == [1, 3, 1, 1]


@time_machine.travel(utc(2026, 11, 4, 12, 0), tick=False)
def test_it_leaves_out_views_received_before_the_first_week_shown_but_counts_them_in_the_totals():
    SubmissionFactory(received_at=utc(2026, 10, 1, 12), views=[{"element": Element.LEADERSHIP}])
    SubmissionFactory(received_at=utc(2026, 11, 3, 12), views=[{"element": Element.LEADERSHIP}])

    figures = dashboard.summary(now=datetime.now(UTC), weeks=2)

    assert sum(week["total"] for week in figures["weeks"]) == 1
    assert figures["totals"]["views"] == 2


def test_the_grid_counts_views_by_element_and_level_and_shows_no_level_for_the_other_elements():
    SubmissionFactory(
        views=[
            {"element": Element.PRIORITISATION, "level": Level.NATIONAL},
            {"element": Element.PRIORITISATION, "level": Level.LOCAL},
            {"element": Element.ENGAGEMENT},
        ]
    )
    SubmissionFactory(
        views=[
            {"element": Element.PRIORITISATION, "level": Level.LOCAL},
            {"element": Element.PRIORITISATION, "level": Level.SEVERAL},
            {"element": Element.LEADERSHIP},
        ]
    )

    grid = dashboard.summary(now=datetime.now(UTC))["grid"]

    assert [column["label"] for column in grid["columns"]] == [
        "National",
        "Regional",
        "Several local systems",
        "Local",
        "No level",
    ]
    for row in grid["rows"]:
        assert row["counts"] == [
            View.objects.filter(element=row["code"], level=level).count() for level in [*Level.values, ""]
        ]
    assert [row["counts"] for row in grid["rows"]] == [
        [1, 0, 1, 2, 0],
        [0, 0, 0, 0, 1],
        [0, 0, 0, 0, 1],
        [0, 0, 0, 0, 0],
    ]
    assert grid["column_totals"] == [1, 0, 1, 2, 2]
    assert grid["total"] == View.objects.count() == 6


def test_it_lists_the_ten_newest_unread_submissions_with_their_elements_and_a_link():
    now = datetime.now(UTC)
    for hours in range(12):
        SubmissionFactory(
            received_at=now - timedelta(hours=hours),
            views=[{"element": Element.NATIONAL_POLICY}, {"element": Element.PRIORITISATION}],
        )
    SubmissionFactory(received_at=now, status=Status.FLAGGED)

    unread = dashboard.summary(now=now)["newest_unread"]

    newest = Submission.objects.filter(status=Status.NEW).order_by("-received_at")[:10]
    assert [item["reference"] for item in unread] == [submission.reference for submission in newest]
    first = unread[0]
    assert first["elements"] == ["Prioritisation by level", "National policy framework"]
    assert first["organisation_type"] == "NHS foundation trust"
    assert first["region"] == "North West"
    assert first["url"] == f"/admin/feedback/submission/{newest[0].pk}/change/"
    assert set(first) == {"reference", "received_at", "elements", "organisation_type", "region", "url"}


def test_the_admin_opens_on_the_dashboard_with_totals_chart_grid_and_unread_list(client, reviewer):
    submission = SubmissionFactory(views=[{"element": Element.PRIORITISATION, "level": Level.REGIONAL}])

    html = dashboard_html(client)

    assert "At a glance" in html
    assert re.search(r"<dt>Submissions, all time</dt><dd>1</dd>", html)
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in html
    assert table(html, "dashboard-grid")[1] == ["Prioritisation by level", "0", "1", "0", "0", "0", "1"]
    assert f'<a href="/admin/feedback/submission/{submission.pk}/change/">{submission.reference}</a>' in html


def test_the_chart_and_the_table_show_the_same_numbers(client, reviewer):
    now = datetime.now(UTC)
    for weeks_ago, elements in [
        (0, [Element.LEADERSHIP]),
        (1, [Element.ENGAGEMENT, Element.LEADERSHIP]),
        (5, [Element.NATIONAL_POLICY]),
    ]:
        for _ in range(weeks_ago + 1):
            SubmissionFactory(received_at=now - timedelta(weeks=weeks_ago), views=[{"element": e} for e in elements])
    figures = dashboard.summary(now=now)

    html = dashboard_html(client)

    rows = table(html, "dashboard-weekly")
    assert rows[0] == ["Week", *Element.labels, "All elements"]
    table_counts = {
        (row[0].split()[0], label): number(cell)
        for row in rows[1:]
        for label, cell in zip(Element.labels, row[1:5], strict=True)
    }
    assert [row[0].split()[0] for row in rows[1:]] == [week["label"] for week in figures["weeks"]]
    assert [[number(cell) for cell in row[1:5]] for row in rows[1:]] == [week["counts"] for week in figures["weeks"]]
    bars = {
        (week, label): number(count)
        for week, label, count in re.findall(r"<title>(\d{4}-W\d\d), ([^:<]+): ([\d,]+)</title>", unescape(html))
    }
    assert bars == {key: count for key, count in table_counts.items() if count}
    assert len(bars) == 4


def test_the_chart_is_labelled_for_screen_readers_and_uses_no_inline_styles(client, reviewer):
    SubmissionFactory()

    html = dashboard_html(client)

    svg = re.search(r"<svg.*?</svg>", html, re.S).group(0)
    assert 'role="img"' in svg
    assert 'aria-labelledby="dashboard-chart-title dashboard-chart-description"' in svg
    assert '<title id="dashboard-chart-title">Views per element, week by week</title>' in svg
    assert "1 views in all" in re.search(r"<desc[^>]*>(.*?)</desc>", svg).group(1)
    for label in Element.labels:  # the legend
        assert f">{label}</text>" in svg
    assert "ISO week, and the date of its Monday" in svg  # the axes
    assert ">Views</text>" in svg
    assert "style" not in html.lower()
    assert "<script" not in html.lower()
    assert re.search(r'<table id="dashboard-weekly">\s*<caption>', html)
    assert '<th scope="col">Week</th>' in html
    assert '<th scope="row">' in html


def test_no_names_or_email_addresses_appear_on_the_dashboard(client, reviewer):
    SubmissionFactory(name="Priya Shah", email="priya.shah@example.nhs.uk", organisation="Northfield PCT")
    SubmissionFactory(name="Tomasz Nowak", email="t.nowak@example.org", status=Status.READ)

    body = client.get("/admin/").content.decode()

    for personal in ["Priya", "Shah", "Tomasz", "Nowak", "example.nhs.uk", "example.org", "@", "Northfield"]:
        assert personal not in body


def test_a_digest_reader_sees_the_figures_but_no_links_into_submissions(client, make_staff):
    make_staff("Digest readers", client=client)
    submission = SubmissionFactory()

    html = dashboard_html(client)

    assert submission.reference in html
    assert "/admin/feedback/submission/" not in html


def test_staff_without_the_dashboard_permission_see_only_the_app_list(client, make_staff):
    user = make_staff(None, client=client)
    user.user_permissions.add(Permission.objects.get(codename="view_submission"))
    SubmissionFactory()

    page = client.get("/admin/")

    assert page.status_code == 200
    assert "qipp-dashboard" not in page.content.decode()
    assert "Newest unread submissions" not in page.content.decode()


def test_the_dashboard_takes_four_queries_however_many_submissions_there_are(django_assert_num_queries):
    for count in (10, 100):
        SubmissionFactory.create_batch(
            count - Submission.objects.count(),
            views=[{"element": Element.PRIORITISATION}, {"element": Element.LEADERSHIP}],
        )
        with django_assert_num_queries(4):
            dashboard.summary(now=datetime.now(UTC))


def test_the_admin_index_takes_the_same_number_of_queries_with_10_or_100_submissions(client, reviewer):
    counts = []
    for count in (10, 100):
        SubmissionFactory.create_batch(count - Submission.objects.count(), views=[{"element": Element.ENGAGEMENT}])
        client.get("/admin/")  # sessions and caches settle on the first request
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/admin/").status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


@time_machine.travel(utc(2026, 4, 15, 14, 0), tick=False)
def test_every_figure_matches_the_database_for_seeded_demo_data():
    call_command("seed_demo", submissions=300, seed=7, weeks=8, verbosity=0)
    now = datetime.now(UTC)

    figures = dashboard.summary(now=now, weeks=8)

    mondays = [date(2026, 4, 13) - timedelta(weeks=back) for back in range(7, -1, -1)]
    starts = [datetime(day.year, day.month, day.day, tzinfo=LONDON) for day in [*mondays, date(2026, 4, 20)]]
    assert starts[4].utcoffset() == timedelta(0) and starts[5].utcoffset() == timedelta(hours=1)  # summer time starts
    for week, start, end in zip(figures["weeks"], starts, starts[1:], strict=False):
        assert week["counts"] == [views_received(element, start, end) for element in ELEMENTS]
    assert sum(week["total"] for week in figures["weeks"]) == View.objects.count()
    totals = figures["totals"]
    assert totals["submissions"] == Submission.objects.count() == 300
    assert totals["views"] == View.objects.count()
    assert totals["this_week"] == Submission.objects.received_between(starts[-2], starts[-1]).count()
    assert totals["last_week"] == Submission.objects.received_between(starts[-3], starts[-2]).count()
    assert totals["unread"] == Submission.objects.filter(status=Status.NEW).count()
    for row in figures["grid"]["rows"]:
        assert row["counts"] == [
            View.objects.filter(element=row["code"], level=level).count() for level in [*Level.values, ""]
        ]
    assert len(figures["newest_unread"]) == 10


def test_the_running_totals_equal_direct_counts_through_seeding_triage_and_a_recount(make_staff):
    call_command("seed_demo", submissions=200, seed=11, weeks=6, verbosity=0)
    assert_tallies_equal_direct_counts()

    reviewer = make_staff("Policy reviewers")
    rng = random.Random(3)
    for submission in rng.sample(list(Submission.objects.all()), 60):
        submission.set_status(rng.choice(list(Status)), by=reviewer)
    unread = Submission.objects.filter(status=Status.NEW).values_list("pk", flat=True)[:10]
    Submission.objects.filter(pk__in=list(unread)).set_status(Status.FLAGGED, by=reviewer)
    SubmissionFactory(status=Status.READ, views=[{"element": Element.PRIORITISATION}, {"element": Element.ENGAGEMENT}])
    assert_tallies_equal_direct_counts()

    # Rows changed by hand in the database: the command counts everything again.
    Submission.objects.filter(status=Status.READ).update(status=Status.NEW)
    ViewTally.objects.all().delete()
    out = StringIO()
    call_command("recount_dashboard", stdout=out)
    assert_tallies_equal_direct_counts()
    assert f"Counted {Submission.objects.count():,} submissions and {View.objects.count():,} views." in out.getvalue()
    assert SubmissionTally.objects.filter(status=Status.NEW).exists()
