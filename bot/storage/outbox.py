"""The outbox repository: queued messages, their state and their idempotency keys."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from bot.storage.repositories import _ts


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    key: str
    channel: str
    chat_id: str
    person_id: int | None
    text: str | None
    actions: tuple[tuple[str, str, str], ...]
    status: str
    attempts: int
    not_before: str
    thread_id: int | None = None
    media_kind: str | None = None
    media_ref: str | None = None


def _row(row: aiosqlite.Row) -> OutboxRow:
    actions = tuple(tuple(a) for a in json.loads(row["actions"])) if row["actions"] else ()
    return OutboxRow(
        id=row["id"],
        key=row["key"],
        channel=row["channel"],
        chat_id=row["chat_id"],
        person_id=row["person_id"],
        text=row["text"],
        actions=actions,
        status=row["status"],
        attempts=row["attempts"],
        not_before=row["not_before"],
        thread_id=row["thread_id"],
        media_kind=row["media_kind"],
        media_ref=row["media_ref"],
    )


class OutboxRepository:
    """All SQL of the outbox."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._db = connection

    async def add(
        self,
        key: str,
        channel: str,
        chat_id: str,
        text: str,
        actions: list[tuple[str, str, str]],
        person_id: int | None,
        now: datetime,
        not_before: datetime | None = None,
        thread_id: int | None = None,
        media: tuple[str, str] | None = None,
    ) -> bool:
        """Queue a message; False when one with the same key was queued before (sent or not)."""
        cursor = await self._db.execute(
            "INSERT INTO outbox (key, channel, chat_id, person_id, text, actions, not_before,"
            " created_at, thread_id, media_kind, media_ref)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (key) DO NOTHING",
            (
                key,
                channel,
                chat_id,
                person_id,
                text,
                json.dumps(actions, ensure_ascii=False) if actions else None,
                _ts(not_before or now),
                _ts(now),
                thread_id,
                media[0] if media else None,
                media[1] if media else None,
            ),
        )
        return cursor.rowcount > 0

    async def due(self, channel: str, now: datetime, limit: int) -> list[OutboxRow]:
        async with self._db.execute(
            "SELECT * FROM outbox WHERE channel = ? AND status = 'pending' AND not_before <= ?"
            " ORDER BY not_before, id LIMIT ?",
            (channel, _ts(now), limit),
        ) as cursor:
            return [_row(r) for r in await cursor.fetchall()]

    async def claim(self, row_id: int) -> bool:
        """pending -> sending, counting the attempt; False if it was no longer pending."""
        cursor = await self._db.execute(
            "UPDATE outbox SET status = 'sending', attempts = attempts + 1"
            " WHERE id = ? AND status = 'pending'",
            (row_id,),
        )
        return cursor.rowcount > 0

    async def claim_many(self, row_ids: list[int]) -> set[int]:
        """claim() for several rows in one statement; the ids that were still pending."""
        marks = ", ".join("?" for _ in row_ids)
        async with self._db.execute(
            "UPDATE outbox SET status = 'sending', attempts = attempts + 1"
            f" WHERE id IN ({marks}) AND status = 'pending' RETURNING id",
            row_ids,
        ) as cursor:
            return {int(r[0]) for r in await cursor.fetchall()}

    async def finish(self, row_id: int, status: str, now: datetime, error: str | None) -> None:
        """sent, failed or unreachable: the text and buttons are no longer kept."""
        await self._db.execute(
            "UPDATE outbox SET status = ?, finished_at = ?, last_error = ?, text = NULL,"
            " actions = NULL, media_ref = NULL WHERE id = ?",
            (status, _ts(now), error, row_id),
        )

    async def finish_sent(self, row_ids: list[int], now: datetime) -> None:
        """finish(id, 'sent') for several rows in one statement."""
        marks = ", ".join("?" for _ in row_ids)
        await self._db.execute(
            "UPDATE outbox SET status = 'sent', finished_at = ?, last_error = NULL, text = NULL,"
            f" actions = NULL, media_ref = NULL WHERE id IN ({marks})",
            (_ts(now), *row_ids),
        )

    async def retry(self, row_id: int, not_before: datetime, error: str) -> None:
        await self._db.execute(
            "UPDATE outbox SET status = 'pending', not_before = ?, last_error = ? WHERE id = ?",
            (_ts(not_before), error, row_id),
        )

    async def release_interrupted(self, channel: str) -> int:
        """Rows left 'sending' by a crash go back to the queue."""
        cursor = await self._db.execute(
            "UPDATE outbox SET status = 'pending' WHERE channel = ? AND status = 'sending'",
            (channel,),
        )
        return cursor.rowcount

    async def counts(self, channel: str | None = None) -> dict[str, int]:
        sql = "SELECT status, COUNT(*) AS n FROM outbox"
        params: tuple[str, ...] = ()
        if channel is not None:
            sql += " WHERE channel = ?"
            params = (channel,)
        async with self._db.execute(sql + " GROUP BY status", params) as cursor:
            return {r["status"]: int(r["n"]) for r in await cursor.fetchall()}

    async def get(self, key: str) -> OutboxRow | None:
        async with self._db.execute("SELECT * FROM outbox WHERE key = ?", (key,)) as cursor:
            row = await cursor.fetchone()
        return _row(row) if row else None
