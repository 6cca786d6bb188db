"""Running on Telegram: the Bot, the command menu, long polling or a webhook; the token check."""

from __future__ import annotations

import asyncio
import logging

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramAPIError, TelegramNetworkError, TelegramUnauthorizedError
from aiogram.types import BotCommand, BotCommandScopeAllPrivateChats

from bot.app import App, create_app
from bot.config import Settings
from bot.content import Catalogs
from bot.core.background import Background
from bot.core.conversations import COMMANDS
from bot.core.queue import QueueService
from bot.outbox import OutboxWorker, RateLimiter
from bot.telegram.coordinator import ProgressTracker, set_coordinator_commands
from bot.telegram.dispatcher import create_dispatcher
from bot.telegram.middlewares import CHANNEL
from bot.telegram.retry import RetryMiddleware
from bot.telegram.sender import TelegramSender
from bot.telegram.workspace import TelegramWorkspace, check_specialists_group
from scheduler import create_scheduler

log = logging.getLogger(__name__)


def create_bot(settings: Settings, token: str | None = None, *, retries: bool = True) -> Bot:
    """A Bot with HTML by default, the configured API server and (unless told not) retries."""
    session = AiohttpSession()
    if settings.telegram.api_server:
        session = AiohttpSession(
            api=TelegramAPIServer.from_base(settings.telegram.api_server.rstrip("/"))
        )
    if retries:
        session.middleware(RetryMiddleware())
    return Bot(
        token or settings.telegram.token or "",
        session=session,
        default=DefaultBotProperties(parse_mode=ParseMode.HTML),
    )


def command_menu(catalogs: Catalogs, lang: str) -> list[BotCommand]:
    return [
        BotCommand(command=name, description=catalogs.gettext(lang, description))
        for name, description in COMMANDS
    ]


async def set_commands(bot: Bot, app: App) -> None:
    """The command menu in every language, and the default language's for everyone else."""
    scope = BotCommandScopeAllPrivateChats()
    catalogs = app.content.catalogs
    await bot.set_my_commands(command_menu(catalogs, app.settings.default_language), scope=scope)
    for lang in app.settings.languages:
        await bot.set_my_commands(command_menu(catalogs, lang), scope=scope, language_code=lang)


async def check_token(settings: Settings) -> str:
    """doctor's line about the token: getMe against the configured server."""
    bot = create_bot(settings)
    try:
        me = await bot.get_me()
    except TelegramUnauthorizedError:
        return "Telegram rejected the token: check TELEGRAM_BOT_TOKEN (from @BotFather)"
    except TelegramNetworkError as exc:
        server = settings.telegram.api_server or "api.telegram.org"
        return f"cannot reach the Bot API at {server}: {exc}"
    except TelegramAPIError as exc:
        return f"the Bot API answered getMe with an error: {exc}"
    finally:
        await bot.session.close()
    return f"ok: Telegram token works for @{me.username}"


async def _webhook(bot: Bot, dp: Dispatcher, settings: Settings) -> None:
    from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
    from aiohttp import web

    tg = settings.telegram
    application = web.Application()
    SimpleRequestHandler(dispatcher=dp, bot=bot, secret_token=tg.webhook_secret).register(
        application, path="/telegram"
    )
    setup_application(application, dp, bot=bot)
    runner = web.AppRunner(application)
    await runner.setup()
    site = web.TCPSite(runner, tg.listen_host, tg.listen_port)
    await site.start()
    await bot.set_webhook(
        str(tg.webhook_url),
        secret_token=tg.webhook_secret,
        allowed_updates=dp.resolve_used_update_types(),
    )
    log.info("webhook listening on %s:%s", tg.listen_host, tg.listen_port)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


PURGE_EVERY = 6 * 3600.0


async def queue_housekeeping(queue: QueueService, settings: Settings) -> None:
    """Forever: alert on tickets past their target; erase old transcripts now and then."""
    every = settings.queue.check_seconds
    since_purge = PURGE_EVERY
    while True:
        try:
            if not await queue.check_targets():
                await queue.refresh_queue()  # the waits shown grow; edited only on change
            if since_purge >= PURGE_EVERY:
                await queue.purge()
                since_purge = 0.0
        except Exception:
            log.exception("queue housekeeping failed; trying again")
        await asyncio.sleep(every)
        since_purge += every


async def run_telegram(settings: Settings, *, handle_signals: bool = True) -> int:
    """Run the bot on Telegram until stopped."""
    app = await create_app(settings)
    bot = create_bot(settings)
    progress = ProgressTracker(app.broadcasts)
    dp = create_dispatcher(app, progress=progress)
    schedule = create_scheduler(app.lectures, app.broadcasts, app.conversations.clock)
    outbox_bot = create_bot(settings, retries=False)
    worker = OutboxWorker(
        app.db,
        app.outbox,
        CHANNEL,
        TelegramSender(outbox_bot),
        RateLimiter(settings.telegram.rate_per_second, settings.telegram.per_chat_interval),
        app.conversations.clock,
        on_unreachable=app.on_unreachable,
        concurrency=settings.telegram.send_concurrency,
    )
    housekeeping = Background(lambda: queue_housekeeping(app.queue, settings))
    instagram = None
    if settings.instagram.enabled:
        from bot.instagram.channel import InstagramChannel

        instagram = InstagramChannel(app)
        app.broadcasts.story_posters.append(instagram)  # the daily announcement as a story
    try:
        try:
            me = await bot.get_me()
        except TelegramUnauthorizedError:
            log.error("Telegram rejected the token: check TELEGRAM_BOT_TOKEN")
            return 2
        log.info("running on Telegram as @%s (%s mode)", me.username, settings.telegram.mode)
        await set_commands(bot, app)
        await set_coordinator_commands(bot, settings, app.content.catalogs)
        for problem in await check_specialists_group(bot, settings):
            log.warning("specialists' group: %s", problem)
        if settings.telegram.specialists_chat_id is not None:
            app.queue.attach(
                TelegramWorkspace(bot, settings.telegram.specialists_chat_id, app.queue)
            )
            await app.queue.refresh_queue()
        worker.start()
        await schedule.start()
        await progress.resume(bot, settings.default_language)
        housekeeping.start()
        if instagram is not None:  # beside Telegram; its failures pause it, never Telegram
            instagram.start()
        if settings.telegram.mode == "webhook":
            await _webhook(bot, dp, settings)
        else:
            await bot.delete_webhook(drop_pending_updates=False)
            await dp.start_polling(
                bot,
                handle_signals=handle_signals,
                allowed_updates=dp.resolve_used_update_types(),
            )
    finally:
        schedule.shutdown()
        await progress.stop()
        if instagram is not None:
            await instagram.stop()
        await housekeeping.stop()
        await worker.stop()
        await outbox_bot.session.close()
        await bot.session.close()
        await app.close()
    return 0
