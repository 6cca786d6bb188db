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
    # the citizen's side of a ticket
    rate = "rate"
    contact = "contact"
    gender = "gender"
    end = "end"
    # specialists and coordinators
    take = "take"
    close = "close"
    transfer = "transfer"
    offer = "offer"
    roster = "roster"
    # lectures and the live broadcast
    lecture = "lecture"
    live = "live"


STAFF_KINDS = frozenset({Kind.take, Kind.close, Kind.transfer, Kind.offer, Kind.roster})


class ActionData(CallbackData, prefix="a"):
    """Callback data for a core Action; Telegram allows 64 bytes."""

    kind: Kind
    value: str = ""


def pack_action(action: Action) -> str:
    return ActionData(kind=Kind(action.kind), value=action.value).pack()
