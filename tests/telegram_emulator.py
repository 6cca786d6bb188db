"""A compact Telegram Bot API emulator on aiohttp, for end-to-end tests over real HTTP.

It serves the methods the bot uses (getMe, getUpdates with long polling, sendMessage,
answerCallbackQuery, setMyCommands, deleteWebhook, editMessageText) at
http://127.0.0.1:<port>/bot<token>/<method>; a test acts as users: sends text, presses buttons.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
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


@dataclass
class Sent:
    """A message the bot sent."""

    message_id: int
    chat_id: int
    text: str
    parse_mode: str | None
    buttons: list[tuple[str, str]] = field(default_factory=list)


class BotAPIEmulator:
    def __init__(self, token: str) -> None:
        self.token = token
        self.updates: list[dict[str, Any]] = []
        self.sent: list[Sent] = []
        self.calls: list[str] = []
        self.answered_callbacks: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._new_update = asyncio.Condition()
        self._new_message = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._taken: dict[int, int] = {}
        self._closing = False
        self.webhook: dict[str, Any] | None = None
        self.port = 0

    # --- server ---------------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
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
                params.update({k: v for k, v in form.items() if isinstance(v, str)})
        return params

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        method = request.match_info["method"]
        params = await self._params(request)
        self.calls.append(method)
        handler = getattr(self, f"_m_{method.lower()}", None)
        if handler is None:
            return web.json_response(
                {"ok": False, "error_code": 404, "description": "Not Found: method not found"},
                status=404,
            )
        result = await handler(params)
        return web.json_response({"ok": True, "result": result})

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

    def _message_json(self, sent: Sent) -> dict[str, Any]:
        body: dict[str, Any] = {
            "message_id": sent.message_id,
            "date": int(time.time()),
            "chat": {"id": sent.chat_id, "type": "private", "first_name": "User"},
            "from": BOT,
            "text": sent.text,
        }
        if sent.buttons:
            body["reply_markup"] = {
                "inline_keyboard": [[{"text": t, "callback_data": d}] for t, d in sent.buttons]
            }
        return body

    async def _m_sendmessage(self, params: dict[str, Any]) -> Any:
        markup = params.get("reply_markup")
        if isinstance(markup, str):
            markup = json.loads(markup)
        buttons = [
            (b["text"], b.get("callback_data", ""))
            for row in (markup or {}).get("inline_keyboard", [])
            for b in row
        ]
        sent = Sent(
            next(self._message_ids),
            int(params["chat_id"]),
            params["text"],
            params.get("parse_mode"),
            buttons,
        )
        async with self._new_message:
            self.sent.append(sent)
            self._new_message.notify_all()
        return self._message_json(sent)

    async def _m_editmessagetext(self, params: dict[str, Any]) -> Any:
        return await self._m_sendmessage(params)

    # --- acting as users ------------------------------------------------------------------------

    def _user(self, user_id: int) -> dict[str, Any]:
        return {"id": user_id, "is_bot": False, "first_name": "Citizen", "language_code": "ru"}

    async def _push(self, update: dict[str, Any]) -> None:
        async with self._new_update:
            self.updates.append(update)
            self._new_update.notify_all()

    async def user_sends(self, user_id: int, text: str) -> None:
        message = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": user_id, "type": "private", "first_name": "Citizen"},
            "from": self._user(user_id),
            "text": text,
        }
        if text.startswith("/"):
            command = text.split()[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        await self._push({"update_id": next(self._update_ids), "message": message})

    async def user_presses(self, user_id: int, sent: Sent, callback_data: str) -> None:
        assert callback_data in [d for _t, d in sent.buttons], "no such button on that message"
        query = {
            "id": str(next(self._update_ids)),
            "from": self._user(user_id),
            "chat_instance": f"ci-{user_id}",
            "message": self._message_json(sent),
            "data": callback_data,
        }
        await self._push({"update_id": next(self._update_ids), "callback_query": query})

    async def next_messages(self, chat_id: int, count: int = 1, wait: float = 15) -> list[Sent]:
        """The bot's next `count` messages to chat_id, after those already taken."""
        taken = self._taken.get(chat_id, 0)

        def arrived() -> bool:
            return len([s for s in self.sent if s.chat_id == chat_id]) >= taken + count

        async with self._new_message:
            await asyncio.wait_for(self._new_message.wait_for(arrived), wait)
        self._taken[chat_id] = taken + count
        return [s for s in self.sent if s.chat_id == chat_id][taken : taken + count]
