"""The specialist queue at work: taking tickets, the conversation through the bot, closing,
handing over, targets and working hours, consent, the audit log and retention.

Channel-neutral: the specialists' workspace (a Telegram forum group, or the terminal in the demo)
is behind the Workspace protocol, and every message to a citizen or into a ticket's topic goes
through the persistent outbox, written in the same transaction as the transcript line it carries.
"""

from __future__ import annotations

import asyncio
import html
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

import aiosqlite

from bot.config import Settings
from bot.content import ContentPack, Format
from bot.core.hours import WorkingHours
from bot.core.people import PeopleService
from bot.core.replies import Action, Reply, split_message
from bot.core.roster import Roster, RosterError
from bot.core.tickets import Specialist, TicketService
from bot.outbox import Media, Outbox, OutgoingMessage
from bot.storage import Database, PeopleRepository, Person, Ticket, TicketRepository
from bot.storage.queue import AuditRepository, StateRepository, TicketMessageRepository

log = logging.getLogger(__name__)

N_ = str

OUTCOMES: dict[str, str] = {
    "answered": N_("Answered"),
    "referred": N_("Referred to another service"),
    "follow_up": N_("Follow-up planned"),
    "no_response": N_("No response"),
    "inappropriate": N_("Inappropriate"),
}
# Stored values as the workspace shows them (topic names keep the stored skill: #42 · ru · law).
VALUE_LABELS: dict[str, str] = {
    "urgent": N_("urgent"),
    "normal": N_("normal"),
    "theology": N_("theology"),
    "psychology": N_("psychology"),
    "law": N_("law"),
    "social": N_("social"),
    "female": N_("female"),
    "male": N_("male"),
    "active": N_("active"),
    "paused": N_("paused"),
    "removed": N_("removed"),
}
RELAYED_KINDS = ("text", "photo", "document", "voice", "video", "audio", "animation")
COMMENT_WINDOW = timedelta(hours=2)
# tickets.rating_asked: where the citizen is in rating a closed ticket.
RATING_ASKED, COMMENT_INVITED, RATING_DONE = 1, 2, 3
NO_TICKET_CACHE = 20_000
NO_TICKET_TTL = 60.0  # seconds
QUEUE_LINES = 15


def _messages() -> tuple[str, ...]:
    """UI strings of the queue (msgids in content/locales)."""
    return (
        # citizens
        N_("You are number {position} in line."),
        N_(
            "Our specialists work {hours} ({timezone}). Your request is saved; expect an answer "
            "after {when}."
        ),
        N_(
            "Specialists have been alerted now, even outside working hours. If you are in "
            "danger, call:"
        ),
        N_("Prefer a woman"),
        N_("Prefer a man"),
        N_("Cancel my request"),
        N_(
            "Noted: a specialist of your preferred gender will take your request when one is free."
        ),
        N_("I have added this to your request. A specialist will see it."),
        N_("{name} has taken your request and will write to you here."),
        N_("Your conversation continues with {name}."),
        N_(
            "It is taking longer than usual, sorry. Your request is still in line (number "
            "{position}); a specialist will write to you here."
        ),
        N_("The specialist has closed this conversation. How much did it help, from 1 to 5?"),
        N_("Thank you for your rating! If you like, write a comment in one message."),
        N_("No comment"),
        N_("Thank you! Your comment has been passed on."),
        N_("This rating is no longer open."),
        N_("Your request has been cancelled. You can ask for a specialist again at any time."),
        N_("The conversation has ended. Thank you for writing. You can ask again at any time."),
        N_("You have no open request."),
        N_(
            "The specialist {name} asks whether you agree to share your name and username with "
            "them. You do not have to."
        ),
        N_("Yes, share"),
        N_("No, thank you"),
        N_("Shared. Thank you."),
        N_("Nothing was shared."),
        N_("Your message was passed on to {name}, who helped you before."),
        N_("That option is no longer available. Here is the menu."),
        N_("Thank you for writing."),
        # the specialists' workspace
        N_("Take next"),
        N_("Queue: {waiting} waiting, {urgent} urgent."),
        N_("No one is waiting."),
        N_("{count} more"),
        N_("This is for registered specialists."),
        N_("This is for coordinators."),
        N_("This ticket is not assigned to you."),
        N_("No waiting ticket matches your languages and skills."),
        N_("You have {count} open tickets, your maximum. Close one first."),
        N_("The specialists' group is not set up, so tickets cannot be taken yet."),
        N_("The topic for the ticket could not be created; the ticket is back in the queue."),
        N_("Ticket #{id} is yours: see its topic."),
        N_("Ticket #{id}"),
        N_("Citizen: {pseudonym}. Language: {language}. Needs: {skill}. Priority: {priority}."),
        N_("Channel: {channel}. Reason: {reason}. Waited: {waited} min."),
        N_("Follows ticket #{previous}."),
        N_("Prefers a {gender} specialist."),
        N_(
            "Write here to answer: your messages reach the citizen signed {name}. /note text "
            "is an internal note; /ask_contact asks for contact details; /transfer; /close."
        ),
        N_("The conversation so far:"),
        N_("(nothing yet)"),
        N_("Internal note: not sent to the citizen."),
        N_("This ticket is closed; messages here are not sent."),
        N_("The citizen cannot be reached (they blocked the bot); the ticket is marked so."),
        N_("How did it end?"),
        N_("Closed: {outcome}."),
        N_("Hand the ticket to:"),
        N_("Back to the queue"),
        N_("Returned to the queue by {name}."),
        N_("Offered to {name}; waiting for their answer."),
        N_("{name} offers you ticket #{id} ({language} · {skill}). Take it?"),
        N_("Accept"),
        N_("Decline"),
        N_("{name} declined ticket #{id}."),
        N_("Handed over from {old} to {new}."),
        N_("Ticket #{id} is now yours: see its topic."),
        N_("No other specialist is available for this language and skill."),
        N_("The citizen was asked whether they agree to share contact details."),
        N_("The citizen agreed to share: {contact}"),
        N_("The citizen declined to share contact details."),
        N_("Possible crisis in the citizen's last message: the ticket is now urgent."),
        N_("Urgent ticket #{id} ({language} · {skill}) is waiting. Take it now."),
        N_(
            "Ticket #{id} ({priority} · {language} · {skill}) has waited {waited} min, past "
            "its {target} min target."
        ),
        N_("The citizen of ticket #{previous} wrote again: ticket #{id} prefers you (/next)."),
        N_("The citizen ended the conversation."),
        N_("Ticket #{id} is not open."),
        N_("Specialist"),
        *VALUE_LABELS.values(),
        # coordinators
        N_("Specialists:"),
        N_("No specialists yet. Add one with /specialist_add."),
        N_("Pause {name}"),
        N_("Resume {name}"),
        N_("Remove {name}"),
        N_("{name}: {status}."),
        N_("Added {name}."),
        N_(
            "Usage: /specialist_add <telegram id> <skills> <languages> <display name> "
            "[gender=female|male] [max=5], for example: /specialist_add 5550001 theology,law "
            "ru,kk Aigerim"
        ),
        N_("Usage: /reassign <ticket number> <specialist's telegram id>"),
        N_("Usage: /open_ticket <pseudonym> [urgent]"),
        N_("No citizen has the pseudonym {pseudonym}."),
        N_("Ticket #{id} is open for {pseudonym}."),
        N_("A specialist will write to you here soon."),
        N_("Your Telegram id: {id}"),
        N_(
            "In a ticket's topic: write to answer the citizen; /note text for an internal note; "
            "/ask_contact; /history; /transfer; /close. Anywhere: /next takes the next ticket, "
            "/queue shows the queue."
        ),
    )


@dataclass(frozen=True, slots=True)
class Incoming:
    """What a person sent: its kind, text (or caption), file reference and platform id."""

    kind: str
    text: str = ""
    media_ref: str | None = None
    ref: str = ""


@dataclass(frozen=True, slots=True)
class Notice:
    """What the bot says back to a specialist or coordinator where they acted (plain text)."""

    text: str
    actions: tuple[Action, ...] = ()
    alert: bool = False


class WorkspaceError(Exception):
    """The workspace (the specialists' group) refused an operation."""


class Workspace(Protocol):
    """The specialists' shared space: a Telegram forum group, or the terminal in the demo."""

    channel: str
    chat_id: str
    fmt: Format

    async def open_topic(self, name: str) -> int: ...

    async def reopen_topic(self, thread_id: int, name: str) -> None: ...

    async def close_topic(self, thread_id: int, name: str) -> None: ...

    async def delete_topic(self, thread_id: int) -> None: ...

    async def post_pinned(self, thread_id: int, text: str) -> None: ...

    async def show_queue(self, text: str, actions: tuple[Action, ...]) -> None: ...


TEXT_LIMIT = 4096  # Telegram's limits for a message and for a caption
CAPTION_LIMIT = 1024


def _pieces(
    make: Callable[[str, str, Media | None], OutgoingMessage | None],
    key: str,
    text: str,
    media: Media | None,
    short: str,
) -> list[OutgoingMessage]:
    """A relayed message in as many messages as the platform's limits need: a caption too long
    goes out as the file with `short` (the signature) and then the text; a long text in parts.
    Each piece's key derives from the original's, so a repeat is still recognised."""
    pieces: list[tuple[str, Media | None]] = []
    if media is not None:
        if len(text) <= CAPTION_LIMIT:
            pieces.append((text, media))
            text = ""
        else:
            pieces.append((short, media))
    if text:
        pieces += [(part, None) for part in split_message(text, TEXT_LIMIT)]
    made = [
        make(key if index == 0 else f"{key}:{index}", part, file)
        for index, (part, file) in enumerate(pieces)
    ]
    return [m for m in made if m is not None]


def _age_minutes(since: str | None, now: datetime) -> int:
    if not since:
        return 0
    return max(0, int((now - datetime.fromisoformat(since)).total_seconds() // 60))


class QueueService:
    """Everything specialists and coordinators do with tickets, and the citizen's side of it."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        content: ContentPack,
        people: PeopleService,
        tickets: TicketService,
        roster: Roster,
        outbox: Outbox,
        clock: Callable[[], datetime],
    ) -> None:
        self.settings = settings
        self.db = db
        self.content = content
        self.people = people
        self.tickets = tickets
        self.roster = roster
        self.outbox = outbox
        self.clock = clock
        self.hours = WorkingHours(settings.queue.working_hours, settings.tz)
        self.workspace: Workspace | None = None
        self.ws_lang = settings.queue.workspace_language or settings.default_language
        self._sequence = 0
        self._refresh: asyncio.Task[None] | None = None
        self._refresh_again = False
        # People seen to have no ticket at all, so that their questions skip a database read.
        # Every ticket opens through open_ticket(), which forgets the person here; entries also
        # expire, as PeopleService's cache does (one process owns the database).
        self._without_ticket: OrderedDict[int, float] = OrderedDict()

    def _known_without_ticket(self, person_id: int) -> bool:
        seen = self._without_ticket.get(person_id)
        if seen is None:
            return False
        if time.monotonic() - seen > NO_TICKET_TTL:
            del self._without_ticket[person_id]
            return False
        return True

    def attach(self, workspace: Workspace) -> None:
        self.workspace = workspace

    # --- small helpers ---------------------------------------------------------------------------

    def t(self, lang: str, message: str, **values: Any) -> str:
        return self.content.catalogs.gettext(lang, message, **values)

    def w(self, message: str, **values: Any) -> str:
        """A workspace string, in the workspace's language."""
        return self.t(self.ws_lang, message, **values)

    def label(self, value: str) -> str:
        """A stored value (priority, skill, gender, status) in the workspace's language."""
        return self.w(VALUE_LABELS[value]) if value in VALUE_LABELS else value

    def lang_of(self, person: Person) -> str:
        lang = person.language
        return lang if lang in self.settings.languages else self.settings.default_language

    def _key(self, *parts: object) -> str:
        """A unique outbox key for a notice (relays use the platform's message id instead)."""
        self._sequence += 1
        stamp = self.clock().strftime("%Y%m%dT%H%M%S%f")
        return ":".join(str(p) for p in (*parts, stamp, self._sequence))

    @staticmethod
    def fmt_of(channel: str) -> Format:
        return "html" if channel == "telegram" else "plain"

    def _esc(self, text: str, fmt: Format) -> str:
        return html.escape(text, quote=False) if fmt == "html" else text

    def _bold(self, text: str, fmt: Format) -> str:
        return f"<b>{html.escape(text, quote=False)}</b>" if fmt == "html" else text

    def target_minutes(self, ticket: Ticket) -> int:
        first = self.settings.queue.first_reply
        return first.urgent_minutes if ticket.urgent else first.normal_minutes

    def topic_name(self, ticket: Ticket, person: Person | None = None) -> str:
        parts = [f"#{ticket.id}", ticket.language, ticket.skill]
        if person is not None and person.channel != "telegram":
            parts.append(person.channel)
        mark = "\N{LARGE RED CIRCLE} " if ticket.urgent else ""
        return mark + " \N{MIDDLE DOT} ".join(parts)

    def _citizen(self, person: Person, key: str, text: str, **kw: Any) -> OutgoingMessage:
        return OutgoingMessage(
            key, person.channel, person.platform_id, text, person_id=person.id, **kw
        )

    def _topic(self, ticket: Ticket, key: str, text: str, **kw: Any) -> OutgoingMessage | None:
        ws = self.workspace
        if ws is None or ticket.thread_id is None:
            return None
        return OutgoingMessage(
            key,
            ws.channel,
            ws.chat_id,
            text,
            person_id=ticket.person_id,
            thread_id=ticket.thread_id,
            **kw,
        )

    def _staff(self, user_id: str, key: str, text: str, **kw: Any) -> OutgoingMessage | None:
        """A private message to a specialist or coordinator (on the workspace's platform)."""
        ws = self.workspace
        if ws is None:
            return None
        return OutgoingMessage(key, ws.channel, user_id, text, **kw)

    def _general(self, key: str, text: str, **kw: Any) -> OutgoingMessage | None:
        """A message to the group's General topic."""
        ws = self.workspace
        return None if ws is None else OutgoingMessage(key, ws.channel, ws.chat_id, text, **kw)

    async def _send(
        self, conn: aiosqlite.Connection, *messages: OutgoingMessage | None
    ) -> list[OutgoingMessage]:
        queued = [m for m in messages if m is not None]
        if queued:
            await self.outbox.add_in(conn, queued)
        return queued

    async def _tell_topic(self, ticket: Ticket, event: str, text: str) -> None:
        """A notice from the bot into the ticket's topic, through the outbox."""
        async with self.db.transaction() as conn:
            queued = await self._send(
                conn, self._topic(ticket, self._key("t", ticket.id, event), text)
            )
        self.outbox.wake(queued)

    async def _audit(
        self,
        conn: aiosqlite.Connection,
        actor: str,
        action: str,
        ticket: int | None,
        detail: str | None = None,
    ) -> None:
        await AuditRepository(conn).add(actor, action, ticket, self.clock(), detail)

    # --- opening tickets -------------------------------------------------------------------------

    async def open_ticket(
        self,
        person: Person,
        reason: str,
        topic_id: str | None = None,
        urgent: bool = False,
        history: Sequence[tuple[str, str]] = (),
        previous: Ticket | None = None,
    ) -> tuple[Ticket, bool, int, str]:
        """Open (or find) the person's ticket with the conversation so far; returns the ticket,
        whether it is new, its place in line and a note for the citizen about the hours."""
        lang = self.lang_of(person)
        self._without_ticket.pop(person.id, None)
        opened = await self.tickets.open(person, lang, reason, topic_id, urgent)
        ticket = opened.ticket
        now = self.clock()
        wake: list[OutgoingMessage] = []
        async with self.db.transaction() as conn:
            repo = TicketRepository(conn)
            fields: dict[str, Any] = {}
            if opened.new or (urgent and ticket.alerts == 0):
                created = datetime.fromisoformat(ticket.created_at)
                fields["next_alert_at"] = self.hours.deadline(
                    created, self.target_minutes(ticket), ticket.urgent
                )
            if opened.new and previous is not None:
                fields["previous_id"] = previous.id
                fields["preferred_specialist"] = previous.specialist_id
            if fields:
                await repo.set_fields(ticket.id, **fields)
            if opened.new:
                lines = TicketMessageRepository(conn)
                for author, text in history:
                    await lines.add(ticket.id, author, text, now)
            if (urgent and opened.new) or (urgent and not ticket.urgent):
                wake += await self._send(conn, *self._urgent_alerts(ticket))
            if opened.new and previous is not None and previous.specialist_id:
                wake += await self._send(
                    conn,
                    self._staff(
                        previous.specialist_id,
                        self._key("t", ticket.id, "again"),
                        self.w(
                            "The citizen of ticket #{previous} wrote again: ticket #{id} "
                            "prefers you (/next).",
                            previous=previous.id,
                            id=ticket.id,
                        ),
                    ),
                )
            ticket = await repo.get(ticket.id) or ticket
        self.outbox.wake(wake)
        self.refresh_soon()
        return ticket, opened.new, opened.position, self._hours_note(lang, ticket, now)

    def _urgent_alerts(self, ticket: Ticket) -> list[OutgoingMessage | None]:
        text = self.w(
            "Urgent ticket #{id} ({language} · {skill}) is waiting. Take it now.",
            id=ticket.id,
            language=ticket.language,
            skill=self.label(ticket.skill),
        )
        take = (Action("take", "", self.w("Take next")),)
        alerts: list[OutgoingMessage | None] = [
            self._general(self._key("urgent", ticket.id), text, actions=take)
        ]
        alerts += [
            self._staff(c, self._key("urgent", ticket.id, c), text)
            for c in sorted(self.roster.coordinators)
        ]
        return alerts

    def _hours_note(self, lang: str, ticket: Ticket, now: datetime) -> str:
        if self.hours.is_open(now):
            return ""
        if ticket.urgent:
            contacts = self._contacts(lang)
            return self.t(
                lang,
                "Specialists have been alerted now, even outside working hours. If you are in "
                "danger, call:",
            ) + (f" {contacts}" if contacts else "")
        when = self.hours.next_open(now).astimezone(self.settings.tz)
        return self.t(
            lang,
            "Our specialists work {hours} ({timezone}). Your request is saved; expect an answer "
            "after {when}.",
            hours=self.hours.describe(lang),
            timezone=self.settings.timezone,
            when=f"{when:%d.%m %H:%M}",
        )

    def _contacts(self, lang: str) -> str:
        contacts = self.settings.crisis.contacts_for(lang, self.settings.default_language)
        return ", ".join(f"{c.name}: {c.phone}" for c in contacts)

    async def previous_for(self, person: Person) -> Ticket | None:
        """The person's last closed ticket that had a specialist: a new one links to it."""
        last = await TicketRepository(self.db.connection).last_closed_for(person.id)
        return last if last is not None and last.specialist_id else None

    def waiting_actions(self, person: Person, ticket: Ticket) -> tuple[Action, ...]:
        """What a waiting citizen can do: state a gender preference, or cancel."""
        lang = self.lang_of(person)
        actions: list[Action] = []
        if ticket.status == "waiting" and ticket.gender is None:
            actions += [
                Action("gender", f"{ticket.id}/female", self.t(lang, "Prefer a woman")),
                Action("gender", f"{ticket.id}/male", self.t(lang, "Prefer a man")),
            ]
        actions.append(Action("end", str(ticket.id), self.t(lang, "Cancel my request")))
        return tuple(actions)

    async def prefer_gender(self, person: Person, ticket_id: int, gender: str) -> Reply:
        lang = self.lang_of(person)
        if gender not in ("female", "male"):
            return self._stale(lang)
        async with self.db.transaction() as conn:
            repo = TicketRepository(conn)
            ticket = await repo.get(ticket_id)
            if ticket is None or ticket.person_id != person.id or ticket.status != "waiting":
                return self._stale(lang)
            await repo.set_fields(ticket_id, gender=gender)
        return Reply(
            self.t(
                lang,
                "Noted: a specialist of your preferred gender will take your request when one "
                "is free.",
            )
        )

    def _stale(self, lang: str) -> Reply:
        return Reply(self.t(lang, "That option is no longer available. Here is the menu."))

    # --- the queue message -----------------------------------------------------------------------

    async def queue_summary(self) -> tuple[str, tuple[Action, ...]]:
        """The General topic's queue message: waiting tickets by priority, language and skill."""
        head, total, urgent = await TicketRepository(self.db.connection).waiting_head(QUEUE_LINES)
        now = self.clock()
        lines = [
            self.w("Queue: {waiting} waiting, {urgent} urgent.", waiting=total, urgent=urgent)
        ]
        if not total:
            lines.append(self.w("No one is waiting."))
        for ticket in head:
            mark = "\N{LARGE RED CIRCLE}" if ticket.urgent else "\N{WHITE CIRCLE}"
            wait = _age_minutes(ticket.created_at, now)
            lines.append(f"{mark} #{ticket.id} · {ticket.language} · {ticket.skill} · {wait} min")
        if total > QUEUE_LINES:
            lines.append(self.w("{count} more", count=total - QUEUE_LINES))
        return "\n".join(lines), (Action("take", "", self.w("Take next")),)

    def refresh_soon(self) -> None:
        """Refresh the queue message after the current action has answered: the edit is a
        network round trip the specialist need not wait for, and a burst makes one edit."""
        if self._refresh is not None and not self._refresh.done():
            self._refresh_again = True
            return
        self._refresh = asyncio.get_running_loop().create_task(self._refresh_loop())

    async def _refresh_loop(self) -> None:
        await asyncio.sleep(0)  # after the caller's reply
        self._refresh_again = True
        while self._refresh_again:
            self._refresh_again = False
            try:
                await self.refresh_queue()
            except Exception:  # never lose the loop to one failed edit
                log.exception("the queue message could not be refreshed")

    async def settled(self) -> None:
        """Wait for a pending refresh of the queue message (tests, shutdown)."""
        while self._refresh is not None and not self._refresh.done():
            await self._refresh

    async def refresh_queue(self) -> None:
        if self.workspace is None:
            return
        text, actions = await self.queue_summary()
        try:
            await self.workspace.show_queue(text, actions)
        except WorkspaceError as exc:
            log.warning("the queue message could not be updated: %s", exc)

    # --- taking work -----------------------------------------------------------------------------

    def _refuse_specialist(self) -> Notice:
        return Notice(self.w("This is for registered specialists."), alert=True)

    async def take_next(self, actor: str) -> Notice:
        """ "Take next": the best waiting ticket for this specialist, opened in a new topic."""
        specialist = self.roster.active(actor)
        if specialist is None:
            return self._refuse_specialist()
        if self.workspace is None:
            return Notice(
                self.w("The specialists' group is not set up, so tickets cannot be taken yet."),
                alert=True,
            )
        assigned = await TicketRepository(self.db.connection).count_assigned(actor)
        if assigned >= specialist.max_open:
            return Notice(
                self.w(
                    "You have {count} open tickets, your maximum. Close one first.",
                    count=assigned,
                ),
                alert=True,
            )
        ticket = await self.tickets.take_next(specialist)
        if ticket is None:
            return Notice(
                self.w("No waiting ticket matches your languages and skills."), alert=True
            )
        notice = await self._start(ticket, specialist, actor)
        self.refresh_soon()
        return notice

    async def _start(self, ticket: Ticket, specialist: Specialist, actor: str) -> Notice:
        """Open (or reopen) the ticket's topic, post the pinned header and the conversation so
        far, and tell the citizen who is with them. A workspace failure puts it back in line."""
        ws = self.workspace
        assert ws is not None
        person = await self.people.get(ticket.person_id)
        if person is None:  # erased in the meantime
            await self._close(ticket, "no_response", actor, status="closed")
            return Notice(self.w("Ticket #{id} is not open.", id=ticket.id), alert=True)
        name = self.topic_name(ticket, person)
        try:
            if ticket.thread_id is None:
                thread = await ws.open_topic(name)
            else:
                thread = ticket.thread_id
                await ws.reopen_topic(thread, name)
            ticket = replace(ticket, thread_id=thread)
            await ws.post_pinned(thread, self.header(ticket, person, specialist))
        except WorkspaceError as exc:
            log.error("ticket %s: the workspace refused to open a topic: %s", ticket.id, exc)
            async with self.db.transaction() as conn:
                await TicketRepository(conn).requeue(ticket.id)
                if ticket.thread_id is not None:
                    await TicketRepository(conn).set_fields(ticket.id, thread_id=ticket.thread_id)
            return Notice(
                self.w(
                    "The topic for the ticket could not be created; the ticket is back in the "
                    "queue."
                ),
                alert=True,
            )
        lang = self.lang_of(person)
        async with self.db.transaction() as conn:
            await TicketRepository(conn).set_fields(ticket.id, thread_id=ticket.thread_id)
            history = await self._history_messages(conn, ticket)
            told = self._citizen(
                person,
                self._key("t", ticket.id, "taken"),
                self.t(
                    lang,
                    "{name} has taken your request and will write to you here.",
                    name=specialist.display_name,
                ),
            )
            await self._audit(conn, actor, "taken", ticket.id)
            await self._audit(conn, actor, "history_opened", ticket.id)
            queued = await self._send(conn, *history, told)
        self.outbox.wake(queued)
        log.info("ticket %s started by %s", ticket.id, specialist.display_name)
        return Notice(self.w("Ticket #{id} is yours: see its topic.", id=ticket.id))

    def header(self, ticket: Ticket, person: Person, specialist: Specialist) -> str:
        fmt = self.workspace.fmt if self.workspace else "plain"
        now = self.clock()
        lines = [
            self._bold(self.w("Ticket #{id}", id=ticket.id), fmt),
            self.w(
                "Citizen: {pseudonym}. Language: {language}. Needs: {skill}. Priority: "
                "{priority}.",
                pseudonym=person.pseudonym,
                language=ticket.language,
                skill=self.label(ticket.skill),
                priority=self.label(ticket.priority),
            ),
            self.w(
                "Channel: {channel}. Reason: {reason}. Waited: {waited} min.",
                channel=person.channel,
                reason=ticket.reason + (f" ({ticket.topic_id})" if ticket.topic_id else ""),
                waited=_age_minutes(ticket.created_at, now),
            ),
        ]
        if ticket.previous_id:
            lines.append(self.w("Follows ticket #{previous}.", previous=ticket.previous_id))
        if ticket.gender:
            lines.append(
                self.w("Prefers a {gender} specialist.", gender=self.label(ticket.gender))
            )
        lines.append(
            self.w(
                "Write here to answer: your messages reach the citizen signed {name}. /note "
                "text is an internal note; /ask_contact asks for contact details; /transfer; "
                "/close.",
                name=specialist.display_name,
            )
        )
        return "\n".join([lines[0], *(self._esc(line, fmt) for line in lines[1:])])

    async def _history_messages(
        self, conn: aiosqlite.Connection, ticket: Ticket
    ) -> list[OutgoingMessage | None]:
        """The conversation so far, as messages into the topic (files are sent again by id)."""
        fmt = self.workspace.fmt if self.workspace else "plain"
        lines = await TicketMessageRepository(conn).of_ticket(ticket.id)
        text_lines = [self._bold(self.w("The conversation so far:"), fmt)]
        files: list[OutgoingMessage | None] = []
        for line in lines:
            who = {"citizen": "\N{BUST IN SILHOUETTE}", "bot": "\N{ROBOT FACE}"}.get(
                line.author, "\N{SPEECH BALLOON}"
            )
            if line.author == "note":
                who = "\N{LOCK}"
            stamp = datetime.fromisoformat(line.created_at).astimezone(self.settings.tz)
            body = line.text or f"[{line.kind}]"
            text_lines.append(f"{stamp:%H:%M} {who} {self._esc(body, fmt)}")
            if line.media_ref and line.kind in RELAYED_KINDS and line.kind != "text":
                files.append(
                    self._topic(
                        ticket,
                        self._key("t", ticket.id, "file", line.id),
                        line.text or "",
                        media=Media(line.kind, line.media_ref),
                    )
                )
        if not lines:
            text_lines.append(self.w("(nothing yet)"))
        summary = self._topic(
            ticket, self._key("t", ticket.id, "history"), "\n".join(text_lines)[:4000]
        )
        return [summary, *files]

    async def history(self, actor: str, thread_id: int) -> Notice | None:
        """/history: the conversation so far again, for the assigned specialist (audited)."""
        ticket = await TicketRepository(self.db.connection).by_thread(thread_id)
        if ticket is None:
            return None
        if ticket.specialist_id != actor or self.roster.get(actor) is None:
            return Notice(self.w("This ticket is not assigned to you."), alert=True)
        async with self.db.transaction() as conn:
            messages = await self._history_messages(conn, ticket)
            await self._audit(conn, actor, "history_opened", ticket.id)
            queued = await self._send(conn, *messages)
        self.outbox.wake(queued)
        return None

    # --- the conversation ------------------------------------------------------------------------

    async def from_workspace(
        self, actor: str, thread_id: int, incoming: Incoming, note: bool = False
    ) -> Notice | None:
        """A message in a ticket's topic: the assigned specialist's reaches the citizen, signed;
        anyone else's (and /note) stays an internal note. None when the topic is no ticket's."""
        ticket = await TicketRepository(self.db.connection).by_thread(thread_id)
        if ticket is None:
            return None
        specialist = self.roster.get(actor)
        if ticket.status != "assigned":
            return Notice(self.w("This ticket is closed; messages here are not sent."))
        if note or specialist is None or ticket.specialist_id != actor:
            async with self.db.transaction() as conn:
                await TicketMessageRepository(conn).add(
                    ticket.id,
                    "note",
                    incoming.text or None,
                    self.clock(),
                    incoming.kind,
                    incoming.media_ref,
                    actor,
                )
            return Notice(self.w("Internal note: not sent to the citizen."))
        person = await self.people.get(ticket.person_id)
        if person is None or person.unreachable:
            return Notice(
                self.w(
                    "The citizen cannot be reached (they blocked the bot); the ticket is marked "
                    "so."
                )
            )
        if incoming.kind not in RELAYED_KINDS:
            return Notice(self.w("Internal note: not sent to the citizen."))
        fmt = self.fmt_of(person.channel)
        signed = self._bold(specialist.display_name, fmt)
        if fmt == "html":
            body = self._esc(incoming.text, fmt)
            text = f"{signed}\n{body}" if body else signed
        else:
            text = f"{signed}:\n{incoming.text}" if incoming.text else signed
        media = Media(incoming.kind, incoming.media_ref) if incoming.media_ref else None
        now = self.clock()
        relay = _pieces(
            lambda key, part, file: self._citizen(person, key, part, media=file),
            f"relay:{ticket.id}:out:{incoming.ref or self._key('x')}",
            text,
            media,
            signed,
        )
        async with self.db.transaction() as conn:
            if not await self.outbox.add_in(conn, relay):
                return None  # the platform delivered this message twice: relayed once
            await TicketMessageRepository(conn).add(
                ticket.id,
                "specialist",
                incoming.text or None,
                now,
                incoming.kind,
                incoming.media_ref,
                actor,
            )
            if ticket.first_reply_at is None:
                await TicketRepository(conn).set_fields(ticket.id, first_reply_at=now)
        self.outbox.wake(relay)
        return None

    async def in_conversation(self, person: Person) -> bool:
        """Whether a specialist is talking with this person right now."""
        if self._known_without_ticket(person.id):
            return False
        ticket = await TicketRepository(self.db.connection).open_for(person.id)
        return ticket is not None and ticket.status == "assigned"

    async def from_citizen(
        self, person: Person, incoming: Incoming, crisis: bool = False
    ) -> Reply | None:
        """A citizen's message while they have a ticket (or just after one closed); None when
        the queue has nothing to do with it and the bot should answer as usual."""
        if self._known_without_ticket(person.id):
            return None
        lang = self.lang_of(person)
        repo = TicketRepository(self.db.connection)
        latest = await repo.latest_for(person.id)
        if latest is None:
            self._without_ticket[person.id] = time.monotonic()
            if len(self._without_ticket) > NO_TICKET_CACHE:
                self._without_ticket.popitem(last=False)
            return None
        ticket = latest if latest.status in ("waiting", "assigned") else None
        now = self.clock()
        if ticket is None:
            last = latest
            if last.status not in ("closed", "unreachable") or not last.closed_at:
                return None
            closed = datetime.fromisoformat(last.closed_at)
            if (
                last.rating_asked == COMMENT_INVITED
                and incoming.kind == "text"
                and now - closed < COMMENT_WINDOW
            ):
                async with self.db.transaction() as conn:
                    await TicketRepository(conn).set_fields(
                        last.id, rating_comment=incoming.text[:1000], rating_asked=RATING_DONE
                    )
                return Reply(self.t(lang, "Thank you! Your comment has been passed on."))
            reopen = timedelta(hours=self.settings.queue.reopen_hours)
            if (
                crisis
                or not last.specialist_id
                or now - closed >= reopen
                or last.status != "closed"
            ):
                return None
            if last.outcome in ("cancelled", "inappropriate"):
                return None
            new, _created, position, note = await self.open_ticket(
                person, "follow-up", last.topic_id, previous=last
            )
            await self._record_citizen(new, incoming)
            name = self.roster.get(last.specialist_id)
            text = self.t(
                lang,
                "Your message was passed on to {name}, who helped you before.",
                name=name.display_name if name else self.t(lang, "Specialist"),
            )
            place = self.t(lang, "You are number {position} in line.", position=position)
            return Reply(
                " ".join(filter(None, [text, place, note])), self.waiting_actions(person, new)
            )
        if ticket.status == "waiting":
            await self._record_citizen(ticket, incoming)
            position = await repo.position(ticket)
            return Reply(
                self.t(lang, "I have added this to your request. A specialist will see it.")
                + " "
                + self.t(lang, "You are number {position} in line.", position=position),
                self.waiting_actions(person, ticket),
            )
        # assigned: into the topic
        await self._record_citizen(ticket, incoming, relay=True, crisis=crisis)
        return Reply("")

    async def _record_citizen(
        self, ticket: Ticket, incoming: Incoming, relay: bool = False, crisis: bool = False
    ) -> None:
        """Into the ticket's transcript and (when assigned) into its topic, exactly once."""
        fmt = self.workspace.fmt if self.workspace else "plain"
        person_mark = "\N{BUST IN SILHOUETTE}"
        relayed: list[OutgoingMessage] = []
        if relay:
            media = (
                Media(incoming.kind, incoming.media_ref)
                if incoming.media_ref and incoming.kind in RELAYED_KINDS
                else None
            )
            body = self._esc(incoming.text, fmt)
            text = f"{person_mark} {body}" if body else person_mark
            if media is None and incoming.kind != "text":
                text = f"{person_mark} [{incoming.kind}]"
            relayed = _pieces(
                lambda key, part, file: self._topic(ticket, key, part, media=file),
                f"relay:{ticket.id}:in:{incoming.ref or self._key('x')}",
                text,
                media,
                person_mark,
            )
        async with self.db.transaction() as conn:
            queued: list[OutgoingMessage] = []
            if relayed:
                if not await self.outbox.add_in(conn, relayed):
                    return  # the platform delivered this message twice: relayed once
                queued += relayed
            await TicketMessageRepository(conn).add(
                ticket.id,
                "citizen",
                incoming.text or None,
                self.clock(),
                incoming.kind,
                incoming.media_ref,
            )
            if crisis:
                await TicketRepository(conn).set_fields(ticket.id, priority="urgent")
                queued += await self._send(
                    conn,
                    self._topic(
                        ticket,
                        self._key("t", ticket.id, "crisis"),
                        "\N{WARNING SIGN} "
                        + self.w(
                            "Possible crisis in the citizen's last message: the ticket is now "
                            "urgent."
                        ),
                    ),
                )
        self.outbox.wake(queued)

    # --- ending and handing over -----------------------------------------------------------------

    async def _assigned_ticket(
        self, actor: str, thread_id: int
    ) -> tuple[Ticket | None, Notice | None]:
        ticket = await TicketRepository(self.db.connection).by_thread(thread_id)
        if ticket is None:
            return None, None
        if self.roster.get(actor) is None:
            return None, self._refuse_specialist()
        if ticket.status != "assigned":
            return None, Notice(self.w("Ticket #{id} is not open.", id=ticket.id), alert=True)
        if ticket.specialist_id != actor:
            return None, Notice(self.w("This ticket is not assigned to you."), alert=True)
        return ticket, None

    async def close_choices(self, actor: str, thread_id: int) -> Notice | None:
        """/close: the outcomes to choose from."""
        ticket, refusal = await self._assigned_ticket(actor, thread_id)
        if ticket is None:
            return refusal
        return Notice(
            self.w("How did it end?"),
            tuple(
                Action("close", f"{ticket.id}/{key}", self.w(label))
                for key, label in OUTCOMES.items()
            ),
        )

    async def close(self, actor: str, ticket_id: int, outcome: str) -> Notice:
        """Close with an outcome: the topic closes and the citizen is asked for a rating."""
        ticket = await TicketRepository(self.db.connection).get(ticket_id)
        if outcome not in OUTCOMES or ticket is None or ticket.thread_id is None:
            return Notice(self.w("Ticket #{id} is not open.", id=ticket_id), alert=True)
        ticket, refusal = await self._assigned_ticket(actor, ticket.thread_id)
        if ticket is None:
            return refusal or self._refuse_specialist()
        await self._close(ticket, outcome, actor)
        self.refresh_soon()
        return Notice(self.w("Closed: {outcome}.", outcome=self.w(OUTCOMES[outcome])))

    async def _close(
        self,
        ticket: Ticket,
        outcome: str,
        actor: str,
        status: str = "closed",
        ask_rating: bool = True,
    ) -> None:
        now = self.clock()
        person = await self.people.get(ticket.person_id)
        async with self.db.transaction() as conn:
            repo = TicketRepository(conn)
            if not await repo.close(ticket.id, status, outcome, now):
                return
            messages: list[OutgoingMessage | None] = []
            if person is not None and ask_rating and status == "closed" and not person.unreachable:
                lang = self.lang_of(person)
                await repo.set_fields(ticket.id, rating_asked=RATING_ASKED)
                messages.append(
                    self._citizen(
                        person,
                        self._key("t", ticket.id, "rate"),
                        self.t(
                            lang,
                            "The specialist has closed this conversation. How much did it "
                            "help, from 1 to 5?",
                        ),
                        actions=tuple(
                            Action("rate", f"{ticket.id}/{n}", str(n)) for n in range(1, 6)
                        ),
                    )
                )
            await self._audit(conn, actor, status, ticket.id, outcome)
            queued = await self._send(conn, *messages)
        self.outbox.wake(queued)
        if self.workspace is not None and ticket.thread_id is not None:
            try:
                await self.workspace.close_topic(
                    ticket.thread_id,
                    "\N{CHECK MARK} "
                    + self.topic_name(ticket, person).lstrip("\N{LARGE RED CIRCLE} "),
                )
            except WorkspaceError as exc:
                log.warning("ticket %s: the topic could not be closed: %s", ticket.id, exc)

    async def rate(self, person: Person, ticket_id: int, value: str) -> Reply:
        """The citizen's rating, 1 to 5 (or "skip" for no comment)."""
        lang = self.lang_of(person)
        ticket = await TicketRepository(self.db.connection).get(ticket_id)
        if ticket is None or ticket.person_id != person.id or ticket.status != "closed":
            return Reply(self.t(lang, "This rating is no longer open."))
        if value == "skip":
            async with self.db.transaction() as conn:
                await TicketRepository(conn).set_fields(ticket_id, rating_asked=RATING_DONE)
            return Reply(self.t(lang, "Thank you for writing."))
        if not value.isdigit() or not 1 <= int(value) <= 5 or ticket.rating is not None:
            return Reply(self.t(lang, "This rating is no longer open."))
        async with self.db.transaction() as conn:
            await TicketRepository(conn).set_fields(
                ticket_id, rating=int(value), rating_asked=COMMENT_INVITED
            )
        return Reply(
            self.t(
                lang, "Thank you for your rating! If you like, write a comment in one message."
            ),
            (Action("rate", f"{ticket_id}/skip", self.t(lang, "No comment")),),
        )

    async def end(self, person: Person) -> Reply:
        """/end: the citizen cancels a waiting request or ends the conversation."""
        lang = self.lang_of(person)
        ticket = await TicketRepository(self.db.connection).open_for(person.id)
        if ticket is None:
            return Reply(self.t(lang, "You have no open request."))
        if ticket.status == "waiting":
            await self.tickets.cancel(person)
            self.refresh_soon()
            return Reply(
                self.t(
                    lang,
                    "Your request has been cancelled. You can ask for a specialist again at any "
                    "time.",
                )
            )
        await self._tell_topic(ticket, "ended", self.w("The citizen ended the conversation."))
        await self._close(ticket, "ended_by_citizen", f"citizen:{ticket.id}", ask_rating=False)
        self.refresh_soon()
        return Reply(
            self.t(
                lang,
                "The conversation has ended. Thank you for writing. You can ask again at any "
                "time.",
            )
        )

    async def transfer_choices(self, actor: str, thread_id: int) -> Notice | None:
        """/transfer: back to the queue, or one of the colleagues who can take it."""
        ticket, refusal = await self._assigned_ticket(actor, thread_id)
        if ticket is None:
            return refusal
        actions = [Action("transfer", f"{ticket.id}/queue", self.w("Back to the queue"))]
        actions += [
            Action("transfer", f"{ticket.id}/{s.user_id}", s.display_name)
            for s in self.roster.available_for(ticket.language, ticket.skill, exclude=actor)
        ]
        return Notice(self.w("Hand the ticket to:"), tuple(actions))

    async def transfer(self, actor: str, ticket_id: int, target: str) -> Notice:
        ticket = await TicketRepository(self.db.connection).get(ticket_id)
        if ticket is None or ticket.thread_id is None:
            return Notice(self.w("Ticket #{id} is not open.", id=ticket_id), alert=True)
        ticket, refusal = await self._assigned_ticket(actor, ticket.thread_id)
        if ticket is None:
            return refusal or self._refuse_specialist()
        me = self.roster.get(actor)
        assert me is not None
        if target == "queue":
            async with self.db.transaction() as conn:
                repo = TicketRepository(conn)
                await repo.requeue(ticket.id)
                await repo.set_fields(
                    ticket.id,
                    next_alert_at=self.clock() + timedelta(minutes=self.target_minutes(ticket)),
                )
                await self._audit(conn, actor, "returned", ticket.id)
            self.refresh_soon()
            return Notice(self.w("Returned to the queue by {name}.", name=me.display_name))
        colleague = self.roster.active(target)
        if colleague is None or colleague.user_id == actor:
            return Notice(
                self.w("No other specialist is available for this language and skill."), alert=True
            )
        async with self.db.transaction() as conn:
            await TicketRepository(conn).set_fields(ticket.id, offered_to=colleague.user_id)
            await self._audit(conn, actor, "offered", ticket.id, colleague.user_id)
            queued = await self._send(
                conn,
                self._staff(
                    colleague.user_id,
                    self._key("t", ticket.id, "offer", colleague.user_id),
                    self.w(
                        "{name} offers you ticket #{id} ({language} · {skill}). Take it?",
                        name=me.display_name,
                        id=ticket.id,
                        language=ticket.language,
                        skill=self.label(ticket.skill),
                    ),
                    actions=(
                        Action("offer", f"{ticket.id}/accept", self.w("Accept")),
                        Action("offer", f"{ticket.id}/decline", self.w("Decline")),
                    ),
                ),
            )
        self.outbox.wake(queued)
        return Notice(
            self.w("Offered to {name}; waiting for their answer.", name=colleague.display_name)
        )

    async def answer_offer(self, actor: str, ticket_id: int, accept: bool) -> Notice:
        """The colleague accepts or declines a ticket offered to them."""
        colleague = self.roster.active(actor)
        if colleague is None:
            return self._refuse_specialist()
        ticket = await TicketRepository(self.db.connection).get(ticket_id)
        if ticket is None or ticket.offered_to != actor or ticket.status != "assigned":
            return Notice(self.w("Ticket #{id} is not open.", id=ticket_id), alert=True)
        old = self.roster.get(ticket.specialist_id or "")
        old_name = old.display_name if old else "?"
        if not accept:
            async with self.db.transaction() as conn:
                await TicketRepository(conn).set_fields(ticket.id, offered_to=None)
                await self._audit(conn, actor, "declined", ticket.id)
                queued = await self._send(
                    conn,
                    self._topic(
                        ticket,
                        self._key("t", ticket.id, "declined"),
                        self.w(
                            "{name} declined ticket #{id}.",
                            name=colleague.display_name,
                            id=ticket.id,
                        ),
                    ),
                )
            self.outbox.wake(queued)
            return Notice(
                self.w("{name} declined ticket #{id}.", name=colleague.display_name, id=ticket.id)
            )
        return await self._hand_over(ticket, colleague, actor, old_name)

    async def _hand_over(
        self, ticket: Ticket, colleague: Specialist, actor: str, old_name: str
    ) -> Notice:
        count = await TicketRepository(self.db.connection).count_assigned(colleague.user_id)
        if count >= colleague.max_open:
            return Notice(
                self.w(
                    "You have {count} open tickets, your maximum. Close one first.", count=count
                ),
                alert=True,
            )
        person = await self.people.get(ticket.person_id)
        async with self.db.transaction() as conn:
            repo = TicketRepository(conn)
            await repo.reassign(ticket.id, colleague.user_id, self.clock())
            await self._audit(conn, actor, "handed_over", ticket.id, colleague.user_id)
            await self._audit(conn, colleague.user_id, "history_opened", ticket.id)
            messages: list[OutgoingMessage | None] = [
                self._topic(
                    ticket,
                    self._key("t", ticket.id, "handover"),
                    self.w(
                        "Handed over from {old} to {new}.",
                        old=old_name,
                        new=colleague.display_name,
                    ),
                )
            ]
            if person is not None:
                messages.append(
                    self._citizen(
                        person,
                        self._key("t", ticket.id, "continues"),
                        self.t(
                            self.lang_of(person),
                            "Your conversation continues with {name}.",
                            name=colleague.display_name,
                        ),
                    )
                )
            queued = await self._send(conn, *messages)
        self.outbox.wake(queued)
        return Notice(self.w("Ticket #{id} is now yours: see its topic.", id=ticket.id))

    async def reassign(self, actor: str, ticket_id: int, target: str) -> Notice:
        """A coordinator moves a ticket (waiting or assigned) to a named specialist."""
        if not self.roster.is_coordinator(actor):
            return Notice(self.w("This is for coordinators."), alert=True)
        ticket = await TicketRepository(self.db.connection).get(ticket_id)
        colleague = self.roster.active(target)
        if ticket is None or ticket.status not in ("waiting", "assigned"):
            return Notice(self.w("Ticket #{id} is not open.", id=ticket_id), alert=True)
        if colleague is None:
            return Notice(
                self.w("No other specialist is available for this language and skill."), alert=True
            )
        if ticket.status == "waiting":
            async with self.db.transaction() as conn:
                await TicketRepository(conn).reassign(ticket.id, colleague.user_id, self.clock())
                await self._audit(conn, actor, "reassigned", ticket.id, colleague.user_id)
            ticket = await TicketRepository(self.db.connection).get(ticket_id)
            assert ticket is not None
            notice = await self._start(ticket, colleague, colleague.user_id)
            self.refresh_soon()
            return notice
        old = self.roster.get(ticket.specialist_id or "")
        return await self._hand_over(ticket, colleague, actor, old.display_name if old else "?")

    # --- consent ---------------------------------------------------------------------------------

    async def ask_contact(self, actor: str, thread_id: int) -> Notice | None:
        """/ask_contact: the citizen is asked whether to share their name and username."""
        ticket, refusal = await self._assigned_ticket(actor, thread_id)
        if ticket is None:
            return refusal
        person = await self.people.get(ticket.person_id)
        specialist = self.roster.get(actor)
        if person is None or specialist is None:
            return refusal
        lang = self.lang_of(person)
        async with self.db.transaction() as conn:
            await TicketRepository(conn).set_fields(ticket.id, contact_asked_at=self.clock())
            await self._audit(conn, actor, "contact_asked", ticket.id)
            queued = await self._send(
                conn,
                self._citizen(
                    person,
                    self._key("t", ticket.id, "contact"),
                    self.t(
                        lang,
                        "The specialist {name} asks whether you agree to share your name and "
                        "username with them. You do not have to.",
                        name=specialist.display_name,
                    ),
                    actions=(
                        Action("contact", f"{ticket.id}/yes", self.t(lang, "Yes, share")),
                        Action("contact", f"{ticket.id}/no", self.t(lang, "No, thank you")),
                    ),
                ),
            )
        self.outbox.wake(queued)
        return Notice(self.w("The citizen was asked whether they agree to share contact details."))

    async def answer_contact(
        self, person: Person, ticket_id: int, agree: bool, contact: str
    ) -> Reply:
        """The citizen's answer; consent is recorded, the details go to the topic, not the db."""
        lang = self.lang_of(person)
        ticket = await TicketRepository(self.db.connection).get(ticket_id)
        if (
            ticket is None
            or ticket.person_id != person.id
            or ticket.status != "assigned"
            or ticket.contact_asked_at is None
        ):
            return self._stale(lang)
        fmt = self.workspace.fmt if self.workspace else "plain"
        async with self.db.transaction() as conn:
            if agree:
                await TicketRepository(conn).set_fields(
                    ticket.id, contact_consent_at=self.clock(), contact_asked_at=None
                )
                text = self.w(
                    "The citizen agreed to share: {contact}", contact=self._esc(contact, fmt)
                )
            else:
                await TicketRepository(conn).set_fields(ticket.id, contact_asked_at=None)
                text = self.w("The citizen declined to share contact details.")
            await self._audit(
                conn,
                f"citizen:{ticket.id}",
                "contact_shared" if agree else "contact_declined",
                ticket.id,
            )
            queued = await self._send(
                conn, self._topic(ticket, self._key("t", ticket.id, "consent"), text)
            )
        self.outbox.wake(queued)
        return Reply(self.t(lang, "Shared. Thank you." if agree else "Nothing was shared."))

    # --- coordinators ---------------------------------------------------------------------------

    def _refuse_coordinator(self) -> Notice:
        return Notice(self.w("This is for coordinators."), alert=True)

    def roster_view(self, actor: str) -> Notice:
        """/specialists: everyone on the roster, with pause, resume and remove buttons."""
        if not self.roster.is_coordinator(actor):
            return self._refuse_coordinator()
        people = self.roster.everyone()
        if not people:
            return Notice(self.w("No specialists yet. Add one with /specialist_add."))
        lines = [self.w("Specialists:")]
        actions: list[Action] = []
        for s in people:
            lines.append(
                f"{s.display_name} ({s.user_id}): {', '.join(s.skills)}; "
                f"{', '.join(s.languages)}; max {s.max_open}; {self.label(s.status)}"
            )
            if s.active:
                actions.append(
                    Action(
                        "roster",
                        f"{s.user_id}/paused",
                        self.w("Pause {name}", name=s.display_name),
                    )
                )
            else:
                actions.append(
                    Action(
                        "roster",
                        f"{s.user_id}/active",
                        self.w("Resume {name}", name=s.display_name),
                    )
                )
            actions.append(
                Action(
                    "roster", f"{s.user_id}/removed", self.w("Remove {name}", name=s.display_name)
                )
            )
        return Notice("\n".join(lines), tuple(actions))

    async def roster_set(self, actor: str, user_id: str, status: str) -> Notice:
        if not self.roster.is_coordinator(actor):
            return self._refuse_coordinator()
        try:
            specialist = await self.roster.set_status(user_id, status)
        except RosterError as exc:
            return Notice(str(exc), alert=True)
        async with self.db.transaction() as conn:
            await self._audit(conn, actor, f"specialist_{status}", None, user_id)
        return Notice(
            self.w("{name}: {status}.", name=specialist.display_name, status=self.label(status))
        )

    async def roster_add(self, actor: str, args: str) -> Notice:
        """/specialist_add <id> <skills> <languages> <name...> [gender=...] [max=...]"""
        if not self.roster.is_coordinator(actor):
            return self._refuse_coordinator()
        words = args.split()
        options = dict(w.split("=", 1) for w in words if "=" in w)
        plain = [w for w in words if "=" not in w]
        usage = Notice(
            self.w(
                "Usage: /specialist_add <telegram id> <skills> <languages> <display name> "
                "[gender=female|male] [max=5], for example: /specialist_add 5550001 "
                "theology,law ru,kk Aigerim"
            )
        )
        if len(plain) < 4:
            return usage
        user_id, skills, languages, name = plain[0], plain[1], plain[2], " ".join(plain[3:])
        try:
            max_open = int(options.get("max", "5"))
        except ValueError:
            return usage
        try:
            specialist = await self.roster.add(
                user_id,
                name,
                tuple(filter(None, skills.lower().split(","))),
                tuple(filter(None, languages.lower().split(","))),
                options.get("gender"),
                max_open,
            )
        except RosterError as exc:
            return Notice(f"{exc}\n\n{usage.text}")
        async with self.db.transaction() as conn:
            await self._audit(conn, actor, "specialist_added", None, user_id)
        return Notice(self.w("Added {name}.", name=specialist.display_name))

    async def reassign_command(self, actor: str, args: str) -> Notice:
        if not self.roster.is_coordinator(actor):
            return self._refuse_coordinator()
        words = args.replace("#", " ").split()
        if len(words) != 2 or not words[0].isdigit():
            return Notice(self.w("Usage: /reassign <ticket number> <specialist's telegram id>"))
        return await self.reassign(actor, int(words[0]), words[1])

    async def open_for_citizen(self, actor: str, args: str) -> Notice:
        """/open_ticket <pseudonym> [urgent]: a coordinator opens a ticket for a citizen."""
        if not self.roster.is_coordinator(actor):
            return self._refuse_coordinator()
        words = args.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1] != "urgent"):
            return Notice(self.w("Usage: /open_ticket <pseudonym> [urgent]"))
        person = await PeopleRepository(self.db.connection).by_pseudonym(words[0])
        if person is None:
            return Notice(self.w("No citizen has the pseudonym {pseudonym}.", pseudonym=words[0]))
        ticket, new, _position, _note = await self.open_ticket(
            person, "coordinator", urgent=len(words) == 2
        )
        async with self.db.transaction() as conn:
            await self._audit(conn, actor, "opened", ticket.id)
            queued = []
            if new:
                queued = await self._send(
                    conn,
                    self._citizen(
                        person,
                        self._key("t", ticket.id, "opened"),
                        self.t(self.lang_of(person), "A specialist will write to you here soon."),
                    ),
                )
        self.outbox.wake(queued)
        return Notice(
            self.w(
                "Ticket #{id} is open for {pseudonym}.", id=ticket.id, pseudonym=person.pseudonym
            )
        )

    def staff_help(self) -> Notice:
        return Notice(
            self.w(
                "In a ticket's topic: write to answer the citizen; /note text for an internal "
                "note; /ask_contact; /history; /transfer; /close. Anywhere: /next takes the next "
                "ticket, /queue shows the queue."
            )
        )

    # --- targets, reachability, retention, erasure -----------------------------------------------

    async def check_targets(self) -> int:
        """Alert about tickets unclaimed past their target, again at a growing interval."""
        now = self.clock()
        due = await TicketRepository(self.db.connection).alerts_due(now)
        for ticket in due:
            target = self.target_minutes(ticket)
            text = "\N{ALARM CLOCK} " + self.w(
                "Ticket #{id} ({priority} · {language} · {skill}) has waited {waited} min, past "
                "its {target} min target.",
                id=ticket.id,
                priority=self.label(ticket.priority),
                language=ticket.language,
                skill=self.label(ticket.skill),
                waited=_age_minutes(ticket.created_at, now),
                target=target,
            )
            take = (Action("take", "", self.w("Take next")),)
            messages: list[OutgoingMessage | None] = [
                self._general(self._key("late", ticket.id), text, actions=take),
                *(
                    self._staff(c, self._key("late", ticket.id, c), text)
                    for c in sorted(self.roster.coordinators)
                ),
            ]
            person = await self.people.get(ticket.person_id)
            if ticket.alerts == 0 and person is not None:
                lang = self.lang_of(person)
                position = await TicketRepository(self.db.connection).position(ticket)
                words = self.t(
                    lang,
                    "It is taking longer than usual, sorry. Your request is still in line "
                    "(number {position}); a specialist will write to you here.",
                    position=position,
                )
                if ticket.urgent and self._contacts(lang):
                    words += "\n" + self._contacts(lang)
                messages.append(self._citizen(person, self._key("t", ticket.id, "late"), words))
            following = now + timedelta(minutes=target * 2 ** (ticket.alerts + 1))
            if not ticket.urgent:
                following = self.hours.next_open(following)
            async with self.db.transaction() as conn:
                await TicketRepository(conn).set_fields(
                    ticket.id, alerts=ticket.alerts + 1, next_alert_at=following
                )
                queued = await self._send(conn, *messages)
            self.outbox.wake(queued)
        if due:
            self.refresh_soon()
        return len(due)

    async def unreachable(self, person_id: int) -> None:
        """The outbox found the citizen unreachable: their ticket is marked and closed."""
        ticket = await TicketRepository(self.db.connection).open_for(person_id)
        if ticket is None:
            return
        text = self.w(
            "The citizen cannot be reached (they blocked the bot); the ticket is marked so."
        )
        await self._tell_topic(ticket, "unreachable", f"\N{NO ENTRY} {text}")
        await self._close(ticket, "unreachable", "system", status="unreachable", ask_rating=False)
        self.refresh_soon()

    async def purge(self) -> int:
        """Retention: transcripts and rating comments older than privacy.retention_days go."""
        cutoff = self.clock() - timedelta(days=self.settings.privacy.retention_days)
        async with self.db.transaction() as conn:
            erased = await TicketMessageRepository(conn).erase_before(cutoff)
            erased += await TicketRepository(conn).clear_old_comments(cutoff)
        if erased:
            log.info("retention: %d old ticket texts erased", erased)
        return erased

    async def forget(self, person: Person) -> None:
        """Before /forget erases the person: their tickets' topics go from the workspace too."""
        tickets = await TicketRepository(self.db.connection).of_person(person.id)
        threads = {t.thread_id for t in tickets if t.thread_id is not None}
        if self.workspace is not None:
            for thread in threads:
                try:
                    await self.workspace.delete_topic(thread)
                except WorkspaceError as exc:
                    log.warning("a forgotten person's topic could not be deleted: %s", exc)

    async def audit(self, ticket_id: int | None = None) -> list[Any]:
        return await AuditRepository(self.db.connection).entries(ticket_id)

    async def get_state(self, key: str) -> str | None:
        return await StateRepository(self.db.connection).get(key)

    async def set_state(self, key: str, value: str) -> None:
        async with self.db.transaction() as conn:
            await StateRepository(conn).set(key, value)
