"""
The respondent's journey: start, about you, views (add to a list), principles
and permissions, check your answers, send, receipt.

The answers so far are a draft (feedback/drafts.py): nothing is written to
the submissions table until the respondent sends it from the
check-your-answers page.

Every page of the journey is sent with `Cache-Control: no-store`: they show
a respondent's name, email address and views, which must not stay behind in
a shared computer's cache or a proxy.
"""

import logging
import uuid
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.middleware.csp import get_nonce
from django.middleware.csrf import get_token
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from django_ratelimit.core import is_ratelimited
from redis.exceptions import RedisError

from . import changes, clients, outcomes, own, resume, retention
from .call import during_the_call, outside_the_call, window
from .drafts import Draft, next_step
from .forms import AboutYouForm, AddAnotherForm, ElementForm, LinkEmailForm, PermissionsForm, SendForm, ViewForm
from .models import KEEP_SAVED_DRAFTS, CallState, Element, OrganisationType, Principle, Region, Role, Submission
from .questions import question

logger = logging.getLogger(__name__)


def start(request: HttpRequest) -> HttpResponse:
    call = window()
    context = {"elements": Element, "call": call, "state": call.state()}
    if context["state"] == CallState.CLOSED:
        context["outcomes"] = outcomes.are_published()
    return render(request, "feedback/start.html", context)


def outcomes_page(request: HttpRequest) -> HttpResponse:
    """What was done with the views, once the final digest is published: public, anonymous."""
    digest = outcomes.published()
    if digest is None:
        return render(request, "404.html", status=404)
    context = {
        "digest": digest,
        "elements": outcomes.page(digest),
        "proposals": outcomes.proposals(),
        "headline": digest.content["headline"],
    }
    return render(request, "feedback/outcomes.html", context)


def privacy(request: HttpRequest) -> HttpResponse:
    context = {
        "keep_months": settings.QIPP_KEEP_PERSONAL_DATA_MONTHS,
        "removal_date": retention.removal_date(),
        "saved_days": KEEP_SAVED_DRAFTS.days,
    }
    return render(request, "feedback/privacy.html", context)


def accessibility(request: HttpRequest) -> HttpResponse:
    return render(request, "feedback/accessibility.html")


def _after_saving(request: HttpRequest, draft: Draft, default: str) -> HttpResponse:
    """
    Go on to `default`, or back to check your answers when the respondent came
    from there, or to saving for later when they pressed that button.
    """
    if request.POST.get("later"):
        return redirect("give_views_save")
    if request.GET.get("change") and draft.next_step == "give_views_check":
        return redirect("give_views_check")
    return redirect(default)


# --- The steps ---------------------------------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
@during_the_call
def about_you(request: HttpRequest) -> HttpResponse:
    draft = Draft.of(request.session)
    if request.method == "POST":
        form = AboutYouForm(request.POST)
        if form.is_valid():
            draft = draft or Draft.start(request.session)
            draft.answer("about", form.draft_data())
            return _after_saving(request, draft, "give_views_views" if draft.views else "give_views_add_view")
    elif draft is None and not request.GET:
        return _first_visit(request, "feedback/about_you.html", AboutYouForm)
    else:
        form = AboutYouForm(initial=draft.about if draft else None)
    return render(request, "feedback/about_you.html", {"form": form})


# A page that holds no answers is the same for every visitor but for two
# values each response must have afresh: the CSRF token and the nonce of the
# Content Security Policy. It is rendered once per process with a marker in
# each, and each visit joins the pieces around its own values: the first page
# of the journey is the one every respondent opens.
_CSRF_MARK = "csrf-token-of-this-response"
_NONCE_MARK = "nonce-of-this-response"
_FIRST_VISITS: dict[str, list[list[str]]] = {}


def _first_visit(request: HttpRequest, template_name: str, form_class: type) -> HttpResponse:
    pieces = _FIRST_VISITS.get(template_name)
    if pieces is None:
        context = {"form": form_class(), "csrf_token": _CSRF_MARK, "csp_nonce": _NONCE_MARK}
        page = render_to_string(template_name, context, request)
        pieces = [piece.split(_NONCE_MARK) for piece in page.split(_CSRF_MARK)]
        if not settings.DEBUG:  # in development, an edited template shows at once
            _FIRST_VISITS[template_name] = pieces
    nonce = str(get_nonce(request))
    page = get_token(request).join(nonce.join(piece) for piece in pieces)
    return HttpResponse(page)


@never_cache
@require_http_methods(["GET", "POST"])
@during_the_call
def views_list(request: HttpRequest) -> HttpResponse:
    draft = Draft.of(request.session)
    if next_step(draft) in ("give_views_about_you", "give_views_add_view"):
        return redirect(next_step(draft))
    if request.POST.get("later"):
        return redirect("give_views_save")
    form = AddAnotherForm(request.POST if request.method == "POST" else None, can_add=draft.can_add_view)
    if request.method == "POST" and form.is_valid():
        if form.cleaned_data["add_another"] == "yes":
            return redirect("give_views_add_view")
        return _after_saving(request, draft, "give_views_permissions")
    context = {"form": form, "views": draft.described_views(), "can_add": draft.can_add_view}
    return render(request, "feedback/views_list.html", context)


def _view_pages(draft: Draft | None, number: int | None) -> HttpResponse | None:
    """Where to send a respondent who cannot be on a view's page: no answers yet, no such view, or no room."""
    if next_step(draft) == "give_views_about_you":
        return redirect(next_step(draft))
    if (number is not None and not draft.has_view(number)) or (number is None and not draft.can_add_view):
        return redirect("give_views_views")
    return None


@never_cache
@require_http_methods(["GET", "POST"])
@during_the_call
def add_view(request: HttpRequest) -> HttpResponse:
    """A new view, first page: which part of the challenge it is about."""
    draft = Draft.of(request.session)
    if elsewhere := _view_pages(draft, None):
        return elsewhere
    if request.POST.get("later"):
        return redirect("give_views_save")
    form = ElementForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        return redirect("give_views_answer", element=form.cleaned_data["element"])
    number = len(draft.views) + 1
    return render(request, "feedback/choose_element.html", {"form": form, "number": number, "adding": True})


@never_cache
@require_http_methods(["GET", "POST"])
@during_the_call
def answer(request: HttpRequest, element: str) -> HttpResponse:
    """A new view, second page: that part's own question."""
    draft = Draft.of(request.session)
    if elsewhere := _view_pages(draft, None):
        return elsewhere
    if element not in Element.values:
        return redirect("give_views_add_view")
    form = ViewForm(request.POST if request.method == "POST" else None, element=element)
    if request.method == "POST" and form.is_valid():
        draft.set_view(None, form.draft_data())
        return _after_saving(request, draft, "give_views_views")
    context = {"form": form, "number": len(draft.views) + 1, "adding": True, "element": Element(element)}
    return render(request, "feedback/edit_view.html", context)


@never_cache
@require_http_methods(["GET", "POST"])
@during_the_call
def edit_view(request: HttpRequest, number: int) -> HttpResponse:
    """
    Change view `number` (counting from 1): its question page. Coming back
    from choosing another part of the challenge (`?element=`), it asks that
    part's question about the same words, and saves both together.
    """
    draft = Draft.of(request.session)
    if elsewhere := _view_pages(draft, number):
        return elsewhere
    view = draft.views[number - 1]
    element = request.GET.get("element", "")
    element = element if element in Element.values else view["element"]
    if request.method == "POST":
        form = ViewForm(request.POST, element=element)
        if form.is_valid():
            draft.set_view(number, form.draft_data())
            return _after_saving(request, draft, "give_views_views")
    else:
        form = ViewForm(initial={**view, "element": element}, element=element)
    context = {"form": form, "number": number, "adding": False, "element": Element(element)}
    return render(request, "feedback/edit_view.html", context)


@never_cache
@require_http_methods(["GET", "POST"])
@during_the_call
def change_element(request: HttpRequest, number: int) -> HttpResponse:
    """Move view `number` to another part of the challenge: its question page then asks that part's question."""
    draft = Draft.of(request.session)
    if elsewhere := _view_pages(draft, number):
        return elsewhere
    if request.POST.get("later"):
        return redirect("give_views_save")
    view = draft.views[number - 1]
    form = ElementForm(request.POST if request.method == "POST" else None, initial={"element": view["element"]})
    if request.method == "POST" and form.is_valid():
        query = {"element": form.cleaned_data["element"]}
        if request.GET.get("change"):
            query["change"] = "1"
        return redirect(f"{reverse('give_views_edit_view', args=[number])}?{urlencode(query)}")
    return render(request, "feedback/choose_element.html", {"form": form, "number": number, "adding": False})


@never_cache
@require_http_methods(["GET", "POST"])
@during_the_call
def remove_view(request: HttpRequest, number: int) -> HttpResponse:
    draft = Draft.of(request.session)
    if draft is None or not draft.has_view(number):
        return redirect(next_step(draft))
    if request.method == "POST":
        draft.remove_view(number)
        return redirect("give_views_views" if draft.views else "give_views_add_view")
    view = draft.described_views()[number - 1]
    return render(request, "feedback/remove_view.html", {"view": view, "number": number})


@never_cache
@require_http_methods(["GET", "POST"])
@during_the_call
def permissions(request: HttpRequest) -> HttpResponse:
    draft = Draft.of(request.session)
    if next_step(draft) not in ("give_views_permissions", "give_views_check"):
        return redirect(next_step(draft))
    if request.method == "POST":
        form = PermissionsForm(request.POST, email=draft.email)
        if form.is_valid():
            draft.answer("permissions", form.draft_data())
            return _after_saving(request, draft, "give_views_check")
    else:
        form = PermissionsForm(initial=draft.permissions, email=draft.email)
    return render(request, "feedback/permissions.html", {"form": form, "has_email": bool(draft.email)})


@never_cache
@require_http_methods(["GET", "POST"])
@during_the_call
def check_answers(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _send(request)
    draft = Draft.of(request.session)
    if next_step(draft) != "give_views_check":
        return redirect(next_step(draft))
    return _check_page(request, draft, SendForm(initial={"token": draft.token}))


def _check_page(
    request: HttpRequest, draft: Draft, form: SendForm, *, problems: list | None = None, status: int = 200
) -> HttpResponse:
    about, permissions = draft.about, draft.permissions
    about_page, permissions_page = reverse("give_views_about_you"), reverse("give_views_permissions")
    context = {
        "form": form,
        "problems": draft.problems() if problems is None else problems,
        # (question, answer, page, the field's id, the question in the "Change" link's hidden words)
        "about": _answers(
            ("Name", about.get("name") or "Not given (anonymous)", about_page, "id_name", "name"),
            ("Email address", about.get("email") or "Not given", about_page, "id_email", "email address"),
            ("Role", Role(about["role"]).label, about_page, "id_role_0", "role"),
            ("Organisation", about["organisation"] or "Not given", about_page, "id_organisation", "organisation"),
            (
                "Responding on behalf of your organisation",
                "Yes" if about.get("on_behalf_of_organisation") else "No, as an individual",
                about_page,
                "id_on_behalf_of_organisation",
                "whether you respond on behalf of your organisation",
            ),
            (
                "Type of organisation",
                OrganisationType(about["organisation_type"]).label,
                about_page,
                "id_organisation_type",
                "type of organisation",
            ),
            ("Region", Region(about["region"]).label, about_page, "id_region_0", "region"),
        ),
        "views": draft.described_views(),
        "permissions": _answers(
            (
                "Working principles",
                ", ".join(Principle(code).label for code in permissions["principles"]) or "None selected",
                permissions_page,
                "id_principles_0",
                "working principles",
            ),
            (
                "May we quote you without your name?",
                "Yes" if permissions["consent_to_quote"] else "No",
                permissions_page,
                "id_consent_to_quote",
                "whether we may quote you",
            ),
            (
                "May we share your views in full with the operating framework team?",
                "Yes" if permissions.get("consent_to_share") else "No",
                permissions_page,
                "id_consent_to_share",
                "whether we may share your views with the operating framework team",
            ),
            (
                "May we contact you?",
                "Yes" if permissions["consent_to_contact"] else "No",
                permissions_page,
                "id_consent_to_contact",
                "whether we may contact you",
            ),
        ),
    }
    return render(request, "feedback/check_answers.html", context, status=status)


def _answers(*rows: tuple[str, str, str, str, str]) -> list[dict]:
    return [
        {"question": question, "value": value, "page": page, "field": field, "hidden": hidden}
        for question, value, page, field, hidden in rows
    ]


def _send(request: HttpRequest) -> HttpResponse:
    """Turn the draft into a saved submission: once per token, whatever else is going on."""
    form = SendForm(request.POST)
    posted_token = form.data.get("token", "")

    draft = Draft.of(request.session)
    if next_step(draft) != "give_views_check" or draft.token != posted_token:
        # A token that was already used (a resubmission after a network error,
        # the back button after sending) shows the receipt it made. A double
        # click that arrives while the draft is still here is found by
        # Submission.objects.record, in Draft.send.
        existing = _submission_for_token(posted_token)
        if existing:
            return redirect("give_views_received", token=existing.token)
        return render(request, "feedback/session_ended.html", status=400)

    # The pages ask a window kept for a few seconds; sending asks the one saved now.
    closed = outside_the_call(request, fresh=True)
    if closed:
        return closed
    if _over_rate_limit(request):
        return render(request, "429.html", status=429)

    problems = draft.problems()
    if not form.is_valid() or problems:
        return _check_page(request, draft, form, problems=problems, status=400)
    if draft.sent_too_soon:
        form.add_error(None, "Your answers were sent very quickly after you started. Check them and send them again.")
        return _check_page(request, draft, form, status=400)
    return redirect("give_views_received", token=draft.send().token)


def _submission_for_token(token: str) -> Submission | None:
    try:
        return Submission.objects.filter(token=uuid.UUID(token)).first()
    except ValueError:
        return None


def _over_rate_limit(request: HttpRequest, *, group: str = "submit", rate: str | None = None) -> bool:
    """Count this POST against the client's allowance for `group`. Fails open if the cache is down, and only then."""
    try:
        return is_ratelimited(
            request,
            group=group,
            key=clients.rate_limit_key,
            rate=rate or settings.QIPP_SUBMIT_RATE,
            method="POST",
            increment=True,
        )
    except (RedisError, OSError):
        logger.warning("Rate limit not checked: the cache is unavailable", exc_info=True)
        return False


# --- Save and come back later -------------------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
@during_the_call
def save_for_later(request: HttpRequest) -> HttpResponse:
    """Keep the draft under an email address and send a link to it."""
    draft = Draft.of(request.session)
    if draft is None:
        return redirect("give_views_about_you")
    form = LinkEmailForm(request.POST if request.method == "POST" else None, initial={"email": draft.email})
    if request.method == "POST" and form.is_valid():
        if _over_rate_limit(request, group="resume-link", rate=settings.QIPP_RESUME_LINK_RATE):
            return render(request, "429.html", status=429)
        saved = resume.save_for_later(draft, form.cleaned_data["email"])
        context = {"email": saved.email, "kept_until": saved.kept_until, "next_url": reverse(next_step(draft))}
        return render(request, "feedback/saved.html", context)
    return render(request, "feedback/save_for_later.html", {"form": form, "back_url": reverse(next_step(draft))})


@never_cache
@require_http_methods(["GET", "POST"])
@during_the_call
def ask_for_link(request: HttpRequest) -> HttpResponse:
    """A new link to answers saved for later. The page says the same whether or not any are saved."""
    form = LinkEmailForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        if _over_rate_limit(request, group="resume-link", rate=settings.QIPP_RESUME_LINK_RATE):
            return render(request, "429.html", status=429)
        resume.ask_for_links(form.cleaned_data["email"])
        return render(request, "feedback/link_asked.html", {"email": form.cleaned_data["email"]})
    return render(request, "feedback/ask_for_link.html", {"form": form})


@never_cache
@require_http_methods(["GET", "POST"])
@during_the_call
def resume_answers(request: HttpRequest, token: str) -> HttpResponse:
    """
    The link in the email. Opening it changes nothing (mail scanners open
    links); its "Continue" button's POST uses it up and brings the answers
    back into this browser.
    """
    if request.method == "POST":
        draft = resume.resume(token, request.session)
        if draft is not None:
            # Back among their views, rather than straight on to the question after them.
            step = next_step(draft)
            return redirect("give_views_views" if step == "give_views_permissions" else step)
    elif resume.saved_for(token) is not None:
        return render(request, "feedback/resume.html", {"usable": True})
    return render(request, "feedback/resume.html", {"usable": False}, status=410)


# --- A respondent's own submission --------------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
def own_submission_link(request: HttpRequest, signed: str) -> HttpResponse:
    """The link in the receipt email: a button to press (mail scanners open links), then the submission."""
    submission = own.submission_for(signed)
    if submission is None:
        return render(request, "feedback/own_link.html", {"usable": False}, status=404)
    if request.method == "POST":
        own.open_in(request.session, submission)
        return redirect("own_submission")
    return render(request, "feedback/own_link.html", {"usable": True, "reference": submission.reference})


@never_cache
def own_submission(request: HttpRequest) -> HttpResponse:
    """
    The submission this browser opened from its receipt email's link, as it
    stands, with a way to change each view or withdraw it all while the call is open.
    """
    submission = own.opened(request.session)
    if submission is None:
        return render(request, "feedback/own_link.html", {"usable": False}, status=404)
    views = [
        {
            "number": view.position,
            "element": view.get_element_display(),
            "level": view.get_level_display() if view.level else "",
            "question": asked.text if (asked := question(view.element, view.question_version)) else "",
            "text": view.text,
            "example": view.example,
            "changed_at": view.changed_at,
        }
        for view in submission.views.all()
    ]
    call = window()
    context = {
        "submission": submission,
        "views": views,
        "call": call,
        "can_change": not submission.withdrawn and call.state() == CallState.OPEN,
        # Just changed (the change page's redirect says which): a banner says so.
        "changed": next((view["number"] for view in views if str(view["number"]) == request.GET.get("changed")), None),
    }
    return render(request, "feedback/own_submission.html", context)


def _own_changeable(request: HttpRequest) -> tuple[Submission | None, HttpResponse | None]:
    """The opened submission, or the page to show instead: none opened, withdrawn, or (for a GET) the call not open."""
    submission = own.opened(request.session)
    if submission is None:
        return None, render(request, "feedback/own_link.html", {"usable": False}, status=404)
    if submission.withdrawn or (request.method == "GET" and window().state() != CallState.OPEN):
        return None, redirect("own_submission")
    return submission, None


@never_cache
@require_http_methods(["GET", "POST"])
def own_change_view(request: HttpRequest, number: int) -> HttpResponse:
    """Change one view of one's own submission: its words, level and example (its part of the challenge stays)."""
    submission, elsewhere = _own_changeable(request)
    if elsewhere:
        return elsewhere
    view = get_object_or_404(submission.views, position=number)
    if request.method == "POST":
        form = ViewForm(request.POST, element=view.element)
        # Read afresh: a change that arrives after the close is refused, and nothing of it is kept.
        if closed := outside_the_call(request, fresh=True, refusing="change"):
            return closed
        if _over_rate_limit(request, group="own-submission", rate=settings.QIPP_OWN_SUBMISSION_RATE):
            return render(request, "429.html", status=429)
        if form.is_valid():
            try:
                changes.change_view(
                    view,
                    text=form.cleaned_data["text"],
                    level=form.cleaned_data["level"],
                    example=form.cleaned_data["example"],
                )
            except changes.AlreadyWithdrawn:
                return redirect("own_submission")
            return redirect(f"{reverse('own_submission')}?{urlencode({'changed': number})}")
    else:
        form = ViewForm(
            initial={"element": view.element, "text": view.text, "level": view.level, "example": view.example},
            element=view.element,
        )
    context = {"form": form, "number": number, "element": Element(view.element), "submission": submission}
    return render(request, "feedback/own_change_view.html", context)


@never_cache
@require_http_methods(["GET", "POST"])
def own_withdraw(request: HttpRequest) -> HttpResponse:
    """Withdraw one's own submission, after a page that says what that does."""
    submission, elsewhere = _own_changeable(request)
    if elsewhere:
        return elsewhere
    if request.method == "POST":
        if closed := outside_the_call(request, fresh=True, refusing="withdrawal"):
            return closed
        if _over_rate_limit(request, group="own-submission", rate=settings.QIPP_OWN_SUBMISSION_RATE):
            return render(request, "429.html", status=429)
        changes.withdraw(submission)
        return redirect("own_submission")
    return render(request, "feedback/own_withdraw.html", {"submission": submission})


@never_cache
def received(request: HttpRequest, token: uuid.UUID) -> HttpResponse:
    submission = get_object_or_404(Submission.objects.prefetch_related("views"), token=token)
    return render(request, "feedback/received.html", {"submission": submission})


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return render(request, "403_csrf.html", status=403)
