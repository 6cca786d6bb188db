"""The scheduled jobs: plain async functions with explicit arguments, calling core services."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.core.broadcasts import BroadcastService
from bot.core.lectures import LectureService

log = logging.getLogger(__name__)


async def send_reminders(lectures: LectureService, lecture_id: int, hours: float) -> int:
    """Queue one lecture's reminder (hours before it starts) for everyone signed up."""
    return await lectures.send_reminders(lecture_id, hours)


async def announce_live(
    broadcasts: BroadcastService, clock: Callable[[], datetime], grace_minutes: int
) -> int:
    """Queue today's live announcement, unless it is later than the grace period allows."""
    now = clock()
    day = now.astimezone(broadcasts.settings.tz).date()
    due = broadcasts.announce_at(day)
    if now < due - timedelta(minutes=5):
        log.warning("live announcement job ran early (%s); nothing sent", now.isoformat())
        return 0
    if now > due + timedelta(minutes=grace_minutes):
        log.warning(
            "live announcement for %s skipped: %d minutes late, beyond the grace period",
            day,
            int((now - due).total_seconds() // 60),
        )
        return 0
    return await broadcasts.announce_live(day)


async def check_live_plan(broadcasts: BroadcastService, clock: Callable[[], datetime]) -> int:
    """Alert the coordinators if tomorrow (local) has no live plan."""
    tomorrow = clock().astimezone(broadcasts.settings.tz).date() + timedelta(days=1)
    return await broadcasts.check_plan(tomorrow)
