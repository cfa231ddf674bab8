"""Submissions, their views and the policy team's notes on them."""

import secrets
import uuid
from collections import Counter
from datetime import datetime

from django.contrib.postgres.search import SearchVectorField
from django.db import IntegrityError, models, transaction
from django.db.models import Q
from django.utils import timezone

from . import tallies
from .choices import Element, Level, OrganisationType, Region, Role, Source, Status
from .digests import DigestMembership, NotYetCounted

# Reference numbers are read aloud over the phone and typed from a screen, so
# the alphabet leaves out characters that look alike (0/O, 1/I/L) or sound
# alike when spelt out (B/D/E/G/P/T/V/Z all rhyme with C; A/J/K; M/N; F/S/X;
# Q/U). 16 symbols, 9 of them: about 6.9e10 references, so they cannot be
# guessed from one another and are not the database id.
REFERENCE_ALPHABET = "23456789CFHKMRWY"
REFERENCE_LENGTH = 9


def new_reference() -> str:
    """A random reference such as ``K7M-29F-HWC``."""
    symbols = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH))
    return "-".join(symbols[i : i + 3] for i in range(0, REFERENCE_LENGTH, 3))


def normalise_reference(text: str) -> str:
    """Accept a reference as people type it: any case, spaces or no dashes."""
    symbols = "".join(ch for ch in text.upper() if ch.isalnum())
    return "-".join(symbols[i : i + 3] for i in range(0, len(symbols), 3))


class SubmissionQuerySet(models.QuerySet):
    def received_between(self, start: datetime, end: datetime) -> "SubmissionQuerySet":
        """Submissions received in [start, end): a digest period."""
        return self.filter(received_at__gte=start, received_at__lt=end)

    def set_status(self, to: Status, *, by, ip: str | None = None) -> int:
        """Give each submission the triage status `to`, each change recorded. Returns how many changed."""
        return sum(
            submission.set_status(to, by=by, ip=ip)
            for submission in self.exclude(status__in=[to, Status.WITHDRAWN]).only(
                "pk", "reference", "status", "received_at"
            )
        )


class SubmissionManager(models.Manager.from_queryset(SubmissionQuerySet)):
    def record(self, *, token: uuid.UUID, views: list[dict], **fields) -> tuple["Submission", bool]:
        """
        Save a submission and its views in one transaction, once per token.

        Returns (submission, created). A token that was already used (a double
        click, a resubmission after a network error) returns the submission it
        made, so the respondent sees the same receipt. The submission is
        written with what counts it: its row in `NotYetCounted` (the next
        digest takes it from there) and the dashboard's tallies.
        """
        if not views:
            raise ValueError("A submission needs at least one view.")
        reference = fields.pop("reference", None)
        for _ in range(5):
            try:
                with transaction.atomic():
                    submission = self.create(token=token, reference=reference or new_reference(), **fields)
                    NotYetCounted.objects.create(submission=submission, received_at=submission.received_at)
                    made = View.objects.bulk_create(
                        View(submission=submission, position=position, **view)
                        for position, view in enumerate(views, start=1)
                    )
                    monday = tallies.monday_of(submission.received_at)
                    tallies.add(
                        submissions=Counter({(monday, submission.status): 1}),
                        views=Counter((monday, view.element, view.level) for view in made),
                    )
                    return submission, True
            except IntegrityError:
                # Either the token was used already, by this request's twin or
                # long ago (return its submission: the unique index decides, so
                # no lookup comes first), or the reference collided (try another).
                existing = self.filter(token=token).first()
                if existing:
                    return existing, False
        raise RuntimeError("Could not find a free reference number.")


class Submission(models.Model):
    """One respondent's submission: who they are, their consents, and one or more views."""

    reference = models.CharField(max_length=11, unique=True, editable=False)
    # The one-time token carried by the form: a resubmission with the same
    # token returns this submission instead of creating another.
    token = models.UUIDField(unique=True, default=uuid.uuid4, editable=False)
    # Decides which weekly digest the submission belongs to. For mail and
    # imports it is when the view arrived in the mailbox, which can be long
    # before the row was created.
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    source = models.CharField(max_length=10, choices=Source, default=Source.WEB)
    status = models.CharField(max_length=10, choices=Status, default=Status.NEW)

    # About the respondent. Name and email are optional: responses may be anonymous.
    name = models.CharField(max_length=200, blank=True)
    email = models.EmailField(max_length=254, blank=True)
    role = models.CharField(max_length=20, choices=Role)
    organisation = models.CharField(max_length=200, blank=True)
    organisation_type = models.CharField(max_length=30, choices=OrganisationType)
    region = models.CharField(max_length=20, choices=Region)
    principles = models.JSONField(default=list, blank=True, help_text="Working principles the respondent tagged.")
    consent_to_quote = models.BooleanField("may be quoted anonymously", default=False)
    consent_to_contact = models.BooleanField("may be contacted", default=False)
    # Distinct from being quoted: the operating framework's team may read the view in full, inside the department.
    consent_to_share = models.BooleanField("may be shared in full with the operating framework team", default=False)
    on_behalf_of_organisation = models.BooleanField("responds on behalf of their organisation", default=False)
    # Set when the respondent withdrew it (status "withdrawn"): what is left is a tombstone (feedback.changes).
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    # Which digest counted it: `DigestMembership` (`membership`), written by
    # the compile from `NotYetCounted`, so compiling never rewrites this table.

    objects = SubmissionManager()

    class Meta:
        ordering = ["-received_at"]
        indexes = [
            # Triage by status, newest first (the dashboard's unread list, the status filter).
            models.Index(fields=["status", "-received_at"], name="submission_status_received"),
            # The few withdrawn, for the next digest's "withdrawn since the last digest".
            models.Index(
                fields=["withdrawn_at"], condition=Q(withdrawn_at__isnull=False), name="submission_withdrawn"
            ),
        ]
        permissions = [
            ("view_personal_details", "Can see respondents' names and email addresses"),
            ("export_submissions", "Can export submissions"),
            ("view_dashboard", "Can see aggregate figures"),
            ("import_submissions", "Can import responses from a spreadsheet"),
        ]

    def __str__(self) -> str:
        return self.reference

    def set_status(self, to: Status, *, by, ip: str | None = None) -> bool:
        """
        Change the triage status, with an audit entry saying from what, to what
        and by whom. A conditional update: of two people changing it at once,
        one change is made and recorded. False if nothing changed, and always
        for a withdrawn submission: only its respondent withdraws one, and
        that is for good (feedback.changes.withdraw).
        """
        from .audit import AuditAction, AuditEvent

        previous = self.status
        if previous == to or Status.WITHDRAWN in (previous, to):
            return False
        with transaction.atomic():
            changed = Submission.objects.filter(pk=self.pk, status=previous).update(status=to)
            if changed:
                monday = tallies.monday_of(self.received_at)
                tallies.add(submissions=Counter({(monday, previous): -1, (monday, to): 1}))
                AuditEvent.objects.record(
                    AuditAction.STATUS_CHANGED, by=by, ip=ip, submission=self, **{"from": previous, "to": to}
                )
        if changed:
            self.status = to
        return bool(changed)

    def open(self, *, by, ip: str | None = None) -> None:
        """Someone opened the submission: a new one is now read, as in a mailbox."""
        if self.status == Status.NEW:
            self.set_status(Status.READ, by=by, ip=ip)

    @property
    def withdrawn(self) -> bool:
        return self.status == Status.WITHDRAWN

    @property
    def digest(self):
        """The digest that counted this submission, or None while none has."""
        try:
            return self.membership.digest
        except DigestMembership.DoesNotExist:
            return None

    @property
    def elements(self) -> list[str]:
        """Labels of the elements this submission has views on, in the order of the elements."""
        codes = {view.element for view in self.views.all()}
        return [label for code, label in Element.choices if code in codes]


class EnglishWords(models.Func):
    """
    A text's words as PostgreSQL's full-text search sees them (the English
    configuration: stemmed, stop words left out). SQLite has no such type:
    there the column stays empty and search matches substrings (`feedback.search`).
    """

    function = "to_tsvector"
    output_field = SearchVectorField()

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, template="to_tsvector('english'::regconfig, %(expressions)s)")

    def as_sqlite(self, compiler, connection, **extra_context):
        return "NULL", []


class ViewManager(models.Manager):
    def get_queryset(self) -> models.QuerySet:
        # The search column is read by the database alone: never bring it back with the rows.
        return super().get_queryset().defer("search_vector")


class View(models.Model):
    """One view within a submission, on one element (and, for prioritisation, one level)."""

    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="views")
    position = models.PositiveSmallIntegerField()
    element = models.CharField(max_length=20, choices=Element)
    level = models.CharField(max_length=10, choices=Level, blank=True)
    text = models.TextField(max_length=5000)
    # Practice that already works, and any saving or gain in quality, in the respondent's words.
    example = models.TextField(max_length=5000, blank=True)
    # Which wording of the question the view answered (feedback.questions); None for mail and spreadsheets.
    question_version = models.PositiveSmallIntegerField(null=True, blank=True)
    # The respondent may change the text, level and example until the call
    # closes: each change is a new version, the earlier ones kept (ViewVersion).
    version = models.PositiveSmallIntegerField(default=1, db_default=1)
    changed_at = models.DateTimeField(null=True, blank=True)
    # Kept by the database from the text (GIN-indexed on PostgreSQL: migration 0017).
    search_vector = models.GeneratedField(
        expression=EnglishWords("text"), output_field=SearchVectorField(), db_persist=True
    )

    objects = ViewManager()

    class Meta:
        # By the column, not the relation: ordering by "submission" would join
        # submissions to sort by their own ordering on every query of views.
        ordering = ["submission_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["submission", "position"], name="view_position_unique"),
            models.CheckConstraint(
                condition=(Q(element=Element.PRIORITISATION) & ~Q(level=""))
                | (~Q(element=Element.PRIORITISATION) & Q(level="")),
                name="view_level_only_for_prioritisation",
            ),
        ]
        indexes = [
            models.Index(fields=["element", "level"], name="view_element_level"),
            # The few changed by their respondents, for the next digest's "changed since the last digest".
            models.Index(fields=["changed_at"], condition=Q(changed_at__isnull=False), name="view_changed"),
        ]

    def __str__(self) -> str:
        return f"{self.submission.reference} view {self.position}"


class ViewVersion(models.Model):
    """An earlier version of a view, kept when its respondent changed it (feedback.changes.change_view)."""

    view = models.ForeignKey(View, on_delete=models.CASCADE, related_name="earlier_versions")
    version = models.PositiveSmallIntegerField()
    level = models.CharField(max_length=10, choices=Level, blank=True)
    text = models.TextField(max_length=5000)
    example = models.TextField(max_length=5000, blank=True)
    question_version = models.PositiveSmallIntegerField(null=True, blank=True)
    # When this version was given: when the submission was received, or the change that made it.
    given_at = models.DateTimeField()
    replaced_at = models.DateTimeField()

    class Meta:
        ordering = ["view_id", "version"]
        constraints = [models.UniqueConstraint(fields=["view", "version"], name="view_version_unique")]

    def __str__(self) -> str:
        return f"{self.view} version {self.version}"


class Note(models.Model):
    """An internal note on a submission. Notes are added, never edited or deleted."""

    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey("auth.User", null=True, on_delete=models.SET_NULL, related_name="+")
    text = models.TextField(max_length=5000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"Note on {self.submission.reference}"
