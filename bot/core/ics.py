"""A small iCalendar (RFC 5545) writer and reader for lectures, with no dependency."""

# Writing: CRLF line ends, TEXT escaping, lines folded at 75 octets, UTC times, UID and DTSTAMP.
# Reading: unfolds lines, unescapes TEXT, and understands UTC, TZID and floating local times;
# enough for calendars exported by common tools and for our own export. The few properties we
# need do not justify a package.

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo

PRODID = "-//Senim//Lectures//EN"


def escape_text(value: str) -> str:
    """TEXT value escaping (RFC 5545 3.3.11)."""
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


def unescape_text(value: str) -> str:
    out: list[str] = []
    chars = iter(value)
    for char in chars:
        if char != "\\":
            out.append(char)
            continue
        nxt = next(chars, "")
        out.append("\n" if nxt in ("n", "N") else nxt)
    return "".join(out)


def fold(line: str) -> str:
    """Fold a content line into parts of at most 75 octets, never splitting a UTF-8 character."""
    parts: list[str] = []
    current = ""
    size = 0
    limit = 75
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > limit:
            parts.append(current)
            current, size, limit = "", 0, 74  # continuation lines start with a space
        current += char
        size += width
    parts.append(current)
    return "\r\n ".join(parts)


def format_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


@dataclass(frozen=True, slots=True)
class CalendarEvent:
    """One VEVENT: what a lecture becomes in a calendar, and what an import reads."""

    uid: str
    summary: str
    start: datetime
    end: datetime
    location: str = ""
    url: str = ""
    description: str = ""
    sequence: int = 0
    cancelled: bool = False
    extra: dict[str, str] = field(default_factory=dict)


def write_calendar(events: Iterable[CalendarEvent], stamp: datetime) -> str:
    """A VCALENDAR with the events; DTSTAMP is the given moment."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODID}", "CALSCALE:GREGORIAN"]
    for event in events:
        lines += [
            "BEGIN:VEVENT",
            f"UID:{event.uid}",
            f"DTSTAMP:{format_utc(stamp)}",
            f"DTSTART:{format_utc(event.start)}",
            f"DTEND:{format_utc(event.end)}",
            f"SUMMARY:{escape_text(event.summary)}",
            f"SEQUENCE:{event.sequence}",
            f"STATUS:{'CANCELLED' if event.cancelled else 'CONFIRMED'}",
        ]
        if event.location:
            lines.append(f"LOCATION:{escape_text(event.location)}")
        if event.url:
            lines.append(f"URL:{event.url}")
        if event.description:
            lines.append(f"DESCRIPTION:{escape_text(event.description)}")
        for name, value in sorted(event.extra.items()):
            lines.append(f"X-SENIM-{name.upper()}:{escape_text(value)}")
        lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)


class CalendarError(ValueError):
    """An iCalendar file or event that cannot be read; line is 1-based in the file."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


_PARAM = re.compile(r'([A-Za-z0-9-]+)=("[^"]*"|[^;:]*)')


def _split(line: str) -> tuple[str, dict[str, str], str]:
    """NAME;PARAM=V:VALUE -> (NAME, params, VALUE)."""
    in_quotes = False
    for index, char in enumerate(line):
        if char == '"':
            in_quotes = not in_quotes
        elif char == ":" and not in_quotes:
            head, value = line[:index], line[index + 1 :]
            break
    else:
        raise ValueError("no ':' in the line")
    name, _sep, rest = head.partition(";")
    params = {k.upper(): v.strip('"') for k, v in _PARAM.findall(rest)}
    return name.upper(), params, value


def _parse_time(value: str, params: dict[str, str], default_tz: tzinfo) -> datetime:
    if params.get("VALUE") == "DATE" or len(value) == 8:
        raise ValueError("an all-day date has no start time")
    if value.endswith("Z"):
        return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    zone: tzinfo = default_tz
    if "TZID" in params:
        try:
            zone = zoneinfo.ZoneInfo(params["TZID"])
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {params['TZID']!r}") from None
    return datetime.strptime(value, "%Y%m%dT%H%M%S").replace(tzinfo=zone).astimezone(UTC)


_DURATION = re.compile(r"^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


def _parse_duration(value: str) -> timedelta:
    match = _DURATION.match(value)
    if not match or value in ("P", "PT"):
        raise ValueError(f"not a duration: {value!r}")
    weeks, days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)


def read_calendar(
    text: str, default_tz: tzinfo
) -> list[tuple[int, CalendarEvent | CalendarError]]:
    """Each VEVENT with the line it starts on: the event, or the problem that spoils it."""
    raw = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    lines: list[tuple[int, str]] = []
    for number, line in enumerate(raw, start=1):
        if line[:1] in (" ", "\t") and lines:
            lines[-1] = (lines[-1][0], lines[-1][1] + line[1:])
        elif line.strip():
            lines.append((number, line))
    if not lines or lines[0][1].strip().upper() != "BEGIN:VCALENDAR":
        return [(1, CalendarError(1, "not an iCalendar file (no BEGIN:VCALENDAR)"))]
    results: list[tuple[int, CalendarEvent | CalendarError]] = []
    current: dict[str, tuple[dict[str, str], str]] | None = None
    start_line = 0
    depth = 0
    for number, line in lines:
        try:
            name, params, value = _split(line)
        except ValueError:
            if current is not None:
                results.append((number, CalendarError(number, f"unreadable line {line[:40]!r}")))
                current = None
            continue
        if name == "BEGIN" and value.upper() == "VEVENT":
            current, start_line, depth = {}, number, 0
        elif current is not None and name == "BEGIN":
            depth += 1  # a VALARM inside the event
        elif current is not None and name == "END" and value.upper() != "VEVENT":
            depth -= 1
        elif current is not None and name == "END":
            results.append((start_line, _event(current, start_line, default_tz)))
            current = None
        elif current is not None and depth == 0:
            current.setdefault(name, (params, value))
    return results


def _event(
    props: dict[str, tuple[dict[str, str], str]], line: int, default_tz: tzinfo
) -> CalendarEvent | CalendarError:
    def text(name: str) -> str:
        return unescape_text(props[name][1]).strip() if name in props else ""

    if "DTSTART" not in props:
        return CalendarError(line, "the event has no DTSTART")
    try:
        start = _parse_time(props["DTSTART"][1], props["DTSTART"][0], default_tz)
        if "DTEND" in props:
            end = _parse_time(props["DTEND"][1], props["DTEND"][0], default_tz)
        elif "DURATION" in props:
            end = start + _parse_duration(props["DURATION"][1])
        else:
            end = start + timedelta(hours=1)
    except ValueError as exc:
        return CalendarError(line, str(exc))
    extra = {
        name[len("X-SENIM-") :].lower(): text(name)
        for name in props
        if name.startswith("X-SENIM-")
    }
    sequence = text("SEQUENCE")
    return CalendarEvent(
        uid=text("UID"),
        summary=text("SUMMARY"),
        start=start,
        end=end,
        location=text("LOCATION"),
        url=text("URL"),
        description=text("DESCRIPTION"),
        sequence=int(sequence) if sequence.isdigit() else 0,
        cancelled=text("STATUS").upper() == "CANCELLED",
        extra=extra,
    )
