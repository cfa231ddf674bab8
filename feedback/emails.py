"""
Building every email the portal sends (feedback/outbox.py sends them).

Each email is three templates, `templates/emails/<name>-subject.txt`,
`<name>-body.txt` and `<name>-body.html`, built into one multipart message by
`_build`, and one builder function here that turns an outbox row into that
message. Subjects and recipients never come from submitted text.

Every message carries `Auto-Submitted: auto-generated` (RFC 3834), so that
out-of-office replies are not sent back to the portal, and a Message-ID on
the portal's own domain.
"""

import re
from datetime import datetime
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core import signing
from django.core.mail import EmailMultiAlternatives, make_msgid
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from . import call, digest_content, own
from .models import (
    KEEP_SAVED_DRAFTS,
    Digest,
    DigestStatus,
    Element,
    EmailKind,
    Export,
    ExportStatus,
    OutgoingEmail,
    Subscription,
)

UNSUBSCRIBE_SALT = "feedback.weekly-summary.unsubscribe"
WEEKLY_QUOTES = 3


class NotReady(Exception):
    """The email cannot be built yet (its digest is not compiled): try again later."""


class _Unfolded(str):
    """
    A header written on one line as given. Python's email policies fold a long
    header with no spaces into RFC 2047 encoded words, which mail clients do
    not read as a URL: one-click unsubscribe would silently fail.
    """

    def __new__(cls, name: str, value: str) -> "_Unfolded":
        header = super().__new__(cls, value)
        header.name = name
        return header

    def fold(self, *, policy) -> str:
        return f"{self.name}: {self}{policy.linesep}"


class PortalEmail(EmailMultiAlternatives):
    """A multipart email whose `unfolded_headers` are sent exactly as written."""

    unfolded_headers: dict[str, str]

    def message(self, **kwargs):
        message = super().message(**kwargs)
        for name, value in getattr(self, "unfolded_headers", {}).items():
            del message[name]
            message[name] = _Unfolded(name, value)
        return message


def _render(name: str, context: dict) -> tuple[str, str, str]:
    """An email's subject, text body and HTML body from its three templates."""
    context = {"site_url": settings.SITE_URL, **context}
    subject = render_to_string(f"emails/{name}-subject.txt", context)
    # A subject is one line, whatever the template's whitespace.
    subject = " ".join(subject.split())
    return (
        subject,
        render_to_string(f"emails/{name}-body.txt", context),
        render_to_string(f"emails/{name}-body.html", context),
    )


def _message(subject: str, text: str, html: str, *, to: list[str], unfolded: dict | None = None) -> PortalEmail:
    message = PortalEmail(
        subject=subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=to,
        headers={
            "Message-ID": make_msgid(domain=urlsplit(settings.SITE_URL).hostname),
            "Auto-Submitted": "auto-generated",
        },
    )
    message.unfolded_headers = unfolded or {}
    message.attach_alternative(html, "text/html")
    return message


def _build(name: str, context: dict, *, to: list[str]) -> PortalEmail:
    return _message(*_render(name, context), to=to)


def _absolute(path: str) -> str:
    return settings.SITE_URL + path


# --- Acknowledgements --------------------------------------------------------


def acknowledgement(email: OutgoingEmail, shared: dict) -> PortalEmail:
    """The receipt for a respondent: reference, date and elements answered, never their own words."""
    submission = email.submission
    context = {
        "reference": submission.reference,
        "received_at": submission.received_at,
        "elements": submission.elements,
        "start_url": _absolute(reverse("start")),
        "own_url": _absolute(own.link_for(submission)),
        "closes": call.window().closes,
    }
    return _build("acknowledgement", context, to=[email.recipient])


REPLY_PREFIX = re.compile(r"^\s*((re|fw|fwd)\s*:\s*)+", re.IGNORECASE)


def mail_reply(email: OutgoingEmail, shared: dict) -> PortalEmail:
    """
    The receipt for a view sent by email, as a reply in the sender's thread
    (In-Reply-To and References), marked as an automatic reply (RFC 3834).
    """
    submission, message = email.submission, email.in_reply_to
    context = {
        "reference": submission.reference,
        "received_at": submission.received_at,
        "elements": submission.elements,
        "views": submission.views.count(),
        "original_subject": REPLY_PREFIX.sub("", message.subject),
        "start_url": _absolute(reverse("start")),
    }
    reply = _build("mail-reply", context, to=[email.recipient])
    reply.extra_headers["Auto-Submitted"] = "auto-replied"
    if message.message_id:
        reply.extra_headers["In-Reply-To"] = message.message_id
        reply.extra_headers["References"] = " ".join(filter(None, [message.references, message.message_id]))
    return reply


# --- Staff accounts ----------------------------------------------------------


def password_link_url(user) -> str:
    """A link for `user` to choose a password: it works once, and only until PASSWORD_RESET_TIMEOUT."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    return _absolute(reverse("staff_password_reset", args=[uid, token]))


def password_link(email: OutgoingEmail, shared: dict) -> PortalEmail:
    """A staff member's link to choose a password: for a new account, or a reset an administrator sent."""
    context = {
        "username": email.user.get_username(),
        # Made as the email goes, so it is as fresh as it can be.
        "link": password_link_url(email.user),
        "new_account": email.context.get("new_account", False),
        "valid_days": settings.PASSWORD_RESET_TIMEOUT // (24 * 60 * 60),
        "contact_email": settings.QIPP_CONTACT_EMAIL,
    }
    return _build("password-link", context, to=[email.recipient])


def account_change(email: OutgoingEmail, shared: dict) -> PortalEmail:
    """Tells a staff member their password or two-factor set-up changed, so that a change they did not make is seen."""
    context = {
        "username": email.user.get_username(),
        "change": email.context["change"],
        "at": timezone.localtime(datetime.fromisoformat(email.context["at"])),
        "contact_email": settings.QIPP_CONTACT_EMAIL,
    }
    return _build("account-change", context, to=[email.recipient])


def export_ready(email: OutgoingEmail, shared: dict) -> PortalEmail | None:
    """A link to an export the worker made; None once the file is gone (the email is no longer wanted)."""
    export = Export.objects.filter(pk=email.context["export"], status=ExportStatus.READY).first()
    if export is None:
        return None
    context = {
        "file_format": export.file_format.upper(),
        "rows": f"{export.rows_written:,}",
        "row_count": export.rows_written,
        "requested_at": timezone.localtime(export.requested_at),
        "expires_at": timezone.localtime(export.expires_at),
        "url": _absolute(reverse("admin:feedback_submission_export_status", args=[export.pk])),
    }
    return _build("export-ready", context, to=[email.recipient])


def resume_link(email: OutgoingEmail, shared: dict) -> PortalEmail | None:
    """
    Links to the answers saved under the address, made as the email goes;
    None when there are none (nothing is sent, and the request that asked
    learnt nothing either way).
    """
    from . import resume

    links = resume.make_links(email.recipient)
    if not links:
        return None
    context = {
        "links": [{"url": _absolute(path), "saved_at": saved.saved_at} for saved, path in links],
        "link_until": timezone.now() + KEEP_SAVED_DRAFTS,
    }
    return _build("resume-link", context, to=[email.recipient])


def outcome(email: OutgoingEmail, shared: dict) -> PortalEmail:
    """To a respondent who agreed to be contacted: what was done with the views, and where to read it."""
    context = {"url": _absolute(reverse("outcomes")), "start_url": _absolute(reverse("start"))}
    return _build("outcome", context, to=[email.recipient])


# --- The weekly summary ------------------------------------------------------


def unsubscribe_token(user) -> str:
    return signing.Signer(salt=UNSUBSCRIBE_SALT).sign_object({"user": user.pk})


def user_for_unsubscribe_token(token: str):
    """The account an unsubscribe link is for; BadSignature if the link was not made by us."""
    data = signing.Signer(salt=UNSUBSCRIBE_SALT).unsign_object(token)
    return get_user_model().objects.get(pk=data["user"])


def weekly_summary_context(*, digest: Digest, codes: list[str], unsubscribe_url: str) -> dict:
    """What a summary says to subscribers of these elements: the digest as presented, cut to their elements."""
    content = digest_content.present(digest, absolute=True)
    elements = [
        {**element, "top_themes": element["themes"][:3]} for element in content["elements"] if element["code"] in codes
    ]
    # Words withdrawn since the digest was compiled are left out, not shown as "[withdrawn]".
    withdrawn = digest_content.WITHDRAWN_WORDS
    quotes = [
        {**quote, "element": element["label"]}
        for element in elements
        for quote in element["quotes"]
        if quote["text"] != withdrawn
    ][:WEEKLY_QUOTES]
    return {
        "week": content["period"]["label"],
        "digest": digest,
        "digest_title": str(digest),
        "approved": digest.status == DigestStatus.APPROVED,
        "digest_url": _absolute(reverse("admin:feedback_digest_read", args=[digest.pk])),
        "headline": content["headline"],
        "since": content["since_previous"],
        "elements": elements,
        "nothing_new": not any(element["submissions"] for element in elements),
        "quotes": quotes,
        "all_elements": len(codes) == len(Element.values),
        "unsubscribe_url": unsubscribe_url,
        "preferences_url": _absolute(reverse("weekly_subscription")),
    }


# Stands in for each subscriber's own unsubscribe link in a summary rendered
# once for everyone who follows the same elements.
UNSUBSCRIBE_PLACEHOLDER = "UNSUBSCRIBE-LINK-PLACEHOLDER"


def build_weekly_summary(
    *, user, digest: Digest, subscription: Subscription | None, rendered: dict | None = None
) -> PortalEmail:
    """
    One subscriber's weekly summary. Everyone following the same elements
    reads the same words, so `rendered` (kept for a batch) holds each
    audience's rendering and only the unsubscribe link is filled in per person.
    """
    codes = subscription.element_codes if subscription else list(Element.values)
    rendered = {} if rendered is None else rendered
    key = (digest.pk, tuple(codes))
    if key not in rendered:
        context = weekly_summary_context(digest=digest, codes=codes, unsubscribe_url=UNSUBSCRIBE_PLACEHOLDER)
        rendered[key] = _render("weekly-summary", {**context, "subject_prefix": settings.QIPP_WEEKLY_EMAIL_SUBJECT})
    unsubscribe_url = _absolute(reverse("weekly_unsubscribe", args=[unsubscribe_token(user)]))
    subject, text, html = (part.replace(UNSUBSCRIBE_PLACEHOLDER, unsubscribe_url) for part in rendered[key])
    return _message(
        subject,
        text,
        html,
        to=[user.email],
        unfolded={"List-Unsubscribe": f"<{unsubscribe_url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
    )


def weekly_summary(email: OutgoingEmail, shared: dict) -> PortalEmail | None:
    """
    A weekly summary, or None when it is no longer wanted: its subscriber
    unsubscribed, or lost the right to read digests, after it was planned.
    """
    if "subscriptions" not in shared:
        # Checked once for the whole batch, as the emails go.
        users = [row.user_id for row in shared["batch"] if row.kind == EmailKind.WEEKLY_SUMMARY]
        shared["subscriptions"] = {s.user_id: s for s in Subscription.objects.receiving().filter(user_id__in=users)}
        shared["digests"] = {}
        shared["rendered"] = {}
    subscription = shared["subscriptions"].get(email.user_id)
    if subscription is None:
        return None
    if email.digest_id not in shared["digests"]:
        shared["digests"][email.digest_id] = Digest.objects.get(pk=email.digest_id)
    digest = shared["digests"][email.digest_id]
    if not digest.is_compiled:
        raise NotReady("the week's digest is not compiled")
    return build_weekly_summary(user=email.user, digest=digest, subscription=subscription, rendered=shared["rendered"])


# Which function builds each kind of email.
BUILDERS = {
    EmailKind.ACKNOWLEDGEMENT: acknowledgement,
    EmailKind.WEEKLY_SUMMARY: weekly_summary,
    EmailKind.PASSWORD_LINK: password_link,
    EmailKind.ACCOUNT_CHANGE: account_change,
    EmailKind.MAIL_REPLY: mail_reply,
    EmailKind.EXPORT_READY: export_ready,
    EmailKind.RESUME_LINK: resume_link,
    EmailKind.OUTCOME: outcome,
}
