"""The scheduler: planned times across days and time zones, jobs, and catch-up after downtime."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import App
from bot.content import ContentPack
from bot.storage.lectures import LivePlan
from scheduler import create_scheduler, jobs, planned_sends
from tests.helpers import Clock
from tests.test_lectures import AppFactory, lecture_fields, make_app, outbox_rows, person

__all__ = ["make_app"]  # the fixture, imported for these tests


async def signed_up_lecture(app: App, start: str = "2025-06-04 18:00", key: str = "1") -> int:
    lecture = await app.lectures.create(app.lectures.validate(lecture_fields(start=start)))
    await app.lectures.act(await person(app, key, "en"), f"attend/{lecture.id}", "html")
    return lecture.id


async def test_planned_sends_in_almaty(make_app: AppFactory, clock: Clock) -> None:
    app = await make_app(live={"channel_id": -100777, "announce_time": "09:30"})
    await signed_up_lecture(app)  # 18:00 in Almaty on 4 June = 13:00 UTC
    await app.broadcasts.set_plan(LivePlan(date(2025, 6, 3), "T", None, "H", "", "20:00"))
    now = clock.now()  # 2 June 09:00 UTC = 14:00 in Almaty
    sends = await planned_sends(
        app.lectures, app.broadcasts, now, datetime(2025, 6, 5, tzinfo=UTC)
    )
    kinds = [(s.at.astimezone(UTC), s.kind) for s in sends]
    assert (datetime(2025, 6, 3, 4, 30, tzinfo=UTC), "live") in kinds
    assert (datetime(2025, 6, 3, 13, 0, tzinfo=UTC), "reminder") in kinds
    assert (datetime(2025, 6, 4, 12, 0, tzinfo=UTC), "reminder") in kinds
    assert (datetime(2025, 6, 4, 4, 30, tzinfo=UTC), "live") in kinds
    alerts = [at for at, kind in kinds if kind == "plan-alert"]
    # 18:00 local = 13:00 UTC; the 2 June check is for 3 June, which has a plan.
    assert alerts == [
        datetime(2025, 6, 3, 13, 0, tzinfo=UTC),
        datetime(2025, 6, 4, 13, 0, tzinfo=UTC),
    ]
    assert [s.at for s in sends] == sorted(s.at for s in sends)


async def test_announcements_follow_local_time_across_dst_and_the_date_line(
    make_app: AppFactory, clock: Clock
) -> None:
    berlin = await make_app(timezone="Europe/Berlin", live={"announce_time": "09:00"})
    summer = berlin.broadcasts.announce_at(date(2025, 6, 2))
    winter = berlin.broadcasts.announce_at(date(2025, 12, 2))
    assert summer.astimezone(UTC) == datetime(2025, 6, 2, 7, 0, tzinfo=UTC)
    assert winter.astimezone(UTC) == datetime(2025, 12, 2, 8, 0, tzinfo=UTC)

    # 23:30 in Los Angeles is the next day in UTC; the plan is keyed by the local date.
    la = await make_app(timezone="America/Los_Angeles", live={"announce_time": "23:30"})
    await la.broadcasts.set_plan(LivePlan(date(2025, 6, 2), "Late show", None, "H", "", "23:45"))
    subscriber = await person(la, "9", "en")
    await la.lectures.set_live_subscription(subscriber, True)
    clock.advance(hours=21, minutes=30)  # 3 June 06:30 UTC = 2 June 23:30 in Los Angeles
    assert await jobs.announce_live(la.broadcasts, clock.now, 60) == 1
    (row,) = outbox_rows(la.settings, "live:")
    assert row["key"] == f"live:2025-06-02:{subscriber.id}"
    assert "Late show" in row["text"]


async def test_daily_triggers_fire_at_local_time(make_app: AppFactory, clock: Clock) -> None:
    app = await make_app(
        timezone="Asia/Almaty", live={"announce_time": "09:00", "plan_check_time": "18:30"}
    )
    schedule = create_scheduler(app.lectures, app.broadcasts, clock.now)
    triggers = schedule.daily_triggers()
    now = clock.now()  # 14:00 in Almaty: today's 09:00 has passed
    assert triggers["live"].get_next_fire_time(None, now) == datetime(2025, 6, 3, 4, 0, tzinfo=UTC)
    assert triggers["plan-check"].get_next_fire_time(None, now) == datetime(
        2025, 6, 2, 13, 30, tzinfo=UTC
    )


async def test_rebuild_makes_one_job_per_future_reminder(
    make_app: AppFactory, clock: Clock
) -> None:
    app = await make_app()
    first = await signed_up_lecture(app, "2025-06-04 18:00")
    soon = await signed_up_lecture(app, "2025-06-02 14:30", key="2")  # 09:30 UTC: 1 h passed
    schedule = create_scheduler(app.lectures, app.broadcasts, clock.now)
    assert await schedule.rebuild() == 2 + 2  # the daily two, and first's 24 h and 1 h
    jobs_by_id = {job.id: job for job in schedule.scheduler.get_jobs()}
    assert jobs_by_id[f"reminder:{first}:24"].trigger.run_date == datetime(
        2025, 6, 3, 13, 0, tzinfo=UTC
    )
    assert jobs_by_id[f"reminder:{first}:1"].trigger.run_date == datetime(
        2025, 6, 4, 12, 0, tzinfo=UTC
    )
    assert not any(job_id.startswith(f"reminder:{soon}:") for job_id in jobs_by_id)

    schedule.lectures.on_change(schedule.rebuild)
    await app.lectures.cancel(first)  # a change rebuilds the jobs
    assert {job.id for job in schedule.scheduler.get_jobs()} == {"live", "plan-check"}


async def test_the_scheduler_starts_in_the_loop_and_shuts_down(
    make_app: AppFactory, clock: Clock
) -> None:
    app = await make_app()
    await signed_up_lecture(app)
    schedule = create_scheduler(app.lectures, app.broadcasts, clock.now)
    await schedule.start()
    try:
        runs = schedule.next_runs()
        assert set(runs) == {"live", "plan-check", "refresh", "reminder:1:24", "reminder:1:1"}
        assert all(run is not None for run in runs.values())
    finally:
        schedule.shutdown()


async def test_catch_up_sends_the_latest_missed_reminder_before_the_lecture(
    make_app: AppFactory, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    app = await make_app(lectures={"reminder_offsets_hours": [24, 1]})
    lecture_id = await signed_up_lecture(app, "2025-06-03 18:00")  # 3 June 13:00 UTC
    schedule = create_scheduler(app.lectures, app.broadcasts, clock.now)
    clock.advance(hours=27, minutes=30)  # down from before both reminders until 12:30 UTC
    queued = await schedule.catch_up()
    assert queued["reminder"] == 1
    (row,) = outbox_rows(app.settings, "reminder:")
    assert row["key"].endswith(":1h:0"), "only the latest one, not both at once"
    assert await schedule.catch_up() == {"reminder": 0, "live": 0, "plan-check": 0}

    clock.advance(hours=1)  # the lecture has started: nothing more
    assert (await schedule.catch_up())["reminder"] == 0
    assert lecture_id


async def test_catch_up_announces_within_grace_and_skips_later(
    make_app: AppFactory, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    app = await make_app(live={"announce_time": "13:30", "grace_minutes": 60})
    subscriber = await person(app, "1", "ru")
    await app.lectures.set_live_subscription(subscriber, True)
    await app.broadcasts.set_plan(LivePlan(date(2025, 6, 2), "T", None, "H", "", "20:00"))
    await app.broadcasts.set_plan(LivePlan(date(2025, 6, 3), "T2", None, "H", "", "20:00"))
    await app.broadcasts.set_plan(LivePlan(date(2025, 6, 4), "T3", None, "H", "", "20:00"))
    schedule = create_scheduler(app.lectures, app.broadcasts, clock.now)
    # 09:00 UTC = 14:00 in Almaty: 30 minutes after 13:30, within the grace period.
    assert (await schedule.catch_up())["live"] == 1
    clock.advance(days=1, minutes=61)  # next day, 61 minutes late
    with caplog.at_level(logging.WARNING):
        assert (await schedule.catch_up())["live"] == 0
    assert "skipped" in caplog.text
    assert [r["key"] for r in outbox_rows(app.settings, "live:")] == [
        f"live:2025-06-02:{subscriber.id}"
    ]
    # The job itself obeys the same rule when APScheduler runs it late.
    assert await jobs.announce_live(app.broadcasts, clock.now, 60) == 0
    clock.advance(days=1, minutes=-31)  # 30 minutes late on 4 June
    assert await jobs.announce_live(app.broadcasts, clock.now, 60) == 1


async def test_the_plan_check_alerts_the_day_before(make_app: AppFactory, clock: Clock) -> None:
    app = await make_app(live={"plan_check_time": "13:00"})
    schedule = create_scheduler(app.lectures, app.broadcasts, clock.now)
    assert (await schedule.catch_up())["plan-check"] == 2  # 14:00 local, 3 June has no plan
    assert await jobs.check_live_plan(app.broadcasts, clock.now) == 0  # already alerted
    rows = outbox_rows(app.settings, "liveplan-missing:2025-06-03:")
    assert len(rows) == 2


async def test_a_reminder_job_really_fires_in_the_event_loop(
    tmp_path: Path, content_pack: ContentPack, shared_core: None
) -> None:
    from bot.app import create_app
    from bot.config import load_settings
    from bot.core.people import utc_now
    from tests.helpers import CONTENT, write_config

    config = write_config(
        tmp_path / "real-clock.yaml",
        {
            "database": {"path": str(tmp_path / "real.sqlite3")},
            "content": {"path": str(CONTENT)},
            "lectures": {"reminder_offsets_hours": [1]},
        },
    )
    app = await create_app(load_settings(config, environ={}), content=content_pack)
    schedule = create_scheduler(app.lectures, app.broadcasts, utc_now)
    try:
        await schedule.start()
        start = utc_now() + timedelta(hours=1, seconds=1)
        local = start.astimezone(app.settings.tz)
        lecture = await app.lectures.create(
            app.lectures.validate(lecture_fields(start=local.strftime("%Y-%m-%d %H:%M")))
            | {"starts_at": start}
        )
        await app.lectures.act(await person(app, "1", "en"), f"attend/{lecture.id}", "html")
        assert f"reminder:{lecture.id}:1" in schedule.next_runs()  # rebuilt after the change
        for _ in range(60):
            if outbox_rows(app.settings, "reminder:"):
                break
            await asyncio.sleep(0.1)
        (row,) = outbox_rows(app.settings, "reminder:")
        assert row["key"] == f"reminder:{lecture.id}:{(await person(app, '1')).id}:1h:0"
    finally:
        schedule.shutdown()
        await app.close()
