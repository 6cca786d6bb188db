"""The specialists' and coordinators' routers: the forum group's ticket topics, take-next,
closing and handing over, and the coordinators' roster commands in a private chat."""

from __future__ import annotations

import logging

from aiogram import Bot, Router
from aiogram.filters import Filter
from aiogram.types import CallbackQuery, Message

from bot.core.queue import Incoming, Notice, QueueService
from bot.telegram.callbacks import STAFF_KINDS, ActionData, Kind
from bot.telegram.filters import IsCommand, PrivateChat
from bot.telegram.keyboards import keyboard

log = logging.getLogger(__name__)

# Commands that only staff use; in a private chat anyone else gets a polite refusal.
SPECIALIST_COMMANDS = frozenset({"next", "queue", "staff"})
COORDINATOR_COMMANDS = frozenset({"specialists", "specialist_add", "reassign", "open_ticket"})
TOPIC_COMMANDS = frozenset({"note", "close", "transfer", "ask_contact", "history"})


def incoming(message: Message) -> Incoming:
    """A Telegram message as the core's Incoming: kind, text or caption, file id, its id."""
    ref = f"{message.chat.id}:{message.message_id}"
    caption = message.caption or ""
    if message.text is not None:
        return Incoming("text", message.text, ref=ref)
    if message.photo:
        return Incoming("photo", caption, message.photo[-1].file_id, ref)
    if message.animation is not None:
        return Incoming("animation", caption, message.animation.file_id, ref)
    for kind in ("document", "voice", "video", "audio"):
        media = getattr(message, kind)
        if media is not None:
            return Incoming(kind, caption, media.file_id, ref)
    return Incoming(message.content_type, caption, None, ref)


def command_of(text: str | None) -> tuple[str, str]:
    """("close", "rest of the line") from "/close@senim_bot rest of the line"."""
    if not text or not text.startswith("/"):
        return "", ""
    head, _sep, rest = text.partition(" ")
    return head[1:].split("@")[0].lower(), rest.strip()


class InGroup(Filter):
    """The update comes from the configured specialists' group."""

    def __init__(self, chat_id: int | None) -> None:
        self.chat_id = chat_id

    async def __call__(self, event: Message | CallbackQuery) -> bool:
        if self.chat_id is None:
            return False
        message = event.message if isinstance(event, CallbackQuery) else event
        return message is not None and message.chat.id == self.chat_id


class StaffCommand(Filter):
    """A command reserved for specialists or coordinators."""

    async def __call__(self, message: Message) -> bool:
        name, _rest = command_of(message.text)
        return name in SPECIALIST_COMMANDS or name in COORDINATOR_COMMANDS or name == "myid"


async def show(
    bot: Bot, chat_id: int, notice: Notice | None, thread_id: int | None = None
) -> None:
    """A notice in the chat (and topic) where the staff member acted; plain text."""
    if notice is None or not notice.text:
        return
    await bot.send_message(
        chat_id,
        notice.text,
        message_thread_id=thread_id,
        reply_markup=keyboard(notice.actions),
        parse_mode=None,
    )


def create_router(group_id: int | None) -> Router:
    """Routers for the specialists' group and for staff commands in private chats."""
    router = Router(name="staff")

    group = Router(name="specialists-group")
    group.message.filter(InGroup(group_id))
    group.callback_query.filter(InGroup(group_id))

    @group.message()
    async def on_group_message(message: Message, queue: QueueService, bot: Bot) -> None:
        """In a ticket's topic: relay, note or command; in General only /next and /queue."""
        user = message.from_user
        if user is None or user.is_bot:
            return
        actor = str(user.id)
        thread = message.message_thread_id if message.is_topic_message else None
        name, rest = command_of(message.text)
        if name in ("next", "queue", "staff") or (name and thread is None):
            await show(bot, message.chat.id, await _general_command(queue, actor, name), thread)
            return
        if thread is None:
            return
        notice: Notice | None
        if name == "note":
            notice = await queue.from_workspace(
                actor, thread, Incoming("text", rest, ref=incoming(message).ref), note=True
            )
        elif name == "close":
            notice = await queue.close_choices(actor, thread)
        elif name == "transfer":
            notice = await queue.transfer_choices(actor, thread)
        elif name == "ask_contact":
            notice = await queue.ask_contact(actor, thread)
        elif name == "history":
            notice = await queue.history(actor, thread)
        elif name:
            notice = queue.staff_help()
        else:
            notice = await queue.from_workspace(actor, thread, incoming(message))
        await show(bot, message.chat.id, notice, thread)

    router.include_router(group)

    private = Router(name="staff-private")
    private.message.filter(PrivateChat())

    @private.message(IsCommand(), StaffCommand())
    async def cmd_staff(message: Message, queue: QueueService, bot: Bot) -> None:
        """/next, /queue, /myid; coordinators: /specialists, /specialist_add, /reassign,
        /open_ticket. Anyone else gets a polite refusal."""
        user = message.from_user
        if user is None:
            return
        actor = str(user.id)
        name, rest = command_of(message.text)
        notice: Notice
        if name == "myid":
            notice = Notice(queue.w("Your Telegram id: {id}", id=user.id))
        elif name == "specialists":
            notice = queue.roster_view(actor)
        elif name == "specialist_add":
            notice = await queue.roster_add(actor, rest)
        elif name == "reassign":
            notice = await queue.reassign_command(actor, rest)
        elif name == "open_ticket":
            notice = await queue.open_for_citizen(actor, rest)
        else:
            notice = await _general_command(queue, actor, name)
        await show(bot, message.chat.id, notice)

    router.include_router(private)

    @router.callback_query(ActionData.filter(), _StaffButton())
    async def on_staff_button(
        query: CallbackQuery, callback_data: ActionData, queue: QueueService, bot: Bot
    ) -> None:
        """Take next, close outcomes, transfers, offers, roster changes; each checks the role."""
        actor = str(query.from_user.id)
        notice = await _button(queue, actor, callback_data.kind, callback_data.value)
        message = query.message
        if notice.alert or message is None:
            await query.answer(notice.text[:200], show_alert=True)
            return
        await query.answer()
        thread = (
            message.message_thread_id
            if isinstance(message, Message) and message.is_topic_message
            else None
        )
        await show(bot, message.chat.id, notice, thread)

    return router


class _StaffButton(Filter):
    async def __call__(self, query: CallbackQuery, callback_data: ActionData) -> bool:
        return callback_data.kind in STAFF_KINDS


async def _general_command(queue: QueueService, actor: str, name: str) -> Notice:
    if name == "next":
        return await queue.take_next(actor)
    if queue.roster.get(actor) is None and not queue.roster.is_coordinator(actor):
        return Notice(queue.w("This is for registered specialists."))
    if name == "queue":
        text, actions = await queue.queue_summary()
        return Notice(text, actions)
    return queue.staff_help()


async def _button(queue: QueueService, actor: str, kind: Kind, value: str) -> Notice:
    head, _sep, choice = value.partition("/")
    if kind == Kind.take:
        return await queue.take_next(actor)
    if kind == Kind.roster:
        return await queue.roster_set(actor, head, choice)
    if not head.isdigit():
        return Notice(queue.w("That option is no longer available. Here is the menu."), alert=True)
    ticket = int(head)
    if kind == Kind.close:
        return await queue.close(actor, ticket, choice)
    if kind == Kind.transfer:
        return await queue.transfer(actor, ticket, choice)
    return await queue.answer_offer(actor, ticket, choice == "accept")
