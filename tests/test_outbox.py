"""The outbox: idempotent enqueue, rate limits, retries, unreachable people, crash recovery.

A real SQLite file, and the real aiogram Bot (recording session) behind the Telegram sender.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
)
from aiogram.methods import SendMessage, SendPhoto, SendVoice

from bot.core.people import PeopleService
from bot.core.replies import Action
from bot.outbox import Media, OutboxWorker, OutgoingMessage, RateLimiter, RetryPolicy
from bot.outbox import Outbox as OutboxQueue
from bot.storage import Database, PeopleRepository
from bot.storage.outbox import OutboxRepository
from bot.telegram.sender import TelegramSender
from tests.helpers import Clock
from tests.mocked_bot import RecordingSession, make_bot


class Monotonic:
    """A monotonic clock that sleeping advances: rate limits without waiting."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "outbox.sqlite3")
    yield database
    await database.close()


@pytest.fixture
def session() -> RecordingSession:
    return RecordingSession()


@pytest.fixture
def monotonic() -> Monotonic:
    return Monotonic()


def make_worker(
    db: Database,
    outbox: OutboxQueue,
    session: RecordingSession,
    clock: Clock,
    monotonic: Monotonic,
    people: PeopleService | None = None,
    rate: float = 25.0,
) -> OutboxWorker:
    return OutboxWorker(
        db,
        outbox,
        "telegram",
        TelegramSender(make_bot(session)),
        RateLimiter(rate, 1.0, clock=monotonic, sleep=monotonic.sleep),
        clock.now,
        on_unreachable=people.mark_unreachable_by_id if people else None,
        policy=RetryPolicy(attempts=3, base_delay=2.0),
    )


def message(key: str, chat: str = "501", text: str = "Reminder", **kw: object) -> OutgoingMessage:
    return OutgoingMessage(key=key, channel="telegram", chat_id=chat, text=text, **kw)  # type: ignore[arg-type]


async def test_enqueue_is_idempotent_by_key(db: Database, clock: Clock) -> None:
    outbox = OutboxQueue(db, clock.now)
    assert await outbox.enqueue([message("reminder:1:7:24h"), message("reminder:1:8:24h")]) == 2
    assert await outbox.enqueue([message("reminder:1:7:24h")]) == 0
    assert await outbox.counts() == {"pending": 2}


async def test_worker_sends_with_buttons_and_forgets_the_text(
    db: Database, clock: Clock, session: RecordingSession, monotonic: Monotonic
) -> None:
    outbox = OutboxQueue(db, clock.now)
    await outbox.enqueue(
        [message("relay:1", text="<b>Hello</b>", actions=(Action("topics", "", "Topics"),))]
    )
    worker = make_worker(db, outbox, session, clock, monotonic)
    assert await worker.run_once() == 1
    (sent,) = session.sent()
    assert sent.chat_id == 501
    assert sent.text == "<b>Hello</b>"
    assert sent.reply_markup is not None
    row = await outbox.get("relay:1")
    assert row is not None
    assert row.status == "sent"
    assert row.text is None, "the text is not kept once sent"
    assert await worker.run_once() == 0, "nothing is sent twice"
    assert len(session.sent()) == 1


async def test_media_and_forum_topics_go_through_the_outbox(
    db: Database, clock: Clock, session: RecordingSession, monotonic: Monotonic
) -> None:
    outbox = OutboxQueue(db, clock.now)
    await outbox.enqueue(
        [
            message(
                "relay:photo",
                chat="-100",
                text="caption",
                thread_id=77,
                media=Media("photo", "AgAD-photo"),
            ),
            message("relay:voice", chat="502", text="", media=Media("voice", "AwAD-voice")),
            message("relay:text", chat="-100", text="into the topic", thread_id=77),
        ]
    )
    worker = make_worker(db, outbox, session, clock, monotonic)
    assert await worker.run_once() == 3
    photo, voice, text = session.deliveries()
    assert isinstance(photo, SendPhoto)
    assert (photo.chat_id, photo.photo, photo.caption) == (-100, "AgAD-photo", "caption")
    assert photo.message_thread_id == 77
    assert isinstance(voice, SendVoice)
    assert (voice.voice, voice.caption) == ("AwAD-voice", None)
    assert isinstance(text, SendMessage)
    assert text.message_thread_id == 77
    row = await outbox.get("relay:photo")
    assert row is not None
    assert (row.status, row.text, row.media_ref) == ("sent", None, None)
    with pytest.raises(ValueError, match="unknown media kind"):
        Media("sticker", "x")


async def test_messages_wait_for_their_time(
    db: Database, clock: Clock, session: RecordingSession, monotonic: Monotonic
) -> None:
    outbox = OutboxQueue(db, clock.now)
    later = clock.now() + timedelta(hours=1)
    await outbox.enqueue([message("reminder:later", not_before=later)])
    worker = make_worker(db, outbox, session, clock, monotonic)
    assert await worker.run_once() == 0
    clock.advance(hours=1)
    assert await worker.run_once() == 1


async def test_global_rate_and_per_chat_interval(
    db: Database, clock: Clock, session: RecordingSession, monotonic: Monotonic
) -> None:
    outbox = OutboxQueue(db, clock.now)
    await outbox.enqueue([message(f"broadcast:{i}", chat=str(1000 + i)) for i in range(50)])
    worker = make_worker(db, outbox, session, clock, monotonic, rate=25.0)
    start = monotonic.now
    await worker.run_once()
    assert len(session.sent()) == 50
    assert monotonic.now - start == pytest.approx(49 / 25)  # 25 a second
    session.clear()
    await outbox.enqueue([message(f"relay:{i}", chat="777") for i in range(3)])
    monotonic.now += 1.0  # past the broadcast's last global slot
    start = monotonic.now
    await worker.run_once()
    assert monotonic.now - start == pytest.approx(2.0)  # one a second to one chat


async def test_429_pauses_the_channel_and_retries(
    db: Database, clock: Clock, session: RecordingSession, monotonic: Monotonic
) -> None:
    outbox = OutboxQueue(db, clock.now)
    await outbox.enqueue([message("a"), message("b", chat="502")])
    method = SendMessage(chat_id=501, text="x")
    session.fail_next(
        SendMessage, TelegramRetryAfter(method=method, message="flood", retry_after=7)
    )
    worker = make_worker(db, outbox, session, clock, monotonic)
    await worker.run_once()
    row = await outbox.get("a")
    assert row is not None
    assert row.status == "pending"
    assert 7.0 in monotonic.slept, "the next send waited retry_after"
    clock.advance(8)
    await worker.run_once()
    assert await outbox.counts() == {"sent": 2}


async def test_network_errors_back_off_then_give_up(
    db: Database, clock: Clock, session: RecordingSession, monotonic: Monotonic
) -> None:
    outbox = OutboxQueue(db, clock.now)
    await outbox.enqueue([message("flaky")])
    method = SendMessage(chat_id=501, text="x")
    for _ in range(3):
        session.fail_next(SendMessage, TelegramNetworkError(method=method, message="reset"))
    worker = make_worker(db, outbox, session, clock, monotonic)
    await worker.run_once()
    assert await worker.run_once() == 0, "not due again before the backoff"
    clock.advance(2)
    await worker.run_once()  # attempt 2 fails; next in 4 s
    clock.advance(4)
    await worker.run_once()  # attempt 3 fails: the policy allows 3
    row = await outbox.get("flaky")
    assert row is not None
    assert row.status == "failed"
    assert row.attempts == 3


async def test_a_blocked_person_is_marked_unreachable(
    db: Database, clock: Clock, session: RecordingSession, monotonic: Monotonic
) -> None:
    people = PeopleService(db, clock.now)
    person, _ = await people.identify("telegram", "501", "ru")
    outbox = OutboxQueue(db, clock.now)
    await outbox.enqueue([message("relay:9", person_id=person.id)])
    method = SendMessage(chat_id=501, text="x")
    session.fail_next(SendMessage, TelegramForbiddenError(method=method, message="blocked"))
    await make_worker(db, outbox, session, clock, monotonic, people).run_once()
    row = await outbox.get("relay:9")
    assert row is not None
    assert row.status == "unreachable"
    stored = await PeopleRepository(db.connection).get(person.id)
    assert stored is not None
    assert stored.unreachable


async def test_a_refused_message_fails_without_retrying(
    db: Database, clock: Clock, session: RecordingSession, monotonic: Monotonic
) -> None:
    outbox = OutboxQueue(db, clock.now)
    await outbox.enqueue([message("bad")])
    method = SendMessage(chat_id=501, text="x")
    session.fail_next(SendMessage, TelegramBadRequest(method=method, message="can't parse"))
    await make_worker(db, outbox, session, clock, monotonic).run_once()
    row = await outbox.get("bad")
    assert row is not None
    assert row.status == "failed"
    assert row.attempts == 1


async def test_a_crash_mid_send_resends_only_the_interrupted_message(
    db: Database, clock: Clock, session: RecordingSession, monotonic: Monotonic
) -> None:
    outbox = OutboxQueue(db, clock.now)
    await outbox.enqueue([message(f"broadcast:{i}", chat=str(2000 + i)) for i in range(5)])
    worker = make_worker(db, outbox, session, clock, monotonic)
    # Two sent; the third claimed ("sending") when the process died.
    repo = OutboxRepository(db.connection)
    due = await repo.due("telegram", clock.now(), 10)
    for row in due[:2]:
        async with db.transaction() as conn:
            await OutboxRepository(conn).claim(row.id)
        await worker._deliver(row)
    async with db.transaction() as conn:
        await OutboxRepository(conn).claim(due[2].id)
    session.clear()
    restarted = make_worker(db, outbox, session, clock, monotonic)
    assert await restarted.recover() == 1
    await restarted.run_once()
    assert sorted(m.chat_id for m in session.sent()) == [2002, 2003, 2004]
    assert await outbox.counts() == {"sent": 5}


async def test_forget_drops_the_persons_queued_messages(db: Database, clock: Clock) -> None:
    people = PeopleService(db, clock.now)
    person, _ = await people.identify("telegram", "601", "kk")
    outbox = OutboxQueue(db, clock.now)
    await outbox.enqueue([message("relay:x", chat="601", person_id=person.id)])
    await people.forget(person)
    assert await outbox.get("relay:x") is None
