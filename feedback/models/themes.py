"""The theme codebook beneath each element, and the themes tagged on views."""

from datetime import datetime

from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

from .choices import Element, Stance
from .submissions import View


class ThemeQuerySet(models.QuerySet):
    def active(self) -> "ThemeQuerySet":
        return self.filter(retired_at__isnull=True)

    def for_element(self, element: str) -> "ThemeQuerySet":
        return self.filter(element=element)

    def retire(self, *, now: datetime | None = None) -> int:
        """Offer these themes no more; their tags stay on the views. Returns how many were retired."""
        return self.filter(retired_at__isnull=True).update(retired_at=now or timezone.now())

    def merge_into(self, target: "Theme", *, by) -> int:
        """Merge each of these themes into `target` (Theme.merge_into). Returns how many tags moved."""
        return sum(theme.merge_into(target, by=by) for theme in self)

    def restore(self) -> int:
        """Bring retired themes back into use, except those merged into another. Returns how many."""
        return self.filter(merged_into__isnull=True, retired_at__isnull=False).update(retired_at=None)


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


def confirmed_tags(prefix: str = "") -> Q:
    """
    The one rule for a tag a person stands behind: assigned by one, or
    suggested by the machine and then confirmed by one. `prefix` reaches tags
    through a relation ("tags__" from a theme).
    """
    return Q(**{f"{prefix}assigned_by__isnull": False}) | Q(**{f"{prefix}confirmed_by__isnull": False})


class ThemeTagQuerySet(models.QuerySet):
    def confirmed(self) -> "ThemeTagQuerySet":
        """Tags a person stands behind (`confirmed_tags`): only these count in digests and figures."""
        return self.filter(confirmed_tags())


class ThemeTag(models.Model):
    """A theme on one view. `assigned_by` empty means a machine suggested it; a person confirms it."""

    view = models.ForeignKey(View, on_delete=models.CASCADE, related_name="tags")
    theme = models.ForeignKey(Theme, on_delete=models.PROTECT, related_name="tags")
    stance = models.CharField(max_length=10, choices=Stance, blank=True)
    assigned_by = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    confirmed_by = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    # For a machine's suggestion: how sure the model was (0 to 1), and which model it was.
    confidence = models.FloatField(null=True, blank=True)
    model_version = models.CharField(max_length=60, blank=True)
    # The respondent changed the view's words after this tag was given: a
    # person should read it again (the workbench's "changed" queue). Saving
    # the view's themes on the workbench settles it.
    to_review = models.BooleanField(default=False, db_default=False)

    objects = ThemeTagQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["view", "theme"], name="theme_tag_once_per_view")]

    def __str__(self) -> str:
        return f"{self.theme.name}{f' ({self.get_stance_display().lower()})' if self.stance else ''}"

    @property
    def is_confirmed(self) -> bool:
        # The same rule as confirmed_tags(), for a tag in hand.
        return self.assigned_by_id is not None or self.confirmed_by_id is not None

    def confirm(self, *, by) -> bool:
        """A person stands behind a machine's suggestion. False if a person already did."""
        if self.is_confirmed:
            return False
        self.confirmed_by = by
        self.save(update_fields=["confirmed_by"])
        return True

    def reject(self, *, by) -> bool:
        """
        A person turns a machine's suggestion down: it goes, and no model ever
        proposes this theme for this view again. False for a tag a person stands behind.
        """
        if self.is_confirmed:
            return False
        with transaction.atomic():
            RejectedSuggestion.objects.get_or_create(
                view_id=self.view_id, theme_id=self.theme_id, defaults={"rejected_by": by}
            )
            self.delete()
        return True


class RejectedSuggestion(models.Model):
    """A theme a person said does not fit a view: never suggested for it again, whatever the model."""

    view = models.ForeignKey(View, on_delete=models.CASCADE, related_name="rejected_suggestions")
    theme = models.ForeignKey(Theme, on_delete=models.CASCADE, related_name="rejected_suggestions")
    rejected_by = models.ForeignKey("auth.User", null=True, on_delete=models.SET_NULL, related_name="+")
    rejected_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["view", "theme"], name="rejected_suggestion_once")]

    def __str__(self) -> str:
        return f"{self.theme} rejected for {self.view}"


class SuggestionModel(models.Model):
    """
    One element's trained theme classifier: the fitted pipeline, the themes
    it may suggest (those with enough confirmed examples), and how well it
    agreed with people on tags it did not train on.
    """

    THEMES, ELEMENT, LEVEL = "themes", "element", "level"
    KINDS = [
        (THEMES, "Themes of one element's views"),
        (ELEMENT, "The element of a text"),
        (LEVEL, "The level of a prioritisation text"),
    ]

    kind = models.CharField(max_length=10, choices=KINDS, default=THEMES)
    # The element whose themes it suggests; empty for the element model.
    element = models.CharField(max_length=20, choices=Element, blank=True)
    version = models.CharField(max_length=60, unique=True)
    trained_at = models.DateTimeField(default=timezone.now)
    # Its outputs, in order: theme ids, element codes or level codes.
    themes = models.JSONField(default=list)
    views = models.PositiveIntegerField(help_text="Coded views it learned from.")
    # Agreement with people on the held-out share (feedback.agreement.Agreement, as a dict).
    metrics = models.JSONField(default=dict)
    pipeline = models.BinaryField(editable=False)

    class Meta:
        ordering = ["element", "-trained_at"]
        get_latest_by = "trained_at"

    def __str__(self) -> str:
        return self.version


class CodingClaim(models.Model):
    """Who is coding a view on the workbench, until when: two reviewers never get the same view at once."""

    view = models.OneToOneField(View, on_delete=models.CASCADE, related_name="coding_claim")
    user = models.ForeignKey("auth.User", on_delete=models.CASCADE, related_name="+")
    until = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.view} until {self.until:%H:%M}"


class ThemeProposal(models.Model):
    """
    A group of an element's views that no theme fits, found by clustering,
    shown to leads as a possible new theme. Proposals still open are replaced
    at each training; accepted and dismissed ones are kept.
    """

    OPEN, ACCEPTED, DISMISSED = "open", "accepted", "dismissed"
    STATUSES = [(OPEN, "Open"), (ACCEPTED, "Added as a theme"), (DISMISSED, "Dismissed")]

    element = models.CharField(max_length=20, choices=Element)
    created_at = models.DateTimeField(default=timezone.now)
    terms = models.JSONField(default=list, help_text="The words that mark the group, most telling first.")
    size = models.PositiveIntegerField(help_text="Views in the group when it was found.")
    unfitted = models.PositiveIntegerField(help_text="Views no theme fitted, that the groups were found among.")
    # The views nearest the group's centre, most typical first.
    examples = models.ManyToManyField(View, related_name="+", blank=True)
    example_order = models.JSONField(default=list)
    status = models.CharField(max_length=10, choices=STATUSES, default=OPEN)
    theme = models.ForeignKey(Theme, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    decided_by = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["element", "-size"]

    def __str__(self) -> str:
        return f"{', '.join(self.terms[:3])} ({self.size} views)"

    def ordered_examples(self) -> list[View]:
        by_id = {view.pk: view for view in self.examples.select_related("submission")}
        return [by_id[pk] for pk in self.example_order if pk in by_id]


class SecondOpinion(models.Model):
    """
    A view drawn at random, once a person has coded it, for a second reviewer
    to code blind (without seeing the first's themes). The two sets of themes
    measure how far reviewers agree; where they differ, a lead settles it.
    """

    view = models.OneToOneField(View, on_delete=models.CASCADE, related_name="second_opinion")
    first_by = models.ForeignKey("auth.User", null=True, on_delete=models.SET_NULL, related_name="+")
    first_themes = models.JSONField(default=list, help_text="Theme ids the first reviewer gave.")
    drawn_at = models.DateTimeField(default=timezone.now)
    second_by = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    second_themes = models.JSONField(null=True, blank=True, help_text="Theme ids the second reviewer gave, blind.")
    second_at = models.DateTimeField(null=True, blank=True)
    settled_by = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["view"], condition=Q(second_at__isnull=True), name="second_opinion_waiting")]

    def __str__(self) -> str:
        return f"Second opinion on {self.view}"

    @property
    def disagree(self) -> bool:
        return self.second_themes is not None and sorted(self.first_themes) != sorted(self.second_themes)


class Decision(models.TextChoices):
    ADOPTED = "adopted", "Adopted"
    PARTLY = "partly", "Partly adopted"
    NOT_ADOPTED = "not_adopted", "Not adopted"
    OUT_OF_SCOPE = "out_of_scope", "Out of scope"


class ThemeDecision(models.Model):
    """
    What the policy leads did with the views under one theme, or with one
    proposed change to national policy ("you said, we did"): the decision,
    why, in plain English, and where it landed in the operating framework.
    The public page of outcomes shows it.
    """

    theme = models.OneToOneField(Theme, null=True, blank=True, on_delete=models.PROTECT, related_name="decision")
    # A proposal answered on its own; it goes with its view if its respondent withdraws.
    proposal = models.OneToOneField(
        View,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="decision",
        limit_choices_to={"element": Element.NATIONAL_POLICY},
        help_text="A proposed change to national policy answered on its own (instead of a theme).",
    )
    decision = models.CharField(max_length=15, choices=Decision)
    reason = models.TextField(
        max_length=2000, help_text="In plain English, for the public: why, and what will change because of it."
    )
    framework_section = models.CharField(
        "where it landed in the operating framework",
        max_length=200,
        blank=True,
        help_text="The section or paragraph of the 2010-11 operating framework, if any.",
    )
    decided_by = models.ForeignKey("auth.User", null=True, on_delete=models.SET_NULL, related_name="+", editable=False)
    decided_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["theme__element", "theme__name", "proposal_id"]
        verbose_name = "decision on a theme or proposal"
        constraints = [
            models.CheckConstraint(
                condition=Q(theme__isnull=False, proposal__isnull=True)
                | Q(theme__isnull=True, proposal__isnull=False),
                name="decision_on_a_theme_or_a_proposal",
            )
        ]

    def __str__(self) -> str:
        about = self.theme.name if self.theme_id else f"Proposal {self.proposal}"
        return f"{about}: {self.get_decision_display()}"

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        if bool(self.theme_id) == bool(self.proposal_id):
            raise ValidationError("Choose a theme or a proposal, not both.")
        if self.proposal_id and self.proposal.element != Element.NATIONAL_POLICY:
            raise ValidationError({"proposal": "Only a proposed change to national policy is answered on its own."})
