"""One aiosqlite connection per process, WAL, migrations by PRAGMA user_version, one write lock."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path

import aiosqlite

log = logging.getLogger(__name__)

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class DatabaseError(Exception):
    """The database cannot be opened or migrated; the message says what to do."""


def migrations() -> list[tuple[int, str, str]]:
    """The numbered migration files shipped in bot/storage/migrations, in order."""
    found = []
    for entry in resources.files("bot.storage.migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    for expected, (number, name, _sql) in enumerate(found, start=1):
        if number != expected:
            raise DatabaseError(f"migration {name}: expected number {expected:04d}")
    return found


class Database:
    """The process's connection; writes go through transaction()."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self.connection = connection
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str | Path) -> Database:
        """Open (creating folders as needed), configure and migrate the database at path."""
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # Transactions are explicit (BEGIN IMMEDIATE ... COMMIT); a single statement outside one
        # commits by itself, which saves two round trips to the database thread.
        pending = aiosqlite.connect(str(path), isolation_level=None)
        try:
            connection = await pending
        except (OSError, aiosqlite.Error) as exc:
            # aiosqlite queues its worker thread's stop without waiting for it; wait here, while
            # this event loop still runs, or the thread later reports to a closed loop.
            thread = getattr(pending, "_thread", None)
            if thread is not None:
                await asyncio.to_thread(thread.join, 5)
            raise DatabaseError(f"cannot open the database {path}: {exc}") from None
        connection.row_factory = aiosqlite.Row
        db = cls(connection)
        try:
            await connection.execute("PRAGMA journal_mode=WAL")
            await connection.execute("PRAGMA foreign_keys=ON")
            # With WAL, NORMAL never corrupts the database; a power cut may lose the last commits.
            await connection.execute("PRAGMA synchronous=NORMAL")
            await connection.execute("PRAGMA busy_timeout=5000")
            await db.migrate()
        except DatabaseError:
            await connection.close()
            raise
        except aiosqlite.DatabaseError as exc:
            await connection.close()
            raise DatabaseError(
                f"{path}: not a usable SQLite database ({exc}); restore a backup or move it aside"
            ) from None
        return db

    async def schema_version(self) -> int:
        async with self.connection.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def migrate(self) -> int:
        """Apply the migrations newer than the database's user_version; return the new version."""
        current = await self.schema_version()
        available = migrations()
        if current > len(available):
            raise DatabaseError(
                f"the database is at schema version {current}, newer than this program "
                f"({len(available)}); upgrade the program"
            )
        for number, name, sql in available[current:]:
            log.info("applying migration %s", name)
            async with self._lock:
                await self.connection.executescript(
                    f"BEGIN IMMEDIATE;\n{sql}\nPRAGMA user_version = {number};\nCOMMIT;"
                )
        return len(available)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on error; one at a time per process."""
        async with self._lock:
            await self.connection.execute("BEGIN IMMEDIATE")
            try:
                yield self.connection
            except BaseException:
                await self.connection.execute("ROLLBACK")
                raise
            else:
                await self.connection.execute("COMMIT")

    async def close(self) -> None:
        await self.connection.close()
