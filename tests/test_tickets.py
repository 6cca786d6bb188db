"""The specialist queue's core: order, place in line, skills, taking, cancelling, migration."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.core.people import PeopleService
from bot.core.tickets import Specialist, TicketService
from bot.storage import Database, Person, TicketRepository
from tests.helpers import Clock

THEOLOGIAN = Specialist("9001", "Ustaz Nurlan", ("theology",), ("ru", "kk"), max_open=3)
LAWYER = Specialist("9002", "Aliya, lawyer", ("law",), ("ru", "en"), max_open=1)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "tickets.sqlite3")
    yield database
    await database.close()


async def citizen(db: Database, clock: Clock, key: str, lang: str = "ru") -> Person:
    person, _ = await PeopleService(db, clock.now).identify("telegram", key, lang)
    return person


async def test_urgent_first_then_oldest_and_the_place_in_line(db: Database, clock: Clock) -> None:
    tickets = TicketService(db, clock.now)
    first = await tickets.open(await citizen(db, clock, "1"), "ru", "asked")
    clock.advance(60)
    second = await tickets.open(await citizen(db, clock, "2"), "ru", "asked")
    clock.advance(60)
    crisis = await tickets.open(
        await citizen(db, clock, "3"), "ru", "crisis:self_harm", urgent=True
    )
    assert (first.position, second.position, crisis.position) == (1, 2, 1)
    assert [t.id for t in await tickets.waiting()] == [
        crisis.ticket.id,
        first.ticket.id,
        second.ticket.id,
    ]
    again = await tickets.open(await citizen(db, clock, "2"), "ru", "asked")
    assert not again.new
    assert again.ticket.id == second.ticket.id
    assert again.position == 3


async def test_asking_again_urgently_moves_the_ticket_up(db: Database, clock: Clock) -> None:
    tickets = TicketService(db, clock.now)
    await tickets.open(await citizen(db, clock, "1"), "ru", "asked")
    person = await citizen(db, clock, "2")
    await tickets.open(person, "ru", "asked")
    urgent = await tickets.open(person, "ru", "crisis:life_threat", urgent=True)
    assert urgent.ticket.priority == "urgent"
    assert urgent.position == 1


async def test_the_skill_comes_from_the_topic_and_can_be_overridden(
    db: Database, clock: Clock
) -> None:
    tickets = TicketService(db, clock.now, {"study-abroad": "social"})
    assert tickets.skill_for("criminal-liability", "asked") == "law"
    assert tickets.skill_for("family-member", "asked") == "psychology"
    assert tickets.skill_for("takfir", "asked") == "theology"
    assert tickets.skill_for(None, "asked") == "theology"
    assert tickets.skill_for("study-abroad", "asked") == "social"
    assert tickets.skill_for("takfir", "crisis:harm_others") == "psychology"
    opened = await tickets.open(await citizen(db, clock, "1"), "ru", "asked", "religion-law")
    assert opened.ticket.skill == "law"


async def test_take_next_matches_language_and_skill_within_the_maximum(
    db: Database, clock: Clock
) -> None:
    tickets = TicketService(db, clock.now)
    english_law = await tickets.open(
        await citizen(db, clock, "1", "en"), "en", "asked", "criminal-liability"
    )
    kazakh_theology = await tickets.open(
        await citizen(db, clock, "2", "kk"), "kk", "asked", "takfir"
    )
    russian_law = await tickets.open(await citizen(db, clock, "3"), "ru", "asked", "religion-law")
    taken = await tickets.take_next(THEOLOGIAN)
    assert taken is not None
    assert taken.id == kazakh_theology.ticket.id
    assert taken.specialist_id == THEOLOGIAN.user_id
    assert taken.status == "assigned"
    assert await tickets.take_next(THEOLOGIAN) is None, "nothing else in theology"
    lawyer_first = await tickets.take_next(LAWYER)
    assert lawyer_first is not None
    assert lawyer_first.id == english_law.ticket.id
    assert await tickets.take_next(LAWYER) is None, "at her maximum of one open ticket"
    waiting = await tickets.waiting()
    assert [t.id for t in waiting] == [russian_law.ticket.id]


async def test_fifty_specialists_pressing_at_once_take_one_ticket_once(
    db: Database, clock: Clock
) -> None:
    tickets = TicketService(db, clock.now)
    opened = await tickets.open(await citizen(db, clock, "1"), "ru", "asked")
    team = [Specialist(str(100 + i), f"Specialist {i}", ("theology",), ("ru",)) for i in range(50)]
    results = await asyncio.gather(*(tickets.take_next(s) for s in team))
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    assert winners[0].id == opened.ticket.id
    stored = await TicketRepository(db.connection).get(opened.ticket.id)
    assert stored is not None
    assert stored.specialist_id == winners[0].specialist_id


async def test_the_citizen_can_withdraw_and_ask_again(db: Database, clock: Clock) -> None:
    tickets = TicketService(db, clock.now)
    person = await citizen(db, clock, "1")
    first = await tickets.open(person, "ru", "asked")
    cancelled = await tickets.cancel(person)
    assert cancelled is not None
    assert cancelled.id == first.ticket.id
    assert await tickets.waiting() == []
    assert await tickets.cancel(person) is None
    again = await tickets.open(person, "ru", "asked")
    assert again.new
    assert again.ticket.id != first.ticket.id


async def test_an_old_databases_requests_become_tickets(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "old.sqlite3"
    from bot.storage.db import migrations

    with sqlite3.connect(path) as conn:  # a database at schema 2, with one waiting request
        for number, _name, sql in migrations()[:2]:
            conn.executescript(f"{sql}\nPRAGMA user_version = {number};")
        conn.execute(
            "INSERT INTO people (channel, platform_id, pseudonym, language, created_at,"
            " last_seen_at) VALUES ('telegram', '5', 'Calm-Owl-12', 'kk', 'x', 'x')"
        )
        conn.execute(
            "INSERT INTO specialist_requests (person_id, priority, reason, language, created_at)"
            " VALUES (1, 'urgent', 'crisis:self_harm', 'kk', '2026-11-01T10:00:00+00:00')"
        )
    db = await Database.open(path)
    try:
        (ticket,) = await TicketRepository(db.connection).waiting()
        assert (ticket.priority, ticket.reason, ticket.skill) == (
            "urgent",
            "crisis:self_harm",
            "theology",
        )
    finally:
        await db.close()
