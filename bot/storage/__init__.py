"""The database, its migrations and one repository per aggregate; all SQL lives here."""

from bot.storage.db import Database
from bot.storage.repositories import (
    Event,
    EventRepository,
    PeopleRepository,
    Person,
    Ticket,
    TicketRepository,
)

__all__ = [
    "Database",
    "Event",
    "EventRepository",
    "PeopleRepository",
    "Person",
    "Ticket",
    "TicketRepository",
]
