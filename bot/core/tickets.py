"""The specialist queue's core: opening tickets, the place in line, taking the next one."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from bot.config import Settings
from bot.storage import Database, Person, Ticket, TicketRepository

log = logging.getLogger(__name__)

SKILLS = ("theology", "psychology", "law", "social")

# Which skill a ticket needs, from the topic it came from; config (queue.topic_skills) overrides.
DEFAULT_TOPIC_SKILLS: Mapping[str, str] = {
    "religion-law": "law",
    "religious-literature": "law",
    "criminal-liability": "law",
    "secular-state": "law",
    "report-concern": "law",
    "extremist-content-received": "law",
    "youth-identity": "psychology",
    "family-member": "psychology",
    "leaving-group": "psychology",
}


@dataclass(frozen=True, slots=True)
class Specialist:
    """A registered specialist: who they are to citizens, what they handle, how much at once."""

    user_id: str
    display_name: str
    skills: tuple[str, ...]
    languages: tuple[str, ...]
    max_open: int = 5
    gender: str | None = None
    status: str = "active"

    @property
    def active(self) -> bool:
        return self.status == "active"


@dataclass(frozen=True, slots=True)
class Opened:
    """The outcome of asking for a specialist: the ticket, whether it is new, its place."""

    ticket: Ticket
    new: bool
    position: int


def specialists_from(settings: Settings) -> dict[str, Specialist]:
    """The registered specialists by Telegram user id."""
    return {
        str(s.telegram_id): Specialist(
            user_id=str(s.telegram_id),
            display_name=s.name,
            skills=tuple(s.skills),
            languages=tuple(s.languages),
            max_open=s.max_open,
            gender=s.gender,
        )
        for s in settings.specialists
    }


class TicketService:
    """Tickets from request to assignment. Every change is one transaction; taking is atomic."""

    def __init__(
        self,
        db: Database,
        clock: Callable[[], datetime],
        topic_skills: Mapping[str, str] | None = None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._skills = {**DEFAULT_TOPIC_SKILLS, **(topic_skills or {})}

    def skill_for(self, topic_id: str | None, reason: str) -> str:
        if reason.startswith("crisis"):
            return "psychology"
        return self._skills.get(topic_id or "", "theology")

    async def open(
        self,
        person: Person,
        language: str,
        reason: str,
        topic_id: str | None = None,
        urgent: bool = False,
    ) -> Opened:
        """Open a ticket, or return the person's open one (made urgent if this request is)."""
        async with self._db.transaction() as conn:
            repo = TicketRepository(conn)
            ticket = await repo.open_for(person.id)
            new = ticket is None
            if ticket is None:
                ticket = await repo.add(
                    person.id,
                    "urgent" if urgent else "normal",
                    reason,
                    language,
                    topic_id,
                    self._clock(),
                    skill=self.skill_for(topic_id, reason),
                )
            elif urgent and ticket.priority != "urgent":
                await repo.escalate(ticket.id, reason)
                ticket = await repo.get(ticket.id) or ticket
            position = await repo.position(ticket) if ticket.status == "waiting" else 0
        return Opened(ticket, new, position)

    async def take_next(self, specialist: Specialist) -> Ticket | None:
        """The best waiting ticket for this specialist: urgent first, then the oldest, in their
        languages and skills, within their maximum of open tickets."""
        async with self._db.transaction() as conn:
            repo = TicketRepository(conn)
            if await repo.count_assigned(specialist.user_id) >= specialist.max_open:
                return None
            ticket = await repo.take_next(
                specialist.user_id,
                specialist.languages,
                specialist.skills,
                self._clock(),
                specialist.gender,
            )
        if ticket is not None:
            log.info("ticket %s taken by specialist %s", ticket.id, specialist.display_name)
        return ticket

    async def cancel(self, person: Person) -> Ticket | None:
        """The citizen withdraws their open ticket (/end)."""
        async with self._db.transaction() as conn:
            repo = TicketRepository(conn)
            ticket = await repo.open_for(person.id)
            if ticket is None:
                return None
            await repo.close(ticket.id, "cancelled", "cancelled by the citizen", self._clock())
        return ticket

    async def waiting(self) -> list[Ticket]:
        return await TicketRepository(self._db.connection).waiting()
