"""End to end: the bot in long-polling mode over real HTTP against a Bot API emulator."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config import Settings, load_settings
from bot.telegram.runner import check_token, run_telegram
from tests.telegram_emulator import BotAPIEmulator

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456:E2E-TEST-TOKEN"
USER = 5551


@pytest.fixture
async def emulator() -> AsyncIterator[BotAPIEmulator]:
    emu = BotAPIEmulator(TOKEN)
    await emu.start()
    yield emu
    await emu.stop()


def e2e_settings(
    tmp_path: Path, emu: BotAPIEmulator, token: str = TOKEN, **extra: str
) -> Settings:
    return load_settings(
        ROOT / "config.yaml",
        environ={
            "TELEGRAM_BOT_TOKEN": token,
            "TELEGRAM_API_SERVER": f"http://127.0.0.1:{emu.port}",
            "SENIM_DATABASE__PATH": str(tmp_path / "e2e.sqlite3"),
            "SENIM_CONTENT__PATH": str(ROOT / "content"),
            **extra,
        },
    )


@pytest.fixture
async def running_bot(tmp_path: Path, emulator: BotAPIEmulator) -> AsyncIterator[Settings]:
    settings = e2e_settings(tmp_path, emulator)
    task = asyncio.create_task(run_telegram(settings, handle_signals=False))
    yield settings
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def people_count(settings: Settings) -> int:
    with sqlite3.connect(settings.database.path) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM people").fetchone()[0])


async def test_start_language_question_feedback_related_forget(
    emulator: BotAPIEmulator, running_bot: Settings
) -> None:
    await emulator.user_sends(USER, "/start")
    (choice,) = await emulator.next_messages(USER)
    assert ("Русский", "a:language:ru") in choice.buttons
    assert "setMyCommands" in emulator.calls

    await emulator.user_presses(USER, choice, "a:language:ru")
    (welcome,) = await emulator.next_messages(USER)
    assert "Здравствуйте" in welcome.text
    assert emulator.answered_callbacks, "the button's spinner is stopped"

    await emulator.user_sends(USER, "что такое джихад")
    (answer,) = await emulator.next_messages(USER)
    assert "Источники" in answer.text
    assert answer.parse_mode == "HTML"
    assert ("Это помогло", "a:feedback:yes/jihad-meaning") in answer.buttons

    await emulator.user_presses(USER, answer, "a:feedback:yes/jihad-meaning")
    (thanks,) = await emulator.next_messages(USER)
    assert "Спасибо" in thanks.text

    related = next(d for _t, d in answer.buttons if d.startswith("a:topic:"))
    await emulator.user_presses(USER, answer, related)
    (second,) = await emulator.next_messages(USER)
    assert "Источники" in second.text

    assert people_count(running_bot) == 1
    await emulator.user_sends(USER, "/forget")
    (confirm,) = await emulator.next_messages(USER)
    await emulator.user_presses(USER, confirm, "a:forget:yes")
    (done,) = await emulator.next_messages(USER)
    assert "удалено" in done.text
    assert people_count(running_bot) == 0


async def test_doctor_checks_the_token_with_get_me(
    tmp_path: Path, emulator: BotAPIEmulator
) -> None:
    assert (await check_token(e2e_settings(tmp_path, emulator))).startswith(
        "ok: Telegram token works for @senim_e2e_bot"
    )
    line = await check_token(e2e_settings(tmp_path, emulator, token="999:WRONG"))
    assert "rejected the token" in line


async def test_the_running_bot_sends_what_is_queued_in_the_outbox(
    emulator: BotAPIEmulator, running_bot: Settings
) -> None:
    from bot.core.people import utc_now
    from bot.outbox import Outbox, OutgoingMessage
    from bot.storage import Database

    await emulator.user_sends(USER, "/help")  # the bot is up and has migrated the database
    await emulator.next_messages(USER)
    db = await Database.open(running_bot.database.path)
    try:
        outbox = Outbox(db, utc_now)
        reminder = OutgoingMessage(
            key="reminder:e2e:1", channel="telegram", chat_id=str(USER), text="Lecture at 18:00"
        )
        assert await outbox.enqueue([reminder, reminder]) == 1
        (sent,) = await emulator.next_messages(USER)
        assert sent.text == "Lecture at 18:00"
        for _ in range(100):  # the worker records the result just after Telegram answers
            row = await outbox.get("reminder:e2e:1")
            if row is not None and row.status == "sent":
                break
            await asyncio.sleep(0.05)
        assert row is not None
        assert row.status == "sent"
        assert row.text is None
    finally:
        await db.close()


async def test_webhook_mode_registers_and_answers_updates(
    tmp_path: Path, emulator: BotAPIEmulator
) -> None:
    import socket

    import aiohttp

    with socket.socket() as probe:  # a free local port for the webhook listener
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = e2e_settings(
        tmp_path,
        emulator,
        SENIM_TELEGRAM__MODE="webhook",
        SENIM_TELEGRAM__WEBHOOK_URL="https://bot.example.org/telegram",
        SENIM_TELEGRAM__WEBHOOK_SECRET="s3cret-token",
        SENIM_TELEGRAM__LISTEN_PORT=str(port),
    )
    task = asyncio.create_task(run_telegram(settings, handle_signals=False))
    try:
        for _ in range(200):
            if emulator.webhook is not None:
                break
            await asyncio.sleep(0.05)
        assert emulator.webhook == {
            "url": "https://bot.example.org/telegram",
            "secret_token": "s3cret-token",
        }
        update = {
            "update_id": 900,
            "message": {
                "message_id": 1,
                "date": 1_700_000_000,
                "chat": {"id": USER, "type": "private", "first_name": "Citizen"},
                "from": {"id": USER, "is_bot": False, "first_name": "Citizen"},
                "text": "what is jihad",
            },
        }
        url = f"http://127.0.0.1:{port}/telegram"
        async with aiohttp.ClientSession() as http:
            async with http.post(
                url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"}
            ) as refused:
                assert refused.status == 401
            async with http.post(
                url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-token"}
            ) as accepted:
                assert accepted.status == 200
        (answer,) = await emulator.next_messages(USER)
        assert "Sources" in answer.text
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


GROUP = -1001234567890
SPECIALIST = 7001


async def test_a_specialist_takes_a_ticket_in_a_forum_topic_and_talks_with_the_citizen(
    tmp_path: Path, emulator: BotAPIEmulator
) -> None:
    from tests.helpers import write_config

    emulator.add_forum_group(GROUP, members={SPECIALIST: "member"})
    config = write_config(
        tmp_path / "config.yaml",
        {
            "database": {"path": str(tmp_path / "queue-e2e.sqlite3")},
            "content": {"path": str(ROOT / "content")},
            "telegram": {"specialists_chat_id": GROUP},
            "specialists": [
                {
                    "telegram_id": SPECIALIST,
                    "name": "Aigerim",
                    "skills": ["theology"],
                    "languages": ["ru"],
                }
            ],
        },
    )
    settings = load_settings(
        config,
        environ={
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_SERVER": f"http://127.0.0.1:{emulator.port}",
        },
    )
    task = asyncio.create_task(run_telegram(settings, handle_signals=False))
    try:
        await emulator.user_sends(USER, "/language")
        (choice,) = await emulator.next_messages(USER)
        await emulator.user_presses(USER, choice, "a:language:ru")
        await emulator.next_messages(USER)
        await emulator.user_sends(USER, "/specialist")
        (placed,) = await emulator.next_messages(USER)
        assert "1" in placed.text

        (queue_message,) = await emulator.next_messages(GROUP)  # posted at start, then edited
        for _ in range(100):
            if "#1" in queue_message.text:
                break
            await asyncio.sleep(0.05)
        assert "#1" in queue_message.text
        take = next(d for _t, d in queue_message.buttons if d.startswith("a:take"))
        await emulator.user_presses(SPECIALIST, queue_message, take)
        for _ in range(100):
            if emulator.topics.get(GROUP):
                break
            await asyncio.sleep(0.05)
        (topic,) = emulator.topics[GROUP].values()
        assert topic.name == "#1 · ru · theology"
        header, *_history = await emulator.next_messages(GROUP, 2, thread_id=topic.thread_id)
        assert "Aigerim" in header.text
        assert emulator.pinned[GROUP] == [header.message_id]
        (taken,) = await emulator.next_messages(USER)
        assert "Aigerim" in taken.text

        await emulator.user_sends(
            SPECIALIST, "Здравствуйте! Чем помочь?", chat_id=GROUP, thread_id=topic.thread_id
        )
        (relayed,) = await emulator.next_messages(USER)
        assert relayed.text == "<b>Aigerim</b>\nЗдравствуйте! Чем помочь?"

        await emulator.user_sends(USER, photo="PHOTO-FROM-CITIZEN", caption="вот листовка")
        (into_topic,) = await emulator.next_messages(GROUP, thread_id=topic.thread_id)
        assert (into_topic.kind, into_topic.file_id) == ("photo", "PHOTO-FROM-CITIZEN")

        await emulator.user_sends(SPECIALIST, "/close", chat_id=GROUP, thread_id=topic.thread_id)
        (outcomes,) = await emulator.next_messages(GROUP, thread_id=topic.thread_id)
        await emulator.user_presses(SPECIALIST, outcomes, "a:close:1/answered")
        (rate,) = await emulator.next_messages(USER)
        assert ("5", "a:rate:1/5") in rate.buttons
        for _ in range(50):
            if topic.closed:
                break
            await asyncio.sleep(0.05)
        assert topic.closed
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
