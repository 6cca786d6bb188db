"""The citizens' lecture router: /lectures, /live and their buttons."""

from __future__ import annotations

import logging

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.types import BufferedInputFile, CallbackQuery, Message

from bot.core.lectures import LectureService
from bot.storage import Person
from bot.telegram.callbacks import ActionData, Kind
from bot.telegram.filters import PrivateChat
from bot.telegram.handlers import send_reply

log = logging.getLogger(__name__)


def _chat_id(query: CallbackQuery) -> int:
    return query.message.chat.id if query.message is not None else query.from_user.id


def create_router() -> Router:
    """Lectures and the live broadcast, for everyone in a private chat with the bot."""
    router = Router(name="lectures")
    router.message.filter(PrivateChat())

    @router.message(Command("lectures"))
    async def cmd_lectures(
        message: Message, person: Person, lectures: LectureService, bot: Bot
    ) -> None:
        await send_reply(bot, message.chat.id, await lectures.listing(person, None, "html"))

    @router.message(Command("live"))
    async def cmd_live(
        message: Message, person: Person, lectures: LectureService, bot: Bot
    ) -> None:
        await send_reply(bot, message.chat.id, await lectures.live(person))

    @router.callback_query(ActionData.filter(F.kind == Kind.lecture))
    async def on_lecture(
        query: CallbackQuery,
        callback_data: ActionData,
        person: Person,
        lectures: LectureService,
        bot: Bot,
    ) -> None:
        await query.answer()
        outcome = await lectures.act(person, callback_data.value, "html")
        chat_id = _chat_id(query)
        if outcome.document is not None:
            document = outcome.document
            await bot.send_document(
                chat_id,
                BufferedInputFile(document.content, filename=document.filename),
                caption=outcome.reply.text,
            )
            return
        await send_reply(bot, chat_id, outcome.reply)

    @router.callback_query(ActionData.filter(F.kind == Kind.live))
    async def on_live(
        query: CallbackQuery,
        callback_data: ActionData,
        person: Person,
        lectures: LectureService,
        bot: Bot,
    ) -> None:
        await query.answer()
        if callback_data.value in ("sub", "unsub"):
            reply = await lectures.set_live_subscription(person, callback_data.value == "sub")
        else:
            reply = await lectures.live(person)
        await send_reply(bot, _chat_id(query), reply)

    return router
