"""What Instagram can refuse, in the channel's own terms, and the channel's pause (backoff)."""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import requests

from bot.config import Settings
from bot.content import Catalogs
from bot.core.channel_texts import INSTAGRAM_LOGIN, INSTAGRAM_PAUSED, INSTAGRAM_RESUMED
from bot.outbox import Outbox, OutgoingMessage
from bot.storage import Database
from bot.storage.instagram import InstagramRepository

log = logging.getLogger(__name__)


class InstagramError(Exception):
    """Instagram refused a call; the subclass says what the channel should do about it."""


class SessionExpired(InstagramError):
    """The saved session no longer works, even after logging in again from it once."""


class Pushback(InstagramError):
    """A challenge, 'please wait a few minutes', feedback_required or 429: pause the channel."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Temporary(InstagramError):
    """A network error or a 5xx: try again later."""


class Refused(InstagramError):
    """Instagram refuses this request for good."""


class RecipientGone(InstagramError):
    """The person cannot receive messages from the account (deleted, blocked, restricted)."""


class LoginNeeded(InstagramError):
    """Instagram says the session is logged out (LoginRequired): log in again from it once."""


def translate(exc: BaseException) -> InstagramError:
    """Map an instagrapi (or requests) exception onto the channel's own."""
    from instagrapi import exceptions as ig

    name = type(exc).__name__
    if isinstance(exc, ig.LoginRequired | ig.ReloginAttemptExceeded):
        return LoginNeeded(name)
    pushback = (
        ig.ChallengeRequired,
        ig.ChallengeError,
        ig.PleaseWaitFewMinutes,
        ig.FeedbackRequired,
        ig.ClientThrottledError,
        ig.RateLimitError,
        ig.SentryBlock,
        ig.ProxyAddressIsBlocked,
        ig.AccountSuspended,
        ig.TwoFactorRequired,
    )
    if isinstance(exc, pushback):
        return Pushback(name)
    gone = (
        ig.UserNotFound,
        ig.DirectMessageRequestsDisabled,
        ig.InvalidTargetUser,
        ig.PrivateAccount,
        ig.DirectThreadNotFound,
    )
    if isinstance(exc, gone):
        return RecipientGone(name)
    temporary = (
        ig.ClientConnectionError,
        ig.ClientRequestTimeout,
        ig.ClientIncompleteReadError,
        ig.ClientJSONDecodeError,
        requests.RequestException,
        OSError,
    )
    if isinstance(exc, temporary):
        return Temporary(name)
    if isinstance(exc, ig.ClientError):
        response = getattr(exc, "response", None)
        status = getattr(response, "status_code", None)
        if status == 429:
            return Pushback(name)
        if status is None or status >= 500:
            return Temporary(name)
        return Refused(name)
    return Temporary(name)


PAUSED_UNTIL = "paused_until"
LEVEL = "backoff_level"


class InstagramGuard:
    """The Instagram channel's pause: a growing backoff after each push-back, the coordinators
    alerted in Telegram, and the state kept in the database so a restart does not hammer."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        outbox: Outbox,
        catalogs: Catalogs,
        clock: Callable[[], datetime],
    ) -> None:
        self.settings = settings
        self.db = db
        self.outbox = outbox
        self.catalogs = catalogs
        self.clock = clock
        self.level = 0
        self.paused_until: datetime | None = None

    async def load(self) -> None:
        repo = InstagramRepository(self.db.connection)
        until = await repo.get_state(PAUSED_UNTIL)
        level = await repo.get_state(LEVEL)
        self.paused_until = datetime.fromisoformat(until) if until else None
        self.level = int(level) if level else 0

    def remaining(self) -> float:
        """Seconds until the pause ends (0 when the channel is not paused)."""
        if self.paused_until is None:
            return 0.0
        return max(0.0, (self.paused_until - self.clock()).total_seconds())

    def pause_seconds(self, level: int) -> float:
        ig = self.settings.instagram
        minutes = min(ig.backoff_max_minutes, ig.backoff_minutes * 2.0 ** (level - 1))
        return minutes * 60.0

    async def pushback(self, reason: str, login: bool = False) -> float:
        """Pause the channel for longer than the last time and tell the coordinators."""
        now = self.clock()
        if self.remaining() > 0:  # the worker and the poller both hit it: count it once
            return self.remaining()
        self.level += 1
        seconds = self.pause_seconds(self.level)
        self.paused_until = now + timedelta(seconds=seconds)
        minutes = round(seconds / 60)
        lang = self.settings.queue.workspace_language or self.settings.default_language
        text = self.catalogs.gettext(
            lang,
            INSTAGRAM_LOGIN if login else INSTAGRAM_PAUSED,
            reason=reason,
            minutes=minutes,
        )
        log.warning(
            "Instagram pushed back (%s): the channel pauses for %d minutes (level %d)",
            reason,
            minutes,
            self.level,
        )
        await self._save_and_alert(text, f"pause:{self.level}:{now.isoformat()}")
        return seconds

    async def healthy(self) -> None:
        """A call went through: the backoff starts afresh (told once after a pause)."""
        if self.level == 0:
            return
        self.level = 0
        self.paused_until = None
        lang = self.settings.queue.workspace_language or self.settings.default_language
        log.warning("Instagram works again: the channel resumed")
        text = self.catalogs.gettext(lang, INSTAGRAM_RESUMED)
        await self._save_and_alert(text, f"resumed:{self.clock().isoformat()}")

    async def _save_and_alert(self, text: str, key: str) -> None:
        alerts = [
            OutgoingMessage(
                f"instagram:{key}:{coordinator}",
                "telegram",
                str(coordinator),
                html.escape(text, quote=False),
            )
            for coordinator in self.settings.coordinators
        ]
        async with self.db.transaction() as conn:
            repo = InstagramRepository(conn)
            until = self.paused_until.isoformat() if self.paused_until else ""
            await repo.set_state(PAUSED_UNTIL, until)
            await repo.set_state(LEVEL, str(self.level))
            await self.outbox.add_in(conn, alerts)
        self.outbox.wake(alerts)
