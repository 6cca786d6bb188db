"""Instagram direct messages end to end: the real instagrapi Client over recorded responses,
the poller and the Instagram outbox worker over a real SQLite file, and a clock of our own.

Each test records what Instagram answers; what the bot sends is read back from the requests
instagrapi made (direct_send's form fields), and the database holds the rest.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import App
from bot.config import Settings
from bot.content import ContentPack
from bot.instagram.channel import InstagramChannel
from bot.outbox import RateLimiter
from bot.storage import TicketRepository
from bot.storage.instagram import InstagramRepository
from bot.storage.outbox import OutboxRepository, OutboxRow
from tests.helpers import Clock, with_crisis
from tests.instagram_api import (
    CHALLENGE,
    COORDINATOR,
    FEEDBACK,
    LOGIN_REQUIRED,
    ME,
    OK,
    PLEASE_WAIT,
    THROTTLED,
    Call,
    RecordedInstagram,
    Sleeps,
    broken_item,
    current_user,
    inbox,
    instagram_client,
    instagram_settings,
    open_app,
    photo_item,
    sent,
    text_item,
    thread,
)

CITIZEN = "2001"
THREAD = "340282366841710300949128100000000001"
INBOX = r"/direct_v2/inbox/$"
PENDING = r"/direct_v2/pending_inbox/$"
SEND = r"/direct_v2/threads/broadcast/text/$"
SEEN = r"/direct_v2/threads/\d+/items/\d+/seen/$"


@pytest.fixture
def transport() -> RecordedInstagram:
    return RecordedInstagram()


@pytest.fixture
def ig_settings(tmp_path: Path, transport: RecordedInstagram) -> Settings:
    return instagram_settings(tmp_path, transport)


@pytest.fixture
async def app(
    ig_settings: Settings,
    content_pack: ContentPack,
    clock: Clock,
    tmp_path: Path,
    shared_core: None,
) -> AsyncIterator[App]:
    application = await open_app(ig_settings, with_crisis(content_pack, tmp_path), clock)
    try:
        yield application
    finally:
        await application.close()


async def connect(app: App, transport: RecordedInstagram, sleeps: Sleeps) -> InstagramChannel:
    transport.on("GET", PENDING, inbox(), repeat=True)  # no message requests unless recorded
    api = instagram_client(app.settings.instagram, transport)
    channel = InstagramChannel(
        app, api, sleep=sleeps, limiter=RateLimiter(1000.0, 0.0, sleep=sleeps)
    )
    await channel.guard.load()
    assert await channel.connect()
    return channel


@pytest.fixture
async def channel(app: App, transport: RecordedInstagram) -> AsyncIterator[InstagramChannel]:
    ig = await connect(app, transport, Sleeps())
    yield ig
    assert transport.unexpected == [], "instagrapi made a request no test recorded"


def sends(transport: RecordedInstagram) -> list[Call]:
    return [c for c in transport.calls if c.path.endswith("/broadcast/text/")]


def sent_text(call: Call) -> str:
    return call.form("text") or call.form("link_text")


async def deliver(channel: InstagramChannel) -> int:
    """Run the Instagram outbox worker until it has nothing due."""
    total = 0
    while sent_now := await channel.worker.run_once():
        total += sent_now
    return total


async def replies_sent(app: App) -> int:
    return (await app.outbox.counts("instagram")).get("sent", 0)


async def outbox(app: App, channel: str) -> list[OutboxRow]:
    far = app.conversations.clock().replace(year=2100)
    return await OutboxRepository(app.db.connection).due(channel, far, 1000)


# --- questions, options, crisis ------------------------------------------------------------


async def test_a_question_is_answered_with_direct_send_and_numbered_options(
    app: App, channel: InstagramChannel, transport: RecordedInstagram
) -> None:
    question = text_item(CITIZEN, "что такое джихад на самом деле")
    transport.on("GET", INBOX, inbox(thread(THREAD, CITIZEN, [question])))
    transport.on("POST", SEEN, OK)
    transport.on("POST", SEND, sent(THREAD), repeat=True)

    assert await channel.poller.poll_once() == 1
    assert await deliver(channel) == 1

    calls = sends(transport)
    assert all(json.loads(c.form("recipient_users")) == [[int(CITIZEN)]] for c in calls)
    assert all(len(sent_text(c)) <= 1000 for c in calls), "long answers go in parts"
    text = "\n\n".join(sent_text(c) for c in calls)
    assert "\n1. " in text, "the buttons are a numbered list"
    assert "\n2. " in text
    assert "<b>" not in text, "plain text on Instagram"
    seen = [c for c in transport.calls if c.path.endswith("/seen/")]
    assert seen
    assert question["item_id"] in seen[0].path
    person = await app.people.find("instagram", CITIZEN)
    assert person is not None
    options = await InstagramRepository(app.db.connection).options(person.id)
    assert [kind for kind, _v, _l in options][:2] == ["feedback", "feedback"]


async def test_a_number_chooses_the_option_shown_last(
    app: App, channel: InstagramChannel, transport: RecordedInstagram
) -> None:
    first = text_item(CITIZEN, "что такое джихад на самом деле")
    transport.on("GET", INBOX, inbox(thread(THREAD, CITIZEN, [first])))
    transport.on("POST", SEEN, OK, repeat=True)
    transport.on("POST", SEND, sent(THREAD), repeat=True)
    await channel.poller.poll_once()
    await deliver(channel)
    person = await app.people.find("instagram", CITIZEN)
    assert person is not None
    options = await InstagramRepository(app.db.connection).options(person.id)
    specialist = next(n for n, (kind, _v, _l) in enumerate(options, 1) if kind == "specialist")

    answer = text_item(CITIZEN, f"{specialist}", at=1_748_854_900)
    transport.on("GET", INBOX, inbox(thread(THREAD, CITIZEN, [first, answer])))
    assert await channel.poller.poll_once() == 1, "only the new message"
    await deliver(channel)

    texts = [sent_text(c) for c in sends(transport)]
    assert "специалист" in texts[-1].lower()
    tickets = await TicketRepository(app.db.connection).waiting()
    assert [t.person_id for t in tickets] == [person.id]


async def test_a_crisis_message_gets_the_crisis_reply_and_an_urgent_ticket(
    app: App, channel: InstagramChannel, transport: RecordedInstagram
) -> None:
    transport.on(
        "GET", INBOX, inbox(thread(THREAD, CITIZEN, [text_item(CITIZEN, "я не хочу жить")]))
    )
    transport.on("POST", SEEN, OK)
    transport.on("POST", SEND, sent(THREAD), repeat=True)
    await channel.poller.poll_once()
    await deliver(channel)

    assert "112" in " ".join(sent_text(c) for c in sends(transport))
    (ticket,) = await TicketRepository(app.db.connection).waiting()
    assert ticket.urgent
    assert ticket.reason.startswith("crisis:")


async def test_a_photo_gets_the_text_only_note(
    channel: InstagramChannel, transport: RecordedInstagram
) -> None:
    transport.on("GET", INBOX, inbox(thread(THREAD, CITIZEN, [photo_item(CITIZEN)])))
    transport.on("POST", SEEN, OK)
    transport.on("POST", SEND, sent(THREAD), repeat=True)
    await channel.poller.poll_once()
    await deliver(channel)
    (call,) = sends(transport)
    assert "текст" in sent_text(call).lower()


async def test_a_reply_to_a_story_is_a_question_and_a_heart_needs_no_answer(
    app: App, channel: InstagramChannel, transport: RecordedInstagram
) -> None:
    heart = dict(text_item(CITIZEN, ""), item_type="like", like="❤️")
    del heart["text"]
    story_reply = dict(text_item(CITIZEN, ""), item_type="reel_share")
    del story_reply["text"]
    story_reply["reel_share"] = {"text": "что такое джихад на самом деле", "type": "reply"}
    transport.on("GET", INBOX, inbox(thread(THREAD, CITIZEN, [heart, story_reply])))
    transport.on("POST", SEEN, OK)
    transport.on("POST", SEND, sent(THREAD), repeat=True)
    assert await channel.poller.poll_once() == 1
    await deliver(channel)
    assert await replies_sent(app) == 1
    text = " ".join(sent_text(c) for c in sends(transport))
    assert "/forget" in text, "a new person's first answer carries the privacy note"


# --- restarts, requests, what cannot be parsed ----------------------------------------------


async def test_a_restart_neither_skips_nor_repeats_a_message(
    ig_settings: Settings,
    content_pack: ContentPack,
    clock: Clock,
    transport: RecordedInstagram,
    shared_core: None,
) -> None:
    a = text_item(CITIZEN, "что такое джихад на самом деле", at=1_748_854_860)
    b = text_item(CITIZEN, "кто такие такфиристы", at=1_748_854_870)
    app = await open_app(ig_settings, content_pack, clock)
    try:
        ig = await connect(app, transport, Sleeps())
        transport.on("GET", INBOX, inbox(thread(THREAD, CITIZEN, [a])))
        transport.on("POST", SEEN, OK, repeat=True)
        assert await ig.poller.poll_once() == 1
        # The process stops here: the reply to A is queued, not sent yet.
    finally:
        await app.close()

    app = await open_app(ig_settings, content_pack, clock)
    try:
        ig = await connect(app, transport, Sleeps())
        await ig.worker.recover()
        transport.on("GET", INBOX, inbox(thread(THREAD, CITIZEN, [a, b])))
        transport.on("POST", SEND, sent(THREAD), repeat=True)
        assert await ig.poller.poll_once() == 1, "A is not answered again; B is answered"
        assert await deliver(ig) == 2
        transport.on("GET", INBOX, inbox(thread(THREAD, CITIZEN, [a, b])))
        assert await ig.poller.poll_once() == 0
        assert await deliver(ig) == 0
    finally:
        await app.close()
    assert transport.unexpected == []


async def test_more_messages_than_the_inbox_shows_are_read_from_the_thread(
    app: App, channel: InstagramChannel, transport: RecordedInstagram
) -> None:
    first = text_item(CITIZEN, "что такое джихад на самом деле", at=1_748_854_860)
    transport.on("GET", INBOX, inbox(thread(THREAD, CITIZEN, [first])))
    transport.on("POST", SEEN, OK, repeat=True)
    await channel.poller.poll_once()
    # A downtime: 14 more messages, of which the inbox shows the last 10.
    later = [
        text_item(CITIZEN, f"вопрос номер {n} о джихаде", 1_748_855_000 + n) for n in range(14)
    ]
    transport.on("GET", INBOX, inbox(thread(THREAD, CITIZEN, later[-10:])))
    page = thread(THREAD, CITIZEN, [first, *later])
    end = dict(thread(THREAD, CITIZEN, []), oldest_cursor=None)  # the next page: nothing older
    history = rf"/direct_v2/threads/{THREAD}/$"
    transport.on("GET", history, (200, {"thread": page, "status": "ok"}))
    transport.on("GET", history, (200, {"thread": end, "status": "ok"}))
    assert await channel.poller.poll_once() == 14
    rows = await outbox(app, "instagram")
    assert len(rows) == 15


async def test_old_conversations_get_no_late_replies_when_instagram_is_first_turned_on(
    channel: InstagramChannel, transport: RecordedInstagram
) -> None:
    old = text_item(CITIZEN, "вопрос из прошлого года", at=1_700_000_000)
    transport.on("GET", INBOX, inbox(thread(THREAD, CITIZEN, [old])))
    assert await channel.poller.poll_once() == 0
    new = text_item(CITIZEN, "что такое джихад на самом деле")
    transport.on("GET", INBOX, inbox(thread(THREAD, CITIZEN, [old, new])))
    transport.on("POST", SEEN, OK)
    assert await channel.poller.poll_once() == 1


async def test_a_message_request_is_approved_and_answered(
    app: App, channel: InstagramChannel, transport: RecordedInstagram
) -> None:
    request = thread(THREAD, CITIZEN, [text_item(CITIZEN, "Салем! Джихад деген не?")], True)
    transport.on("GET", INBOX, inbox())
    transport.on("GET", PENDING, inbox(request))
    transport.on("POST", rf"/direct_v2/threads/{THREAD}/approve/$", OK)
    transport.on("POST", SEEN, OK)
    transport.on("POST", SEND, sent(THREAD), repeat=True)

    assert await channel.poller.poll_once() == 1
    await deliver(channel)
    paths = transport.paths()
    approve = next(n for n, p in enumerate(paths) if p.endswith("/approve/"))
    send = next(n for n, p in enumerate(paths) if p.endswith("/broadcast/text/"))
    assert approve < send
    assert await replies_sent(app) == 1


async def test_requests_are_left_alone_when_config_says_so(
    ig_settings: Settings,
    content_pack: ContentPack,
    clock: Clock,
    transport: RecordedInstagram,
    shared_core: None,
) -> None:
    settings = ig_settings.model_copy(
        update={"instagram": ig_settings.instagram.model_copy(update={"approve_requests": False})}
    )
    app = await open_app(settings, content_pack, clock)
    try:
        ig = await connect(app, transport, Sleeps())
        transport.on("GET", INBOX, inbox())
        assert await ig.poller.poll_once() == 0
    finally:
        await app.close()
    assert transport.paths() == ["GET /api/v1/direct_v2/inbox/"]


async def test_an_item_instagrapi_cannot_parse_is_skipped_not_fatal(
    app: App,
    channel: InstagramChannel,
    transport: RecordedInstagram,
    caplog: pytest.LogCaptureFixture,
) -> None:
    broken = broken_item(CITIZEN)
    question = text_item(CITIZEN, "что такое джихад на самом деле")
    transport.on("GET", INBOX, inbox(thread(THREAD, CITIZEN, [broken, question])))
    transport.on("POST", SEEN, OK)
    transport.on("POST", SEND, sent(THREAD), repeat=True)
    assert await channel.poller.poll_once() == 1
    await deliver(channel)
    assert await replies_sent(app) == 1
    assert "skipped a direct item" in caplog.text
    assert CITIZEN not in caplog.text.replace(THREAD, ""), "no platform id above DEBUG"
    cursor = await InstagramRepository(app.db.connection).cursor(THREAD)
    assert cursor == question["item_id"]
    transport.on("GET", INBOX, inbox(thread(THREAD, CITIZEN, [broken, question])))
    assert await channel.poller.poll_once() == 0


async def test_the_accounts_own_messages_and_group_threads_are_not_answered(
    channel: InstagramChannel, transport: RecordedInstagram
) -> None:
    group = thread("340282366841710300949128100000000002", CITIZEN, [text_item("3001", "hi")])
    group["is_group"] = True
    group["users"].append(dict(group["users"][0], pk=3001, id="3001", pk_id="3001"))
    mine = thread(THREAD, CITIZEN, [text_item(ME, "Здравствуйте!")])
    transport.on("GET", INBOX, inbox(group, mine))
    assert await channel.poller.poll_once() == 0


# --- when Instagram pushes back --------------------------------------------------------------


async def test_login_required_logs_in_again_from_the_saved_session_once(
    app: App, channel: InstagramChannel, transport: RecordedInstagram
) -> None:
    transport.on("GET", INBOX, LOGIN_REQUIRED, inbox())
    transport.on("GET", r"/accounts/current_user/$", current_user())
    assert await channel.poller.poll_once() == 0
    assert channel.guard.remaining() == 0
    assert [p for p in transport.paths() if "pending" not in p] == [
        "GET /api/v1/direct_v2/inbox/",
        "GET /api/v1/accounts/current_user/",
        "GET /api/v1/direct_v2/inbox/",
    ]
    assert await outbox(app, "telegram") == []


async def test_a_session_that_stays_logged_out_pauses_instagram_and_alerts_coordinators(
    app: App, channel: InstagramChannel, transport: RecordedInstagram
) -> None:
    transport.on("GET", INBOX, LOGIN_REQUIRED)
    transport.on("GET", r"/accounts/current_user/$", LOGIN_REQUIRED)
    await channel.poller.poll_once()
    assert channel.guard.remaining() == 15 * 60
    (alert,) = await outbox(app, "telegram")
    assert alert.chat_id == COORDINATOR
    assert "python -m bot instagram login" in (alert.text or "")
    assert len([p for p in transport.paths() if "current_user" in p]) == 1, "once, not a loop"


@pytest.mark.parametrize(
    ("first", "second", "third"),
    [(PLEASE_WAIT, FEEDBACK, THROTTLED), (CHALLENGE, THROTTLED, PLEASE_WAIT)],
    ids=["wait-feedback-429", "challenge-429-wait"],
)
async def test_pushback_pauses_with_growing_backoff_and_alerts_the_coordinators(
    app: App,
    channel: InstagramChannel,
    transport: RecordedInstagram,
    clock: Clock,
    first: tuple[int, Any],
    second: tuple[int, Any],
    third: tuple[int, Any],
) -> None:
    transport.on("GET", INBOX, first, second, third, inbox())
    pauses = []
    for _ in range(3):
        await channel.poller.poll_once()
        pauses.append(channel.guard.remaining())
        calls = len(transport.calls)
        assert await channel.poller.poll_once() == 0
        assert len(transport.calls) == calls, "no request while paused"
        clock.advance(seconds=pauses[-1] + 1)
    assert pauses == [15 * 60, 30 * 60, 60 * 60]
    alerts = await outbox(app, "telegram")
    assert [a.chat_id for a in alerts] == [COORDINATOR] * 3
    assert "15" in (alerts[0].text or "")
    assert "60" in (alerts[2].text or "")

    await channel.poller.poll_once()  # Instagram answers again
    assert channel.guard.level == 0
    resumed = await outbox(app, "telegram")
    assert len(resumed) == 4
    assert "возобновлён" in (resumed[-1].text or ""), "in the workspace language (ru)"


async def test_the_pause_outlives_a_restart(
    ig_settings: Settings,
    content_pack: ContentPack,
    clock: Clock,
    transport: RecordedInstagram,
    shared_core: None,
) -> None:
    app = await open_app(ig_settings, content_pack, clock)
    try:
        ig = await connect(app, transport, Sleeps())
        transport.on("GET", INBOX, FEEDBACK)
        await ig.poller.poll_once()
    finally:
        await app.close()
    clock.advance(minutes=5)
    app = await open_app(ig_settings, content_pack, clock)
    try:
        ig = await connect(app, transport, Sleeps())
        assert ig.guard.remaining() == 10 * 60
        assert await ig.poller.poll_once() == 0
    finally:
        await app.close()
    assert len(transport.calls) == 1


async def test_a_send_that_is_pushed_back_waits_for_the_pause(
    app: App, channel: InstagramChannel, transport: RecordedInstagram, clock: Clock
) -> None:
    transport.on(
        "GET", INBOX, inbox(thread(THREAD, CITIZEN, [text_item(CITIZEN, "что такое джихад")]))
    )
    transport.on("POST", SEEN, OK)
    transport.on("POST", SEND, FEEDBACK)
    transport.on("POST", SEND, sent(THREAD), repeat=True)
    await channel.poller.poll_once()
    await channel.worker.run_once()
    assert channel.guard.remaining() == 15 * 60
    (row,) = await outbox(app, "instagram")
    assert row.status == "pending"
    assert row.attempts == 1
    assert await deliver(channel) == 0, "not due during the pause"
    clock.advance(minutes=16)
    assert await deliver(channel) == 1
    assert await replies_sent(app) == 1
    assert channel.guard.level == 0


async def test_a_person_instagram_no_longer_lets_us_reach_is_marked_unreachable(
    app: App, channel: InstagramChannel, transport: RecordedInstagram
) -> None:
    transport.on(
        "GET", INBOX, inbox(thread(THREAD, CITIZEN, [text_item(CITIZEN, "что такое джихад")]))
    )
    transport.on("POST", SEEN, OK)
    transport.on(
        "POST",
        SEND,
        (400, {"message": "Invalid target user", "status": "fail"}),
    )
    await channel.poller.poll_once()
    await deliver(channel)
    person = await app.people.find("instagram", CITIZEN)
    assert person is not None
    assert person.unreachable
