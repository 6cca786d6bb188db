"""The bot as a process: an announcement to many, SIGKILL mid-way, restart, one message each."""

# The emulator holds the sends in flight unanswered (and unrecorded) when the kill comes, the
# worst moment the outbox must survive: those messages are 'sending' in the database and never
# reached Telegram. (A kill between Telegram accepting a message and the result being written
# would send that message twice: the outbox is at-least-once across a crash for the sends in
# flight, as bot/outbox.py says.)

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.storage import Database, PeopleRepository
from bot.storage.lectures import SubscriptionRepository
from tests.helpers import BOT, CONTENT, REPO, Clock, subprocess_env, write_config
from tests.telegram_emulator import ApiError, BotAPIEmulator

TOKEN = "123456:CRASH-TEST"
COORDINATOR = 7001
SUBSCRIBERS = [100_000 + i for i in range(120)]
KILL_AFTER = 40


class GatedEmulator(BotAPIEmulator):
    """Holds the subscribers' sends after `gate_after` of them, unanswered, until released."""

    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.gate_after: int | None = None
        self.gate_hit = asyncio.Event()
        self.release = asyncio.Event()
        self.to_subscribers = 0

    async def _m_sendmessage(self, params: dict[str, Any]) -> Any:
        chat_id = int(params.get("chat_id") or 0)
        if chat_id in SUBSCRIBERS and self.gate_after is not None:
            if self.to_subscribers >= self.gate_after:
                self.gate_hit.set()
                await self.release.wait()
                raise ApiError(500, "Internal Server Error: the caller is gone")
            self.to_subscribers += 1
        return await super()._m_sendmessage(params)


@pytest.fixture
async def emulator() -> AsyncIterator[GatedEmulator]:
    emu = GatedEmulator(TOKEN)
    await emu.start()
    yield emu
    emu.release.set()
    await emu.stop()


async def seed(path: Path) -> None:
    db = await Database.open(path)
    clock = Clock()
    try:
        async with db.transaction() as conn:
            people = PeopleRepository(conn)
            subscriptions = SubscriptionRepository(conn)
            for user_id in SUBSCRIBERS:
                person = await people.add(
                    "telegram", str(user_id), f"P-{user_id}", "ru", clock.now()
                )
                await subscriptions.add(person.id, "live", clock.now())
    finally:
        await db.close()


async def start_bot(
    config: Path, emulator: BotAPIEmulator, log: Path
) -> asyncio.subprocess.Process:
    env = subprocess_env(
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_SERVER=f"http://127.0.0.1:{emulator.port}",
        SENIM_CONFIG=str(config),
    )
    handle = log.open("ab")
    try:
        return await asyncio.create_subprocess_exec(
            *BOT, "run", cwd=REPO, env=env, stdout=handle, stderr=handle
        )
    finally:
        handle.close()


async def next_with(emulator: BotAPIEmulator, text: str, wait: float = 60) -> Any:
    """The coordinator's next message containing text (the bot may alert about the plan too)."""
    while True:
        (sent,) = await emulator.next_messages(COORDINATOR, wait=wait)
        if text in sent.text:
            return sent


async def test_sigkill_mid_broadcast_then_restart_sends_each_message_once(
    tmp_path: Path, emulator: GatedEmulator
) -> None:
    database = tmp_path / "crash.sqlite3"
    config = write_config(
        tmp_path / "config.yaml",
        {
            "database": {"path": str(database)},
            "content": {"path": str(CONTENT)},
            "coordinators": [COORDINATOR],
            "telegram": {"rate_per_second": 30, "per_chat_interval": 0},
            "logging": {"level": "INFO"},
        },
    )
    await seed(database)
    log = tmp_path / "bot.log"
    emulator.gate_after = KILL_AFTER
    process = await start_bot(config, emulator, log)
    try:
        await emulator.user_sends(COORDINATOR, "/announce")
        await next_with(emulator, "/cancel")
        await emulator.user_sends(COORDINATOR, "Tonight at 20:00: a live broadcast")
        audience = await next_with(emulator, "Кому")
        await emulator.user_presses(COORDINATOR, audience, "co:ann_to:0:live")
        confirm = await next_with(emulator, "Получателей: 120")
        await emulator.user_presses(COORDINATOR, confirm, "co:ann_send:0:")
        await asyncio.wait_for(emulator.gate_hit.wait(), 60)
        process.kill()  # SIGKILL: no clean-up of any kind
        await process.wait()
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
    with sqlite3.connect(database) as conn:
        statuses = dict(
            conn.execute(
                "SELECT status, COUNT(*) FROM outbox WHERE key LIKE 'announce:%' GROUP BY status"
            ).fetchall()
        )
    assert statuses["sent"] == KILL_AFTER
    # The held sends (up to telegram.send_concurrency at once) were in flight when killed.
    assert 1 <= statuses.get("sending", 0) <= 4
    delivered_before = Counter(s.chat_id for s in emulator.sent if s.chat_id in SUBSCRIBERS)
    assert sum(delivered_before.values()) == KILL_AFTER

    emulator.gate_after = None
    emulator.release.set()  # the dead process's held request ends without a delivery
    process = await start_bot(config, emulator, log)
    try:
        for _ in range(600):
            delivered = Counter(s.chat_id for s in emulator.sent if s.chat_id in SUBSCRIBERS)
            if len(delivered) == len(SUBSCRIBERS):
                break
            await asyncio.sleep(0.1)
        summary = None
        for _ in range(300):  # the restarted bot resumes the progress message and sums up
            texts = [s.text for s in emulator.messages_in(COORDINATOR)]
            summary = next((t for t in texts if t.startswith("Готово")), None)
            if summary:
                break
            await asyncio.sleep(0.1)
    finally:
        process.terminate()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), 20)
        with contextlib.suppress(ProcessLookupError):
            process.kill()
    delivered = Counter(s.chat_id for s in emulator.sent if s.chat_id in SUBSCRIBERS)
    assert set(delivered) == set(SUBSCRIBERS), log.read_text()[-3000:]
    assert set(delivered.values()) == {1}, "every subscriber got exactly one message"
    assert all(
        s.text == "Tonight at 20:00: a live broadcast"
        for s in emulator.sent
        if s.chat_id in SUBSCRIBERS
    )
    assert summary == "Готово: отправлено 120 из 120, недоступны: 0, ошибки: 0.", log.read_text()[
        -3000:
    ]
    assert "Traceback" not in log.read_text()
