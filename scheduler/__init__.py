"""APScheduler jobs calling core services (lectures, reminders, the daily announcement)."""

# The database is the source of truth: the jobs are rebuilt from it at start-up, after every
# change to the schedule and every few minutes, and what downtime missed is caught up by the
# rules of Schedule.catch_up(). Every send is idempotent through the outbox's keys, so running a
# job twice is safe.

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.core.broadcasts import BroadcastService, parse_time
from bot.core.lectures import LectureService
from scheduler import jobs

log = logging.getLogger(__name__)

REFRESH_SECONDS = 300

__all__ = ["PlannedSend", "Schedule", "create_scheduler", "planned_sends"]


@dataclass(frozen=True, slots=True)
class PlannedSend:
    """One planned send: when (UTC), what, and how many recipients it has now."""

    at: datetime
    kind: str
    description: str
    recipients: int


async def planned_sends(
    lectures: LectureService, broadcasts: BroadcastService, now: datetime, until: datetime
) -> list[PlannedSend]:
    """Every send planned in [now, until), soonest first (for the preview and for tests)."""
    settings = lectures.settings
    found: list[PlannedSend] = []
    for lecture in await lectures.repo.upcoming(now, limit=10_000):
        attendees = await lectures.repo.attendee_count(lecture.id)
        for hours in settings.lectures.reminder_offsets_hours:
            at = lectures.reminder_time(lecture, hours)
            if now <= at < until:
                found.append(
                    PlannedSend(
                        at,
                        "reminder",
                        f"lecture {lecture.id} “{lecture.title}”, {hours:g} h before",
                        attendees,
                    )
                )
    subscribers = await broadcasts.audience_size("live")
    channel = 1 if settings.live.channel_id is not None else 0
    day = now.astimezone(settings.tz).date() - timedelta(days=1)
    while True:
        announce = broadcasts.announce_at(day)
        if announce.astimezone(now.tzinfo) >= until:
            break
        if now <= announce:
            plan = await broadcasts.plan_for(day)
            if plan is None:
                found.append(PlannedSend(announce, "live", f"{day}: no plan, nothing sent", 0))
            else:
                found.append(
                    PlannedSend(announce, "live", f"{day}: “{plan.title}”", subscribers + channel)
                )
        check = _at(day, settings.live.plan_check_time, settings.tz)
        if now <= check < until and await broadcasts.plan_for(day + timedelta(days=1)) is None:
            found.append(
                PlannedSend(
                    check,
                    "plan-alert",
                    f"{day + timedelta(days=1)} has no live plan: coordinators alerted",
                    len(settings.coordinators),
                )
            )
        day += timedelta(days=1)
    found.sort(key=lambda s: s.at)
    return found


def _at(day: date, hhmm: str, tz: Any) -> datetime:
    return datetime.combine(day, parse_time(hhmm), tz)


class Schedule:
    """The AsyncIOScheduler with the jobs built from the database."""

    def __init__(
        self,
        lectures: LectureService,
        broadcasts: BroadcastService,
        clock: Callable[[], datetime],
        scheduler: AsyncIOScheduler | None = None,
    ) -> None:
        self.lectures = lectures
        self.broadcasts = broadcasts
        self.clock = clock
        self.settings = lectures.settings
        self.scheduler = scheduler or AsyncIOScheduler(timezone=self.settings.tz)

    def daily_triggers(self) -> dict[str, CronTrigger]:
        live = self.settings.live
        triggers = {}
        for name, hhmm in (("live", live.announce_time), ("plan-check", live.plan_check_time)):
            moment = parse_time(hhmm)
            triggers[name] = CronTrigger(
                hour=moment.hour, minute=moment.minute, timezone=self.settings.tz
            )
        return triggers

    async def rebuild(self) -> int:
        """Replace every job with those the database implies now; returns how many."""
        for job in self.scheduler.get_jobs():
            if job.id.startswith("reminder:"):
                job.remove()
        grace = self.settings.live.grace_minutes
        triggers = self.daily_triggers()
        self.scheduler.add_job(
            jobs.announce_live,
            triggers["live"],
            args=[self.broadcasts, self.clock, grace],
            id="live",
            misfire_grace_time=grace * 60 or 1,
            coalesce=True,
            replace_existing=True,
        )
        self.scheduler.add_job(
            jobs.check_live_plan,
            triggers["plan-check"],
            args=[self.broadcasts, self.clock],
            id="plan-check",
            misfire_grace_time=3600,
            coalesce=True,
            replace_existing=True,
        )
        now = self.clock()
        count = 2
        for lecture in await self.lectures.repo.upcoming(now, limit=10_000):
            for hours in self.settings.lectures.reminder_offsets_hours:
                at = self.lectures.reminder_time(lecture, hours)
                if at <= now:
                    continue
                self.scheduler.add_job(
                    jobs.send_reminders,
                    DateTrigger(at),
                    args=[self.lectures, lecture.id, hours],
                    id=f"reminder:{lecture.id}:{hours:g}",
                    # Late is fine while the lecture has not started; the job checks that.
                    misfire_grace_time=None,
                    replace_existing=True,
                )
                count += 1
        log.info("scheduler: %d job(s) built from the database", count)
        return count

    async def catch_up(self) -> dict[str, int]:
        """Send what downtime missed: see the module's rules; returns messages queued by kind."""
        now = self.clock()
        queued = {"reminder": 0, "live": 0, "plan-check": 0}
        for lecture in await self.lectures.repo.upcoming(now, limit=10_000):
            missed = [
                hours
                for hours in self.settings.lectures.reminder_offsets_hours
                if self.lectures.reminder_time(lecture, hours) <= now
            ]
            if missed:
                # Only the latest reminder that is due: two at once would say the same thing.
                queued["reminder"] += await jobs.send_reminders(
                    self.lectures, lecture.id, min(missed)
                )
        today = now.astimezone(self.settings.tz).date()
        due = self.broadcasts.announce_at(today)
        grace = timedelta(minutes=self.settings.live.grace_minutes)
        if due <= now <= due + grace:
            queued["live"] = await self.broadcasts.announce_live(today)
        elif now > due + grace and not await self.broadcasts.announced(today):
            log.warning(
                "live announcement for %s missed during downtime and skipped (%d minutes late)",
                today,
                int((now - due).total_seconds() // 60),
            )
        check = _at(today, self.settings.live.plan_check_time, self.settings.tz)
        if check <= now:
            queued["plan-check"] = await self.broadcasts.check_plan(today + timedelta(days=1))
        return queued

    async def start(self) -> None:
        """Build the jobs, catch up on downtime, start, and rebuild after every change."""
        await self.rebuild()
        await self.catch_up()
        self.lectures.on_change(self.rebuild)
        # Lectures imported from the command line (another process) are picked up this way.
        self.scheduler.add_job(
            self.rebuild,
            IntervalTrigger(seconds=REFRESH_SECONDS),
            id="refresh",
            coalesce=True,
            replace_existing=True,
        )
        self.scheduler.start()

    def shutdown(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    def next_runs(self) -> dict[str, datetime | None]:
        return {job.id: job.next_run_time for job in self.scheduler.get_jobs()}


def create_scheduler(
    lectures: LectureService,
    broadcasts: BroadcastService,
    clock: Callable[[], datetime],
    scheduler: AsyncIOScheduler | None = None,
) -> Schedule:
    """The schedule over the bot's event loop (AsyncIOScheduler); call start() in that loop."""
    return Schedule(lectures, broadcasts, clock, scheduler)
