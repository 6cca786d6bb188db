"""The Instagram channel above the client: a specialist's ticket relayed both ways, the story
card and its upload, the one-time login, doctor's session line, and the channel's start-up.

A fake stands behind DirectApi here (the poller and sender see the same async interface); the
story upload goes through the real instagrapi Client over recorded responses.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bot.app import App
from bot.config import InstagramSettings, Settings
from bot.console import ConsoleWorkspace
from bot.content import ContentPack
from bot.core.queue import Incoming
from bot.core.stories import StoryPoster
from bot.doctor import check_instagram
from bot.instagram.channel import InstagramChannel
from bot.instagram.client import DirectItem, DirectThreadView, Sent, session_state
from bot.instagram.login import interactive_login
from bot.instagram.story import post_story, render_card
from bot.outbox import RateLimiter
from bot.storage import TicketRepository
from bot.storage.outbox import OutboxRepository
from tests.helpers import Clock, run_bot, subprocess_env, write_config
from tests.instagram_api import (
    ALMOST_NOW,
    COORDINATOR,
    ME,
    RecordedInstagram,
    Sleeps,
    instagram_client,
    instagram_settings,
    open_app,
    story_configured,
    write_session,
)

CITIZEN = "2001"
THREAD = "340282366841710300949128100000000001"
AIGERIM = "5001"


class FakeDirect:
    """DirectApi in memory: threads to read, what was sent, approved and uploaded."""

    def __init__(self) -> None:
        self.items: list[DirectItem] = []
        self.sent: list[tuple[str, str]] = []
        self.stories: list[Path] = []
        self._next = 1

    @property
    def user_id(self) -> str:
        return ME

    def write(self, text: str) -> None:
        """The citizen writes a message in the thread."""
        self._next += 1
        self.items.append(
            DirectItem(f"{self._next:020d}", CITIZEN, "text", text, ALMOST_NOW + self._next)
        )

    async def inbox(self) -> list[DirectThreadView]:
        return [DirectThreadView(THREAD, (CITIZEN,), False, False, tuple(self.items))]

    async def pending(self) -> list[DirectThreadView]:
        return []

    async def approve(self, thread_id: str) -> None:
        raise AssertionError("no request to approve")

    async def history(self, thread_id: str, amount: int) -> DirectThreadView:
        raise AssertionError("the inbox shows every new message in these tests")

    async def mark_seen(self, thread_id: str, item_id: str) -> None:
        return None

    async def send_text(self, text: str, user_id: str) -> Sent:
        self.sent.append((user_id, text))
        return Sent(THREAD, str(len(self.sent)))

    async def upload_story(self, path: Path) -> str:
        self.stories.append(path)
        return "3200000000000000001"


@pytest.fixture
def ig_settings(tmp_path: Path) -> Settings:
    return instagram_settings(tmp_path, RecordedInstagram())


@pytest.fixture
async def app(
    ig_settings: Settings,
    content_pack: ContentPack,
    clock: Clock,
    shared_core: None,
) -> AsyncIterator[App]:
    application = await open_app(ig_settings, content_pack, clock)
    try:
        yield application
    finally:
        await application.close()


@pytest.fixture
async def fake() -> FakeDirect:
    return FakeDirect()


@pytest.fixture
async def channel(app: App, fake: FakeDirect) -> InstagramChannel:
    sleeps = Sleeps()
    ig = InstagramChannel(app, fake, sleep=sleeps, limiter=RateLimiter(1000.0, 0.0, sleep=sleeps))
    await ig.guard.load()
    return ig


async def round_trip(channel: InstagramChannel) -> None:
    """One poll, then everything the Instagram outbox holds is sent."""
    await channel.poller.poll_once()
    while await channel.worker.run_once():
        pass


# --- a ticket, both ways ---------------------------------------------------------------------


async def test_an_instagram_citizens_ticket_is_relayed_both_ways(
    app: App, channel: InstagramChannel, fake: FakeDirect
) -> None:
    fake.write("/specialist")
    await round_trip(channel)
    assert "специалист" in fake.sent[-1][1].lower()

    notice = await app.queue.take_next(AIGERIM)
    assert not notice.alert, notice.text
    workspace = app.queue.workspace
    assert isinstance(workspace, ConsoleWorkspace)
    (topic,) = workspace.topics.values()
    assert str(topic["name"]).endswith("instagram"), "marked as an Instagram ticket"
    (ticket,) = await TicketRepository(app.db.connection).assigned_to(AIGERIM)
    assert ticket.thread_id is not None
    told = fake.sent[-1][1] if await channel.worker.run_once() else ""
    assert "Aigerim" in told

    fake.write("Мой брат смотрит странные проповеди")
    await round_trip(channel)
    far = app.conversations.clock().replace(year=2100)
    into_topic = await OutboxRepository(app.db.connection).due("console", far, 100)
    assert any("странные проповеди" in (row.text or "") for row in into_topic)
    assert all(CITIZEN not in (row.text or "") for row in into_topic), "no platform id"

    before = len(fake.sent)
    await app.queue.from_workspace(
        AIGERIM, ticket.thread_id, Incoming("text", "Здравствуйте! Расскажите подробнее.", ref="1")
    )
    while await channel.worker.run_once():
        pass
    assert fake.sent[before:] == [(CITIZEN, "Aigerim:\nЗдравствуйте! Расскажите подробнее.")]

    await app.queue.close(AIGERIM, ticket.id, "answered")
    while await channel.worker.run_once():
        pass
    rating = fake.sent[-1][1]
    assert "\n5. 5" in rating, "the rating's buttons as numbers"
    fake.write("5")
    await round_trip(channel)
    rated = await TicketRepository(app.db.connection).get(ticket.id)
    assert rated is not None
    assert rated.rating == 5


async def test_a_specialists_photo_reaches_instagram_as_a_note_with_its_caption(
    app: App, channel: InstagramChannel, fake: FakeDirect
) -> None:
    fake.write("/specialist")
    await round_trip(channel)
    await app.queue.take_next(AIGERIM)
    (ticket,) = await TicketRepository(app.db.connection).assigned_to(AIGERIM)
    assert ticket.thread_id is not None
    while await channel.worker.run_once():
        pass
    await app.queue.from_workspace(
        AIGERIM, ticket.thread_id, Incoming("photo", "Вот памятка", "file-id-1", ref="2")
    )
    while await channel.worker.run_once():
        pass
    assert fake.sent[-1] == (CITIZEN, "[photo]\nAigerim:\nВот памятка")


# --- the channel's start-up ------------------------------------------------------------------


async def test_without_a_saved_session_instagram_pauses_and_tells_the_coordinators(
    app: App, tmp_path: Path
) -> None:
    settings = app.settings.instagram.model_copy(update={"session_path": tmp_path / "none.json"})
    from bot.instagram.client import InstagramClient

    sleeps = Sleeps()
    ig = InstagramChannel(app, InstagramClient(settings), sleep=sleeps)
    await ig.guard.load()
    assert not await ig.connect()
    assert ig.guard.remaining() == 15 * 60
    far = app.conversations.clock().replace(year=2100)
    (alert,) = await OutboxRepository(app.db.connection).due("telegram", far, 10)
    assert alert.chat_id == COORDINATOR
    assert "instagram login" in (alert.text or "")


async def test_the_poller_waits_a_random_time_between_the_bounds(
    channel: InstagramChannel,
) -> None:
    waits = [channel.poller.interval() for _ in range(200)]
    assert min(waits) >= 20
    assert max(waits) <= 40
    assert len({round(w) for w in waits}) > 10, "jitter, not a rhythm"


async def test_the_channel_runs_in_the_background_until_stopped(
    app: App, fake: FakeDirect
) -> None:
    polled = asyncio.Event()

    async def sleep(seconds: float) -> None:
        polled.set()
        await asyncio.sleep(0)

    fake.write("что такое джихад")
    ig = InstagramChannel(app, fake, sleep=sleep, limiter=RateLimiter(1000.0, 0.0, sleep=sleep))
    ig.start()
    await asyncio.wait_for(polled.wait(), 10)
    for _ in range(100):
        if fake.sent:
            break
        await asyncio.sleep(0.01)
    await ig.stop()
    assert fake.sent


# --- the story -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """Issue #6's LivePlan has these fields (and more)."""

    day: date
    time: str
    title: str
    host: str
    link: str = ""


PLAN = Plan(date(2025, 6, 2), "20:00", "Жиһад ұғымы: шын мағынасы мен бұрмалаулар", "Ұстаз Нұрлан")


def test_the_story_card_is_a_1080x1920_jpeg_in_the_organisations_colours(
    app: App, tmp_path: Path
) -> None:
    path = render_card(PLAN, app.settings, tmp_path / "card.jpg", app.content.catalogs)
    with Image.open(path) as image:
        assert image.format == "JPEG"
        assert image.size == (1080, 1920)
        rgb = image.convert("RGB")
        colours = rgb.getcolors(maxcolors=1_000_000) or []
        assert len(colours) > 50, "text and shapes, not a blank card"
        corner = rgb.getpixel((540, 960 + 700))
        background = (0x0B, 0x3D, 0x5C)
        assert isinstance(corner, tuple)
        assert all(abs(a - b) < 12 for a, b in zip(corner, background, strict=False))
        top = rgb.getpixel((540, 10))
        assert isinstance(top, tuple)
        assert abs(top[0] - 0xF2) < 12, "the accent band"
        # The text is drawn: the title's area is not all background.
        title_area = rgb.crop((90, 1000, 990, 1200)).getcolors(maxcolors=1_000_000) or []
        assert len(title_area) > 5


async def test_post_story_uploads_the_card_with_instagrapi(
    app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import instagrapi.mixins.photo

    transport = RecordedInstagram()
    settings = app.settings.instagram.model_copy(
        update={"session_path": write_session(tmp_path / "s.json", transport)}
    )
    client = instagram_client(settings, transport)
    await client.start()
    waits: list[float] = []
    monkeypatch.setattr(instagrapi.mixins.photo.time, "sleep", waits.append)
    transport.on("POST", r"^/rupload_igphoto/", (200, {"upload_id": "1", "status": "ok"}))
    transport.on("GET", rf"/feed/user/{ME}/story/$", (200, {"reel": None, "status": "ok"}))
    transport.on("POST", r"/media/configure_to_story/$", story_configured())

    story = await post_story(client, PLAN, app.settings, app.content.catalogs, tmp_path)

    assert story == "3200000000000000001"
    assert transport.unexpected == []
    configure = next(c for c in transport.calls if c.path.endswith("configure_to_story/"))
    signed = json.loads(configure.form("signed_body").split(".", 1)[1])
    assert signed["source_type"] == "4"
    left = await asyncio.to_thread(lambda: list(tmp_path.glob("*/*.jpg")))
    assert left == [], "the card is not left on disk"


async def test_the_channels_story_hook_posts_once_a_day_and_not_while_paused(
    app: App, channel: InstagramChannel, fake: FakeDirect
) -> None:
    poster: StoryPoster = channel
    assert await poster.post_story(PLAN) == "3200000000000000001"
    assert await poster.post_story(PLAN) is None, "the job ran twice: one story"
    await channel.guard.pushback("FeedbackRequired")
    tomorrow = Plan(date(2025, 6, 3), "20:00", "Такфир", "Ұстаз Нұрлан")
    assert await poster.post_story(tomorrow) is None
    assert len(fake.stories) == 1


# --- the one-time login and doctor -----------------------------------------------------------


class FakeInstagrapi:
    """instagrapi's login surface: two-factor first, then a session to dump."""

    def __init__(self) -> None:
        self.codes: list[str] = []
        self.with_challenge_flow = False
        self.challenge_code_handler: Any = None

    def load_settings(self, path: Path) -> None:
        raise AssertionError("no session yet")

    def login(self, username: str, password: str, verification_code: str = "") -> bool:
        from instagrapi.exceptions import TwoFactorRequired

        self.codes.append(verification_code)
        if not verification_code:
            raise TwoFactorRequired("Two-factor authentication required")
        if verification_code != "123456":
            raise TwoFactorRequired("bad code")
        return True

    def dump_settings(self, path: Path) -> bool:
        path.write_text(
            json.dumps(
                {
                    "authorization_data": {"ds_user_id": ME, "sessionid": "s"},
                    "cookies": {},
                    "last_login": ALMOST_NOW,
                }
            )
        )
        return True


def test_instagram_login_asks_for_the_two_factor_code_and_saves_the_session(
    tmp_path: Path,
) -> None:
    settings = InstagramSettings(
        enabled=True,
        username="senim_outreach",
        password="from-the-environment",
        session_path=tmp_path / "data" / "instagram-session.json",
    )
    fake = FakeInstagrapi()
    prompts: list[str] = []

    def prompt(question: str) -> str:
        prompts.append(question)
        return " 123456 "

    out = io.StringIO()
    assert interactive_login(settings, prompt, out, lambda _s: fake) == 0
    assert fake.codes == ["", "123456"]
    assert "Two-factor" in prompts[0]
    assert settings.session_path.stat().st_mode & 0o777 == 0o600
    assert "ok: logged in" in out.getvalue()
    assert "from-the-environment" not in out.getvalue()
    assert session_state(settings).startswith("ok:")


def test_instagram_login_needs_the_password_from_the_environment(tmp_path: Path) -> None:
    settings = InstagramSettings(enabled=True, username="senim_outreach")
    out = io.StringIO()
    assert interactive_login(settings, input, out, lambda _s: FakeInstagrapi()) == 2
    assert "INSTAGRAM_PASSWORD" in out.getvalue()


async def test_doctor_reports_the_session_without_logging_in(
    app: App, tmp_path: Path, ig_settings: Settings
) -> None:
    (line, *_notes) = await check_instagram(ig_settings)
    assert line.startswith("ok: Instagram session for senim_outreach")
    ig_settings.instagram.session_path.chmod(0o644)
    (line, *_notes) = await check_instagram(ig_settings)
    assert "chmod 600" in line
    missing = ig_settings.model_copy(
        update={
            "instagram": ig_settings.instagram.model_copy(
                update={"session_path": tmp_path / "absent.json"}
            )
        }
    )
    (line, *_notes) = await check_instagram(missing)
    assert "instagram login" in line
    off = ig_settings.model_copy(
        update={"instagram": ig_settings.instagram.model_copy(update={"enabled": False})}
    )
    assert await check_instagram(off) == ["note: Instagram is off (instagram.enabled)"]


def test_the_instagram_commands_on_the_command_line(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "config.yaml",
        {
            "instagram": {
                "enabled": True,
                "username": "senim_outreach",
                "session_path": str(tmp_path / "session.json"),
            }
        },
    )
    status = run_bot(["--config", str(config), "instagram", "status"])
    assert status.returncode == 1
    assert "instagram login" in status.stdout
    login = run_bot(["--config", str(config), "instagram", "login"], env=subprocess_env())
    assert login.returncode == 2
    assert "INSTAGRAM_PASSWORD" in login.stdout


async def test_telegram_keeps_working_when_instagram_cannot_start(tmp_path: Path) -> None:
    """The whole process: Instagram on without a saved session. Telegram answers, and the
    coordinator hears in Telegram that Instagram needs a login."""
    from bot.telegram.runner import run_telegram
    from tests.telegram_emulator import BotAPIEmulator
    from tests.test_telegram_e2e import TOKEN, e2e_settings

    emulator = BotAPIEmulator(TOKEN)
    await emulator.start()
    try:
        settings = e2e_settings(
            tmp_path,
            emulator,
            SENIM_INSTAGRAM__ENABLED="true",
            SENIM_INSTAGRAM__USERNAME="senim_outreach",
            SENIM_INSTAGRAM__SESSION_PATH=str(tmp_path / "no-session.json"),
            SENIM_COORDINATORS=f"[{COORDINATOR}]",
        )
        task = asyncio.create_task(run_telegram(settings, handle_signals=False))
        try:
            # The coordinator may also hear that tomorrow has no live plan (the scheduler).
            alerts = await emulator.next_messages(int(COORDINATOR), wait=60)
            while not any("instagram login" in a.text for a in alerts) and len(alerts) < 4:
                alerts += await emulator.next_messages(int(COORDINATOR), wait=20)
            assert any("instagram login" in a.text for a in alerts)
            await emulator.user_sends(5551, "/start")
            (choice,) = await emulator.next_messages(5551, wait=30)
            assert ("Русский", "a:language:ru") in choice.buttons
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
    finally:
        await emulator.stop()


@pytest.mark.parametrize(
    ("instagram", "problem"),
    [
        ({"enabled": True}, "instagram.enabled needs instagram.username"),
        ({"poll_min_seconds": 40, "poll_max_seconds": 20}, "poll_max_seconds"),
        ({"session_path": "x.json", "password": "pw"}, "INSTAGRAM_PASSWORD"),
    ],
)
def test_instagram_settings_are_checked(
    tmp_path: Path, instagram: dict[str, Any], problem: str
) -> None:
    from bot.config import ConfigError, load_settings

    config = write_config(tmp_path / "config.yaml", {"instagram": instagram})
    with pytest.raises(ConfigError, match=problem):
        load_settings(config, environ={})
