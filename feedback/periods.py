"""ISO weeks in Europe/London: the period a digest covers and a submission belongs to."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings

WEEK = timedelta(weeks=1)


def _zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


@dataclass(frozen=True, order=True)
class Week:
    """One ISO week, from Monday 00:00 local time to the next Monday 00:00."""

    year: int
    number: int

    @classmethod
    def parse(cls, label: str) -> "Week":
        """Read "2026-W47"; ValueError if it is not a real ISO week."""
        year, _, number = label.upper().partition("-W")
        week = cls(int(year), int(number))
        week.monday  # noqa: B018 - raises ValueError for a week the year does not have
        return week

    @property
    def label(self) -> str:
        return f"{self.year}-W{self.number:02d}"

    @property
    def monday(self) -> date:
        return date.fromisocalendar(self.year, self.number, 1)

    @property
    def start(self) -> datetime:
        return datetime.combine(self.monday, time.min, tzinfo=_zone())

    @property
    def end(self) -> datetime:
        return datetime.combine(self.monday + timedelta(days=7), time.min, tzinfo=_zone())

    def previous(self) -> "Week":
        return week_of(self.start - timedelta(days=1))

    def next(self) -> "Week":
        return week_of(self.end)

    def __str__(self) -> str:
        return self.label


def week_of(moment: datetime) -> Week:
    """The ISO week a moment falls in, on the London calendar."""
    year, number, _ = moment.astimezone(_zone()).isocalendar()
    return Week(year, number)
