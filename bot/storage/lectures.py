"""Repositories of lectures, sign-ups, subscriptions, the live plan and announcements."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import aiosqlite

from bot.storage.repositories import _ts

ACTIVE = ("scheduled", "moved")


@dataclass(frozen=True, slots=True)
class Lecture:
    """A lecture; starts_at is UTC."""

    id: int
    uid: str
    title: str
    topic_id: str | None
    lecturer: str
    venue: str
    link: str
    city: str
    audience: str
    language: str
    starts_at: datetime
    duration_min: int
    status: str
    sequence: int
    updated_at: datetime

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


@dataclass(frozen=True, slots=True)
class LivePlan:
    """The live broadcast of one local day."""

    day: date
    title: str
    topic_id: str | None
    host: str
    link: str
    time: str


@dataclass(frozen=True, slots=True)
class Recipient:
    """Whom to send to: the person's id, channel, platform id and language."""

    person_id: int
    channel: str
    platform_id: str
    language: str | None


@dataclass(frozen=True, slots=True)
class Broadcast:
    id: int
    text: str
    media_kind: str | None
    media_ref: str | None
    audience: str
    audience_value: str
    created_by: str
    total: int
    status: str
    progress_chat: str | None
    progress_message: int | None


LECTURE_FIELDS = (
    "uid",
    "title",
    "topic_id",
    "lecturer",
    "venue",
    "link",
    "city",
    "audience",
    "language",
    "starts_at",
    "duration_min",
)


def _lecture(row: aiosqlite.Row) -> Lecture:
    return Lecture(
        id=row["id"],
        uid=row["uid"],
        title=row["title"],
        topic_id=row["topic_id"],
        lecturer=row["lecturer"],
        venue=row["venue"],
        link=row["link"],
        city=row["city"],
        audience=row["audience"],
        language=row["language"],
        starts_at=datetime.fromisoformat(row["starts_at"]),
        duration_min=row["duration_min"],
        status=row["status"],
        sequence=row["sequence"],
        updated_at=datetime.fromisoformat(row["updated_at"]),
    )


def _recipient(row: aiosqlite.Row) -> Recipient:
    return Recipient(row["id"], row["channel"], row["platform_id"], row["language"])


def _values(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: _ts(v) if isinstance(v, datetime) else v for k, v in fields.items()}


class LectureRepository:
    """Lectures and who signed up for them."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._db = connection

    async def add(self, fields: dict[str, Any], now: datetime) -> Lecture:
        values = _values({k: fields[k] for k in LECTURE_FIELDS})
        names = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        async with self._db.execute(
            f"INSERT INTO lectures ({names}, created_at, updated_at) VALUES ({marks}, ?, ?)"
            " RETURNING *",
            (*values.values(), _ts(now), _ts(now)),
        ) as cur:
            row = await cur.fetchone()
        assert row is not None
        return _lecture(row)

    async def update(self, lecture_id: int, fields: dict[str, Any], now: datetime) -> None:
        """Change fields (never uid); the iCalendar sequence goes up with every change."""
        values = _values({k: v for k, v in fields.items() if k in (*LECTURE_FIELDS, "status")})
        values.pop("uid", None)
        assignments = "".join(f"{name} = ?, " for name in values)
        await self._db.execute(
            f"UPDATE lectures SET {assignments}sequence = sequence + 1, updated_at = ?"
            " WHERE id = ?",
            (*values.values(), _ts(now), lecture_id),
        )

    async def get(self, lecture_id: int) -> Lecture | None:
        async with self._db.execute("SELECT * FROM lectures WHERE id = ?", (lecture_id,)) as cur:
            row = await cur.fetchone()
        return _lecture(row) if row else None

    async def by_uid(self, uid: str) -> Lecture | None:
        async with self._db.execute("SELECT * FROM lectures WHERE uid = ?", (uid,)) as cur:
            row = await cur.fetchone()
        return _lecture(row) if row else None

    async def upcoming(
        self, now: datetime, city: str | None = None, limit: int = 50, active_only: bool = True
    ) -> list[Lecture]:
        """Lectures not yet over, soonest first (cancelled ones too unless active_only)."""
        sql = "SELECT * FROM lectures WHERE starts_at >= ?"
        params: list[Any] = [_ts(now)]
        if active_only:
            sql += " AND status IN ('scheduled', 'moved')"
        if city:
            sql += " AND city = ?"
            params.append(city)
        sql += " ORDER BY starts_at, id LIMIT ?"
        params.append(limit)
        async with self._db.execute(sql, params) as cur:
            return [_lecture(r) for r in await cur.fetchall()]

    async def all(self) -> list[Lecture]:
        async with self._db.execute("SELECT * FROM lectures ORDER BY starts_at, id") as cur:
            return [_lecture(r) for r in await cur.fetchall()]

    async def cities(self, now: datetime) -> list[str]:
        async with self._db.execute(
            "SELECT DISTINCT city FROM lectures WHERE starts_at >= ?"
            " AND status IN ('scheduled', 'moved') ORDER BY city",
            (_ts(now),),
        ) as cur:
            return [r["city"] for r in await cur.fetchall()]

    async def all_cities(self) -> list[str]:
        """Every city of a lecture or a lecture subscription, for choosing an audience."""
        async with self._db.execute(
            "SELECT city FROM lectures UNION SELECT city FROM subscriptions WHERE city != ''"
            " ORDER BY city"
        ) as cur:
            return [r["city"] for r in await cur.fetchall()]

    async def sign_up(self, lecture_id: int, person_id: int, now: datetime) -> bool:
        cursor = await self._db.execute(
            "INSERT INTO lecture_signups (lecture_id, person_id, created_at) VALUES (?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            (lecture_id, person_id, _ts(now)),
        )
        return cursor.rowcount > 0

    async def cancel_sign_up(self, lecture_id: int, person_id: int) -> bool:
        cursor = await self._db.execute(
            "DELETE FROM lecture_signups WHERE lecture_id = ? AND person_id = ?",
            (lecture_id, person_id),
        )
        return cursor.rowcount > 0

    async def signed_up(self, person_id: int) -> set[int]:
        async with self._db.execute(
            "SELECT lecture_id FROM lecture_signups WHERE person_id = ?", (person_id,)
        ) as cur:
            return {r["lecture_id"] for r in await cur.fetchall()}

    async def attendees(self, lecture_id: int) -> list[Recipient]:
        async with self._db.execute(
            "SELECT p.* FROM lecture_signups s JOIN people p ON p.id = s.person_id"
            " WHERE s.lecture_id = ? AND p.unreachable = 0 ORDER BY p.id",
            (lecture_id,),
        ) as cur:
            return [_recipient(r) for r in await cur.fetchall()]

    async def attendee_count(self, lecture_id: int) -> int:
        async with self._db.execute(
            "SELECT COUNT(*) FROM lecture_signups WHERE lecture_id = ?", (lecture_id,)
        ) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0


class SubscriptionRepository:
    """Who wants the daily live announcement, and new lectures by city and language."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._db = connection

    async def add(
        self, person_id: int, kind: str, now: datetime, city: str = "", language: str = ""
    ) -> bool:
        cursor = await self._db.execute(
            "INSERT INTO subscriptions (person_id, kind, city, language, created_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (person_id, kind, city, language, _ts(now)),
        )
        return cursor.rowcount > 0

    async def remove(self, person_id: int, kind: str) -> int:
        cursor = await self._db.execute(
            "DELETE FROM subscriptions WHERE person_id = ? AND kind = ?", (person_id, kind)
        )
        return cursor.rowcount

    async def has(self, person_id: int, kind: str) -> bool:
        async with self._db.execute(
            "SELECT 1 FROM subscriptions WHERE person_id = ? AND kind = ?", (person_id, kind)
        ) as cur:
            return await cur.fetchone() is not None

    async def count(self, kind: str) -> int:
        async with self._db.execute(
            "SELECT COUNT(DISTINCT person_id) FROM subscriptions WHERE kind = ?", (kind,)
        ) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def lecture_subscribers(self, city: str, language: str) -> list[Recipient]:
        async with self._db.execute(
            "SELECT DISTINCT p.* FROM subscriptions s JOIN people p ON p.id = s.person_id"
            " WHERE s.kind = 'lectures' AND s.city IN ('', ?) AND s.language IN ('', ?)"
            " AND p.unreachable = 0 ORDER BY p.id",
            (city, language),
        ) as cur:
            return [_recipient(r) for r in await cur.fetchall()]

    async def audience(self, kind: str, value: str, channels: tuple[str, ...]) -> list[Recipient]:
        """The reachable people of an announcement's audience on the given channels."""
        marks = ", ".join("?" for _ in channels)
        base = f"SELECT p.* FROM people p WHERE p.unreachable = 0 AND p.channel IN ({marks})"
        params: list[Any] = list(channels)
        if kind == "live":
            base += (
                " AND EXISTS (SELECT 1 FROM subscriptions s WHERE s.person_id = p.id"
                " AND s.kind = 'live')"
            )
        elif kind == "city":
            base += (
                " AND (EXISTS (SELECT 1 FROM subscriptions s WHERE s.person_id = p.id"
                " AND s.kind = 'lectures' AND s.city = ?) OR EXISTS (SELECT 1 FROM"
                " lecture_signups g JOIN lectures l ON l.id = g.lecture_id"
                " WHERE g.person_id = p.id AND l.city = ?))"
            )
            params += [value, value]
        elif kind == "language":
            base += " AND p.language = ?"
            params.append(value)
        async with self._db.execute(base + " ORDER BY p.id", params) as cur:
            return [_recipient(r) for r in await cur.fetchall()]


class LivePlanRepository:
    """The daily live plan, one row per local date."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._db = connection

    async def set(self, plan: LivePlan, now: datetime) -> None:
        await self._db.execute(
            "INSERT INTO live_plan (day, title, topic_id, host, link, time, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (day) DO UPDATE SET title = excluded.title,"
            " topic_id = excluded.topic_id, host = excluded.host, link = excluded.link,"
            " time = excluded.time, updated_at = excluded.updated_at",
            (
                plan.day.isoformat(),
                plan.title,
                plan.topic_id,
                plan.host,
                plan.link,
                plan.time,
                _ts(now),
            ),
        )

    async def remove(self, day: date) -> bool:
        cursor = await self._db.execute("DELETE FROM live_plan WHERE day = ?", (day.isoformat(),))
        return cursor.rowcount > 0

    async def get(self, day: date) -> LivePlan | None:
        async with self._db.execute(
            "SELECT * FROM live_plan WHERE day = ?", (day.isoformat(),)
        ) as cur:
            row = await cur.fetchone()
        return _plan(row) if row else None

    async def between(self, first: date, last: date) -> list[LivePlan]:
        async with self._db.execute(
            "SELECT * FROM live_plan WHERE day >= ? AND day <= ? ORDER BY day",
            (first.isoformat(), last.isoformat()),
        ) as cur:
            return [_plan(r) for r in await cur.fetchall()]


def _plan(row: aiosqlite.Row) -> LivePlan:
    return LivePlan(
        day=date.fromisoformat(row["day"]),
        title=row["title"],
        topic_id=row["topic_id"],
        host=row["host"],
        link=row["link"],
        time=row["time"],
    )


def _broadcast(row: aiosqlite.Row) -> Broadcast:
    return Broadcast(
        id=row["id"],
        text=row["text"],
        media_kind=row["media_kind"],
        media_ref=row["media_ref"],
        audience=row["audience"],
        audience_value=row["audience_value"],
        created_by=row["created_by"],
        total=row["total"],
        status=row["status"],
        progress_chat=row["progress_chat"],
        progress_message=row["progress_message"],
    )


class BroadcastRepository:
    """Announcements and their delivery counts (from the outbox)."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._db = connection

    async def add(
        self,
        text: str,
        media: tuple[str, str] | None,
        audience: str,
        value: str,
        created_by: str,
        now: datetime,
    ) -> int:
        async with self._db.execute(
            "INSERT INTO broadcasts (text, media_kind, media_ref, audience, audience_value,"
            " created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (
                text,
                media[0] if media else None,
                media[1] if media else None,
                audience,
                value,
                created_by,
                _ts(now),
            ),
        ) as cur:
            row = await cur.fetchone()
        assert row is not None
        return int(row[0])

    async def set_total(self, broadcast_id: int, total: int) -> None:
        await self._db.execute(
            "UPDATE broadcasts SET total = ? WHERE id = ?", (total, broadcast_id)
        )

    async def set_progress_message(self, broadcast_id: int, chat: str, message_id: int) -> None:
        await self._db.execute(
            "UPDATE broadcasts SET progress_chat = ?, progress_message = ? WHERE id = ?",
            (chat, message_id, broadcast_id),
        )

    async def finish(self, broadcast_id: int, now: datetime) -> None:
        await self._db.execute(
            "UPDATE broadcasts SET status = 'done', finished_at = ? WHERE id = ?",
            (_ts(now), broadcast_id),
        )

    async def get(self, broadcast_id: int) -> Broadcast | None:
        async with self._db.execute(
            "SELECT * FROM broadcasts WHERE id = ?", (broadcast_id,)
        ) as cur:
            row = await cur.fetchone()
        return _broadcast(row) if row else None

    async def sending(self) -> list[Broadcast]:
        async with self._db.execute(
            "SELECT * FROM broadcasts WHERE status = 'sending' ORDER BY id"
        ) as cur:
            return [_broadcast(r) for r in await cur.fetchall()]

    async def keys_with_prefix(self, prefix: str) -> int:
        """How many outbox messages have keys starting with prefix (which ends with ':')."""
        async with self._db.execute(
            "SELECT COUNT(*) FROM outbox WHERE key >= ? AND key < ?",
            (prefix, prefix[:-1] + ";"),
        ) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def delivery(self, broadcast_id: int) -> dict[str, int]:
        """Outbox statuses of one announcement's messages (a range scan on the unique key)."""
        prefix = f"announce:{broadcast_id}:"
        async with self._db.execute(
            "SELECT status, COUNT(*) AS n FROM outbox WHERE key >= ? AND key < ? GROUP BY status",
            (prefix, prefix[:-1] + ";"),
        ) as cur:
            return {r["status"]: int(r["n"]) for r in await cur.fetchall()}
