"""The outbox worker with several sends in flight: overlap, per-chat order, one record each."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.outbox import Outbox, OutboxWorker, OutgoingMessage, RateLimiter, Unreachable
from bot.storage import Database
from bot.storage.outbox import OutboxRow
from tests.helpers import Clock


class SlowSender:
    """Takes a while per message; records the order and how many were in flight at once."""

    def __init__(self) -> None:
        self.order: list[tuple[str, str]] = []
        self.in_flight = 0
        self.most = 0

    async def send(self, row: OutboxRow) -> None:
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        try:
            await asyncio.sleep(0.01)
            if row.chat_id == "blocked":
                raise Unreachable("blocked")
            self.order.append((row.chat_id, row.text or ""))
        finally:
            self.in_flight -= 1


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "outbox.sqlite3")
    yield database
    await database.close()


@pytest.mark.parametrize("concurrency", [1, 8])
async def test_sends_overlap_but_one_chat_stays_in_order(
    db: Database, clock: Clock, concurrency: int
) -> None:
    outbox = Outbox(db, clock.now)
    messages = [
        OutgoingMessage(f"k:{chat}:{n}", "telegram", chat, f"{n}")
        for n in range(5)
        for chat in ("a", "b", "c", "d", "e", "f", "blocked")
    ]
    assert await outbox.enqueue(messages) == 35
    sender = SlowSender()
    worker = OutboxWorker(
        db, outbox, "telegram", sender, RateLimiter(10_000, 0), clock.now, concurrency=concurrency
    )
    assert await worker.run_once() == 35
    assert sender.most == min(concurrency, 7)  # one per chat at a time
    for chat in "abcdef":
        assert [text for c, text in sender.order if c == chat] == ["0", "1", "2", "3", "4"]
    assert await outbox.counts("telegram") == {"sent": 30, "unreachable": 5}
    assert await worker.run_once() == 0  # nothing is sent twice


async def test_the_limiter_catches_up_only_by_its_burst() -> None:
    now = [10.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(100, 0, clock=lambda: now[0], sleep=sleep, burst=0.02)
    await limiter.wait("a")  # 10.00 (credit from before the start is capped at the burst)
    now[0] += 0.05  # the loop was busy for 50 ms: 5 slots missed
    for _ in range(4):
        await limiter.wait("a")  # 20 ms of catch-up (two slots, then one on time), then paced
    assert slept == [pytest.approx(0.01)]
    strict = RateLimiter(100, 0, clock=lambda: now[0], sleep=sleep)
    await strict.wait("b")
    await strict.wait("b")
    assert slept[-1] == pytest.approx(0.01)
