"""Builders for real aiogram Update objects, with timezone-aware dates."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from aiogram.types import CallbackQuery, Chat, Message, Update, User

_update_ids = itertools.count(1)
_message_ids = itertools.count(1)


def user(user_id: int = 1001, language_code: str | None = "ru") -> User:
    return User(
        id=user_id,
        is_bot=False,
        first_name="Aigerim",
        username="aigerim_k",
        language_code=language_code,
    )


def chat(chat_id: int = 1001, kind: str = "private") -> Chat:
    return Chat(id=chat_id, type=kind, title=None if kind == "private" else "A group")


def message(
    text: str | None = None,
    user_id: int = 1001,
    chat_kind: str = "private",
    chat_id: int | None = None,
    **content: Any,
) -> Message:
    return Message(
        message_id=next(_message_ids),
        date=datetime.now(UTC),
        chat=chat(chat_id if chat_id is not None else user_id, chat_kind),
        from_user=user(user_id),
        text=text,
        **content,
    )


def message_update(text: str | None = None, user_id: int = 1001, **kwargs: Any) -> Update:
    return Update(update_id=next(_update_ids), message=message(text, user_id, **kwargs))


def edited_update(text: str, user_id: int = 1001) -> Update:
    edited = message(text, user_id, edit_date=int(datetime.now(UTC).timestamp()))
    return Update(update_id=next(_update_ids), edited_message=edited)


def callback_update(data: str, user_id: int = 1001) -> Update:
    origin = message("(a message with buttons)", user_id)
    query = CallbackQuery(
        id=str(next(_update_ids)),
        from_user=user(user_id),
        chat_instance="ci-1",
        message=origin,
        data=data,
    )
    return Update(update_id=next(_update_ids), callback_query=query)


def channel_post_update(text: str) -> Update:
    post = Message(
        message_id=next(_message_ids),
        date=datetime.now(UTC),
        chat=Chat(id=-100500, type="channel", title="News"),
        text=text,
    )
    return Update(update_id=next(_update_ids), channel_post=post)


def topic_update(
    text: str | None = None,
    user_id: int = 5001,
    chat_id: int = -100777,
    thread_id: int | None = None,
    **content: Any,
) -> Update:
    """A message in the specialists' forum group: in a topic when thread_id is given."""
    posted = Message(
        message_id=next(_message_ids),
        date=datetime.now(UTC),
        chat=Chat(id=chat_id, type="supergroup", title="Specialists", is_forum=True),
        from_user=user(user_id),
        text=text,
        message_thread_id=thread_id,
        is_topic_message=True if thread_id is not None else None,
        **content,
    )
    return Update(update_id=next(_update_ids), message=posted)


def group_callback_update(
    data: str, user_id: int = 5001, chat_id: int = -100777, thread_id: int | None = None
) -> Update:
    """A button pressed on a message in the specialists' group (in a topic or General)."""
    origin = Message(
        message_id=next(_message_ids),
        date=datetime.now(UTC),
        chat=Chat(id=chat_id, type="supergroup", title="Specialists", is_forum=True),
        text="(a message with buttons)",
        message_thread_id=thread_id,
        is_topic_message=True if thread_id is not None else None,
    )
    query = CallbackQuery(
        id=str(next(_update_ids)),
        from_user=user(user_id),
        chat_instance="ci-group",
        message=origin,
        data=data,
    )
    return Update(update_id=next(_update_ids), callback_query=query)
