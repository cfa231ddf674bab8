import secrets
import uuid
from datetime import datetime, timedelta

from django.db import IntegrityError, models, transaction
from django.db.models import F, Q
from django.utils import timezone


class Element(models.TextChoices):
    """The four elements of the QIPP challenge: the axis every view is tagged on."""

    PRIORITISATION = "prioritisation", "Prioritisation by level"
    LEADERSHIP = "leadership", "Leadership focus and behaviours"
    ENGAGEMENT = "engagement", "Engaging staff, partners and the public"
    NATIONAL_POLICY = "national_policy", "National policy framework"

    @property
    def description(self) -> str:
        return ELEMENT_DESCRIPTIONS[self]


ELEMENT_DESCRIPTIONS = {
    Element.PRIORITISATION: (
        "What should be done once for the whole NHS, what by each of the 10 regions, "
        "and what by each of the 152 local health systems."
    ),
    Element.LEADERSHIP: (
        "The leadership signals sent at every level, clinical leadership, and how boards "
        "support clinical leaders to drive change."
    ),
    Element.ENGAGEMENT: (
        "How the challenge is explained to staff, joint working with local authorities and "
        "partners, and the links between primary and secondary care and between health and "
        "social care."
    ),
    Element.NATIONAL_POLICY: (
        "What needs to change in national policy so that change can happen locally. "
        "These views feed the 2010-11 operating framework directly."
    ),
}


class Level(models.TextChoices):
    """Where a prioritisation view says the work should be organised."""

    NATIONAL = "national", "Nationally, once for the whole NHS"
    REGIONAL = "regional", "Regionally, by each of the 10 strategic health authorities"
    LOCAL = "local", "Locally, by each of the 152 primary care trusts"


class Principle(models.TextChoices):
    """The four working principles: optional secondary tags on a submission."""

    COPRODUCTION = "coproduction", "Coproduction"
    SUBSIDIARITY = "subsidiarity", "Subsidiarity"
    CLINICAL_LEADERSHIP = "clinical_leadership", "Clinical leadership"
    SYSTEM_ALIGNMENT = "system_alignment", "System alignment"


class Region(models.TextChoices):
    """The 10 strategic health authorities, plus views that are not about one region."""

    NORTH_EAST = "north_east", "North East"
    NORTH_WEST = "north_west", "North West"
    YORKSHIRE_HUMBER = "yorkshire_humber", "Yorkshire and the Humber"
    EAST_MIDLANDS = "east_midlands", "East Midlands"
    WEST_MIDLANDS = "west_midlands", "West Midlands"
    EAST_OF_ENGLAND = "east_of_england", "East of England"
    LONDON = "london", "London"
    SOUTH_EAST_COAST = "south_east_coast", "South East Coast"
    SOUTH_CENTRAL = "south_central", "South Central"
    SOUTH_WEST = "south_west", "South West"
    NATIONAL = "national", "National / not region-specific"


class OrganisationType(models.TextChoices):
    DEPARTMENT_OF_HEALTH = "department_of_health", "Department of Health"
    STRATEGIC_HEALTH_AUTHORITY = "sha", "Strategic health authority"
    PRIMARY_CARE_TRUST = "pct", "Primary care trust"
    ACUTE_TRUST = "acute_trust", "NHS trust (acute)"
    FOUNDATION_TRUST = "foundation_trust", "NHS foundation trust"
    MENTAL_HEALTH_TRUST = "mental_health_trust", "Mental health trust"
    AMBULANCE_TRUST = "ambulance_trust", "Ambulance trust"
    CARE_TRUST = "care_trust", "Care trust"
    PRIMARY_CARE = "primary_care", "GP practice or other primary care contractor"
    LOCAL_AUTHORITY = "local_authority", "Local authority (including social care)"
    VOLUNTARY = "voluntary", "Voluntary or community sector"
    INDEPENDENT = "independent", "Independent sector provider"
    PROFESSIONAL_BODY = "professional_body", "Professional body or trade union"
    PATIENT_GROUP = "patient_group", "Patient or public representative group"
    PUBLIC = "public", "Individual member of the public"
    OTHER = "other", "Other"


class Role(models.TextChoices):
    DOCTOR = "doctor", "Doctor"
    NURSE_MIDWIFE = "nurse_midwife", "Nurse or midwife"
    ALLIED_HEALTH = "allied_health", "Allied health professional"
    OTHER_CLINICAL = "other_clinical", "Other clinical"
    MANAGER = "manager", "Manager"
    BOARD = "board", "Board member or executive"
    COMMISSIONER = "commissioner", "Commissioner"
    FINANCE = "finance", "Finance"
    SOCIAL_CARE = "social_care", "Social care professional"
    PATIENT_CARER = "patient_carer", "Patient or carer"
    PUBLIC = "public", "Member of the public"
    OTHER = "other", "Other"


class Source(models.TextChoices):
    WEB = "web", "Web form"
    EMAIL = "email", "Email to the mailbox"
    IMPORT = "import", "Import"


class Status(models.TextChoices):
    """Triage status, set by the policy team."""

    NEW = "new", "New"
    READ = "read", "Read"
    FLAGGED = "flagged", "Flagged"
    ACTIONED = "actioned", "Actioned"


class AckStatus(models.TextChoices):
    """Where the acknowledgement email stands. The row is the unit of work."""

    NOT_NEEDED = "not_needed", "Not needed (no email given)"
    PENDING = "pending", "Waiting to send"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


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


# A claimed acknowledgement still "sending" after this long was lost mid-send
# (a worker killed between claiming and finishing). SMTP has no idempotency
# key, so such a row is never resent by itself (at most once): the admin shows
# it for a person to decide.
STUCK_SENDING_AFTER = timedelta(minutes=15)


class SubmissionQuerySet(models.QuerySet):
    def received_between(self, start: datetime, end: datetime) -> "SubmissionQuerySet":
        """Submissions received in [start, end): a digest period."""
        return self.filter(received_at__gte=start, received_at__lt=end)

    def awaiting_acknowledgement(self, *, now: datetime) -> "SubmissionQuerySet":
        """Acknowledgements that are due to be tried now."""
        return self.filter(ack_status=AckStatus.PENDING).filter(
            Q(ack_next_attempt_at__isnull=True) | Q(ack_next_attempt_at__lte=now)
        )

    def failed(self) -> "SubmissionQuerySet":
        return self.filter(ack_status=AckStatus.FAILED)

    def stuck(self, *, now: datetime) -> "SubmissionQuerySet":
        """Acknowledgements claimed for sending but never finished (a worker died mid-send)."""
        return self.filter(ack_status=AckStatus.SENDING, ack_claimed_at__lt=now - STUCK_SENDING_AFTER)


class SubmissionManager(models.Manager.from_queryset(SubmissionQuerySet)):
    def retry_acknowledgements(self, ids, *, now: datetime) -> int:
        """Put failed or stuck acknowledgements back in the queue, with a fresh set of attempts."""
        chosen = self.filter(pk__in=ids)
        return (chosen.failed() | chosen.stuck(now=now)).update(
            ack_status=AckStatus.PENDING, ack_attempts=0, ack_next_attempt_at=None, ack_last_error=""
        )

    def record(self, *, token: uuid.UUID, views: list[dict], **fields) -> tuple["Submission", bool]:
        """
        Save a submission and its views in one transaction, once per token.

        Returns (submission, created). A token that was already used (a double
        click, a resubmission after a network error) returns the submission it
        made, so the respondent sees the same receipt.
        """
        if not views:
            raise ValueError("A submission needs at least one view.")
        fields.setdefault("ack_status", AckStatus.PENDING if fields.get("email") else AckStatus.NOT_NEEDED)
        for _ in range(5):
            try:
                with transaction.atomic():
                    submission = self.create(token=token, reference=new_reference(), **fields)
                    View.objects.bulk_create(
                        View(submission=submission, position=position, **view)
                        for position, view in enumerate(views, start=1)
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
    organisation = models.CharField(max_length=200)
    organisation_type = models.CharField(max_length=30, choices=OrganisationType)
    region = models.CharField(max_length=20, choices=Region)
    principles = models.JSONField(default=list, blank=True, help_text="Working principles the respondent tagged.")
    consent_to_quote = models.BooleanField("may be quoted anonymously", default=False)
    consent_to_contact = models.BooleanField("may be contacted", default=False)

    # The digest that counted this submission, set when that digest is
    # compiled. A submission received in a week already compiled is counted
    # by the next digest compiled after it arrives, as arrived late.
    digest = models.ForeignKey(
        "Digest", null=True, blank=True, on_delete=models.PROTECT, related_name="submissions", editable=False
    )

    # The acknowledgement email as a unit of background work.
    ack_status = models.CharField("acknowledgement", max_length=12, choices=AckStatus, default=AckStatus.NOT_NEEDED)
    ack_attempts = models.PositiveSmallIntegerField("acknowledgement attempts", default=0)
    ack_next_attempt_at = models.DateTimeField(null=True, blank=True)
    ack_claimed_at = models.DateTimeField(null=True, blank=True)
    ack_sent_at = models.DateTimeField(null=True, blank=True)
    ack_message_id = models.CharField(max_length=255, blank=True)
    ack_last_error = models.TextField(blank=True)

    objects = SubmissionManager()

    class Meta:
        ordering = ["-received_at"]
        indexes = [
            models.Index(fields=["ack_status", "ack_next_attempt_at"], name="submission_ack_due"),
            # Triage by status, newest first (the dashboard's unread list, the status filter).
            models.Index(fields=["status", "-received_at"], name="submission_status_received"),
            # Submissions no digest has counted yet: what the next compile looks for.
            models.Index(fields=["received_at"], condition=Q(digest__isnull=True), name="submission_uncounted"),
        ]
        permissions = [
            ("view_personal_details", "Can see respondents' names and email addresses"),
            ("export_submissions", "Can export submissions"),
            ("view_dashboard", "Can see aggregate figures"),
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def elements(self) -> list[str]:
        """Labels of the elements this submission has views on, in the order of the elements."""
        codes = {view.element for view in self.views.all()}
        return [label for code, label in Element.choices if code in codes]

    def claim_acknowledgement(self, *, now: datetime) -> bool:
        """
        Move the acknowledgement from pending to sending, once.

        A conditional UPDATE, so of two workers given the same id only one
        wins. The attempt is counted here, when sending is actually tried.
        The claim and the reading back are one transaction: a database lost
        in between leaves the row waiting, not "sending" with nothing sent.
        """
        with transaction.atomic():
            claimed = (
                Submission.objects.awaiting_acknowledgement(now=now)
                .filter(pk=self.pk)
                .update(ack_status=AckStatus.SENDING, ack_claimed_at=now, ack_attempts=F("ack_attempts") + 1)
            )
            if claimed:
                self.refresh_from_db(fields=["ack_status", "ack_claimed_at", "ack_attempts"])
        return bool(claimed)


class View(models.Model):
    """One view within a submission, on one element (and, for prioritisation, one level)."""

    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="views")
    position = models.PositiveSmallIntegerField()
    element = models.CharField(max_length=20, choices=Element)
    level = models.CharField(max_length=10, choices=Level, blank=True)
    text = models.TextField(max_length=5000)

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
        indexes = [models.Index(fields=["element", "level"], name="view_element_level")]

    def __str__(self) -> str:
        return f"{self.submission.reference} view {self.position}"


class Stance(models.TextChoices):
    """Whether a view argues for or against a theme, so themes never blur agreement and disagreement."""

    SUPPORTS = "supports", "Supports"
    OPPOSES = "opposes", "Opposes"
    MIXED = "mixed", "Mixed"


class ThemeQuerySet(models.QuerySet):
    def active(self) -> "ThemeQuerySet":
        return self.filter(retired_at__isnull=True)

    def for_element(self, element: str) -> "ThemeQuerySet":
        return self.filter(element=element)


class Theme(models.Model):
    """A theme in the codebook beneath one element, maintained by the policy leads."""

    element = models.CharField(max_length=20, choices=Element)
    name = models.CharField(max_length=100)
    description = models.TextField(max_length=1000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # A retired theme stays on the views it was given but is offered no more.
    retired_at = models.DateTimeField(null=True, blank=True)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="merged_themes"
    )

    objects = ThemeQuerySet.as_manager()

    class Meta:
        ordering = ["element", "name"]
        constraints = [models.UniqueConstraint(fields=["element", "name"], name="theme_name_unique_per_element")]

    def __str__(self) -> str:
        return self.name if self.retired_at is None else f"{self.name} (retired)"

    def retire(self, *, now: datetime | None = None) -> None:
        if self.retired_at is None:
            self.retired_at = now or timezone.now()
            self.save(update_fields=["retired_at"])

    def merge_into(self, target: "Theme", *, by) -> int:
        """
        Move this theme's tags to `target` and retire this theme. Returns the
        number of tags moved. A view tagged with both keeps its tag on the
        target (and that tag's stance).
        """
        if target.pk == self.pk or target.element != self.element:
            raise ValueError("A theme can only be merged into another theme of the same element.")
        with transaction.atomic():
            already = ThemeTag.objects.filter(theme=target).values("view_id")
            ThemeTag.objects.filter(theme=self, view_id__in=already).delete()
            moved = ThemeTag.objects.filter(theme=self).update(theme=target)
            self.merged_into = target
            self.retired_at = self.retired_at or timezone.now()
            self.save(update_fields=["merged_into", "retired_at"])
        return moved


class ThemeTagQuerySet(models.QuerySet):
    def confirmed(self) -> "ThemeTagQuerySet":
        """Tags a person stands behind: assigned by one, or suggested and then confirmed."""
        return self.filter(Q(assigned_by__isnull=False) | Q(confirmed_by__isnull=False))


class ThemeTag(models.Model):
    """A theme on one view. `assigned_by` empty means a machine suggested it; a person confirms it."""

    view = models.ForeignKey(View, on_delete=models.CASCADE, related_name="tags")
    theme = models.ForeignKey(Theme, on_delete=models.PROTECT, related_name="tags")
    stance = models.CharField(max_length=10, choices=Stance, blank=True)
    assigned_by = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    confirmed_by = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ThemeTagQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["view", "theme"], name="theme_tag_once_per_view")]

    def __str__(self) -> str:
        return f"{self.theme.name}{f' ({self.get_stance_display().lower()})' if self.stance else ''}"

    @property
    def is_confirmed(self) -> bool:
        return self.assigned_by_id is not None or self.confirmed_by_id is not None


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


class AuditAction(models.TextChoices):
    PASSWORD_ACCEPTED = "password_accepted", "Password accepted (second factor next)"
    SIGNED_IN = "signed_in", "Signed in"
    SIGN_IN_FAILED = "sign_in_failed", "Sign-in failed"
    LOCKED_OUT = "locked_out", "Locked out"
    LOCKOUT_REMOVED = "lockout_removed", "Removed a lockout"
    TWO_FACTOR_FAILED = "two_factor_failed", "Wrong second-factor code"
    TWO_FACTOR_REPLAYED = "two_factor_replayed", "Second-factor code used again"
    TWO_FACTOR_ENROLLED = "two_factor_enrolled", "Set up two-factor authentication"
    TWO_FACTOR_RESET = "two_factor_reset", "Two-factor authentication reset"
    ACCOUNT_CREATED = "account_created", "Created an account"
    ACCESS_CHANGED = "access_changed", "Changed an account's access"
    PASSWORD_CHANGED = "password_changed", "Changed a password"
    PASSWORD_RESET_SENT = "password_reset_sent", "Sent a password reset link"
    VIEWED_PERSONAL_DETAILS = "viewed_personal_details", "Viewed personal details"
    FILTERED_PERSONAL_DETAILS = "filtered_personal_details", "Filtered by personal details"
    EXPORTED = "exported", "Exported submissions"
    STATUS_CHANGED = "status_changed", "Changed status"
    THEMES_CHANGED = "themes_changed", "Changed themes"
    NOTE_ADDED = "note_added", "Added a note"
    DETAILS_CHANGED = "details_changed", "Changed submission details"


class AuditEvent(models.Model):
    """
    One entry in the append-only audit log. It holds no personal data of
    respondents (references, not names), so erasing a person never needs it
    edited. The app can only add entries.
    """

    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # Kept as text too, so the log still says who after an account is removed.
    actor_username = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=30, choices=AuditAction)
    submission = models.ForeignKey(
        Submission, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_events"
    )
    reference = models.CharField(max_length=11, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["submission", "at"], name="audit_submission_at")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_username or 'system'}: {self.get_action_display()}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.get("force_insert"):
            raise PermissionError("Audit events are never changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("Audit events are never deleted.")


class DigestStatus(models.TextChoices):
    PENDING = "pending", "Waiting to compile"
    COMPILING = "compiling", "Compiling"
    READY = "ready", "Ready for approval"
    APPROVED = "approved", "Approved"
    FAILED = "failed", "Failed"


COMPILED = [DigestStatus.READY, DigestStatus.APPROVED]


class DigestQuerySet(models.QuerySet):
    def compiled(self) -> "DigestQuerySet":
        return self.filter(status__in=COMPILED)


class Digest(models.Model):
    """
    The policy team's brief on one ISO week (Europe/London). One per week,
    numbered in the order compiled, and frozen once compiled: its figures live
    in `content` and its rows are the submissions that point at it.
    """

    period_start = models.DateTimeField(unique=True)
    period_end = models.DateTimeField()
    number = models.PositiveIntegerField(unique=True, null=True, blank=True)
    status = models.CharField(max_length=10, choices=DigestStatus, default=DigestStatus.PENDING, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    compiled_at = models.DateTimeField(null=True, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    content = models.JSONField(default=dict, blank=True, editable=False)

    objects = DigestQuerySet.as_manager()

    class Meta:
        ordering = ["-period_start"]
        permissions = [("approve_digest", "Can approve digests")]

    def __str__(self) -> str:
        label = timezone.localtime(self.period_start).strftime("%G-W%V")
        return f"Digest {self.number} ({label})" if self.number else f"Digest for {label}"

    @property
    def is_compiled(self) -> bool:
        return self.status in COMPILED

    def approve(self, *, by) -> bool:
        """Approve a ready digest for sharing beyond the policy team. False if it was not ready."""
        approved = Digest.objects.filter(pk=self.pk, status=DigestStatus.READY).update(
            status=DigestStatus.APPROVED, approved_at=timezone.now(), approved_by=by
        )
        if approved:
            self.refresh_from_db()
        return bool(approved)


# The weekly email carries a digest's figures, themes and quotes: only those
# who may read digests get it.
DIGEST_READING_PERMISSION = "feedback.view_digest"


class SubscriptionQuerySet(models.QuerySet):
    def receiving(self) -> "SubscriptionQuerySet":
        """Subscriptions a weekly email goes to: switched on, by active staff with an address who may read digests."""
        from django.contrib.auth import get_user_model

        readers = get_user_model().objects.with_perm(
            DIGEST_READING_PERMISSION, backend="django.contrib.auth.backends.ModelBackend"
        )
        return (
            self.filter(active=True, user__is_active=True, user__is_staff=True)
            .exclude(user__email="")
            .filter(user__in=readers.values("pk"))
        )


class Subscription(models.Model):
    """A staff member's weekly email summary: on or off, for all elements or some."""

    user = models.OneToOneField("auth.User", on_delete=models.CASCADE, related_name="weekly_subscription")
    active = models.BooleanField("subscribed", default=True)
    # Element codes; empty means all four.
    elements = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = SubscriptionQuerySet.as_manager()

    def __str__(self) -> str:
        return f"{self.user.get_username()}: {'subscribed' if self.active else 'unsubscribed'}"

    @property
    def element_codes(self) -> list[str]:
        return [code for code in Element.values if not self.elements or code in self.elements]


class SendStatus(models.TextChoices):
    PENDING = "pending", "Waiting to send"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class WeeklySendQuerySet(models.QuerySet):
    def due(self, *, now: datetime) -> "WeeklySendQuerySet":
        return self.filter(status=SendStatus.PENDING).filter(
            Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
        )

    def failed(self) -> "WeeklySendQuerySet":
        return self.filter(status=SendStatus.FAILED)

    def stuck(self, *, now: datetime) -> "WeeklySendQuerySet":
        return self.filter(status=SendStatus.SENDING, claimed_at__lt=now - STUCK_SENDING_AFTER)


class WeeklySend(models.Model):
    """
    One weekly summary email to one subscriber for one week: the unit of work.
    The unique constraint makes a second planning run a no-op; a conditional
    update claims the row before SMTP is touched.
    """

    user = models.ForeignKey("auth.User", on_delete=models.CASCADE, related_name="weekly_sends")
    period_start = models.DateTimeField()
    status = models.CharField(max_length=10, choices=SendStatus, default=SendStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # Which sender holds the row while sending: a batch finds its own rows by it.
    claim = models.UUIDField(null=True, blank=True, editable=False)
    sent_at = models.DateTimeField(null=True, blank=True)
    message_id = models.CharField(max_length=255, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = WeeklySendQuerySet.as_manager()

    class Meta:
        ordering = ["-period_start", "user"]
        constraints = [
            models.UniqueConstraint(fields=["user", "period_start"], name="one_weekly_email_per_person_per_week")
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="weekly_send_due")]

    def __str__(self) -> str:
        return f"{self.user.get_username()}, week of {timezone.localtime(self.period_start):%d %b %Y}"
