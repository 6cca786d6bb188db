"""Typed callback data: a button carries the core action's kind and value, nothing else."""

from __future__ import annotations

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData

from bot.core.replies import Action


class Kind(StrEnum):
    topic = "topic"
    topics = "topics"
    feedback = "feedback"
    specialist = "specialist"
    language = "language"
    forget = "forget"
    menu = "menu"
    privacy = "privacy"
    help = "help"
    lecture = "lecture"
    live = "live"


class ActionData(CallbackData, prefix="a"):
    """Callback data for a core Action; Telegram allows 64 bytes."""

    kind: Kind
    value: str = ""


def pack_action(action: Action) -> str:
    return ActionData(kind=Kind(action.kind), value=action.value).pack()
