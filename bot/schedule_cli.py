"""Schedule tools of the command line: lectures import/export, live-plan, scheduler preview."""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from typing import TextIO

from bot.app import load_pack
from bot.config import Settings
from bot.content import ContentPack
from bot.core.broadcasts import BroadcastService
from bot.core.coordination import ImportRow, read_lecture_file, read_plan_csv
from bot.core.lectures import LectureService
from bot.core.people import utc_now
from bot.outbox import Outbox
from bot.storage import Database


async def _services(
    settings: Settings, pack: ContentPack
) -> tuple[Database, LectureService, BroadcastService]:
    """The schedule's services without the matcher (which takes seconds to train)."""
    db = await Database.open(settings.database.path)
    outbox = Outbox(db, utc_now)
    return (
        db,
        LectureService(settings, db, pack, outbox, utc_now),
        BroadcastService(settings, db, pack, outbox, utc_now),
    )


async def run_schedule_command(
    settings: Settings, args: argparse.Namespace, out: TextIO | None = None
) -> int:
    """lectures import or export, live-plan import, scheduler preview; returns the exit code."""
    out = out or sys.stdout
    pack = load_pack(settings)
    if args.command == "lectures" and args.lectures_command == "import":
        # Validate the whole file before opening the database: a bad file changes nothing.
        if not args.file.is_file():
            print(f"{args.file}: no such file", file=sys.stderr)
            return 1
        rows = read_lecture_file(args.file, settings, utc_now(), pack.scripts)
        bad = [row for row in rows if row.problems]
        for row in bad:
            for problem in row.problems:
                print(f"{args.file}:{row.line}: {problem}", file=sys.stderr)
        if bad and not args.skip_bad:
            print(
                f"{len(bad)} bad row(s): nothing imported (fix them, or use --skip-bad)",
                file=sys.stderr,
            )
            return 1
        return await _import_lectures(settings, pack, [r for r in rows if r.fields], len(bad), out)
    if args.command == "live-plan":
        if not args.file.is_file():
            print(f"{args.file}: no such file", file=sys.stderr)
            return 1
        today = utc_now().astimezone(settings.tz).date()
        plans = read_plan_csv(args.file, today)
        bad_plans = [p for p in plans if p.problem]
        for plan in bad_plans:
            print(f"{args.file}:{plan.line}: {plan.problem}", file=sys.stderr)
        if bad_plans and not args.skip_bad:
            print(
                f"{len(bad_plans)} bad row(s): nothing imported (fix them, or use --skip-bad)",
                file=sys.stderr,
            )
            return 1
        db, _lectures, broadcasts = await _services(settings, pack)
        try:
            for entry in plans:
                if entry.plan is not None:
                    await broadcasts.set_plan(entry.plan)
        finally:
            await db.close()
        good = len(plans) - len(bad_plans)
        print(f"live plan: {good} day(s) imported, {len(bad_plans)} skipped", file=out)
        return 0
    db, lecture_service, broadcasts = await _services(settings, pack)
    try:
        if args.command == "lectures":
            lectures = await lecture_service.repo.all()
            text = lecture_service.ics(lectures)
            if args.output:
                args.output.write_bytes(text.encode("utf-8"))
                print(f"{len(lectures)} lecture(s) written to {args.output}", file=sys.stderr)
            else:
                out.write(text)
            return 0
        from scheduler import planned_sends

        now = utc_now()
        sends = await planned_sends(
            lecture_service, broadcasts, now, now + timedelta(days=args.days)
        )
        zone = settings.timezone
        print(f"Planned sends for the next {args.days} day(s), local time ({zone}):", file=out)
        for send in sends:
            local = send.at.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M")
            print(
                f"{local}  {send.kind:<10}  {send.recipients:>6} recipient(s)  {send.description}",
                file=out,
            )
        if not sends:
            print("(nothing planned)", file=out)
        return 0
    finally:
        await db.close()


async def _import_lectures(
    settings: Settings, pack: ContentPack, rows: list[ImportRow], skipped: int, out: TextIO
) -> int:
    db, lectures, _broadcasts = await _services(settings, pack)
    added = updated = 0
    try:
        for row in rows:
            assert row.fields is not None
            existing = await lectures.repo.by_uid(row.uid) if row.uid else None
            if existing is None:
                await lectures.create(row.fields, row.uid)
                added += 1
            else:
                await lectures.update(existing.id, row.fields)
                updated += 1
    finally:
        await db.close()
    print(f"lectures: {added} added, {updated} updated, {skipped} skipped", file=out)
    return 0
