"""
Emerging themes: what the views no theme fits have in common.

After each training, an element's views with no theme on them (none confirmed,
none suggested) are clustered: TF-IDF over their words, then k-means (cosine,
as the vectors are normalised). Each large enough group becomes a proposal
for the leads: the words that mark it, how many views it holds, and the five
views nearest its centre. A lead adds it to the codebook as a theme (named as
they choose) or dismisses it; the open ones are replaced at the next training.
"""

import logging
import math

from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from .models import AuditAction, AuditEvent, Theme, ThemeProposal, ThemeTag, View

logger = logging.getLogger(__name__)

SAMPLE = 20_000  # the newest views no theme fits, at most: enough to see what they share
MIN_VIEWS = 40  # fewer than this and nothing is proposed
MIN_SHARE = 0.03  # a group must hold this share of them (and at least MIN_GROUP views)
MIN_GROUP = 8
MAX_GROUPS = 8
TERMS = 8
EXAMPLES = 5


def unfitted(element: str) -> QuerySet:
    """The element's views with no theme on them: none confirmed, none suggested."""
    return View.objects.filter(element=element).exclude(Exists(ThemeTag.objects.filter(view=OuterRef("pk"))))


def propose_themes(element: str) -> list[ThemeProposal]:
    """Replace the element's open proposals with groups found among the views no theme fits now."""
    from sklearn.cluster import MiniBatchKMeans
    from sklearn.feature_extraction.text import TfidfVectorizer
    from threadpoolctl import threadpool_limits

    rows = list(unfitted(element).order_by("-pk").values_list("pk", "text")[:SAMPLE])
    groups = []
    if len(rows) >= MIN_VIEWS:
        ids = [pk for pk, _ in rows]
        vectorizer = TfidfVectorizer(
            stop_words="english", min_df=2, max_df=0.5, sublinear_tf=True, ngram_range=(1, 2), max_features=30_000
        )
        matrix = vectorizer.fit_transform([text for _, text in rows])
        count = max(2, min(MAX_GROUPS, round(math.sqrt(len(rows) / 20))))
        with threadpool_limits(limits=1):  # as the digest's grouping: threads on a busy machine wait on each other
            clusters = MiniBatchKMeans(n_clusters=count, random_state=2010, n_init=3, batch_size=2048).fit(matrix)
        words = vectorizer.get_feature_names_out()
        smallest = max(MIN_GROUP, math.ceil(len(rows) * MIN_SHARE))
        for number, centre in enumerate(clusters.cluster_centers_):
            members = (clusters.labels_ == number).nonzero()[0]
            if len(members) < smallest:
                continue
            closeness = matrix[members] @ centre
            nearest = members[closeness.argsort()[::-1][:EXAMPLES]]
            groups.append(
                {
                    "terms": [str(words[i]) for i in centre.argsort()[::-1][:TERMS]],
                    "size": len(members),
                    "examples": [ids[i] for i in nearest],
                }
            )
    with transaction.atomic():
        ThemeProposal.objects.filter(element=element, status=ThemeProposal.OPEN).delete()
        proposals = []
        for group in sorted(groups, key=lambda group: -group["size"]):
            proposal = ThemeProposal.objects.create(
                element=element,
                terms=group["terms"],
                size=group["size"],
                unfitted=len(rows),
                example_order=group["examples"],
            )
            proposal.examples.set(group["examples"])
            proposals.append(proposal)
    logger.info("%s: %s emerging theme(s) among %s views no theme fits", element, len(proposals), len(rows))
    return proposals


def accept(proposal: ThemeProposal, *, name: str, by, description: str = "", ip: str | None = None) -> Theme:
    """Add the proposal to the codebook as a theme. Raises IntegrityError if the element has a theme of that name."""
    with transaction.atomic():
        locked = ThemeProposal.objects.select_for_update().get(pk=proposal.pk)
        if locked.status != ThemeProposal.OPEN:
            raise ValueError("This proposal has already been decided.")
        theme = Theme.objects.create(
            element=locked.element,
            name=name,
            description=description or f"Emerging from views no theme fitted: {', '.join(locked.terms[:5])}.",
            created_by=by,
        )
        locked.status, locked.theme, locked.decided_by, locked.decided_at = (
            ThemeProposal.ACCEPTED,
            theme,
            by,
            timezone.now(),
        )
        locked.save(update_fields=["status", "theme", "decided_by", "decided_at"])
        AuditEvent.objects.record(
            AuditAction.THEME_PROPOSAL_DECIDED, by=by, ip=ip, proposal=locked.pk, added_theme=theme.name
        )
    return theme


def dismiss(proposal: ThemeProposal, *, by, ip: str | None = None) -> bool:
    """Not a theme. False if it was already decided."""
    with transaction.atomic():
        changed = ThemeProposal.objects.filter(pk=proposal.pk, status=ThemeProposal.OPEN).update(
            status=ThemeProposal.DISMISSED, decided_by=by, decided_at=timezone.now()
        )
        if changed:
            AuditEvent.objects.record(AuditAction.THEME_PROPOSAL_DECIDED, by=by, ip=ip, proposal=proposal.pk)
    return bool(changed)
