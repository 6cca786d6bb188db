"""People: identify by channel and platform id, give each a pseudonym, erase on request."""

from __future__ import annotations

import logging
import secrets
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime

from bot.storage import Database, PeopleRepository, Person

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
LAST_SEEN_PRECISION = 60.0  # seconds

_ADJECTIVES = [
    "Amber",
    "Azure",
    "Bright",
    "Calm",
    "Clear",
    "Golden",
    "Green",
    "Quiet",
    "Silver",
    "Swift",
    "Steady",
    "Gentle",
    "Bold",
    "Kind",
    "Misty",
    "Sunny",
    "Snowy",
    "Windy",
    "Early",
    "Northern",
    "Southern",
    "Eastern",
    "Western",
    "Young",
    "Wise",
]
_NOUNS = [
    "Falcon",
    "Steppe",
    "Poplar",
    "Saiga",
    "River",
    "Eagle",
    "Tulip",
    "Cedar",
    "Lake",
    "Mountain",
    "Swallow",
    "Horse",
    "Crane",
    "Juniper",
    "Meadow",
    "Lark",
    "Apple",
    "Fox",
    "Owl",
    "Heron",
    "Maple",
    "Comet",
    "Willow",
    "Snowdrop",
]


def utc_now() -> datetime:
    return datetime.now(UTC)


def _recent(last_seen: str, now: datetime) -> bool:
    try:
        return (now - datetime.fromisoformat(last_seen)).total_seconds() < LAST_SEEN_PRECISION
    except ValueError:
        return False


def make_pseudonym() -> str:
    """A readable pseudonym such as 'Quiet-Falcon-42' that says nothing about the person."""
    return f"{secrets.choice(_ADJECTIVES)}-{secrets.choice(_NOUNS)}-{secrets.randbelow(90) + 10}"


class PeopleService:
    """Finds or creates the person behind a platform id; erases them on /forget."""

    def __init__(self, db: Database, clock: Clock = utc_now, cache_size: int = 10_000) -> None:
        self._db = db
        self._clock = clock
        # People seen in the last minute, so that a conversation costs no lookup per message.
        # Every change to a person goes through this service, which updates or drops the entry;
        # entries expire with LAST_SEEN_PRECISION, so another process's change shows within it.
        self._recent: OrderedDict[tuple[str, str], tuple[Person, datetime]] = OrderedDict()
        self._cache_size = cache_size

    def _remember(self, person: Person, now: datetime) -> None:
        key = (person.channel, person.platform_id)
        self._recent[key] = (person, now)
        self._recent.move_to_end(key)
        while len(self._recent) > self._cache_size:
            self._recent.popitem(last=False)

    def _forget_cached(self, person: Person) -> None:
        self._recent.pop((person.channel, person.platform_id), None)

    async def identify(
        self, channel: str, platform_id: str, language: str | None = None
    ) -> tuple[Person, bool]:
        """The person for this platform id and whether they are new; updates last seen."""
        now = self._clock()
        cached = self._recent.get((channel, platform_id))
        if cached is not None and (now - cached[1]).total_seconds() < LAST_SEEN_PRECISION:
            return cached[0], False
        repo = PeopleRepository(self._db.connection)
        person = await repo.find(channel, platform_id)
        if person is not None and not person.unreachable and _recent(person.last_seen_at, now):
            self._remember(person, now)
            return person, False  # last seen kept to the minute: no write for every message
        async with self._db.transaction() as conn:
            repo = PeopleRepository(conn)
            if person is None:  # another update may have created them meanwhile
                person = await repo.find(channel, platform_id)
            if person is not None:
                await repo.touch(person.id, now)
                self._remember(person, now)
                return person, False
            pseudonym = make_pseudonym()
            for _ in range(20):
                if not await repo.pseudonym_taken(pseudonym):
                    break
                pseudonym = make_pseudonym() + secrets.token_hex(1)
            person = await repo.add(channel, platform_id, pseudonym, language, now)
        self._remember(person, now)
        log.info("new person %s on %s", person.pseudonym, channel)
        return person, True

    async def find(self, channel: str, platform_id: str) -> Person | None:
        """The person behind a platform id, if known; creates nothing."""
        return await PeopleRepository(self._db.connection).find(channel, platform_id)

    async def get(self, person_id: int) -> Person | None:
        return await PeopleRepository(self._db.connection).get(person_id)

    async def set_language(self, person: Person, language: str) -> Person:
        async with self._db.transaction() as conn:
            await PeopleRepository(conn).set_language(person.id, language)
        updated = await self.get(person.id)
        assert updated is not None
        self._remember(updated, self._clock())
        return updated

    async def mark_unreachable_by_id(self, person_id: int) -> None:
        """For the outbox, which knows only the id."""
        person = await self.get(person_id)
        if person is not None:
            await self.mark_unreachable(person)

    async def mark_unreachable(self, person: Person) -> None:
        async with self._db.transaction() as conn:
            await PeopleRepository(conn).mark_unreachable(person.id)
        self._forget_cached(person)

    async def forget(self, person: Person) -> bool:
        """Erase the person and everything linked to them; the anonymous event log stays."""
        async with self._db.transaction() as conn:
            erased = await PeopleRepository(conn).delete(person.id)
        self._forget_cached(person)
        log.info("erased person %s on request", person.pseudonym)
        return erased
