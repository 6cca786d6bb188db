"""The Bot API emulator itself, driven through a real aiogram Bot over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ChatMemberStatus, ChatType
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError, TelegramRetryAfter
from aiogram.types import (
    BufferedInputFile,
    ChatMemberAdministrator,
    ChatMemberLeft,
    ChatMemberMember,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)

from tests.telegram_emulator import BOT, BotAPIEmulator

TOKEN = "123456:EMULATOR-TEST"
GROUP = -100777
USER = 5551
SPECIALIST = 7001


async def started(emu: BotAPIEmulator) -> AsyncIterator[tuple[BotAPIEmulator, Bot]]:
    url = await emu.start()
    bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(url)))
    try:
        yield emu, bot
    finally:
        await bot.session.close()
        await emu.stop()


@pytest.fixture
async def pair() -> AsyncIterator[tuple[BotAPIEmulator, Bot]]:
    emu = BotAPIEmulator(TOKEN)
    emu.add_forum_group(GROUP, members={SPECIALIST: "Aigerim"})
    async for value in started(emu):
        yield value


def keyboard(*buttons: tuple[str, str]) -> InlineKeyboardMarkup:
    rows = [[InlineKeyboardButton(text=t, callback_data=d)] for t, d in buttons]
    return InlineKeyboardMarkup(inline_keyboard=rows)


async def test_topic_lifecycle_send_pin_edit_close(pair: tuple[BotAPIEmulator, Bot]) -> None:
    emu, bot = pair
    topic = await bot.create_forum_topic(GROUP, "Case #1", icon_color=16766590)
    assert topic.name == "Case #1"
    assert topic.icon_color == 16766590
    thread = topic.message_thread_id
    assert emu.topics[GROUP][thread].name == "Case #1"

    message = await bot.send_message(
        GROUP, "New case", message_thread_id=thread, reply_markup=keyboard(("Take", "take:1"))
    )
    assert message.message_thread_id == thread
    assert message.is_topic_message
    assert message.chat.type == ChatType.SUPERGROUP
    assert message.chat.is_forum
    (sent,) = await emu.next_messages(GROUP, thread_id=thread, wait=2)
    assert (sent.thread_id, sent.text, sent.buttons) == (thread, "New case", [("Take", "take:1")])
    assert emu.messages_in(GROUP, thread) == [sent]
    assert emu.messages_in(GROUP, thread + 1000) == []

    assert await bot.pin_chat_message(GROUP, message.message_id)
    assert emu.pinned[GROUP] == [message.message_id]

    edited = await bot.edit_message_text(
        "Taken by Aigerim", chat_id=GROUP, message_id=sent.message_id
    )
    assert edited.text == "Taken by Aigerim"
    assert sent.text == "Taken by Aigerim"
    assert sent.buttons == []  # editing text without a markup removes the keyboard
    assert emu.edits[-1].text == "Taken by Aigerim"
    with pytest.raises(TelegramBadRequest, match="not modified"):
        await bot.edit_message_text("Taken by Aigerim", chat_id=GROUP, message_id=sent.message_id)
    await bot.edit_message_reply_markup(
        chat_id=GROUP, message_id=sent.message_id, reply_markup=keyboard(("Close", "close:1"))
    )
    assert sent.buttons == [("Close", "close:1")]
    assert emu.edits[-1].method == "editMessageReplyMarkup"

    assert await bot.edit_forum_topic(GROUP, thread, name="Case #1 (Aigerim)")
    assert emu.topics[GROUP][thread].name == "Case #1 (Aigerim)"
    assert await bot.close_forum_topic(GROUP, thread)
    assert emu.topics[GROUP][thread].closed
    with pytest.raises(TelegramBadRequest, match="TOPIC_NOT_MODIFIED"):
        await bot.close_forum_topic(GROUP, thread)
    assert await bot.reopen_forum_topic(GROUP, thread)
    assert not emu.topics[GROUP][thread].closed

    assert await bot.unpin_chat_message(GROUP, message_id=message.message_id)
    assert emu.pinned[GROUP] == []
    assert await bot.delete_message(GROUP, sent.message_id)
    assert emu.messages_in(GROUP, thread) == []
    assert await bot.delete_forum_topic(GROUP, thread)
    assert thread not in emu.topics[GROUP]
    with pytest.raises(TelegramBadRequest, match="thread not found"):
        await bot.send_message(GROUP, "late", message_thread_id=thread)


async def test_bot_without_topic_rights_cannot_create_topics() -> None:
    emu = BotAPIEmulator(TOKEN)
    emu.add_forum_group(GROUP, bot_rights={"can_manage_topics": False})
    async for _emu, bot in started(emu):
        with pytest.raises(TelegramBadRequest, match="not enough rights"):
            await bot.create_forum_topic(GROUP, "Case")
        member = await bot.get_chat_member(GROUP, BOT["id"])
        assert isinstance(member, ChatMemberAdministrator)
        assert member.can_manage_topics is False


async def test_media_by_file_id_and_by_upload(pair: tuple[BotAPIEmulator, Bot]) -> None:
    emu, bot = pair
    photo = await bot.send_photo(USER, "AgACphoto-1", caption="<b>Poster</b>", parse_mode="HTML")
    assert photo.photo is not None
    assert photo.photo[-1].file_id == "AgACphoto-1"
    assert photo.caption == "<b>Poster</b>"
    (sent,) = await emu.next_messages(USER, wait=2)
    assert (sent.kind, sent.file_id, sent.text, sent.parse_mode) == (
        "photo",
        "AgACphoto-1",
        "<b>Poster</b>",
        "HTML",
    )

    topic = await bot.create_forum_topic(GROUP, "Files")
    upload = BufferedInputFile(b"%PDF-1.4 schedule", filename="schedule.pdf")
    doc = await bot.send_document(
        GROUP, upload, caption="Schedule", message_thread_id=topic.message_thread_id
    )
    assert doc.document is not None
    assert doc.document.file_name == "schedule.pdf"
    assert doc.message_thread_id == topic.message_thread_id
    (sent,) = await emu.next_messages(GROUP, thread_id=topic.message_thread_id, wait=2)
    assert sent.kind == "document"
    assert sent.filename == "schedule.pdf"
    assert sent.data == b"%PDF-1.4 schedule"
    assert sent.file_id == doc.document.file_id
    assert sent.text == "Schedule"

    # The invented file_id can be sent again, and downloaded.
    again = await bot.send_document(USER, doc.document.file_id)
    assert again.document is not None
    assert again.document.file_id == doc.document.file_id
    file = await bot.get_file(doc.document.file_id)
    assert file.file_path is not None
    downloaded = await bot.download_file(file.file_path)
    assert downloaded is not None
    assert downloaded.read() == b"%PDF-1.4 schedule"

    voice = await bot.send_voice(USER, BufferedInputFile(b"OggS", filename="note.ogg"))
    assert voice.voice is not None
    assert voice.voice.duration >= 1
    video = await bot.send_video(USER, "BAACvideo")
    assert video.video is not None
    audio = await bot.send_audio(USER, "CQACaudio")
    assert audio.audio is not None
    animation = await bot.send_animation(USER, "CgACgif")
    assert animation.animation is not None
    copied = await bot.copy_message(USER, from_chat_id=USER, message_id=photo.message_id)
    (*_, copy) = await emu.next_messages(USER, count=6, wait=2)
    assert copy.message_id == copied.message_id
    assert (copy.kind, copy.file_id) == ("photo", "AgACphoto-1")
    assert emu.delivered == 8


async def test_get_chat_and_members_parse(pair: tuple[BotAPIEmulator, Bot]) -> None:
    emu, bot = pair
    chat = await bot.get_chat(GROUP)
    assert chat.type == ChatType.SUPERGROUP
    assert chat.is_forum
    assert chat.title == "Specialists"

    admin = await bot.get_chat_member(GROUP, BOT["id"])
    assert isinstance(admin, ChatMemberAdministrator)
    assert admin.can_manage_topics
    assert admin.can_pin_messages
    member = await bot.get_chat_member(GROUP, SPECIALIST)
    assert isinstance(member, ChatMemberMember)
    assert member.user.first_name == "Aigerim"
    stranger = await bot.get_chat_member(GROUP, USER)
    assert isinstance(stranger, ChatMemberLeft)
    assert stranger.status == ChatMemberStatus.LEFT
    admins = await bot.get_chat_administrators(GROUP)
    assert [a.user.id for a in admins] == [BOT["id"]]

    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.get_chat(-100999)
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(-100999, "hello")
    await emu.user_sends(USER, "hi", first_name="Dana", username="dana")
    private = await bot.get_chat(USER)
    assert (private.type, private.first_name, private.username) == ("private", "Dana", "dana")


async def test_blocked_user_and_injected_failures(pair: tuple[BotAPIEmulator, Bot]) -> None:
    emu, bot = pair
    emu.block(USER)
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(USER, "Reminder")
    with pytest.raises(TelegramForbiddenError):
        await bot.send_photo(USER, "AgACphoto")
    emu.unblock(USER)
    await bot.send_message(USER, "Reminder")

    emu.fail_next("sendMessage", 429, "Too Many Requests: retry after 7", retry_after=7)
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(USER, "once")
    assert caught.value.retry_after == 7
    emu.fail_next("getChat", 400, "Bad Request: something odd")
    with pytest.raises(TelegramBadRequest, match="something odd"):
        await bot.get_chat(GROUP)
    await bot.send_message(USER, "twice")  # only the next call failed
    assert [s.text for s in emu.sent] == ["Reminder", "twice"]
    assert emu.too_many_requests == 1


async def test_rate_limit_rejects_sends_beyond_the_window() -> None:
    emu = BotAPIEmulator(TOKEN, rate_limit=20)
    async for _emu, bot in started(emu):
        await bot.get_me()  # not a send: never limited
        results = await asyncio.gather(
            *(bot.send_message(USER, f"n{i}") for i in range(50)), return_exceptions=True
        )
        refused = [r for r in results if isinstance(r, TelegramRetryAfter)]
        assert refused, "some sends were over the limit"
        assert all(r.retry_after == 1 for r in refused)
        assert len(refused) == emu.too_many_requests
        assert emu.delivered == len(emu.sent) == 50 - len(refused)
        assert 20 <= emu.delivered < 50
        await asyncio.sleep(1.05)  # the window slides: sending works again
        await bot.send_message(USER, "later")
        await bot.get_updates(timeout=0)


async def test_user_sends_photo_in_a_topic_and_presses_a_button(
    pair: tuple[BotAPIEmulator, Bot],
) -> None:
    emu, bot = pair
    topic = await bot.create_forum_topic(GROUP, "Case #2")
    thread = topic.message_thread_id
    raw = await emu.user_sends(
        SPECIALIST,
        chat_id=GROUP,
        thread_id=thread,
        photo="AgACuser-photo",
        caption="look",
        first_name="Aigerim",
    )
    update = Update.model_validate(raw)
    assert update.message is not None
    assert update.message.chat.id == GROUP
    assert update.message.chat.type == ChatType.SUPERGROUP
    assert update.message.message_thread_id == thread
    assert update.message.is_topic_message
    assert update.message.photo is not None
    assert update.message.photo[-1].file_id == "AgACuser-photo"
    assert update.message.caption == "look"

    (fetched,) = await bot.get_updates(timeout=0)
    assert fetched.message is not None
    assert fetched.message.message_thread_id == thread

    for kwargs in ({"document": "BQACdoc"}, {"voice": "AwACvoice"}, {"phone": "+77001234567"}):
        parsed = Update.model_validate(await emu.user_sends(USER, **kwargs))  # type: ignore[arg-type]
        assert parsed.message is not None
        assert parsed.message.chat.type == ChatType.PRIVATE
    assert parsed.message.contact is not None
    assert parsed.message.contact.phone_number == "+77001234567"

    await bot.send_message(
        GROUP, "Take it?", message_thread_id=thread, reply_markup=keyboard(("Take", "take:2"))
    )
    (sent,) = await emu.next_messages(GROUP, thread_id=thread, wait=2)
    pressed = Update.model_validate(await emu.user_presses(SPECIALIST, sent, "take:2"))
    assert pressed.callback_query is not None
    assert pressed.callback_query.from_user.first_name == "Aigerim"
    message = pressed.callback_query.message
    assert message is not None
    assert message.chat.id == GROUP
    assert message.message_thread_id == thread  # type: ignore[union-attr]
