"""
The respondent's journey: start, about you, views (add to a list), principles
and permissions, check your answers, send, receipt.

The answers so far are a draft in the session (kept in the database, so it
survives Redis going away). Nothing is written to the submissions table until
the respondent sends the draft from the check-your-answers page.

Every page of the journey is sent with `Cache-Control: no-store`: they show
a respondent's name, email address and views, which must not stay behind in
a shared computer's cache or a proxy.
"""

import logging
import time
import uuid

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from django_ratelimit.core import is_ratelimited
from redis.exceptions import RedisError

from . import clients, outbox
from .forms import MAX_VIEWS, AboutYouForm, AddAnotherForm, PermissionsForm, SendForm, ViewForm
from .models import Element, Level, OrganisationType, Principle, Region, Role, Source, Submission
from .templatetags.nhsuk import SummaryError

logger = logging.getLogger(__name__)

DRAFT = "draft"


def start(request: HttpRequest) -> HttpResponse:
    return render(request, "feedback/start.html", {"elements": Element})


def privacy(request: HttpRequest) -> HttpResponse:
    return render(request, "feedback/privacy.html")


def accessibility(request: HttpRequest) -> HttpResponse:
    return render(request, "feedback/accessibility.html")


# --- The draft ---------------------------------------------------------------


def _draft(request: HttpRequest) -> dict | None:
    return request.session.get(DRAFT)


def _save_draft(request: HttpRequest, draft: dict) -> None:
    request.session[DRAFT] = draft


def _new_draft(request: HttpRequest) -> dict:
    # The token identifies this submission from the first page to the receipt:
    # sending twice with it makes one submission. The minimum fill time that
    # turns away bots counts from this first save, a time only the server
    # knows: a start time carried in the page could be kept and replayed.
    draft = {"token": str(uuid.uuid4()), "started_at": time.time(), "views": []}
    _save_draft(request, draft)
    return draft


def _next_step(draft: dict | None) -> str:
    """The first part of the journey the draft has not completed."""
    if not draft or "about" not in draft:
        return "give_views_about_you"
    if not draft["views"]:
        return "give_views_add_view"
    if "permissions" not in draft:
        return "give_views_permissions"
    return "give_views_check"


def _after_saving(request: HttpRequest, draft: dict, default: str) -> HttpResponse:
    """Go on to `default`, or back to check your answers when the respondent came from there."""
    if request.GET.get("change") and _next_step(draft) == "give_views_check":
        return redirect("give_views_check")
    return redirect(default)


# --- The steps ---------------------------------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
def about_you(request: HttpRequest) -> HttpResponse:
    draft = _draft(request)
    if request.method == "POST":
        form = AboutYouForm(request.POST)
        if form.is_valid():
            draft = draft or _new_draft(request)
            draft["about"] = form.draft_data()
            _save_draft(request, draft)
            return _after_saving(request, draft, "give_views_views" if draft["views"] else "give_views_add_view")
    else:
        form = AboutYouForm(initial=draft.get("about") if draft else None)
    return render(request, "feedback/about_you.html", {"form": form})


@never_cache
@require_http_methods(["GET", "POST"])
def views_list(request: HttpRequest) -> HttpResponse:
    draft = _draft(request)
    if not draft or "about" not in draft:
        return redirect(_next_step(draft))
    if not draft["views"]:
        return redirect("give_views_add_view")
    can_add = len(draft["views"]) < MAX_VIEWS
    if request.method == "POST":
        form = AddAnotherForm(request.POST, can_add=can_add)
        if form.is_valid():
            if form.cleaned_data["add_another"] == "yes":
                return redirect("give_views_add_view")
            return _after_saving(request, draft, "give_views_permissions")
    else:
        form = AddAnotherForm(can_add=can_add)
    return render(
        request, "feedback/views_list.html", {"form": form, "views": _described_views(draft), "can_add": can_add}
    )


@never_cache
@require_http_methods(["GET", "POST"])
def edit_view(request: HttpRequest, number: int | None = None) -> HttpResponse:
    """Add a view (number is None) or change view `number` (counting from 1)."""
    draft = _draft(request)
    if not draft or "about" not in draft:
        return redirect(_next_step(draft))
    if number is not None and not 1 <= number <= len(draft["views"]):
        return redirect("give_views_views")
    if number is None and len(draft["views"]) >= MAX_VIEWS:
        return redirect("give_views_views")

    if request.method == "POST":
        form = ViewForm(request.POST)
        if form.is_valid():
            if number is None:
                draft["views"].append(form.draft_data())
            else:
                draft["views"][number - 1] = form.draft_data()
            _save_draft(request, draft)
            return _after_saving(request, draft, "give_views_views")
    else:
        form = ViewForm(initial=draft["views"][number - 1] if number else None)
    return render(
        request,
        "feedback/edit_view.html",
        {"form": form, "number": number or len(draft["views"]) + 1, "adding": number is None, "elements": Element},
    )


@never_cache
@require_http_methods(["GET", "POST"])
def remove_view(request: HttpRequest, number: int) -> HttpResponse:
    draft = _draft(request)
    if not draft or not 1 <= number <= len(draft.get("views", [])):
        return redirect(_next_step(draft))
    if request.method == "POST":
        del draft["views"][number - 1]
        _save_draft(request, draft)
        return redirect("give_views_views" if draft["views"] else "give_views_add_view")
    view = _described_views(draft)[number - 1]
    return render(request, "feedback/remove_view.html", {"view": view, "number": number})


@never_cache
@require_http_methods(["GET", "POST"])
def permissions(request: HttpRequest) -> HttpResponse:
    draft = _draft(request)
    if _next_step(draft) not in ("give_views_permissions", "give_views_check"):
        return redirect(_next_step(draft))
    email = draft["about"].get("email", "")
    if request.method == "POST":
        form = PermissionsForm(request.POST, email=email)
        if form.is_valid():
            draft["permissions"] = form.draft_data()
            _save_draft(request, draft)
            return redirect("give_views_check")
    else:
        form = PermissionsForm(initial=draft.get("permissions"), email=email)
    return render(request, "feedback/permissions.html", {"form": form, "has_email": bool(email)})


@never_cache
@require_http_methods(["GET", "POST"])
def check_answers(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _send(request)
    draft = _draft(request)
    if _next_step(draft) != "give_views_check":
        return redirect(_next_step(draft))
    return _check_page(request, draft, SendForm(initial={"token": draft["token"]}))


def _check_page(
    request: HttpRequest, draft: dict, form: SendForm, *, problems: list | None = None, status: int = 200
) -> HttpResponse:
    about = draft["about"]
    context = {
        "form": form,
        "problems": _draft_problems(draft) if problems is None else problems,
        "about": {
            "name": about.get("name"),
            "email": about.get("email"),
            "role": Role(about["role"]).label,
            "organisation": about["organisation"],
            "organisation_type": OrganisationType(about["organisation_type"]).label,
            "region": Region(about["region"]).label,
        },
        "views": _described_views(draft),
        "principles": [Principle(code).label for code in draft["permissions"]["principles"]],
        "permissions": draft["permissions"],
    }
    return render(request, "feedback/check_answers.html", context, status=status)


def _send(request: HttpRequest) -> HttpResponse:
    """Turn the draft into a saved submission: once per token, whatever else is going on."""
    form = SendForm(request.POST)
    posted_token = form.data.get("token", "")

    draft = _draft(request)
    if _next_step(draft) != "give_views_check" or draft["token"] != posted_token:
        # A token that was already used (a resubmission after a network error,
        # the back button after sending) shows the receipt it made. A double
        # click that arrives while the draft is still here is found by
        # Submission.objects.record, below.
        existing = _submission_for_token(posted_token)
        if existing:
            return redirect("give_views_received", token=existing.token)
        return render(request, "feedback/session_ended.html", status=400)

    if _over_rate_limit(request):
        return render(request, "429.html", status=429)

    problems = _draft_problems(draft)
    if not form.is_valid() or problems:
        return _check_page(request, draft, form, problems=problems, status=400)
    if time.time() - draft["started_at"] < settings.QIPP_MIN_FILL_SECONDS:
        form.add_error(None, "Your answers were sent very quickly after you started. Check them and send them again.")
        return _check_page(request, draft, form, status=400)

    # One transaction for the submission and for forgetting its draft: a
    # single commit, and a draft is never forgotten without its submission.
    with transaction.atomic():
        submission, created = Submission.objects.record(
            token=uuid.UUID(draft["token"]),
            views=[
                {"element": view["element"], "level": view["level"], "text": view["text"]} for view in draft["views"]
            ],
            source=Source.WEB,
            **draft["about"],
            **draft["permissions"],
        )
        if created:
            outbox.enqueue_acknowledgement(submission)
        _forget_draft(request)
    return redirect("give_views_received", token=submission.token)


def _draft_problems(draft: dict) -> list[SummaryError]:
    """
    Validate the whole draft again, as it is about to be sent: each page was
    checked when it was saved, but a later change can undo an earlier answer
    (an email address removed after agreeing to be contacted). Each problem
    links to the question on its page.
    """
    pages = [
        (reverse("give_views_about_you"), AboutYouForm(draft["about"])),
        *(
            (reverse("give_views_edit_view", args=[number]), ViewForm(view))
            for number, view in enumerate(draft["views"][:MAX_VIEWS], start=1)
        ),
        (
            reverse("give_views_permissions"),
            PermissionsForm(draft["permissions"], email=draft["about"].get("email", "")),
        ),
    ]
    problems = []
    for url, form in pages:
        for field, errors in form.errors.items():
            anchor = f"#{form[field].id_for_label}" if field in form.fields else ""
            problems.append(SummaryError(errors[0], f"{url}?change=1{anchor}"))
    return problems


def _submission_for_token(token: str) -> Submission | None:
    try:
        return Submission.objects.filter(token=uuid.UUID(token)).first()
    except ValueError:
        return None


def _forget_draft(request: HttpRequest) -> None:
    """Remove the sent draft from the session now, in the caller's transaction."""
    session = request.session
    del session[DRAFT]
    if not session.keys():
        # Nothing else in it (a respondent, not a signed-in member of staff):
        # the session ends, and the response removes its cookie.
        session.flush()
    else:
        session.save()
        session.modified = False


def _over_rate_limit(request: HttpRequest) -> bool:
    """Count this send against the client's allowance. Fails open if the cache is down, and only then."""
    try:
        return is_ratelimited(
            request,
            group="submit",
            key=clients.rate_limit_key,
            rate=settings.QIPP_SUBMIT_RATE,
            method="POST",
            increment=True,
        )
    except (RedisError, OSError):
        logger.warning("Rate limit not checked: the cache is unavailable", exc_info=True)
        return False


@never_cache
def received(request: HttpRequest, token: uuid.UUID) -> HttpResponse:
    submission = get_object_or_404(Submission.objects.prefetch_related("views"), token=token)
    return render(request, "feedback/received.html", {"submission": submission})


# --- Helpers for templates ---------------------------------------------------


def _described_views(draft: dict) -> list[dict]:
    described = []
    for number, view in enumerate(draft["views"], start=1):
        described.append(
            {
                "number": number,
                "element": Element(view["element"]).label,
                "level": Level(view["level"]).label if view.get("level") else "",
                "text": view["text"],
                "change_url": reverse("give_views_edit_view", args=[number]),
                "remove_url": reverse("give_views_remove_view", args=[number]),
            }
        )
    return described


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return render(request, "403_csrf.html", status=403)
