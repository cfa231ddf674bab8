"""
Reading the mailbox: new messages from the IMAP folder in MAILBOX_URL.

Each message is stored (feedback/mail.py) and its UID recorded in one
transaction; only after that commit is it moved to the `Processed` folder.
A crash between fetch and commit costs a re-read, never a loss, and reading a
message twice finds the row already made. A message stored but not yet moved
(a crash after the commit) is moved on the next poll. When the folder's
UIDVALIDITY changes, every message in it is read again, and dedup keeps one row each.
"""

import logging
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from .mail import store
from .models import MailboxState, MessageOrigin, MessageStatus

logger = logging.getLogger(__name__)

PROCESSED = "Processed"
# Fetched together: a few messages, or one large one, per round trip.
FETCH_MESSAGES = 25
FETCH_BYTES = 20 * 1024 * 1024
# A poll stops after this many and leaves the rest to the next minute's.
MAX_PER_POLL = 500
LEASE = timedelta(minutes=10)
TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class MailboxAddress:
    host: str
    port: int
    tls: bool
    username: str
    password: str
    folder: str

    @classmethod
    def from_url(cls, url: str) -> "MailboxAddress":
        """imaps://user:password@host[:port]/FOLDER (imap:// for no TLS, on a trusted network only)."""
        parts = urlsplit(url)
        if parts.scheme not in ("imap", "imaps") or not parts.hostname or not parts.username:
            raise ImproperlyConfigured("MAILBOX_URL looks like imaps://user:password@host/INBOX")
        tls = parts.scheme == "imaps"
        return cls(
            host=parts.hostname,
            port=parts.port or (993 if tls else 143),
            tls=tls,
            username=unquote(parts.username),
            password=unquote(parts.password or ""),
            folder=unquote(parts.path.lstrip("/")) or "INBOX",
        )

    @property
    def label(self) -> str:
        """The mailbox without its password, as stored and shown."""
        return f"{self.username}@{self.host}:{self.port}/{self.folder}"


class MailboxUnavailable(Exception):
    """The server could not be reached or refused us: the next poll tries again."""


def poll(url: str | None = None, *, now: datetime | None = None) -> dict:
    """Store every new message in the folder and move it to Processed. Returns counts."""
    url = url if url is not None else settings.MAILBOX_URL
    if not url:
        return {"mailbox": "off"}
    address = MailboxAddress.from_url(url)
    now = now or timezone.now()
    state, _ = MailboxState.objects.get_or_create(mailbox=address.label)
    leased = MailboxState.objects.filter(Q(leased_until__isnull=True) | Q(leased_until__lt=now), pk=state.pk).update(
        leased_until=now + LEASE
    )
    if not leased:
        return {"mailbox": address.label, "busy": True}
    counts = {"mailbox": address.label, "new": 0, "already_had": 0, "ignored": 0, "quarantined": 0, "moved": 0}
    try:
        with _connect(address) as client:
            _read(client, address, state, counts)
    except (TimeoutError, IMAPClientError, OSError, ssl.SSLError) as error:
        MailboxState.objects.filter(pk=state.pk).update(last_error=f"{type(error).__name__}: {error}"[:2000])
        raise MailboxUnavailable(f"{address.label}: {error}") from error
    finally:
        MailboxState.objects.filter(pk=state.pk).update(leased_until=None)
    MailboxState.objects.filter(pk=state.pk).update(polled_at=timezone.now(), last_error="")
    return counts


def _connect(address: MailboxAddress) -> IMAPClient:
    client = IMAPClient(address.host, port=address.port, ssl=address.tls, timeout=TIMEOUT_SECONDS)
    # INTERNALDATE with its time zone, not converted to the worker's local time.
    client.normalise_times = False
    client.login(address.username, address.password)
    return client


def _read(client: IMAPClient, address: MailboxAddress, state: MailboxState, counts: dict) -> None:
    uidvalidity = client.select_folder(address.folder)[b"UIDVALIDITY"]
    if state.uidvalidity != uidvalidity:
        # Every UID we knew means nothing now: read the folder again from the start.
        state.uidvalidity, state.last_uid = uidvalidity, 0
        MailboxState.objects.filter(pk=state.pk).update(uidvalidity=uidvalidity, last_uid=0)
    if not client.folder_exists(PROCESSED):
        client.create_folder(PROCESSED)

    uids = sorted(client.search("ALL"))
    # Stored by an earlier poll that stopped before moving them.
    _move(client, [uid for uid in uids if uid <= state.last_uid], counts)
    waiting = [uid for uid in uids if uid > state.last_uid][:MAX_PER_POLL]
    sizes = client.fetch(waiting, ["RFC822.SIZE"]) if waiting else {}
    for batch in _batches(waiting, sizes):
        fetched = client.fetch(batch, ["BODY.PEEK[]", "INTERNALDATE"])
        stored = []
        for uid in batch:
            data = fetched.get(uid)
            if data is None:  # expunged by someone else meanwhile
                continue
            with transaction.atomic():
                message, created = store(
                    data[b"BODY[]"], origin=MessageOrigin.MAILBOX, arrived_at=_aware(data.get(b"INTERNALDATE"))
                )
                MailboxState.objects.filter(pk=state.pk).update(last_uid=uid)
            state.last_uid = uid
            counts[_outcome(message.status, created)] += 1
            stored.append(uid)
        _move(client, stored, counts)


def _batches(uids: list[int], sizes: dict) -> list[list[int]]:
    batches, batch, batch_bytes = [], [], 0
    for uid in uids:
        size = sizes.get(uid, {}).get(b"RFC822.SIZE", 0)
        if batch and (len(batch) >= FETCH_MESSAGES or batch_bytes + size > FETCH_BYTES):
            batches.append(batch)
            batch, batch_bytes = [], 0
        batch.append(uid)
        batch_bytes += size
    if batch:
        batches.append(batch)
    return batches


def _move(client: IMAPClient, uids: list[int], counts: dict) -> None:
    if not uids:
        return
    if client.has_capability("MOVE"):
        client.move(uids, PROCESSED)
    else:
        client.copy(uids, PROCESSED)
        client.delete_messages(uids)
        client.uid_expunge(uids) if client.has_capability("UIDPLUS") else client.expunge()
    counts["moved"] += len(uids)


def _aware(when: datetime | None) -> datetime | None:
    if when is None:
        return None
    return when if when.tzinfo else timezone.make_aware(when, timezone.get_default_timezone())


def _outcome(status: str, created: bool) -> str:
    if not created:
        return "already_had"
    return {MessageStatus.IGNORED: "ignored", MessageStatus.QUARANTINED: "quarantined"}.get(status, "new")
