"""The specialist queue's core: take-next, relay, notes, consent, closing, transfers, targets,
roles, retention. On a real SQLite file, with the terminal's workspace (topics in memory) and
the outbox's rows as what would be sent."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.app import App, create_app
from bot.config import load_settings
from bot.console import ConsoleWorkspace
from bot.content import ContentPack
from bot.core.queue import Incoming
from bot.core.replies import Action
from bot.storage import Person, TicketRepository
from bot.storage.outbox import OutboxRepository, OutboxRow
from bot.storage.queue import TicketMessageRepository
from tests.helpers import CONTENT, Clock, write_config

CHANNEL = "telegram"
AIGERIM, DANIYAR, SAULE, COORDINATOR = "5001", "5002", "5003", "9001"


@pytest.fixture
async def qapp(
    tmp_path: Path, content_pack: ContentPack, clock: Clock, shared_core: None
) -> AsyncIterator[App]:
    config = write_config(
        tmp_path / "config.yaml",
        {
            "database": {"path": str(tmp_path / "q.sqlite3"), "event_flush_seconds": 0},
            "content": {"path": str(CONTENT)},
            "specialists": [
                {
                    "telegram_id": 5001,
                    "name": "Aigerim",
                    "skills": ["theology", "psychology"],
                    "languages": ["ru", "kk"],
                    "gender": "female",
                    "max_open": 2,
                },
                {
                    "telegram_id": 5002,
                    "name": "Daniyar",
                    "skills": ["theology"],
                    "languages": ["ru"],
                    "gender": "male",
                },
                {"telegram_id": 5003, "name": "Saule", "skills": ["law"], "languages": ["kk"]},
            ],
            "coordinators": [9001],
            "queue": {"first_reply": {"urgent_minutes": 10, "normal_minutes": 60}},
        },
    )
    settings = load_settings(config, environ={})
    app = await create_app(settings, content=content_pack, clock=clock.now)
    app.queue.attach(ConsoleWorkspace(io.StringIO()))
    try:
        yield app
    finally:
        await app.close()


def ws(app: App) -> ConsoleWorkspace:
    workspace = app.queue.workspace
    assert isinstance(workspace, ConsoleWorkspace)
    return workspace


async def citizen(app: App, key: str = "700", lang: str = "ru") -> Person:
    person, _new = await app.people.identify(CHANNEL, key)
    return await app.people.set_language(person, lang)


async def queued(app: App, clear: bool = True) -> list[OutboxRow]:
    """What the outbox holds to send (and, by default, mark it sent)."""
    conn = app.db.connection
    far = app.conversations.clock() + timedelta(days=3650)
    rows = await OutboxRepository(conn).due("telegram", far, 10_000)
    rows += await OutboxRepository(conn).due("console", far, 10_000)  # the workspace's
    if clear:
        async with app.db.transaction() as tx:
            for row in rows:
                await OutboxRepository(tx).finish(row.id, "sent", app.conversations.clock(), None)
    return rows


def to(rows: list[OutboxRow], chat: str) -> list[OutboxRow]:
    return [r for r in rows if r.chat_id == chat]


async def started(app: App, key: str = "700", who: str = AIGERIM) -> tuple[Person, int, int]:
    """A citizen asks for a specialist; `who` takes the ticket. Returns person, ticket, thread."""
    person = await citizen(app, key)
    await app.conversations.request_specialist(person, CHANNEL)
    notice = await app.queue.take_next(who)
    assert not notice.alert, notice.text
    (ticket,) = await TicketRepository(app.db.connection).assigned_to(who)
    assert ticket.thread_id is not None
    await queued(app)
    return person, ticket.id, ticket.thread_id


async def test_take_next_opens_a_topic_with_the_header_history_and_tells_the_citizen(
    qapp: App,
) -> None:
    app = qapp
    person = await citizen(app)
    await app.conversations.ask(person, "что такое джихад", CHANNEL, "html")
    reply = await app.conversations.request_specialist(person, CHANNEL)
    assert "1" in reply.text
    assert [a.kind for a in reply.actions] == ["gender", "gender", "end"]
    await app.queue.settled()  # the queue message is refreshed after the reply
    header = app.queue.w("Queue: {waiting} waiting, {urgent} urgent.", waiting=1, urgent=0)
    assert ws(app).queue_text.startswith(header)
    assert "#1" in ws(app).queue_text
    assert "что такое джихад" not in ws(app).queue_text, "no content in the queue message"

    notice = await app.queue.take_next(AIGERIM)
    assert not notice.alert
    (topic,) = ws(app).topics.values()
    assert topic["name"] == "#1 · ru · theology"
    (header,) = topic["pinned"]  # type: ignore[misc]
    assert person.pseudonym in header
    assert "Aigerim" in header
    assert "700" not in header, "the platform id never reaches the workspace"
    rows = await queued(app)
    history = [r for r in rows if r.chat_id == "workspace"]
    assert history
    assert "что такое джихад" in (history[0].text or "")
    (told,) = to(rows, "700")
    assert "Aigerim" in (told.text or "")
    actions = [e.action for e in await app.queue.audit(1)]
    assert actions == ["taken", "history_opened"]
    await app.queue.settled()
    assert "#1" not in ws(app).queue_text


async def test_queue_order_urgent_first_then_preferred_then_oldest_and_gender(
    qapp: App, clock: Clock
) -> None:
    app = qapp
    conv = app.conversations
    first = await citizen(app, "701")
    await conv.request_specialist(first, CHANNEL)
    clock.advance(60)
    wants_man = await citizen(app, "702")
    await conv.request_specialist(wants_man, CHANNEL)
    ticket = await TicketRepository(app.db.connection).open_for(wants_man.id)
    assert ticket is not None
    await app.queue.prefer_gender(wants_man, ticket.id, "male")
    clock.advance(60)
    urgent = await citizen(app, "703")
    await conv.request_specialist(urgent, CHANNEL, reason="crisis:self_harm", urgent=True)

    await app.queue.take_next(AIGERIM)
    mine = await TicketRepository(app.db.connection).assigned_to(AIGERIM)
    assert [t.person_id for t in mine] == [urgent.id], "urgent first (psychology)"
    await app.queue.take_next(AIGERIM)
    mine = await TicketRepository(app.db.connection).assigned_to(AIGERIM)
    assert {t.person_id for t in mine} == {urgent.id, first.id}, "a woman skips the man-only one"
    notice = await app.queue.take_next(AIGERIM)
    assert notice.alert, "max_open 2 reached"
    notice = await app.queue.take_next(SAULE)
    assert notice.alert, "law and kk only: nothing for Saule"
    await app.queue.take_next(DANIYAR)
    (his,) = await TicketRepository(app.db.connection).assigned_to(DANIYAR)
    assert his.person_id == wants_man.id


async def test_relay_both_ways_with_every_content_type(qapp: App) -> None:
    app = qapp
    person, ticket, thread = await started(app)
    q = app.queue
    for incoming in (
        Incoming("text", "Здравствуйте <b>!</b>", ref="g:1"),
        Incoming("photo", "схема", "PHOTO-1", ref="g:2"),
        Incoming("document", "", "DOC-1", ref="g:3"),
        Incoming("voice", "", "VOICE-1", ref="g:4"),
    ):
        assert await q.from_workspace(AIGERIM, thread, incoming) is None
    rows = to(await queued(app), "700")
    assert [(r.media_kind, r.media_ref) for r in rows] == [
        (None, None),
        ("photo", "PHOTO-1"),
        ("document", "DOC-1"),
        ("voice", "VOICE-1"),
    ]
    assert rows[0].text == "<b>Aigerim</b>\nЗдравствуйте &lt;b&gt;!&lt;/b&gt;", "signed, escaped"
    assert rows[1].text == "<b>Aigerim</b>\nсхема"
    # the same Telegram message delivered twice is relayed once
    await q.from_workspace(AIGERIM, thread, Incoming("text", "again", ref="g:1"))
    assert to(await queued(app), "700") == []

    for incoming in (
        Incoming("text", "Спасибо", ref="c:1"),
        Incoming("photo", "", "PHOTO-2", ref="c:2"),
        Incoming("voice", "", "VOICE-2", ref="c:3"),
        Incoming("document", "file", "DOC-2", ref="c:4"),
    ):
        reply = await q.from_citizen(person, incoming)
        assert reply is not None
        assert reply.text == "", "nothing is said back: it went on"
    rows = to(await queued(app), "workspace")
    assert all(r.thread_id == thread for r in rows)
    assert [(r.media_kind, r.media_ref) for r in rows] == [
        (None, None),
        ("photo", "PHOTO-2"),
        ("voice", "VOICE-2"),
        ("document", "DOC-2"),
    ]
    lines = await TicketMessageRepository(app.db.connection).of_ticket(ticket)
    assert [line.author for line in lines].count("specialist") == 4
    assert [line.author for line in lines].count("citizen") == 4
    opened = await TicketRepository(app.db.connection).get(ticket)
    assert opened is not None
    assert opened.first_reply_at is not None


async def test_text_routed_through_the_conversation_goes_to_the_topic_not_the_matcher(
    qapp: App,
) -> None:
    app = qapp
    person, _ticket, thread = await started(app)
    turn = await app.conversations.ask(person, "что такое джихад", CHANNEL, "html", "c:9")
    assert turn.reply.text == ""
    assert turn.match is None
    (row,) = to(await queued(app), "workspace")
    assert row.thread_id == thread
    assert "что такое джихад" in (row.text or "")
    media = await app.conversations.other_content(person, Incoming("sticker", "", None, "c:10"))
    assert media.text == ""
    (row,) = to(await queued(app), "workspace")
    assert "[sticker]" in (row.text or "")


async def test_other_members_and_notes_stay_internal(qapp: App) -> None:
    app = qapp
    _person, ticket, thread = await started(app)
    note = await app.queue.from_workspace(DANIYAR, thread, Incoming("text", "посмотри 2 ст."))
    internal = app.queue.w("Internal note: not sent to the citizen.")
    assert note is not None
    assert note.text == internal
    own = await app.queue.from_workspace(AIGERIM, thread, Incoming("text", "мысли"), note=True)
    assert own is not None
    assert own.text == internal
    stranger = await app.queue.from_workspace("424242", thread, Incoming("text", "hi"))
    assert stranger is not None
    assert to(await queued(app), "700") == [], "no note reaches the citizen"
    lines = await TicketMessageRepository(app.db.connection).of_ticket(ticket)
    assert [line.author for line in lines][-3:] == ["note", "note", "note"]
    assert await app.queue.from_workspace(AIGERIM, 999, Incoming("text", "x")) is None


async def test_contact_is_shared_only_with_consent_and_the_consent_is_recorded(
    qapp: App,
) -> None:
    app = qapp
    person, ticket, thread = await started(app)
    early = await app.queue.answer_contact(person, ticket, True, "Asel @asel")
    assert "Asel" not in str(await queued(app)), "no consent without being asked"
    assert early.text
    await app.queue.ask_contact(AIGERIM, thread)
    (question,) = to(await queued(app), "700")
    assert [a[0] for a in question.actions] == ["contact", "contact"]
    stranger = await citizen(app, "799")
    await app.queue.answer_contact(stranger, ticket, True, "Mallory @mal")
    assert to(await queued(app), "workspace") == [], "another citizen cannot answer"
    await app.queue.answer_contact(person, ticket, True, "Asel <@asel>")
    (shared,) = to(await queued(app), "workspace")
    assert "Asel <@asel>" in (shared.text or ""), "as given (the terminal's workspace is plain)"
    row = await TicketRepository(app.db.connection).get(ticket)
    assert row is not None
    assert row.contact_consent_at is not None
    assert "Asel" not in str(await TicketMessageRepository(app.db.connection).of_ticket(ticket))
    assert "contact_shared" in [e.action for e in await app.queue.audit(ticket)]

    other, second, thread2 = await started(app, "702", DANIYAR)
    await app.queue.ask_contact(DANIYAR, thread2)
    await queued(app)
    await app.queue.answer_contact(other, second, False, "Bob")
    (declined,) = to(await queued(app), "workspace")
    assert "Bob" not in (declined.text or "")
    row = await TicketRepository(app.db.connection).get(second)
    assert row is not None
    assert row.contact_consent_at is None


async def test_close_with_an_outcome_then_rating_and_comment(qapp: App, clock: Clock) -> None:
    app = qapp
    person, ticket, thread = await started(app)
    choices = await app.queue.close_choices(AIGERIM, thread)
    assert choices is not None
    assert [a.value for a in choices.actions] == [
        f"{ticket}/answered",
        f"{ticket}/referred",
        f"{ticket}/follow_up",
        f"{ticket}/no_response",
        f"{ticket}/inappropriate",
    ]
    forged = await app.queue.close(AIGERIM, ticket, "deleted-everything")
    assert forged.alert
    done = await app.queue.close(AIGERIM, ticket, "answered")
    assert not done.alert
    row = await TicketRepository(app.db.connection).get(ticket)
    assert row is not None
    assert (row.status, row.outcome) == ("closed", "answered")
    assert ws(app).topics[thread]["closed"] is True
    (ask,) = to(await queued(app), "700")
    assert [a[1] for a in ask.actions] == [f"{ticket}/{n}" for n in range(1, 6)]
    await app.conversations.act(person, Action("rate", f"{ticket}/9", ""), CHANNEL, "html")
    row = await TicketRepository(app.db.connection).get(ticket)
    assert row is not None
    assert row.rating is None, "out of range"
    await app.queue.rate(person, ticket, "4")
    again = await app.queue.rate(person, ticket, "1")
    kept = await TicketRepository(app.db.connection).get(ticket)
    assert kept is not None
    assert kept.rating == 4, "a second rating does not replace the first"
    assert again.text == app.queue.t("ru", "This rating is no longer open.")
    clock.advance(60)
    thanks = await app.conversations.ask(person, "Очень помогли, спасибо", CHANNEL, "html")
    assert thanks.reply.text == app.queue.t("ru", "Thank you! Your comment has been passed on.")
    row = await TicketRepository(app.db.connection).get(ticket)
    assert row is not None
    assert (row.rating, row.rating_comment) == (4, "Очень помогли, спасибо")
    refused = await app.queue.from_workspace(AIGERIM, thread, Incoming("text", "ещё"))
    assert refused is not None, "a closed ticket's topic relays nothing"
    assert to(await queued(app), "700") == []


async def test_writing_again_after_closing_opens_a_linked_ticket_for_the_same_specialist(
    qapp: App, clock: Clock
) -> None:
    app = qapp
    person, ticket, _thread = await started(app)
    await app.queue.close(AIGERIM, ticket, "follow_up")
    await queued(app)
    clock.advance(hours=2)
    other = await citizen(app, "705")
    await app.conversations.request_specialist(other, CHANNEL)  # older in line
    clock.advance(60)
    reply = await app.conversations.ask(person, "Можно ещё вопрос?", CHANNEL, "html")
    assert "Aigerim" in reply.reply.text
    new = await TicketRepository(app.db.connection).open_for(person.id)
    assert new is not None
    assert (new.previous_id, new.preferred_specialist) == (ticket, AIGERIM)
    rows = await queued(app)
    assert any(r.chat_id == AIGERIM and f"#{new.id}" in (r.text or "") for r in rows)
    await app.queue.take_next(AIGERIM)
    mine = await TicketRepository(app.db.connection).assigned_to(AIGERIM)
    assert [t.id for t in mine] == [new.id], "preferred over the older ticket"
    clock.advance(hours=48)
    await app.queue.close(AIGERIM, new.id, "answered")
    clock.advance(hours=25)
    late = await app.conversations.ask(person, "что такое джихад", CHANNEL, "html")
    assert late.match is not None, "after reopen_hours the bot answers as usual"


async def test_transfer_back_to_the_queue_and_to_a_colleague_who_accepts_or_declines(
    qapp: App,
) -> None:
    app = qapp
    _person, ticket, thread = await started(app)
    choices = await app.queue.transfer_choices(AIGERIM, thread)
    assert choices is not None
    assert [a.value for a in choices.actions] == [f"{ticket}/queue", f"{ticket}/{DANIYAR}"]
    await app.queue.transfer(AIGERIM, ticket, DANIYAR)
    (offer,) = to(await queued(app), DANIYAR)
    assert [a[1] for a in offer.actions] == [f"{ticket}/accept", f"{ticket}/decline"]
    assert (await app.queue.answer_offer(SAULE, ticket, True)).alert, "not offered to Saule"
    await app.queue.answer_offer(DANIYAR, ticket, False)
    row = await TicketRepository(app.db.connection).get(ticket)
    assert row is not None
    assert (row.specialist_id, row.offered_to) == (AIGERIM, None)
    assert any("Daniyar" in (r.text or "") for r in to(await queued(app), "workspace"))

    await app.queue.transfer(AIGERIM, ticket, DANIYAR)
    await queued(app)
    await app.queue.answer_offer(DANIYAR, ticket, True)
    row = await TicketRepository(app.db.connection).get(ticket)
    assert row is not None
    assert row.specialist_id == DANIYAR
    rows = await queued(app)
    assert any("Daniyar" in (r.text or "") for r in to(rows, "700"))
    assert (await app.queue.close_choices(AIGERIM, thread)) is not None
    assert (await app.queue.close(AIGERIM, ticket, "answered")).alert, "no longer Aigerim's"
    await app.queue.from_workspace(DANIYAR, thread, Incoming("text", "Я здесь", ref="d:1"))
    assert to(await queued(app), "700")

    await app.queue.transfer(DANIYAR, ticket, "queue")
    row = await TicketRepository(app.db.connection).get(ticket)
    assert row is not None
    assert (row.status, row.specialist_id) == ("waiting", None)
    await app.queue.take_next(AIGERIM)
    row = await TicketRepository(app.db.connection).get(ticket)
    assert row is not None
    assert (row.specialist_id, row.thread_id) == (AIGERIM, thread), "the same topic reopens"
    actions = [e.action for e in await app.queue.audit(ticket)]
    assert actions.count("history_opened") == 3
    assert {"offered", "declined", "handed_over", "returned"} <= set(actions)


async def test_every_privileged_action_is_refused_to_citizens_and_the_wrong_specialist(
    qapp: App,
) -> None:
    app = qapp
    q = app.queue
    person, ticket, thread = await started(app)
    citizen_id = person.platform_id
    assert (await q.take_next(citizen_id)).alert
    for actor in (citizen_id, DANIYAR):
        for notice in (
            await q.close_choices(actor, thread),
            await q.transfer_choices(actor, thread),
            await q.ask_contact(actor, thread),
            await q.history(actor, thread),
            await q.close(actor, ticket, "answered"),
            await q.transfer(actor, ticket, "queue"),
            await q.reassign(actor, ticket, DANIYAR),
            await q.roster_set(actor, AIGERIM, "removed"),
            await q.roster_add(actor, "5009 law ru Eve"),
            await q.open_for_citizen(actor, person.pseudonym),
        ):
            assert notice is not None
            assert notice.alert, notice
        assert q.roster_view(actor).alert
    assert (await q.answer_offer(DANIYAR, ticket, True)).alert, "nothing was offered"
    row = await TicketRepository(app.db.connection).get(ticket)
    assert row is not None
    assert (row.status, row.specialist_id) == ("assigned", AIGERIM)
    assert to(await queued(app), "700") == []
    assert [e.action for e in await q.audit(ticket)] == ["taken", "history_opened"]


async def test_coordinators_reassign_open_tickets_and_manage_the_roster(qapp: App) -> None:
    app = qapp
    q = app.queue
    person, ticket, thread = await started(app)
    moved = await q.reassign(COORDINATOR, ticket, DANIYAR)
    assert not moved.alert
    row = await TicketRepository(app.db.connection).get(ticket)
    assert row is not None
    assert row.specialist_id == DANIYAR

    waiting = await citizen(app, "706")
    opened = await q.open_for_citizen(COORDINATOR, waiting.pseudonym.lower())
    assert not opened.alert
    new = await TicketRepository(app.db.connection).open_for(waiting.id)
    assert new is not None
    assert new.reason == "coordinator"
    assert to(await queued(app), "706"), "the citizen is told"
    assert (await q.open_for_citizen(COORDINATOR, "Nobody-Here-1")).text

    bad = await q.roster_add(COORDINATOR, "5010 astrology ru Eve")
    assert "skills" in bad.text
    assert "/specialist_add 5550001" in (await q.roster_add(COORDINATOR, "5010 law")).text
    added = await q.roster_add(COORDINATOR, "5010 law,social ru,kk Eve Adams gender=female max=3")
    assert not added.alert
    assert app.roster.active("5010") is not None
    await q.roster_set(COORDINATOR, DANIYAR, "paused")
    assert (await q.take_next(DANIYAR)).alert, "paused"
    await q.roster_set(COORDINATOR, AIGERIM, "removed")
    assert app.roster.get(AIGERIM) is None
    assert (await q.roster_set(COORDINATOR, "1", "removed")).alert
    view = q.roster_view(COORDINATOR)
    assert "Eve Adams" in view.text
    assert "Aigerim" not in view.text
    # the roster survives a restart, config does not override a coordinator's change
    await app.roster.load()
    assert app.roster.get(AIGERIM) is None
    assert app.roster.active("5010") is not None
    del person, thread


async def test_targets_alert_the_group_and_coordinators_at_a_growing_interval(
    qapp: App, clock: Clock
) -> None:
    app = qapp
    q = app.queue
    person = await citizen(app)
    await app.conversations.request_specialist(person, CHANNEL)
    await queued(app)
    clock.advance(minutes=59)
    assert await q.check_targets() == 0
    clock.advance(minutes=2)
    assert await q.check_targets() == 1
    rows = await queued(app)
    assert to(rows, "workspace")
    assert to(rows, COORDINATOR)
    (told,) = to(rows, "700")
    assert "1" in (told.text or ""), "the citizen hears the wait grew, with their place"
    clock.advance(minutes=60)
    assert await q.check_targets() == 0, "the next alert waits twice as long"
    clock.advance(minutes=61)
    assert await q.check_targets() == 1
    assert to(await queued(app), "700") == [], "the citizen is told once"


async def test_outside_working_hours_citizens_hear_when_and_urgent_still_alerts(
    qapp: App, clock: Clock
) -> None:
    app = qapp
    clock.advance(hours=9)  # Monday 18:00 UTC = 23:00 in Almaty
    person = await citizen(app)
    reply = await app.conversations.request_specialist(person, CHANNEL)
    assert "03.06 09:00" in reply.text
    urgent = await citizen(app, "707")
    reply = await app.conversations.request_specialist(
        urgent, CHANNEL, reason="crisis:self_harm", urgent=True
    )
    assert "112" in reply.text or "150" in reply.text
    rows = await queued(app)
    assert to(rows, "workspace"), "urgent alerts at once"
    assert to(rows, COORDINATOR)
    clock.advance(minutes=11)
    assert await app.queue.check_targets() == 1, "only the urgent ticket is late at night"
    tickets = TicketRepository(app.db.connection)
    clock.advance(hours=10, minutes=48)  # Tuesday 04:59 UTC, 09:59 in Almaty
    await app.queue.check_targets()
    normal = await tickets.open_for(person.id)
    assert normal is not None
    assert normal.alerts == 0, "its target counts from 09:00"
    clock.advance(minutes=2)
    await app.queue.check_targets()
    normal = await tickets.open_for(person.id)
    assert normal is not None
    assert normal.alerts == 1


async def test_retention_erases_old_transcripts_and_comments(qapp: App, clock: Clock) -> None:
    app = qapp
    person, ticket, thread = await started(app)
    await app.queue.from_workspace(AIGERIM, thread, Incoming("text", "old words", ref="r:1"))
    await app.queue.close(AIGERIM, ticket, "answered")
    await app.queue.rate(person, ticket, "5")
    await app.queue.from_citizen(person, Incoming("text", "a comment"))
    clock.advance(days=181)
    fresh, _t2, thread2 = await started(app, "708", DANIYAR)
    await app.queue.from_workspace(DANIYAR, thread2, Incoming("text", "new words", ref="r:2"))
    assert await app.queue.purge() >= 2
    lines = await TicketMessageRepository(app.db.connection).of_ticket(ticket)
    assert lines == []
    row = await TicketRepository(app.db.connection).get(ticket)
    assert row is not None
    assert (row.rating, row.rating_comment) == (5, None)
    assert await TicketMessageRepository(app.db.connection).of_ticket(_t2)
    del fresh


async def test_forget_erases_tickets_transcripts_and_their_topics(qapp: App) -> None:
    app = qapp
    person, ticket, thread = await started(app)
    await app.queue.from_citizen(person, Incoming("text", "секрет"))
    await app.conversations.forget(person, confirmed=True)
    assert await TicketRepository(app.db.connection).get(ticket) is None
    assert await TicketMessageRepository(app.db.connection).count() == 0
    assert thread not in ws(app).topics


async def test_an_unreachable_citizen_ends_the_ticket_and_the_specialist_is_told(
    qapp: App,
) -> None:
    app = qapp
    person, ticket, thread = await started(app)
    await app.on_unreachable(person.id)
    row = await TicketRepository(app.db.connection).get(ticket)
    assert row is not None
    assert row.status == "unreachable"
    (told,) = to(await queued(app), "workspace")
    assert told.thread_id == thread
    assert ws(app).topics[thread]["closed"] is True


async def test_end_cancels_a_waiting_request_or_ends_the_conversation(qapp: App) -> None:
    app = qapp
    waiting = await citizen(app, "709")
    await app.conversations.request_specialist(waiting, CHANNEL)
    reply = await app.conversations.command(waiting, "/end", CHANNEL)
    assert reply.text == app.queue.t(
        "ru", "Your request has been cancelled. You can ask for a specialist again at any time."
    )
    assert await TicketRepository(app.db.connection).open_for(waiting.id) is None
    person, ticket, thread = await started(app)
    await app.conversations.command(person, "/end", CHANNEL)
    row = await TicketRepository(app.db.connection).get(ticket)
    assert row is not None
    assert (row.status, row.outcome) == ("closed", "ended_by_citizen")
    (told,) = to(await queued(app), "workspace")
    assert told.thread_id == thread
    again = await app.conversations.command(person, "/end", CHANNEL)
    assert again.text == app.queue.t("ru", "You have no open request.")


async def test_forged_ticket_values_from_citizens_are_refused(qapp: App) -> None:
    app = qapp
    person, ticket, _thread = await started(app)
    other = await citizen(app, "710")
    for action in (
        Action("rate", f"{ticket}/5", ""),
        Action("contact", f"{ticket}/yes", ""),
        Action("gender", f"{ticket}/female", ""),
        Action("gender", "abc/female", ""),
        Action("rate", "../../etc", ""),
    ):
        _p, reply = await app.conversations.act(other, action, CHANNEL, "html", "Eve")
        assert reply.text
    row = await TicketRepository(app.db.connection).get(ticket)
    assert row is not None
    assert (row.rating, row.gender, row.contact_consent_at) == (
        None,
        None,
        None,
    )
    assert to(await queued(app), "workspace") == []
    del person


async def test_without_a_workspace_tickets_wait_and_taking_explains_why(
    qapp: App,
) -> None:
    app = qapp
    app.queue.workspace = None
    person = await citizen(app)
    await app.conversations.request_specialist(person, CHANNEL)
    notice = await app.queue.take_next(AIGERIM)
    assert notice.alert
    assert len(await TicketRepository(app.db.connection).waiting()) == 1


async def test_a_person_who_asked_before_having_a_ticket_is_routed_once_they_have_one(
    qapp: App,
) -> None:
    app = qapp
    person = await citizen(app, "711")
    first = await app.conversations.ask(person, "что такое джихад", CHANNEL, "html")
    assert first.match is not None, "no ticket: the matcher answers (and the person is cached)"
    opened = await app.queue.open_for_citizen(COORDINATOR, person.pseudonym)
    assert not opened.alert
    await queued(app)
    routed = await app.conversations.ask(person, "что такое джихад", CHANNEL, "html", "c:1")
    assert routed.match is None, "now it goes to the ticket"
    lines = await TicketMessageRepository(app.db.connection).of_ticket(1)
    assert lines[-1].text == "что такое джихад"


async def test_long_relays_are_split_within_the_platforms_limits_and_lose_nothing(
    qapp: App,
) -> None:
    app = qapp
    person, _ticket, thread = await started(app)
    long_text = ("Абзац ответа. " * 30 + "\n\n") * 12  # about 5,000 characters
    await app.queue.from_workspace(AIGERIM, thread, Incoming("text", long_text, ref="l:1"))
    caption = "подпись " * 200  # 1,600 characters: over a caption's 1,024
    await app.queue.from_workspace(AIGERIM, thread, Incoming("photo", caption, "P-1", "l:2"))
    rows = to(await queued(app), "700")
    assert all(len(r.text or "") <= 4096 for r in rows)
    texts = [r for r in rows if r.media_kind is None]
    assert len(texts) >= 3
    joined = "".join((r.text or "").replace("<b>Aigerim</b>\n", "") for r in texts)
    assert joined.count("Абзац ответа.") == 30 * 12
    (photo,) = [r for r in rows if r.media_kind == "photo"]
    assert photo.text == "<b>Aigerim</b>"
    assert any(caption.strip() in (r.text or "") for r in texts)
    await app.queue.from_workspace(AIGERIM, thread, Incoming("text", long_text, ref="l:1"))
    assert to(await queued(app), "700") == [], "a repeat of a split message is still caught"
    await app.queue.from_citizen(person, Incoming("text", "ы" * 4096, ref="c:long"))
    parts = to(await queued(app), "workspace")
    assert len(parts) == 2
    assert sum((r.text or "").count("ы") for r in parts) == 4096


async def test_history_reposts_the_conversation_for_the_assigned_specialist_and_is_audited(
    qapp: App,
) -> None:
    app = qapp
    person, ticket, thread = await started(app)
    await app.queue.from_citizen(person, Incoming("text", "мой брат ушёл", ref="h:1"))
    await queued(app)
    assert await app.queue.history(AIGERIM, thread) is None
    (posted,) = to(await queued(app), "workspace")
    assert posted.thread_id == thread
    assert "мой брат ушёл" in (posted.text or "")
    actions = [e.action for e in await app.queue.audit(ticket)]
    assert actions.count("history_opened") == 2, "at take, and now"
    refused = await app.queue.history(DANIYAR, thread)
    assert refused is not None
    assert refused.alert
    assert to(await queued(app), "workspace") == []
    assert [e.action for e in await app.queue.audit(ticket)].count("history_opened") == 2
