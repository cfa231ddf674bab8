"""Aggregate figures for the policy team's dashboard (the admin's landing page)."""

from datetime import datetime


def summary(*, now: datetime, weeks: int = 12) -> dict:
    raise NotImplementedError
