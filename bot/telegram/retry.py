"""A request middleware: waits retry_after on 429, retries network errors and 5xx, bounded."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import TelegramNetworkError, TelegramRetryAfter, TelegramServerError
from aiogram.methods import GetUpdates, TelegramMethod
from aiogram.methods.base import Response, TelegramType

if TYPE_CHECKING:
    from aiogram import Bot

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[Any]]


class RetryMiddleware(BaseRequestMiddleware):
    """Bounded retries: polling has its own backoff, so getUpdates passes straight through."""

    def __init__(
        self,
        attempts: int = 4,
        base_delay: float = 0.5,
        max_delay: float = 30.0,
        max_retry_after: float = 60.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.attempts = attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.max_retry_after = max_retry_after
        self.sleep = sleep

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        self_retrying = type(method) is GetUpdates  # polling retries with its own backoff
        attempt = 1
        while True:
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as exc:
                if (
                    self_retrying
                    or attempt >= self.attempts
                    or exc.retry_after > self.max_retry_after
                ):
                    raise
                log.warning(
                    "%s: flood control, waiting %ss", type(method).__name__, exc.retry_after
                )
                await self.sleep(exc.retry_after)
            except (TelegramNetworkError, TelegramServerError) as exc:
                if self_retrying or attempt >= self.attempts:
                    raise
                delay = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
                log.warning(
                    "%s failed (%s), retry %d in %.1fs",
                    type(method).__name__,
                    type(exc).__name__,
                    attempt,
                    delay,
                )
                await self.sleep(delay)
            attempt += 1
