"""The specialists' workspace: check that the group is a forum where the bot may manage topics."""

from __future__ import annotations

from aiogram import Bot
from aiogram.enums import ChatMemberStatus
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest, TelegramForbiddenError
from aiogram.types import ChatMemberAdministrator

from bot.config import Settings


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
