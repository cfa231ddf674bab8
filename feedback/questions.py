"""
The question each view answers, by element, and which version of the wording.

Version 1 was one question for every element ("Your view"). Version 2 asks
what the QIPP letter asks of each element. A view keeps the version it
answered (`View.question_version`), so a reader can see what was asked; mail
and imported spreadsheets answer no question of ours (None).
"""

from dataclasses import dataclass

from .models import Element


@dataclass(frozen=True)
class Question:
    text: str
    hint: str


CURRENT_VERSION = 2

QUESTIONS: dict[int, dict[str, Question]] = {
    1: {element: Question("Your view", "") for element in Element.values},
    2: {
        Element.PRIORITISATION: Question(
            "What should be done once for the whole NHS, what by each region, what by each local health "
            "system, and what by several local systems together?",
            "Tell us about one piece of work and the level where it would be best organised, and why. "
            "Say whether the people and support are there to do it at the scale and pace it needs.",
        ),
        Element.LEADERSHIP: Question(
            "What do you make of the leadership signals being sent, and do boards back clinical leaders "
            "to lead change?",
            "This could be about signals from national bodies or from your own organisation, or whether "
            "clinical leaders get the support to drive change locally and across organisations.",
        ),
        Element.ENGAGEMENT: Question(
            "What would help the NHS engage staff, partners and the public in this challenge?",
            "For example: explaining what the challenge means for your organisation, working with local "
            "authorities, or the links between primary and secondary care and between health and social care.",
        ),
        Element.NATIONAL_POLICY: Question(
            "Which change to national policy is needed, and what local change would it make possible?",
            "Be as specific as you can: the policy, what should change, and what it would let you or "
            "your organisation do.",
        ),
    },
}


def question(element: str, version: int | None = CURRENT_VERSION) -> Question | None:
    """The question a view on `element` answered in `version` (None: it came by mail or spreadsheet)."""
    if version is None:
        return None
    return QUESTIONS[version][Element(element)]


def question_asked(view) -> str:
    """The question as a reader of `view` should see it (its own wording, not today's)."""
    asked = question(view.element, view.question_version)
    if asked is None:
        return "None: it came by email or in a spreadsheet"
    return f"{asked.text} (wording {view.question_version})"
