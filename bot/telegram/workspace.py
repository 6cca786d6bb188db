"""The specialists' workspace: check that the group is a forum where the bot may manage topics."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiogram import Bot
from aiogram.enums import ChatMemberStatus
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest, TelegramForbiddenError
from aiogram.types import ChatMemberAdministrator

from bot.config import Settings
from bot.content import Format
from bot.core.queue import QueueService, WorkspaceError
from bot.core.replies import Action
from bot.telegram.keyboards import keyboard

log = logging.getLogger(__name__)


async def check_specialists_group(bot: Bot, settings: Settings) -> list[str]:
    """What is wrong with telegram.specialists_chat_id, each with how to fix it; [] if all good."""
    chat_id = settings.telegram.specialists_chat_id
    where = f"telegram.specialists_chat_id in {settings.source}"
    if chat_id is None:
        if settings.specialists:
            return [
                f"{where} is not set: create a Telegram supergroup for the specialists, turn on "
                "Topics in its settings, add the bot as an administrator allowed to manage "
                "topics, and put the group's id (it starts with -100) there"
            ]
        return []
    try:
        chat = await bot.get_chat(chat_id)
    except (TelegramBadRequest, TelegramForbiddenError):
        return [
            f"the bot cannot see the group {chat_id} ({where}): add the bot to the group, and "
            "check the id (a supergroup's id starts with -100)"
        ]
    except TelegramAPIError as exc:
        return [f"could not check the group {chat_id}: {exc}"]
    problems = []
    if chat.type != "supergroup":
        problems.append(
            f"the chat {chat_id} is a {chat.type}, not a supergroup: turning on Topics in the "
            "group's settings makes it a supergroup (its id then changes: update the config)"
        )
    elif not chat.is_forum:
        problems.append(
            f"Topics are off in the group {chat_id}: open the group's settings and turn on "
            "Topics, so that each ticket gets its own topic"
        )
    me = await bot.me()
    try:
        member = await bot.get_chat_member(chat_id, me.id)
    except TelegramAPIError as exc:
        return [*problems, f"could not check the bot's rights in {chat_id}: {exc}"]
    if member.status != ChatMemberStatus.ADMINISTRATOR:
        problems.append(
            f"the bot is not an administrator of the group {chat_id}: promote it, with the right "
            "to manage topics"
        )
    elif isinstance(member, ChatMemberAdministrator) and not member.can_manage_topics:
        problems.append(
            f"the bot may not manage topics in the group {chat_id}: edit its administrator "
            "rights and turn on Manage topics"
        )
    return problems


QUEUE_MESSAGE_KEY = "telegram.queue_message_id"


class TelegramWorkspace:
    """The specialists' forum group: a topic per ticket, the queue message in General."""

    channel = "telegram"
    fmt: Format = "html"

    def __init__(self, bot: Bot, chat_id: int, queue: QueueService) -> None:
        self.bot = bot
        self.chat = chat_id
        self.chat_id = str(chat_id)
        self._queue = queue
        self._shown: str | None = None
        self._lock = asyncio.Lock()

    async def open_topic(self, name: str) -> int:
        try:
            topic = await self.bot.create_forum_topic(self.chat, name[:128])
        except TelegramAPIError as exc:
            raise WorkspaceError(str(exc)) from exc
        return topic.message_thread_id

    async def reopen_topic(self, thread_id: int, name: str) -> None:
        try:
            await self.bot.reopen_forum_topic(self.chat, thread_id)
        except TelegramBadRequest as exc:
            if "TOPIC_NOT_MODIFIED" not in str(exc):
                raise WorkspaceError(str(exc)) from exc
        except TelegramAPIError as exc:
            raise WorkspaceError(str(exc)) from exc
        await self._rename(thread_id, name)

    async def _rename(self, thread_id: int, name: str) -> None:
        with contextlib.suppress(TelegramBadRequest):  # TOPIC_NOT_MODIFIED: the same name
            await self.bot.edit_forum_topic(self.chat, thread_id, name=name[:128])

    async def close_topic(self, thread_id: int, name: str) -> None:
        try:
            await self._rename(thread_id, name)
            await self.bot.close_forum_topic(self.chat, thread_id)
        except TelegramBadRequest as exc:
            if "TOPIC_NOT_MODIFIED" not in str(exc):
                raise WorkspaceError(str(exc)) from exc
        except TelegramAPIError as exc:
            raise WorkspaceError(str(exc)) from exc

    async def delete_topic(self, thread_id: int) -> None:
        try:
            await self.bot.delete_forum_topic(self.chat, thread_id)
        except TelegramAPIError as exc:
            raise WorkspaceError(str(exc)) from exc

    async def post_pinned(self, thread_id: int, text: str) -> None:
        try:
            sent = await self.bot.send_message(self.chat, text, message_thread_id=thread_id)
            await self.bot.pin_chat_message(self.chat, sent.message_id, disable_notification=True)
        except TelegramAPIError as exc:
            raise WorkspaceError(str(exc)) from exc

    async def show_queue(self, text: str, actions: tuple[Action, ...]) -> None:
        """Edit the queue message in General, or post it (again) when there is none."""
        async with self._lock:
            if text == self._shown:
                return
            markup = keyboard(actions)
            stored = await self._queue.get_state(QUEUE_MESSAGE_KEY)
            try:
                if stored is not None:
                    try:
                        await self.bot.edit_message_text(
                            text,
                            chat_id=self.chat,
                            message_id=int(stored),
                            reply_markup=markup,
                            parse_mode=None,
                        )
                        self._shown = text
                        return
                    except TelegramBadRequest as exc:
                        if "not modified" in str(exc).lower():
                            self._shown = text
                            return
                        log.info("the queue message is gone; posting it again")
                sent = await self.bot.send_message(
                    self.chat, text, reply_markup=markup, parse_mode=None
                )
            except TelegramAPIError as exc:
                raise WorkspaceError(str(exc)) from exc
            await self._queue.set_state(QUEUE_MESSAGE_KEY, str(sent.message_id))
            self._shown = text
