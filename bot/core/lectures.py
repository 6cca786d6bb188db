"""Lectures: listing, sign-ups, calendar files, reminders, subscriptions, coordinators' changes."""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from html import escape
from typing import Any

from bot.config import Settings
from bot.content import ContentPack, Format, RenderError
from bot.core.ics import CalendarEvent, write_calendar
from bot.core.replies import Action, Reply
from bot.outbox import Outbox, OutgoingMessage
from bot.storage import Database, Person
from bot.storage.lectures import (
    Lecture,
    LectureRepository,
    LivePlan,
    LivePlanRepository,
    Recipient,
    SubscriptionRepository,
)

log = logging.getLogger(__name__)

N_ = str
# Channels that have an outbox worker; people on other channels get no messages unasked.
SENDING_CHANNELS = ("telegram",)
AUDIENCES = ("public", "students", "civil_servants", "schools", "workplaces", "markets")
DATE_FORMAT = "%d.%m.%Y %H:%M"
MAX_LISTED = 8


def _messages() -> tuple[str, ...]:
    return (
        N_("Upcoming lectures:"),
        N_("Upcoming lectures in {city}:"),
        N_("No lectures are planned yet."),
        N_("All cities"),
        N_("I will attend"),
        N_("Cancel sign-up"),
        N_("Add to calendar"),
        N_("Lecturer"),
        N_("Where"),
        N_("Online"),
        N_("you are signed up"),
        N_("cancelled"),
        N_("moved"),
        N_("You are signed up for “{title}”. I will remind you before it starts."),
        N_("Your sign-up for “{title}” is cancelled."),
        N_("This lecture is no longer available."),
        N_("Tell me about new lectures"),
        N_("Done: I will tell you about new lectures in {city}."),
        N_("Done: I will tell you about new lectures."),
        N_("Stop telling me about new lectures"),
        N_("Done: no more messages about new lectures."),
        N_("Cancelled: the lecture “{title}” on {when} will not take place. We are sorry."),
        N_("Moved: the lecture “{title}” is now on {when}."),
        N_("New lecture: “{title}”, {when}, {city}. Send /lectures to sign up."),
        N_("Next live broadcast: “{title}” with {host}, {when}."),
        N_("No live broadcast is planned yet."),
        N_(
            "Daily announcements and reminders come as Telegram messages. Here, follow our "
            "stories: the day's live broadcast is announced there."
        ),
        N_("Subscribe to the daily announcement"),
        N_("Unsubscribe from the daily announcement"),
        N_("Done: every day you will get the announcement of the live broadcast."),
        N_("Done: no more daily announcements."),
        N_("You are subscribed to the daily announcement."),
        N_("Calendar file for “{title}”."),
    )


CITIZEN_COMMANDS = (
    ("lectures", N_("Upcoming lectures")),
    ("live", N_("The daily live broadcast")),
)

LECTURE_MESSAGES = tuple(dict.fromkeys([*_messages(), *(d for _n, d in CITIZEN_COMMANDS)]))


def ui_messages() -> tuple[str, ...]:
    """The UI strings of lectures, announcements and the coordinators' commands."""
    from bot.core.broadcasts import BROADCAST_MESSAGES
    from bot.core.coordination import COORDINATOR_MESSAGES

    return (*LECTURE_MESSAGES, *BROADCAST_MESSAGES, *COORDINATOR_MESSAGES, *problem_messages())


@dataclass(frozen=True, slots=True)
class Document:
    """A file to send (an .ics calendar)."""

    filename: str
    content: bytes
    caption: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """A reply, perhaps with a file to send after it."""

    reply: Reply
    document: Document | None = None


class LectureError(ValueError):
    """Invalid lecture data: one problem per field, each a UI msgid with its values, so that a
    coordinator reads it in their language (`problems` is the English, for files and logs)."""

    def __init__(self, details: list[tuple[str, dict[str, Any]]]) -> None:
        self.details = details  # values["field"] is the column's name, as in files
        self.problems = [message.format(**values) for message, values in details]
        super().__init__("; ".join(self.problems))

    def translated(self, gettext: Callable[..., str]) -> str:
        """The problems in a language: gettext(message, **values) for each, joined."""
        parts = []
        for message, values in self.details:
            local = {
                k: gettext(FIELD_LABELS.get(v, v)) if k == "field" else v
                for k, v in values.items()
            }
            parts.append(gettext(message, **local))
        return "; ".join(parts)


FIELD_LABELS = {
    "title": N_("Title"),
    "lecturer": N_("Lecturer"),
    "city": N_("City"),
    "venue": N_("Venue"),
}


def problem_messages() -> tuple[str, ...]:
    """The validation problems' msgids (in UI_MESSAGES, so that content check sees them)."""
    return (
        *FIELD_LABELS.values(),
        N_("{field}: needed, at most {high} characters"),
        N_("{field}: at most {high} characters"),
        N_("link: a web address starting with https://"),
        N_("venue or link: a lecture needs a place or an online link"),
        N_("topic_id: unknown topic {topic}"),
        N_("audience: one of {choices}"),
        N_("language: one of {choices}"),
        N_("start: a date and time as YYYY-MM-DD HH:MM"),
        N_("start: must be in the future"),
        N_("duration: minutes, from 10 to 720"),
        N_("No such lecture."),
    )


def parse_local(value: str, tz: Any) -> datetime:
    """'YYYY-MM-DD HH:MM' (or DD.MM.YYYY HH:MM), read in the given time zone."""
    text = " ".join(value.replace("T", " ").split())
    for pattern in ("%Y-%m-%d %H:%M", "%d.%m.%Y %H:%M"):
        try:
            naive = datetime.strptime(text, pattern)  # noqa: DTZ007 - zone added just below
        except ValueError:
            continue
        return naive.replace(tzinfo=tz)
    raise ValueError("a date and time as YYYY-MM-DD HH:MM")


def validate_lecture(
    raw: Mapping[str, Any],
    settings: Settings,
    now: datetime,
    topics: Mapping[str, Any] | None = None,
    *,
    require_future: bool = True,
) -> dict[str, Any]:
    """Check every field; the clean values (start in UTC) or LectureError listing each problem."""
    problems: list[tuple[str, dict[str, Any]]] = []
    clean: dict[str, Any] = {}

    def problem(message: str, **values: Any) -> None:
        problems.append((message, values))

    def text(name: str, low: int, high: int) -> str:
        value = " ".join(str(raw.get(name) or "").split())
        if not low <= len(value) <= high:
            problem(
                "{field}: needed, at most {high} characters"
                if low
                else "{field}: at most {high} characters",
                field=name,
                high=high,
            )
        return value

    clean["title"] = text("title", 1, 200)
    clean["lecturer"] = text("lecturer", 1, 120)
    clean["venue"] = text("venue", 0, 200)
    clean["city"] = text("city", 1, 64)
    link = str(raw.get("link") or "").strip()
    if link and not re.fullmatch(r"https?://\S{3,400}", link):
        problem("link: a web address starting with https://")
    clean["link"] = link
    if not clean["venue"] and not link:
        problem("venue or link: a lecture needs a place or an online link")
    topic = str(raw.get("topic_id") or "").strip() or None
    if topic is not None and topics is not None and topic not in topics:
        problem("topic_id: unknown topic {topic}", topic=topic)
    clean["topic_id"] = topic
    audience = str(raw.get("audience") or "public").strip().lower().replace(" ", "_")
    if audience not in AUDIENCES:
        problem("audience: one of {choices}", choices=", ".join(AUDIENCES))
    clean["audience"] = audience
    language = str(raw.get("language") or "").strip().lower()
    if language not in settings.languages:
        problem("language: one of {choices}", choices=", ".join(settings.languages))
    clean["language"] = language
    start_raw = raw.get("start")
    if isinstance(start_raw, datetime):
        clean["starts_at"] = start_raw
    else:
        try:
            clean["starts_at"] = to_utc(parse_local(str(start_raw or ""), settings.tz))
        except ValueError:
            problem("start: a date and time as YYYY-MM-DD HH:MM")
    if require_future and "starts_at" in clean and clean["starts_at"] <= now:
        problem("start: must be in the future")
    duration = str(raw.get("duration") or "90").strip()
    if not duration.isdigit() or not 10 <= int(duration) <= 720:
        problem("duration: minutes, from 10 to 720")
    else:
        clean["duration_min"] = int(duration)
    if problems:
        raise LectureError(problems)
    return clean


def fits(value: str) -> bool:
    """Whether an action value fits in a button's callback data (64 bytes in all)."""
    return len(value.encode("utf-8")) <= 48


def to_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


class LectureService:
    """Everything about lectures and the live broadcast that citizens and coordinators do."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        content: ContentPack,
        outbox: Outbox,
        clock: Callable[[], datetime],
    ) -> None:
        self.settings = settings
        self.db = db
        self.content = content
        self.outbox = outbox
        self.clock = clock
        self._listeners: list[Callable[[], Awaitable[object]]] = []

    # --- helpers ---------------------------------------------------------------------------------

    def t(self, lang: str, message: str, **values: Any) -> str:
        return self.content.catalogs.gettext(lang, message, **values)

    def lang(self, language: str | None) -> str:
        if language in self.settings.languages:
            return str(language)
        return self.settings.default_language

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.settings.tz)

    def when(self, moment: datetime) -> str:
        return self.local(moment).strftime(DATE_FORMAT)

    def today(self) -> date:
        return self.local(self.clock()).date()

    def on_change(self, listener: Callable[[], Awaitable[object]]) -> None:
        """Call listener after every change to the schedule (the scheduler rebuilds its jobs)."""
        self._listeners.append(listener)

    async def changed(self) -> None:
        for listener in self._listeners:
            try:
                await listener()
            except Exception:
                log.exception("a schedule listener failed")

    @property
    def repo(self) -> LectureRepository:
        return LectureRepository(self.db.connection)

    async def get(self, lecture_id: int) -> Lecture | None:
        return await self.repo.get(lecture_id)

    async def upcoming(self, city: str | None = None, limit: int = 50) -> list[Lecture]:
        """Active lectures that have not yet ended, soonest first."""
        now = self.clock()
        found = await self.repo.upcoming(now - timedelta(hours=12), city, limit * 2)
        return [lec for lec in found if lec.starts_at + timedelta(minutes=lec.duration_min) > now][
            :limit
        ]

    def describe(self, lecture: Lecture, lang: str, fmt: Format, signed: bool = False) -> str:
        """A lecture in a few lines, for a list or a preview."""
        esc = escape if fmt == "html" else str
        title = esc(lecture.title)
        lines = [f"<b>{title}</b>" if fmt == "html" else title]
        status = ""
        if lecture.status == "cancelled":
            status = f" ({self.t(lang, 'cancelled')})"
        elif lecture.status == "moved":
            status = f" ({self.t(lang, 'moved')})"
        lines.append(f"{self.when(lecture.starts_at)} · {esc(lecture.city)}{status}")
        if lecture.venue:
            lines.append(f"{self.t(lang, 'Where')}: {esc(lecture.venue)}")
        if lecture.link:
            lines.append(f"{self.t(lang, 'Online')}: {esc(lecture.link)}")
        lines.append(f"{self.t(lang, 'Lecturer')}: {esc(lecture.lecturer)}")
        if signed:
            lines.append(f"✓ {self.t(lang, 'you are signed up')}")
        return "\n".join(lines)

    # --- citizens --------------------------------------------------------------------------------

    async def listing(self, person: Person, city: str | None, fmt: Format) -> Reply:
        """/lectures: upcoming lectures (in one city, if chosen) with their buttons."""
        lang = self.lang(person.language)
        lectures = await self.upcoming(city, MAX_LISTED)
        mine = await self.repo.signed_up(person.id)
        actions: list[Action] = []
        if not lectures:
            text = self.t(lang, "No lectures are planned yet.")
        else:
            heading = (
                self.t(lang, "Upcoming lectures in {city}:", city=city)
                if city
                else self.t(lang, "Upcoming lectures:")
            )
            blocks = []
            for number, lecture in enumerate(lectures, start=1):
                signed = lecture.id in mine
                blocks.append(f"{number}. " + self.describe(lecture, lang, fmt, signed))
                short = lecture.title if len(lecture.title) <= 28 else lecture.title[:27] + "…"
                if signed:
                    label = f"✕ {number}. {self.t(lang, 'Cancel sign-up')}"
                    actions.append(Action("lecture", f"unattend/{lecture.id}", label))
                else:
                    label = f"✓ {number}. {self.t(lang, 'I will attend')}: {short}"
                    actions.append(Action("lecture", f"attend/{lecture.id}", label))
                actions.append(
                    Action(
                        "lecture",
                        f"ics/{lecture.id}",
                        f"📅 {number}. {self.t(lang, 'Add to calendar')}",
                    )
                )
            text = heading + "\n\n" + "\n\n".join(blocks)
        cities = await self.repo.cities(self.clock())
        if len(cities) > 1 or city:
            for name in cities[:6]:
                if name != city and fits(f"city/{name}"):
                    actions.append(Action("lecture", f"city/{name}", f"📍 {name}"))
            if city:
                actions.append(Action("lecture", "city/", self.t(lang, "All cities")))
        subscribed = await SubscriptionRepository(self.db.connection).has(person.id, "lectures")
        if subscribed:
            actions.append(
                Action("lecture", "unnotify", self.t(lang, "Stop telling me about new lectures"))
            )
        else:
            value = f"notify/{city or ''}"
            actions.append(
                Action(
                    "lecture",
                    value if fits(value) else "notify/",
                    self.t(lang, "Tell me about new lectures"),
                )
            )
        return Reply(text, tuple(actions))

    async def act(self, person: Person, value: str, fmt: Format) -> Outcome:
        """A lecture button: attend/<id>, unattend/<id>, ics/<id>, city/<name>, notify/<city>."""
        lang = self.lang(person.language)
        op, _sep, arg = value.partition("/")
        if op == "city":
            return Outcome(await self.listing(person, arg or None, fmt))
        if op == "notify":
            return Outcome(await self.subscribe_lectures(person, arg))
        if op == "unnotify":
            async with self.db.transaction() as conn:
                await SubscriptionRepository(conn).remove(person.id, "lectures")
            return Outcome(Reply(self.t(lang, "Done: no more messages about new lectures.")))
        lecture = await self.repo.get(int(arg)) if arg.isdigit() else None
        if op not in ("attend", "unattend", "ics") or lecture is None:
            return Outcome(Reply(self.t(lang, "This lecture is no longer available.")))
        title = escape(lecture.title) if fmt == "html" else lecture.title
        if op == "ics":
            return Outcome(
                Reply(self.t(lang, "Calendar file for “{title}”.", title=title)),
                self.calendar_file(lecture),
            )
        if op == "unattend":
            async with self.db.transaction() as conn:
                await LectureRepository(conn).cancel_sign_up(lecture.id, person.id)
            return Outcome(
                Reply(self.t(lang, "Your sign-up for “{title}” is cancelled.", title=title))
            )
        if not lecture.active or lecture.starts_at <= self.clock():
            return Outcome(Reply(self.t(lang, "This lecture is no longer available.")))
        async with self.db.transaction() as conn:
            await LectureRepository(conn).sign_up(lecture.id, person.id, self.clock())
        text = self.t(
            lang,
            "You are signed up for “{title}”. I will remind you before it starts.",
            title=title,
        )
        return Outcome(
            Reply(
                text,
                (
                    Action("lecture", f"ics/{lecture.id}", self.t(lang, "Add to calendar")),
                    Action("lecture", f"unattend/{lecture.id}", self.t(lang, "Cancel sign-up")),
                ),
            )
        )

    async def subscribe_lectures(self, person: Person, city: str) -> Reply:
        lang = self.lang(person.language)
        async with self.db.transaction() as conn:
            await SubscriptionRepository(conn).add(
                person.id, "lectures", self.clock(), city=city, language=lang
            )
        if city:
            return Reply(
                self.t(lang, "Done: I will tell you about new lectures in {city}.", city=city)
            )
        return Reply(self.t(lang, "Done: I will tell you about new lectures."))

    def calendar_file(self, lecture: Lecture) -> Document:
        return Document(
            filename=f"lecture-{lecture.id}.ics",
            content=self.ics([lecture]).encode("utf-8"),
            caption=lecture.title,
        )

    def ics(self, lectures: list[Lecture]) -> str:
        events = [
            CalendarEvent(
                uid=lecture.uid,
                summary=lecture.title,
                start=lecture.starts_at,
                end=lecture.starts_at + timedelta(minutes=lecture.duration_min),
                location=", ".join(p for p in (lecture.venue, lecture.city) if p),
                url=lecture.link,
                description=lecture.lecturer,
                sequence=lecture.sequence,
                cancelled=lecture.status == "cancelled",
                extra={
                    "city": lecture.city,
                    "language": lecture.language,
                    "audience": lecture.audience,
                    "lecturer": lecture.lecturer,
                    **({"topic": lecture.topic_id} if lecture.topic_id else {}),
                },
            )
            for lecture in lectures
        ]
        return write_calendar(events, self.clock())

    # --- the live broadcast, for citizens ------------------------------------------------------

    async def next_live(self) -> LivePlan | None:
        """Today's broadcast if it has not begun, else the next planned one."""
        now_local = self.local(self.clock())
        plans = await LivePlanRepository(self.db.connection).between(
            now_local.date(), now_local.date() + timedelta(days=60)
        )
        for plan in plans:
            if plan.day > now_local.date() or plan.time >= now_local.strftime("%H:%M"):
                return plan
        return None

    async def live(self, person: Person, fmt: Format = "html") -> Reply:
        """/live: the next broadcast, and the subscribe or unsubscribe button."""
        lang = self.lang(person.language)
        plan = await self.next_live()
        if plan is None:
            text = self.t(lang, "No live broadcast is planned yet.")
        else:
            when = f"{plan.day.strftime('%d.%m.%Y')} {plan.time}"
            text = self.t(
                lang,
                "Next live broadcast: “{title}” with {host}, {when}.",
                title=escape(plan.title) if fmt == "html" else plan.title,
                host=escape(plan.host) if fmt == "html" else plan.host,
                when=when,
            )
            if plan.link:
                text += "\n" + (escape(plan.link) if fmt == "html" else plan.link)
        if person.channel == "instagram":  # no direct-message broadcasts there: the story is it
            note = self.t(
                lang,
                "Daily announcements and reminders come as Telegram messages. Here, follow our "
                "stories: the day's live broadcast is announced there.",
            )
            return Reply(f"{text}\n\n{note}")
        subscribed = await SubscriptionRepository(self.db.connection).has(person.id, "live")
        if subscribed:
            text += "\n\n" + self.t(lang, "You are subscribed to the daily announcement.")
            action = Action(
                "live", "unsub", self.t(lang, "Unsubscribe from the daily announcement")
            )
        else:
            action = Action("live", "sub", self.t(lang, "Subscribe to the daily announcement"))
        return Reply(text, (action,))

    async def set_live_subscription(self, person: Person, on: bool) -> Reply:
        lang = self.lang(person.language)
        async with self.db.transaction() as conn:
            repo = SubscriptionRepository(conn)
            if on:
                await repo.add(person.id, "live", self.clock())
            else:
                await repo.remove(person.id, "live")
        if on:
            return Reply(
                self.t(
                    lang, "Done: every day you will get the announcement of the live broadcast."
                ),
                (
                    Action(
                        "live", "unsub", self.t(lang, "Unsubscribe from the daily announcement")
                    ),
                ),
            )
        return Reply(
            self.t(lang, "Done: no more daily announcements."),
            (Action("live", "sub", self.t(lang, "Subscribe to the daily announcement")),),
        )

    # --- coordinators ----------------------------------------------------------------------------

    def validate(self, raw: Mapping[str, Any], *, require_future: bool = True) -> dict[str, Any]:
        return validate_lecture(
            raw, self.settings, self.clock(), self.content.scripts, require_future=require_future
        )

    async def create(self, fields: dict[str, Any], uid: str | None = None) -> Lecture:
        """Save a validated lecture and tell the subscribers of its city and language."""
        now = self.clock()
        values = {**fields, "uid": uid or f"{secrets.token_hex(8)}@senim"}
        async with self.db.transaction() as conn:
            lecture = await LectureRepository(conn).add(values, now)
        log.info("lecture %s scheduled", lecture.id)
        await self._announce_new(lecture)
        await self.changed()
        return lecture

    async def _announce_new(self, lecture: Lecture) -> int:
        if lecture.starts_at <= self.clock():
            return 0
        subscribers = await SubscriptionRepository(self.db.connection).lecture_subscribers(
            lecture.city, lecture.language
        )
        messages = [
            self._message(
                f"newlecture:{lecture.id}:{r.person_id}",
                r,
                self.t(
                    self.lang(r.language),
                    "New lecture: “{title}”, {when}, {city}. Send /lectures to sign up.",
                    title=escape(lecture.title),
                    when=self.when(lecture.starts_at),
                    city=escape(lecture.city),
                ),
            )
            for r in subscribers
            if r.channel in SENDING_CHANNELS
        ]
        return await self.outbox.enqueue(messages) if messages else 0

    def _message(
        self, key: str, recipient: Recipient, text: str, actions: tuple[Action, ...] = ()
    ) -> OutgoingMessage:
        return OutgoingMessage(
            key=key,
            channel=recipient.channel,
            chat_id=recipient.platform_id,
            text=text,
            actions=actions,
            person_id=recipient.person_id,
        )

    async def update(self, lecture_id: int, fields: dict[str, Any]) -> Lecture:
        """Change a lecture; a new start time marks it moved and tells everyone signed up."""
        old = await self.repo.get(lecture_id)
        if old is None:
            raise LectureError([("No such lecture.", {})])
        changes = {k: v for k, v in fields.items() if getattr(old, k, object()) != v}
        moved = "starts_at" in changes
        if moved:
            changes["status"] = "moved"
        if not changes:
            return old
        async with self.db.transaction() as conn:
            await LectureRepository(conn).update(lecture_id, changes, self.clock())
        new = await self.repo.get(lecture_id)
        assert new is not None
        log.info("lecture %s changed%s", lecture_id, " (moved)" if moved else "")
        if moved:
            await self._notify(
                new,
                "moved",
                lambda lang: self.t(
                    lang,
                    "Moved: the lecture “{title}” is now on {when}.",
                    title=escape(new.title),
                    when=self.when(new.starts_at),
                ),
            )
        await self.changed()
        return new

    async def cancel(self, lecture_id: int) -> Lecture | None:
        """Cancel a lecture and tell everyone signed up."""
        lecture = await self.repo.get(lecture_id)
        if lecture is None or lecture.status == "cancelled":
            return lecture
        async with self.db.transaction() as conn:
            await LectureRepository(conn).update(lecture_id, {"status": "cancelled"}, self.clock())
        cancelled = await self.repo.get(lecture_id)
        assert cancelled is not None
        log.info("lecture %s cancelled", lecture_id)
        await self._notify(
            cancelled,
            "cancelled",
            lambda lang: self.t(
                lang,
                "Cancelled: the lecture “{title}” on {when} will not take place. We are sorry.",
                title=escape(lecture.title),
                when=self.when(lecture.starts_at),
            ),
        )
        await self.changed()
        return cancelled

    async def _notify(self, lecture: Lecture, what: str, text: Callable[[str], str]) -> int:
        attendees = await self.repo.attendees(lecture.id)
        messages = [
            self._message(
                f"{what}:{lecture.id}:{lecture.sequence}:{r.person_id}",
                r,
                text(self.lang(r.language)),
            )
            for r in attendees
            if r.channel in SENDING_CHANNELS
        ]
        return await self.outbox.enqueue(messages) if messages else 0

    # --- reminders -------------------------------------------------------------------------------

    def reminder_key(self, lecture: Lecture, person_id: int, hours: float) -> str:
        # The sequence is part of the key: a moved lecture gets its reminders again.
        return f"reminder:{lecture.id}:{person_id}:{hours:g}h:{lecture.sequence}"

    def reminder_time(self, lecture: Lecture, hours: float) -> datetime:
        return lecture.starts_at - timedelta(hours=hours)

    def render_reminder(self, lecture: Lecture, hours: float, lang: str, fmt: Format) -> str:
        context = {
            "lang": lang,
            "org": self.settings.organisation.name,
            "hours": hours,
            "lecture": {
                "title": lecture.title,
                "when": self.when(lecture.starts_at),
                "city": lecture.city,
                "place": lecture.venue,
                "link": lecture.link,
                "lecturer": lecture.lecturer,
            },
        }
        try:
            return self.content.render_template("reminder", lang, fmt, context)
        except RenderError:
            log.exception("the reminder template (%s) does not render", lang)
            return f"{lecture.title}: {self.when(lecture.starts_at)}"

    async def send_reminders(self, lecture_id: int, hours: float) -> int:
        """Queue the reminder for everyone signed up; nothing once the lecture has started."""
        lecture = await self.repo.get(lecture_id)
        if lecture is None or not lecture.active:
            return 0
        if lecture.starts_at <= self.clock():
            log.warning("reminder for lecture %s skipped: it has started", lecture_id)
            return 0
        messages = []
        for r in await self.repo.attendees(lecture.id):
            if r.channel not in SENDING_CHANNELS:
                continue
            lang = self.lang(r.language)
            fmt: Format = "html" if r.channel == "telegram" else "plain"
            messages.append(
                self._message(
                    self.reminder_key(lecture, r.person_id, hours),
                    r,
                    self.render_reminder(lecture, hours, lang, fmt),
                    (
                        Action("lecture", f"ics/{lecture.id}", self.t(lang, "Add to calendar")),
                        Action(
                            "lecture", f"unattend/{lecture.id}", self.t(lang, "Cancel sign-up")
                        ),
                    ),
                )
            )
        added = await self.outbox.enqueue(messages) if messages else 0
        log.info("lecture %s: %d reminder(s) queued (%sh before)", lecture_id, added, f"{hours:g}")
        return added
