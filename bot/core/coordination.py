"""What coordinators do besides the services' own calls: imports, plan lines, their UI strings."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.config import Settings
from bot.core.ics import CalendarError, read_calendar
from bot.core.lectures import LectureError, validate_lecture
from bot.storage.lectures import LivePlan

N_ = str


def _messages() -> tuple[str, ...]:
    return (
        # a live-plan line's problems (shown translated in /live_plan)
        N_("start with the date and time: YYYY-MM-DD HH:MM | title | host"),
        N_("expected: YYYY-MM-DD HH:MM | title | host | link"),
        N_("date: that day has passed"),
        N_("date: at most 60 days ahead"),
        N_("date: YYYY-MM-DD"),
        N_("title: needed, at most 200 characters"),
        N_("host: needed, at most 120 characters"),
        N_("Sorry, this command is for coordinators only."),
        N_("New lecture. Send the title (or /cancel to stop)."),
        N_("Who gives the lecture? Send the lecturer's name."),
        N_("Which city?"),
        N_("Where? Send the address, or an online link starting with https://"),
        N_("In which language?"),
        N_("For which audience?"),
        N_("When does it start? Send the local date and time as YYYY-MM-DD HH:MM ({zone})."),
        N_("How long, in minutes? For example 90."),
        N_("Please check the lecture:"),
        N_("Save"),
        N_("Cancel"),
        N_("Saved. Reminders go out {offsets} hours before it starts."),
        N_("Stopped; nothing was saved."),
        N_("That does not look right: {problem}"),
        N_("General public"),
        N_("Students"),
        N_("Civil servants"),
        N_("Schools"),
        N_("Workplaces"),
        N_("Markets"),
        N_("Edit"),
        N_("Cancel lecture"),
        N_("Which field do you want to change?"),
        N_("Title"),
        N_("Lecturer"),
        N_("City"),
        N_("Place"),
        N_("Start"),
        N_("Duration"),
        N_("Send the new value."),
        N_("Changed."),
        N_("Cancel this lecture? Everyone signed up ({count}) will be told."),
        N_("Yes, cancel it"),
        N_("No, keep it"),
        N_("Cancelled; the people signed up are being told."),
        N_("signed up: {count}"),
        N_("Live plan for the next 14 days:"),
        N_("nothing planned"),
        N_(
            "To plan a day, send one line per day: YYYY-MM-DD HH:MM | title | host | link "
            "(the link may be left out). To clear a day: YYYY-MM-DD -"
        ),
        N_("Saved: {count} day(s)."),
        N_("Line {line}: {problem}"),
        N_("Send the announcement: text, or a photo with a caption (or /cancel to stop)."),
        N_("Who should get it?"),
        N_("Everyone ({count})"),
        N_("Live subscribers ({count})"),
        N_("A city"),
        N_("A language"),
        N_("Which language?"),
        N_("This will go to {count} people. Send it?"),
        N_("Send"),
        N_("Nobody is in that audience yet; nothing was sent."),
        N_("Please send text, or a photo with a caption."),
        N_("A photo's caption can have at most 1,024 characters."),
        N_("Schedule a lecture"),
        N_("Plan the live broadcasts"),
        N_("Send an announcement"),
        N_("No lectures are planned yet. Add one with /lecture_new."),
    )


COORDINATOR_MESSAGES = _messages()

AUDIENCE_LABELS = {
    "public": N_("General public"),
    "students": N_("Students"),
    "civil_servants": N_("Civil servants"),
    "schools": N_("Schools"),
    "workplaces": N_("Workplaces"),
    "markets": N_("Markets"),
}

LECTURE_COLUMNS = (
    "title",
    "topic_id",
    "lecturer",
    "venue",
    "link",
    "city",
    "audience",
    "language",
    "start",
    "duration",
)


@dataclass(frozen=True, slots=True)
class ImportRow:
    """One row of an import file: its line, the clean fields and uid, or its problems."""

    line: int
    fields: dict[str, Any] | None
    uid: str | None
    problems: tuple[str, ...] = ()


def read_lecture_file(
    path: Path, settings: Settings, now: datetime, topics: Mapping[str, Any]
) -> list[ImportRow]:
    """Read and validate every lecture in a CSV (with a header) or an .ics file."""
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() in (".ics", ".ical") or text.lstrip().startswith("BEGIN:VCALENDAR"):
        return _read_ics(text, settings, now, topics)
    return _read_csv(text, settings, now, topics)


def _read_csv(
    text: str, settings: Settings, now: datetime, topics: Mapping[str, Any]
) -> list[ImportRow]:
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in ("title", "lecturer", "city", "language", "start") if c not in header]
    unknown = [h for h in header if h not in (*LECTURE_COLUMNS, "uid")]
    if missing or unknown:
        problems = [f"missing column {c!r}" for c in missing]
        problems += [
            f"unknown column {c!r} (known: {', '.join(LECTURE_COLUMNS)}, uid)" for c in unknown
        ]
        return [ImportRow(1, None, None, tuple(problems))]
    rows = []
    for record in reader:
        line = reader.line_num
        raw = {k.strip(): (v or "").strip() for k, v in record.items() if k is not None}
        if None in record:
            rows.append(ImportRow(line, None, None, ("more values than columns",)))
            continue
        try:
            fields = validate_lecture(raw, settings, now, topics)
        except LectureError as exc:
            rows.append(ImportRow(line, None, None, tuple(exc.problems)))
            continue
        rows.append(ImportRow(line, fields, raw.get("uid") or None))
    return rows


def _read_ics(
    text: str, settings: Settings, now: datetime, topics: Mapping[str, Any]
) -> list[ImportRow]:
    rows = []
    for line, item in read_calendar(text, settings.tz):
        if isinstance(item, CalendarError):
            rows.append(ImportRow(item.line, None, None, (str(item),)))
            continue
        if item.cancelled:
            continue
        raw: dict[str, Any] = {
            "title": item.summary,
            "topic_id": item.extra.get("topic", ""),
            "lecturer": item.extra.get("lecturer") or item.description,
            "venue": item.location,
            "link": item.url,
            "city": item.extra.get("city", ""),
            "audience": item.extra.get("audience", "public"),
            "language": item.extra.get("language") or settings.default_language,
            "start": item.start,
            "duration": str(int((item.end - item.start).total_seconds() // 60)),
        }
        if raw["city"] and raw["venue"] == raw["city"]:
            raw["venue"] = ""  # our export writes "venue, city", or the city alone
        elif raw["city"] and raw["venue"].endswith(", " + raw["city"]):
            raw["venue"] = raw["venue"][: -len(", " + raw["city"])]
        if not raw["city"] and raw["venue"]:
            raw["city"] = raw["venue"].rsplit(",", 1)[-1].strip()
        try:
            fields = validate_lecture(raw, settings, now, topics)
        except LectureError as exc:
            rows.append(ImportRow(line, None, None, tuple(exc.problems)))
            continue
        rows.append(ImportRow(line, fields, item.uid or None))
    return rows


# --- the live plan -------------------------------------------------------------------------------


def _hhmm(value: str) -> str:
    hours, sep, minutes = value.strip().partition(":")
    if not sep or not hours.isdigit() or not minutes.isdigit() or len(minutes) != 2:
        raise ValueError("time: HH:MM, for example 20:00")
    if not (0 <= int(hours) <= 23 and 0 <= int(minutes) <= 59):
        raise ValueError("time: HH:MM, for example 20:00")
    return f"{int(hours):02d}:{minutes}"


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValueError("date: YYYY-MM-DD") from None


def make_plan(
    day: str, time: str, title: str, host: str, link: str = "", topic_id: str = ""
) -> LivePlan:
    """A validated live-plan entry; ValueError names the field."""
    parsed_day = _day(day)
    clock_time = _hhmm(time)
    title, host, link = (" ".join(v.split()) for v in (title, host, link))
    if not 1 <= len(title) <= 200:
        raise ValueError("title: needed, at most 200 characters")
    if not 1 <= len(host) <= 120:
        raise ValueError("host: needed, at most 120 characters")
    if link and not link.startswith(("https://", "http://")):
        raise ValueError("link: a web address starting with https://")
    return LivePlan(parsed_day, title, topic_id.strip() or None, host, link, clock_time)


def parse_plan_line(line: str, today: date) -> LivePlan | date:
    """'YYYY-MM-DD HH:MM | title | host | link' -> a plan; 'YYYY-MM-DD -' -> the day to clear."""
    text = line.strip()
    head, _sep, rest = text.partition("|")
    parts = head.split()
    if len(parts) == 2 and parts[1] == "-" and not rest:
        day = _day(parts[0])
        _check_window(day, today)
        return day
    if len(parts) != 2:
        raise ValueError("start with the date and time: YYYY-MM-DD HH:MM | title | host")
    fields = [f.strip() for f in rest.split("|")]
    if len(fields) < 2 or len(fields) > 3:
        raise ValueError("expected: YYYY-MM-DD HH:MM | title | host | link")
    plan = make_plan(
        parts[0], parts[1], fields[0], fields[1], fields[2] if len(fields) > 2 else ""
    )
    _check_window(plan.day, today)
    return plan


def _check_window(day: date, today: date) -> None:
    if day < today:
        raise ValueError("date: that day has passed")
    if day > today + timedelta(days=60):
        raise ValueError("date: at most 60 days ahead")


@dataclass(frozen=True, slots=True)
class PlanRow:
    line: int
    plan: LivePlan | None
    problem: str | None = None


def read_plan_csv(path: Path, today: date) -> list[PlanRow]:
    """A live plan CSV: date,time,title,host[,link][,topic_id] with a header."""
    reader = csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig")))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in ("date", "time", "title", "host") if c not in header]
    if missing:
        return [PlanRow(1, None, ", ".join(f"missing column {c!r}" for c in missing))]
    rows = []
    for record in reader:
        raw = {k.strip(): (v or "").strip() for k, v in record.items() if k is not None}
        try:
            plan = make_plan(
                raw.get("date", ""),
                raw.get("time", ""),
                raw.get("title", ""),
                raw.get("host", ""),
                raw.get("link", ""),
                raw.get("topic_id", ""),
            )
            if plan.day < today:
                raise ValueError("date: that day has passed")
        except ValueError as exc:
            rows.append(PlanRow(reader.line_num, None, str(exc)))
            continue
        rows.append(PlanRow(reader.line_num, plan))
    return rows
