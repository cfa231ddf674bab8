"""
The weekly email summary, from the subscriber's side: their own page to
subscribe (to all elements or some), and the unsubscribe link in every email
(signed; GET asks, POST acts, so a mail client's one-click POST works too).
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.response import TemplateResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from . import emails
from .models import DIGEST_READING_PERMISSION, Element, Subscription


class SubscriptionForm(forms.Form):
    active = forms.BooleanField(label="Send me the weekly summary", required=False)
    elements = forms.MultipleChoiceField(
        label="Elements",
        help_text="Leave all unticked to hear about all four.",
        choices=Element.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )


def subscription(request: HttpRequest) -> HttpResponse:
    """A staff member's own subscription. Reached through the admin site, so signed in with two-factor."""
    if not request.user.has_perm(DIGEST_READING_PERMISSION):
        # The email carries a digest: only those who may read digests subscribe.
        raise PermissionDenied
    current = Subscription.objects.filter(user=request.user).first()
    form = SubscriptionForm(
        request.POST if request.method == "POST" else None,
        initial={"active": bool(current and current.active), "elements": current.elements if current else []},
    )
    if request.method == "POST" and form.is_valid():
        Subscription.objects.update_or_create(
            user=request.user,
            defaults={"active": form.cleaned_data["active"], "elements": form.cleaned_data["elements"]},
        )
        messages.success(
            request,
            "You will get the weekly summary."
            if form.cleaned_data["active"]
            else "You will not get the weekly summary.",
        )
        return redirect("weekly_subscription")
    context = {
        **admin.site.each_context(request),
        "title": "Weekly email summary",
        "form": form,
        "has_email": bool(request.user.email),
    }
    return TemplateResponse(request, "admin/weekly_subscription.html", context)


# An unsubscribe link is signed and only ever turns an email off, so it is
# safe without a CSRF token; mail clients' one-click POST carries none.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    try:
        user = emails.user_for_unsubscribe_token(token)
    except (signing.BadSignature, KeyError, TypeError, get_user_model().DoesNotExist):
        return render(request, "feedback/unsubscribe.html", {"invalid": True}, status=404)
    if request.method == "POST":
        Subscription.objects.filter(user=user).update(active=False)
        return render(request, "feedback/unsubscribe.html", {"done": True})
    return render(request, "feedback/unsubscribe.html")
