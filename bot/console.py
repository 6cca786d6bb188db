"""The terminal chat channel: standard input line by line, numbered options for buttons."""

from __future__ import annotations

import asyncio
import getpass
import logging
from typing import TextIO

from bot.app import App
from bot.content import Format
from bot.core.queue import Incoming, Notice
from bot.core.replies import Action, Reply, numbered, pick
from bot.core.tickets import SKILLS, Specialist
from bot.outbox import OutboxWorker, RateLimiter
from bot.storage import Person, TicketRepository
from bot.storage.outbox import OutboxRow

log = logging.getLogger(__name__)

CHANNEL = "console"
COMMANDS = (
    "/start",
    "/help",
    "/topics",
    "/language",
    "/privacy",
    "/forget",
    "/specialist",
    "/lectures",
    "/live",
    "/end",
    "/as",
    "/quit",
)
DEMO_SPECIALIST = "console-specialist"
WORKSPACE = "workspace"


class ConsoleWorkspace:
    """The specialists' workspace in the terminal: topics kept in memory, shown as lines."""

    channel = CHANNEL
    chat_id = WORKSPACE
    fmt: Format = "plain"

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.topics: dict[int, dict[str, object]] = {}
        self.queue_text = ""

    def _say(self, text: str) -> None:
        self.out.write(f"[specialists] {text}\n\n")
        self.out.flush()

    async def open_topic(self, name: str) -> int:
        thread = len(self.topics) + 1
        self.topics[thread] = {"name": name, "closed": False, "pinned": []}
        self._say(f"new topic {name}")
        return thread

    async def reopen_topic(self, thread_id: int, name: str) -> None:
        self.topics[thread_id].update(name=name, closed=False)
        self._say(f"topic reopened: {name}")

    async def close_topic(self, thread_id: int, name: str) -> None:
        self.topics[thread_id].update(name=name, closed=True)
        self._say(f"topic closed: {name}")

    async def delete_topic(self, thread_id: int) -> None:
        self.topics.pop(thread_id, None)

    async def post_pinned(self, thread_id: int, text: str) -> None:
        pinned = self.topics[thread_id]["pinned"]
        assert isinstance(pinned, list)
        pinned.append(text)
        self._say(f"pinned in {self.topics[thread_id]['name']}:\n{text}")

    async def show_queue(self, text: str, actions: tuple[Action, ...]) -> None:
        self.queue_text = text


class ConsoleSender:
    """The terminal's outbox sender: prints each message where it was addressed."""

    def __init__(self, chat: ConsoleChat) -> None:
        self.chat = chat

    async def send(self, row: OutboxRow) -> None:
        text = row.text or ""
        if row.media_kind:
            text = f"[{row.media_kind}] {text}".strip()
        actions = tuple(Action(kind, value, label) for kind, value, label in row.actions)
        if row.chat_id == WORKSPACE:
            where = f"topic {row.thread_id}" if row.thread_id else "General"
            self.chat.out.write(f"[specialists · {where}] {text}\n\n")
        elif row.chat_id == self.chat.key:
            self.chat.show(Reply(text, actions), prefix="[to the citizen] ")
        else:
            self.chat.show(Reply(text, actions), prefix=f"[to {row.chat_id}] ")
        self.chat.out.flush()


class ConsoleChat:
    """One person at the terminal talking to the same core services as Telegram."""

    def __init__(self, app: App, out: TextIO, person_key: str | None = None) -> None:
        self.app = app
        self.out = out
        self.key = person_key or f"local:{getpass.getuser()}"
        self.options: tuple[Action, ...] = ()
        self.person: Person | None = None
        self.role = "citizen"
        self.citizen_options: tuple[Action, ...] = ()
        self.thread: int | None = None
        self.workspace = ConsoleWorkspace(out)
        self.worker = OutboxWorker(
            app.db,
            app.outbox,
            CHANNEL,
            ConsoleSender(self),
            RateLimiter(1000.0, 0.0),
            app.conversations.clock,
            on_unreachable=app.on_unreachable,
        )

    def show(self, reply: Reply, prefix: str = "") -> None:
        if not reply.text and not reply.actions:
            return
        if prefix.startswith("[to the citizen]") or (not prefix and self.role == "citizen"):
            self.citizen_options = reply.actions
        if prefix.startswith("[to the citizen]") and self.role != "citizen":
            self.out.write(prefix + numbered(reply) + "\n\n")
            return
        self.options = reply.actions
        self.out.write(prefix + numbered(reply) + "\n\n")
        self.out.flush()

    async def flush(self) -> None:
        """Deliver what the core queued (relays, notices) at once: the demo has no delay."""
        while await self.worker.run_once():
            pass

    async def begin(self, lang: str | None) -> None:
        conv = self.app.conversations
        queue = self.app.queue
        if queue.workspace is None:
            queue.attach(self.workspace)
        if self.app.roster.get(DEMO_SPECIALIST) is None:
            languages = tuple(self.app.settings.languages)
            self.app.roster.add_transient(
                Specialist(DEMO_SPECIALIST, "Demo specialist", SKILLS, languages, 5)
            )
        self.person, _new = await self.app.people.identify(CHANNEL, self.key)
        if lang:
            self.person, reply = await conv.set_language(self.person, lang)
            self.show(reply)
        else:
            self.show(conv.start(self.person))

    async def _person(self) -> Person:
        if self.person is None:
            self.person, _new = await self.app.people.identify(CHANNEL, self.key)
        return self.person

    async def act(self, action: Action) -> Reply:
        person = await self._person()
        if action.kind in ("lecture", "live"):
            return await self.schedule_action(person, action)
        self.person, reply = await self.app.conversations.act(
            person, action, CHANNEL, "plain", contact=f"{getpass.getuser()} (terminal)"
        )
        if action.kind == "forget" and action.value == "yes":
            self.person = None
        return reply

    async def schedule_action(self, person: Person, action: Action) -> Reply:
        """Lecture and live-broadcast options; a calendar file is printed as text."""
        lectures = self.app.lectures
        if action.kind == "live":
            if action.value in ("sub", "unsub"):
                return await lectures.set_live_subscription(person, action.value == "sub")
            return await lectures.live(person, "plain")
        outcome = await lectures.act(person, action.value, "plain")
        if outcome.document is None:
            return outcome.reply
        calendar = outcome.document.content.decode("utf-8").replace("\r\n", "\n")
        return Reply(
            f"{outcome.reply.text}\n{outcome.document.filename}:\n\n{calendar}",
            outcome.reply.actions,
        )

    async def handle(self, line: str) -> bool:
        """Answer one line; False when the person wants to leave."""
        text = line.strip()
        if text in ("/quit", "/exit"):
            return False
        if text.split(" ", 1)[0] == "/as":
            self.switch(text)
        elif self.role == "specialist":
            await self.as_specialist(text)
        else:
            await self.as_citizen(text)
        await self.flush()
        return True

    def switch(self, text: str) -> None:
        """/as specialist or /as citizen: the demo shows both sides of a ticket."""
        role = text.partition(" ")[2].strip().lower()
        if role not in ("specialist", "citizen"):
            self.out.write("Usage: /as specialist, or /as citizen\n\n")
            return
        self.role = role
        self.options = self.citizen_options if role == "citizen" else ()
        if role == "specialist":
            self.out.write(
                "You are now the demo specialist. /next takes the next ticket; what you write "
                "goes to the citizen; /note, /ask_contact, /history, /transfer, /close; "
                "/queue; /as citizen to switch back.\n\n"
            )
        else:
            self.out.write("You are the citizen again.\n\n")

    async def as_citizen(self, text: str) -> None:
        chosen = pick(text, self.options)
        if chosen is not None:
            self.show(await self.act(chosen))
            return
        person = await self._person()
        if text.startswith("/"):
            name = text.split()[0].lower()
            if name == "/lectures":
                self.show(await self.app.lectures.listing(person, None, "plain"))
            elif name == "/live":
                self.show(await self.app.lectures.live(person, "plain"))
            else:
                self.show(await self.app.conversations.command(person, name, CHANNEL))
            return
        turn = await self.app.conversations.ask(person, text, CHANNEL, "plain")
        self.show(turn.reply)

    def notice(self, notice: Notice | None) -> None:
        if notice is not None:
            self.show(Reply(notice.text, notice.actions), prefix="[bot to you] ")

    async def as_specialist(self, text: str) -> None:
        queue = self.app.queue
        me = DEMO_SPECIALIST
        chosen = pick(text, self.options)
        if chosen is not None:
            head, _sep, choice = chosen.value.partition("/")
            if chosen.kind == "take":
                self.notice(await queue.take_next(me))
            elif chosen.kind == "close" and head.isdigit():
                self.notice(await queue.close(me, int(head), choice))
            elif chosen.kind == "transfer" and head.isdigit():
                self.notice(await queue.transfer(me, int(head), choice))
            elif chosen.kind == "offer" and head.isdigit():
                self.notice(await queue.answer_offer(me, int(head), choice == "accept"))
            self.thread = await self._my_thread()
            return
        name, _sep, rest = text.partition(" ")
        if name == "/next":
            self.notice(await queue.take_next(me))
            self.thread = await self._my_thread()
            return
        if name == "/queue":
            summary, actions = await queue.queue_summary()
            self.notice(Notice(summary, actions))
            return
        if self.thread is None:
            self.thread = await self._my_thread()
        if self.thread is None:
            self.notice(queue.staff_help())
            return
        if name == "/note":
            notice = await queue.from_workspace(me, self.thread, Incoming("text", rest), True)
        elif name == "/close":
            notice = await queue.close_choices(me, self.thread)
        elif name == "/transfer":
            notice = await queue.transfer_choices(me, self.thread)
        elif name == "/ask_contact":
            notice = await queue.ask_contact(me, self.thread)
        elif name == "/history":
            notice = await queue.history(me, self.thread)
        elif text.startswith("/"):
            notice = queue.staff_help()
        else:
            notice = await queue.from_workspace(me, self.thread, Incoming("text", text))
        self.notice(notice)

    async def _my_thread(self) -> int | None:
        mine = await TicketRepository(self.app.db.connection).assigned_to(DEMO_SPECIALIST)
        return mine[-1].thread_id if mine else None


async def run_console(app: App, lang: str | None, stdin: TextIO, out: TextIO) -> int:
    """Read lines until end of input or /quit; a failure on one line never ends the chat."""
    chat = ConsoleChat(app, out)
    interactive = stdin.isatty()
    if interactive:
        out.write("Senim terminal chat. Type a question, a number to choose, or /quit.\n\n")
    await chat.begin(lang)
    loop = asyncio.get_running_loop()
    while True:
        if interactive:
            out.write("> ")
            out.flush()
        line = await loop.run_in_executor(None, stdin.readline)
        if not line:
            break
        try:
            if not await chat.handle(line):
                break
        except Exception:
            log.exception("the terminal chat failed on one line")
            out.write("Sorry, something went wrong. Please try again.\n\n")
    return 0
