"""The conversation service through create_app, on a real SQLite file and the real scripts."""

from __future__ import annotations

import aiosqlite
import pytest

from bot.app import App
from bot.core.replies import Action
from bot.storage import EventRepository, Person, TicketRepository
from tests.helpers import Clock

CHANNEL = "console"


async def person_in(app: App, platform_id: str = "p1", lang: str | None = "ru") -> Person:
    person, new = await app.people.identify(CHANNEL, platform_id, lang)
    assert new
    return person


async def all_rows(conn: aiosqlite.Connection) -> dict[str, list[tuple[object, ...]]]:
    async with conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'") as cur:
        tables = [row[0] for row in await cur.fetchall()]
    rows = {}
    for table in tables:
        async with conn.execute(f'SELECT * FROM "{table}"') as cur:
            rows[table] = [tuple(row) for row in await cur.fetchall()]
    return rows


def kinds(actions: tuple[Action, ...]) -> list[str]:
    return [action.kind for action in actions]


async def test_confident_question_gets_the_answer(app: App, clock: Clock) -> None:
    person = await person_in(app)
    turn = await app.conversations.ask(person, "Что такое джихад?", CHANNEL, "html")
    assert turn.language == "ru"
    assert turn.crisis is None
    assert turn.match is not None
    assert turn.match.kind == "confident"
    assert turn.match.topic_id == "jihad-meaning"
    reply = turn.reply
    assert not reply.crisis
    assert "<b>усердие, приложение усилий</b>" in reply.text
    assert "<i>Источники:</i>" in reply.text
    assert "• Уголовный кодекс РК" in reply.text
    assert reply.text.endswith("Это помогло?")
    values = [(a.kind, a.value) for a in reply.actions]
    assert kinds(reply.actions[:2]) == ["feedback", "feedback"]
    assert reply.actions[0].value.startswith("yes")
    assert reply.actions[1].value.startswith("no")
    assert all(v.endswith("jihad-meaning") for _k, v in values[:2])
    related = [v for k, v in values if k == "topic"]
    assert related == list(app.content.scripts["jihad-meaning"].related)
    assert values[-1] == ("specialist", "jihad-meaning")
    (event,) = await EventRepository(app.db.connection).list()
    assert (event.kind, event.channel, event.language) == ("question", CHANNEL, "ru")
    assert (event.topic_id, event.outcome) == ("jihad-meaning", "confident")
    assert event.score is not None
    assert event.score > 0.5
    assert event.created_at == clock.now().isoformat()


async def test_plain_format_has_no_markup(app: App) -> None:
    person = await person_in(app)
    turn = await app.conversations.ask(person, "что такое джихад", CHANNEL, "plain")
    assert "<b>" not in turn.reply.text
    assert "усердие, приложение усилий" in turn.reply.text
    assert "Источники:" in turn.reply.text


async def test_question_language_wins_when_certain(app: App) -> None:
    person = await person_in(app, lang="ru")
    turn = await app.conversations.ask(person, "what is jihad", CHANNEL, "plain")
    assert turn.language == "en"
    assert "striving, making an effort" in turn.reply.text
    assert "Sources:" in turn.reply.text


async def test_ambiguous_question_offers_topics(app: App) -> None:
    person = await person_in(app)
    # broad one-word questions fit several topics; at least one of them must be a choice
    for text in ("ислам", "религия", "экстремизм"):
        turn = await app.conversations.ask(person, text, CHANNEL, "plain")
        assert turn.match is not None
        if turn.match.kind == "ambiguous":
            break
    else:
        pytest.fail("no broad question was ambiguous")
    assert turn.reply.text == app.conversations.t("ru", "Did you mean one of these?")
    topics = [a.value for a in turn.reply.actions if a.kind == "topic"]
    assert topics == [c.topic_id for c in turn.match.candidates]
    assert 2 <= len(topics) <= 3
    assert all(a.label == app.conversations.title(a.value, "ru") for a in turn.reply.actions[:-1])
    assert turn.reply.actions[-1].kind == "specialist"
    event = (await EventRepository(app.db.connection).list())[-1]
    assert event.outcome == "ambiguous"
    assert event.topic_id is None


async def test_crisis_wins_over_topics(crisis_app: App, clock: Clock) -> None:
    app = crisis_app
    person = await person_in(app)
    text = "что такое джихад? я хочу убить себя"
    assert app.matcher.match(text).best is not None  # it does look like a topic too
    turn = await app.conversations.ask(person, text, CHANNEL, "html")
    assert turn.crisis is not None
    assert turn.crisis.category == "self_harm"
    assert turn.match is None
    reply = turn.reply
    assert reply.crisis
    assert "112" in reply.text
    assert "Единая служба спасения" in reply.text
    assert "джихад" not in reply.text.lower()
    assert kinds(reply.actions) == ["specialist"]
    (request,) = await TicketRepository(app.db.connection).waiting()
    assert request.person_id == person.id
    assert request.priority == "urgent"
    assert request.reason == "crisis:self_harm"
    assert request.created_at == clock.now().isoformat()
    events = await EventRepository(app.db.connection).list()
    assert [(e.kind, e.outcome) for e in events] == [
        ("crisis", "self_harm"),
        ("specialist_requested", "crisis:self_harm"),
    ]
    assert not [e for e in events if e.kind == "question"]


async def test_crisis_reply_uses_the_configured_contacts(crisis_app: App) -> None:
    person = await person_in(crisis_app, lang="en")
    turn = await crisis_app.conversations.ask(person, "I want to kill myself", CHANNEL, "plain")
    assert turn.reply.crisis
    assert "Emergency services: 112" in turn.reply.text


async def test_crisis_escalates_an_open_request(crisis_app: App) -> None:
    app = crisis_app
    person = await person_in(app)
    await app.conversations.request_specialist(person, CHANNEL)
    await app.conversations.ask(person, "не хочу жить", CHANNEL, "plain")
    (request,) = await TicketRepository(app.db.connection).waiting()
    assert request.priority == "urgent"
    assert request.reason == "crisis:self_harm"


async def test_out_of_scope_gets_a_polite_reply(app: App) -> None:
    person = await person_in(app)
    turn = await app.conversations.ask(person, "какой рецепт борща с говядиной", CHANNEL, "html")
    assert turn.match is not None
    assert turn.match.kind == "none"
    assert "Спасибо, что написали" in turn.reply.text
    assert app.settings.organisation.name in turn.reply.text
    assert kinds(turn.reply.actions) == ["topics", "specialist"]
    (event,) = await EventRepository(app.db.connection).list()
    assert (event.kind, event.outcome, event.topic_id) == ("question", "none", None)


@pytest.mark.parametrize("text", ["", "   ", "😀🙏", "123", "\x00\x01\x02"])
async def test_no_words_gets_a_polite_request_for_words(app: App, text: str) -> None:
    person = await person_in(app)
    turn = await app.conversations.ask(person, text, CHANNEL, "plain")
    assert turn.reply.text == app.conversations.t(
        "ru", "Please write your question in words, and I will try to help."
    )
    assert kinds(turn.reply.actions) == ["topics", "specialist", "language", "privacy"]


async def test_very_long_question_is_read_from_its_beginning(app: App) -> None:
    person = await person_in(app)
    text = "что такое джихад " + "и " * 5000
    turn = await app.conversations.ask(person, text, CHANNEL, "plain")
    assert turn.reply.text.startswith(
        app.conversations.t(
            "ru",
            "Your message is very long, so I read only its beginning. Short questions work best.",
        )
    )
    assert turn.match is not None
    assert turn.match.topic_id == "jihad-meaning"


async def test_feedback_is_recorded(app: App, clock: Clock) -> None:
    conv = app.conversations
    person = await person_in(app)
    helped = await conv.feedback(person, "jihad-meaning", True, CHANNEL)
    assert helped.text == conv.t("ru", "Thank you! I am glad it helped.")
    clock.advance(30)
    await conv.feedback(person, "no-such-topic", True, CHANNEL)
    events = await EventRepository(app.db.connection).list("feedback")
    assert [(e.topic_id, e.outcome) for e in events] == [
        ("jihad-meaning", "helped"),
        (None, "helped"),  # an unknown id is not written into the log
    ]
    assert events[1].created_at == clock.now().isoformat()


async def test_did_not_help_offers_a_specialist(app: App) -> None:
    conv = app.conversations
    person = await person_in(app)
    reply = await conv.feedback(person, "takfir", False, CHANNEL)
    assert reply.text == conv.t(
        "ru", "I am sorry it did not help. A specialist can talk it through with you in person."
    )
    assert [(a.kind, a.value) for a in reply.actions] == [("specialist", "takfir"), ("topics", "")]
    (event,) = await EventRepository(app.db.connection).list("feedback")
    assert event.outcome == "not_helped"
    # choosing the offered specialist records a normal request with the topic
    await conv.request_specialist(person, CHANNEL, topic_id="takfir")
    (request,) = await TicketRepository(app.db.connection).waiting()
    assert (request.priority, request.topic_id, request.language) == ("normal", "takfir", "ru")


async def test_open_topic_records_and_answers(app: App) -> None:
    person = await person_in(app, lang="kk")
    reply = await app.conversations.open_topic(person, "takfir", CHANNEL, "plain")
    assert reply.text.endswith(app.conversations.t("kk", "Did this help?"))
    (event,) = await EventRepository(app.db.connection).list("topic_opened")
    assert (event.topic_id, event.language) == ("takfir", "kk")


async def test_request_specialist_twice_does_not_duplicate(app: App) -> None:
    conv = app.conversations
    person = await person_in(app)
    first = await conv.request_specialist(person, CHANNEL)
    second = await conv.request_specialist(person, CHANNEL)
    place = conv.t("ru", "You are number {position} in line.", position=1)
    assert (
        first.text
        == conv.t(
            "ru",
            "Your request has been passed to a specialist. A specialist will write to you here; "
            "you do not need to do anything else.",
        )
        + " "
        + place
    )
    assert (
        second.text
        == conv.t(
            "ru", "Your request is already in the queue. A specialist will write to you here."
        )
        + " "
        + place
    )
    assert len(await TicketRepository(app.db.connection).waiting()) == 1
    other = await person_in(app, "p2")
    third = await conv.request_specialist(other, CHANNEL)
    assert third.text.endswith(conv.t("ru", "You are number {position} in line.", position=2))
    assert len(await TicketRepository(app.db.connection).waiting()) == 2


async def test_forget_erases_the_person_and_their_requests(app: App) -> None:
    conv = app.conversations
    person = await person_in(app)
    await conv.ask(person, "что такое джихад", CHANNEL, "plain")
    await conv.request_specialist(person, CHANNEL)
    kept = await conv.forget(person, confirmed=False)
    assert kept.text == conv.t("ru", "Nothing was erased.")
    assert await app.people.get(person.id) is not None

    asked = conv.forget_request(person)
    assert [a.value for a in asked.actions] == ["yes", "no"]
    done = await conv.forget(person, confirmed=True)
    assert done.text == conv.t(
        "ru", "Done: everything about you has been erased. If you write again, we start afresh."
    )
    assert await app.people.get(person.id) is None
    assert await TicketRepository(app.db.connection).waiting() == []
    rows = await all_rows(app.db.connection)
    assert rows["people"] == []
    assert rows["tickets"] == []
    assert rows["ticket_messages"] == []
    assert len(rows["events"]) == 2  # the anonymous log stays
    again, new = await app.people.identify(CHANNEL, "p1")
    assert new
    assert again.language is None
    assert conv.start(again).actions[0].kind == "language"


async def test_no_row_anywhere_contains_the_question(crisis_app: App) -> None:
    """Questions are not stored, except as a ticket's conversation so far (which /forget and
    the retention period erase): there, and only there."""
    app = crisis_app
    conv = app.conversations
    person = await person_in(app, "p-private")
    questions = [
        "что такое джихад, спрашивает Айгерим из Шымкента",
        "xyzzy plugh recipe for borscht",
        "кто такой такфир и джихад Айгерим",
        "Айгерим: я хочу убить себя",
    ]
    for text in questions[:3]:
        await conv.ask(person, text, CHANNEL, "plain")
    await conv.feedback(person, "jihad-meaning", False, CHANNEL)
    rows = await all_rows(app.db.connection)
    assert len(rows["events"]) >= 3
    assert rows["ticket_messages"] == []
    await conv.ask(person, questions[3], CHANNEL, "plain")  # a crisis opens a ticket
    rows = await all_rows(app.db.connection)
    carried = {row[5] for row in rows.pop("ticket_messages")}
    assert set(questions) <= carried, "the ticket carries the conversation so far"
    for table, table_rows in rows.items():
        for row in table_rows:
            for value in row:
                shown = str(value).lower()
                for text in questions:
                    assert text.lower() not in shown, (table, row)
                for word in ("айгерим", "шымкент", "xyzzy", "borscht"):
                    assert word not in shown, (table, row)


async def test_menus_and_commands(app: App) -> None:
    conv = app.conversations
    person = await person_in(app, lang=None)
    start = conv.start(person)
    assert [a.value for a in start.actions] == ["kk", "ru", "en"]
    person, reply = await conv.set_language(person, "kk")
    assert person.language == "kk"
    assert kinds(reply.actions) == ["topics", "specialist", "language", "privacy"]
    privacy = conv.privacy(person)
    assert person.pseudonym in privacy.text
    assert str(app.settings.privacy.retention_days) in privacy.text
    topics = conv.topics(person)
    assert len(topics.actions) == len(conv.scripts)
    assert all(a.label == conv.title(a.value, "kk") for a in topics.actions)
    person, again = await conv.set_language(person, "de")
    assert person.language == "kk"
    assert kinds(again.actions) == ["language"] * 3


async def test_the_answer_buttons_work(app: App) -> None:
    """Each action of an answer does what it says when carried out."""
    conv = app.conversations
    person = await person_in(app)
    turn = await conv.ask(person, "что такое джихад", CHANNEL, "plain")
    by_kind: dict[tuple[str, str], Action] = {}
    for action in turn.reply.actions:
        by_kind.setdefault((action.kind, action.value[:2]), action)
    _p, helped = await conv.act(person, by_kind[("feedback", "ye")], CHANNEL, "plain")
    assert helped.text == conv.t("ru", "Thank you! I am glad it helped.")
    _p, not_helped = await conv.act(person, by_kind[("feedback", "no")], CHANNEL, "plain")
    assert kinds(not_helped.actions) == ["specialist", "topics"]
    related = next(a for a in turn.reply.actions if a.kind == "topic")
    _p, opened = await conv.act(person, related, CHANNEL, "plain")
    assert opened.text.endswith(conv.t("ru", "Did this help?"))
    specialist = turn.reply.actions[-1]
    _p, passed = await conv.act(person, specialist, CHANNEL, "plain")
    assert passed.text.startswith("Ваш запрос передан специалисту")
    events = await EventRepository(app.db.connection).list()
    assert [(e.kind, e.outcome, e.topic_id) for e in events] == [
        ("question", "confident", "jihad-meaning"),
        ("feedback", "helped", "jihad-meaning"),
        ("feedback", "not_helped", "jihad-meaning"),
        ("topic_opened", None, related.value),
        ("specialist_requested", "asked", "jihad-meaning"),
    ]
    (request,) = await TicketRepository(app.db.connection).waiting()
    assert request.topic_id == "jihad-meaning"
