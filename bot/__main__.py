"""The command line: run, chat, doctor, content, lectures, live-plan, scheduler, instagram."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.config import ConfigError, Settings, load_settings

log = logging.getLogger("bot")

EXIT_CONFIG = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot", description="Senim: the outreach chatbot."
    )
    parser.add_argument(
        "--config", metavar="PATH", help="config file (default: $SENIM_CONFIG or ./config.yaml)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("run", help="run the bot (the terminal chat when no Telegram token)")
    chat = commands.add_parser("chat", help="talk to the bot in the terminal")
    chat.add_argument("--lang", choices=("kk", "ru", "en"), help="skip the language choice")
    commands.add_parser("doctor", help="check config, database and content; say how to fix")
    instagram = commands.add_parser("instagram", help="the Instagram account")
    instagram_cmds = instagram.add_subparsers(
        dest="instagram_command", metavar="TOOL", required=True
    )
    instagram_cmds.add_parser(
        "login", help="log in once (asks for a two-factor code) and save the session"
    )
    instagram_cmds.add_parser("status", help="the saved session's state (no network)")
    content = commands.add_parser("content", help="content tools")
    content_cmds = content.add_subparsers(dest="content_command", metavar="TOOL", required=True)
    content_cmds.add_parser("check", help="validate every script, template and catalog")
    evaluate = content_cmds.add_parser("eval", help="score the matcher on an evaluation file")
    evaluate.add_argument("file", type=Path)
    evaluate.add_argument("--json", action="store_true", help="print one JSON array")
    lectures = commands.add_parser("lectures", help="import and export lectures")
    lecture_cmds = lectures.add_subparsers(dest="lectures_command", metavar="TOOL", required=True)
    imports = lecture_cmds.add_parser("import", help="import lectures from a CSV or .ics file")
    imports.add_argument("file", type=Path)
    imports.add_argument(
        "--skip-bad", action="store_true", help="import the valid rows even if some are bad"
    )
    exports = lecture_cmds.add_parser("export", help="export the lectures")
    exports.add_argument("--ics", action="store_true", required=True, help="as iCalendar")
    exports.add_argument("-o", "--output", type=Path, help="write to a file (default: stdout)")
    plan = commands.add_parser("live-plan", help="the daily live-broadcast plan")
    plan_cmds = plan.add_subparsers(dest="plan_command", metavar="TOOL", required=True)
    plan_import = plan_cmds.add_parser("import", help="import the plan from a CSV file")
    plan_import.add_argument("file", type=Path)
    plan_import.add_argument(
        "--skip-bad", action="store_true", help="import the valid rows even if some are bad"
    )
    sched = commands.add_parser("scheduler", help="the scheduled sends")
    sched_cmds = sched.add_subparsers(dest="scheduler_command", metavar="TOOL", required=True)
    preview = sched_cmds.add_parser("preview", help="every planned send with its local time")
    preview.add_argument("--days", type=int, default=7, help="how many days ahead (default 7)")
    return parser


def _logging(settings: Settings | None, verbose: bool) -> None:
    level = "DEBUG" if verbose else (settings.logging.level if settings else "INFO")
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # APScheduler logs every job it adds and runs at INFO; our jobs log what they do.
    logging.getLogger("apscheduler").setLevel("DEBUG" if verbose else "WARNING")


async def _chat(settings: Settings, lang: str | None) -> int:
    from bot.app import create_app
    from bot.console import run_console

    app = await create_app(settings)
    try:
        return await run_console(app, lang, sys.stdin, sys.stdout)
    finally:
        await app.close()


async def _run(settings: Settings) -> int:
    if not settings.telegram.token:
        if settings.instagram.enabled:
            from bot.instagram.channel import run_instagram_only

            print(
                "No Telegram token (TELEGRAM_BOT_TOKEN) is set: running Instagram alone. "
                "Tickets wait in the queue and coordinators' alerts wait in the outbox until "
                "Telegram is configured.",
                file=sys.stderr,
            )
            return await run_instagram_only(settings)
        print(
            "No Telegram token (TELEGRAM_BOT_TOKEN) is set: starting the terminal chat instead.",
            file=sys.stderr,
        )
        return await _chat(settings, None)
    from bot.telegram.runner import run_telegram

    return await run_telegram(settings)


def _content_check(settings: Settings) -> int:
    from bot.content import check_content
    from bot.core.conversations import UI_MESSAGES

    pack, problems = check_content(
        settings.content.path, settings.languages, settings.default_language, UI_MESSAGES
    )
    for problem in problems:
        print(problem)
    served = len(pack.served(settings.content.serve_statuses))
    if problems:
        print(f"{len(problems)} problem(s) in {settings.content.path}", file=sys.stderr)
        return 1
    print(
        f"content OK: {len(pack.scripts)} scripts ({served} served), "
        f"{len(pack.languages)} languages",
        file=sys.stderr,
    )
    return 0


def _content_eval(settings: Settings, path: Path, as_json: bool) -> int:
    from bot.app import build_core, load_pack
    from bot.core.conversations import Classifier
    from bot.evaluation import EvalFileError, evaluate, format_table, read_items

    pack = load_pack(settings)
    try:  # read the file before the models are trained: a bad file is reported at once
        items = read_items(path, pack.served(settings.content.serve_statuses))
    except EvalFileError as exc:
        print(exc, file=sys.stderr)
        return 1
    matcher, crisis = build_core(settings, pack)
    classifier = Classifier(settings, matcher, crisis)
    results = evaluate(classifier, items)
    if as_json:
        print(json.dumps([r.as_json() for r in results], ensure_ascii=False, indent=1))
    else:
        print(format_table(results))
    return 0


def _instagram(settings: Settings, tool: str) -> int:
    from bot.instagram.client import session_state

    if tool == "status":
        line = session_state(settings.instagram)
        print(line)
        return 0 if line.startswith("ok:") else 1
    from bot.instagram.login import interactive_login

    return interactive_login(settings.instagram, input, sys.stdout)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    _logging(settings, args.verbose)
    command = args.command or "run"
    try:
        if command == "run":
            return asyncio.run(_run(settings))
        if command == "chat":
            return asyncio.run(_chat(settings, args.lang))
        if command == "doctor":
            from bot.doctor import run_doctor

            return asyncio.run(run_doctor(settings))
        if command in ("lectures", "live-plan", "scheduler"):
            from bot.schedule_cli import run_schedule_command

            return asyncio.run(run_schedule_command(settings, args))
        if command == "instagram":
            return _instagram(settings, args.instagram_command)
        if args.content_command == "check":
            return _content_check(settings)
        return _content_eval(settings, args.file, args.json)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        from bot.storage.db import DatabaseError

        if isinstance(exc, DatabaseError):
            print(f"database error: {exc}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
