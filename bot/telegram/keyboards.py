"""Inline keyboards from the core's actions."""

from __future__ import annotations

from functools import lru_cache

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.core.replies import Action
from bot.telegram.callbacks import pack_action

# Short labels (feedback, languages, yes/no) share a row; topic titles get a row each.
_PAIRED = frozenset({"feedback", "language", "forget", "rate", "contact", "gender", "offer"})


@lru_cache(maxsize=2048)
def keyboard(actions: tuple[Action, ...]) -> InlineKeyboardMarkup | None:
    """The keyboard for a reply's actions; cached, since answers repeat the same buttons."""
    if not actions:
        return None
    rows: list[list[InlineKeyboardButton]] = []
    previous_kind = None
    for action in actions:
        button = InlineKeyboardButton(text=action.label[:64], callback_data=pack_action(action))
        if action.kind in _PAIRED and action.kind == previous_kind and len(rows[-1]) < 3:
            rows[-1].append(button)
        else:
            rows.append([button])
        previous_kind = action.kind
    return InlineKeyboardMarkup(inline_keyboard=rows)
