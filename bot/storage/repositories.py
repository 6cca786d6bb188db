"""Repositories: parameterised SQL over one connection, frozen dataclasses out, no commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiosqlite


def _ts(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return moment.isoformat()


@dataclass(frozen=True, slots=True)
class Person:
    id: int
    channel: str
    platform_id: str
    pseudonym: str
    language: str | None
    unreachable: bool
    created_at: str
    last_seen_at: str


@dataclass(frozen=True, slots=True)
class Event:
    id: int
    kind: str
    channel: str
    language: str | None
    topic_id: str | None
    outcome: str | None
    score: float | None
    created_at: str


@dataclass(frozen=True, slots=True)
class SpecialistRequest:
    id: int
    person_id: int
    priority: str
    reason: str
    language: str
    topic_id: str | None
    status: str
    created_at: str


def _person(row: aiosqlite.Row) -> Person:
    return Person(
        id=row["id"],
        channel=row["channel"],
        platform_id=row["platform_id"],
        pseudonym=row["pseudonym"],
        language=row["language"],
        unreachable=bool(row["unreachable"]),
        created_at=row["created_at"],
        last_seen_at=row["last_seen_at"],
    )


class PeopleRepository:
    """The people the bot talks to: channel, platform id, pseudonym, language."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._db = connection

    async def get(self, person_id: int) -> Person | None:
        async with self._db.execute("SELECT * FROM people WHERE id = ?", (person_id,)) as cur:
            row = await cur.fetchone()
        return _person(row) if row else None

    async def find(self, channel: str, platform_id: str) -> Person | None:
        async with self._db.execute(
            "SELECT * FROM people WHERE channel = ? AND platform_id = ?", (channel, platform_id)
        ) as cur:
            row = await cur.fetchone()
        return _person(row) if row else None

    async def pseudonym_taken(self, pseudonym: str) -> bool:
        async with self._db.execute(
            "SELECT 1 FROM people WHERE pseudonym = ?", (pseudonym,)
        ) as cur:
            return await cur.fetchone() is not None

    async def add(
        self, channel: str, platform_id: str, pseudonym: str, language: str | None, now: datetime
    ) -> Person:
        async with self._db.execute(
            "INSERT INTO people (channel, platform_id, pseudonym, language, created_at,"
            " last_seen_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING *",
            (channel, platform_id, pseudonym, language, _ts(now), _ts(now)),
        ) as cur:
            row = await cur.fetchone()
        assert row is not None
        return _person(row)

    async def touch(self, person_id: int, now: datetime) -> None:
        await self._db.execute(
            "UPDATE people SET last_seen_at = ?, unreachable = 0 WHERE id = ?",
            (_ts(now), person_id),
        )

    async def set_language(self, person_id: int, language: str) -> None:
        await self._db.execute(
            "UPDATE people SET language = ? WHERE id = ?", (language, person_id)
        )

    async def mark_unreachable(self, person_id: int) -> None:
        await self._db.execute("UPDATE people SET unreachable = 1 WHERE id = ?", (person_id,))

    async def delete(self, person_id: int) -> bool:
        cur = await self._db.execute("DELETE FROM people WHERE id = ?", (person_id,))
        return cur.rowcount > 0

    async def count(self) -> int:
        async with self._db.execute("SELECT COUNT(*) FROM people") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0


class EventRepository:
    """The anonymous effectiveness log: what was asked about, never who or what exactly."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._db = connection

    async def add(
        self,
        kind: str,
        channel: str,
        now: datetime,
        *,
        language: str | None = None,
        topic_id: str | None = None,
        outcome: str | None = None,
        score: float | None = None,
    ) -> int:
        cur = await self._db.execute(
            "INSERT INTO events (kind, channel, language, topic_id, outcome, score, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (kind, channel, language, topic_id, outcome, score, _ts(now)),
        )
        return int(cur.lastrowid or 0)

    async def add_many(self, rows: list[tuple[str, str, datetime, dict[str, Any]]]) -> None:
        """Many events in one statement: (kind, channel, time, fields) each."""
        await self._db.executemany(
            "INSERT INTO events (kind, channel, language, topic_id, outcome, score, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    kind,
                    channel,
                    f.get("language"),
                    f.get("topic_id"),
                    f.get("outcome"),
                    f.get("score"),
                    _ts(moment),
                )
                for kind, channel, moment, f in rows
            ],
        )

    async def list(self, kind: str | None = None) -> list[Event]:
        sql = "SELECT * FROM events"
        params: tuple[Any, ...] = ()
        if kind is not None:
            sql += " WHERE kind = ?"
            params = (kind,)
        async with self._db.execute(sql + " ORDER BY id", params) as cur:
            rows = await cur.fetchall()
        return [Event(**dict(row)) for row in rows]


class SpecialistRequestRepository:
    """Requests for a human specialist, waiting for the queue."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._db = connection

    async def add(
        self,
        person_id: int,
        priority: str,
        reason: str,
        language: str,
        topic_id: str | None,
        now: datetime,
    ) -> SpecialistRequest:
        async with self._db.execute(
            "INSERT INTO specialist_requests (person_id, priority, reason, language, topic_id,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING *",
            (person_id, priority, reason, language, topic_id, _ts(now)),
        ) as cur:
            row = await cur.fetchone()
        assert row is not None
        return SpecialistRequest(**dict(row))

    async def open_for(self, person_id: int) -> SpecialistRequest | None:
        async with self._db.execute(
            "SELECT * FROM specialist_requests WHERE person_id = ? AND status = 'waiting'"
            " ORDER BY id DESC LIMIT 1",
            (person_id,),
        ) as cur:
            row = await cur.fetchone()
        return SpecialistRequest(**dict(row)) if row else None

    async def escalate(self, request_id: int, reason: str) -> None:
        await self._db.execute(
            "UPDATE specialist_requests SET priority = 'urgent', reason = ? WHERE id = ?",
            (reason, request_id),
        )

    async def waiting(self) -> list[SpecialistRequest]:
        """Waiting requests, urgent first, then oldest."""
        async with self._db.execute(
            "SELECT * FROM specialist_requests WHERE status = 'waiting'"
            " ORDER BY CASE priority WHEN 'urgent' THEN 0 ELSE 1 END, created_at, id"
        ) as cur:
            rows = await cur.fetchall()
        return [SpecialistRequest(**dict(row)) for row in rows]
