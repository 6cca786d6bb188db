"""A thin async adapter over instagrapi's Client (which is synchronous: run in a thread).

The poller, the sender and the story job see only `DirectApi` and the plain dataclasses here;
instagrapi's types and exceptions stay inside this module and errors.py.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

from bot.config import InstagramSettings
from bot.instagram.errors import InstagramError, LoginNeeded, SessionExpired, translate

log = logging.getLogger(__name__)

T = TypeVar("T")

SAVE_EVERY = 3600.0  # seconds between saves of the refreshed session

# What instagrapi says an item is -> the kind the core understands (Incoming.kind).
ITEM_KINDS = {
    "text": "text",
    "link": "text",
    "media": "photo",
    "raw_media": "photo",
    "visual_media": "photo",
    "animated_media": "animation",
    "voice_media": "voice",
}


@dataclass(frozen=True, slots=True)
class DirectItem:
    """One message in a direct thread: who sent it, what kind it is, its text if any."""

    item_id: str
    user_id: str
    kind: str
    text: str
    at: float  # seconds since the epoch


@dataclass(frozen=True, slots=True)
class DirectThreadView:
    """A direct thread as the poller needs it; items oldest first."""

    thread_id: str
    user_ids: tuple[str, ...]
    pending: bool
    is_group: bool
    items: tuple[DirectItem, ...]
    skipped: int = 0  # items instagrapi could not parse
    usernames: tuple[str, ...] = ()  # shared with a specialist only if the person agrees


@dataclass(frozen=True, slots=True)
class Sent:
    thread_id: str
    item_id: str


class DirectApi(Protocol):
    """What the Instagram channel needs from Instagram (a fake in higher-level tests)."""

    @property
    def user_id(self) -> str: ...

    async def inbox(self) -> list[DirectThreadView]: ...

    async def pending(self) -> list[DirectThreadView]: ...

    async def approve(self, thread_id: str) -> None: ...

    async def history(self, thread_id: str, amount: int) -> DirectThreadView: ...

    async def mark_seen(self, thread_id: str, item_id: str) -> None: ...

    async def send_text(self, text: str, user_id: str) -> Sent: ...

    async def upload_story(self, path: Path) -> str: ...


def item_order(item_id: str) -> tuple[int, str]:
    """Instagram's item ids are numbers that grow with time; compare them as such."""
    return (len(item_id), item_id)


def create_instagrapi(settings: InstagramSettings) -> Any:
    """A real instagrapi Client: no interactive challenge flow (the bot pauses instead), a
    human-like pause between requests."""
    from instagrapi import Client

    # instagrapi logs request URLs (with thread and user ids) at INFO and WARNING; platform ids
    # are logged only at DEBUG, so below that its own logs are kept to errors. The channel logs
    # what matters (the kind of push-back, the pause) itself.
    verbose = logging.getLogger().getEffectiveLevel() <= logging.DEBUG
    for name in ("instagrapi", "private_request", "public_request"):
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.ERROR)
    client = Client(delay_range=[1, 3], with_challenge_flow=False)
    client.request_timeout = 1
    return client


def save_session(client: Any, path: Path) -> None:
    """Write the session settings, readable by the owner only (it is as good as a password)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)
    client.dump_settings(path)


def session_state(settings: InstagramSettings) -> str:
    """doctor's line about the saved session, read from the file (no network, no login)."""
    import json

    path = settings.session_path
    if not path.exists():
        return (
            f"Instagram is enabled but there is no saved session at {path}: run "
            "`python -m bot instagram login` once"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return f"the Instagram session file {path} is unreadable ({exc}): log in again"
    auth = data.get("authorization_data") or {}
    cookies = data.get("cookies") or {}
    if not (auth.get("sessionid") or cookies.get("sessionid")):
        return (
            f"the Instagram session file {path} holds no login: run "
            "`python -m bot instagram login`"
        )
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        return f"the Instagram session file {path} is readable by others: chmod 600 {path}"
    last = data.get("last_login")
    when = (
        datetime.fromtimestamp(float(last), UTC).strftime("%Y-%m-%d %H:%M UTC")
        if last
        else "unknown"
    )
    return f"ok: Instagram session for {settings.username} saved in {path} (last login {when})"


class InstagramClient:
    """DirectApi over a real instagrapi Client; one call at a time, each in a thread."""

    def __init__(
        self, settings: InstagramSettings, factory: Callable[[], Any] | None = None
    ) -> None:
        self.settings = settings
        self._factory = factory or (lambda: create_instagrapi(settings))
        self._client: Any = None
        self._lock = asyncio.Lock()
        self._saved_at = time.monotonic()

    @property
    def user_id(self) -> str:
        return str(self._client.user_id) if self._client is not None else ""

    @property
    def raw(self) -> Any:
        """The instagrapi Client (for `instagram login`, and tests)."""
        return self._client

    async def start(self) -> None:
        """Load the saved session; no login with the password here (that is `instagram login`)."""
        path = self.settings.session_path
        if not path.exists():
            raise SessionExpired(
                f"no saved session at {path}: run `python -m bot instagram login`"
            )
        self._client = self._factory()
        await asyncio.to_thread(self._client.load_settings, path)
        if self._client.username is None:
            self._client.username = self.settings.username
        if not self._client.user_id:
            raise SessionExpired(f"the session at {path} holds no login")

    async def _call(self, what: Callable[[Any], T]) -> T:
        """Run one instagrapi call in a thread; a logged-out session logs in again once."""
        async with self._lock:
            try:
                return await asyncio.to_thread(self._run, what)
            except LoginNeeded:
                log.warning("Instagram logged the session out: logging in again from it once")
                try:
                    await asyncio.to_thread(self._relogin)
                    return await asyncio.to_thread(self._run, what)
                except LoginNeeded as exc:
                    raise SessionExpired(str(exc)) from exc

    def _run(self, what: Callable[[Any], T]) -> T:
        try:
            result = what(self._client)
        except InstagramError:
            raise
        except Exception as exc:
            raise translate(exc) from exc
        if time.monotonic() - self._saved_at > SAVE_EVERY:
            # Instagram refreshes the session's cookies and claims as it goes: keep the file
            # current, so that the next start does not present a stale session.
            self._saved_at = time.monotonic()
            try:
                save_session(self._client, self.settings.session_path)
            except OSError as exc:
                log.warning("could not save the Instagram session: %s", exc)
        return result

    def _relogin(self) -> None:
        client = self._client
        path = self.settings.session_path
        try:
            client.load_settings(path)  # the file may be newer (`instagram login` meanwhile)
            password = self.settings.password
            if password:
                client.login(self.settings.username, password)  # checks, then logs in anew
            else:
                client.account_info()
        except Exception as exc:
            mapped = translate(exc)
            if isinstance(mapped, LoginNeeded):
                raise mapped from exc
            raise SessionExpired(type(exc).__name__) from exc
        save_session(client, path)

    # --- direct messages -------------------------------------------------------------------------

    async def inbox(self) -> list[DirectThreadView]:
        """The most recently active threads (read or not: a person using the app may have
        opened them; what is new is decided by the stored cursor)."""
        return await self._call(lambda c: self._threads(c, lambda: c.direct_threads_chunk()))

    async def pending(self) -> list[DirectThreadView]:
        """Message requests from people who do not follow the account."""
        return await self._call(lambda c: self._threads(c, lambda: c.direct_pending_chunk()))

    async def approve(self, thread_id: str) -> None:
        await self._call(lambda c: c.direct_pending_approve(int(thread_id)))

    async def history(self, thread_id: str, amount: int) -> DirectThreadView:
        """A thread's latest `amount` items (the inbox shows only the last few of each)."""

        def fetch(client: Any) -> DirectThreadView:
            from instagrapi.exceptions import ClientError

            try:
                return self._view(client.direct_thread(int(thread_id), amount))
            except ClientError:
                raise
            except Exception as exc:
                response = client.last_response
                if response is None:
                    raise
                # The exception's text can quote the messages: only its type above DEBUG.
                log.warning(
                    "instagrapi could not parse a thread (%s): item by item", type(exc).__name__
                )
                log.debug("parse failure: %s", exc)
                return self._salvage(response.json().get("thread", {}))

        return await self._call(fetch)

    async def mark_seen(self, thread_id: str, item_id: str) -> None:
        await self._call(lambda c: c.direct_message_seen(int(thread_id), int(item_id)))

    async def send_text(self, text: str, user_id: str) -> Sent:
        message = await self._call(lambda c: c.direct_send(text, user_ids=[int(user_id)]))
        return Sent(str(message.thread_id or ""), str(message.id))

    async def upload_story(self, path: Path) -> str:
        story = await self._call(lambda c: c.photo_upload_to_story(path))
        return str(story.pk)

    # --- parsing ---------------------------------------------------------------------------------

    def _threads(self, client: Any, fetch: Callable[[], Any]) -> list[DirectThreadView]:
        """instagrapi parses the page; when one item defeats it, the raw page is parsed again
        item by item, and what cannot be parsed is skipped (and logged), not fatal."""
        from instagrapi.exceptions import ClientError

        try:
            threads, _cursor = fetch()
        except ClientError:
            raise
        except Exception as exc:
            response = client.last_response
            if response is None:
                raise
            # The exception's text can quote the messages: only its type above DEBUG.
            log.warning(
                "instagrapi could not parse a direct page (%s): item by item", type(exc).__name__
            )
            log.debug("parse failure: %s", exc)
            page = response.json().get("inbox", {})
            return [self._salvage(raw) for raw in page.get("threads", [])]
        return [self._view(thread) for thread in threads]

    def _view(self, thread: Any) -> DirectThreadView:
        items = [
            DirectItem(
                str(m.id),
                str(m.user_id or ""),
                _kind_of(m),
                _text_of(m),
                m.timestamp.timestamp(),
            )
            for m in thread.messages
        ]
        return DirectThreadView(
            str(thread.id),
            tuple(str(u.pk) for u in thread.users),
            bool(thread.pending),
            bool(thread.is_group),
            tuple(sorted(items, key=lambda i: item_order(i.item_id))),
            usernames=tuple(str(u.username or "") for u in thread.users),
        )

    def _salvage(self, raw: dict[str, Any]) -> DirectThreadView:
        from instagrapi.extractors import extract_direct_message

        thread_id = str(raw.get("thread_id", ""))
        items: list[DirectItem] = []
        skipped = 0
        for item in raw.get("items", []):
            try:
                data = copy.deepcopy(item)
                data["thread_id"] = thread_id
                m = extract_direct_message(data)
            except Exception as exc:
                skipped += 1
                log.warning(
                    "skipped a direct item instagrapi cannot parse (%s: %s)",
                    item.get("item_type") if isinstance(item, dict) else "?",
                    type(exc).__name__,
                )
                log.debug("unparsed item %s in thread %s", item.get("item_id"), thread_id)
                # Still an item: its id moves the cursor past it, so it is not retried forever.
                if isinstance(item, dict) and item.get("item_id"):
                    items.append(
                        DirectItem(
                            str(item["item_id"]),
                            str(item.get("user_id", "")),
                            "unparsed",
                            "",
                            _seconds(item.get("timestamp")),
                        )
                    )
                continue
            items.append(
                DirectItem(
                    str(m.id),
                    str(m.user_id or ""),
                    _kind_of(m),
                    _text_of(m),
                    m.timestamp.timestamp(),
                )
            )
        users = tuple(str(u.get("pk") or u.get("id") or "") for u in raw.get("users", []))
        return DirectThreadView(
            thread_id,
            users,
            bool(raw.get("pending")),
            bool(raw.get("is_group")),
            tuple(sorted(items, key=lambda i: item_order(i.item_id))),
            skipped,
            tuple(str(u.get("username") or "") for u in raw.get("users", [])),
        )


def _kind_of(message: Any) -> str:
    item_type = message.item_type or "other"
    if item_type == "reel_share" and _text_of(message):
        return "text"  # a reply to one of the account's stories: a message like any other
    return ITEM_KINDS.get(item_type, item_type)


def _text_of(message: Any) -> str:
    if message.text:
        return str(message.text)
    reel = getattr(message, "reel_share", None)
    if isinstance(reel, dict) and reel.get("text"):
        return str(reel["text"])
    link = getattr(message, "link", None)
    return str(getattr(link, "text", "") or "") if link is not None else ""


def _seconds(timestamp: Any) -> float:
    try:
        return int(timestamp) / 1_000_000
    except (TypeError, ValueError):
        return 0.0
