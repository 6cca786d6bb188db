"""A recording Bot session: keeps every request in order; fails on any it was not told to expect.

After aiogram's own tests/mocked_bot.py.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncGenerator, Callable
from datetime import UTC, datetime
from typing import Any

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.base import BaseSession
from aiogram.enums import ParseMode
from aiogram.methods import (
    AnswerCallbackQuery,
    CloseForumTopic,
    CreateForumTopic,
    DeleteForumTopic,
    DeleteWebhook,
    EditForumTopic,
    EditMessageReplyMarkup,
    EditMessageText,
    GetMe,
    PinChatMessage,
    ReopenForumTopic,
    SendAnimation,
    SendAudio,
    SendDocument,
    SendMessage,
    SendPhoto,
    SendVideo,
    SendVoice,
    SetMyCommands,
    TelegramMethod,
)
from aiogram.types import Chat, ForumTopic, Message, User

MEDIA_METHODS = (SendPhoto, SendDocument, SendVoice, SendVideo, SendAudio, SendAnimation)

BOT_USER = User(id=42, is_bot=True, first_name="Senim", username="senim_test_bot")


class UnexpectedRequest(AssertionError):
    pass


class RecordingSession(BaseSession):
    """Answers the methods it knows with plausible results; anything else fails the test."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[TelegramMethod[Any]] = []
        self._ids = itertools.count(1000)
        self._threads = itertools.count(7000)
        self._failures: dict[type, list[Exception]] = {}
        self.responders: dict[type, Callable[[Any], Any]] = {
            SendMessage: self._message,
            EditMessageText: self._message,
            AnswerCallbackQuery: lambda _m: True,
            SetMyCommands: lambda _m: True,
            DeleteWebhook: lambda _m: True,
            GetMe: lambda _m: BOT_USER,
            EditMessageReplyMarkup: self._message,
            CreateForumTopic: lambda m: ForumTopic(
                message_thread_id=next(self._threads), name=m.name, icon_color=0x6FB9F0
            ),
            EditForumTopic: lambda _m: True,
            CloseForumTopic: lambda _m: True,
            ReopenForumTopic: lambda _m: True,
            DeleteForumTopic: lambda _m: True,
            PinChatMessage: lambda _m: True,
            **dict.fromkeys(MEDIA_METHODS, self._message),
        }

    def _message(self, method: Any) -> Message:
        chat_id = int(getattr(method, "chat_id", None) or 0)
        return Message(
            message_id=next(self._ids),
            date=datetime.now(UTC),
            chat=Chat(id=chat_id, type="supergroup" if chat_id < 0 else "private"),
            message_thread_id=getattr(method, "message_thread_id", None),
            text=getattr(method, "text", None),
            caption=getattr(method, "caption", None),
        )

    def fail_next(self, method_type: type, error: Exception) -> None:
        """The next request of this type raises error (as if Telegram had answered so)."""
        self._failures.setdefault(method_type, []).append(error)

    async def make_request(
        self,
        bot: Bot,
        method: TelegramMethod[Any],
        timeout: int | None = None,  # noqa: ASYNC109
    ) -> Any:
        self.requests.append(method)
        pending = self._failures.get(type(method))
        if pending:
            raise pending.pop(0)
        responder = self.responders.get(type(method))
        if responder is None:
            raise UnexpectedRequest(f"unexpected request {type(method).__name__}: {method!r}")
        return responder(method)

    async def stream_content(self, *args: Any, **kwargs: Any) -> AsyncGenerator[bytes, None]:
        raise UnexpectedRequest("stream_content")
        yield b""  # pragma: no cover

    async def close(self) -> None:
        pass

    # --- assertions helpers ---

    def sent(self) -> list[SendMessage]:
        return [r for r in self.requests if isinstance(r, SendMessage)]

    def deliveries(self) -> list[Any]:
        """Every message sent, text or media, in order."""
        return [r for r in self.requests if isinstance(r, (SendMessage, *MEDIA_METHODS))]

    def of(self, method_type: type) -> list[Any]:
        return [r for r in self.requests if isinstance(r, method_type)]

    def clear(self) -> None:
        self.requests.clear()


def make_bot(session: RecordingSession | None = None) -> Bot:
    return Bot(
        "42:TEST-TOKEN",
        session=session or RecordingSession(),
        default=DefaultBotProperties(parse_mode=ParseMode.HTML),
    )
