"""The Instagram channel's repository: thread cursors, the options shown, the pause state."""

from __future__ import annotations

import json
from datetime import datetime

import aiosqlite

from bot.storage.repositories import _ts


class InstagramRepository:
    """All SQL of the Instagram channel."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._db = connection

    async def cursor(self, thread_id: str) -> str | None:
        """The id of the newest item processed in a thread, if any."""
        async with self._db.execute(
            "SELECT last_item_id FROM instagram_threads WHERE thread_id = ?", (thread_id,)
        ) as cur:
            row = await cur.fetchone()
        return str(row[0]) if row else None

    async def advance(self, thread_id: str, item_id: str, now: datetime) -> None:
        await self._db.execute(
            "INSERT INTO instagram_threads (thread_id, last_item_id, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT (thread_id) DO UPDATE SET last_item_id = excluded.last_item_id,"
            " updated_at = excluded.updated_at",
            (thread_id, item_id, _ts(now)),
        )

    async def options(self, person_id: int) -> tuple[tuple[str, str, str], ...]:
        async with self._db.execute(
            "SELECT actions FROM instagram_options WHERE person_id = ?", (person_id,)
        ) as cur:
            row = await cur.fetchone()
        if row is None:
            return ()
        return tuple((str(k), str(v), str(label)) for k, v, label in json.loads(row[0]))

    async def set_options(
        self, person_id: int, actions: list[tuple[str, str, str]], now: datetime
    ) -> None:
        await self._db.execute(
            "INSERT INTO instagram_options (person_id, actions, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT (person_id) DO UPDATE SET actions = excluded.actions,"
            " updated_at = excluded.updated_at",
            (person_id, json.dumps(actions, ensure_ascii=False), _ts(now)),
        )

    async def get_state(self, key: str) -> str | None:
        async with self._db.execute(
            "SELECT value FROM instagram_state WHERE key = ?", (key,)
        ) as cur:
            row = await cur.fetchone()
        return str(row[0]) if row else None

    async def set_state(self, key: str, value: str) -> None:
        await self._db.execute(
            "INSERT INTO instagram_state (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )
