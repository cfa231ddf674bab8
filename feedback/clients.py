"""
Who is asking: the client's address, as the rate limit, the lockout and the
audit log all read it.

By default the client is whoever opened the connection (`REMOTE_ADDR`).
Behind proxies, `QIPP_TRUSTED_PROXIES` says how many of them there are. Each
proxy appends the address it received the request from to
`X-Forwarded-For`, so the right-most entries were written by our own proxies
and everything to their left by the client, who can write anything there.
The client is therefore the right-most address that none of our proxies is
standing in for: counting `REMOTE_ADDR` as the last hop, the entry
`QIPP_TRUSTED_PROXIES` places from the right.
"""

import ipaddress
import logging

from django.conf import settings
from django.http import HttpRequest

logger = logging.getLogger(__name__)

# An IPv6 client usually holds a whole /64: counting each address on its own
# would give one client 2^64 allowances.
IPV6_RATE_LIMIT_PREFIX = 64


def _address(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str | None:
    """The client's address, validated; None only when the server was given no address at all."""
    remote = _address(request.META.get("REMOTE_ADDR") or "")
    proxies = settings.QIPP_TRUSTED_PROXIES
    if not proxies:
        return remote
    forwarded = [hop for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    hops = [*forwarded, request.META.get("REMOTE_ADDR") or ""]
    # Fewer hops than proxies: the request came through fewer of them than
    # configured, and the left-most hop is the furthest one we know.
    chosen = hops[max(len(hops) - 1 - proxies, 0)]
    address = _address(chosen)
    if address is None:
        # Written by one of our own proxies, so a misconfiguration rather than
        # an attack: count the request against the nearest proxy instead.
        logger.warning("Unreadable forwarded client address; using the connecting address instead")
        return remote
    return address


def rate_limit_key(group: str, request: HttpRequest) -> str:
    """What the rate limit counts against: the client's address (its /64 for IPv6)."""
    address = client_ip(request)
    if address is None:
        return "unknown"
    if ":" in address:
        return str(ipaddress.ip_network(f"{address}/{IPV6_RATE_LIMIT_PREFIX}", strict=False).network_address)
    return address
