"""The SQLite database on a real file: migrations, pragmas, transactions, erasure, privacy."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.core.people import PeopleService
from bot.storage import (
    Database,
    EventRepository,
    PeopleRepository,
    TicketRepository,
)
from bot.storage.db import DatabaseError, migrations
from tests.helpers import Clock


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "nested" / "folder" / "senim.sqlite3"


@pytest.fixture
async def db(db_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(db_path)
    try:
        yield database
    finally:
        await database.close()


async def scalar(db: Database, sql: str) -> object:
    async with db.connection.execute(sql) as cursor:
        row = await cursor.fetchone()
    assert row is not None
    return row[0]


async def test_open_creates_folders_and_migrates(db: Database, db_path: Path) -> None:
    assert await asyncio.to_thread(db_path.is_file)
    assert await db.schema_version() == len(migrations()) >= 1
    # user_version is really stored in the file, not just reported
    with sqlite3.connect(db_path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == len(migrations())
        tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"people", "events", "tickets"} <= tables


async def test_reopening_is_idempotent(db_path: Path, clock: Clock) -> None:
    first = await Database.open(db_path)
    async with first.transaction() as conn:
        await PeopleRepository(conn).add("console", "p1", "Calm-Fox-10", "ru", clock.now())
    await first.close()
    second = await Database.open(db_path)
    try:
        assert await second.schema_version() == len(migrations())
        assert await second.migrate() == len(migrations())  # nothing left to apply
        assert await PeopleRepository(second.connection).count() == 1
    finally:
        await second.close()


async def test_wal_and_foreign_keys_are_on(db: Database) -> None:
    assert str(await scalar(db, "PRAGMA journal_mode")).lower() == "wal"
    assert await scalar(db, "PRAGMA foreign_keys") == 1
    assert int(str(await scalar(db, "PRAGMA busy_timeout"))) >= 1000


async def test_foreign_keys_are_enforced(db: Database, clock: Clock) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        async with db.transaction() as conn:
            await TicketRepository(conn).add(9999, "normal", "asked", "ru", None, clock.now())


async def test_transaction_rolls_back_on_error(db: Database, clock: Clock) -> None:
    class Boom(Exception):
        pass

    async def write_then_fail() -> None:
        async with db.transaction() as conn:
            await PeopleRepository(conn).add("console", "p1", "Calm-Fox-10", "ru", clock.now())
            await EventRepository(conn).add("question", "console", clock.now())
            raise Boom

    with pytest.raises(Boom):
        await write_then_fail()
    assert await PeopleRepository(db.connection).count() == 0
    assert await EventRepository(db.connection).list() == []
    # the connection is usable afterwards
    async with db.transaction() as conn:
        await PeopleRepository(conn).add("console", "p1", "Calm-Fox-10", "ru", clock.now())
    assert await PeopleRepository(db.connection).count() == 1


async def test_committed_data_is_in_the_file(db: Database, db_path: Path, clock: Clock) -> None:
    async with db.transaction() as conn:
        await EventRepository(conn).add("question", "console", clock.now(), outcome="none")
    with sqlite3.connect(db_path) as raw:
        assert raw.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 1


async def test_transactions_do_not_interleave(db: Database, clock: Clock) -> None:
    """Each transaction sees only its own writes: a failing one rolls back nothing of others."""

    async def writer(number: int) -> None:
        async with db.transaction() as conn:
            await EventRepository(conn).add(
                "question", "console", clock.now(), outcome=str(number)
            )
            await asyncio.sleep(0)  # give the others every chance to step in
            await EventRepository(conn).add(
                "feedback", "console", clock.now(), outcome=str(number)
            )
            if number % 5 == 0:
                raise ValueError(number)

    results = await asyncio.gather(*(writer(n) for n in range(1, 31)), return_exceptions=True)
    failed = {n for n, r in zip(range(1, 31), results, strict=True) if isinstance(r, ValueError)}
    assert failed == {5, 10, 15, 20, 25, 30}
    events = await EventRepository(db.connection).list()
    outcomes = [e.outcome for e in events]
    expected = [str(n) for n in range(1, 31) if n not in failed]
    # pairs stay together and in order: question then feedback of the same writer
    assert outcomes == [o for n in expected for o in (n, n)]
    assert [e.kind for e in events] == ["question", "feedback"] * len(expected)


async def test_fifty_concurrent_identifies(db: Database, clock: Clock) -> None:
    people = PeopleService(db, clock.now)
    results = await asyncio.gather(
        *(people.identify("telegram", str(1000 + n), "ru") for n in range(50))
    )
    assert all(new for _person, new in results)
    assert len({person.id for person, _new in results}) == 50
    assert len({person.pseudonym for person, _new in results}) == 50
    assert await PeopleRepository(db.connection).count() == 50
    again, new = await people.identify("telegram", "1000")
    assert not new
    assert again.id == results[0][0].id


async def test_concurrent_identifies_of_one_new_person(db: Database, clock: Clock) -> None:
    people = PeopleService(db, clock.now)
    results = await asyncio.gather(*(people.identify("telegram", "42") for _ in range(3)))
    assert len({person.id for person, _new in results}) == 1
    assert [new for _p, new in results].count(True) == 1


async def test_a_newer_database_is_refused(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    with sqlite3.connect(db_path) as raw:
        raw.execute(f"PRAGMA user_version = {len(migrations()) + 5}")
    with pytest.raises(DatabaseError, match=r"newer than this program.*upgrade"):
        await Database.open(db_path)
    # the file is left as it was
    with sqlite3.connect(db_path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == len(migrations()) + 5


async def test_a_garbage_file_is_refused_clearly(tmp_path: Path) -> None:
    garbage = tmp_path / "senim.sqlite3"
    garbage.write_bytes(b"this is not a database at all\n" * 200)
    with pytest.raises(DatabaseError) as raised:
        await Database.open(garbage)
    message = str(raised.value)
    assert str(garbage) in message
    assert "not a usable SQLite database" in message
    assert "backup" in message


async def test_an_unopenable_path_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "a-folder.sqlite3"
    folder.mkdir()
    with pytest.raises(DatabaseError, match=r"a-folder\.sqlite3"):
        await Database.open(folder)


async def test_timestamps_must_be_aware(db: Database) -> None:
    from datetime import datetime

    with pytest.raises(ValueError, match="timezone-aware"):
        async with db.transaction() as conn:
            await EventRepository(conn).add("question", "console", datetime(2025, 1, 1))  # noqa: DTZ001


async def test_forget_cascades_to_requests_and_keeps_events(db: Database, clock: Clock) -> None:
    people = PeopleService(db, clock.now)
    person, _ = await people.identify("telegram", "7", "kk")
    other, _ = await people.identify("telegram", "8", "ru")
    async with db.transaction() as conn:
        requests = TicketRepository(conn)
        await requests.add(person.id, "urgent", "crisis:self_harm", "kk", None, clock.now())
        await requests.add(other.id, "normal", "asked", "ru", "takfir", clock.now())
        await EventRepository(conn).add("crisis", "telegram", clock.now(), outcome="self_harm")
        await EventRepository(conn).add("question", "telegram", clock.now(), topic_id="takfir")
    assert await people.forget(person) is True
    assert await people.get(person.id) is None
    assert await PeopleRepository(db.connection).find("telegram", "7") is None
    waiting = await TicketRepository(db.connection).waiting()
    assert [r.person_id for r in waiting] == [other.id]
    assert len(await EventRepository(db.connection).list()) == 2
    assert await people.forget(person) is False  # already gone


async def test_waiting_requests_urgent_first(db: Database, clock: Clock) -> None:
    people = PeopleService(db, clock.now)
    first, _ = await people.identify("telegram", "1")
    second, _ = await people.identify("telegram", "2")
    async with db.transaction() as conn:
        await TicketRepository(conn).add(first.id, "normal", "asked", "ru", None, clock.now())
    clock.advance(60)
    async with db.transaction() as conn:
        await TicketRepository(conn).add(
            second.id, "urgent", "crisis:life_threat", "ru", None, clock.now()
        )
    waiting = await TicketRepository(db.connection).waiting()
    assert [r.person_id for r in waiting] == [second.id, first.id]


async def test_events_cannot_hold_a_message_or_a_person(db: Database) -> None:
    async with db.connection.execute("PRAGMA table_info(events)") as cursor:
        columns = {row["name"] for row in await cursor.fetchall()}
    assert columns == {
        "id",
        "kind",
        "channel",
        "language",
        "topic_id",
        "outcome",
        "score",
        "created_at",
    }


async def test_event_kinds_are_checked(db: Database, clock: Clock) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        async with db.transaction() as conn:
            await EventRepository(conn).add("message_text", "console", clock.now())


async def test_people_table_keeps_no_names(db: Database) -> None:
    async with db.connection.execute("PRAGMA table_info(people)") as cursor:
        columns = {row["name"] for row in await cursor.fetchall()}
    assert not columns & {"name", "first_name", "last_name", "username", "phone", "text"}


async def test_buffered_event_log_writes_in_batches_and_on_stop(
    db: Database, clock: Clock
) -> None:
    from bot.core.events import EventLog

    log = EventLog(db, clock.now, flush_seconds=60)
    log.start()
    for _ in range(3):
        await log.record("question", "telegram", language="ru", outcome="none")
    assert await EventRepository(db.connection).list() == [], "nothing written before a flush"
    assert await log.flush() == 3
    assert len(await EventRepository(db.connection).list()) == 3
    await log.record("feedback", "telegram", outcome="helped")
    await log.stop()
    assert [e.kind for e in await EventRepository(db.connection).list()][-1] == "feedback"


async def test_write_through_event_log(db: Database, clock: Clock) -> None:
    from bot.core.events import EventLog

    log = EventLog(db, clock.now, flush_seconds=0)
    await log.record("crisis", "console", outcome="self_harm")
    (event,) = await EventRepository(db.connection).list()
    assert event.outcome == "self_harm"


async def test_people_cache_never_serves_an_erased_or_changed_person(
    db: Database, clock: Clock
) -> None:
    people = PeopleService(db, clock.now)
    person, new = await people.identify("telegram", "77")
    assert new
    again, new = await people.identify("telegram", "77")
    assert again == person
    assert not new
    changed = await people.set_language(person, "kk")
    cached, _ = await people.identify("telegram", "77")
    assert cached.language == "kk"
    await people.forget(changed)
    fresh, new = await people.identify("telegram", "77")
    assert new
    assert fresh.pseudonym != person.pseudonym
