"""The workspace's search box, as a reviewer types into it (on PostgreSQL, full-text search; on SQLite, substrings)."""

import datetime
import re

import pytest
from django.db import connection

from feedback import search
from feedback.admin.base import CappedPaginator
from feedback.models import Element, Region

from .factories import SubmissionFactory

pytestmark = pytest.mark.django_db

TEXTS = {
    "lounge": "Open a discharge lounge in every acute trust so that beds free up before noon.",
    "apart": "Discharge planning should start on admission; the patients' lounge is too small.",
    "pharmacy": "Community pharmacy could take on minor ailments and free up GP time.",
    "nurses": "District nurses need protected time to plan care with social workers.",
}


@pytest.fixture
def listed(client, make_staff):
    """Search the submission list for a term: the names of the TEXTS whose submissions it lists."""
    make_staff("Policy reviewers", client=client)
    references = {
        SubmissionFactory(
            organisation="Westbury Trust", views=[{"element": Element.ENGAGEMENT, "text": text}]
        ).reference: name
        for name, text in TEXTS.items()
    }

    def search(term: str) -> set[str]:
        page = client.get("/admin/feedback/submission/", {"q": term}).content.decode()
        return {name for reference, name in references.items() if reference in page}

    return search


def test_all_the_words_must_appear_in_any_order(listed):
    assert listed("lounge discharge") == {"lounge", "apart"}


def test_quoted_words_must_appear_together(listed):
    assert listed('"discharge lounge"') == {"lounge"}


def test_or_accepts_either_term(listed):
    assert listed("pharmacy or lounge") == {"lounge", "apart", "pharmacy"}


def test_a_minus_leaves_out_views_with_the_word(listed):
    assert listed("discharge -noon") == {"apart"}


def test_a_word_finds_its_other_forms(listed):
    assert listed("nurse") == {"nurses"}


def test_the_organisation_filter_finds_part_of_a_name_and_keeps_the_search(client, make_staff):
    make_staff("Policy reviewers", client=client)
    westbury = SubmissionFactory(organisation="Westbury Trust", views=[{"text": TEXTS["lounge"]}])
    SubmissionFactory(organisation="Westbury Trust", views=[{"text": TEXTS["pharmacy"]}])
    SubmissionFactory(organisation="Eastgate Trust", views=[{"text": TEXTS["lounge"]}])

    page = client.get("/admin/feedback/submission/", {"organisation": "stbu", "q": "lounge"}).content.decode()

    assert "1 result " in page and westbury.reference in page
    assert '<input type="hidden" name="q" value="lounge">' in page, "the organisation's form keeps the search"


def test_a_reference_number_finds_its_submission_however_typed(client, make_staff):
    make_staff("Policy reviewers", client=client)
    wanted = SubmissionFactory(views=[{"text": TEXTS["pharmacy"]}])
    SubmissionFactory(views=[{"text": f"As in {wanted.reference}, we agree."}])

    page = client.get("/admin/feedback/submission/", {"q": wanted.reference.lower().replace("-", " ")})

    assert "1 result " in page.content.decode() and wanted.reference in page.content.decode()


def test_a_search_that_finds_nothing_lists_nothing(listed):
    assert listed("tariff") == set()


def test_a_long_list_says_more_than_the_cap_and_never_counts_the_rest(client, make_staff, monkeypatch):
    make_staff("Policy reviewers", client=client)
    monkeypatch.setattr(CappedPaginator, "SEARCH_CAP", 3)
    SubmissionFactory.create_batch(5, views=[{"element": Element.ENGAGEMENT, "text": "Pool budgets locally."}])
    SubmissionFactory(views=[{"element": Element.ENGAGEMENT, "text": "Something else entirely."}])

    statements = []

    def record(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        page = client.get("/admin/feedback/submission/", {"q": "budgets"}).content.decode()
    few = client.get("/admin/feedback/submission/", {"q": "else"}).content.decode()

    assert "more than 3 results" in page and "more than 3 submissions" in page
    assert "1 result " in few and "1 submission" in few
    # The count queries (the page itself counts each row's suggested themes in a subquery).
    counts = [sql for sql in statements if sql.upper().startswith("SELECT COUNT(")]
    assert counts and all("LIMIT 4" in sql for sql in counts), "every count stops at the cap"


def test_an_unsearched_list_counts_further_than_a_search(client, make_staff, monkeypatch):
    make_staff("Policy reviewers", client=client)
    monkeypatch.setattr(CappedPaginator, "SEARCH_CAP", 3)
    monkeypatch.setattr(CappedPaginator, "CAP", 5)
    SubmissionFactory.create_batch(5, region=Region.LONDON, views=[{"element": Element.ENGAGEMENT, "text": "Pool."}])
    SubmissionFactory(region=Region.LONDON)

    searched = client.get("/admin/feedback/submission/", {"q": "pool", "region__exact": "london"}).content.decode()
    filtered = client.get("/admin/feedback/submission/", {"region__exact": "london"}).content.decode()
    everything = client.get("/admin/feedback/submission/").content.decode()

    assert "more than 3 results" in searched
    assert "more than 5 submissions" in filtered and "more than 5 submissions" in everything


def test_the_filters_counts_stop_at_the_cap_too(client, make_staff, monkeypatch):
    make_staff("Policy reviewers", client=client)
    monkeypatch.setattr(CappedPaginator, "CAP", 3)
    SubmissionFactory.create_batch(5, region=Region.LONDON)
    SubmissionFactory.create_batch(2, region=Region.NORTH_WEST)
    SubmissionFactory(region=Region.NORTH_WEST, views=[{"element": Element.ENGAGEMENT}])

    statements = []

    def record(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        page = client.get("/admin/feedback/submission/", {"_facets": "True"}).content.decode()

    assert "London (more than 3)" in page
    assert "North West (3)" in page
    assert f"{Element.ENGAGEMENT.label} (1)" in page and f"{Element.LEADERSHIP.label} (more than 3)" in page
    counts = [sql for sql in statements if sql.upper().startswith("SELECT COUNT(")]
    assert counts and all("LIMIT 4" in sql for sql in counts), "every count stops at the cap"


def test_a_word_in_many_views_lists_the_same_submissions_as_a_word_in_few(listed, monkeypatch):
    listed_by_id = listed("discharge")
    monkeypatch.setattr(search, "FEW", 1)
    monkeypatch.setattr(search, "listing_limit", lambda: 10)
    after_a_second_look = listed("discharge")
    monkeypatch.setattr(search, "listing_limit", lambda: 1)
    walked_newest_first = listed("discharge")

    assert listed_by_id == after_a_second_look == walked_newest_first == {"lounge", "apart"}
    assert listed('"discharge lounge"') == {"lounge"}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="ranking by relevance is PostgreSQL's full-text search")
def test_a_search_is_newest_first_and_sorted_by_match_puts_the_closest_first(client, make_staff):
    make_staff("Policy reviewers", client=client)
    closest = SubmissionFactory(
        views=[{"element": Element.ENGAGEMENT, "text": "Discharge lounges: discharge early, discharge often."}]
    )
    newer = SubmissionFactory(
        views=[
            {"element": Element.ENGAGEMENT, "text": "Many things matter to patients, and discharge is one of them."}
        ]
    )
    newer.received_at = closest.received_at + datetime.timedelta(hours=1)
    newer.save(update_fields=["received_at"])

    def order(page: str) -> list[str]:
        return sorted((closest.reference, newer.reference), key=page.index)

    searched = client.get("/admin/feedback/submission/", {"q": "discharge"}).content.decode()
    assert order(searched) == [newer.reference, closest.reference], "newest first unless asked"
    header = re.search(r"<th[^>]*column-match[^>]*>.*?</th>", searched, re.S).group(0)
    by_match = re.search(r'href="(\?[^"]+)"', header).group(1).replace("&amp;", "&")
    assert order(client.get(f"/admin/feedback/submission/{by_match}").content.decode()) == [
        closest.reference,
        newer.reference,
    ]
    assert "column-match" not in client.get("/admin/feedback/submission/").content.decode()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="ranking by relevance is PostgreSQL's full-text search")
def test_sorted_by_match_a_filtered_search_lists_each_matching_submission_once(client, make_staff):
    make_staff("Policy reviewers", client=client)
    twice = SubmissionFactory(
        region=Region.LONDON,
        views=[
            {"element": Element.ENGAGEMENT, "text": "Discharge lounges free beds."},
            {"element": Element.LEADERSHIP, "text": "Boards should track discharge delays."},
        ],
    )
    once = SubmissionFactory(region=Region.LONDON, views=[{"element": Element.ENGAGEMENT, "text": "Plan discharge."}])
    elsewhere = SubmissionFactory(
        region=Region.NORTH_WEST, views=[{"element": Element.ENGAGEMENT, "text": "Discharge at weekends."}]
    )
    unmatched = SubmissionFactory(
        region=Region.LONDON, views=[{"element": Element.ENGAGEMENT, "text": "Pool budgets."}]
    )
    query = {"q": "discharge", "region__exact": "london"}
    searched = client.get("/admin/feedback/submission/", query).content.decode()
    header = re.search(r"<th[^>]*column-match[^>]*>.*?</th>", searched, re.S).group(0)
    by_match = re.search(r'href="(\?[^"]+)"', header).group(1).replace("&amp;", "&")

    page = client.get(f"/admin/feedback/submission/{by_match}").content.decode()

    rows = re.findall(r"<tr>.*?</tr>", re.search(r"<tbody>(.*?)</tbody>", page, re.S).group(1), re.S)
    everyone = [twice, once, elsewhere, unmatched]
    listed = [submission.reference for row in rows for submission in everyone if submission.reference in row]
    assert sorted(listed) == sorted([twice.reference, once.reference]), "each match once, the filter kept"
    assert "2 results" in page
