"""The effectiveness log: anonymous events, buffered and written in batches."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from bot.core.background import Background
from bot.storage import Database, EventRepository

log = logging.getLogger(__name__)


class EventLog:
    """Records what happened (never who, never the text) for the effectiveness report.

    With a flush interval, events wait in memory and are written together, so answering a
    question costs no database round trip; a crash loses at most that interval of counters.
    With an interval of 0 every event is written at once.
    """

    def __init__(
        self, db: Database, clock: Callable[[], datetime], flush_seconds: float = 0.0
    ) -> None:
        self._db = db
        self._clock = clock
        self.flush_seconds = flush_seconds
        self._pending: list[tuple[str, str, datetime, dict[str, Any]]] = []
        self._background = Background(self._run)

    async def record(self, kind: str, channel: str, **fields: Any) -> None:
        self._pending.append((kind, channel, self._clock(), fields))
        if self.flush_seconds <= 0 or len(self._pending) >= 500:
            await self.flush()

    async def flush(self) -> int:
        """Write what is pending in one transaction; returns how many events were written."""
        if not self._pending:
            return 0
        batch, self._pending = self._pending, []
        try:
            async with self._db.transaction() as conn:
                await EventRepository(conn).add_many(batch)
        except Exception:
            self._pending[:0] = batch  # keep them for the next try
            raise
        return len(batch)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.flush_seconds)
            try:
                await self.flush()
            except Exception:
                log.exception("writing the event log failed; will retry")

    def start(self) -> None:
        """Flush in the background every flush_seconds (nothing to start when writing through)."""
        if self.flush_seconds > 0:
            self._background.start()

    async def stop(self) -> None:
        await self._background.stop()
        await self.flush()
