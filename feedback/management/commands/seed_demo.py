"""
Add realistic demo data: submissions and their views over the last weeks
(some of them copies of template letters), a theme codebook, theme tags that
reviewers confirmed on some of the views, and mail waiting to be sorted. Then,
unless --no-analysis, group the campaigns and train the machine suggestions,
so every analysis page has real numbers to show.

The rows come from feedback.demo, seeded by --seed. PostgreSQL is loaded with
COPY a chunk at a time over two connections; other databases with
bulk_create. A million submissions take about eight minutes on two cores,
most of it PostgreSQL building trigram index entries for the views' text.
"""

import csv
import io
import json
import os
import time
from collections import Counter, deque
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone

from feedback.campaigns import group_new_views
from feedback.demo import THEMES, Generator
from feedback.demo_mail import MailGenerator
from feedback.mail import store
from feedback.models import Campaign, MessageOrigin, NotYetCounted, Source, Submission, Theme, ThemeTag, View, tallies
from feedback.questions import CURRENT_VERSION
from feedback.suggestions import train_and_suggest

COPY_CHUNK = 50_000
BULK_CREATE_CHUNK = 5_000

TAG_COLUMNS = ["view", "theme", "stance", "assigned_by", "confirmed_by", "created_at", "confidence", "model_version"]
CODEBOOK_DESCRIPTIONS = "Views on {name}, a theme under {element}."


class Command(BaseCommand):
    help = (
        "Add realistic demo submissions, views (some copied from template letters), themes, confirmed theme tags "
        "and mail to sort; then group campaigns and train suggestions. Running it again adds more."
    )

    def add_arguments(self, parser):
        parser.add_argument("--submissions", type=int, required=True, help="How many submissions to add.")
        parser.add_argument(
            "--seed", type=int, default=2009, help="The same seed gives the same data, placed relative to now."
        )
        parser.add_argument("--weeks", type=int, default=12, help="Spread over this many ISO weeks up to now.")
        parser.add_argument(
            "--messages",
            type=int,
            default=40,
            help="How many emails to put in the mailbox's sorting queue (some of them automatic mail, ignored).",
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=min(2, os.cpu_count() or 1),
            help="PostgreSQL connections loading chunks side by side (default: up to 2).",
        )
        parser.add_argument(
            "--no-analysis",
            dest="analysis",
            action="store_false",
            help="Leave grouping campaigns and training suggestions to the worker (beat runs both).",
        )

    def handle(
        self,
        *args,
        submissions: int,
        seed: int,
        weeks: int,
        workers: int,
        messages: int,
        analysis: bool = True,
        verbosity: int,
        **options,
    ):
        if submissions < 0 or messages < 0 or weeks < 1 or workers < 1:
            raise CommandError("--submissions and --messages must be 0 or more, --weeks and --workers at least 1.")
        started = time.monotonic()
        staff_ids = (
            list(
                get_user_model()
                .objects.filter(is_staff=True, is_active=True)
                .order_by("pk")
                .values_list("pk", flat=True)[:20]
            )
            or _demo_coders()
        )
        generator = Generator(
            seed=seed, weeks=weeks, now=timezone.now(), staff_ids=staff_ids, theme_ids=self._codebook()
        )
        writer = CopyWriter() if connection.vendor == "postgresql" else BulkWriter()
        # Building a GIN trigram index entry for each view's text is most of the cost, and one
        # PostgreSQL backend does it on one core: more connections use the others. Inside a
        # transaction (a test) other connections could not see its rows, so it loads alone.
        if connection.vendor != "postgresql" or connection.in_atomic_block:
            workers = 1
        totals = {"submissions": 0, "views": 0, "tags": 0}
        references: set[str] = set()

        def done(counts: tuple[int, int, int]) -> None:
            for key, count in zip(totals, counts, strict=True):
                totals[key] += count
            if verbosity >= 2 or (verbosity and submissions > writer.chunk_size):
                rate = totals["submissions"] / (time.monotonic() - started)
                self.stdout.write(f"  {totals['submissions']:,} of {submissions:,} submissions ({rate:,.0f} a second)")

        with ThreadPoolExecutor(max_workers=workers) as pool:
            in_flight: deque[Future] = deque()
            made = 0
            while made < submissions:
                size = min(writer.chunk_size, submissions - made)
                rows, views, tags = generator.chunk(size)
                _unique_identifiers(generator, rows, references)
                made += size
                if workers == 1:
                    done(_load(writer, rows, views, tags, close=False))
                    continue
                in_flight.append(pool.submit(_load, writer, rows, views, tags, close=True))
                # The next chunk is generated while these load; no more than this many wait in memory.
                while len(in_flight) >= workers:
                    done(in_flight.popleft().result())
            while in_flight:
                done(in_flight.popleft().result())

        seconds = time.monotonic() - started
        rate = totals["submissions"] / seconds if seconds else 0
        if verbosity:
            self.stdout.write(
                f"Added {totals['submissions']:,} submissions, {totals['views']:,} views and {totals['tags']:,} "
                f"theme tags in {seconds:.1f} seconds ({rate:,.0f} submissions a second)."
            )
        # Mail waiting to be sorted, as the mailbox would have it (stored once: the same seed adds no copies).
        mail = MailGenerator(seed=seed, weeks=weeks, now=timezone.now())
        stored = sum(store(raw, origin=MessageOrigin.MAILBOX, arrived_at=at)[1] for raw, at in mail.messages(messages))
        if verbosity and messages:
            self.stdout.write(f"Added {stored:,} emails to the mailbox's sorting queue.")
        if analysis:
            group_new_views()
            if verbosity:
                self.stdout.write(f"Grouped near-identical views: {Campaign.objects.count():,} campaign(s) in all.")
            trained = train_and_suggest()
            if verbosity:
                models = sum(1 for outcome in trained.values() if outcome.get("model"))
                self.stdout.write(f"Trained {models} suggestion model(s) on the confirmed tags.")

    def _codebook(self) -> dict:
        """The demo theme codebook, made once and reused by later runs."""
        themes = {}
        for element, names in THEMES.items():
            for name in names:
                theme, _ = Theme.objects.get_or_create(
                    element=element,
                    name=name,
                    defaults={"description": CODEBOOK_DESCRIPTIONS.format(name=name.lower(), element=element.label)},
                )
                themes[element, name] = theme.pk
        return themes


def _demo_coders() -> list[int]:
    """
    Without staff accounts, the demo's tags are confirmed by three reviewers
    who cannot sign in (no usable password, not active, not staff).
    """
    coders = []
    for number in range(1, 4):
        user, created = get_user_model().objects.get_or_create(
            username=f"demo.reviewer.{number}",
            defaults={"first_name": "Demo", "last_name": f"Reviewer {number}", "is_active": False},
        )
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        coders.append(user.pk)
    return coders


def _load(writer, rows: list[dict], views: list[tuple], tags: list[tuple], *, close: bool) -> tuple[int, int, int]:
    """One chunk in one transaction. In a worker thread the connection is that thread's own, so it closes it."""
    try:
        with transaction.atomic():
            writer.write(rows, views, tags)
            # Last, so a parallel chunk waits on the shared tally rows only while this one commits.
            mondays = [tallies.monday_of(row["received_at"]) for row in rows]
            tallies.add(
                submissions=Counter((monday, row["status"]) for monday, row in zip(mondays, rows, strict=True)),
                views=Counter((mondays[index], element, level) for index, _, element, level, _ in views),
            )
    finally:
        if close:
            connection.close()
    return len(rows), len(views), len(tags)


def _unique_identifiers(generator: Generator, rows: list[dict], references: set[str]) -> None:
    """
    Draw references and tokens until none is taken: by an earlier chunk of
    this run (which may not have committed yet) or in the database (earlier
    runs, which with the same seed drew the same ones).
    """
    for key, draw, drawn in (("reference", generator.reference, references), ("token", generator.token, set())):
        pending = list(range(len(rows)))
        while pending:
            for index in pending:
                rows[index][key] = draw()
            taken = _existing(key, [rows[index][key] for index in pending])
            retry = []
            for index in pending:
                value = rows[index][key]
                if value in taken or value in drawn:
                    retry.append(index)
                else:
                    drawn.add(value)
            pending = retry


def _existing(field: str, values: list) -> set:
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(Submission._meta.db_table)
        column = connection.ops.quote_name(field)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {column} FROM {table} WHERE {column} = ANY(%s)", [values])  # noqa: S608
            return {row[0] for row in cursor.fetchall()}
    taken = set()
    for start in range(0, len(values), 10_000):
        batch = values[start : start + 10_000]
        taken.update(Submission.objects.filter(**{f"{field}__in": batch}).values_list(field, flat=True))
    return taken


SUBMISSION_FIELDS = [
    "reference",
    "token",
    "received_at",
    "created_at",
    "source",
    "status",
    "name",
    "email",
    "role",
    "organisation",
    "organisation_type",
    "region",
    "principles",
    "consent_to_quote",
    "consent_to_contact",
    "consent_to_share",
    "on_behalf_of_organisation",
]


def _question_version(row: dict) -> int | None:
    """Demo views from the form answered today's questions; mail and spreadsheets answered none."""
    return CURRENT_VERSION if row["source"] == Source.WEB else None


class BulkWriter:
    """Any database: the ORM's bulk_create, which sets the primary keys on SQLite and PostgreSQL."""

    chunk_size = BULK_CREATE_CHUNK

    def write(self, rows: list[dict], views: list[tuple], tags: list[tuple]) -> None:
        made = Submission.objects.bulk_create(
            [Submission(**{**row, "principles": json.loads(row["principles"])}) for row in rows], batch_size=1000
        )
        NotYetCounted.objects.bulk_create(
            [NotYetCounted(submission=submission, received_at=submission.received_at) for submission in made],
            batch_size=1000,
        )
        made_views = View.objects.bulk_create(
            [
                View(
                    submission_id=made[index].pk,
                    position=position,
                    element=element,
                    level=level,
                    text=text,
                    question_version=_question_version(rows[index]),
                )
                for index, position, element, level, text in views
            ],
            batch_size=1000,
        )
        ThemeTag.objects.bulk_create(
            [
                ThemeTag(view_id=made_views[index].pk, theme_id=theme, stance=stance, assigned_by_id=by)
                for index, theme, stance, by, _ in tags
            ],
            batch_size=1000,
        )
        # created_at is auto_now_add, so bulk_create stamps it now; the demo spreads it like received_at.
        for row, submission in zip(rows, made, strict=True):
            submission.created_at = row["created_at"]
        Submission.objects.bulk_update(made, ["created_at"], batch_size=1000)


class CopyWriter:
    """PostgreSQL: ids reserved from the sequences, then rows streamed in with COPY, a chunk at a time."""

    chunk_size = COPY_CHUNK

    def write(self, rows: list[dict], views: list[tuple], tags: list[tuple]) -> None:
        with connection.cursor() as cursor:
            submission_ids = _next_ids(cursor, Submission, len(rows))
            view_ids = _next_ids(cursor, View, len(views))
            self._copy(
                cursor,
                Submission,
                ["id", *SUBMISSION_FIELDS],
                (
                    [pk, *(_csv(row[field]) for field in SUBMISSION_FIELDS)]
                    for pk, row in zip(submission_ids, rows, strict=True)
                ),
            )
            self._copy(
                cursor,
                NotYetCounted,
                ["submission", "received_at"],
                ((pk, _csv(row["received_at"])) for pk, row in zip(submission_ids, rows, strict=True)),
            )
            self._copy(
                cursor,
                View,
                ["id", "submission", "position", "element", "level", "text", "example", "question_version"],
                (
                    (
                        pk,
                        submission_ids[index],
                        position,
                        element,
                        level,
                        text,
                        "",
                        _csv(_question_version(rows[index])),
                    )
                    for pk, (index, position, element, level, text) in zip(view_ids, views, strict=True)
                    for row in [rows[index]]
                ),
            )
            self._copy(
                cursor,
                ThemeTag,
                TAG_COLUMNS,
                (
                    (view_ids[index], theme, stance, _csv(by), NULL, created_at.isoformat(), NULL, "")
                    for index, theme, stance, by, created_at in tags
                ),
            )

    def _copy(self, cursor, model, fields: list[str], rows) -> None:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(rows)
        buffer.seek(0)
        quote = connection.ops.quote_name
        columns = ", ".join(quote(model._meta.get_field(field).column) for field in fields)
        sql = f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN WITH (FORMAT csv, NULL '{NULL}')"
        raw = cursor.cursor
        if hasattr(raw, "copy_expert"):
            raw.copy_expert(sql, buffer)
        else:
            with raw.copy(sql) as copy:
                copy.write(buffer.getvalue())


NULL = r"\N"


def _csv(value) -> str | int:
    if value is None:
        return NULL
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _next_ids(cursor, model, count: int) -> list[int]:
    if not count:
        return []
    cursor.execute(
        "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
        [model._meta.db_table, model._meta.pk.column, count],
    )
    return [row[0] for row in cursor.fetchall()]
