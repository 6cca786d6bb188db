"""Outer middlewares: throttle floods, then resolve the person behind a private-chat update."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import CallbackQuery, Chat, Message, TelegramObject, User

from bot.core.conversations import ConversationService
from bot.core.people import PeopleService

log = logging.getLogger(__name__)

CHANNEL = "telegram"
Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


def _private_user(event: TelegramObject) -> User | None:
    """The sender, when the update comes from a person in a private chat with the bot."""
    chat: Chat | None
    if isinstance(event, Message):
        chat = event.chat
        user = event.from_user
    elif isinstance(event, CallbackQuery):
        user = event.from_user
        chat = event.message.chat if event.message is not None else None
        if chat is None:
            return None if user is None or user.is_bot else user
    else:
        return None
    if user is None or user.is_bot or chat is None or chat.type != "private":
        return None
    return user


class PersonMiddleware(BaseMiddleware):
    """Puts `person` (found or created, pseudonymous) into the handler data for private chats."""

    def __init__(self, people: PeopleService) -> None:
        self.people = people

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user = _private_user(event)
        if user is not None:
            person, _new = await self.people.identify(CHANNEL, str(user.id))
            data["person"] = person
        return await handler(event, data)


@dataclass
class _Window:
    started: float
    count: int
    warned: bool


class ThrottlingMiddleware(BaseMiddleware):
    """Per person: `limit` updates per `window` seconds; one polite notice, then silence."""

    def __init__(
        self,
        conversations: ConversationService,
        limit: int,
        window: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.conversations = conversations
        self.limit = limit
        self.window = window
        self.clock = clock
        self._windows: dict[int, _Window] = {}

    def _prune(self, now: float) -> None:
        if len(self._windows) > 10_000:
            for key in [k for k, w in self._windows.items() if now - w.started >= self.window]:
                del self._windows[key]

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user = _private_user(event)
        if user is None:
            return await handler(event, data)
        now = self.clock()
        state = self._windows.get(user.id)
        if state is None or now - state.started >= self.window:
            self._prune(now)
            self._windows[user.id] = _Window(now, 1, False)
            return await handler(event, data)
        state.count += 1
        if state.count <= self.limit:
            return await handler(event, data)
        if not state.warned:
            state.warned = True
            await self._notice(event, user)
        log.debug("dropped a flood update from %s", user.id)
        if isinstance(event, CallbackQuery):
            await event.answer()
        return None

    async def _notice(self, event: TelegramObject, user: User) -> None:
        conv = self.conversations
        person = await conv.people.find(CHANNEL, str(user.id))
        lang = conv.language_of(person) if person else conv.settings.default_language
        text = conv.t(
            lang, "Too many messages at once. Please wait a few seconds and write again."
        )
        if isinstance(event, Message):
            await event.answer(text)
        elif isinstance(event, CallbackQuery):
            await event.answer(text, show_alert=True)
