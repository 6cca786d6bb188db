"""Async filters. aiogram 3.31 runs every synchronous callable, magic F filters included, through
asyncio.to_thread: a thread hop per filter per update. These are plain coroutines instead."""

from __future__ import annotations

from aiogram.filters import Filter
from aiogram.types import Message


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
