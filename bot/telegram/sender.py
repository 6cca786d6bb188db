"""The outbox's Telegram sender: one queued message out, aiogram errors mapped to the outbox's."""

from __future__ import annotations

from aiogram import Bot
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)

from bot.core.replies import Action
from bot.outbox import PermanentFailure, RetryLater, TemporaryFailure, Unreachable
from bot.storage.outbox import OutboxRow
from bot.telegram.keyboards import keyboard


class TelegramSender:
    """Sends with a Bot whose session does not retry by itself: the outbox worker decides."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def send(self, row: OutboxRow) -> None:
        try:
            await self._send(row)
        except TelegramRetryAfter as exc:
            raise RetryLater(float(exc.retry_after)) from exc
        except TelegramForbiddenError as exc:
            raise Unreachable(str(exc)) from exc
        except TelegramBadRequest as exc:
            if "chat not found" in str(exc).lower():
                raise Unreachable(str(exc)) from exc
            raise PermanentFailure(str(exc)) from exc
        except (TelegramNetworkError, TelegramServerError) as exc:
            raise TemporaryFailure(str(exc)) from exc
        except TelegramAPIError as exc:
            raise TemporaryFailure(str(exc)) from exc

    async def _send(self, row: OutboxRow) -> None:
        actions = tuple(Action(kind, value, label) for kind, value, label in row.actions)
        markup = keyboard(actions)
        chat, thread, text = int(row.chat_id), row.thread_id, row.text or ""
        kind, ref = row.media_kind, row.media_ref
        if kind is None or ref is None:
            await self.bot.send_message(chat, text, message_thread_id=thread, reply_markup=markup)
            return
        caption = text or None
        send = {
            "photo": self.bot.send_photo,
            "document": self.bot.send_document,
            "voice": self.bot.send_voice,
            "video": self.bot.send_video,
            "audio": self.bot.send_audio,
            "animation": self.bot.send_animation,
        }.get(kind)
        if send is None:
            raise PermanentFailure(f"unknown media kind {kind}")
        await send(  # type: ignore[operator]
            chat, ref, caption=caption, message_thread_id=thread, reply_markup=markup
        )
