"""The team's working hours: whether it is open now, when it opens next, and deadlines."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from babel.dates import get_day_names

from bot.config import WEEKDAYS, WorkingHoursSettings


class WorkingHours:
    """Working days and hours in the deployment's time zone."""

    def __init__(self, settings: WorkingHoursSettings, tz: ZoneInfo) -> None:
        self.days = frozenset(WEEKDAYS.index(day) for day in settings.days)
        self.start = settings.start
        self.end = settings.end
        self.tz = tz
        self.day_names = tuple(settings.days)

    def is_open(self, moment: dt.datetime) -> bool:
        local = moment.astimezone(self.tz)
        return local.weekday() in self.days and self.start <= local.time() < self.end

    def next_open(self, moment: dt.datetime) -> dt.datetime:
        """The moment itself when open, else the next opening (timezone-aware)."""
        if self.is_open(moment):
            return moment
        local = moment.astimezone(self.tz)
        for offset in range(8):
            day = local.date() + dt.timedelta(days=offset)
            opening = dt.datetime.combine(day, self.start, self.tz)
            if day.weekday() in self.days and opening > local:
                return opening
        raise ValueError("no working day in a week")  # pragma: no cover: days is never empty

    def deadline(self, created: dt.datetime, minutes: float, urgent: bool) -> dt.datetime:
        """When a first reply is due: urgent tickets count at once, others from the opening."""
        start = created if urgent else self.next_open(created)
        return start + dt.timedelta(minutes=minutes)

    def describe(self, lang: str) -> str:
        """For citizens, in their language: "Mon-Fri 09:00-18:00" (Babel's day names)."""
        names = get_day_names("abbreviated", locale=lang)
        days = sorted(self.days)
        contiguous = days == list(range(days[0], days[-1] + 1))
        if contiguous and len(days) > 2:
            span = f"{names[days[0]]}\u2013{names[days[-1]]}"
        else:
            span = ", ".join(names[d] for d in days)
        return f"{span} {self.start:%H:%M}\u2013{self.end:%H:%M}"
