import csv
import io
import random
import re
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import OperationalError, connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext

from feedback import digests, tasks
from feedback.models import (
    STALE_COMPILE_AFTER,
    Digest,
    DigestStatus,
    Element,
    Level,
    NotYetCounted,
    OrganisationType,
    Region,
    Role,
    Source,
    Stance,
    Submission,
    Theme,
    ThemeTag,
    View,
)
from feedback.periods import Week
from qipp_portal.celery import app as celery_app

from .factories import SubmissionFactory

pytestmark = pytest.mark.django_db

LONDON = ZoneInfo("Europe/London")
W46, W47, W48 = Week.parse("2026-W46"), Week.parse("2026-W47"), Week.parse("2026-W48")
AFTER_W47 = "2026-11-23 09:00 +0000"  # Monday of W48
AFTER_W48 = "2026-11-30 09:00 +0000"


def at(week: Week, days: float) -> datetime:
    return week.start + timedelta(days=days)


def varied_submissions(week: Week, count: int, rng: random.Random) -> list[Submission]:
    made = []
    for _ in range(count):
        views = []
        for element in rng.sample(list(Element), rng.randint(1, 3)):
            level = rng.choice(list(Level)) if element == Element.PRIORITISATION else ""
            views.append(
                {"element": element, "level": level, "text": f"View on {element.label}. " * rng.randint(3, 30)}
            )
        made.append(
            SubmissionFactory(
                received_at=at(week, rng.uniform(0, 6.99)),
                region=rng.choice(list(Region)),
                organisation_type=rng.choice(list(OrganisationType)),
                role=rng.choice(list(Role)),
                consent_to_quote=rng.random() < 0.4,
                on_behalf_of_organisation=rng.random() < 0.3,
                views=views,
            )
        )
    return made


@pytest.fixture
def week_of_data(django_user_model):
    rng = random.Random(7)
    reviewer = django_user_model.objects.create_user("tagger", is_staff=True)
    varied_submissions(W46, 5, rng)
    made = varied_submissions(W47, 40, rng)
    themes = [Theme.objects.create(element=Element.LEADERSHIP, name=name) for name in ("Clinical leaders", "Boards")]
    for index, view in enumerate(View.objects.filter(submission__in=made, element=Element.LEADERSHIP)):
        # Every third tag is a machine's suggestion nobody has confirmed: not counted.
        ThemeTag.objects.create(
            view=view,
            theme=themes[index % 2],
            stance=rng.choice(["", *Stance]),
            assigned_by=None if index % 3 == 0 else reviewer,
        )
    return made


def compiled(week: Week, when: str = AFTER_W48) -> Digest:
    with time_machine.travel(when):
        return digests.compile_digest(week=week)


def test_the_digests_figures_equal_direct_database_counts(week_of_data):
    digest = compiled(W47)
    assert digest.status == DigestStatus.READY and digest.number == 1
    content = digest.content
    week = Submission.objects.filter(received_at__gte=W47.start, received_at__lt=W47.end)
    assert content["headline"]["new"] == week.count() == 40
    assert content["headline"]["late"] == 0
    assert content["headline"]["quotable"] == week.filter(consent_to_quote=True).count()
    assert content["headline"]["organisations"] == week.filter(on_behalf_of_organisation=True).count() > 0
    assert content["headline"]["individuals"] == week.filter(on_behalf_of_organisation=False).count() > 0
    for element in content["elements"]:
        assert element["submissions"] == week.filter(views__element=element["code"]).distinct().count()
        for level in element["levels"]:
            expected = week.filter(views__element=element["code"], views__level=level["code"]).distinct().count()
            assert level["submissions"] == expected
    for field in ("region", "organisation_type", "role"):
        for row in content["breakdowns"][field]:
            assert row["submissions"] == week.filter(**{field: row["code"]}).count()
    leadership = next(e for e in content["elements"] if e["code"] == "leadership")
    assert leadership["themes"]
    for theme in leadership["themes"]:
        tagged = week.filter(Q(views__tags__theme_id=theme["id"]), views__tags__assigned_by__isnull=False)
        assert theme["submissions"] == tagged.distinct().count()
        for stance in theme["stances"]:
            by_stance = week.filter(
                views__tags__theme_id=theme["id"],
                views__tags__assigned_by__isnull=False,
                views__tags__stance=stance["code"],
            )
            assert stance["submissions"] == by_stance.distinct().count()
    assert set(Submission.objects.filter(membership__digest=digest)) == set(week)


def test_a_submission_is_counted_by_the_digest_of_the_week_it_was_received_in_london():
    # The clocks went forward that Sunday: 23:30 London time is 22:30 UTC, still in W13.
    sunday_night = datetime(2026, 3, 29, 23, 30, tzinfo=LONDON)  # W13, BST
    monday_early = datetime(2026, 3, 30, 0, 30, tzinfo=LONDON)  # W14 starts
    late_sunday = SubmissionFactory(received_at=sunday_night)
    SubmissionFactory(received_at=monday_early)
    with time_machine.travel("2026-04-07 09:00 +0000"):
        digest = digests.compile_digest(week=Week.parse("2026-W13"))
    assert list(Submission.objects.filter(membership__digest=digest)) == [late_sunday]


def test_quotes_come_only_from_respondents_who_agreed_and_never_name_them(week_of_data):
    digest = compiled(W47)
    consenting = {s.pk for s in Submission.objects.filter(consent_to_quote=True)}
    quotes = [quote for element in digest.content["elements"] for quote in element["quotes"]]
    quotes += [proposal for group in digest.content["national_policy"]["groups"] for proposal in group["proposals"]]
    assert quotes, "the seeded week has quotable views"
    text = str(digest.content)
    for submission in Submission.objects.filter(membership__digest=digest):
        assert submission.email not in text
        assert submission.name not in text
        assert submission.organisation not in text
    for quote in quotes:
        assert quote["submission_id"] in consenting
    for element in digest.content["elements"]:
        assert len(element["quotes"]) <= digests.QUOTES_PER_ELEMENT


def test_national_policy_proposals_are_grouped_by_theme_then_by_what_they_share(week_of_data, django_user_model):
    reviewer = django_user_model.objects.get(username="tagger")
    tariff = Theme.objects.create(element=Element.NATIONAL_POLICY, name="Tariff")
    policy_views = list(View.objects.filter(submission__in=week_of_data, element=Element.NATIONAL_POLICY))
    for view in policy_views[::2]:
        ThemeTag.objects.create(view=view, theme=tariff, stance=Stance.SUPPORTS, assigned_by=reviewer)

    digest = compiled(W47)

    policy = digest.content["national_policy"]
    groups = policy["groups"]
    themed, clusters = groups[0], groups[1:]
    assert (themed["kind"], themed["label"]) == ("theme", "Tariff")
    assert themed["views"] == len(policy_views[::2])
    assert themed["submissions"] == len({view.submission_id for view in policy_views[::2]})
    supports = next(stance for stance in themed["stances"] if stance["code"] == Stance.SUPPORTS)
    assert supports["submissions"] == themed["submissions"]
    assert clusters and all(group["kind"] == "cluster" for group in clusters)
    assert sum(group["views"] for group in clusters) == len(policy_views) - len(policy_views[::2])
    consenting = set(Submission.objects.filter(consent_to_quote=True).values_list("pk", flat=True))
    for group in groups:
        assert len(group["proposals"]) <= digests.REPRESENTATIVE_PROPOSALS
        assert all(proposal["submission_id"] in consenting for proposal in group["proposals"])
    assert policy["submissions"] == len({view.submission_id for view in policy_views})
    assert policy["not_quotable"] == (
        Submission.objects.filter(
            membership__digest=digest, consent_to_quote=False, views__element=Element.NATIONAL_POLICY
        )
        .distinct()
        .count()
    )


def test_the_national_policy_section_stays_short_however_many_propose(django_user_model):
    rng = random.Random(3)
    topics = ["tariff payment by results", "pooled budgets social care", "targets waiting times", "procurement rules"]
    for number in range(400):
        text = f"Change the {rng.choice(topics)} nationally so that local services can {rng.choice(topics)} better."
        SubmissionFactory(
            received_at=at(W47, rng.uniform(0, 6.9)),
            consent_to_quote=True,
            views=[{"element": Element.NATIONAL_POLICY, "text": f"{text} Proposal {number}."}],
        )

    digest = compiled(W47)

    groups = digest.content["national_policy"]["groups"]
    # No theme covers them: about the square root of (400 / 30) groups by their words, never more than six.
    assert len(groups) == 4
    assert all(group["kind"] == "cluster" for group in groups)
    # Everyone agreed to be quoted, so each group shows exactly three proposals: 12 quotes for 400 proposals.
    assert [len(group["proposals"]) for group in groups] == [digests.REPRESENTATIVE_PROPOSALS] * 4
    assert sum(group["views"] for group in groups) == 400


def test_compiling_twice_gives_one_digest_and_leaves_it_frozen(week_of_data):
    first = compiled(W47)
    SubmissionFactory(received_at=at(W47, 3))  # arrives after the compile
    second = compiled(W47)
    assert Digest.objects.count() == 1
    assert second.pk == first.pk and second.content == first.content and second.number == 1


def test_compiling_records_what_it_counted_without_rewriting_a_submission_row(week_of_data):
    with CaptureQueriesContext(connection) as queries:
        digest = compiled(W47)
    submissions_table = Submission._meta.db_table
    writes = [q["sql"] for q in queries if re.match(rf'\s*(UPDATE|DELETE FROM) "?{submissions_table}"?\b', q["sql"])]
    assert writes == []
    assert Submission.objects.filter(membership__digest=digest).count() == 40
    assert not NotYetCounted.objects.filter(submission__membership__digest=digest).exists()


def test_a_late_submission_is_counted_in_the_next_digests_late_line(week_of_data):
    w47 = compiled(W47)
    late = SubmissionFactory(received_at=at(W47, 2))
    SubmissionFactory(received_at=at(W48, 1))
    w48 = compiled(W48, when="2026-12-01 09:00 +0000")
    w47.refresh_from_db()
    assert w47.content["headline"]["new"] == 40, "the frozen digest is not rewritten"
    late.refresh_from_db()
    assert late.digest == w48
    # W46 came before the first digest: its five reach this one as late too.
    assert w48.content["headline"]["late"] == 6
    assert w48.content["headline"]["late_weeks"] == [
        {"week": "2026-W46", "submissions": 5},
        {"week": "2026-W47", "submissions": 1},
    ]
    assert w48.content["headline"]["new"] == 7
    assert w48.number == 2


def test_mail_from_before_the_portal_sorted_now_reaches_the_next_digest_as_late():
    compiled(W47)
    backlog = SubmissionFactory(received_at=datetime(2009, 11, 2, 10, 0, tzinfo=UTC), source=Source.EMAIL)

    w48 = compiled(W48, when="2026-12-01 09:00 +0000")

    backlog.refresh_from_db()
    assert backlog.digest == w48
    assert w48.content["headline"]["late_weeks"] == [{"week": "2009-W45", "submissions": 1}]


def test_a_week_whose_own_digest_is_waiting_keeps_its_submissions():
    Digest.objects.create(period_start=W46.start, period_end=W46.end)  # waiting to compile
    waiting = SubmissionFactory(received_at=at(W46, 1))
    compiled(W47)

    w48 = compiled(W48, when="2026-12-01 09:00 +0000")

    waiting.refresh_from_db()
    assert waiting.digest is None
    assert w48.content["headline"]["late"] == 0


def test_submissions_of_a_week_never_compiled_are_not_swept_into_a_later_digest():
    SubmissionFactory(received_at=at(W46, 1))
    digest = compiled(W47)
    assert digest.content["headline"]["new"] == 0
    assert Submission.objects.get().digest is None


def test_the_change_against_the_previous_digest_is_put_in_words():
    SubmissionFactory.create_batch(4, received_at=at(W46, 1))
    SubmissionFactory.create_batch(6, received_at=at(W47, 1))
    compiled(W46)
    digest = compiled(W47)
    assert digest.content["headline"]["change"] == "up 2 (50%) on the previous digest"


@pytest.mark.parametrize(
    ("part", "whole", "phrase"),
    [
        (0, 10, "none"),
        (10, 10, "all"),
        (19, 20, "almost all"),
        (8, 10, "most"),
        (6, 10, "more than half"),
        (1, 2, "about half"),
        (4, 10, "a large minority"),
        (1, 3, "about a third"),
        (1, 4, "about a quarter"),
        (15, 100, "a minority"),
        (1, 100, "a few"),
        (3, 0, "none"),
    ],
)
def test_summary_words_are_computed_from_the_numbers(part, whole, phrase):
    assert digests.share_phrase(part, whole) == phrase


def test_a_failed_compile_shows_its_error_and_can_be_tried_again(week_of_data, monkeypatch):
    def broken(digest):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(digests, "build_content", broken)
    failed = compiled(W47)
    assert failed.status == DigestStatus.FAILED
    assert "the database went away" in failed.last_error
    assert not Submission.objects.filter(membership__digest=failed).exists(), "nothing half-done is kept"
    monkeypatch.undo()
    done = compiled(W47)
    assert done.pk == failed.pk and done.status == DigestStatus.READY and done.last_error == ""


def test_a_week_that_has_not_ended_cannot_be_compiled():
    with time_machine.travel("2026-11-20 12:00 +0000"), pytest.raises(ValueError):
        digests.compile_digest(week=W47)


def test_without_a_compile_lock_a_compile_left_by_a_dead_worker_is_taken_up_again_later(week_of_data):
    # The rule where nothing tells a live compile from a dead one (SQLite has no
    # advisory locks): only time. PostgreSQL's lock is tested in test_concurrency.py.
    claimed_at = datetime(2026, 11, 30, 9, 0, tzinfo=LONDON)
    digest = Digest.objects.create(
        period_start=W47.start, period_end=W47.end, status=DigestStatus.COMPILING, claimed_at=claimed_at, attempts=1
    )
    within = claimed_at + STALE_COMPILE_AFTER - timedelta(minutes=1)
    assert digest.claim(now=within, live_compile_excluded=False) == 0, "still within its time"
    later = claimed_at + STALE_COMPILE_AFTER + timedelta(minutes=1)
    with time_machine.travel(later):
        digests.compile_digest(week=W47)
    digest.refresh_from_db()
    assert (digest.status, digest.attempts) == (DigestStatus.READY, 2)
    assert Digest.objects.get().pk == digest.pk


def test_the_command_compiles_a_chosen_week_or_the_last_complete_one(week_of_data, capsys):
    with time_machine.travel(AFTER_W47):
        call_command("compile_digest")
        assert "Digest 1 (2026-W47)" in capsys.readouterr().out
        with pytest.raises(CommandError):
            call_command("compile_digest", "--week", "2026-W48")
        with pytest.raises(CommandError):
            call_command("compile_digest", "--week", "last week")
    with time_machine.travel(AFTER_W48):
        call_command("compile_digest", "--week", "2026-W46")
    assert sorted(Digest.objects.values_list("number", flat=True)) == [1, 2]


def test_beat_compiles_last_weeks_digest_every_hour_until_it_is_done():
    entry = settings.CELERY_BEAT_SCHEDULE["compile-last-weeks-digest"]
    assert entry["task"] == "feedback.tasks.compile_digest_task"
    assert entry["schedule"].minute == {15}
    with time_machine.travel(AFTER_W47):
        assert tasks.compile_digest_task() == "Digest 1 (2026-W47): ready"
        assert tasks.compile_digest_task() == "Digest 1 (2026-W47): ready"
    assert Digest.objects.count() == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="advisory locks between two database sessions")
@pytest.mark.django_db(transaction=True)
def test_a_compile_under_way_on_another_host_holds_up_no_task():
    """A worker host cut off mid-compile keeps its lock until PostgreSQL drops it: tasks elsewhere carry on."""
    from django.db import connections

    from feedback.models import EmailKind, OutgoingEmail

    from .test_weekly_email import subscriber

    SubmissionFactory(received_at=at(W47, 1))
    subscriber("lead")
    with time_machine.travel(AFTER_W47):
        digest = Digest.objects.create(period_start=W47.start, period_end=W47.end)
        elsewhere = connections.create_connection("default")
        try:
            with elsewhere.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_lock(%s, %s)", [digests.COMPILE_LOCK, digest.pk])
            with connection.cursor() as cursor:
                # Waiting for the lock would fail the test here, not hang it.
                cursor.execute("SET lock_timeout = '5s'")
            started = time.monotonic()
            compiled_here = tasks.compile_digest_task("2026-W47")
            tasks.send_weekly_emails_task()
            waited = time.monotonic() - started
        finally:
            elsewhere.close()
            with connection.cursor() as cursor:
                cursor.execute("RESET lock_timeout")
        assert compiled_here == f"{digest}: {digest.status}" and digest.status != DigestStatus.READY
        assert not OutgoingEmail.objects.filter(kind=EmailKind.WEEKLY_SUMMARY).exists()
        assert waited < 10
        # Once the other session is gone, the next runs compile it and plan the weekly email.
        assert tasks.compile_digest_task("2026-W47") == "Digest 1 (2026-W47): ready"
        tasks.send_weekly_emails_task()
        assert OutgoingEmail.objects.filter(kind=EmailKind.WEEKLY_SUMMARY).count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_compile_task_runs_through_a_real_celery_worker():
    from celery.contrib.testing.worker import start_worker

    def compiled_yet() -> bool:
        try:
            return Digest.objects.compiled().exists()
        except OperationalError:
            # SQLite's shared in-memory test database: the worker's write transaction holds the table.
            return False

    SubmissionFactory(received_at=at(W47, 1))
    celery_app.conf.task_always_eager = False
    try:
        with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            tasks.compile_digest_task.delay("2026-W47")
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not compiled_yet():
                time.sleep(0.1)
    finally:
        celery_app.conf.task_always_eager = True
    digest = Digest.objects.get()
    assert digest.status == DigestStatus.READY and digest.content["headline"]["new"] == 1


# --- In the admin ------------------------------------------------------------


@pytest.fixture
def lead_client(client, make_staff):
    make_staff("Policy leads", client=client)
    return client


def test_every_figure_links_to_exactly_the_submissions_behind_it(lead_client, week_of_data):
    digest = compiled(W47)
    page = lead_client.get(f"/admin/feedback/digest/{digest.pk}/read/").content.decode()
    links = re.findall(r'<a href="(/admin/feedback/submission/\?digest=[^"]+)">(\d+)</a>', page)
    assert len(links) > 20
    for url, figure in links:
        listed = lead_client.get(url.replace("&amp;", "&")).content.decode()
        assert f"{figure} submission" in listed or f"{figure} submissions" in listed, url


def test_the_digest_page_has_headings_tables_with_headers_and_a_chart_with_a_table(lead_client, week_of_data):
    digest = compiled(W47)
    page = lead_client.get(f"/admin/feedback/digest/{digest.pk}/read/").content.decode()
    for heading in [
        "Headline",
        "By element",
        "Element by level",
        "Where respondents place priorities",
        "Proposed changes to national policy",
        "Who responded",
    ]:
        assert f">{heading}</h2>" in page
    assert '<svg role="img"' in page and "<title" in page
    assert page.count("<caption>") >= 6
    assert '<th scope="col">' in page and '<th scope="row">' in page


def test_a_lead_approves_a_ready_digest_and_a_reviewer_cannot(client, make_staff, week_of_data):
    digest = compiled(W47)
    make_staff("Policy reviewers", client=client)
    page = client.get(f"/admin/feedback/digest/{digest.pk}/read/").content.decode()
    assert "Approve this digest" not in page
    client.post(f"/admin/feedback/digest/{digest.pk}/read/", {"approve": "1"})
    digest.refresh_from_db()
    assert digest.status == DigestStatus.READY

    client.logout()
    lead = make_staff("Policy leads", client=client)
    client.post(f"/admin/feedback/digest/{digest.pk}/read/", {"approve": "1"})
    digest.refresh_from_db()
    assert digest.status == DigestStatus.APPROVED and digest.approved_by == lead


def test_a_lead_compiles_a_chosen_week_from_the_admin(lead_client, week_of_data, django_capture_on_commit_callbacks):
    # Travelling back in time keeps the signed-in session valid.
    with time_machine.travel(AFTER_W47), django_capture_on_commit_callbacks(execute=True):
        lead_client.post("/admin/feedback/digest/compile/", {"week": "2026-W47"})
        lead_client.post("/admin/feedback/digest/compile/", {"week": "2026-W47"})
        refused = lead_client.post("/admin/feedback/digest/compile/", {"week": "2026-W48"})
        assert "That week has not ended yet" in refused.content.decode()
    assert Digest.objects.get().content["headline"]["new"] == 40


def test_the_digest_downloads_as_a_pdf_and_its_rows_as_csv(lead_client, week_of_data):
    digest = compiled(W47)
    pdf = lead_client.get(f"/admin/feedback/digest/{digest.pk}/pdf/")
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-") and len(pdf.content) > 5000
    rows = b"".join(lead_client.get(f"/admin/feedback/submission/export/csv/?digest={digest.pk}").streaming_content)
    references = {s.reference for s in Submission.objects.filter(membership__digest=digest)}
    assert {row[0] for row in list(csv.reader(io.StringIO(rows.decode("utf-8-sig"))))[1:]} == references


def test_digest_readers_see_digests_without_links_to_personal_data(client, make_staff, week_of_data):
    digest = compiled(W47)
    make_staff("Digest readers", client=client)
    page = client.get(f"/admin/feedback/digest/{digest.pk}/read/")
    assert page.status_code == 200
    assert "/admin/feedback/submission/" not in page.content.decode()


def test_a_digest_compiled_now_records_the_shape_of_its_content():
    from feedback.digest_content import SCHEMA

    digest = compiled(W47)
    assert digest.content["schema"] == SCHEMA


def test_a_digest_stored_before_its_content_had_a_version_is_still_shown_everywhere(lead_client, week_of_data):
    from django.contrib.auth.models import Permission, User
    from django.core import mail

    from feedback import outbox
    from feedback.models import Subscription

    digest = compiled(W47)
    stored = {key: value for key, value in digest.content.items() if key != "schema"}
    Digest.objects.filter(pk=digest.pk).update(content=stored)
    page = lead_client.get(f"/admin/feedback/digest/{digest.pk}/read/")
    assert page.status_code == 200 and f"Digest {digest.number}" in page.content.decode()
    pdf = lead_client.get(f"/admin/feedback/digest/{digest.pk}/pdf/")
    assert pdf.content.startswith(b"%PDF-")
    reader = User.objects.create_user("reader", email="reader@example.nhs.uk", is_staff=True)
    reader.user_permissions.add(Permission.objects.get(codename="view_digest"))
    Subscription.objects.create(user=reader)
    outbox.plan_weekly_emails(digest=Digest.objects.get(pk=digest.pk))
    assert outbox.send()["sent"] == 1
    assert str(stored["headline"]["new"]) in mail.outbox[0].body


def test_a_digest_counts_organisations_apart_from_individuals_and_an_older_one_does_not_guess(
    lead_client, week_of_data
):
    digest = compiled(W47)
    week = Submission.objects.filter(received_at__gte=W47.start, received_at__lt=W47.end)
    organisations = week.filter(on_behalf_of_organisation=True).count()
    page = re.sub(r"<[^>]+>", "", lead_client.get(f"/admin/feedback/digest/{digest.pk}/read/").content.decode())

    older = {**digest.content, "schema": 2}
    older["headline"] = {
        key: value for key, value in older["headline"].items() if key not in ("organisations", "individuals")
    }
    Digest.objects.filter(pk=digest.pk).update(content=older)
    older_page = lead_client.get(f"/admin/feedback/digest/{digest.pk}/read/").content.decode()

    expected = f"{organisations} responses on behalf of an organisation and {week.count() - organisations} from"
    assert expected in " ".join(page.split())
    assert "on behalf of an organisation" not in older_page


def test_the_framework_team_reads_every_proposal_shared_in_full_and_nothing_else(client, make_staff):
    make_staff("Digest readers", client=client)

    def proposal(text: str, *, shared: bool, week: Week = W47, element=Element.NATIONAL_POLICY) -> Submission:
        return SubmissionFactory(
            received_at=at(week, 1),
            name="Priya Shah",
            email="priya.shah@example.nhs.uk",
            consent_to_share=shared,
            consent_to_quote=False,
            views=[{"element": element, "text": text, "example": f"Example for {text}"}],
        )

    shared = [proposal(f"Shared proposal {number}.", shared=True) for number in range(3)]
    proposal("Kept inside the policy team.", shared=False)
    proposal("A view on leadership.", shared=True, element=Element.LEADERSHIP)
    proposal("From another week.", shared=True, week=W46)
    digest = compiled(W47)

    read = client.get(f"/admin/feedback/digest/{digest.pk}/read/").content.decode()
    page = client.get(f"/admin/feedback/digest/{digest.pk}/shared/").content.decode()

    assert digest.content["national_policy"]["shared"] == 3
    assert f'href="/admin/feedback/digest/{digest.pk}/shared/"' in read
    assert all(f"Shared proposal {number}." in page for number in range(3))
    assert all(submission.reference in page for submission in shared)
    assert "Example for Shared proposal 0." in page
    for absent in ("Kept inside the policy team.", "A view on leadership.", "From another week.", "Priya", "priya."):
        assert absent not in page
    assert "/admin/feedback/submission/" not in page, "a digest reader gets no link into the workspace"


def test_a_page_of_proposals_shared_in_full_is_only_for_those_who_may_read_digests(client, make_staff):
    SubmissionFactory(
        received_at=at(W47, 1), consent_to_share=True, views=[{"element": Element.NATIONAL_POLICY, "text": "x"}]
    )
    digest = compiled(W47)
    make_staff("Administrators", client=client)
    assert client.get(f"/admin/feedback/digest/{digest.pk}/shared/").status_code == 403


def test_a_digest_compiled_before_the_fourth_level_keeps_its_three(lead_client, week_of_data):
    digest = compiled(W47)
    assert [level["code"] for level in digest.content["priorities"]] == [level.value for level in Level]
    three = digest.content
    three["priorities"] = [level for level in three["priorities"] if level["code"] != Level.SEVERAL]
    for element in three["elements"]:
        element["levels"] = [level for level in element["levels"] if level["code"] != Level.SEVERAL]
    Digest.objects.filter(pk=digest.pk).update(content=three)

    page = lead_client.get(f"/admin/feedback/digest/{digest.pk}/read/").content.decode()

    assert "Across several local health systems together" not in page
    assert "Regionally, by each of the 10 strategic health authorities" in page
