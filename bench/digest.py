"""
The digest measure: compiling last week's digest through feedback.digests,
against the same work written by hand as SQL (moving the week's rows to the
digest's memberships, reading its submissions and views once into a
temporary table, then every aggregate the digest holds, by GROUP BY over it)
with the national policy section's grouping by words as a direct
scikit-learn call, at each database size. Both run inside a transaction that
is rolled back, so every round compiles the same week from scratch. Peak
Python memory of the compile is reported per size: it must not grow with the
number of submissions.
"""

import tracemalloc

from harness import Result, alternate, at_most, median

# The same work as feedback.digests, by hand: move the week's rows and any
# late ones for weeks already compiled from the not-yet-counted table to the
# digest's memberships; read the digest's submissions and views once into a
# temporary table, and work out every aggregate from it with GROUP BY.
COMPILED_WEEKS = "SELECT period_start, period_end FROM feedback_digest WHERE status IN ('ready', 'approved')"
MARK = """WITH taken AS (DELETE FROM feedback_notyetcounted WHERE {ranges} RETURNING submission_id)
INSERT INTO feedback_digestmembership (submission_id, digest_id) SELECT submission_id, %(digest)s FROM taken"""
COUNTED = """CREATE TEMPORARY TABLE counted ON COMMIT DROP AS
    SELECT s.id AS submission_id, s.received_at, s.consent_to_quote, s.region, s.organisation_type, s.role,
           v.id AS view_id, v.element, v.level
      FROM feedback_digestmembership m JOIN feedback_submission s ON s.id = m.submission_id
      LEFT JOIN feedback_view v ON v.submission_id = s.id
     WHERE m.digest_id = %(digest)s"""
CONFIRMED = "(t.assigned_by_id IS NOT NULL OR t.confirmed_by_id IS NOT NULL)"
AGGREGATES = [
    """SELECT count(DISTINCT submission_id), count(DISTINCT submission_id) FILTER (WHERE received_at >= %(start)s),
              count(DISTINCT submission_id) FILTER (WHERE consent_to_quote)
         FROM counted""",
    """SELECT date_trunc('week', received_at AT TIME ZONE 'Europe/London'), count(DISTINCT submission_id)
         FROM counted WHERE received_at < %(start)s GROUP BY 1""",
    """SELECT count(*) FROM feedback_digestmembership m JOIN feedback_digest d ON d.id = m.digest_id
        WHERE d.number IS NOT NULL""",
    """SELECT element, level, count(DISTINCT submission_id), count(*) FROM counted WHERE view_id IS NOT NULL
        GROUP BY GROUPING SETS ((element), (element, level))""",
    """SELECT region, organisation_type, role, count(DISTINCT submission_id) FROM counted
        GROUP BY GROUPING SETS ((region), (organisation_type), (role))""",
    f"""SELECT c.element, t.theme_id, th.name, count(DISTINCT c.submission_id),
              count(DISTINCT c.submission_id) FILTER (WHERE t.stance = 'supports'),
              count(DISTINCT c.submission_id) FILTER (WHERE t.stance = 'opposes'),
              count(DISTINCT c.submission_id) FILTER (WHERE t.stance = 'mixed')
         FROM counted c JOIN feedback_themetag t ON t.view_id = c.view_id JOIN feedback_theme th ON th.id = t.theme_id
        WHERE {CONFIRMED} GROUP BY 1, 2, 3 ORDER BY 1, 4 DESC, 3""",
    """SELECT c.element, f.campaign_id, count(*), min(ca.size), min(ca.first_view_id)
         FROM counted c JOIN feedback_viewfingerprint f ON f.view_id = c.view_id
         JOIN feedback_campaign ca ON ca.id = f.campaign_id GROUP BY 1, 2 ORDER BY 1, 3 DESC, 2""",
]
# The earliest quotable view of each element and theme, and each element's three earliest.
QUOTE_CHOICES = [
    f"""SELECT DISTINCT ON (c.element, t.theme_id) c.element, t.theme_id, c.view_id
         FROM counted c JOIN feedback_themetag t ON t.view_id = c.view_id
        WHERE c.consent_to_quote AND {CONFIRMED} ORDER BY c.element, t.theme_id, c.received_at, c.view_id""",
    """SELECT element, view_id FROM (
         SELECT element, view_id, row_number() OVER (PARTITION BY element ORDER BY received_at, view_id) AS n
           FROM counted WHERE consent_to_quote AND view_id IS NOT NULL) earliest
        WHERE n <= 3""",
]
QUOTES = """SELECT v.id, v.text, s.role, s.organisation_type, s.region FROM feedback_view v
    JOIN feedback_submission s ON s.id = v.submission_id WHERE v.id = ANY(%s)"""
NATIONAL_POLICY = [
    """SELECT c.view_id, v.text, c.submission_id, c.consent_to_quote FROM counted c
         JOIN feedback_view v ON v.id = c.view_id WHERE c.element = 'national_policy' ORDER BY 1""",
    f"""SELECT t.view_id, t.theme_id, t.stance FROM counted c JOIN feedback_themetag t ON t.view_id = c.view_id
        WHERE c.element = 'national_policy' AND {CONFIRMED}""",
]


class Rollback(Exception):
    pass


def _in_rolled_back_transaction(work) -> None:
    from django.db import transaction

    try:
        with transaction.atomic():
            work()
            raise Rollback
    except Rollback:
        pass


def raw_sql_compile(week) -> None:
    from django.db import connection

    from feedback.models import Digest

    digest = Digest.objects.create(period_start=week.start, period_end=week.end, status="compiling")
    params = {"digest": digest.pk, "start": week.start, "end": week.end}
    with connection.cursor() as cursor:
        cursor.execute(COMPILED_WEEKS)
        weeks = [(week.start, week.end), *cursor.fetchall()]
        ranges = " OR ".join(f"(received_at >= %(s{n})s AND received_at < %(e{n})s)" for n in range(len(weeks)))
        for n, (start, end) in enumerate(weeks):
            params[f"s{n}"], params[f"e{n}"] = start, end
        cursor.execute(MARK.format(ranges=ranges), params)
        cursor.execute(COUNTED, params)
        for statement in AGGREGATES:
            cursor.execute(statement, params)
            cursor.fetchall()
        quoted = []
        for statement in QUOTE_CHOICES:
            cursor.execute(statement, params)
            quoted += [view for *_, view in cursor.fetchall()]
        cursor.execute(QUOTES, [quoted])
        cursor.fetchall()
        cursor.execute(NATIONAL_POLICY[0], params)
        group_by_words([text for _, text, *_ in cursor.fetchall()])
        cursor.execute(NATIONAL_POLICY[1], params)
        cursor.fetchall()


def group_by_words(texts: list[str]) -> None:
    """The national policy section's grouping, as scikit-learn does it when called directly."""
    from sklearn.cluster import MiniBatchKMeans
    from sklearn.feature_extraction.text import TfidfVectorizer
    from threadpoolctl import threadpool_limits

    from feedback.digests import NATIONAL_POLICY_CLUSTERS

    if len(texts) < 2:
        return
    matrix = TfidfVectorizer(stop_words="english", sublinear_tf=True, max_df=0.6, max_features=20_000).fit_transform(
        texts
    )
    count = max(2, min(NATIONAL_POLICY_CLUSTERS, round((len(texts) / 30) ** 0.5)))
    with threadpool_limits(limits=1):
        MiniBatchKMeans(n_clusters=count, random_state=2010, n_init=3, batch_size=2048).fit(matrix)


def portal_compile(week) -> None:
    from feedback import digests

    digest = digests.compile_digest(week=week)
    assert digest.status == "ready", digest.last_error


def peak_memory(week) -> int:
    """Peak Python memory, in bytes, while the portal compiles the week."""
    tracemalloc.start()
    try:
        _in_rolled_back_transaction(lambda: portal_compile(week))
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def measure(*, size: int, rounds: int) -> tuple[Result, int, int]:
    from django.db import connection

    from feedback import digests
    from feedback.models import Submission

    week = digests.last_complete_week()
    rows = Submission.objects.filter(received_at__gte=week.start, received_at__lt=week.end).count()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    # One untimed run of each warms the caches the timed ones share.
    _in_rolled_back_transaction(lambda: raw_sql_compile(week))
    _in_rolled_back_transaction(lambda: portal_compile(week))
    ceilings, portals = alternate(
        rounds,
        lambda: _in_rolled_back_transaction(lambda: raw_sql_compile(week)),
        lambda: _in_rolled_back_transaction(lambda: portal_compile(week)),
    )
    ceiling, portal = median(ceilings), median(portals)
    memory = peak_memory(week)
    result = at_most(
        1.25,
        measure=f"digest compile, last week, {size:,} submissions",
        unit="s",
        ceiling=ceiling,
        portal=portal,
        notes={
            "week": f"{week} ({rows:,} submissions)",
            "rounds (ceiling, portal)": f"{[round(c, 4) for c in ceilings]}, {[round(p, 4) for p in portals]}",
            "peak Python memory of a compile": f"{memory / 1024:,.0f} KiB",
        },
    )
    if size >= 1_000_000:
        # At a million, the compile must also take under a second.
        result.target += ", < 1 s"
        result.passed = result.passed and portal < 1
    return result, memory, rows


def memory_per_row(memories: dict[int, int], week_rows: dict[int, int]) -> Result:
    """
    A digest holds the week's national policy proposals in full, so its memory
    follows the size of the week compiled; what must not grow is the memory
    for each of those rows as the table grows around them.
    """
    smallest, largest = min(memories), max(memories)
    per_row = {size: memories[size] / max(week_rows[size], 1) for size in (smallest, largest)}
    ratio = per_row[largest] / per_row[smallest]
    return Result(
        measure=f"digest peak memory a week's row, {largest:,} vs {smallest:,}",
        unit="B",
        ceiling=per_row[smallest],
        portal=per_row[largest],
        target="<= 1.5x",
        ratio=ratio,
        passed=ratio <= 1.5,
        notes={
            "peak KiB (weeks of rows)": f"{memories[smallest] / 1024:,.0f} ({week_rows[smallest]:,}), "
            f"{memories[largest] / 1024:,.0f} ({week_rows[largest]:,})"
        },
    )
