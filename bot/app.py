"""create_app(settings): the one place where everything is wired together."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bot.config import Settings
from bot.content import ContentPack, load_content
from bot.core.broadcasts import BroadcastService
from bot.core.conversations import ConversationService
from bot.core.events import EventLog
from bot.core.lectures import LectureService
from bot.core.matcher import Matcher
from bot.core.people import PeopleService, utc_now
from bot.core.queue import QueueService
from bot.core.roster import Roster
from bot.core.safety import CrisisClassifier, CrisisDetector
from bot.core.tickets import TicketService
from bot.outbox import Outbox
from bot.storage import Database

log = logging.getLogger(__name__)


@dataclass
class App:
    """The long-lived objects of one process; channels and jobs get what they need from here."""

    settings: Settings
    db: Database
    content: ContentPack
    matcher: Matcher
    crisis: CrisisDetector
    people: PeopleService
    conversations: ConversationService
    outbox: Outbox
    roster: Roster
    queue: QueueService
    lectures: LectureService
    broadcasts: BroadcastService

    async def on_unreachable(self, person_id: int) -> None:
        """The outbox could not reach a person: mark them, and end their ticket if any."""
        await self.people.mark_unreachable_by_id(person_id)
        await self.queue.unreachable(person_id)

    async def close(self) -> None:
        await self.queue.settled()
        await self.conversations.events.stop()
        await self.db.close()


def build_core(settings: Settings, content: ContentPack) -> tuple[Matcher, CrisisDetector]:
    """The matcher and the crisis detector for the served scripts (no database needed)."""
    served = content.served(settings.content.serve_statuses)
    matcher = Matcher(served, content.out_of_scope, settings.matcher)
    return matcher, CrisisDetector(
        content.crisis, crisis_classifier(content), settings.crisis.classifier_threshold
    )


def crisis_classifier(content: ContentPack) -> CrisisClassifier | None:
    """Learns the crisis examples against their look-alikes and every other example.

    Its own feature space: sharing the matcher's cost accuracy and saved nothing measurable.
    """
    examples = content.crisis_examples
    crisis = [t for items in examples.get("crisis", {}).values() for t in items]
    if not crisis:
        return None
    negatives = [t for items in examples.get("not_crisis", {}).values() for t in items]
    for script in content.scripts.values():
        for local in script.texts.values():
            negatives.extend(local.examples)
    for items in content.out_of_scope.values():
        negatives.extend(items)
    return CrisisClassifier(crisis, negatives)


def load_pack(settings: Settings, base: Path | None = None) -> ContentPack:
    root = settings.content.path
    if base is not None and not root.is_absolute():
        root = base / root
    return load_content(root, settings.languages, settings.default_language)


async def create_app(
    settings: Settings,
    *,
    content: ContentPack | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> App:
    """Open the database, load the content, build the services."""
    pack = content if content is not None else load_pack(settings)
    for problem in pack.problems:
        log.warning("content problem, skipped: %s", problem)
    if not pack.served(settings.content.serve_statuses):
        log.warning("no script is served: check content.path and content.serve_statuses")
    db = await Database.open(settings.database.path)
    matcher, crisis = build_core(settings, pack)
    people = PeopleService(db, clock)
    events = EventLog(db, clock, settings.database.event_flush_seconds)
    events.start()
    outbox = Outbox(db, clock)
    tickets = TicketService(db, clock, settings.queue.topic_skills)
    roster = Roster(settings, db, clock)
    await roster.load()
    queue = QueueService(settings, db, pack, people, tickets, roster, outbox, clock)
    conversations = ConversationService(
        settings, db, pack, matcher, crisis, people, clock, events, tickets, queue
    )
    lectures = LectureService(settings, db, pack, outbox, clock)
    broadcasts = BroadcastService(settings, db, pack, outbox, clock)
    return App(
        settings,
        db,
        pack,
        matcher,
        crisis,
        people,
        conversations,
        outbox,
        roster,
        queue,
        lectures,
        broadcasts,
    )
