"""The persistent outbox: written before sending, sent within rate limits, retried, never twice.

Every message the bot sends on its own initiative goes through here (DESIGN.md). Enqueueing
writes it with an idempotency key, so enqueueing the same message again does nothing. One worker
per channel sends what is due, respecting a global rate and a per-chat interval, and records the
result. The platforms are behind the Sender protocol: this module imports neither aiogram nor
instagrapi.

Delivery is at least once across a crash: a message interrupted between the platform accepting
it and the result being written is sent again at the next start. Everything else is exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

import aiosqlite

from bot.core.background import Background
from bot.core.replies import Action
from bot.storage import Database
from bot.storage.outbox import OutboxRepository, OutboxRow

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[object]]


# --- what a sender may report ------------------------------------------------------------------


class RetryLater(Exception):
    """The platform asks to wait (Telegram's 429 with retry_after)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"retry after {seconds}s")
        self.seconds = seconds


class TemporaryFailure(Exception):
    """A network error or a 5xx: try again later."""


class PermanentFailure(Exception):
    """The platform refuses this message for good (a bad request)."""


class Unreachable(Exception):
    """The person blocked the bot or deleted their account."""


MEDIA_KINDS = ("photo", "document", "voice", "video", "audio", "animation")


@dataclass(frozen=True, slots=True)
class Media:
    """A file to send: its kind and the platform's reference to it (a Telegram file_id)."""

    kind: str
    ref: str

    def __post_init__(self) -> None:
        if self.kind not in MEDIA_KINDS:
            raise ValueError(f"unknown media kind {self.kind!r}")


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """A message to queue: the key makes it idempotent (reminder:<lecture>:<person>:<offset>)."""

    key: str
    channel: str
    chat_id: str
    text: str
    actions: tuple[Action, ...] = ()
    person_id: int | None = None
    not_before: datetime | None = None
    thread_id: int | None = None
    media: Media | None = None


class Sender(Protocol):
    """Sends one queued message on a platform, raising the exceptions above."""

    async def send(self, row: OutboxRow) -> None: ...


# --- rate limits -----------------------------------------------------------------------------


@dataclass
class RateLimiter:
    """A global rate (messages per second) and a minimum interval between messages to one chat."""

    per_second: float
    per_chat_interval: float
    clock: Callable[[], float] = time.monotonic
    sleep: Sleep = asyncio.sleep
    # Seconds a late sender may catch up on. The event loop sleeps in whole milliseconds, so at
    # hundreds of messages a second every short sleep overshoots; a few ms of credit recovers it.
    burst: float = 0.0
    _next_global: float = 0.0
    _next_chat: dict[str, float] = field(default_factory=dict)
    _paused_until: float = 0.0

    def pause(self, seconds: float) -> None:
        """Hold every send on this channel (the platform said to wait)."""
        self._paused_until = max(self._paused_until, self.clock() + seconds)

    async def wait(self, chat_id: str) -> None:
        now = self.clock()
        earliest = max(now - self.burst, self._next_global)
        start = max(earliest, self._next_chat.get(chat_id, 0.0), self._paused_until)
        self._next_global = start + 1.0 / self.per_second
        self._next_chat[chat_id] = start + self.per_chat_interval
        if len(self._next_chat) > 50_000:
            self._next_chat = {k: v for k, v in self._next_chat.items() if v > now}
        if start > now:
            await self.sleep(start - now)


# --- the outbox ------------------------------------------------------------------------------


class Outbox:
    """Queues messages; workers send them."""

    def __init__(self, db: Database, clock: Callable[[], datetime]) -> None:
        self._db = db
        self._clock = clock
        self._wake: dict[str, asyncio.Event] = {}

    def wake_event(self, channel: str) -> asyncio.Event:
        return self._wake.setdefault(channel, asyncio.Event())

    async def enqueue(self, messages: list[OutgoingMessage]) -> int:
        """Write messages in one transaction; returns how many were new (not queued before)."""
        async with self._db.transaction() as conn:
            added = await self.add_in(conn, messages)
        self.wake(messages)
        return added

    async def add_in(self, conn: aiosqlite.Connection, messages: list[OutgoingMessage]) -> int:
        """Write messages inside the caller's transaction (with what they belong to); call
        wake() after it commits."""
        now = self._clock()
        added = 0
        repo = OutboxRepository(conn)
        for m in messages:
            actions = [(a.kind, a.value, a.label) for a in m.actions]
            added += await repo.add(
                m.key,
                m.channel,
                m.chat_id,
                m.text,
                actions,
                m.person_id,
                now,
                m.not_before,
                m.thread_id,
                (m.media.kind, m.media.ref) if m.media else None,
            )
        return added

    def wake(self, messages: list[OutgoingMessage]) -> None:
        for channel in {m.channel for m in messages}:
            self.wake_event(channel).set()

    async def counts(self, channel: str | None = None) -> dict[str, int]:
        return await OutboxRepository(self._db.connection).counts(channel)

    async def get(self, key: str) -> OutboxRow | None:
        return await OutboxRepository(self._db.connection).get(key)


@dataclass
class RetryPolicy:
    attempts: int = 6
    base_delay: float = 2.0
    max_delay: float = 300.0

    def delay(self, attempt: int) -> float:
        return min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))


class OutboxWorker:
    """Sends one channel's due messages within its rate limits, `concurrency` at a time."""

    def __init__(
        self,
        db: Database,
        outbox: Outbox,
        channel: str,
        sender: Sender,
        limiter: RateLimiter,
        clock: Callable[[], datetime],
        on_unreachable: Callable[[int], Awaitable[None]] | None = None,
        policy: RetryPolicy | None = None,
        batch: int = 200,
        idle_seconds: float = 1.0,
        concurrency: int = 1,
    ) -> None:
        self._db = db
        self._outbox = outbox
        self.channel = channel
        self._sender = sender
        self._limiter = limiter
        self._clock = clock
        self._on_unreachable = on_unreachable
        self._policy = policy or RetryPolicy()
        self._batch = batch
        self._idle = idle_seconds
        # Sends in flight at once: the rate limiter still spaces their starts, but a round trip
        # no longer caps the rate (one at a time manages about 1 / latency per second).
        self._concurrency = max(1, concurrency)
        self._background = Background(self.run)
        self._sent: list[tuple[int, asyncio.Future[None]]] = []
        self._recorder: asyncio.Task[None] | None = None

    async def recover(self) -> int:
        """At start: messages a crash left half-sent go back to the queue."""
        async with self._db.transaction() as conn:
            released = await OutboxRepository(conn).release_interrupted(self.channel)
        if released:
            log.warning(
                "%s outbox: %d interrupted message(s) queued again", self.channel, released
            )
        return released

    async def run_once(self) -> int:
        """Send what is due now; returns how many messages were attempted."""
        due = await OutboxRepository(self._db.connection).due(
            self.channel, self._clock(), self._batch
        )
        slots = asyncio.Semaphore(self._concurrency)
        in_flight: set[asyncio.Task[None]] = set()
        by_chat: dict[str, asyncio.Task[None]] = {}

        async def deliver(row: OutboxRow) -> None:
            try:
                await self._deliver(row)
            finally:
                slots.release()

        # Claimed in chunks (one transaction each); a crash puts claimed rows that were not
        # sent back in the queue, so only the sends in flight can ever go out twice.
        step = max(1, min(self._concurrency, 50))
        try:
            for start in range(0, len(due), step):
                chunk = due[start : start + step]
                async with self._db.transaction() as conn:
                    claimed = await OutboxRepository(conn).claim_many([r.id for r in chunk])
                for row in chunk:
                    if row.id not in claimed:
                        continue
                    previous = by_chat.get(row.chat_id)
                    if previous is not None and not previous.done():
                        await asyncio.wait([previous])  # one chat's messages stay in order
                    await slots.acquire()
                    await self._limiter.wait(row.chat_id)
                    task = asyncio.get_running_loop().create_task(deliver(row))
                    in_flight.add(task)
                    task.add_done_callback(in_flight.discard)
                    by_chat[row.chat_id] = task
        finally:
            if in_flight:
                await asyncio.gather(*in_flight, return_exceptions=True)
        return len(due)

    async def _deliver(self, row: OutboxRow) -> None:
        attempt = row.attempts + 1
        try:
            await self._sender.send(row)
        except RetryLater as exc:
            self._limiter.pause(exc.seconds)
            await self._retry(row, attempt, exc.seconds, "rate limited")
        except TemporaryFailure as exc:
            await self._retry(row, attempt, self._policy.delay(attempt), f"temporary: {exc}")
        except Unreachable:
            await self._finish(row, "unreachable", "unreachable")
            if row.person_id is not None and self._on_unreachable is not None:
                await self._on_unreachable(row.person_id)
        except PermanentFailure as exc:
            log.error("%s outbox: message %s refused: %s", self.channel, row.id, exc)
            await self._finish(row, "failed", f"refused: {exc}")
        except Exception as exc:  # a bug in a sender must not stop the queue
            log.exception("%s outbox: message %s failed unexpectedly", self.channel, row.id)
            await self._retry(row, attempt, self._policy.delay(attempt), type(exc).__name__)
        else:
            await self._record_sent(row.id)

    async def _retry(self, row: OutboxRow, attempt: int, delay: float, error: str) -> None:
        if attempt >= self._policy.attempts:
            log.error("%s outbox: message %s failed %d times", self.channel, row.id, attempt)
            await self._finish(row, "failed", error)
            return
        async with self._db.transaction() as conn:
            await OutboxRepository(conn).retry(
                row.id, self._clock() + timedelta(seconds=delay), error
            )

    async def _record_sent(self, row_id: int) -> None:
        """Mark a row sent; rows sent meanwhile share one transaction (a group commit)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sent.append((row_id, done))
        if self._recorder is None or self._recorder.done():
            self._recorder = asyncio.get_running_loop().create_task(self._write_sent())
        await asyncio.shield(done)

    async def _write_sent(self) -> None:
        while self._sent:
            batch, self._sent = self._sent[:500], self._sent[500:]
            try:
                async with self._db.transaction() as conn:
                    await OutboxRepository(conn).finish_sent([i for i, _f in batch], self._clock())
            except Exception as exc:  # the rows stay 'sending' and go out again after a restart
                log.exception(
                    "%s outbox: could not record %d sent message(s)", self.channel, len(batch)
                )
                for _id, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                continue
            for _id, done in batch:
                if not done.done():
                    done.set_result(None)

    async def _finish(self, row: OutboxRow, status: str, error: str | None) -> None:
        async with self._db.transaction() as conn:
            await OutboxRepository(conn).finish(row.id, status, self._clock(), error)

    async def run(self) -> None:
        """Forever: recover, then send what is due, sleeping until woken or idle time passes."""
        await self.recover()
        wake = self._outbox.wake_event(self.channel)
        while True:
            wake.clear()
            try:
                sent = await self.run_once()
            except Exception:
                log.exception("%s outbox: a round failed; trying again", self.channel)
                sent = 0
            if not sent:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), self._idle)

    def start(self) -> None:
        self._background.start()

    async def stop(self) -> None:
        await self._background.stop()
        if self._recorder is not None:  # what was sent is recorded before the database closes
            with contextlib.suppress(Exception):
                await self._recorder
