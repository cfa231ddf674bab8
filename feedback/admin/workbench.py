"""
The workbench: coding views one at a time, fast. A queue chosen by filters
(element, state, level, theme, week, region, campaign), oldest first; the view with its
element's codebook and the machine's suggestions; each action saves at once
and moves on to the next view nobody else holds.

Mixed into ViewAdmin (admin/themes.py), so its pages live under
/admin/feedback/view/workbench/.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import urlencode

from .. import audit, coding, dashboard, emerging
from ..clients import client_ip
from ..models import (
    AuditAction,
    Element,
    Level,
    Region,
    SecondOpinion,
    Stance,
    Status,
    Theme,
    ThemeProposal,
    View,
    ViewFingerprint,
)
from ..periods import week_of
from .base import PERSONAL_DETAILS_PERMISSION

CODING_PERMISSION = "feedback.add_themetag"
# Settling reviewers' disagreements and deciding emerging themes belong to those who keep the codebook: the leads.
SETTLING_PERMISSION = "feedback.add_theme"
HISTORY = 20


def _chosen(request: HttpRequest) -> dict[int, str]:
    """The themes ticked in a coding form, with the stance chosen for each: {theme id: stance}."""
    return {
        int(value): request.POST.get(f"stance-{value}", "")
        for value in request.POST.getlist("theme")
        if value.isdigit() and len(value) < 12
    }


class WorkbenchPages:
    """The workbench's pages, for a ModelAdmin of View."""

    def workbench_urls(self) -> list:
        return [
            path("workbench/", self.admin_site.admin_view(self.workbench_view), name="feedback_view_workbench"),
            path(
                "workbench/<int:view_id>/",
                self.admin_site.admin_view(self.coding_view),
                name="feedback_view_coding",
            ),
            path(
                "workbench/disagreements/",
                self.admin_site.admin_view(self.disagreements_view),
                name="feedback_view_disagreements",
            ),
            path(
                "workbench/proposal/<int:proposal_id>/",
                self.admin_site.admin_view(self.proposal_view),
                name="feedback_view_proposal",
            ),
        ]

    def _allowed(self, request: HttpRequest) -> None:
        if not request.user.has_perm(CODING_PERMISSION):
            raise PermissionDenied

    def workbench_view(self, request: HttpRequest) -> HttpResponse:
        """The queue's first page: choose filters, then go to the oldest view nobody holds."""
        self._allowed(request)
        queue = coding.Queue.from_query(request.GET)
        if "start" in request.GET:
            return self._next(request, queue)
        return TemplateResponse(request, "admin/feedback/view/workbench.html", self._context(request, queue))

    def coding_view(self, request: HttpRequest, view_id: int) -> HttpResponse:
        self._allowed(request)
        queue = coding.Queue.from_query(request.GET)
        view = get_object_or_404(View.objects.select_related("submission"), pk=view_id)
        now = timezone.now()
        if request.method == "POST":
            return self._act(request, queue, view)
        if not coding.claim(view, user=request.user, now=now):
            other = coding.holder(view, now=now)
            messages.info(
                request, f"{other.get_username() if other else 'Someone'} is coding that view: here is the next one."
            )
            return self._next(request, queue, skip={view.pk})
        context = self._context(request, queue, view=view)
        if context["personal"] and (view.submission.name or view.submission.email):
            audit.record(AuditAction.VIEWED_PERSONAL_DETAILS, request=request, submission=view.submission)
        return TemplateResponse(request, "admin/feedback/view/workbench.html", context)

    def disagreements_view(self, request: HttpRequest) -> HttpResponse:
        """Leads settle the views two reviewers coded differently: the lead's themes become the view's."""
        if not request.user.has_perm(CODING_PERMISSION) or not request.user.has_perm(SETTLING_PERMISSION):
            raise PermissionDenied
        element = request.GET.get("element", "")
        element = element if element in Element.values else Element.PRIORITISATION
        if request.method == "POST":
            opinion = get_object_or_404(
                SecondOpinion.objects.select_related("view__submission"),
                pk=request.POST.get("opinion", "0") if request.POST.get("opinion", "").isdigit() else 0,
            )
            chosen = {
                int(value): request.POST.get(f"stance-{value}", "")
                for value in request.POST.getlist("theme")
                if value.isdigit() and len(value) < 12
            }
            if coding.settle(opinion, by=request.user, chosen=chosen, ip=client_ip(request)):
                messages.success(
                    request, f"Settled {opinion.view.submission.reference}, view {opinion.view.position}."
                )
            else:
                messages.info(request, "Someone had already settled that view.")
            return HttpResponseRedirect(request.path + "?" + urlencode({"element": opinion.view.element}))
        themes = list(Theme.objects.for_element(element))
        names = {theme.pk: theme.name for theme in themes}
        open_disagreements = [
            {
                "opinion": opinion,
                "first": [names.get(pk, "?") for pk in opinion.first_themes],
                "second": [names.get(pk, "?") for pk in opinion.second_themes],
                "either": set(opinion.first_themes) | set(opinion.second_themes),
            }
            for opinion in coding.disagreements(element)[:50]
            if opinion.disagree
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Reviewers' disagreements: {Element(element).label}",
            "element": element,
            "elements": Element.choices,
            "themes": [theme for theme in themes if theme.retired_at is None],
            "disagreements": open_disagreements,
            "reviewers": coding.reviewer_agreement(element),
        }
        return TemplateResponse(request, "admin/feedback/view/disagreements.html", context)

    def proposal_view(self, request: HttpRequest, proposal_id: int) -> HttpResponse:
        """A lead adds an emerging theme to the codebook, or dismisses it."""
        if request.method != "POST":
            raise Http404
        if not request.user.has_perm(CODING_PERMISSION) or not request.user.has_perm("feedback.add_theme"):
            raise PermissionDenied
        proposal = get_object_or_404(ThemeProposal, pk=proposal_id)
        back = reverse("admin:feedback_view_workbench") + "?" + urlencode({"element": proposal.element})
        ip = client_ip(request)
        if request.POST.get("action") == "dismiss":
            if emerging.dismiss(proposal, by=request.user, ip=ip):
                messages.success(request, f"Dismissed the emerging theme {proposal}.")
            return HttpResponseRedirect(back)
        name = " ".join(request.POST.get("name", "").split())[:100]
        if not name:
            messages.error(request, "Give the new theme a name.")
            return HttpResponseRedirect(back)
        try:
            emerging.accept(proposal, name=name, by=request.user, ip=ip)
        except IntegrityError:
            messages.error(request, f"{Element(proposal.element).label} already has a theme called {name}.")
        except ValueError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, f"Added the theme {name} to the codebook.")
        return HttpResponseRedirect(back)

    def _act(self, request: HttpRequest, queue: coding.Queue, view: View) -> HttpResponse:
        action = request.POST.get("action", "save")
        ip = client_ip(request)
        chosen = _chosen(request)
        if action == "save" and queue.state == "second":
            if not coding.give_second_opinion(view, by=request.user, chosen=chosen, ip=ip):
                messages.error(request, "That view is not waiting for your second opinion: nothing was recorded.")
        elif action == "save":
            coding.code(view, by=request.user, chosen=chosen, ip=ip)
        elif action == "save_campaign":
            others = coding.code_campaign(view, by=request.user, chosen=chosen, ip=ip)
            messages.success(request, f"Coded this view and {others} more from its campaign the same way.")
        elif action == "confirm":
            confirmed = coding.confirm_suggestions(view, by=request.user, ip=ip)
            messages.success(request, f"Confirmed {confirmed} suggestion(s).")
        elif action == "flag":
            view.submission.set_status(Status.FLAGGED, by=request.user, ip=ip)
            messages.success(request, f"Flagged submission {view.submission.reference}.")
            return HttpResponseRedirect(self._coding_url(view, queue))
        elif action == "add_theme":
            return self._add_theme(request, queue, view)
        elif action == "skip":
            coding.release(view, user=request.user)
            skipped = request.session.get("workbench_skipped", [])[-HISTORY:]
            request.session["workbench_skipped"] = [*skipped, view.pk]
            return self._next(request, queue, skip=set(request.session["workbench_skipped"]))
        else:
            raise Http404
        history = [pk for pk in request.session.get("workbench_done", []) if pk != view.pk][-HISTORY:]
        request.session["workbench_done"] = [*history, view.pk]
        return self._next(request, queue, skip={view.pk} | set(request.session.get("workbench_skipped", [])))

    def _add_theme(self, request: HttpRequest, queue: coding.Queue, view: View) -> HttpResponse:
        """A lead adds a theme to the element's codebook without leaving the view."""
        if not request.user.has_perm("feedback.add_theme"):
            raise PermissionDenied
        name = " ".join(request.POST.get("name", "").split())[:100]
        description = request.POST.get("description", "").strip()[:1000]
        if not name:
            messages.error(request, "Give the new theme a name.")
        else:
            try:
                with transaction.atomic():
                    Theme.objects.create(
                        element=view.element, name=name, description=description, created_by=request.user
                    )
            except IntegrityError:
                messages.error(request, f"{Element(view.element).label} already has a theme called {name}.")
            else:
                messages.success(request, f"Added the theme {name} to the codebook.")
        return HttpResponseRedirect(self._coding_url(view, queue))

    def _next(self, request: HttpRequest, queue: coding.Queue, *, skip=frozenset()) -> HttpResponse:
        view_id = coding.claim_next(queue, user=request.user, now=timezone.now(), skip=frozenset(skip))
        if view_id is None:
            messages.success(request, "Nothing left in this queue.")
            return HttpResponseRedirect(reverse("admin:feedback_view_workbench") + "?" + urlencode(queue.as_query()))
        return HttpResponseRedirect(self._coding_url(view_id, queue))

    def _campaign(self, view: View) -> dict | None:
        """The view's campaign of near-identical views, with how many of them no person has coded."""
        fingerprint = ViewFingerprint.objects.filter(view=view, campaign__isnull=False).select_related("campaign")
        found = fingerprint.first()
        if found is None:
            return None
        queue = coding.Queue(element=view.element, state="untagged", campaign=str(found.campaign_id))
        return {
            "campaign": found.campaign,
            "uncoded": queue.views().exclude(pk=view.pk).count(),
            "url": reverse("admin:feedback_view_workbench") + "?" + urlencode({**queue.as_query(), "start": 1}),
        }

    def _coding_url(self, view: View | int, queue: coding.Queue) -> str:
        return (
            reverse("admin:feedback_view_coding", args=[getattr(view, "pk", view)]) + "?" + urlencode(queue.as_query())
        )

    def _context(self, request: HttpRequest, queue: coding.Queue, *, view: View | None = None) -> dict:
        themes = list(Theme.objects.active().for_element(queue.element if view is None else view.element))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Workbench: {Element(queue.element).label}",
            "queue": queue,
            "query": urlencode(queue.as_query()),
            "elements": Element.choices,
            "states": list(coding.STATES.items()),
            "levels": Level.choices,
            "regions": Region.choices,
            "themes": themes,
            "this_week": week_of(timezone.now()).label,
            "agreement": dashboard.agreement_by_element().get(queue.element),
            "reviewers": coding.reviewer_agreement(queue.element),
            "blind": queue.state == "second",
        }
        if view is None:
            context["waiting"] = queue.views().count()
            if request.user.has_perm("feedback.add_theme"):
                context["proposals"] = [
                    {"proposal": proposal, "examples": proposal.ordered_examples()}
                    for proposal in ThemeProposal.objects.filter(element=queue.element, status=ThemeProposal.OPEN)
                ]
        else:
            # A second opinion is given blind: neither the first reviewer's themes nor the machine's show.
            tags = {} if context["blind"] else {tag.theme_id: tag for tag in view.tags.all()}
            left, total = queue.position(view)
            done = request.session.get("workbench_done", [])
            previous = next((pk for pk in reversed(done) if pk != view.pk), None)
            context |= {
                "view": view,
                "submission": view.submission,
                "personal": request.user.has_perm(PERSONAL_DETAILS_PERMISSION),
                "rows": [
                    {"number": number, "theme": theme, "tag": tags.get(theme.pk)}
                    for number, theme in enumerate(themes, start=1)
                ],
                "stances": Stance.choices,
                "left": left,
                "total": total,
                "previous_url": self._coding_url(View(pk=previous), queue) if previous else "",
                "suggested": sum(1 for tag in tags.values() if not tag.is_confirmed),
                "campaign": None if context["blind"] else self._campaign(view),
            }
        return context
