"""doctor: checks config, database and content, and says what is wrong and how to fix it."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import TextIO

from bot.config import Settings
from bot.content import check_content
from bot.core.conversations import UI_MESSAGES
from bot.storage import Database, PeopleRepository
from bot.storage.db import DatabaseError, migrations

Check = Callable[[Settings], Awaitable[list[str]]]


async def check_database(settings: Settings) -> list[str]:
    path = settings.database.path
    try:
        db = await Database.open(path)
    except DatabaseError as exc:
        return [f"{exc} (database.path in {settings.source})"]
    try:
        version = await db.schema_version()
        people = await PeopleRepository(db.connection).count()
    finally:
        await db.close()
    expected = len(migrations())
    if version != expected:
        return [f"database {path}: schema version {version}, expected {expected}"]
    return [f"ok: database {path} (schema {version}, {people} people)"]


async def check_content_pack(settings: Settings) -> list[str]:
    pack, problems = check_content(
        settings.content.path, settings.languages, settings.default_language, UI_MESSAGES
    )
    served = pack.served(settings.content.serve_statuses)
    lines = [f"content: {problem}" for problem in problems]
    if problems:
        lines.append("fix the content problems above; `python -m bot content check` lists them")
    if not served:
        lines.append(
            "no script is served: content.serve_statuses is "
            f"{list(settings.content.serve_statuses)}"
            f" in {settings.source}, and no script in {settings.content.path} has such a status"
        )
    if not problems and served:
        lines.append(f"ok: content {settings.content.path} ({len(served)} scripts served)")
    return lines


async def check_telegram(settings: Settings) -> list[str]:
    if not settings.telegram.token:
        return ["note: no TELEGRAM_BOT_TOKEN: `make run` starts the terminal chat"]
    from bot.telegram.runner import check_token, create_bot
    from bot.telegram.workspace import check_specialists_group

    line = await check_token(settings)
    if not line.startswith("ok:"):
        return [line]
    bot = create_bot(settings)
    try:
        problems = await check_specialists_group(bot, settings)
    finally:
        await bot.session.close()
    if settings.telegram.specialists_chat_id is not None and not problems:
        return [line, "ok: the specialists' group is a forum and the bot may manage topics"]
    return [line, *problems]


async def check_instagram(settings: Settings) -> list[str]:
    """The saved session's state, read from the file: doctor never logs in to Instagram."""
    if not settings.instagram.enabled:
        return ["note: Instagram is off (instagram.enabled)"]
    from bot.instagram.client import session_state

    lines = [session_state(settings.instagram)]
    if not settings.instagram.password:
        lines.append(
            "note: no INSTAGRAM_PASSWORD: when Instagram ends the session, the bot pauses "
            "Instagram and asks for `python -m bot instagram login` instead of logging in again"
        )
    return lines


CHECKS: tuple[Check, ...] = (check_database, check_content_pack, check_telegram, check_instagram)


async def run_doctor(settings: Settings, out: TextIO = sys.stdout) -> int:
    out.write(f"ok: config {settings.source}\n")
    failed = False
    for check in CHECKS:
        for line in await check(settings):
            failed = failed or not line.startswith(("ok:", "note:"))
            out.write(line + "\n")
    out.write("doctor: all good\n" if not failed else "doctor: problems found (see above)\n")
    return 1 if failed else 0
