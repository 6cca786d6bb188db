"""Instagram's private API, recorded: a requests transport for the real instagrapi Client.

The Client is real (its requests, signatures, error mapping and parsing all run); only the
transport under its `requests.Session`s is replaced. Every request is recorded in order, and a
request no route expects is recorded as unexpected (tests assert there are none).
"""

from __future__ import annotations

import io
import json
import re
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict

from bot.app import App, create_app
from bot.config import InstagramSettings, Settings, load_settings
from bot.console import ConsoleWorkspace
from bot.content import ContentPack
from bot.instagram.client import InstagramClient
from tests.helpers import CONTENT, Clock, write_config

ME = "1000"  # the outreach account's user id
COORDINATOR = "9001"
ALMOST_NOW = 1_748_854_800  # 2025-06-02 09:00 UTC, the tests' clock


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, list[str]]
    body: dict[str, list[str]]

    def form(self, key: str) -> str:
        values = self.body.get(key) or [""]
        return values[0]


@dataclass
class Route:
    method: str
    pattern: re.Pattern[str]
    responses: deque[tuple[int, Any]]
    repeat: bool = False


@dataclass(eq=False)
class RecordedInstagram(HTTPAdapter):
    """Answers instagrapi's requests from recorded responses, in the order they were added."""

    routes: list[Route] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__()

    def on(
        self, method: str, path: str, *responses: tuple[int, Any], repeat: bool = False
    ) -> None:
        """Answer METHOD on a path (a regex over /api/v1/...) with these (status, body)."""
        self.routes.append(Route(method, re.compile(path), deque(responses), repeat))

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
    ) -> requests.Response:
        url = urlsplit(request.url or "")
        body: dict[str, list[str]] = {}
        raw = request.body
        if isinstance(raw, bytes):
            try:
                raw = raw.decode()
            except UnicodeDecodeError:
                raw = ""
        if isinstance(raw, str):
            body = parse_qs(raw)
        method = request.method or "GET"
        self.calls.append(Call(method, url.path, parse_qs(url.query), body))
        # Routes with responses to give out first, in order; standing answers (repeat) last.
        for route in sorted(self.routes, key=lambda r: r.repeat):
            if route.method == method and route.pattern.search(url.path) and route.responses:
                status, payload = route.responses[0] if route.repeat else route.responses.popleft()
                return self._response(request, status, payload)
        self.unexpected.append(f"{method} {url.path}")
        return self._response(request, 404, {"message": "not recorded", "status": "fail"})

    @staticmethod
    def _response(
        request: requests.PreparedRequest, status: int, payload: Any
    ) -> requests.Response:
        response = requests.Response()
        response.status_code = status
        response.reason = {200: "OK", 400: "Bad Request", 403: "Forbidden", 429: "Too Many"}.get(
            status, "Error"
        )
        response._content = json.dumps(payload).encode()
        response.headers = CaseInsensitiveDict({"Content-Type": "application/json"})
        response.encoding = "utf-8"
        response.url = request.url or ""
        response.request = request
        return response

    def paths(self) -> list[str]:
        return [f"{c.method} {c.path}" for c in self.calls]


class RecordedSession(requests.Session):
    """A requests.Session whose every request goes to the recorded transport, whatever
    adapters instagrapi mounts on it."""

    def __init__(self, transport: RecordedInstagram) -> None:
        super().__init__()
        self.transport = transport

    def get_adapter(self, url: str) -> HTTPAdapter:
        return self.transport


def real_client(transport: RecordedInstagram) -> Any:
    """A real instagrapi Client with its sessions on the recorded transport; no waiting."""
    from instagrapi import Client

    client = Client(private_transport="requests", request_timeout=0, with_challenge_flow=False)
    client.private = RecordedSession(transport)
    client.public = RecordedSession(transport)
    return client


def write_session(path: Path, transport: RecordedInstagram) -> Path:
    """A saved session as `instagram login` leaves it (logged in as ME)."""
    client = real_client(transport)
    client.authorization_data = {"ds_user_id": ME, "sessionid": f"{ME}%3Arecorded%3A1"}
    client.username = "senim_outreach"
    client.last_login = ALMOST_NOW - 3600
    client.dump_settings(path)
    path.chmod(0o600)
    return path


def instagram_client(settings: InstagramSettings, transport: RecordedInstagram) -> InstagramClient:
    return InstagramClient(settings, factory=lambda: real_client(transport))


# --- responses shaped like Instagram's -------------------------------------------------------

_sequence = [7_000_000_000_000_000_000_000_000_000_000]


def item_id() -> str:
    _sequence[0] += 1_000_000
    return str(_sequence[0])


def user(pk: str, username: str = "") -> dict[str, Any]:
    return {
        "pk": int(pk),
        "pk_id": pk,
        "id": pk,
        "username": username or f"user{pk}",
        "full_name": "Not Stored",
        "is_private": False,
        "profile_pic_url": "https://scontent.cdninstagram.com/v/t51/p.jpg",
        "is_verified": False,
        "friendship_status": {"following": False, "is_bestie": False, "incoming_request": False},
    }


def text_item(
    sender: str, text: str, at: float = ALMOST_NOW + 60, ident: str = ""
) -> dict[str, Any]:
    return {
        "item_id": ident or item_id(),
        "user_id": int(sender),
        "timestamp": str(int(at * 1_000_000)),
        "item_type": "text",
        "text": text,
        "client_context": "6840" + (ident or "1")[-6:],
        "is_sent_by_viewer": sender == ME,
        "show_forward_attribution": False,
    }


def photo_item(sender: str, at: float = ALMOST_NOW + 60) -> dict[str, Any]:
    return {
        "item_id": item_id(),
        "user_id": int(sender),
        "timestamp": str(int(at * 1_000_000)),
        "item_type": "media",
        "media": {
            "id": "3100000000000000000_2001",
            "media_type": 1,
            "image_versions2": {
                "candidates": [
                    {
                        "width": 1080,
                        "height": 1350,
                        "url": "https://scontent.cdninstagram.com/x.jpg",
                    }
                ]
            },
            "original_width": 1080,
            "original_height": 1350,
        },
        "client_context": "68400002",
    }


def broken_item(sender: str, at: float = ALMOST_NOW + 60) -> dict[str, Any]:
    """A kind of item this instagrapi cannot parse (a new share type with a bad payload)."""
    return {
        "item_id": item_id(),
        "user_id": int(sender),
        "timestamp": str(int(at * 1_000_000)),
        "item_type": "xma_new_thing",
        "media_share": {"id": None, "unexpected": True},
    }


def thread(
    thread_id: str, citizen: str, items: list[dict[str, Any]], pending: bool = False
) -> dict[str, Any]:
    """A one-to-one thread; items are given oldest first and sent newest first, like Instagram."""
    newest = max((int(i["timestamp"]) for i in items), default=ALMOST_NOW * 1_000_000)
    return {
        "thread_id": thread_id,
        "thread_v2_id": "1780" + thread_id[-10:],
        "users": [user(citizen)],
        "left_users": [],
        "admin_user_ids": [],
        "items": list(reversed(items)),
        "last_activity_at": newest,
        "muted": False,
        "is_pin": False,
        "named": False,
        "canonical": True,
        "pending": pending,
        "archived": False,
        "thread_type": "private",
        "viewer_id": int(ME),
        "thread_title": f"user{citizen}",
        "folder": 0,
        "vc_muted": False,
        "is_group": False,
        "mentions_muted": False,
        "approval_required_for_new_members": False,
        "input_mode": 0,
        "read_state": 0,
        "inviter": user(citizen),
        "has_older": False,
        "has_newer": False,
        "last_seen_at": {},
        "newest_cursor": items[-1]["item_id"] if items else "",
        "oldest_cursor": items[0]["item_id"] if items else "",
    }


def inbox(*threads: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    return 200, {
        "viewer": user(ME, "senim_outreach"),
        "inbox": {
            "threads": list(threads),
            "has_older": False,
            "unseen_count": len(threads),
            "unseen_count_ts": ALMOST_NOW * 1_000_000,
            "oldest_cursor": None,
            "blended_inbox_enabled": False,
        },
        "seq_id": 40065,
        "snapshot_at_ms": ALMOST_NOW * 1000,
        "pending_requests_total": 0,
        "status": "ok",
    }


def sent(thread_id: str, at: float = ALMOST_NOW + 90) -> tuple[int, dict[str, Any]]:
    ident = item_id()
    return 200, {
        "action": "item_ack",
        "status_code": "200",
        "payload": {
            "client_context": "6840123",
            "item_id": ident,
            "timestamp": str(int(at * 1_000_000)),
            "thread_id": thread_id,
        },
        "status": "ok",
    }


OK: tuple[int, dict[str, Any]] = (200, {"status": "ok"})
PLEASE_WAIT = (
    400,
    {"message": "Please wait a few minutes before you try again.", "status": "fail"},
)
FEEDBACK = (
    400,
    {
        "message": "feedback_required",
        "feedback_message": "We limit how often you can do certain things on Instagram.",
        "spam": True,
        "status": "fail",
    },
)
THROTTLED = (429, {"message": "rate limited", "status": "fail"})
LOGIN_REQUIRED = (
    403,
    {"message": "login_required", "error_title": "You've been logged out.", "status": "fail"},
)
CHALLENGE = (
    400,
    {
        "message": "challenge_required",
        "challenge": {
            "url": "https://i.instagram.com/challenge/1000/abc/",
            "api_path": "/challenge/1000/abc/",
            "lock": True,
        },
        "status": "fail",
    },
)


def current_user() -> tuple[int, dict[str, Any]]:
    return 200, {
        "user": {
            **user(ME, "senim_outreach"),
            "biography": "",
            "external_url": "",
            "email": "",
            "phone_number": "",
            "gender": 3,
            "is_business": False,
            "birthday": None,
        },
        "status": "ok",
    }


def story_configured() -> tuple[int, dict[str, Any]]:
    return 200, {
        "media": {
            "pk": "3200000000000000001",
            "id": "3200000000000000001_1000",
            "code": "C0DE",
            "taken_at": ALMOST_NOW,
            "media_type": 1,
            "product_type": "story",
            "user": user(ME, "senim_outreach"),
            "image_versions2": {
                "candidates": [
                    {
                        "width": 1080,
                        "height": 1920,
                        "url": "https://scontent.cdninstagram.com/story.jpg",
                    }
                ]
            },
            "original_width": 1080,
            "original_height": 1920,
            "caption": None,
        },
        "status": "ok",
    }


# --- the app and settings the Instagram tests share ------------------------------------------


class Sleeps:
    """asyncio.sleep's stand-in: records the waits, never waits."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def instagram_settings(tmp_path: Path, transport: RecordedInstagram) -> Settings:
    """Instagram on, a saved session, one coordinator and one specialist."""
    session = write_session(tmp_path / "instagram-session.json", transport)
    config = write_config(
        tmp_path / "config.yaml",
        {
            "database": {"path": str(tmp_path / "ig.sqlite3"), "event_flush_seconds": 0},
            "content": {"path": str(CONTENT)},
            "instagram": {
                "enabled": True,
                "username": "senim_outreach",
                "session_path": str(session),
                "backoff_minutes": 15,
                "backoff_max_minutes": 120,
            },
            "coordinators": [int(COORDINATOR)],
            "specialists": [
                {
                    "telegram_id": 5001,
                    "name": "Aigerim",
                    "skills": ["theology", "psychology"],
                    "languages": ["ru", "kk", "en"],
                }
            ],
        },
    )
    return load_settings(config, environ={})


async def open_app(settings: Settings, pack: ContentPack, clock: Clock) -> App:
    """The app over the settings' SQLite file, with the terminal's workspace for tickets."""
    app = await create_app(settings, content=pack, clock=clock.now)
    app.queue.attach(ConsoleWorkspace(io.StringIO()))
    return app
