"""
When the call for views is open (`CallWindow`, set by Administrators).

Every page of the respondent's journey asks, so each process keeps the window
it last read for a few seconds rather than reading it on every request: a
changed window reaches every process within that time (at once in the process
that saved it). Sending, which must be refused once the call has closed, reads
it afresh. Comparing with the clock is always exact: only a change to the
window itself takes those seconds to be seen.
"""

import functools
import time

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .models import CallState, CallWindow

KEPT_FOR_SECONDS = 10

_kept: tuple[float, CallWindow] | None = None


def window(*, fresh: bool = False) -> CallWindow:
    """The call's window (an unsaved, open-ended one when none has been set)."""
    global _kept
    now = time.monotonic()
    if fresh or _kept is None or _kept[0] <= now:
        _kept = (now + KEPT_FOR_SECONDS, CallWindow.objects.filter(pk=1).first() or CallWindow())
    return _kept[1]


@receiver(post_save, sender=CallWindow)
@receiver(post_delete, sender=CallWindow)
def _forget(**kwargs) -> None:
    global _kept
    _kept = None


def outside_the_call(request: HttpRequest, *, fresh: bool = False, refusing: str = "answers") -> HttpResponse | None:
    """
    The page saying the call is not open (refusing a form sent to it: the
    respondent's "answers", a "change" or a "withdrawal"), or None while it is open.
    """
    call = window(fresh=fresh)
    state = call.state()
    if state == CallState.OPEN:
        return None
    refused = request.method == "POST"
    return render(
        request,
        "feedback/call_not_open.html",
        {"call": call, "closed": state == CallState.CLOSED, "refused": refused and refusing},
        status=403 if refused else 200,
    )


def during_the_call(view):
    """A page of the respondent's journey: only while the call is open."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        return outside_the_call(request) or view(request, *args, **kwargs)

    return wrapped
