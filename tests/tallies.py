from collections import Counter

from feedback.models import Submission, SubmissionTally, ViewTally
from feedback.periods import week_of


def assert_tallies_equal_direct_counts() -> None:
    """The dashboard's running totals, against the submissions and views counted one by one."""
    submissions, views = Counter(), Counter()
    for submission in Submission.objects.prefetch_related("views"):
        monday = week_of(submission.received_at).monday
        submissions[monday, submission.status] += 1
        for view in submission.views.all():
            views[monday, view.element, view.level] += 1
    assert {
        (tally.week, tally.status): tally.submissions for tally in SubmissionTally.objects.exclude(submissions=0)
    } == dict(submissions)
    assert {
        (tally.week, tally.element, tally.level): tally.views for tally in ViewTally.objects.exclude(views=0)
    } == dict(views)
