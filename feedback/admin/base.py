"""
What every list in the workspace accepts in its address.

The admin lets a list be filtered by any of its model's own fields straight
from the URL (`?email__startswith=a`), which would let someone who may not
see respondents' personal details find them out a letter at a time from the
counts. Here:

- a lookup on a personal field is refused (400) for anyone without the
  personal-details permission, and recorded for those with it;
- regular-expression lookups are refused for everyone: no page offers them,
  and a crafted pattern can keep the database busy;
- values that cannot be turned into a query (a year of twenty digits) give
  the whole list with a message saying the filter was not used, never a
  server error.
"""

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ERROR_FLAG
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponseRedirect
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from .. import audit
from ..models import AuditAction

PERSONAL_DETAILS_PERMISSION = "feedback.view_personal_details"
REFUSED_LOOKUPS = {"regex", "iregex"}


class GuardedLookups:
    """Mixin for a ModelAdmin. `personal_fields` names the model's fields that hold personal data."""

    personal_fields: tuple[str, ...] = ()

    def is_personal_lookup(self, key: str) -> bool:
        """Whether a query parameter filters on a personal field."""
        return key.split("__")[0] in self.personal_fields

    def lookup_allowed(self, lookup: str, value, request: HttpRequest) -> bool:
        parts = lookup.split("__")
        if REFUSED_LOOKUPS & set(parts):
            return False
        if self.is_personal_lookup(lookup) and not request.user.has_perm(PERSONAL_DETAILS_PERMISSION):
            return False
        return super().lookup_allowed(lookup, value, request)

    def get_changelist_instance(self, request: HttpRequest):
        try:
            return super().get_changelist_instance(request)
        except OverflowError as error:
            # Django turns a ValueError here into "use the whole list"; a number
            # too large for a date is the same mistake.
            raise IncorrectLookupParameters(error) from error

    def changelist_view(self, request: HttpRequest, extra_context=None):
        response = super().changelist_view(request, extra_context)
        if isinstance(response, HttpResponseRedirect) and response.url.endswith(f"?{ERROR_FLAG}=1"):
            messages.warning(request, "The filters in that address could not be used, so the whole list is shown.")
        elif response.status_code == 200 and (lookups := sorted(filter(self.is_personal_lookup, request.GET))):
            # Keys only: the values would be respondents' names and addresses.
            audit.record(
                AuditAction.FILTERED_PERSONAL_DETAILS, request=request, model=self.opts.label, lookups=lookups
            )
        return response


class ReadOnly:
    """Mixin for a ModelAdmin whose rows nobody adds, changes or deletes here (a log, a record of work)."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class WorkspaceAdmin(GuardedLookups, admin.ModelAdmin):
    """The base of every list the portal adds."""

    def action_checkbox(self, obj):
        """
        Each row's checkbox, the same markup as the admin's own, written
        directly: rendering a form widget's template for each of fifty rows
        was a tenth of a list page's time.
        """
        return format_html(
            '<input type="checkbox" name="{}" value="{}" class="action-select" aria-label="{}">',
            helpers.ACTION_CHECKBOX_NAME,
            str(obj.pk),
            format_html(_("Select this object for an action - {}"), str(obj)),
        )


class LabelledTabularInline(admin.TabularInline):
    """
    A tabular inline whose inputs have names for assistive technology: the
    stock template heads each column with the field's name, but the inputs
    beneath it have no label of their own.
    """

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if field is not None:
            field.widget.attrs.setdefault("aria-label", capfirst(db_field.verbose_name))
        return field


class CappedPaginator(Paginator):
    """
    Counts no further than its cap + 1 rows: a list must not count a million
    to say how long it is. The list then says "more than 10,000" (`capped`
    filter). A text search counts to SEARCH_CAP: each of its matches is a
    check of a view's words, so counting ten thousand of a common phrase
    would take a second on its own.
    """

    CAP = 10_000
    SEARCH_CAP = 1_000

    def __init__(self, *args, cap: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.cap = cap or self.CAP

    @cached_property
    def count(self) -> int:
        # Only the rows' ids: what a list annotates its rows with is for the page, not the count.
        count = self.object_list.order_by().values("pk")[: self.cap + 1].count()
        return MoreThanCap(self.cap) if count > self.cap else count


class MoreThanCap(int):
    """A count that stopped past its cap: its value is cap + 1, and it reads "more than 10,000"."""

    def __new__(cls, cap: int) -> "MoreThanCap":
        count = super().__new__(cls, cap + 1)
        count.cap = cap
        return count

    def __str__(self) -> str:
        return f"more than {self.cap:,}"

    def __format__(self, spec: str) -> str:
        return str(self)


def capped_count(queryset) -> int:
    """How many rows, counting no further than CappedPaginator.CAP + 1."""
    count = queryset.order_by().values("pk")[: CappedPaginator.CAP + 1].count()
    return MoreThanCap(CappedPaginator.CAP) if count > CappedPaginator.CAP else count


class CappedFacets:
    """
    For a list filter: its counts ("Show counts") each counted no further
    than the list's own, one capped query an option, instead of one
    aggregate that counts every matching row for every option.
    """

    def get_facet_queryset(self, changelist) -> dict:
        filtered = changelist.get_queryset(self.request, exclude_parameters=self.expected_parameters())
        counts = self.get_facet_counts(changelist.pk_attname, filtered)
        # Each count's condition (Count(..., filter=Q) keeps it as an AggregateFilter), on its own.
        return {key: capped_count(filtered.filter(count.filter.condition)) for key, count in counts.items()}


class CappedChoicesFilter(CappedFacets, admin.ChoicesFieldListFilter):
    """A field's choices as a filter, with capped counts."""


class CappedDateFilter(CappedFacets, admin.DateFieldListFilter):
    """A date's periods (today, past 7 days...) as a filter, with capped counts."""
