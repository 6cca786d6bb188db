"""The specialists' side on Telegram: the real Dispatcher fed real Updates from the forum group
and private chats, the real TelegramWorkspace and outbox sender, a recording Bot session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiogram import Bot, Dispatcher
from aiogram.methods import (
    AnswerCallbackQuery,
    CloseForumTopic,
    CreateForumTopic,
    EditMessageText,
    PinChatMessage,
    SendMessage,
    SendPhoto,
    SendVoice,
)
from aiogram.types import PhotoSize, Voice

from bot.app import App, create_app
from bot.config import load_settings
from bot.content import ContentPack
from bot.outbox import OutboxWorker, RateLimiter
from bot.storage import TicketRepository
from bot.telegram.dispatcher import create_dispatcher
from bot.telegram.sender import TelegramSender
from bot.telegram.workspace import TelegramWorkspace
from tests.helpers import CONTENT, Clock, write_config
from tests.mocked_bot import RecordingSession, make_bot
from tests.updates import callback_update, group_callback_update, message_update, topic_update

GROUP = -100777
CITIZEN, AIGERIM, DANIYAR, COORDINATOR = 1001, 5001, 5002, 9001


@pytest.fixture
def session() -> RecordingSession:
    return RecordingSession()


@pytest.fixture
def bot(session: RecordingSession) -> Bot:
    return make_bot(session)


@pytest.fixture
async def staff_app(
    tmp_path: Path, bot: Bot, clock: Clock, content_pack: ContentPack, shared_core: None
) -> AsyncIterator[App]:
    config = write_config(
        tmp_path / "config.yaml",
        {
            "database": {"path": str(tmp_path / "s.sqlite3"), "event_flush_seconds": 0},
            "content": {"path": str(CONTENT)},
            "telegram": {"specialists_chat_id": GROUP, "throttle": {"messages": 100}},
            "specialists": [
                {
                    "telegram_id": AIGERIM,
                    "name": "Aigerim",
                    "skills": ["theology"],
                    "languages": ["ru", "kk"],
                },
                {
                    "telegram_id": DANIYAR,
                    "name": "Daniyar & Co",
                    "skills": ["theology"],
                    "languages": ["ru"],
                }
                if False
                else {
                    "telegram_id": DANIYAR,
                    "name": "Daniyar",
                    "skills": ["theology"],
                    "languages": ["ru"],
                },
            ],
            "coordinators": [COORDINATOR],
        },
    )
    settings = load_settings(config, environ={})
    app = await create_app(settings, content=content_pack, clock=clock.now)
    app.queue.attach(TelegramWorkspace(bot, GROUP, app.queue))
    yield app
    await app.close()


@pytest.fixture
def dp(staff_app: App) -> Dispatcher:
    return create_dispatcher(staff_app)


@pytest.fixture
def worker(staff_app: App, bot: Bot) -> OutboxWorker:
    return OutboxWorker(
        staff_app.db,
        staff_app.outbox,
        "telegram",
        TelegramSender(bot),
        RateLimiter(10_000, 0),
        staff_app.conversations.clock,
        on_unreachable=staff_app.on_unreachable,
    )


def of(session: RecordingSession, kind: type, **where: Any) -> list[Any]:
    return [r for r in session.of(kind) if all(getattr(r, k) == v for k, v in where.items())]


async def open_and_take(
    dp: Dispatcher, bot: Bot, session: RecordingSession, worker: OutboxWorker
) -> int:
    await dp.feed_update(bot, message_update("/specialist", CITIZEN))
    await dp.feed_update(bot, message_update("/next", AIGERIM))
    assert len(session.of(CreateForumTopic)) == 1
    await worker.run_once()
    return 7000  # the recording session numbers threads from 7000


async def test_next_opens_a_pinned_topic_and_relays_both_ways(
    dp: Dispatcher,
    bot: Bot,
    session: RecordingSession,
    worker: OutboxWorker,
    staff_app: App,
) -> None:
    await dp.feed_update(bot, message_update("/specialist", CITIZEN))
    await staff_app.queue.settled()
    (queue_message,) = of(session, SendMessage, chat_id=GROUP)
    assert "#1" in queue_message.text
    assert queue_message.reply_markup is not None
    session.clear()

    await dp.feed_update(bot, message_update("/next", AIGERIM))
    await staff_app.queue.settled()
    (created,) = session.of(CreateForumTopic)
    assert created.chat_id == GROUP
    assert created.name == "#1 · ru · theology"
    header = of(session, SendMessage, chat_id=GROUP, message_thread_id=7000)
    assert header
    assert "Aigerim" in header[0].text
    assert str(CITIZEN) not in header[0].text
    assert session.of(PinChatMessage)
    assert of(session, SendMessage, chat_id=AIGERIM), "the specialist hears it is theirs"
    assert session.of(EditMessageText), "the queue message is edited, not posted again"
    session.clear()
    await worker.run_once()
    (told,) = of(session, SendMessage, chat_id=CITIZEN)
    assert "Aigerim" in told.text
    session.clear()

    await dp.feed_update(bot, topic_update("Здравствуйте <3", AIGERIM, thread_id=7000))
    photo = [PhotoSize(file_id="AgAD-1", file_unique_id="u1", width=10, height=10)]
    await dp.feed_update(
        bot, topic_update(None, AIGERIM, thread_id=7000, photo=photo, caption="смотрите")
    )
    await worker.run_once()
    (text,) = of(session, SendMessage, chat_id=CITIZEN)
    assert text.text == "<b>Aigerim</b>\nЗдравствуйте &lt;3"
    (sent_photo,) = of(session, SendPhoto, chat_id=CITIZEN)
    assert (sent_photo.photo, sent_photo.caption) == ("AgAD-1", "<b>Aigerim</b>\nсмотрите")
    session.clear()

    voice = Voice(file_id="AwAD-9", file_unique_id="v9", duration=3)
    await dp.feed_update(bot, message_update(None, CITIZEN, voice=voice))
    await dp.feed_update(bot, message_update("спасибо", CITIZEN))
    assert of(session, SendMessage, chat_id=CITIZEN) == [], "the bot stays quiet"
    await worker.run_once()
    (sent_voice,) = of(session, SendVoice, chat_id=GROUP)
    assert (sent_voice.voice, sent_voice.message_thread_id) == ("AwAD-9", 7000)
    (thanks,) = of(session, SendMessage, chat_id=GROUP)
    assert thanks.message_thread_id == 7000
    assert "спасибо" in thanks.text


async def test_notes_other_members_close_and_rating(
    dp: Dispatcher, bot: Bot, session: RecordingSession, worker: OutboxWorker, staff_app: App
) -> None:
    thread = await open_and_take(dp, bot, session, worker)
    session.clear()
    await dp.feed_update(bot, topic_update("/note проверить", AIGERIM, thread_id=thread))
    await dp.feed_update(bot, topic_update("я бы спросил про семью", DANIYAR, thread_id=thread))
    await worker.run_once()
    assert of(session, SendMessage, chat_id=CITIZEN) == []
    notes = of(session, SendMessage, chat_id=GROUP, message_thread_id=thread)
    assert len(notes) == 2
    assert all(n.parse_mode is None for n in notes)
    session.clear()

    await dp.feed_update(bot, topic_update("/close", DANIYAR, thread_id=thread))
    (refused,) = of(session, SendMessage, chat_id=GROUP)
    assert refused.reply_markup is None
    session.clear()
    await dp.feed_update(bot, topic_update("/close", AIGERIM, thread_id=thread))
    (choices,) = of(session, SendMessage, chat_id=GROUP)
    datas = [row[0].callback_data for row in choices.reply_markup.inline_keyboard]
    assert datas[0] == "a:close:1/answered"
    session.clear()

    await dp.feed_update(
        bot, group_callback_update("a:close:1/answered", DANIYAR, thread_id=thread)
    )
    (alert,) = session.of(AnswerCallbackQuery)
    assert alert.show_alert
    assert session.of(CloseForumTopic) == []
    session.clear()
    await dp.feed_update(
        bot, group_callback_update("a:close:1/answered", AIGERIM, thread_id=thread)
    )
    assert session.of(CloseForumTopic)
    await worker.run_once()
    (rating,) = of(session, SendMessage, chat_id=CITIZEN)
    assert [b.callback_data for b in rating.reply_markup.inline_keyboard[0]][:2] == [
        "a:rate:1/1",
        "a:rate:1/2",
    ]
    await dp.feed_update(bot, callback_update("a:rate:1/5", CITIZEN))
    ticket = await TicketRepository(staff_app.db.connection).get(1)
    assert ticket is not None
    assert (ticket.status, ticket.outcome, ticket.rating) == ("closed", "answered", 5)


async def test_privileged_commands_and_buttons_are_refused_to_others(
    dp: Dispatcher, bot: Bot, session: RecordingSession, worker: OutboxWorker, staff_app: App
) -> None:
    thread = await open_and_take(dp, bot, session, worker)
    session.clear()
    for command in (
        "/next",
        "/queue",
        "/specialists",
        "/specialist_add 1 law ru Eve",
        "/reassign 1 5002",
        "/open_ticket Someone",
    ):
        await dp.feed_update(bot, message_update(command, CITIZEN))
    replies = of(session, SendMessage, chat_id=CITIZEN)
    assert len(replies) == 6
    assert all("#1" not in r.text for r in replies)
    session.clear()
    await dp.feed_update(bot, message_update("/specialists", AIGERIM))
    (refused,) = of(session, SendMessage, chat_id=AIGERIM)
    assert "Aigerim (5001)" not in refused.text
    session.clear()
    for data in (
        "a:take:",
        "a:close:1/answered",
        "a:transfer:1/queue",
        "a:offer:1/accept",
        "a:roster:5001/removed",
        "a:close:abc/answered",
        "a:nonsense:1",
    ):
        await dp.feed_update(bot, callback_update(data, CITIZEN))
    answers = session.of(AnswerCallbackQuery)
    assert len(answers) == 7
    assert all(a.show_alert for a in answers)
    ticket = await TicketRepository(staff_app.db.connection).get(1)
    assert ticket is not None
    assert (ticket.status, ticket.specialist_id) == ("assigned", str(AIGERIM))
    assert staff_app.roster.get(str(AIGERIM)) is not None
    del thread


async def test_coordinators_manage_the_roster_from_a_private_chat(
    dp: Dispatcher, bot: Bot, session: RecordingSession, staff_app: App
) -> None:
    await dp.feed_update(
        bot, message_update("/specialist_add 5010 law,social ru Eve gender=female", COORDINATOR)
    )
    assert staff_app.roster.active("5010") is not None
    session.clear()
    await dp.feed_update(bot, message_update("/specialists", COORDINATOR))
    (listing,) = of(session, SendMessage, chat_id=COORDINATOR)
    assert "Eve (5010)" in listing.text
    datas = [row[0].callback_data for row in listing.reply_markup.inline_keyboard]
    assert "a:roster:5010/paused" in datas
    await dp.feed_update(bot, callback_update("a:roster:5010/paused", COORDINATOR))
    specialist = staff_app.roster.get("5010")
    assert specialist is not None
    assert specialist.status == "paused"
    session.clear()
    await dp.feed_update(bot, message_update("/myid", 4242))
    (myid,) = of(session, SendMessage, chat_id=4242)
    assert "4242" in myid.text


async def test_a_blocked_citizen_makes_the_ticket_unreachable(
    dp: Dispatcher, bot: Bot, session: RecordingSession, worker: OutboxWorker, staff_app: App
) -> None:
    from aiogram.exceptions import TelegramForbiddenError

    thread = await open_and_take(dp, bot, session, worker)
    session.fail_next(
        SendMessage,
        TelegramForbiddenError(
            method=SendMessage(chat_id=CITIZEN, text="x"),
            message="Forbidden: bot was blocked by the user",
        ),
    )
    await dp.feed_update(bot, topic_update("Вы здесь?", AIGERIM, thread_id=thread))
    session.clear()
    await worker.run_once()
    ticket = await TicketRepository(staff_app.db.connection).get(1)
    assert ticket is not None
    assert ticket.status == "unreachable"
    await worker.run_once()
    told = of(session, SendMessage, chat_id=GROUP, message_thread_id=thread)
    assert told, "the specialist is told in the topic"
    assert session.of(CloseForumTopic)


async def test_an_edit_during_a_conversation_reaches_the_specialist_marked_as_an_edit(
    dp: Dispatcher, bot: Bot, session: RecordingSession, worker: OutboxWorker
) -> None:
    from tests.updates import edited_update

    thread = await open_and_take(dp, bot, session, worker)
    session.clear()
    await dp.feed_update(bot, edited_update("исправленный текст", CITIZEN))
    assert of(session, SendMessage, chat_id=CITIZEN) == []
    await worker.run_once()
    (edit,) = of(session, SendMessage, chat_id=GROUP, message_thread_id=thread)
    assert "✏" in edit.text
    assert "исправленный текст" in edit.text
    session.clear()
    await dp.feed_update(bot, edited_update("другой", 1002))
    (help_reply,) = of(session, SendMessage, chat_id=1002)
    assert help_reply.reply_markup is not None, "outside a conversation: the help and menu"
