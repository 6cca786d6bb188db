"""The citizens' router: commands, questions, buttons and everything else people send."""

from __future__ import annotations

import logging
from dataclasses import replace

from aiogram import Bot, Router
from aiogram.exceptions import TelegramForbiddenError
from aiogram.filters import ExceptionTypeFilter
from aiogram.types import CallbackQuery, ErrorEvent, Message

from bot.core.conversations import ConversationService
from bot.core.people import PeopleService
from bot.core.replies import Action, Reply, split_message
from bot.storage import Person
from bot.telegram.callbacks import ActionData
from bot.telegram.filters import HasText, IsCommand, PrivateChat
from bot.telegram.keyboards import keyboard
from bot.telegram.middlewares import CHANNEL
from bot.telegram.staff import incoming

log = logging.getLogger(__name__)


async def send_reply(bot: Bot, chat_id: int, reply: Reply) -> None:
    """Send a reply, split at paragraph boundaries; the buttons go with the last part.
    An empty reply (a message relayed to a specialist) sends nothing."""
    if not reply.text:
        return
    parts = split_message(reply.text)
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        await bot.send_message(
            chat_id, part, reply_markup=keyboard(reply.actions) if last else None
        )


def create_router() -> Router:
    """Everything a citizen does in a private chat with the bot."""
    router = Router(name="citizen")
    router.message.filter(PrivateChat())
    router.edited_message.filter(PrivateChat())

    @router.message(IsCommand())
    async def cmd_any(
        message: Message, person: Person, conversations: ConversationService, bot: Bot
    ) -> None:
        """/start, /help, /topics, /language, /privacy, /forget, /specialist; others get help."""
        name = (message.text or "/").split()[0]
        reply = await conversations.command(person, name, CHANNEL)
        await send_reply(bot, message.chat.id, reply)

    @router.message(HasText())
    async def on_question(
        message: Message, person: Person, conversations: ConversationService, bot: Bot
    ) -> None:
        log.debug("question from %s: %r", message.chat.id, message.text)
        ref = f"{message.chat.id}:{message.message_id}"
        turn = await conversations.ask(person, message.text or "", CHANNEL, "html", ref)
        await send_reply(bot, message.chat.id, turn.reply)

    @router.message()
    async def on_other_content(
        message: Message, person: Person, conversations: ConversationService, bot: Bot
    ) -> None:
        reply = await conversations.other_content(person, incoming(message))
        await send_reply(bot, message.chat.id, reply)

    @router.edited_message()
    async def on_edited(
        message: Message, person: Person, conversations: ConversationService, bot: Bot
    ) -> None:
        """In a conversation with a specialist the edit goes on to them, marked as an edit;
        otherwise the bot cannot re-answer an edit and says what it can do."""
        found = incoming(message)
        edit = replace(found, ref=f"{found.ref}:edit:{message.edit_date or 0}")
        await send_reply(bot, message.chat.id, await conversations.edited(person, edit))

    @router.callback_query(ActionData.filter())
    async def on_action(
        query: CallbackQuery,
        callback_data: ActionData,
        person: Person,
        conversations: ConversationService,
        bot: Bot,
    ) -> None:
        await query.answer()
        chat_id = query.message.chat.id if query.message is not None else query.from_user.id
        action = Action(callback_data.kind.value, callback_data.value, "")
        user = query.from_user
        contact = " ".join(
            part for part in (user.full_name, f"@{user.username}" if user.username else "") if part
        )
        _person, reply = await conversations.act(person, action, CHANNEL, "html", contact)
        await send_reply(bot, chat_id, reply)

    @router.callback_query()
    async def on_unknown_button(
        query: CallbackQuery, conversations: ConversationService, person: Person | None = None
    ) -> None:
        lang = (
            conversations.language_of(person)
            if person
            else conversations.settings.default_language
        )
        log.debug("unknown callback data %r", query.data)
        await query.answer(
            conversations.t(lang, "That option is no longer available. Here is the menu."),
            show_alert=True,
        )

    @router.errors(~ExceptionTypeFilter(TelegramForbiddenError))
    async def on_error(event: ErrorEvent, conversations: ConversationService, bot: Bot) -> None:
        log.error("update failed: %s", type(event.exception).__name__, exc_info=event.exception)
        update = event.update
        message = update.message or (
            update.callback_query.message if update.callback_query else None
        )
        if message is None or message.chat.type != "private":
            return
        lang: str = conversations.settings.default_language
        user = update.message.from_user if update.message else None
        if user is not None:
            person = await conversations.people.find(CHANNEL, str(user.id))
            lang = conversations.language_of(person) if person else lang
        try:
            await bot.send_message(
                message.chat.id,
                conversations.t(
                    lang,
                    "Sorry, something went wrong on my side. Please try again, or ask for a "
                    "specialist.",
                ),
            )
        except Exception:
            log.warning("could not tell the person about the failure")

    @router.errors(ExceptionTypeFilter(TelegramForbiddenError))
    async def on_blocked(event: ErrorEvent, people: PeopleService) -> None:
        user = None
        for candidate in (
            event.update.message,
            event.update.callback_query,
            event.update.edited_message,
        ):
            if candidate is not None:
                user = candidate.from_user
                break
        if user is None:
            return
        person = await people.find(CHANNEL, str(user.id))
        if person is not None:
            await people.mark_unreachable(person)
            log.info("person %s blocked the bot; marked unreachable", person.pseudonym)

    return router
