"""
The workspace's list filters. Each filter on a view's fields is an EXISTS
subquery: a submission with two matching views is listed once, without a
DISTINCT over the whole table.
"""

from django.contrib import admin
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from .. import call, periods
from ..models import (
    STUCK_SENDING_AFTER,
    Campaign,
    Digest,
    Element,
    Level,
    OutgoingEmail,
    Stance,
    Theme,
    ThemeTag,
    View,
    ViewFingerprint,
)
from .base import CappedFacets


class CappedListFilter(CappedFacets, admin.SimpleListFilter):
    """The portal's filters: their counts, when shown, stop where the list's own count does."""


class SendingProblemFilter(CappedListFilter):
    """
    Emails that need a person: failed for good, or stuck in "sending" (a worker
    died mid-send, so they may or may not have gone).
    """

    title = "problems"
    parameter_name = "problem"

    def lookups(self, request, model_admin):
        minutes = int(STUCK_SENDING_AFTER.total_seconds() // 60)
        return [("failed", "Failed"), ("stuck", f"Sending for over {minutes} minutes")]

    def queryset(self, request, queryset):
        if self.value() == "failed":
            return queryset.failed()
        if self.value() == "stuck":
            return queryset.stuck(now=timezone.now())
        return queryset


class ViewExistsFilter(CappedListFilter):
    field: str

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        return queryset.filter(Exists(View.objects.filter(submission=OuterRef("pk"), **{self.field: self.value()})))


class ElementFilter(ViewExistsFilter):
    title = "element"
    parameter_name = "element"
    field = "element"

    def lookups(self, request, model_admin):
        return Element.choices


class LevelFilter(ViewExistsFilter):
    title = "level (prioritisation)"
    parameter_name = "level"
    field = "level"

    def lookups(self, request, model_admin):
        return Level.choices


class ThemeFilter(CappedListFilter):
    """Tags a person stands behind, as digests count them (not unconfirmed suggestions)."""

    title = "theme"
    parameter_name = "theme"

    def lookups(self, request, model_admin):
        return [(theme.pk, f"{Element(theme.element).label}: {theme}") for theme in Theme.objects.all()]

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        if not str(self.value()).isdigit():
            return queryset.none()
        tags = ThemeTag.objects.confirmed().filter(view__submission=OuterRef("pk"), theme_id=self.value())
        return queryset.filter(Exists(tags))


class UnthemedFilter(CappedListFilter):
    """Submissions with a view on an element that no person has given a theme (`?unthemed=<element>`)."""

    title = "views with no theme"
    parameter_name = "unthemed"

    def lookups(self, request, model_admin):
        return Element.choices

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        if self.value() not in Element.values:
            return queryset.none()
        themed = ThemeTag.objects.confirmed().filter(view=OuterRef("pk"))
        views = View.objects.filter(submission=OuterRef("pk"), element=self.value()).exclude(Exists(themed))
        return queryset.filter(Exists(views))


class CampaignFilter(CappedListFilter):
    """Submissions with a view in one campaign of near-identical views (`?campaign=<id>`)."""

    title = "campaign"
    parameter_name = "campaign"

    def lookups(self, request, model_admin):
        return [(campaign.pk, str(campaign)) for campaign in Campaign.objects.all()[:10]]

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        if not str(self.value()).isdigit():
            return queryset.none()
        members = ViewFingerprint.objects.filter(view__submission=OuterRef("pk"), campaign_id=self.value())
        return queryset.filter(Exists(members))


class ReceivedFilter(CappedListFilter):
    """By ISO week (Europe/London), as digests count: this week, last week, or any `?received=2026-W47`."""

    title = "received"
    parameter_name = "received"

    def lookups(self, request, model_admin):
        this_week = periods.week_of(timezone.now())
        return [
            (this_week.label, "This week"),
            (this_week.previous().label, "Last week"),
            ("last-4-weeks", "Last 4 weeks"),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        if value == "last-4-weeks":
            start = periods.week_of(timezone.now()).start - periods.WEEK * 3
            return queryset.filter(received_at__gte=start)
        try:
            week = periods.Week.parse(value)
        except ValueError:
            return queryset.none()
        return queryset.received_between(week.start, week.end)


class DigestFilter(CappedListFilter):
    """The submissions a digest counted: every figure in a digest links here."""

    title = "digest"
    parameter_name = "digest"

    def lookups(self, request, model_admin):
        return [(digest.pk, str(digest)) for digest in Digest.objects.compiled()[:12]]

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        found = Digest.objects.only("pk", "kind", "period_end", "compiled_at")
        digest = found.filter(pk=self.value()).first() if str(self.value()).isdigit() else None
        if digest is None:
            return queryset.none()
        if digest.is_final:
            return queryset.filter(pk__in=digest.counted().values("pk"))
        return queryset.filter(membership__digest=digest)


class LateFilter(CappedListFilter):
    title = "arrived late for a digest"
    parameter_name = "late"

    def lookups(self, request, model_admin):
        return [("yes", "Counted by a later digest")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(received_at__lt=F("membership__digest__period_start"))
        return queryset


class ChangedFilter(CappedListFilter):
    title = "changed by the respondent"
    parameter_name = "changed"

    def lookups(self, request, model_admin):
        return [("yes", "A view changed after it was sent")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(Exists(View.objects.filter(submission=OuterRef("pk"), changed_at__isnull=False)))
        return queryset


class AfterTheCallFilter(CappedListFilter):
    """Mail that arrived once the call had closed (it can still be sorted: the team decides)."""

    title = "arrived after the call closed"
    parameter_name = "after_close"

    def lookups(self, request, model_admin):
        return [("yes", "Yes"), ("no", "No")] if call.window().closes else []

    def queryset(self, request, queryset):
        closes = call.window().closes
        if not closes or self.value() not in ("yes", "no"):
            return queryset
        if self.value() == "yes":
            return queryset.filter(arrived_at__gte=closes)
        return queryset.filter(arrived_at__lt=closes)


class RespondingAsFilter(CappedListFilter):
    """Responses given on behalf of an organisation, or by individuals."""

    title = "responding as"
    parameter_name = "responding_as"

    def lookups(self, request, model_admin):
        return [("organisation", "On behalf of an organisation"), ("individual", "An individual")]

    def queryset(self, request, queryset):
        if self.value() not in ("organisation", "individual"):
            return queryset
        return queryset.filter(on_behalf_of_organisation=self.value() == "organisation")


class StanceFilter(CappedListFilter):
    """A stance on any theme, or, with the theme filter, on that theme."""

    title = "stance"
    parameter_name = "stance"

    def lookups(self, request, model_admin):
        return Stance.choices

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        tags = ThemeTag.objects.confirmed().filter(view__submission=OuterRef("pk"), stance=self.value())
        if request.GET.get("theme", "").isdigit():
            tags = tags.filter(theme_id=request.GET["theme"])
        return queryset.filter(Exists(tags))


class QuotableFilter(CappedListFilter):
    title = "may be quoted"
    parameter_name = "quotable"

    def lookups(self, request, model_admin):
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(consent_to_quote=self.value() == "yes")
        return queryset


class AckProblemFilter(SendingProblemFilter):
    """Submissions whose acknowledgement failed or is stuck."""

    title = "acknowledgement problems"
    parameter_name = "ack_problem"

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        problems = super().queryset(request, OutgoingEmail.objects.filter(submission=OuterRef("pk")))
        return queryset.filter(Exists(problems))


class OrganisationFilter(admin.ListFilter):
    """
    Organisations whose name contains what is typed (a trigram index keeps it
    fast on PostgreSQL). Apart from the search box, which searches views' text:
    the two in one OR would leave PostgreSQL no fast plan for either.
    """

    title = "organisation"
    parameter_name = "organisation"
    template = "admin/feedback/submission/organisation_filter.html"

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        if self.parameter_name in params:
            self.used_parameters[self.parameter_name] = params.pop(self.parameter_name)[-1].strip()[:100]

    def value(self) -> str:
        return self.used_parameters.get(self.parameter_name, "")

    def has_output(self) -> bool:
        return True

    def expected_parameters(self) -> list[str]:
        return [self.parameter_name]

    def queryset(self, request, queryset):
        return queryset.filter(organisation__icontains=self.value()) if self.value() else queryset

    def choices(self, changelist):
        # One "choice": what the form needs to keep the list's other filters when it is sent.
        kept = {key: value for key, value in changelist.params.items() if key not in (self.parameter_name, "p")}
        yield {
            "value": self.value(),
            "kept": kept,
            "clear": changelist.get_query_string(remove=[self.parameter_name]),
        }
