"""Lectures, /live and the coordinators' commands through the real Dispatcher and real Updates."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, date, datetime
from typing import Any

import pytest
from aiogram import Bot, Dispatcher
from aiogram.methods import (
    AnswerCallbackQuery,
    EditMessageText,
    SendDocument,
    SendMessage,
    SendPhoto,
)
from aiogram.types import Chat, Message, PhotoSize

from bot.app import App
from bot.storage.lectures import LivePlan
from bot.storage.outbox import OutboxRepository
from bot.telegram.coordinator import CoordinatorData, ProgressTracker
from bot.telegram.dispatcher import create_dispatcher
from tests.helpers import Clock
from tests.mocked_bot import RecordingSession, make_bot
from tests.test_lectures import AppFactory, lecture_fields, make_app, outbox_rows, person
from tests.updates import callback_update, message_update

__all__ = ["make_app"]

COORDINATOR = 7001
CITIZEN = 1001
_ids = itertools.count(5000)


def _media_message(method: Any) -> Message:
    return Message(
        message_id=next(_ids),
        date=datetime.now(UTC),
        chat=Chat(id=int(method.chat_id), type="private"),
        caption=getattr(method, "caption", None),
    )


@pytest.fixture
def session() -> RecordingSession:
    recording = RecordingSession()
    recording.responders[SendDocument] = _media_message
    recording.responders[SendPhoto] = _media_message
    return recording


@pytest.fixture
def bot(session: RecordingSession) -> Bot:
    return make_bot(session)


@pytest.fixture
async def tg(make_app: AppFactory) -> App:
    return await make_app(live={"channel_id": -100999}, telegram={"throttle": {"messages": 1000}})


@pytest.fixture
def tracker(tg: App) -> ProgressTracker:
    return ProgressTracker(tg.broadcasts, interval=0.01)


@pytest.fixture
def dp(tg: App, tracker: ProgressTracker) -> Dispatcher:
    return create_dispatcher(tg, progress=tracker)


def buttons(request: Any) -> list[tuple[str, str]]:
    markup = request.reply_markup
    if markup is None:
        return []
    return [(b.text, b.callback_data or "") for row in markup.inline_keyboard for b in row]


def last_text(session: RecordingSession) -> str:
    return str(session.sent()[-1].text)


async def say(dp: Dispatcher, bot: Bot, text: str, user: int = COORDINATOR, **extra: Any) -> None:
    await dp.feed_update(bot, message_update(text, user, **extra))


async def press(dp: Dispatcher, bot: Bot, data: str, user: int = COORDINATOR) -> None:
    await dp.feed_update(bot, callback_update(data, user))


async def saved_lecture(app: App, **overrides: str) -> int:
    lecture = await app.lectures.create(app.lectures.validate(lecture_fields(**overrides)))
    return lecture.id


# --- citizens ----------------------------------------------------------------------------------


async def test_citizen_lists_signs_up_gets_a_calendar_file_and_cancels(
    dp: Dispatcher, bot: Bot, session: RecordingSession, tg: App
) -> None:
    lecture_id = await saved_lecture(tg)
    await saved_lecture(tg, city="Astana", title="Youth and faith")
    await say(dp, bot, "/lectures", CITIZEN)
    (listing,) = session.sent()
    assert "Traditional Islam &amp; the law" in listing.text
    data = [d for _t, d in buttons(listing)]
    assert f"a:lecture:attend/{lecture_id}" in data
    assert "a:lecture:city/Astana" in data

    session.clear()
    await press(dp, bot, "a:lecture:city/Astana", CITIZEN)
    assert "Youth and faith" in last_text(session)
    assert "Traditional Islam" not in last_text(session)

    session.clear()
    await press(dp, bot, f"a:lecture:attend/{lecture_id}", CITIZEN)
    assert session.of(AnswerCallbackQuery)
    assert "Traditional Islam" in last_text(session)
    assert await tg.lectures.repo.attendee_count(lecture_id) == 1

    session.clear()
    await press(dp, bot, f"a:lecture:ics/{lecture_id}", CITIZEN)
    (document,) = session.of(SendDocument)
    assert document.document.filename == f"lecture-{lecture_id}.ics"
    assert b"BEGIN:VCALENDAR\r\n" in document.document.data

    session.clear()
    await press(dp, bot, f"a:lecture:unattend/{lecture_id}", CITIZEN)
    assert await tg.lectures.repo.attendee_count(lecture_id) == 0


async def test_live_shows_the_next_broadcast_and_subscribes(
    dp: Dispatcher, bot: Bot, session: RecordingSession, tg: App
) -> None:
    await tg.broadcasts.set_plan(
        LivePlan(date(2025, 6, 3), "Recruiters <online>", None, "Aliya", "", "20:00")
    )
    await say(dp, bot, "/live", CITIZEN)
    (shown,) = session.sent()
    assert "Recruiters &lt;online&gt;" in shown.text
    assert [d for _t, d in buttons(shown)] == ["a:live:sub"]
    await press(dp, bot, "a:live:sub", CITIZEN)
    assert await tg.broadcasts.audience_size("live") == 1
    await press(dp, bot, "a:live:unsub", CITIZEN)
    assert await tg.broadcasts.audience_size("live") == 0


# --- refusals and forged buttons ---------------------------------------------------------------


@pytest.mark.parametrize("command", ["/lecture_new", "/live_plan", "/announce"])
async def test_coordinator_commands_are_refused_to_others(
    dp: Dispatcher, bot: Bot, session: RecordingSession, tg: App, command: str
) -> None:
    await say(dp, bot, command, CITIZEN)
    (refusal,) = session.sent()
    assert refusal.text == "Извините, эта команда только для координаторов."
    assert buttons(refusal) == []


async def test_forged_buttons_get_a_polite_alert(
    dp: Dispatcher, bot: Bot, session: RecordingSession, tg: App
) -> None:
    lecture_id = await saved_lecture(tg)
    forged = CoordinatorData(op="cancel_yes", ref=lecture_id).pack()
    await press(dp, bot, forged, CITIZEN)
    (alert,) = session.of(AnswerCallbackQuery)
    assert alert.show_alert
    assert "координатор" in str(alert.text)
    assert (await tg.lectures.get(lecture_id)).status == "scheduled"  # type: ignore[union-attr]

    for data in ("co:nonsense", "a:lecture:attend/99999", "zz:1:2", "co:cancel_yes:999:"):
        session.clear()
        await press(dp, bot, data, COORDINATOR)
        answered = session.of(AnswerCallbackQuery)
        texts = [str(a.text) for a in answered] + [str(m.text) for m in session.sent()]
        assert any("больше" in text or "недоступ" in text for text in texts), f"{data}: {texts}"
    assert session.of(SendMessage) == [] or all(
        "Извините, что-то пошло не так" not in str(m.text) for m in session.sent()
    )


# --- /lecture_new ------------------------------------------------------------------------------


async def test_lecture_new_guides_validates_previews_and_saves(
    dp: Dispatcher, bot: Bot, session: RecordingSession, tg: App
) -> None:
    await say(dp, bot, "/lecture_new")
    assert "название" in last_text(session)
    await say(dp, bot, "Secular state & religion")
    await say(dp, bot, "Dr. Aigerim Sadykova")
    await say(dp, bot, "Karaganda")
    await say(dp, bot, "https://zoom us")
    assert "ссылка: веб-адрес" in last_text(session), "a bad link is refused, in Russian"
    await say(dp, bot, "https://zoom.us/j/123")
    languages = session.sent()[-1]
    assert "co:lang:0:kk" in [d for _t, d in buttons(languages)]
    await press(dp, bot, "co:lang:0:kk")
    await press(dp, bot, "co:aud:0:civil_servants")
    assert "Asia/Almaty" in last_text(session)
    await say(dp, bot, "2025-06-01 10:00")
    assert "начало: должно быть в будущем" in last_text(session)
    await say(dp, bot, "2025-06-10 15:00")
    await say(dp, bot, "500000")
    assert "длительность: в минутах, от 10 до 720" in last_text(session)
    await say(dp, bot, "120")
    preview = session.sent()[-1]
    assert "Secular state &amp; religion" in preview.text
    assert "10.06.2025 15:00 · Karaganda" in preview.text
    assert await tg.lectures.upcoming() == []
    await press(dp, bot, "co:save:0:")
    (lecture,) = await tg.lectures.upcoming()
    assert (lecture.city, lecture.language, lecture.audience) == (
        "Karaganda",
        "kk",
        "civil_servants",
    )
    assert lecture.link == "https://zoom.us/j/123"
    assert lecture.starts_at == datetime(2025, 6, 10, 10, 0, tzinfo=UTC)
    assert "24, 1" in last_text(session)


async def test_a_command_during_a_dialogue_is_that_command(
    dp: Dispatcher, bot: Bot, session: RecordingSession, tg: App
) -> None:
    await say(dp, bot, "/lecture_new")
    await say(dp, bot, "/cancel")
    assert last_text(session) == "Прервано; ничего не сохранено."
    await say(dp, bot, "Just a question about jihad")
    assert await tg.lectures.upcoming() == []


# --- /lectures for coordinators: edit and cancel -----------------------------------------------


async def test_coordinator_moves_then_cancels_a_lecture_and_attendees_are_told(
    dp: Dispatcher, bot: Bot, session: RecordingSession, tg: App
) -> None:
    lecture_id = await saved_lecture(tg)
    await tg.lectures.act(await person(tg, str(CITIZEN)), f"attend/{lecture_id}", "html")
    await say(dp, bot, "/lectures")
    listing = session.sent()[-1]
    assert "записались: 1" in listing.text
    assert f"co:edit:{lecture_id}:" in [d for _t, d in buttons(listing)]
    await press(dp, bot, f"co:edit:{lecture_id}:")
    await press(dp, bot, f"co:field:{lecture_id}:start")
    await say(dp, bot, "not a date")
    assert "начало: дата и время" in last_text(session)
    await say(dp, bot, "2025-06-07 19:00")
    assert "07.06.2025 19:00" in last_text(session)
    (moved,) = outbox_rows(tg.settings, "moved:")
    assert moved["chat_id"] == str(CITIZEN)

    await press(dp, bot, f"co:cancel:{lecture_id}:")
    assert "(1)" in last_text(session)
    await press(dp, bot, f"co:cancel_yes:{lecture_id}:")
    assert (await tg.lectures.get(lecture_id)).status == "cancelled"  # type: ignore[union-attr]
    assert len(outbox_rows(tg.settings, "cancelled:")) == 1


# --- /live_plan --------------------------------------------------------------------------------


async def test_live_plan_shows_14_days_and_saves_only_a_clean_batch(
    dp: Dispatcher, bot: Bot, session: RecordingSession, tg: App
) -> None:
    await say(dp, bot, "/live_plan")
    shown = last_text(session)
    assert shown.count("ничего не запланировано") == 14
    await say(dp, bot, "2025-06-03 20:00 | Jihad | Ustaz Nurlan\n2025-13-01 20:00 | X | Y")
    assert "Строка 2: дата: ГГГГ-ММ-ДД" in last_text(session)
    assert await tg.broadcasts.plan() == []
    await say(
        dp,
        bot,
        "2025-06-03 20:00 | Jihad | Ustaz Nurlan\n"
        "2025-06-04 21:00 | Takfir | Aliya | https://instagram.com/senim",
    )
    assert "Сохранено дней: 2." in last_text(session)
    plans = await tg.broadcasts.plan()
    assert [(p.day, p.time, p.host) for p in plans] == [
        (date(2025, 6, 3), "20:00", "Ustaz Nurlan"),
        (date(2025, 6, 4), "21:00", "Aliya"),
    ]
    await say(dp, bot, "/live_plan")
    await say(dp, bot, "2025-06-04 -")
    assert len(await tg.broadcasts.plan()) == 1


# --- /announce ---------------------------------------------------------------------------------


async def test_announce_to_live_subscribers_with_preview_and_progress(
    dp: Dispatcher, bot: Bot, session: RecordingSession, tg: App, clock: Clock
) -> None:
    subscribers = [await person(tg, str(2000 + i)) for i in range(3)]
    for citizen in subscribers:
        await tg.lectures.set_live_subscription(citizen, True)
    await person(tg, "3000")  # not subscribed
    await say(dp, bot, "/announce")
    await say(dp, bot, "Tonight: <b>a special</b> broadcast")
    choice = session.sent()[-1]
    data = {d: t for t, d in buttons(choice)}
    assert data["co:ann_to:0:live"] == "Подписчикам эфира (3)"
    assert "(5)" in data["co:ann_to:0:everyone"]  # 4 citizens and the coordinator
    await press(dp, bot, "co:ann_to:0:live")
    preview, question = session.sent()[-2:]
    assert preview.text == "Tonight: &lt;b&gt;a special&lt;/b&gt; broadcast"
    assert "Получателей: 3" in question.text
    assert outbox_rows(tg.settings, "announce:") == []

    await press(dp, bot, "co:ann_send:0:")
    rows = outbox_rows(tg.settings, "announce:")
    assert sorted(r["chat_id"] for r in rows) == ["2000", "2001", "2002"]
    progress_message = session.sent()[-1]
    assert progress_message.text == "Отправка: 0 из 3, недоступны: 0."

    async with tg.db.transaction() as conn:  # the outbox worker's results
        repo = OutboxRepository(conn)
        await repo.finish(rows[0]["id"], "sent", clock.now(), None)
        await repo.finish(rows[1]["id"], "unreachable", clock.now(), "unreachable")
    for _ in range(100):
        edits = [str(e.text) for e in session.of(EditMessageText)]
        if "Отправка: 1 из 3, недоступны: 1." in edits:
            break
        await asyncio.sleep(0.01)
    assert "Отправка: 1 из 3, недоступны: 1." in edits
    async with tg.db.transaction() as conn:
        await OutboxRepository(conn).finish(rows[2]["id"], "sent", clock.now(), None)
    for _ in range(200):
        if session.sent()[-1].text.startswith("Готово"):
            break
        await asyncio.sleep(0.01)
    assert session.sent()[-1].text == "Готово: отправлено 2 из 3, недоступны: 1, ошибки: 0."
    assert not await tg.broadcasts.unfinished()

    await press(dp, bot, "co:ann_send:0:")  # pressed again later: nothing is sent twice
    assert len(outbox_rows(tg.settings, "announce:")) == 3


async def test_announce_a_photo_to_a_city_or_a_language(
    dp: Dispatcher, bot: Bot, session: RecordingSession, tg: App
) -> None:
    lecture_id = await saved_lecture(tg, city="Taraz")
    await saved_lecture(tg, city="Almaty")  # nobody signed up there
    kk = await person(tg, "2100", "kk")
    await tg.lectures.act(kk, f"attend/{lecture_id}", "html")
    await say(dp, bot, "/announce")
    photo = [PhotoSize(file_id="PHOTO-1", file_unique_id="u1", width=800, height=600)]
    await say(dp, bot, None, photo=photo, caption="x" * 1025)  # type: ignore[arg-type]
    assert "1024" in last_text(session)
    await say(dp, bot, None, photo=photo, caption="Poster")  # type: ignore[arg-type]
    await press(dp, bot, "co:ann_cities:0:")
    cities = dict(buttons(session.sent()[-1]))
    assert cities == {"Almaty": "co:ann_to:0:city", "Taraz": "co:ann_to:1:city"}
    await press(dp, bot, "co:ann_to:0:city")
    assert "никого нет" in last_text(session)
    await press(dp, bot, "co:ann_to:7:city")  # forged index: ignored
    await press(dp, bot, "co:ann_langs:0:")
    await press(dp, bot, "co:ann_to:0:language=kk")
    (preview,) = session.of(SendPhoto)
    assert (preview.photo, preview.caption) == ("PHOTO-1", "Poster")
    await press(dp, bot, "co:ann_send:0:")
    (row,) = outbox_rows(tg.settings, "announce:")
    assert row["chat_id"] == "2100"
    assert (row["text"], row["media_kind"], row["media_ref"]) == ("Poster", "photo", "PHOTO-1")


async def test_coordinators_get_their_own_command_menu(
    bot: Bot, session: RecordingSession, tg: App
) -> None:
    from aiogram.exceptions import TelegramBadRequest
    from aiogram.methods import SetMyCommands

    from bot.telegram.coordinator import set_coordinator_commands

    session.fail_next(
        SetMyCommands, TelegramBadRequest(SetMyCommands(commands=[]), "chat not found")
    )
    assert await set_coordinator_commands(bot, tg.settings, tg.content.catalogs) == 1
    menus = session.of(SetMyCommands)
    assert {m.scope.chat_id for m in menus} == {7001, 7002}
    ru = next(m for m in menus if m.scope.chat_id == 7002 and m.language_code == "ru")
    commands = {c.command: c.description for c in ru.commands}
    assert commands["lecture_new"] == "Запланировать лекцию"
    assert "lectures" in commands
    assert "start" in commands
