"""
A respondent's own submission, opened from the link in their receipt email.

The link is the submission's one-time token signed for this purpose alone
(the receipt page's address, which carries the bare token, opens nothing
here). Opening it shows a button and nothing else, since mail scanners open
links; the button's POST lets this browser's session see the submission.
"""

from django.core import signing
from django.urls import reverse

from .models import Submission

SALT = "feedback.own-submission"
SESSION_KEY = "own_submission"


def link_for(submission: Submission) -> str:
    """The path of the link a receipt email carries."""
    return reverse("own_submission_link", args=[signing.Signer(salt=SALT).sign(str(submission.token))])


def submission_for(signed: str) -> Submission | None:
    """The submission a link names, if the link is genuine."""
    try:
        token = signing.Signer(salt=SALT).unsign(signed)
    except signing.BadSignature:
        return None
    return Submission.objects.filter(token=token).first()


def open_in(session, submission: Submission) -> None:
    session[SESSION_KEY] = submission.pk


def opened(session) -> Submission | None:
    """The submission this browser opened from its link, if any."""
    pk = session.get(SESSION_KEY)
    return Submission.objects.filter(pk=pk).prefetch_related("views").first() if pk else None
