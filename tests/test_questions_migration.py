"""
Asking the letter's questions: views already sent through the form answered
the first wording; mail and spreadsheets answered none; nothing new is guessed.
"""

import pytest

from .migrating import latest, migrate

BEFORE = [("feedback", "0021_call_window")]
AFTER = [("feedback", "0022_letter_questions")]


@pytest.mark.django_db(transaction=True)
def test_existing_views_keep_the_question_they_answered_and_new_answers_stay_empty():
    newest = latest()
    apps = migrate(BEFORE)
    try:
        Submission = apps.get_model("feedback", "Submission")
        View = apps.get_model("feedback", "View")
        common = {"role": "doctor", "organisation": "Northfield", "organisation_type": "pct", "region": "london"}
        web = Submission.objects.create(reference="222-222-222", source="web", **common)
        mailed = Submission.objects.create(reference="333-333-333", source="email", **common)
        View.objects.create(submission=web, position=1, element="leadership", text="Back clinical leaders.")
        View.objects.create(submission=mailed, position=1, element="engagement", text="Talk to councils.")

        apps = migrate(AFTER)
        Submission = apps.get_model("feedback", "Submission")
        View = apps.get_model("feedback", "View")
        versions = dict(View.objects.values_list("submission__reference", "question_version"))
        assert versions == {"222-222-222": 1, "333-333-333": None}
        assert set(View.objects.values_list("example", flat=True)) == {""}
        assert set(Submission.objects.values_list("on_behalf_of_organisation", "consent_to_share")) == {(False, False)}
    finally:
        migrate(newest)
