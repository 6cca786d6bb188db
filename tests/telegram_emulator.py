"""A compact Telegram Bot API emulator on aiohttp, for end-to-end tests over real HTTP.

It serves, at http://127.0.0.1:<port>/bot<token>/<method>, the methods a bot commonly uses:
getMe, getUpdates (long polling), setWebhook/deleteWebhook, setMyCommands, sendMessage,
sendPhoto/Document/Voice/Video/Audio/Animation (file_id or multipart upload), copyMessage,
sendChatAction, answerCallbackQuery, editMessageText/Caption/ReplyMarkup, deleteMessage,
pin/unpin, getFile (and /file/bot<token>/<path> downloads), getChat, getChatMember,
getChatAdministrators and the forum topic methods, all with the Bot API's JSON shapes.

A test acts as users (sends text, media, contacts; presses buttons), sets up forum supergroups,
blocks the bot, injects failures and can impose a global rate limit on sending.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import mimetypes
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

BOT = {
    "id": 4242,
    "is_bot": True,
    "first_name": "Senim",
    "username": "senim_e2e_bot",
    "can_join_groups": False,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}

# What the bot may do as an administrator of a forum group unless add_forum_group says otherwise.
DEFAULT_BOT_RIGHTS: dict[str, Any] = {
    "can_be_edited": False,
    "is_anonymous": False,
    "can_manage_chat": True,
    "can_delete_messages": True,
    "can_manage_video_chats": False,
    "can_restrict_members": False,
    "can_promote_members": False,
    "can_change_info": False,
    "can_invite_users": True,
    "can_post_stories": False,
    "can_edit_stories": False,
    "can_delete_stories": False,
    "can_send_welcome_messages": False,
    "can_pin_messages": True,
    "can_manage_topics": True,
}
TOPIC_COLORS = (7322096, 16766590, 13338331, 9367192, 16749490, 16478047)
MEDIA_KINDS = {
    "sendphoto": "photo",
    "senddocument": "document",
    "sendvoice": "voice",
    "sendvideo": "video",
    "sendaudio": "audio",
    "sendanimation": "animation",
}
# The Bot API's file_id prefixes per kind, so invented ids look like real ones.
FILE_PREFIX = {
    "photo": "AgACAgIAAxk",
    "document": "BQACAgIAAxk",
    "voice": "AwACAgIAAxk",
    "video": "BAACAgIAAxk",
    "audio": "CQACAgIAAxk",
    "animation": "CgACAgIAAxk",
}
DEFAULT_NAMES = {
    "photo": "photo.jpg",
    "document": "document",
    "voice": "voice.ogg",
    "video": "video.mp4",
    "audio": "audio.mp3",
    "animation": "animation.mp4",
}
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)


@dataclass
class Sent:
    """A message the bot sent; for media `text` is the caption, `kind` the media type."""

    message_id: int
    chat_id: int
    text: str
    parse_mode: str | None
    buttons: list[tuple[str, str]] = field(default_factory=list)
    thread_id: int | None = None
    kind: str = "text"
    file_id: str | None = None
    filename: str | None = None
    data: bytes | None = None
    deleted: bool = False
    edited: bool = False


@dataclass
class Topic:
    """A forum topic: thread_id is its message_thread_id."""

    chat_id: int
    thread_id: int
    name: str
    icon_color: int = TOPIC_COLORS[0]
    icon_custom_emoji_id: str | None = None
    closed: bool = False


@dataclass
class ForumGroup:
    chat_id: int
    title: str
    members: dict[int, str]
    bot_status: str  # "administrator", "member", "left" or "kicked"
    bot_rights: dict[str, Any]


@dataclass
class Edit:
    """An edit the bot made: method is editMessageText, editMessageCaption or ...ReplyMarkup."""

    method: str
    chat_id: int
    message_id: int
    text: str | None
    buttons: list[tuple[str, str]]


@dataclass
class Upload:
    filename: str
    data: bytes


class ApiError(Exception):
    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.code,
            "description": self.description,
        }
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad_request(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


def is_send(method: str) -> bool:
    """Whether a (lower-cased) method counts against the rate limit."""
    if method == "sendchataction":
        return False
    return method.startswith("send") or method in ("copymessage", "forwardmessage")


def unique_id(file_id: str) -> str:
    return "AQAD" + hashlib.sha1(file_id.encode()).hexdigest()[:12]


def parse_buttons(markup: Any) -> list[tuple[str, str]]:
    if isinstance(markup, str):
        markup = json.loads(markup) if markup else None
    return [
        (b["text"], b.get("callback_data", ""))
        for row in (markup or {}).get("inline_keyboard", [])
        for b in row
    ]


class BotAPIEmulator:
    def __init__(self, token: str, rate_limit: float | None = None) -> None:
        self.token = token
        self.rate_limit = rate_limit
        self.updates: list[dict[str, Any]] = []
        self.sent: list[Sent] = []
        self.calls: list[str] = []
        self.answered_callbacks: list[dict[str, Any]] = []
        self.edits: list[Edit] = []
        self.deleted: list[tuple[int, int]] = []  # (chat_id, message_id)
        self.pinned: dict[int, list[int]] = {}  # chat_id -> pinned message ids, oldest first
        self.groups: dict[int, ForumGroup] = {}
        self.topics: dict[int, dict[int, Topic]] = {}  # chat_id -> thread_id -> Topic
        self.blocked: set[int] = set()
        self.files: dict[str, Upload] = {}  # file_id -> what was uploaded or added
        self.chat_actions: list[tuple[int, str]] = []
        self.delivered = 0  # messages delivered by send methods
        self.too_many_requests = 0  # 429 answers, from the rate limit or fail_next
        self.webhook: dict[str, Any] | None = None
        self.port = 0
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._file_ids = itertools.count(1)
        self._new_update = asyncio.Condition()
        self._new_message = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._taken: dict[tuple[int, int | None], int] = {}
        self._closing = False
        self._by_chat: dict[int, list[Sent]] = {}
        self._by_thread: dict[tuple[int, int], list[Sent]] = {}
        self._index: dict[tuple[int, int], Sent] = {}
        self._user_messages: dict[tuple[int, int], dict[str, Any]] = {}
        self._users: dict[int, dict[str, Any]] = {}
        self._failures: dict[str, deque[ApiError]] = {}
        self._window: deque[float] = deque()
        self._file_paths: dict[str, str] = {}

    # --- setting the scene ----------------------------------------------------------------------

    def add_forum_group(
        self,
        chat_id: int,
        title: str = "Specialists",
        members: dict[int, str] | None = None,
        bot_rights: dict[str, Any] | None = None,
    ) -> ForumGroup:
        """A forum supergroup; bot_rights override DEFAULT_BOT_RIGHTS, and may carry "status"
        ("administrator", "member", "left", "kicked") for what the bot is in it."""
        rights = {**DEFAULT_BOT_RIGHTS, **(bot_rights or {})}
        status = rights.pop("status", "administrator")
        group = ForumGroup(chat_id, title, dict(members or {}), status, rights)
        self.groups[chat_id] = group
        self.topics.setdefault(chat_id, {})
        self.pinned.setdefault(chat_id, [])
        return group

    def add_topic(self, chat_id: int, name: str, icon_color: int = TOPIC_COLORS[0]) -> Topic:
        """A topic someone else created in a forum group."""
        topic = Topic(chat_id, next(self._message_ids), name, icon_color)
        self.topics[chat_id][topic.thread_id] = topic
        return topic

    def add_file(self, file_id: str, data: bytes, filename: str = "file") -> None:
        """Bytes behind a file_id (e.g. a user's photo), for getFile and downloads."""
        self.files[file_id] = Upload(filename, data)

    def block(self, user_id: int) -> None:
        self.blocked.add(user_id)

    def unblock(self, user_id: int) -> None:
        self.blocked.discard(user_id)

    def fail_next(
        self, method: str, error_code: int, description: str, retry_after: int | None = None
    ) -> None:
        """The next call of method answers with this error (queued per method)."""
        error = ApiError(error_code, description, retry_after)
        self._failures.setdefault(method.lower(), deque()).append(error)

    # --- server ---------------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        self._closing = True
        async with self._new_update:
            self._new_update.notify_all()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            if request.content_type == "application/json":
                params.update(await request.json())
            else:
                form = await request.post()
                for key, value in form.items():
                    if isinstance(value, str):
                        params[key] = value
                    elif isinstance(value, web.FileField):
                        try:
                            params[key] = Upload(value.filename, value.file.read())
                        finally:
                            value.file.close()
                    else:
                        params[key] = bytes(value).decode()
        return params

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        method = request.match_info["method"]
        params = await self._params(request)
        self.calls.append(method)
        name = method.lower()
        handler = getattr(self, f"_m_{name}", None)
        if handler is None and name not in MEDIA_KINDS:
            return web.json_response(
                {"ok": False, "error_code": 404, "description": "Not Found: method not found"},
                status=404,
            )
        try:
            self._check_failures(name)
            if name in MEDIA_KINDS:
                result = await self._send_media(MEDIA_KINDS[name], params)
            else:
                result = await handler(params)
        except ApiError as error:
            if error.code == 429:
                self.too_many_requests += 1
            return web.json_response(error.body(), status=error.code)
        except (KeyError, ValueError, TypeError) as error:
            return web.json_response(
                bad_request(f"invalid parameters: {error}").body(), status=400
            )
        return web.json_response({"ok": True, "result": result})

    def _check_failures(self, name: str) -> None:
        failures = self._failures.get(name)
        if failures:
            raise failures.popleft()
        if self.rate_limit is not None and is_send(name):
            now = time.monotonic()
            window = self._window
            while window and window[0] <= now - 1.0:
                window.popleft()
            if len(window) >= self.rate_limit:
                raise ApiError(429, "Too Many Requests: retry after 1", retry_after=1)
            window.append(now)

    async def _download(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        file_id = self._file_paths.get(request.match_info["path"])
        if file_id is None or file_id not in self.files:
            return web.json_response(
                {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
            )
        return web.Response(body=self.files[file_id].data)

    # --- chats ----------------------------------------------------------------------------------

    def _chat_id(self, value: Any) -> int:
        try:
            return int(value)
        except (TypeError, ValueError):
            raise bad_request("chat not found") from None

    def _chat_json(self, chat_id: int) -> dict[str, Any]:
        group = self.groups.get(chat_id)
        if group is not None:
            return {"id": chat_id, "type": "supergroup", "title": group.title, "is_forum": True}
        if chat_id < 0:
            return {"id": chat_id, "type": "supergroup", "title": "Group"}
        user = self._users.get(chat_id)
        chat = {"id": chat_id, "type": "private", "first_name": "User"}
        if user is not None:
            chat["first_name"] = user["first_name"]
            if "username" in user:
                chat["username"] = user["username"]
        return chat

    def _bot_can(self, chat_id: int, right: str) -> bool:
        group = self.groups.get(chat_id)
        if group is None:
            return chat_id > 0
        return group.bot_status == "administrator" and bool(group.bot_rights.get(right))

    def _check_can_send(self, chat_id: int, thread_id: int | None) -> None:
        group = self.groups.get(chat_id)
        if group is None:
            if chat_id < 0:
                raise bad_request("chat not found")
            if chat_id in self.blocked:
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            return
        if group.bot_status == "kicked":
            raise ApiError(403, "Forbidden: bot was kicked from the supergroup chat")
        if group.bot_status == "left":
            raise ApiError(403, "Forbidden: bot is not a member of the supergroup chat")
        if thread_id is not None:
            topic = self.topics[chat_id].get(thread_id)
            if topic is None:
                raise bad_request("message thread not found")
            if topic.closed and not self._bot_can(chat_id, "can_manage_topics"):
                raise bad_request("TOPIC_CLOSED")

    def _group(self, params: dict[str, Any]) -> ForumGroup:
        group = self.groups.get(self._chat_id(params.get("chat_id")))
        if group is None:
            raise bad_request("chat not found")
        return group

    def _user_json(self, user_id: int) -> dict[str, Any]:
        if user_id == BOT["id"]:
            return BOT
        return self._users.get(user_id) or {"id": user_id, "is_bot": False, "first_name": "User"}

    async def _m_getchat(self, params: dict[str, Any]) -> Any:
        chat_id = self._chat_id(params.get("chat_id"))
        if chat_id not in self.groups and chat_id not in self._users:
            raise bad_request("chat not found")
        return {
            **self._chat_json(chat_id),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    def _bot_member(self, group: ForumGroup) -> dict[str, Any]:
        if group.bot_status == "administrator":
            return {"status": "administrator", "user": BOT, **group.bot_rights}
        if group.bot_status == "kicked":
            return {"status": "kicked", "user": BOT, "until_date": 0}
        return {"status": group.bot_status, "user": BOT}

    async def _m_getchatmember(self, params: dict[str, Any]) -> Any:
        chat_id = self._chat_id(params.get("chat_id"))
        user_id = int(params["user_id"])
        group = self.groups.get(chat_id)
        if group is None:
            if chat_id in self._users and user_id in (chat_id, BOT["id"]):
                return {"status": "member", "user": self._user_json(user_id)}
            raise bad_request("chat not found")
        if user_id == BOT["id"]:
            return self._bot_member(group)
        if user_id in group.members:
            user = {"id": user_id, "is_bot": False, "first_name": group.members[user_id]}
            return {"status": "member", "user": user}
        return {"status": "left", "user": self._user_json(user_id)}

    async def _m_getchatadministrators(self, params: dict[str, Any]) -> Any:
        group = self._group(params)
        return [self._bot_member(group)] if group.bot_status == "administrator" else []

    # --- forum topics ---------------------------------------------------------------------------

    def _topic(self, params: dict[str, Any]) -> Topic:
        group = self._group(params)
        topic = self.topics[group.chat_id].get(int(params["message_thread_id"]))
        if topic is None:
            raise bad_request("message thread not found")
        return topic

    def _topic_json(self, topic: Topic) -> dict[str, Any]:
        body: dict[str, Any] = {
            "message_thread_id": topic.thread_id,
            "name": topic.name,
            "icon_color": topic.icon_color,
        }
        if topic.icon_custom_emoji_id:
            body["icon_custom_emoji_id"] = topic.icon_custom_emoji_id
        return body

    async def _m_createforumtopic(self, params: dict[str, Any]) -> Any:
        group = self._group(params)
        if not self._bot_can(group.chat_id, "can_manage_topics"):
            raise bad_request("not enough rights to create a topic")
        name = str(params.get("name") or "")
        if not 1 <= len(name) <= 128:
            raise bad_request("TOPIC_TITLE_EMPTY" if not name else "TOPIC_TITLE_TOO_LONG")
        color = int(params.get("icon_color") or TOPIC_COLORS[0])
        if color not in TOPIC_COLORS:
            raise bad_request("TOPIC_ICON_COLOR_INVALID")
        topic = self.add_topic(group.chat_id, name, color)
        topic.icon_custom_emoji_id = params.get("icon_custom_emoji_id") or None
        return self._topic_json(topic)

    async def _m_editforumtopic(self, params: dict[str, Any]) -> Any:
        topic = self._topic(params)
        name = params.get("name")
        emoji = params.get("icon_custom_emoji_id")
        if (name is None or name == topic.name) and emoji in (None, topic.icon_custom_emoji_id):
            raise bad_request("TOPIC_NOT_MODIFIED")
        if name is not None:
            topic.name = name
        if emoji is not None:
            topic.icon_custom_emoji_id = emoji or None
        return True

    async def _m_closeforumtopic(self, params: dict[str, Any]) -> Any:
        topic = self._topic(params)
        if topic.closed:
            raise bad_request("TOPIC_NOT_MODIFIED")
        topic.closed = True
        return True

    async def _m_reopenforumtopic(self, params: dict[str, Any]) -> Any:
        topic = self._topic(params)
        if not topic.closed:
            raise bad_request("TOPIC_NOT_MODIFIED")
        topic.closed = False
        return True

    async def _m_deleteforumtopic(self, params: dict[str, Any]) -> Any:
        topic = self._topic(params)
        if not self._bot_can(topic.chat_id, "can_delete_messages"):
            raise bad_request("not enough rights to delete a topic")
        del self.topics[topic.chat_id][topic.thread_id]
        for sent in self._by_thread.get((topic.chat_id, topic.thread_id), []):
            sent.deleted = True
        return True

    # --- simple methods -------------------------------------------------------------------------

    async def _m_getme(self, _params: dict[str, Any]) -> Any:
        return BOT

    async def _m_deletewebhook(self, _params: dict[str, Any]) -> Any:
        return True

    async def _m_setmycommands(self, _params: dict[str, Any]) -> Any:
        return True

    async def _m_setwebhook(self, params: dict[str, Any]) -> Any:
        self.webhook = {"url": params.get("url"), "secret_token": params.get("secret_token")}
        return True

    async def _m_answercallbackquery(self, params: dict[str, Any]) -> Any:
        self.answered_callbacks.append(params)
        return True

    async def _m_sendchataction(self, params: dict[str, Any]) -> Any:
        chat_id = self._chat_id(params.get("chat_id"))
        self._check_can_send(chat_id, None)
        self.chat_actions.append((chat_id, str(params.get("action"))))
        return True

    async def _m_getupdates(self, params: dict[str, Any]) -> Any:
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        if offset:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        deadline = time.monotonic() + timeout
        async with self._new_update:
            while not self.updates and not self._closing:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    await asyncio.wait_for(self._new_update.wait(), remaining)
                except TimeoutError:
                    break
        return list(self.updates)

    async def _m_getfile(self, params: dict[str, Any]) -> Any:
        file_id = str(params.get("file_id"))
        upload = self.files.get(file_id)
        if upload is None:
            raise bad_request("invalid file_id")
        path = next((p for p, f in self._file_paths.items() if f == file_id), None)
        if path is None:
            path = f"files/file_{len(self._file_paths) + 1}_{upload.filename}"
            self._file_paths[path] = file_id
        return {
            "file_id": file_id,
            "file_unique_id": unique_id(file_id),
            "file_size": len(upload.data),
            "file_path": path,
        }

    # --- sending --------------------------------------------------------------------------------

    def _media_json(
        self, kind: str, file_id: str, filename: str | None, size: int | None, duration: int
    ) -> dict[str, Any]:
        base: dict[str, Any] = {"file_id": file_id, "file_unique_id": unique_id(file_id)}
        if size is not None:
            base["file_size"] = size
        if kind == "photo":
            thumb_id = file_id + "_s"
            thumb = {"file_id": thumb_id, "file_unique_id": unique_id(thumb_id)}
            return {
                "photo": [
                    {**thumb, "width": 90, "height": 90},
                    {**base, "width": 800, "height": 800},
                ]
            }
        name = filename or DEFAULT_NAMES[kind]
        mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
        if kind == "document":
            return {"document": {**base, "file_name": name, "mime_type": mime}}
        if kind == "voice":
            return {"voice": {**base, "duration": duration, "mime_type": "audio/ogg"}}
        if kind == "audio":
            return {"audio": {**base, "duration": duration, "file_name": name, "mime_type": mime}}
        video = {**base, "width": 640, "height": 360, "duration": duration}
        video.update(file_name=name, mime_type=mime)
        if kind == "video":
            return {"video": video}
        return {"animation": video, "document": {**base, "file_name": name, "mime_type": mime}}

    def _message_json(self, sent: Sent) -> dict[str, Any]:
        chat = self._chat_json(sent.chat_id)
        body: dict[str, Any] = {
            "message_id": sent.message_id,
            "date": int(time.time()),
            "chat": chat,
            "from": BOT,
        }
        if sent.thread_id is not None and chat["type"] == "supergroup":
            body["message_thread_id"] = sent.thread_id
            body["is_topic_message"] = True
        if sent.edited:
            body["edit_date"] = int(time.time())
        if sent.kind == "text":
            body["text"] = sent.text
        else:
            assert sent.file_id is not None
            size = len(sent.data) if sent.data is not None else None
            body.update(self._media_json(sent.kind, sent.file_id, sent.filename, size, 1))
            if sent.text:
                body["caption"] = sent.text
        if sent.buttons:
            body["reply_markup"] = {
                "inline_keyboard": [[{"text": t, "callback_data": d}] for t, d in sent.buttons]
            }
        return body

    @staticmethod
    def _thread(params: dict[str, Any]) -> int | None:
        value = params.get("message_thread_id")
        return int(value) if value not in (None, "") else None

    async def _store(self, sent: Sent) -> None:
        async with self._new_message:
            self.sent.append(sent)
            self._by_chat.setdefault(sent.chat_id, []).append(sent)
            if sent.thread_id is not None:
                self._by_thread.setdefault((sent.chat_id, sent.thread_id), []).append(sent)
            self._index[(sent.chat_id, sent.message_id)] = sent
            self.delivered += 1
            self._new_message.notify_all()

    async def _m_sendmessage(self, params: dict[str, Any]) -> Any:
        chat_id = self._chat_id(params.get("chat_id"))
        thread_id = self._thread(params)
        text = params.get("text") or ""
        if not text:
            raise bad_request("message text is empty")
        self._check_can_send(chat_id, thread_id)
        sent = Sent(
            next(self._message_ids),
            chat_id,
            text,
            params.get("parse_mode"),
            parse_buttons(params.get("reply_markup")),
            thread_id=thread_id,
        )
        await self._store(sent)
        return self._message_json(sent)

    async def _send_media(self, kind: str, params: dict[str, Any]) -> Any:
        chat_id = self._chat_id(params.get("chat_id"))
        thread_id = self._thread(params)
        value = params.get(kind)
        if isinstance(value, str) and value.startswith("attach://"):
            value = params.get(value.removeprefix("attach://"))
        if isinstance(value, Upload):
            file_id = f"{FILE_PREFIX[kind]}{next(self._file_ids):06d}-emu"
            upload: Upload | None = value
            self.files[file_id] = value
        elif isinstance(value, str) and value:
            if value.startswith(("http://", "https://")):
                file_id = f"{FILE_PREFIX[kind]}{next(self._file_ids):06d}-url"
            else:
                file_id = value
            upload = self.files.get(file_id)
        else:
            raise bad_request(f"there is no {kind} in the request")
        self._check_can_send(chat_id, thread_id)
        sent = Sent(
            next(self._message_ids),
            chat_id,
            params.get("caption") or "",
            params.get("parse_mode"),
            parse_buttons(params.get("reply_markup")),
            thread_id=thread_id,
            kind=kind,
            file_id=file_id,
            filename=upload.filename if upload else None,
            data=upload.data if upload else None,
        )
        await self._store(sent)
        return self._message_json(sent)

    async def _m_copymessage(self, params: dict[str, Any]) -> Any:
        chat_id = self._chat_id(params.get("chat_id"))
        key = (self._chat_id(params.get("from_chat_id")), int(params["message_id"]))
        thread_id = self._thread(params)
        source = self._index.get(key)
        if source is not None and not source.deleted:
            kind, text, file_id = source.kind, source.text, source.file_id
        elif key in self._user_messages:
            kind, text, file_id = "text", "", None
            message = self._user_messages[key]
            for candidate in ("photo", "document", "voice", "video", "audio", "animation"):
                if candidate in message:
                    media = message[candidate]
                    biggest = media[-1] if candidate == "photo" else media
                    kind, file_id = candidate, biggest["file_id"]
            text = message.get("text") or message.get("caption") or ""
        else:
            raise bad_request("message to copy not found")
        if "caption" in params and kind != "text":
            text = params["caption"] or ""
        self._check_can_send(chat_id, thread_id)
        upload = self.files.get(file_id) if file_id else None
        sent = Sent(
            next(self._message_ids),
            chat_id,
            text,
            params.get("parse_mode"),
            parse_buttons(params.get("reply_markup")),
            thread_id=thread_id,
            kind=kind,
            file_id=file_id,
            filename=upload.filename if upload else None,
            data=upload.data if upload else None,
        )
        await self._store(sent)
        return {"message_id": sent.message_id}

    # --- editing, deleting, pinning -------------------------------------------------------------

    def _find(self, params: dict[str, Any], what: str) -> Sent:
        key = (self._chat_id(params.get("chat_id")), int(params.get("message_id") or 0))
        sent = self._index.get(key)
        if sent is None or sent.deleted:
            raise bad_request(f"message to {what} not found")
        return sent

    def _edited(self, method: str, sent: Sent, text: str | None) -> Any:
        sent.edited = True
        self.edits.append(Edit(method, sent.chat_id, sent.message_id, text, list(sent.buttons)))
        return self._message_json(sent)

    async def _m_editmessagetext(self, params: dict[str, Any]) -> Any:
        if params.get("inline_message_id"):
            return True
        sent = self._find(params, "edit")
        if sent.kind != "text":
            raise bad_request("there is no text in the message to edit")
        text = params.get("text") or ""
        if not text:
            raise bad_request("message text is empty")
        buttons = parse_buttons(params.get("reply_markup"))
        if text == sent.text and buttons == sent.buttons:
            raise ApiError(400, NOT_MODIFIED)
        sent.text, sent.parse_mode, sent.buttons = text, params.get("parse_mode"), buttons
        return self._edited("editMessageText", sent, text)

    async def _m_editmessagecaption(self, params: dict[str, Any]) -> Any:
        if params.get("inline_message_id"):
            return True
        sent = self._find(params, "edit")
        if sent.kind == "text":
            raise bad_request("there is no caption in the message to edit")
        text = params.get("caption") or ""
        buttons = parse_buttons(params.get("reply_markup"))
        if text == sent.text and buttons == sent.buttons:
            raise ApiError(400, NOT_MODIFIED)
        sent.text, sent.parse_mode, sent.buttons = text, params.get("parse_mode"), buttons
        return self._edited("editMessageCaption", sent, text)

    async def _m_editmessagereplymarkup(self, params: dict[str, Any]) -> Any:
        if params.get("inline_message_id"):
            return True
        sent = self._find(params, "edit")
        buttons = parse_buttons(params.get("reply_markup"))
        if buttons == sent.buttons:
            raise ApiError(400, NOT_MODIFIED)
        sent.buttons = buttons
        return self._edited("editMessageReplyMarkup", sent, None)

    async def _m_deletemessage(self, params: dict[str, Any]) -> Any:
        key = (self._chat_id(params.get("chat_id")), int(params.get("message_id") or 0))
        sent = self._index.get(key)
        if sent is not None and not sent.deleted:
            sent.deleted = True
        elif key in self._user_messages:
            if not self._bot_can(key[0], "can_delete_messages"):
                raise bad_request("message can't be deleted")
            del self._user_messages[key]
        else:
            raise bad_request("message to delete not found")
        self.deleted.append(key)
        pins = self.pinned.get(key[0], [])
        if key[1] in pins:
            pins.remove(key[1])
        return True

    async def _m_pinchatmessage(self, params: dict[str, Any]) -> Any:
        chat_id = self._chat_id(params.get("chat_id"))
        message_id = int(params.get("message_id") or 0)
        if chat_id in self.groups and not self._bot_can(chat_id, "can_pin_messages"):
            raise bad_request("not enough rights to manage pinned messages in the chat")
        sent = self._index.get((chat_id, message_id))
        if (sent is None or sent.deleted) and (chat_id, message_id) not in self._user_messages:
            raise bad_request("message to pin not found")
        pins = self.pinned.setdefault(chat_id, [])
        if message_id in pins:
            pins.remove(message_id)
        pins.append(message_id)
        return True

    async def _m_unpinchatmessage(self, params: dict[str, Any]) -> Any:
        chat_id = self._chat_id(params.get("chat_id"))
        if chat_id in self.groups and not self._bot_can(chat_id, "can_pin_messages"):
            raise bad_request("not enough rights to manage pinned messages in the chat")
        pins = self.pinned.setdefault(chat_id, [])
        message_id = int(params.get("message_id") or 0)
        if message_id:
            if message_id not in pins:
                raise bad_request("message to unpin not found")
            pins.remove(message_id)
        elif pins:
            pins.pop()
        return True

    async def _m_unpinallchatmessages(self, params: dict[str, Any]) -> Any:
        chat_id = self._chat_id(params.get("chat_id"))
        if chat_id in self.groups and not self._bot_can(chat_id, "can_pin_messages"):
            raise bad_request("not enough rights to manage pinned messages in the chat")
        self.pinned[chat_id] = []
        return True

    # --- acting as users ------------------------------------------------------------------------

    def _user(self, user_id: int) -> dict[str, Any]:
        return self._users.get(user_id) or {
            "id": user_id,
            "is_bot": False,
            "first_name": "Citizen",
            "language_code": "ru",
        }

    async def _push(self, update: dict[str, Any]) -> None:
        async with self._new_update:
            self.updates.append(update)
            self._new_update.notify_all()

    async def user_sends(
        self,
        user_id: int,
        text: str = "",
        *,
        chat_id: int | None = None,
        thread_id: int | None = None,
        photo: str | None = None,
        document: str | None = None,
        voice: str | None = None,
        caption: str | None = None,
        first_name: str = "Citizen",
        username: str | None = None,
        phone: str | None = None,
    ) -> dict[str, Any]:
        """A user's message as an update (returned): private chat unless chat_id is given;
        photo/document/voice are file_ids; phone sends a contact. Returns the update."""
        user: dict[str, Any] = {
            "id": user_id,
            "is_bot": False,
            "first_name": first_name,
            "language_code": "ru",
        }
        if username:
            user["username"] = username
        self._users[user_id] = user
        target = user_id if chat_id is None else chat_id
        chat = self._chat_json(target)
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": chat,
            "from": user,
        }
        if thread_id is not None and chat["type"] == "supergroup":
            message["message_thread_id"] = thread_id
            message["is_topic_message"] = True
        media = [(k, v) for k, v in (("photo", photo), ("document", document), ("voice", voice))]
        media = [(k, v) for k, v in media if v]
        if media:
            kind, file_id = media[0]
            upload = self.files.get(file_id)
            name = upload.filename if upload else None
            size = len(upload.data) if upload else None
            message.update(self._media_json(kind, file_id, name, size, 3))
            if caption or text:
                message["caption"] = caption or text
        elif phone is not None:
            message["contact"] = {
                "phone_number": phone,
                "first_name": first_name,
                "user_id": user_id,
            }
        else:
            message["text"] = text
            if text.startswith("/"):
                command = text.split()[0]
                message["entities"] = [
                    {"type": "bot_command", "offset": 0, "length": len(command)}
                ]
        self._user_messages[(target, message["message_id"])] = message
        update = {"update_id": next(self._update_ids), "message": message}
        await self._push(update)
        return update

    async def user_sends_contact(
        self, user_id: int, phone: str, first_name: str = "Citizen"
    ) -> dict[str, Any]:
        """The user shares their own contact (e.g. via a request_contact button)."""
        return await self.user_sends(user_id, first_name=first_name, phone=phone)

    async def user_presses(self, user_id: int, sent: Sent, callback_data: str) -> dict[str, Any]:
        """The user presses a button on a message the bot sent (in a private chat or a group)."""
        assert callback_data in [d for _t, d in sent.buttons], "no such button on that message"
        query = {
            "id": str(next(self._update_ids)),
            "from": self._user(user_id),
            "chat_instance": f"ci-{sent.chat_id}",
            "message": self._message_json(sent),
            "data": callback_data,
        }
        update = {"update_id": next(self._update_ids), "callback_query": query}
        await self._push(update)
        return update

    # --- assertions -----------------------------------------------------------------------------

    async def next_messages(
        self, chat_id: int, count: int = 1, wait: float = 15, thread_id: int | None = None
    ) -> list[Sent]:
        """The bot's next `count` messages to chat_id (in thread_id if given), after those
        already taken by earlier calls with the same chat_id and thread_id."""
        if thread_id is None:
            messages = self._by_chat.setdefault(chat_id, [])
        else:
            messages = self._by_thread.setdefault((chat_id, thread_id), [])
        key = (chat_id, thread_id)
        taken = self._taken.get(key, 0)
        async with self._new_message:
            await asyncio.wait_for(
                self._new_message.wait_for(lambda: len(messages) >= taken + count), wait
            )
        self._taken[key] = taken + count
        return messages[taken : taken + count]

    def messages_in(self, chat_id: int, thread_id: int | None = None) -> list[Sent]:
        """The bot's messages now in the chat (or thread), oldest first, without deleted ones."""
        if thread_id is None:
            messages = self._by_chat.get(chat_id, [])
        else:
            messages = self._by_thread.get((chat_id, thread_id), [])
        return [s for s in messages if not s.deleted]
