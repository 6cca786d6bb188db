"""The terminal chat channel: standard input line by line, numbered options for buttons."""

from __future__ import annotations

import asyncio
import getpass
import logging
from typing import TextIO

from bot.app import App
from bot.core.replies import Action, Reply, numbered, pick
from bot.storage import Person

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
    "/quit",
)


class ConsoleChat:
    """One person at the terminal talking to the same core services as Telegram."""

    def __init__(self, app: App, out: TextIO, person_key: str | None = None) -> None:
        self.app = app
        self.out = out
        self.key = person_key or f"local:{getpass.getuser()}"
        self.options: tuple[Action, ...] = ()
        self.person: Person | None = None

    def show(self, reply: Reply) -> None:
        self.options = reply.actions
        self.out.write(numbered(reply) + "\n\n")
        self.out.flush()

    async def begin(self, lang: str | None) -> None:
        conv = self.app.conversations
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
        self.person, reply = await self.app.conversations.act(person, action, CHANNEL, "plain")
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
        chosen = pick(text, self.options)
        if chosen is not None:
            self.show(await self.act(chosen))
            return True
        if text.startswith("/"):
            person = await self._person()
            name = text.split()[0].lower()
            if name == "/lectures":
                self.show(await self.app.lectures.listing(person, None, "plain"))
                return True
            if name == "/live":
                self.show(await self.app.lectures.live(person, "plain"))
                return True
            self.show(await self.app.conversations.command(person, text.split()[0], CHANNEL))
            return True
        person = await self._person()
        turn = await self.app.conversations.ask(person, text, CHANNEL, "plain")
        self.show(turn.reply)
        return True


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
