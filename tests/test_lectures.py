"""Lectures, sign-ups, reminders, calendar files, subscriptions, announcements, live plan."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.app import App, create_app
from bot.config import Settings, load_settings
from bot.content import ContentPack
from bot.core.ics import read_calendar
from bot.core.lectures import LectureError
from bot.storage import Person
from bot.storage.lectures import LivePlan
from tests.helpers import CONTENT, Clock, write_config

AppFactory = Callable[..., Awaitable[App]]


@pytest.fixture
async def make_app(
    tmp_path: Path, content_pack: ContentPack, clock: Clock, shared_core: None
) -> AsyncIterator[AppFactory]:
    """Apps on their own database and config; keyword arguments are extra config keys."""
    opened: list[App] = []

    async def factory(**config: Any) -> App:
        path = tmp_path / f"config-{len(opened)}.yaml"
        data = {
            "database": {
                "path": str(tmp_path / f"db-{len(opened)}.sqlite3"),
                "event_flush_seconds": 0,
            },
            "content": {"path": str(CONTENT)},
            "coordinators": [7001, 7002],
            **config,
        }
        settings = load_settings(write_config(path, data), environ={})
        app = await create_app(settings, content=content_pack, clock=clock.now)
        opened.append(app)
        return app

    yield factory
    for app in opened:
        await app.close()


def lecture_fields(**overrides: str) -> dict[str, str]:
    fields = {
        "title": "Traditional Islam & the law",
        "lecturer": "Dr. Serik Akhmetov",
        "venue": "City library, hall 2",
        "city": "Almaty",
        "audience": "students",
        "language": "ru",
        "start": "2025-06-03 18:00",
        "duration": "90",
    }
    fields.update(overrides)
    return fields


async def person(app: App, key: str, lang: str | None = "ru", channel: str = "telegram") -> Person:
    found, _ = await app.people.identify(channel, key, lang)
    return found


def outbox_rows(settings: Settings, prefix: str = "") -> list[sqlite3.Row]:
    with sqlite3.connect(settings.database.path) as conn:
        conn.row_factory = sqlite3.Row
        return list(
            conn.execute(
                "SELECT * FROM outbox WHERE key LIKE ? ORDER BY key", (prefix + "%",)
            ).fetchall()
        )


# --- validation --------------------------------------------------------------------------------


async def test_every_bad_field_is_named(app: App) -> None:
    with pytest.raises(LectureError) as caught:
        app.lectures.validate(
            lecture_fields(
                title="",
                language="de",
                start="tomorrow",
                duration="5",
                venue="",
                link="ftp://x",
                audience="aliens",
                topic_id="no-such-topic",
            )
        )
    named = {problem.split(":")[0] for problem in caught.value.problems}
    assert named == {"title", "language", "start", "duration", "link", "audience", "topic_id"}
    with pytest.raises(LectureError, match="start: must be in the future"):
        app.lectures.validate(lecture_fields(start="2025-06-01 10:00"))


async def test_the_start_is_local_time_stored_in_utc(app: App) -> None:
    fields = app.lectures.validate(lecture_fields(start="03.06.2025 18:00"))
    assert fields["starts_at"] == datetime(2025, 6, 3, 13, 0, tzinfo=UTC)  # Almaty is UTC+5


# --- citizens ----------------------------------------------------------------------------------


async def test_listing_with_city_filter_sign_up_and_cancel(app: App) -> None:
    almaty = await app.lectures.create(app.lectures.validate(lecture_fields()))
    astana = await app.lectures.create(
        app.lectures.validate(lecture_fields(city="Astana", title="Youth and faith"))
    )
    citizen = await person(app, "1")
    reply = await app.lectures.listing(citizen, None, "html")
    assert "Traditional Islam &amp; the law" in reply.text
    assert "03.06.2025 18:00 · Almaty" in reply.text
    assert ("lecture", f"attend/{almaty.id}") in [(a.kind, a.value) for a in reply.actions]
    assert ("lecture", "city/Astana") in [(a.kind, a.value) for a in reply.actions]

    only_astana = await app.lectures.listing(citizen, "Astana", "plain")
    assert "Youth and faith" in only_astana.text
    assert "Traditional Islam" not in only_astana.text

    outcome = await app.lectures.act(citizen, f"attend/{astana.id}", "html")
    assert "Youth and faith" in outcome.reply.text
    again = await app.lectures.listing(citizen, "Astana", "plain")
    assert ("lecture", f"unattend/{astana.id}") in [(a.kind, a.value) for a in again.actions]
    assert await app.lectures.repo.attendee_count(astana.id) == 1

    await app.lectures.act(citizen, f"unattend/{astana.id}", "html")
    assert await app.lectures.repo.attendee_count(astana.id) == 0


async def test_a_forged_or_stale_button_is_answered_politely(app: App) -> None:
    citizen = await person(app, "1", "en")
    for value in ("attend/999", "attend/x", "explode/1", "ics/"):
        outcome = await app.lectures.act(citizen, value, "html")
        assert outcome.reply.text == "This lecture is no longer available."
        assert outcome.document is None


async def test_add_to_calendar_gives_an_rfc5545_file(app: App) -> None:
    lecture = await app.lectures.create(
        app.lectures.validate(
            lecture_fields(title="Long title, with; special\\ characters " + "ы" * 60)
        )
    )
    outcome = await app.lectures.act(await person(app, "1"), f"ics/{lecture.id}", "html")
    assert outcome.document is not None
    raw = outcome.document.content
    assert outcome.document.filename.endswith(".ics")
    assert raw.count(b"\r\n") == raw.count(b"\n"), "every line ends with CRLF"
    assert all(len(line) <= 75 for line in raw.split(b"\r\n")), "lines are folded"
    text = raw.decode("utf-8")
    assert "DTSTART:20250603T130000Z" in text
    assert "DTEND:20250603T143000Z" in text
    assert f"UID:{lecture.uid}" in text
    assert "DTSTAMP:20250602T090000Z" in text
    assert "SUMMARY:Long title\\, with\\; special\\\\ characters" in text.replace("\r\n ", "")
    ((_line, event),) = read_calendar(text, UTC)
    assert not isinstance(event, Exception)
    assert event.summary.startswith("Long title, with; special\\ characters ыы")
    assert event.start == lecture.starts_at
    assert event.extra["city"] == "Almaty"


async def test_forget_erases_sign_ups_and_subscriptions(app: App) -> None:
    lecture = await app.lectures.create(app.lectures.validate(lecture_fields()))
    citizen = await person(app, "1")
    await app.lectures.act(citizen, f"attend/{lecture.id}", "html")
    await app.lectures.set_live_subscription(citizen, True)
    await app.lectures.act(citizen, "notify/Almaty", "html")
    with sqlite3.connect(app.settings.database.path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM lecture_signups").fetchone()[0] == 1
        assert conn.execute("SELECT COUNT(*) FROM subscriptions").fetchone()[0] == 2
    await app.people.forget(citizen)
    with sqlite3.connect(app.settings.database.path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM lecture_signups").fetchone()[0] == 0
        assert conn.execute("SELECT COUNT(*) FROM subscriptions").fetchone()[0] == 0


async def test_live_shows_the_next_broadcast_and_toggles_the_subscription(
    app: App, clock: Clock
) -> None:
    citizen = await person(app, "1", "en")
    reply = await app.lectures.live(citizen)
    assert reply.text.startswith("No live broadcast is planned yet.")
    assert [(a.kind, a.value) for a in reply.actions] == [("live", "sub")]
    # 09:00 UTC is 14:00 in Almaty: today's 13:00 broadcast is over, tomorrow's is next.
    await app.broadcasts.set_plan(LivePlan(date(2025, 6, 2), "Over", None, "Host A", "", "13:00"))
    await app.broadcasts.set_plan(
        LivePlan(date(2025, 6, 3), "Jihad: the meaning", None, "Ustaz Nurlan", "", "20:00")
    )
    reply = await app.lectures.live(citizen)
    assert "“Jihad: the meaning” with Ustaz Nurlan, 03.06.2025 20:00" in reply.text
    await app.lectures.set_live_subscription(citizen, True)
    reply = await app.lectures.live(citizen)
    assert [(a.kind, a.value) for a in reply.actions] == [("live", "unsub")]
    await app.lectures.set_live_subscription(citizen, False)
    assert await app.broadcasts.audience_size("live") == 0


# --- coordinators' changes notify attendees ----------------------------------------------------


async def test_cancel_and_move_notify_everyone_signed_up(app: App, clock: Clock) -> None:
    lecture = await app.lectures.create(app.lectures.validate(lecture_fields()))
    ru = await person(app, "1", "ru")
    kk = await person(app, "2", "kk")
    await person(app, "3", "en")  # not signed up
    for citizen in (ru, kk):
        await app.lectures.act(citizen, f"attend/{lecture.id}", "html")

    moved = await app.lectures.update(
        lecture.id, app.lectures.validate(lecture_fields(start="2025-06-05 18:00"))
    )
    assert moved.status == "moved"
    assert moved.sequence == 1
    rows = outbox_rows(app.settings, "moved:")
    assert [r["chat_id"] for r in rows] == ["1", "2"]
    assert "05.06.2025 18:00" in rows[0]["text"]

    await app.lectures.cancel(lecture.id)
    rows = outbox_rows(app.settings, "cancelled:")
    assert len(rows) == 2
    assert "will not take place" not in rows[0]["text"]  # translated for ru
    assert (await app.lectures.repo.get(lecture.id)).status == "cancelled"  # type: ignore[union-attr]
    assert await app.lectures.upcoming() == []
    await app.lectures.cancel(lecture.id)  # twice: nobody is told again
    assert len(outbox_rows(app.settings, "cancelled:")) == 2


async def test_new_lectures_reach_subscribers_of_that_city_and_language(app: App) -> None:
    almaty_ru = await person(app, "1", "ru")
    astana_ru = await person(app, "2", "ru")
    anywhere_kk = await person(app, "3", "kk")
    await app.lectures.act(almaty_ru, "notify/Almaty", "html")
    await app.lectures.act(astana_ru, "notify/Astana", "html")
    await app.lectures.act(anywhere_kk, "notify/", "html")
    await app.lectures.create(app.lectures.validate(lecture_fields()))
    assert [r["chat_id"] for r in outbox_rows(app.settings, "newlecture:")] == ["1"]


# --- reminders ---------------------------------------------------------------------------------


async def test_reminders_render_per_language_and_are_sent_once(app: App, clock: Clock) -> None:
    lecture = await app.lectures.create(app.lectures.validate(lecture_fields()))
    ru = await person(app, "1", "ru")
    en = await person(app, "2", "en")
    console = await person(app, "3", "en", channel="console")
    for citizen in (ru, en, console):
        await app.lectures.act(citizen, f"attend/{lecture.id}", "html")
    assert await app.lectures.send_reminders(lecture.id, 24) == 2  # the console cannot receive
    assert await app.lectures.send_reminders(lecture.id, 24) == 0  # idempotent
    rows = outbox_rows(app.settings, "reminder:")
    assert [r["key"] for r in rows] == [
        f"reminder:{lecture.id}:{ru.id}:24h:0",
        f"reminder:{lecture.id}:{en.id}:24h:0",
    ]
    assert "Напоминание" in rows[0]["text"]
    assert "<b>Reminder</b>: the lecture <b>Traditional Islam &amp; the law</b>" in rows[1]["text"]
    assert "03.06.2025 18:00" in rows[1]["text"]
    clock.advance(hours=30)  # the lecture has started: no reminder
    assert await app.lectures.send_reminders(lecture.id, 1) == 0


# --- announcements -----------------------------------------------------------------------------


async def test_audience_selection(app: App) -> None:
    lecture = await app.lectures.create(app.lectures.validate(lecture_fields(city="Shymkent")))
    a = await person(app, "1", "ru")
    b = await person(app, "2", "kk")
    c = await person(app, "3", "en")
    gone = await person(app, "4", "ru")
    await person(app, "5", "ru", channel="console")
    await app.lectures.set_live_subscription(a, True)
    await app.lectures.set_live_subscription(gone, True)
    await app.people.mark_unreachable(gone)
    await app.lectures.act(b, f"attend/{lecture.id}", "html")
    await app.lectures.act(c, "notify/Shymkent", "html")
    sizes = {
        "everyone": await app.broadcasts.audience_size("everyone"),
        "live": await app.broadcasts.audience_size("live"),
        "city": await app.broadcasts.audience_size("city", "Shymkent"),
        "other city": await app.broadcasts.audience_size("city", "Almaty"),
        "language": await app.broadcasts.audience_size("language", "ru"),
    }
    assert sizes == {"everyone": 3, "live": 1, "city": 2, "other city": 0, "language": 1}

    broadcast = await app.broadcasts.create("<b>Hello</b>", "city", "Shymkent", "7001")
    assert broadcast.total == 2
    rows = outbox_rows(app.settings, f"announce:{broadcast.id}:")
    assert sorted(r["chat_id"] for r in rows) == ["2", "3"]
    progress = await app.broadcasts.progress(broadcast.id)
    assert (progress.total, progress.sent, progress.finished) == (2, 0, False)
    assert app.broadcasts.progress_text(progress, "en") == "Sending: 0 of 2, 0 unreachable."


async def test_progress_counts_and_thousands(app: App) -> None:
    from bot.core.broadcasts import Progress

    text = app.broadcasts.progress_text(Progress(5000, 1200, 3, 0), "en")
    assert text == "Sending: 1,200 of 5,000, 3 unreachable."
    done = app.broadcasts.progress_text(Progress(5000, 4990, 7, 3), "en")
    assert done == "Done: sent 4,990 of 5,000, 7 unreachable, 3 failed."


async def test_live_announcement_goes_to_the_channel_and_subscribers(make_app: AppFactory) -> None:
    app = await make_app(live={"channel_id": -1001234, "announce_time": "10:00"})
    ru = await person(app, "1", "ru")
    kk = await person(app, "2", "kk")
    for citizen in (ru, kk):
        await app.lectures.set_live_subscription(citizen, True)
    day = date(2025, 6, 2)
    assert await app.broadcasts.announce_live(day) == 0  # no plan: nothing is posted
    await app.broadcasts.set_plan(
        LivePlan(day, "Who are recruiters?", None, "Aliya", "https://instagram.com/x", "20:00")
    )
    posted: list[LivePlan] = []

    class Poster:
        async def post_story(self, entry: LivePlan) -> str | None:
            posted.append(entry)
            if len(posted) > 1:
                raise RuntimeError("a story failing must not stop the announcement")
            return "story-1"

    app.broadcasts.story_posters.append(Poster())  # type: ignore[arg-type]
    assert await app.broadcasts.announce_live(day) == 3
    assert [p.title for p in posted] == ["Who are recruiters?"], "the story gets the day's plan"
    assert await app.broadcasts.announce_live(day) == 0
    assert len(posted) == 2, "asked again; the poster itself posts once a day"
    rows = {r["key"]: r for r in outbox_rows(app.settings, "live:")}
    assert rows["live:2025-06-02:channel"]["chat_id"] == "-1001234"
    assert "Сегодня в прямом эфире" in rows["live:2025-06-02:channel"]["text"]
    assert "Бүгін тікелей эфирде" in rows[f"live:2025-06-02:{kk.id}"]["text"]
    assert '<a href="https://instagram.com/x">' in rows[f"live:2025-06-02:{ru.id}"]["text"]


async def test_coordinators_are_alerted_when_tomorrow_has_no_plan(app: App) -> None:
    tomorrow = date(2025, 6, 3)
    assert app.settings.coordinators == ()
    assert await app.broadcasts.check_plan(tomorrow) == 0


async def test_alert_reaches_every_coordinator_once(make_app: AppFactory) -> None:
    app = await make_app()
    tomorrow = date(2025, 6, 3)
    assert await app.broadcasts.check_plan(tomorrow) == 2
    assert await app.broadcasts.check_plan(tomorrow) == 0
    rows = outbox_rows(app.settings, "liveplan-missing:")
    assert [r["chat_id"] for r in rows] == ["7001", "7002"]
    assert "03.06.2025" in rows[0]["text"]
    await app.broadcasts.set_plan(LivePlan(date(2025, 6, 4), "T", None, "H", "", "20:00"))
    assert await app.broadcasts.check_plan(date(2025, 6, 4)) == 0


def test_clock_starts_on_a_monday_morning(clock: Clock) -> None:
    assert clock.now() == datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
    assert clock.now() + timedelta(days=1) > clock.now()


# --- the console -------------------------------------------------------------------------------


async def test_console_lectures_and_live_with_numbered_options(app: App) -> None:
    import io

    from bot.console import ConsoleChat

    lecture = await app.lectures.create(app.lectures.validate(lecture_fields()))
    out = io.StringIO()
    chat = ConsoleChat(app, out, person_key="local:test")
    await chat.begin("en")
    await chat.handle("/lectures")
    assert "1. Traditional Islam & the law" in out.getvalue()
    assert "1. ✓ 1. I will attend" in out.getvalue()
    await chat.handle("1")
    assert "You are signed up for “Traditional Islam & the law”" in out.getvalue()
    await chat.handle("1")  # the reply's first option: add to calendar
    assert "BEGIN:VCALENDAR" in out.getvalue()
    assert await app.lectures.repo.attendee_count(lecture.id) == 1
    await chat.handle("/live")
    assert "No live broadcast is planned yet." in out.getvalue()
    await chat.handle("1")
    assert "Done: every day you will get the announcement" in out.getvalue()


async def test_city_buttons_fit_telegram_callback_data(app: App) -> None:
    long_city = "Усть-Каменогорская-область-город-очень-длинный"
    await app.lectures.create(app.lectures.validate(lecture_fields()))
    await app.lectures.create(app.lectures.validate(lecture_fields(city=long_city)))
    await app.lectures.create(app.lectures.validate(lecture_fields(city="Астана")))
    reply = await app.lectures.listing(await person(app, "1"), None, "html")
    values = [a.value for a in reply.actions]
    assert "city/Астана" in values
    assert all(len(f"a:{a.kind}:{a.value}".encode()) <= 64 for a in reply.actions)
    only_long = await app.lectures.listing(await person(app, "1"), long_city, "html")
    assert "notify/" in [a.value for a in only_long.actions]


async def test_config_errors_name_the_key(tmp_path: Path) -> None:
    from bot.config import ConfigError

    for section, value, expected in (
        ("live", {"announce_time": "25:00"}, "live.announce_time: a local time of day as HH:MM"),
        ("live", {"grace_minutes": -1}, "live.grace_minutes"),
        ("lectures", {"reminder_offsets_hours": [24, 0]}, "lectures.reminder_offsets_hours"),
        ("lectures", {"reminder_offsets_hours": [1, 1]}, "an offset is listed twice"),
        ("live", {"announce_tme": "09:00"}, "live.announce_tme: unknown key"),
    ):
        path = write_config(tmp_path / "bad.yaml", {section: value})
        with pytest.raises(ConfigError, match=expected.replace(".", r"\.")):
            load_settings(path, environ={})
    env = {"SENIM_LIVE__ANNOUNCE_TIME": "9.5"}
    with pytest.raises(ConfigError, match="environment variable SENIM_LIVE__ANNOUNCE_TIME"):
        load_settings(write_config(tmp_path / "ok.yaml", {}), environ=env)
    (tmp_path / "unquoted.yaml").write_text("live:\n  plan_check_time: 18:30\n", encoding="utf-8")
    settings = load_settings(
        tmp_path / "unquoted.yaml", environ={"SENIM_LIVE__ANNOUNCE_TIME": "9:05"}
    )
    assert (settings.live.announce_time, settings.live.plan_check_time) == ("09:05", "18:30")
    settings = load_settings(
        write_config(tmp_path / "ok.yaml", {"lectures": {"reminder_offsets_hours": [1, 48]}}),
        environ={},
    )
    assert settings.lectures.reminder_offsets_hours == (48.0, 1.0)


async def test_live_on_instagram_points_to_the_stories_instead_of_a_subscription(
    app: App,
) -> None:
    ig, _new = await app.people.identify("instagram", "17841400000000001")
    ig = await app.people.set_language(ig, "ru")
    reply = await app.lectures.live(ig, "plain")
    assert reply.actions == (), "no subscribe option where no messages would be sent"
    assert reply.text.endswith(
        app.lectures.t(
            "ru",
            "Daily announcements and reminders come as Telegram messages. Here, follow our "
            "stories: the day's live broadcast is announced there.",
        )
    )
