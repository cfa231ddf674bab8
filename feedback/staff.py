"""
Staff sign-in with two-factor authentication.

Password first (django-axes locks an account out after repeated failures),
then a code from an authenticator app or a backup code. A staff member with
no device yet sets one up right after their first password sign-in: a QR code
for the app, a code to prove it works, then ten backup codes shown once.
django-otp keeps the devices and verifies codes; these are its screens.
"""

from base64 import b32encode, b64encode
from io import BytesIO
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import PasswordResetConfirmView
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login
from django_otp import match_token, user_has_device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from . import accounts, audit
from .models import AuditAction

BACKUP_CODE_COUNT = 10
APP_DEVICE_NAME = "Authenticator app"
BACKUP_DEVICE_NAME = "Backup codes"


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=16,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}),
    )

    def clean_code(self) -> str:
        return "".join(self.cleaned_data["code"].split()).lower()


def _next_url(request: HttpRequest) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(candidate, {request.get_host()}, require_https=request.is_secure()):
        return candidate
    return "/admin/"


def _to(name: str, request: HttpRequest) -> HttpResponse:
    """Redirect to a sign-in step, carrying where the staff member was going."""
    return redirect(f"{reverse(name)}?{urlencode({'next': _next_url(request)})}")


def _start_idle_timer(request: HttpRequest) -> None:
    # sliding_staff_session saves the session on every request, so this
    # expiry slides: it ends a staff session after so long without a
    # request, not so long after sign-in.
    request.session.set_expiry(settings.QIPP_STAFF_IDLE_SECONDS)


def sliding_staff_session(get_response):
    """
    Middleware: save a staff session on every request it is used in, so its
    idle expiry counts from the last request. A respondent's session is saved
    only when an answer changes: reading a page of the journey writes nothing.
    """

    def middleware(request: HttpRequest) -> HttpResponse:
        response = get_response(request)
        session = request.session
        if session.accessed and "_session_expiry" in session:
            session.modified = True
        return response

    return middleware


@sensitive_post_parameters("password")
@never_cache
@require_http_methods(["GET", "POST"])
def sign_in(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = AuthenticationForm(request, data=request.POST)
        if form.is_valid():
            user = form.get_user()
            if not user.is_staff:
                form.add_error(None, "This account cannot sign in to the policy team's workspace.")
            else:
                auth_login(request, user)
                _start_idle_timer(request)
                return _second_factor(request)
    else:
        if request.user.is_authenticated and request.user.is_staff:
            return _second_factor(request)
        form = AuthenticationForm(request)
    return render(request, "staff/sign_in.html", {"form": form, "next": _next_url(request)})


def _second_factor(request: HttpRequest) -> HttpResponse:
    """Where a staff member goes once their password is accepted."""
    next_url = _next_url(request)
    # Right after a password sign-in request.user is the plain user django-otp
    # has not seen yet: not verified.
    if getattr(request.user, "is_verified", bool)():
        return redirect(next_url)
    if user_has_device(request.user):
        return _to("staff_two_factor", request)
    if settings.QIPP_RELAX_TWO_FACTOR:
        audit.record(AuditAction.SIGNED_IN, request=request, two_factor=False)
        return redirect(next_url)
    return _to("staff_set_up_two_factor", request)


def _signed_in(request: HttpRequest, device) -> None:
    """The second factor passed: the sign-in is complete."""
    otp_login(request, device)
    # A new session key now that the session grants the workspace: one
    # learnt between password and code is worth nothing.
    request.session.cycle_key()
    audit.record(AuditAction.SIGNED_IN, request=request, device=device.name)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    if request.user.is_verified():
        return redirect(_next_url(request))
    if not user_has_device(request.user):
        return _to("staff_set_up_two_factor", request)
    form = CodeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        code = form.cleaned_data["code"]
        device = match_token(request.user, code)
        if device is not None:
            _signed_in(request, device)
            return redirect(_next_url(request))
        replayed = accounts.is_replayed_code(request.user, code)
        audit.record(AuditAction.TWO_FACTOR_REPLAYED if replayed else AuditAction.TWO_FACTOR_FAILED, request=request)
        form.add_error("code", "That code did not work. Check the time on your phone, or use a backup code.")
    return render(request, "staff/verify.html", {"form": form, "next": _next_url(request)})


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def set_up(request: HttpRequest) -> HttpResponse:
    if user_has_device(request.user):
        return _to("staff_two_factor", request)
    device, _ = TOTPDevice.objects.get_or_create(
        user=request.user, confirmed=False, defaults={"name": APP_DEVICE_NAME}
    )
    form = CodeForm(request.POST if request.method == "POST" else None)
    allowed, _ = device.verify_is_allowed()
    if request.method == "POST" and form.is_valid() and not allowed:
        form.add_error("code", "Wait a few seconds, then enter the code the app shows.")
    elif request.method == "POST" and form.is_valid():
        if device.verify_token(form.cleaned_data["code"]):
            codes = _confirm_devices(request, device)
            request.session["backup_codes"] = codes
            return _to("staff_backup_codes", request)
        form.add_error("code", "That code did not work. Scan the QR code again and enter the code the app shows now.")
    return render(
        request,
        "staff/set_up.html",
        {
            "form": form,
            "qr_code": _qr_image(device.config_url),
            "secret": _grouped(device.bin_key),
            "next": _next_url(request),
        },
    )


def _confirm_devices(request: HttpRequest, device: TOTPDevice) -> list[str]:
    with transaction.atomic():
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        backup, _ = StaticDevice.objects.get_or_create(user=request.user, defaults={"name": BACKUP_DEVICE_NAME})
        backup.token_set.all().delete()
        codes = [StaticToken.random_token() for _ in range(BACKUP_CODE_COUNT)]
        StaticToken.objects.bulk_create(StaticToken(device=backup, token=code) for code in codes)
        accounts.two_factor_enrolled(request.user, request=request)
        _signed_in(request, device)
    return codes


@never_cache
@login_required
def backup_codes(request: HttpRequest) -> HttpResponse:
    # Shown once: taken out of the session as they are displayed.
    codes = request.session.pop("backup_codes", None)
    if not codes:
        return redirect(_next_url(request))
    return render(request, "staff/backup_codes.html", {"codes": codes, "next": _next_url(request)})


def _grouped(key: bytes) -> str:
    """The secret as people type it into an app: base32 in groups of four."""
    text = b32encode(key).decode()
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def _qr_image(data: str) -> str:
    """A data: URL of the QR code as SVG, for an <img> (no inline markup to trust)."""
    out = BytesIO()
    # Imported here: only setting up two-factor needs it, and it is large.
    import qrcode
    import qrcode.image.svg

    qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=8).save(out)
    return "data:image/svg+xml;base64," + b64encode(out.getvalue()).decode()


class ChoosePasswordView(PasswordResetConfirmView):
    """The page a password link opens: the owner chooses their password, and is told by email it changed."""

    template_name = "staff/choose_password.html"
    success_url = reverse_lazy("staff_sign_in")
    post_reset_login = False

    def form_valid(self, form):
        response = super().form_valid(form)
        # Whoever holds the link is taken to be its owner.
        accounts.password_changed(form.user, by=form.user, request=self.request)
        messages.success(self.request, "Your password is set. Sign in with it now.")
        return response


choose_password = ChoosePasswordView.as_view()
