"""
What was done with each theme, or with a proposed change to national policy
answered on its own ("you said, we did"): policy leads record a decision,
its reason and where it landed in the operating framework; each one is
audited. The final digest cannot be approved while a large theme has none
(Digest.undecided_themes).
"""

from django.contrib import admin
from django.http import HttpRequest

from .. import audit
from ..models import AuditAction, Theme, ThemeDecision
from .base import WorkspaceAdmin


@admin.register(ThemeDecision)
class ThemeDecisionAdmin(WorkspaceAdmin):
    list_display = ["__str__", "element", "decision", "framework_section", "decided_by", "decided_at"]
    list_filter = ["decision", "theme__element"]
    fields = ["theme", "proposal", "decision", "reason", "framework_section"]
    raw_id_fields = ["proposal"]
    search_fields = ["theme__name", "reason", "proposal__submission__reference"]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="element")
    def element(self, decision: ThemeDecision) -> str:
        return (decision.theme or decision.proposal).get_element_display()

    def get_readonly_fields(self, request, obj=None):
        # A decision stays with what it is about; only what was decided changes.
        return ["theme", "proposal"] if obj is not None else []

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "theme":
            kwargs["queryset"] = Theme.objects.filter(merged_into__isnull=True, decision__isnull=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict:
        # The final digest links each undecided theme here with ?theme=<id>, a proposal with ?proposal=<id>.
        return {name: request.GET[name] for name in ("theme", "proposal") if str(request.GET.get(name, "")).isdigit()}

    def save_model(self, request, obj: ThemeDecision, form, change) -> None:
        obj.decided_by = request.user
        super().save_model(request, obj, form, change)
        audit.record(
            AuditAction.THEME_DECIDED,
            request=request,
            theme=obj.theme.name if obj.theme_id else None,
            proposal=obj.proposal.submission.reference if obj.proposal_id else None,
            decision=obj.decision,
            changed=sorted(form.changed_data) if change else None,
        )
