"""
A respondent's draft: the answers so far, page by page, until they send them.

It lives in the session (kept in the database, so it survives Redis going
away); nothing is written to the submissions table until it is sent. Its
one-time token identifies the submission from the first page to the
receipt, so sending twice makes one submission.
"""

import time
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.db import transaction
from django.urls import reverse

from . import outbox
from .forms import MAX_VIEWS, AboutYouForm, PermissionsForm, ViewForm
from .models import Element, Level, SavedDraft, Source, Submission
from .questions import question

SESSION_KEY = "draft"
# In a draft saved for later and resumed: which saved draft it is (the next save updates it; sending deletes it).
SAVED_ID = "saved_id"


@dataclass(frozen=True)
class Problem:
    """Something to put right before sending, and a link to the question on its page."""

    message: str
    href: str = ""


class Draft:
    def __init__(self, session: SessionBase, data: dict):
        self.session = session
        self.data = data

    @classmethod
    def of(cls, session: SessionBase) -> "Draft | None":
        """The session's draft, if the respondent has saved an answer."""
        data = session.get(SESSION_KEY)
        return cls(session, data) if data else None

    @classmethod
    def start(cls, session: SessionBase) -> "Draft":
        # The minimum fill time that turns away bots counts from this first
        # save, a time only the server knows: a start time carried in the page
        # could be kept and replayed.
        return cls(session, {"token": str(uuid.uuid4()), "started_at": time.time(), "views": []})

    # The answers

    @property
    def token(self) -> str:
        return self.data["token"]

    @property
    def about(self) -> dict | None:
        return self.data.get("about")

    @property
    def views(self) -> list[dict]:
        return self.data["views"]

    @property
    def permissions(self) -> dict | None:
        return self.data.get("permissions")

    @property
    def email(self) -> str:
        return (self.about or {}).get("email", "")

    def answer(self, part: str, answers: dict) -> None:
        """Save the answers to one part ("about", "permissions")."""
        self.data[part] = answers
        self.save()

    def set_view(self, number: int | None, view: dict) -> None:
        """Add a view (number None) or change view `number`, counting from 1."""
        if number is None:
            self.views.append(view)
        else:
            self.views[number - 1] = view
        self.save()

    def remove_view(self, number: int) -> None:
        del self.views[number - 1]
        self.save()

    def save(self) -> None:
        self.session[SESSION_KEY] = self.data

    # Where the respondent is

    @property
    def next_step(self) -> str:
        """The first part of the journey not yet answered, as a URL name."""
        return next_step(self)

    def has_view(self, number: int) -> bool:
        return 1 <= number <= len(self.views)

    @property
    def can_add_view(self) -> bool:
        return len(self.views) < MAX_VIEWS

    def described_views(self) -> list[dict]:
        """Each view as the pages show it, with the links to change or remove it."""
        return [
            {
                "number": number,
                "element": Element(view["element"]).label,
                "level": Level(view["level"]).label if view.get("level") else "",
                "text": view["text"],
                "example": view.get("example", ""),
                "question": question(view["element"], view.get("question_version", 1)).text,
                "change_url": reverse("give_views_edit_view", args=[number]),
                "remove_url": reverse("give_views_remove_view", args=[number]),
            }
            for number, view in enumerate(self.views, start=1)
        ]

    # Sending

    def problems(self) -> list[Problem]:
        """
        Every answer checked again, as the draft is about to be sent: each page
        was checked when it was saved, but a later change can undo an earlier
        answer (an email address removed after agreeing to be contacted). Each
        problem links to the question on its page.
        """
        pages = [
            (("give_views_about_you",), AboutYouForm(self.about)),
            *(
                (("give_views_edit_view", number), ViewForm(view))
                for number, view in enumerate(self.views[:MAX_VIEWS], start=1)
            ),
            (("give_views_permissions",), PermissionsForm(self.permissions, email=self.email)),
        ]
        problems = []
        for (page, *args), form in pages:
            for field, errors in form.errors.items():
                anchor = f"#{form[field].id_for_label}" if field in form.fields else ""
                problems.append(Problem(errors[0], f"{reverse(page, args=args)}?change=1{anchor}"))
        return problems

    @property
    def sent_too_soon(self) -> bool:
        return time.time() - self.data["started_at"] < settings.QIPP_MIN_FILL_SECONDS

    def send(self) -> Submission:
        """
        Save the submission, queue its acknowledgement and forget the draft, in
        one transaction: a single commit, and a draft is never forgotten
        without its submission. A token already used returns its submission.
        """
        with transaction.atomic():
            submission, created = Submission.objects.record(
                token=uuid.UUID(self.token),
                views=[
                    {
                        "element": view["element"],
                        "level": view["level"],
                        "text": view["text"],
                        "example": view.get("example", ""),
                        # A draft begun before the questions changed answered the first wording.
                        "question_version": view.get("question_version", 1),
                    }
                    for view in self.views
                ],
                source=Source.WEB,
                **self.about,
                **self.permissions,
            )
            if created:
                outbox.enqueue_acknowledgement(submission)
            if self.data.get(SAVED_ID):
                SavedDraft.objects.filter(pk=self.data[SAVED_ID]).delete()
            self.forget()
        return submission

    def forget(self) -> None:
        """Remove the draft from the session now, in the caller's transaction."""
        session = self.session
        del session[SESSION_KEY]
        if not session.keys():
            # Nothing else in it (a respondent, not a signed-in member of
            # staff): the session ends, and the response removes its cookie.
            session.flush()
        else:
            session.save()
            session.modified = False


def next_step(draft: Draft | None) -> str:
    """Where a respondent with this draft (or none) goes next, as a URL name."""
    if draft is None or draft.about is None:
        return "give_views_about_you"
    if not draft.views:
        return "give_views_add_view"
    if draft.permissions is None:
        return "give_views_permissions"
    return "give_views_check"
