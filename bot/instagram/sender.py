"""The outbox's sender for Instagram: direct_send of the text, options as a numbered list."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from bot.core.replies import Action, Reply, numbered, split_message
from bot.instagram.client import DirectApi
from bot.instagram.errors import (
    InstagramGuard,
    Pushback,
    RecipientGone,
    Refused,
    SessionExpired,
    Temporary,
)
from bot.outbox import PermanentFailure, RetryLater, TemporaryFailure, Unreachable
from bot.storage import Database
from bot.storage.instagram import InstagramRepository
from bot.storage.outbox import OutboxRow

log = logging.getLogger(__name__)

# Instagram cuts direct messages at about 1000 characters; longer replies go in parts.
PART_LIMIT = 1000


class InstagramSender:
    """Sends one queued message as direct message(s); remembers the options it showed."""

    def __init__(
        self,
        api: DirectApi,
        db: Database,
        guard: InstagramGuard,
        clock: Callable[[], datetime],
    ) -> None:
        self.api = api
        self.db = db
        self.guard = guard
        self.clock = clock

    async def send(self, row: OutboxRow) -> None:
        wait = self.guard.remaining()
        if wait > 0:
            raise RetryLater(wait)
        actions = tuple(Action(kind, value, label) for kind, value, label in row.actions)
        text = row.text or ""
        if row.media_kind:  # a Telegram file cannot be shown on Instagram: say what it was
            text = f"[{row.media_kind}]\n{text}".strip()
        try:
            for part in split_message(numbered(Reply(text, actions)), PART_LIMIT):
                await self.api.send_text(part, row.chat_id)
        except Pushback as exc:
            raise RetryLater(await self.guard.pushback(exc.reason)) from exc
        except SessionExpired as exc:
            raise RetryLater(await self.guard.pushback("login", login=True)) from exc
        except RecipientGone as exc:
            raise Unreachable(str(exc)) from exc
        except Refused as exc:
            raise PermanentFailure(str(exc)) from exc
        except Temporary as exc:
            raise TemporaryFailure(str(exc)) from exc
        await self.guard.healthy()
        if row.person_id is not None:
            async with self.db.transaction() as conn:
                await InstagramRepository(conn).set_options(
                    row.person_id, list(row.actions), self.clock()
                )
