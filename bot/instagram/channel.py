"""The Instagram channel of one process: client, guard, poller and outbox worker together.

It runs beside Telegram in the same event loop; whatever Instagram does, it never stops
Telegram: a missing or expired session pauses the channel, alerts the coordinators, and the
channel tries again after the pause.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from bot.app import App, create_app
from bot.config import Settings
from bot.core.background import Background
from bot.core.stories import PlanEntry
from bot.instagram.client import DirectApi, InstagramClient
from bot.instagram.errors import InstagramError, InstagramGuard, Pushback, SessionExpired
from bot.instagram.poller import CHANNEL, InstagramPoller, Sleep
from bot.instagram.sender import InstagramSender
from bot.instagram.story import post_story
from bot.outbox import OutboxWorker, RateLimiter
from bot.storage.instagram import InstagramRepository

log = logging.getLogger(__name__)

RETRY_SECONDS = 60.0


class InstagramChannel:
    """Starts the Instagram side and keeps it going; exposes the story hook for the
    announcement job."""

    def __init__(
        self,
        app: App,
        api: DirectApi | None = None,
        *,
        sleep: Sleep = asyncio.sleep,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.app = app
        self.client = api if api is not None else InstagramClient(app.settings.instagram)
        self.sleep = sleep
        settings = app.settings
        self.guard = InstagramGuard(
            settings, app.db, app.outbox, app.content.catalogs, app.conversations.clock
        )
        self.poller = InstagramPoller(app, self.client, self.guard, sleep=sleep)
        self.worker = OutboxWorker(
            app.db,
            app.outbox,
            CHANNEL,
            InstagramSender(self.client, app.db, self.guard, app.conversations.clock),
            limiter
            or RateLimiter(
                settings.instagram.messages_per_minute / 60.0,
                settings.instagram.per_chat_interval,
            ),
            app.conversations.clock,
            on_unreachable=app.on_unreachable,
        )
        self._background = Background(self.run)

    async def connect(self) -> bool:
        """Load the saved session; False (channel paused, coordinators told) if there is none."""
        start = getattr(self.client, "start", None)
        if start is None:
            return True
        try:
            await start()
        except (SessionExpired, InstagramError, OSError, ValueError) as exc:
            log.error("Instagram cannot start: %s", exc)
            await self.guard.pushback("login", login=True)
            return False
        return True

    async def run(self) -> None:
        """Connect (again after each pause until it works), then poll and send for ever; a
        failure here is logged and retried, never raised into the process."""
        while True:
            try:
                await self.guard.load()
                while not await self.connect():
                    await self.sleep(max(self.guard.remaining(), RETRY_SECONDS))
                self.worker.start()
                await self.poller.run()
            except Exception:
                log.exception("the Instagram channel failed; starting it again in a minute")
                await self.worker.stop()
                await self.sleep(RETRY_SECONDS)

    def start(self) -> None:
        self._background.start()

    async def stop(self) -> None:
        await self._background.stop()
        await self.worker.stop()

    async def post_story(self, entry: PlanEntry, workdir: Path | None = None) -> str | None:
        """The announcement job's hook (a StoryPoster): the day's plan as a story, once a day;
        None when nothing was posted (stories off, already posted, the channel paused, or
        Instagram refused: logged, never raised)."""
        if not self.app.settings.instagram.stories or self.guard.remaining() > 0:
            return None
        key = f"story:{entry.day.isoformat()}"
        if await InstagramRepository(self.app.db.connection).get_state(key) is not None:
            return None
        try:
            story_id = await post_story(
                self.client, entry, self.app.settings, self.app.content.catalogs, workdir
            )
        except SessionExpired:
            await self.guard.pushback("login", login=True)
        except Pushback as exc:
            await self.guard.pushback(exc.reason)
        except InstagramError as exc:
            log.error("the story was not posted: %s", type(exc).__name__)
        else:
            async with self.app.db.transaction() as conn:
                await InstagramRepository(conn).set_state(key, story_id)
            return story_id
        return None


async def run_instagram_only(settings: Settings) -> int:
    """Run Instagram alone (no Telegram token): until stopped."""
    app = await create_app(settings)
    channel = InstagramChannel(app)
    try:
        await channel.run()
    finally:
        await channel.stop()
        await app.close()
    return 0
