"""After the call closes: the final digest of the whole call, and what was decided on each theme."""

import csv
import datetime
import io
import zoneinfo

import pytest
import time_machine

from feedback import changes, digests, tasks
from feedback.models import (
    AuditAction,
    AuditEvent,
    CallWindow,
    Decision,
    Digest,
    DigestKind,
    DigestStatus,
    Element,
    Submission,
    Theme,
    ThemeDecision,
    ThemeTag,
    View,
)
from feedback.periods import Week

from .factories import SubmissionFactory

pytestmark = pytest.mark.django_db

LONDON = zoneinfo.ZoneInfo("Europe/London")
W45, W46, W47, W48 = (Week.parse(f"2026-W{n}") for n in (45, 46, 47, 48))
OPENS = W45.start + datetime.timedelta(hours=9)
CLOSES = W47.start + datetime.timedelta(days=4, hours=17)  # Friday of W47, 5pm
SATURDAY_AFTER = W47.start + datetime.timedelta(days=5, hours=10)
MONDAY_AFTER = W48.start + datetime.timedelta(hours=9)


@pytest.fixture
def call(django_user_model):
    """A call open for three weeks, with views each week; a theme that grows and one that appears late."""
    window = CallWindow(pk=1, opens_at=OPENS, closes_at=CLOSES)
    window.save()
    reviewer = django_user_model.objects.create_user("tagger", is_staff=True)
    boards = Theme.objects.create(element=Element.LEADERSHIP, name="Boards back clinical leaders")
    signals = Theme.objects.create(element=Element.LEADERSHIP, name="Mixed signals from the centre")
    made = {}
    for week, count in ((W45, 2), (W46, 3), (W47, 4)):
        made[week.label] = []
        for number in range(count):
            submission = SubmissionFactory(
                received_at=week.start + datetime.timedelta(days=1, hours=number),
                on_behalf_of_organisation=number == 0,
                consent_to_quote=True,
                views=[{"element": Element.LEADERSHIP, "text": f"Leadership in {week.label}, number {number}."}],
            )
            view = submission.views.get()
            ThemeTag.objects.create(view=view, theme=boards, assigned_by=reviewer)
            if week == W47:
                ThemeTag.objects.create(view=view, theme=signals, assigned_by=reviewer)
            made[week.label].append(submission)
    return {"window": window, "boards": boards, "signals": signals, "made": made}


def final_digest() -> Digest | None:
    with time_machine.travel(MONDAY_AFTER):
        return digests.compile_final_digest()


def test_there_is_no_final_digest_while_the_call_is_open_or_its_last_week_goes_on(call):
    with time_machine.travel(CLOSES - datetime.timedelta(hours=1)):
        assert digests.compile_final_digest() is None
    with time_machine.travel(SATURDAY_AFTER):
        assert digests.compile_final_digest() is None
        assert tasks.compile_final_digest_task() == "the call has not closed, or its last week has not ended"
    assert not Digest.objects.filter(kind=DigestKind.FINAL).exists()


def test_a_call_with_no_closing_time_has_no_final_digest():
    with time_machine.travel(MONDAY_AFTER):
        assert digests.compile_final_digest() is None


def test_the_final_digest_compiles_every_week_of_the_call_first_then_itself_once(call):
    final = final_digest()
    again = final_digest()

    weekly = list(Digest.objects.filter(kind=DigestKind.WEEKLY).order_by("period_start"))
    assert [digest.content["period"]["label"] for digest in weekly] == ["2026-W45", "2026-W46", "2026-W47"]
    assert final.status == DigestStatus.READY and final.number == 4
    assert again.pk == final.pk and Digest.objects.filter(kind=DigestKind.FINAL).count() == 1
    assert str(final) == "Final digest 4 (the whole call)"
    assert final.content["period"]["label"] == "the whole call, 2026-W45 to 2026-W47"


def test_the_final_digests_figures_equal_direct_counts_and_the_weekly_digests_new_submissions(call):
    with time_machine.travel(W46.end + datetime.timedelta(hours=2)):
        digests.compile_digest(week=W45)
        digests.compile_digest(week=W46)
    changes.withdraw(call["made"]["2026-W45"][1])

    final = final_digest()

    headline = final.content["headline"]
    standing = Submission.objects.filter(received_at__lt=CLOSES).exclude(status="withdrawn")
    weekly_new = sum(d.content["headline"]["new"] for d in Digest.objects.filter(kind=DigestKind.WEEKLY))
    assert headline["new"] == standing.count() == 8
    assert weekly_new == 9 == headline["new"] + final.content["call"]["withdrawn"]
    assert final.content["call"] == {"weekly_digests": 3, "weekly_new": 9, "withdrawn": 1, "after_close": 0}
    assert headline["organisations"] == standing.filter(on_behalf_of_organisation=True).count() == 3
    assert headline["individuals"] == 5
    (leadership,) = [e for e in final.content["elements"] if e["code"] == Element.LEADERSHIP]
    assert leadership["submissions"] == View.objects.filter(submission__in=standing).count() == 8
    assert [w["new"] for w in final.content["weeks"]] == [2, 3, 4]
    assert set(final.counted()) == set(standing)


def test_each_theme_shows_the_week_it_first_appeared_and_its_submissions_week_by_week(call):
    final = final_digest()

    (leadership,) = [e for e in final.content["elements"] if e["code"] == Element.LEADERSHIP]
    themes = {theme["name"]: theme for theme in leadership["themes"]}
    assert themes["Boards back clinical leaders"]["trend"] == [2, 3, 4]
    assert themes["Boards back clinical leaders"]["first_week"] == "2026-W45"
    assert themes["Mixed signals from the centre"]["trend"] == [0, 0, 4]
    assert themes["Mixed signals from the centre"]["first_week"] == "2026-W47"
    assert leadership["trend"] == [2, 3, 4]


def test_a_weekly_digest_after_the_final_one_is_not_confused_by_it(call):
    final_digest()
    late_mail = SubmissionFactory(received_at=W48.start + datetime.timedelta(days=1))

    with time_machine.travel(W48.end + datetime.timedelta(hours=1)):
        w48 = digests.compile_digest(week=W48)

    assert w48.content["headline"]["new"] == 1 and w48.content["headline"]["late"] == 0
    assert w48.content["period"]["label"] == "2026-W48"
    assert late_mail.digest == w48


def test_the_final_digest_cannot_be_approved_while_a_large_theme_has_no_decision(call, settings, django_user_model):
    settings.QIPP_DECIDE_THEMES_ABOVE = 3
    lead = django_user_model.objects.create_user("lead", is_staff=True)
    final = final_digest()

    undecided = final.undecided_themes()
    assert [theme["name"] for theme in undecided] == ["Boards back clinical leaders", "Mixed signals from the centre"]
    assert not final.approve(by=lead)

    ThemeDecision.objects.create(theme=call["boards"], decision=Decision.ADOPTED, reason="Boards will report it.")
    assert not final.approve(by=lead)
    ThemeDecision.objects.create(theme=call["signals"], decision=Decision.OUT_OF_SCOPE, reason="Not ours to set.")
    assert final.approve(by=lead)
    final.refresh_from_db()
    assert final.status == DigestStatus.APPROVED


def test_a_theme_at_or_below_the_threshold_needs_no_decision(call, settings, django_user_model):
    settings.QIPP_DECIDE_THEMES_ABOVE = 9
    final = final_digest()
    assert final.undecided_themes() == []
    assert final.approve(by=django_user_model.objects.create_user("lead", is_staff=True))


def test_a_lead_reads_the_final_digest_records_a_decision_from_it_and_then_approves(
    call, client, make_staff, settings
):
    settings.QIPP_DECIDE_THEMES_ABOVE = 3
    lead = make_staff("Policy leads", client=client)
    final = final_digest()
    address = f"/admin/feedback/digest/{final.pk}/read/"

    page = client.get(address).content.decode()
    refused = client.post(address, {"approve": "1"}, follow=True).content.decode()
    for theme in (call["boards"], call["signals"]):
        saved = client.post(
            f"/admin/feedback/themedecision/add/?theme={theme.pk}",
            {
                "theme": theme.pk,
                "decision": Decision.PARTLY,
                "reason": "Part of it is in the framework.",
                "framework_section": "Section 3",
            },
        )
        assert saved.status_code == 302, saved.content.decode()[:3000]
    approved = client.post(address, {"approve": "1"}, follow=True).content.decode()

    assert "Decisions needed before approval" in page and "Week by week" in page and "First seen" in page
    assert f"/admin/feedback/themedecision/add/?theme={call['boards'].pk}" in page
    assert "cannot be approved yet" in refused
    assert ThemeDecision.objects.get(theme=call["boards"]).decided_by == lead
    assert AuditEvent.objects.filter(action=AuditAction.THEME_DECIDED).count() == 2
    assert "approved" in approved
    assert Digest.objects.get(pk=final.pk).status == DigestStatus.APPROVED
    pdf = client.get(f"/admin/feedback/digest/{final.pk}/pdf/")
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf["Content-Disposition"] == 'attachment; filename="qipp-final-digest.pdf"'

    listed = client.get(f"/admin/feedback/submission/?digest={final.pk}").content.decode()
    assert all(s.reference in listed for week in call["made"].values() for s in week)
    exported = client.get(f"/admin/feedback/submission/export/csv/?digest={final.pk}")
    rows = list(csv.reader(io.StringIO(b"".join(exported.streaming_content).decode("utf-8-sig"))))[1:]
    assert len({row[0] for row in rows}) == final.content["headline"]["new"] == 9


def test_a_reviewer_reads_decisions_but_cannot_record_one(call, client, make_staff):
    make_staff("Policy reviewers", client=client)
    assert client.get("/admin/feedback/themedecision/").status_code == 200
    assert client.get("/admin/feedback/themedecision/add/").status_code == 403
    assert (
        client.post(
            "/admin/feedback/themedecision/add/",
            {"theme": call["boards"].pk, "decision": Decision.ADOPTED, "reason": "Mine."},
        ).status_code
        == 403
    )
    assert not ThemeDecision.objects.exists()


def test_a_failed_final_digest_is_compiled_again_as_the_final_one(call, client, make_staff, monkeypatch):
    real = digests.build_content
    monkeypatch.setattr(digests, "build_content", lambda digest: 1 / 0 if digest.is_final else real(digest))
    final = final_digest()
    assert final.status == DigestStatus.FAILED and "ZeroDivisionError" in final.last_error
    monkeypatch.undo()
    rung = []
    monkeypatch.setattr("feedback.doorbell.ring_on_commit", lambda name, *args: rung.append((name, args)))
    make_staff("Policy leads", client=client)

    client.post("/admin/feedback/digest/", {"action": "retry", "_selected_action": [final.pk]})

    assert rung == [("feedback.tasks.compile_final_digest_task", ())]
    assert Digest.objects.get(pk=final.pk).attempts == 0
    assert final_digest().status == DigestStatus.READY


def test_a_large_theme_merged_after_the_compile_is_decided_with_the_theme_it_became(call, settings, django_user_model):
    settings.QIPP_DECIDE_THEMES_ABOVE = 3
    lead = django_user_model.objects.create_user("lead", is_staff=True)
    final = final_digest()
    call["signals"].merge_into(call["boards"], by=lead)
    ThemeDecision.objects.create(theme=call["boards"], decision=Decision.ADOPTED, reason="Boards will report it.")

    assert final.undecided_themes() == []
    assert final.approve(by=lead)


def test_a_weekly_digest_compiled_after_the_final_one_does_not_change_its_rows(call):
    final = final_digest()
    before = set(final.counted().values_list("pk", flat=True))
    # Mail received before the close, sorted after the final digest: counted late by the next weekly digest.
    SubmissionFactory(received_at=CLOSES - datetime.timedelta(hours=2))
    with time_machine.travel(W48.end + datetime.timedelta(hours=1)):
        digests.compile_digest(week=W48)
    final.refresh_from_db()
    assert set(final.counted().values_list("pk", flat=True)) == before
