"""The roster of specialists: seeded from config, then managed by coordinators from Telegram."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from bot.config import Settings
from bot.core.tickets import SKILLS, Specialist, specialists_from
from bot.storage import Database
from bot.storage.queue import SpecialistRepository, SpecialistRow

log = logging.getLogger(__name__)

STATUSES = ("active", "paused", "removed")


class RosterError(ValueError):
    """A coordinator's change that cannot be made, said in words they can act on."""


def _specialist(row: SpecialistRow) -> Specialist:
    return Specialist(
        user_id=row.user_id,
        display_name=row.display_name,
        skills=row.skills,
        languages=row.languages,
        max_open=row.max_open,
        gender=row.gender,
        status=row.status,
    )


def _row(s: Specialist) -> SpecialistRow:
    return SpecialistRow(
        s.user_id, s.display_name, s.skills, s.languages, s.gender, s.max_open, s.status
    )


class Roster:
    """Who the specialists are right now; read from memory, written through to the database."""

    def __init__(self, settings: Settings, db: Database, clock: Callable[[], datetime]) -> None:
        self._settings = settings
        self._db = db
        self._clock = clock
        self._by_id: dict[str, Specialist] = {}
        self.coordinators = frozenset(str(c) for c in settings.coordinators)

    async def load(self, extra: tuple[Specialist, ...] = ()) -> None:
        """Config's specialists are added if new (a coordinator's later changes win)."""
        async with self._db.transaction() as conn:
            repo = SpecialistRepository(conn)
            for s in (*specialists_from(self._settings).values(), *extra):
                await repo.upsert(_row(s), self._clock(), keep_existing=True)
            rows = await repo.all()
        self._by_id = {row.user_id: _specialist(row) for row in rows}

    def add_transient(self, specialist: Specialist) -> None:
        """A specialist for this process only, never written (the terminal demo's)."""
        self._by_id[specialist.user_id] = specialist

    def get(self, user_id: str) -> Specialist | None:
        """A specialist who is not removed (active or paused)."""
        found = self._by_id.get(user_id)
        return found if found is not None and found.status != "removed" else None

    def active(self, user_id: str) -> Specialist | None:
        found = self._by_id.get(user_id)
        return found if found is not None and found.active else None

    def is_coordinator(self, user_id: str) -> bool:
        return user_id in self.coordinators

    def everyone(self) -> list[Specialist]:
        return [s for s in self._by_id.values() if s.status != "removed"]

    def available_for(self, language: str, skill: str, exclude: str = "") -> list[Specialist]:
        """Active specialists who speak the language and have the skill."""
        return [
            s
            for s in self._by_id.values()
            if s.active and s.user_id != exclude and language in s.languages and skill in s.skills
        ]

    async def add(
        self,
        user_id: str,
        name: str,
        skills: tuple[str, ...],
        languages: tuple[str, ...],
        gender: str | None = None,
        max_open: int = 5,
    ) -> Specialist:
        """Add (or re-add) a specialist; every field is checked first."""
        if not user_id.isdigit():
            raise RosterError("the Telegram user id is a number (ask them to send /myid)")
        name = name.strip()
        if not 1 <= len(name) <= 64 or any(c in name for c in "<>&"):
            raise RosterError("the display name must be 1 to 64 characters, without < > &")
        bad = [s for s in skills if s not in SKILLS]
        if not skills or bad:
            raise RosterError(f"skills must be some of {', '.join(SKILLS)}")
        if not languages or any(lang not in self._settings.languages for lang in languages):
            raise RosterError(f"languages must be some of {', '.join(self._settings.languages)}")
        if gender not in (None, "female", "male"):
            raise RosterError("gender is female, male or left out")
        if not 1 <= max_open <= 100:
            raise RosterError("the maximum of open tickets is 1 to 100")
        specialist = Specialist(user_id, name, skills, languages, max_open, gender, "active")
        async with self._db.transaction() as conn:
            await SpecialistRepository(conn).upsert(
                _row(specialist), self._clock(), keep_existing=False
            )
        self._by_id[user_id] = specialist
        return specialist

    async def set_status(self, user_id: str, status: str) -> Specialist:
        if status not in STATUSES:
            raise RosterError(f"status is one of {', '.join(STATUSES)}")
        current = self._by_id.get(user_id)
        if current is None:
            raise RosterError("no specialist with that id")
        async with self._db.transaction() as conn:
            await SpecialistRepository(conn).set_status(user_id, status, self._clock())
        updated = Specialist(
            current.user_id,
            current.display_name,
            current.skills,
            current.languages,
            current.max_open,
            current.gender,
            status,
        )
        self._by_id[user_id] = updated
        return updated
