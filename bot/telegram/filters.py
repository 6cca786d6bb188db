"""Async filters. aiogram 3.31 runs every synchronous callable, magic F filters included, through
asyncio.to_thread: a thread hop per filter per update. These are plain coroutines instead."""

from __future__ import annotations

from aiogram.filters import Filter
from aiogram.fsm.state import State
from aiogram.types import Message, TelegramObject


class PrivateChat(Filter):
    """The message comes from a private chat with the bot."""

    async def __call__(self, message: Message) -> bool:
        return message.chat.type == "private"


class HasText(Filter):
    """The message has text (not a photo, a sticker ...)."""

    async def __call__(self, message: Message) -> bool:
        return message.text is not None


class IsCommand(Filter):
    """The message's text is a /command."""

    async def __call__(self, message: Message) -> bool:
        return message.text is not None and message.text.startswith("/")


class InState(Filter):
    """The conversation is in this FSM state. A State used directly as a filter is a plain
    callable, which aiogram would run in a thread for every update: nine dialogue steps cost
    nine thread hops on every citizen's question."""

    def __init__(self, state: State) -> None:
        self.state = state.state

    async def __call__(self, event: TelegramObject, raw_state: str | None = None) -> bool:
        return raw_state == self.state
