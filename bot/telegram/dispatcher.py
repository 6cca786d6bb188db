"""create_dispatcher(app): a fresh Dispatcher with the long-lived objects and the routers."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypedDict

from aiogram import Dispatcher

from bot.app import App
from bot.config import Settings
from bot.core.broadcasts import BroadcastService
from bot.core.conversations import ConversationService
from bot.core.lectures import LectureService
from bot.core.people import PeopleService
from bot.core.queue import QueueService
from bot.telegram import coordinator, handlers, lectures, staff
from bot.telegram.coordinator import ProgressTracker
from bot.telegram.middlewares import PersonMiddleware, ThrottlingMiddleware


class Dependencies(TypedDict):
    """What handlers can ask for by parameter name (aiogram injects Dispatcher kwargs)."""

    app: App
    settings: Settings
    conversations: ConversationService
    people: PeopleService
    lectures: LectureService
    broadcasts: BroadcastService
    progress: ProgressTracker
    queue: QueueService


def create_dispatcher(
    app: App,
    monotonic: Callable[[], float] = time.monotonic,
    progress: ProgressTracker | None = None,
) -> Dispatcher:
    deps = Dependencies(
        app=app,
        settings=app.settings,
        conversations=app.conversations,
        people=app.people,
        lectures=app.lectures,
        broadcasts=app.broadcasts,
        progress=progress or ProgressTracker(app.broadcasts),
        queue=app.queue,
    )
    dp = Dispatcher(**deps)
    throttle = app.settings.telegram.throttle
    throttling = ThrottlingMiddleware(
        app.conversations, throttle.messages, throttle.window_seconds, monotonic
    )
    person = PersonMiddleware(app.people)
    for observer in (dp.message, dp.edited_message, dp.callback_query):
        observer.outer_middleware(throttling)
        observer.outer_middleware(person)
    dp.include_router(coordinator.create_router())
    dp.include_router(lectures.create_router())
    dp.include_router(staff.create_router(app.settings.telegram.specialists_chat_id))
    dp.include_router(handlers.create_router())
    return dp
