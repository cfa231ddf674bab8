"""Campaigns: groups of near-identical views (template letters, copy and paste), counted, never deleted."""

from django.db import models
from django.db.models import Q

from .choices import Element
from .submissions import View


class Campaign(models.Model):
    """Views on one element whose words are nearly all the same. Made and grown by feedback.campaigns."""

    element = models.CharField(max_length=20, choices=Element)
    created_at = models.DateTimeField(auto_now_add=True)
    # The earliest member: its text stands for the campaign.
    first_view = models.ForeignKey(View, null=True, on_delete=models.SET_NULL, related_name="+")
    size = models.PositiveIntegerField(default=0, help_text="Views in the campaign.")

    class Meta:
        ordering = ["-size", "pk"]

    def __str__(self) -> str:
        return f"Campaign {self.pk} ({self.size} near-identical views)"


class ViewFingerprint(models.Model):
    """
    A view's MinHash signature over its word pairs: two views' signatures agree
    in about the share of word pairs they have in common. Written once a view
    is grouped, so new views join existing campaigns without a rebuild.
    """

    view = models.OneToOneField(View, primary_key=True, on_delete=models.CASCADE, related_name="fingerprint")
    element = models.CharField(max_length=20, choices=Element)
    signature = models.BinaryField()
    campaign = models.ForeignKey(Campaign, null=True, blank=True, on_delete=models.SET_NULL, related_name="members")
    # False until the view has been compared with the others.
    grouped = models.BooleanField(default=False)

    class Meta:
        indexes = [models.Index(fields=["view"], condition=Q(grouped=False), name="fingerprint_not_grouped")]

    def __str__(self) -> str:
        return f"Fingerprint of {self.view_id}"
