"""
How far two coders agree on which themes fit which views: the machine and
the people, or two reviewers.

Each (view, theme) pair is a yes/no decision. Most themes are absent from most
views, so raw agreement over all pairs is near 100% whatever the coders do and
is never reported. Instead:

- positive agreement: 2·both / (2·both + only first + only second), the micro-F1
  over the pairs either coder said yes to;
- Cohen's kappa over every yes/no decision, which discounts the agreement that
  chance alone would give;
- per theme, the second coder's precision, recall and F1 against the first.
"""

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

Pair = tuple[int, int]  # (view id, theme id)


@dataclass
class Agreement:
    views: int
    decisions: int
    # Pairs the first coder (the people, or the first reviewer) said yes to.
    tags: int
    positive_agreement: float | None
    kappa: float | None
    per_theme: dict[int, dict] = field(default_factory=dict)

    def as_dict(self) -> dict:
        data = asdict(self)
        data["per_theme"] = {str(theme): figures for theme, figures in self.per_theme.items()}
        return data


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def agreement(first: set[Pair], second: set[Pair], *, views: Iterable[int], themes: Iterable[int]) -> Agreement:
    """Agreement between two coders' yes-pairs, over every decision on `views` x `themes`."""
    views, themes = set(views), set(themes)
    first = {pair for pair in first if pair[0] in views and pair[1] in themes}
    second = {pair for pair in second if pair[0] in views and pair[1] in themes}
    total = len(views) * len(themes)
    both = len(first & second)
    only_first, only_second = len(first - second), len(second - first)
    neither = total - both - only_first - only_second
    kappa = None
    if total:
        observed = (both + neither) / total
        first_yes, second_yes = both + only_first, both + only_second
        expected = (first_yes * second_yes + (total - first_yes) * (total - second_yes)) / total**2
        kappa = (observed - expected) / (1 - expected) if expected < 1 else None
    per_theme = {}
    for theme in sorted(themes):
        said_first = {view for view, t in first if t == theme}
        said_second = {view for view, t in second if t == theme}
        hits = len(said_first & said_second)
        precision, recall = _ratio(hits, len(said_second)), _ratio(hits, len(said_first))
        f1 = _ratio(2 * hits, len(said_first) + len(said_second))
        per_theme[theme] = {"precision": precision, "recall": recall, "f1": f1, "support": len(said_first)}
    return Agreement(
        views=len(views),
        decisions=total,
        tags=len(first),
        positive_agreement=_ratio(2 * both, 2 * both + only_first + only_second),
        kappa=kappa,
        per_theme=per_theme,
    )
