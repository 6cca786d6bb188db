"""Repositories: parameterised SQL over one connection, frozen dataclasses out, no commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiosqlite


def _ts(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return moment.astimezone(UTC).isoformat()  # UTC: stored text compares in time order


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
class Ticket:
    """A citizen's request for a specialist, from waiting to assigned to closed."""

    id: int
    person_id: int
    priority: str
    reason: str
    language: str
    topic_id: str | None
    status: str
    created_at: str
    skill: str
    specialist_id: str | None
    assigned_at: str | None
    closed_at: str | None
    outcome: str | None
    thread_id: int | None = None
    gender: str | None = None
    previous_id: int | None = None
    preferred_specialist: str | None = None
    offered_to: str | None = None
    first_reply_at: str | None = None
    alerts: int = 0
    next_alert_at: str | None = None
    contact_asked_at: str | None = None
    contact_consent_at: str | None = None
    rating: int | None = None
    rating_comment: str | None = None
    rating_asked: int = 0

    @property
    def urgent(self) -> bool:
        return self.priority == "urgent"


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

    async def by_pseudonym(self, pseudonym: str) -> Person | None:
        async with self._db.execute(
            "SELECT * FROM people WHERE pseudonym = ? COLLATE NOCASE", (pseudonym,)
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


# Urgent first, then oldest; the same expression as the tickets_waiting index, so that SQLite
# walks the index instead of sorting.
_QUEUE_ORDER = "priority <> 'urgent', created_at, id"
OPEN_STATUSES = ("waiting", "assigned")


class TicketRepository:
    """Tickets: the queue, assignment and closing."""

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
        skill: str = "theology",
    ) -> Ticket:
        async with self._db.execute(
            "INSERT INTO tickets (person_id, priority, reason, language, topic_id, skill,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *",
            (person_id, priority, reason, language, topic_id, skill, _ts(now)),
        ) as cur:
            row = await cur.fetchone()
        assert row is not None
        return Ticket(**dict(row))

    async def get(self, ticket_id: int) -> Ticket | None:
        async with self._db.execute("SELECT * FROM tickets WHERE id = ?", (ticket_id,)) as cur:
            row = await cur.fetchone()
        return Ticket(**dict(row)) if row else None

    async def open_for(self, person_id: int) -> Ticket | None:
        """The person's ticket that is waiting or being handled, if any."""
        async with self._db.execute(
            "SELECT * FROM tickets WHERE person_id = ? AND status IN ('waiting', 'assigned')"
            " ORDER BY id DESC LIMIT 1",
            (person_id,),
        ) as cur:
            row = await cur.fetchone()
        return Ticket(**dict(row)) if row else None

    async def escalate(self, ticket_id: int, reason: str) -> None:
        await self._db.execute(
            "UPDATE tickets SET priority = 'urgent', reason = ? WHERE id = ?",
            (reason, ticket_id),
        )

    async def waiting(self) -> list[Ticket]:
        """Waiting tickets, urgent first, then oldest."""
        async with self._db.execute(
            f"SELECT * FROM tickets WHERE status = 'waiting' ORDER BY {_QUEUE_ORDER}"
        ) as cur:
            rows = await cur.fetchall()
        return [Ticket(**dict(row)) for row in rows]

    async def waiting_head(self, limit: int) -> tuple[list[Ticket], int, int]:
        """The first `limit` waiting tickets in queue order, how many wait, how many urgent."""
        async with self._db.execute(
            f"SELECT * FROM tickets WHERE status = 'waiting' ORDER BY {_QUEUE_ORDER} LIMIT ?",
            (limit,),
        ) as cur:
            head = [Ticket(**dict(row)) for row in await cur.fetchall()]
        async with self._db.execute(
            "SELECT COUNT(*), COALESCE(SUM(priority = 'urgent'), 0) FROM tickets"
            " WHERE status = 'waiting'"
        ) as cur:
            row = await cur.fetchone()
        total, urgent = (int(row[0]), int(row[1])) if row else (0, 0)
        return head, total, urgent

    async def position(self, ticket: Ticket) -> int:
        """1 for the next ticket to be taken: how many waiting tickets go first, plus one."""
        async with self._db.execute(
            "SELECT COUNT(*) FROM tickets WHERE status = 'waiting' AND ("
            " CASE priority WHEN 'urgent' THEN 0 ELSE 1 END"
            " < CASE ? WHEN 'urgent' THEN 0 ELSE 1 END"
            " OR (priority = ? AND (created_at < ? OR (created_at = ? AND id < ?))))",
            (ticket.priority, ticket.priority, ticket.created_at, ticket.created_at, ticket.id),
        ) as cur:
            row = await cur.fetchone()
        return int(row[0]) + 1 if row else 1

    async def count_assigned(self, specialist_id: str) -> int:
        async with self._db.execute(
            "SELECT COUNT(*) FROM tickets WHERE specialist_id = ? AND status = 'assigned'",
            (specialist_id,),
        ) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def take_next(
        self,
        specialist_id: str,
        languages: tuple[str, ...],
        skills: tuple[str, ...],
        now: datetime,
        gender: str | None = None,
    ) -> Ticket | None:
        """Assign the best waiting ticket this specialist can take; one statement, so two
        specialists can never take the same ticket. Urgent first; then tickets that prefer this
        specialist; then the oldest. A ticket asking for a gender goes only to that gender."""
        if not languages or not skills:
            return None
        langs = ",".join("?" * len(languages))
        wanted = ",".join("?" * len(skills))
        fits = (
            f"status = 'waiting' AND language IN ({langs}) AND skill IN ({wanted})"
            " AND (gender IS NULL OR gender = ?)"
        )
        fit_args = (*languages, *skills, gender)
        # Three short index walks instead of one sort: urgent, then preferring this
        # specialist, then the oldest. The caller's write transaction makes it atomic.
        searches = (
            (f"{fits} AND priority = 'urgent'", fit_args),
            (f"{fits} AND preferred_specialist = ?", (*fit_args, specialist_id)),
            (fits, fit_args),
        )
        for where, args in searches:
            async with self._db.execute(
                f"SELECT id FROM tickets WHERE {where} ORDER BY {_QUEUE_ORDER} LIMIT 1", args
            ) as cur:
                found = await cur.fetchone()
            if found is None:
                continue
            async with self._db.execute(
                "UPDATE tickets SET status = 'assigned', specialist_id = ?, assigned_at = ?,"
                " offered_to = NULL WHERE id = ? AND status = 'waiting' RETURNING *",
                (specialist_id, _ts(now), found[0]),
            ) as cur:
                row = await cur.fetchone()
            if row is not None:
                return Ticket(**dict(row))
        return None

    async def close(self, ticket_id: int, status: str, outcome: str | None, now: datetime) -> bool:
        cursor = await self._db.execute(
            "UPDATE tickets SET status = ?, outcome = ?, closed_at = ?"
            " WHERE id = ? AND status IN ('waiting', 'assigned')",
            (status, outcome, _ts(now), ticket_id),
        )
        return cursor.rowcount > 0

    async def by_thread(self, thread_id: int) -> Ticket | None:
        """The latest ticket shown in this forum topic."""
        async with self._db.execute(
            "SELECT * FROM tickets WHERE thread_id = ? ORDER BY id DESC LIMIT 1", (thread_id,)
        ) as cur:
            row = await cur.fetchone()
        return Ticket(**dict(row)) if row else None

    async def set_fields(self, ticket_id: int, **fields: object) -> None:
        """Update named columns of one ticket (the names come from code, never from input)."""
        for name in fields:
            if name not in _TICKET_COLUMNS:
                raise ValueError(f"unknown ticket column {name}")
        assignments = ", ".join(f"{name} = ?" for name in fields)
        values = [_ts(v) if isinstance(v, datetime) else v for v in fields.values()]
        await self._db.execute(
            f"UPDATE tickets SET {assignments} WHERE id = ?", (*values, ticket_id)
        )

    async def requeue(self, ticket_id: int) -> bool:
        """Back to the queue, unassigned (a transfer to the queue, or a failed start)."""
        cursor = await self._db.execute(
            "UPDATE tickets SET status = 'waiting', specialist_id = NULL, assigned_at = NULL,"
            " offered_to = NULL WHERE id = ? AND status = 'assigned'",
            (ticket_id,),
        )
        return cursor.rowcount > 0

    async def reassign(self, ticket_id: int, specialist_id: str, now: datetime) -> bool:
        cursor = await self._db.execute(
            "UPDATE tickets SET status = 'assigned', specialist_id = ?, assigned_at = ?,"
            " offered_to = NULL WHERE id = ? AND status IN ('waiting', 'assigned')",
            (specialist_id, _ts(now), ticket_id),
        )
        return cursor.rowcount > 0

    async def assigned_to(self, specialist_id: str) -> list[Ticket]:
        async with self._db.execute(
            "SELECT * FROM tickets WHERE specialist_id = ? AND status = 'assigned' ORDER BY id",
            (specialist_id,),
        ) as cur:
            return [Ticket(**dict(row)) for row in await cur.fetchall()]

    async def latest_for(self, person_id: int) -> Ticket | None:
        """The person's most recent ticket, whatever its state."""
        async with self._db.execute(
            "SELECT * FROM tickets WHERE person_id = ? ORDER BY id DESC LIMIT 1", (person_id,)
        ) as cur:
            row = await cur.fetchone()
        return Ticket(**dict(row)) if row else None

    async def last_closed_for(self, person_id: int) -> Ticket | None:
        async with self._db.execute(
            "SELECT * FROM tickets WHERE person_id = ? AND status IN ('closed', 'unreachable')"
            " ORDER BY id DESC LIMIT 1",
            (person_id,),
        ) as cur:
            row = await cur.fetchone()
        return Ticket(**dict(row)) if row else None

    async def of_person(self, person_id: int) -> list[Ticket]:
        async with self._db.execute(
            "SELECT * FROM tickets WHERE person_id = ? ORDER BY id", (person_id,)
        ) as cur:
            return [Ticket(**dict(row)) for row in await cur.fetchall()]

    async def alerts_due(self, now: datetime) -> list[Ticket]:
        """Waiting tickets whose next alert time has come."""
        async with self._db.execute(
            "SELECT * FROM tickets WHERE status = 'waiting' AND next_alert_at IS NOT NULL"
            f" AND next_alert_at <= ? ORDER BY {_QUEUE_ORDER}",
            (_ts(now),),
        ) as cur:
            return [Ticket(**dict(row)) for row in await cur.fetchall()]

    async def clear_old_comments(self, before: datetime) -> int:
        cursor = await self._db.execute(
            "UPDATE tickets SET rating_comment = NULL"
            " WHERE rating_comment IS NOT NULL AND closed_at < ?",
            (_ts(before),),
        )
        return cursor.rowcount


_TICKET_COLUMNS = frozenset(
    {
        "priority",
        "reason",
        "status",
        "thread_id",
        "gender",
        "previous_id",
        "preferred_specialist",
        "offered_to",
        "first_reply_at",
        "alerts",
        "next_alert_at",
        "contact_asked_at",
        "contact_consent_at",
        "rating",
        "rating_comment",
        "rating_asked",
        "outcome",
        "closed_at",
    }
)
