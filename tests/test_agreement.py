"""Agreement figures, checked against values worked out by hand on ten views and three themes."""

import pytest

from feedback.agreement import agreement

VIEWS = range(1, 11)
THEMES = [1, 2, 3]
# The people: theme 1 on views 1-4, theme 2 on 5-7, theme 3 on 8-9.
PEOPLE = {(1, 1), (2, 1), (3, 1), (4, 1), (5, 2), (6, 2), (7, 2), (8, 3), (9, 3)}
# The machine: misses (4, 1) and (7, 2); adds (5, 1) and (10, 3).
MACHINE = {(1, 1), (2, 1), (3, 1), (5, 1), (5, 2), (6, 2), (8, 3), (9, 3), (10, 3)}


def test_positive_agreement_and_kappa_match_the_hand_worked_values():
    # 30 decisions: 7 both yes, 2 only the people, 2 only the machine, 19 both no.
    # Positive agreement = 2*7 / (2*7 + 2 + 2) = 14/18.
    # Observed = 26/30 = 13/15; by chance = (9*9 + 21*21) / 900 = 29/50;
    # kappa = (13/15 - 29/50) / (1 - 29/50) = 43/63.
    figures = agreement(PEOPLE, MACHINE, views=VIEWS, themes=THEMES)

    assert (figures.views, figures.decisions, figures.tags) == (10, 30, 9)
    assert figures.positive_agreement == pytest.approx(14 / 18)
    assert figures.kappa == pytest.approx(43 / 63)


def test_each_theme_has_the_machines_precision_recall_and_f1_against_the_people():
    figures = agreement(PEOPLE, MACHINE, views=VIEWS, themes=THEMES)

    assert figures.per_theme[1] == pytest.approx({"precision": 3 / 4, "recall": 3 / 4, "f1": 3 / 4, "support": 4})
    assert figures.per_theme[2] == pytest.approx({"precision": 1.0, "recall": 2 / 3, "f1": 4 / 5, "support": 3})
    assert figures.per_theme[3] == pytest.approx({"precision": 2 / 3, "recall": 1.0, "f1": 4 / 5, "support": 2})


def test_coders_who_agree_entirely_score_one_and_raw_agreement_is_never_the_measure():
    same = agreement(PEOPLE, PEOPLE, views=VIEWS, themes=THEMES)
    # A coder who says no to everything is right on 21 of 30 decisions, and agrees on nothing that matters.
    silent = agreement(PEOPLE, set(), views=VIEWS, themes=THEMES)

    assert (same.positive_agreement, same.kappa) == (1.0, 1.0)
    assert silent.positive_agreement == 0
    assert silent.kappa == pytest.approx(0)


def test_pairs_outside_the_views_and_themes_compared_are_left_out():
    figures = agreement(PEOPLE | {(99, 1)}, MACHINE | {(1, 99)}, views=VIEWS, themes=THEMES)

    assert figures.tags == 9
    assert figures.positive_agreement == pytest.approx(14 / 18)
