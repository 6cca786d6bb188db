"""The specialist queue's other tables: ticket transcripts, the audit log, the roster, state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from bot.storage.repositories import _ts


@dataclass(frozen=True, slots=True)
class TicketMessage:
    """One line of a ticket's conversation: who wrote it, what kind, its text or file."""

    id: int
    ticket_id: int
    author: str
    specialist_id: str | None
    kind: str
    text: str | None
    media_ref: str | None
    created_at: str


class TicketMessageRepository:
    """A ticket's transcript: the conversation so far, relays and internal notes."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._db = connection

    async def add(
        self,
        ticket_id: int,
        author: str,
        text: str | None,
        now: datetime,
        kind: str = "text",
        media_ref: str | None = None,
        specialist_id: str | None = None,
    ) -> int:
        cursor = await self._db.execute(
            "INSERT INTO ticket_messages (ticket_id, author, specialist_id, kind, text,"
            " media_ref, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (ticket_id, author, specialist_id, kind, text, media_ref, _ts(now)),
        )
        return int(cursor.lastrowid or 0)

    async def of_ticket(self, ticket_id: int, limit: int = 200) -> list[TicketMessage]:
        """The latest `limit` lines, oldest first."""
        async with self._db.execute(
            "SELECT * FROM (SELECT * FROM ticket_messages WHERE ticket_id = ?"
            " ORDER BY id DESC LIMIT ?) ORDER BY id",
            (ticket_id, limit),
        ) as cur:
            return [TicketMessage(**dict(row)) for row in await cur.fetchall()]

    async def count(self, ticket_id: int | None = None) -> int:
        sql, params = "SELECT COUNT(*) FROM ticket_messages", tuple[int, ...]()
        if ticket_id is not None:
            sql, params = sql + " WHERE ticket_id = ?", (ticket_id,)
        async with self._db.execute(sql, params) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def erase_before(self, before: datetime) -> int:
        """Retention: transcripts older than the cut-off are deleted."""
        cursor = await self._db.execute(
            "DELETE FROM ticket_messages WHERE created_at < ?", (_ts(before),)
        )
        return cursor.rowcount


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    actor: str
    action: str
    ticket_id: int | None
    detail: str | None
    created_at: str


class AuditRepository:
    """Who did what to which ticket, when; no message text and no citizen."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._db = connection

    async def add(
        self,
        actor: str,
        action: str,
        ticket_id: int | None,
        now: datetime,
        detail: str | None = None,
    ) -> None:
        await self._db.execute(
            "INSERT INTO audit_log (actor, action, ticket_id, detail, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (actor, action, ticket_id, detail, _ts(now)),
        )

    async def entries(self, ticket_id: int | None = None, limit: int = 1000) -> list[AuditEntry]:
        sql, params = "SELECT * FROM audit_log", tuple[int, ...]()
        if ticket_id is not None:
            sql, params = sql + " WHERE ticket_id = ?", (ticket_id,)
        async with self._db.execute(f"{sql} ORDER BY id LIMIT {int(limit)}", params) as cur:
            return [AuditEntry(**dict(row)) for row in await cur.fetchall()]


@dataclass(frozen=True, slots=True)
class SpecialistRow:
    user_id: str
    display_name: str
    skills: tuple[str, ...]
    languages: tuple[str, ...]
    gender: str | None
    max_open: int
    status: str


def _specialist(row: aiosqlite.Row) -> SpecialistRow:
    return SpecialistRow(
        user_id=row["user_id"],
        display_name=row["display_name"],
        skills=tuple(filter(None, row["skills"].split(","))),
        languages=tuple(filter(None, row["languages"].split(","))),
        gender=row["gender"],
        max_open=row["max_open"],
        status=row["status"],
    )


class SpecialistRepository:
    """The roster of specialists: seeded from config, managed by coordinators."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._db = connection

    async def upsert(self, row: SpecialistRow, now: datetime, *, keep_existing: bool) -> None:
        """Insert a specialist; with keep_existing, a row already there is left as it is."""
        conflict = (
            "DO NOTHING"
            if keep_existing
            else "DO UPDATE SET display_name = excluded.display_name, skills = excluded.skills,"
            " languages = excluded.languages, gender = excluded.gender,"
            " max_open = excluded.max_open, status = excluded.status,"
            " updated_at = excluded.updated_at"
        )
        await self._db.execute(
            "INSERT INTO specialists (user_id, display_name, skills, languages, gender,"
            " max_open, status, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            f" ON CONFLICT (user_id) {conflict}",
            (
                row.user_id,
                row.display_name,
                ",".join(row.skills),
                ",".join(row.languages),
                row.gender,
                row.max_open,
                row.status,
                _ts(now),
            ),
        )

    async def set_status(self, user_id: str, status: str, now: datetime) -> bool:
        cursor = await self._db.execute(
            "UPDATE specialists SET status = ?, updated_at = ? WHERE user_id = ?",
            (status, _ts(now), user_id),
        )
        return cursor.rowcount > 0

    async def all(self) -> list[SpecialistRow]:
        async with self._db.execute("SELECT * FROM specialists ORDER BY display_name") as cur:
            return [_specialist(row) for row in await cur.fetchall()]


class StateRepository:
    """Small named facts the workspace keeps across restarts."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._db = connection

    async def get(self, key: str) -> str | None:
        async with self._db.execute(
            "SELECT value FROM workspace_state WHERE key = ?", (key,)
        ) as cur:
            row = await cur.fetchone()
        return str(row[0]) if row else None

    async def set(self, key: str, value: str) -> None:
        await self._db.execute(
            "INSERT INTO workspace_state (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )
