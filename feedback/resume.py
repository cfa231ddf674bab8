"""
Save and come back later.

A respondent can save their draft under an email address and continue from
any device with a link sent there. The link is signed and lasts 28 days; it
names the draft and its current nonce, so it works once (using it clears the
nonce) and asking for a new one replaces it. Opening the link shows a
"Continue" button and does nothing else: mail scanners open links, and only
the button's POST uses it.

Asking for a link writes one row to the outbox whatever the address, and the
links are made as the email goes: an address with no saved answers gets no
email, and the page that asked says the same either way, so nobody learns
whether answers are saved under an address.
"""

import uuid

from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from . import outbox
from .drafts import SAVED_ID, SESSION_KEY, Draft
from .models import KEEP_SAVED_DRAFTS, EmailKind, SavedDraft, new_nonce

SALT = "feedback.resume"


def save_for_later(draft: Draft, email: str) -> SavedDraft:
    """Keep the session's draft under `email` (the one it came from, if it was saved before) and send a link."""
    now = timezone.now()
    with transaction.atomic():
        saved = SavedDraft.objects.select_for_update().filter(pk=draft.data.get(SAVED_ID)).first()
        saved = saved or SavedDraft()
        saved.email = email
        saved.data = {key: value for key, value in draft.data.items() if key != SAVED_ID}
        saved.saved_at = now
        saved.keep(now=now)
        saved.save()
        draft.data[SAVED_ID] = saved.pk
        draft.save()
        ask_for_links(email)
    return saved


def ask_for_links(email: str) -> None:
    """Queue an email with a link to each draft saved under `email`: one outbox row whether or not there are any."""
    outbox.enqueue(EmailKind.RESUME_LINK, key=f"resume:{uuid.uuid4()}", recipient=email)


def make_links(email: str) -> list[tuple[SavedDraft, str]]:
    """As the email goes: a fresh link to each draft saved under `email` (any earlier link stops working)."""
    links = []
    signer = signing.TimestampSigner(salt=SALT)
    for saved in SavedDraft.objects.live().filter(email=email).order_by("saved_at"):
        saved.link_nonce = new_nonce()
        saved.keep()
        saved.save(update_fields=["link_nonce", "kept_until"])
        token = signer.sign(f"{saved.pk}:{saved.link_nonce}")
        links.append((saved, reverse("give_views_resume", args=[token])))
    return links


def _unsigned(token: str) -> tuple[int, str] | None:
    try:
        value = signing.TimestampSigner(salt=SALT).unsign(token, max_age=KEEP_SAVED_DRAFTS)
    except signing.BadSignature:
        return None
    pk, _, nonce = value.partition(":")
    return (int(pk), nonce) if pk.isdigit() and nonce else None


def saved_for(token: str) -> SavedDraft | None:
    """The saved draft a link opens, if the link is genuine, unused, the newest and within 28 days."""
    unsigned = _unsigned(token)
    if unsigned is None:
        return None
    saved = SavedDraft.objects.live().filter(pk=unsigned[0]).first()
    if saved is None or not saved.link_nonce or not constant_time_compare(saved.link_nonce, unsigned[1]):
        return None
    return saved


def resume(token: str, session) -> Draft | None:
    """Use the link: the saved draft becomes the session's (its token kept), and the link stops working."""
    saved = saved_for(token)
    if saved is None:
        return None
    # Of two uses of one link at once, only one clears the nonce it names.
    if not SavedDraft.objects.filter(pk=saved.pk, link_nonce=saved.link_nonce).update(link_nonce=""):
        return None
    session[SESSION_KEY] = {**saved.data, SAVED_ID: saved.pk}
    return Draft.of(session)


def forget_expired(*, now=None) -> int:
    """Delete saved drafts past their 28 days. Returns how many went."""
    deleted, _ = SavedDraft.objects.filter(kept_until__lte=now or timezone.now()).delete()
    return deleted
