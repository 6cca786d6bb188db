"""The direct-message poller: reads the inbox every 20 to 40 seconds and answers through the
same core services as Telegram; replies leave through the Instagram outbox."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable

from bot.app import App
from bot.core.queue import Incoming
from bot.core.replies import Action, Reply, pick
from bot.instagram.client import DirectApi, DirectItem, DirectThreadView, item_order
from bot.instagram.errors import InstagramError, InstagramGuard, Pushback, SessionExpired
from bot.outbox import OutgoingMessage
from bot.storage import Person
from bot.storage.instagram import InstagramRepository

log = logging.getLogger(__name__)

CHANNEL = "instagram"
SINCE = "answer_since"
PAGE_ITEMS = 10  # the inbox shows a thread's last 10 items
HISTORY_ITEMS = 60  # how far back a thread is read when more came in than the inbox shows
# Items that need no answer: a heart, a reaction, Instagram's own notices, what was not parsed.
SILENT_KINDS = frozenset(
    {"like", "reaction", "action_log", "placeholder", "video_call_event", "unparsed", "other"}
)
PRIVACY_NOTE = (
    "Privacy: I keep only what I need to reply (an id, your language and your requests). "
    "Specialists see a pseudonym, never your name. /forget erases everything about you."
)

Sleep = Callable[[float], Awaitable[object]]


class InstagramPoller:
    """Turns new direct messages into replies, each exactly once, across restarts."""

    def __init__(
        self,
        app: App,
        api: DirectApi,
        guard: InstagramGuard,
        *,
        rng: random.Random | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.app = app
        self.api = api
        self.guard = guard
        self.settings = app.settings.instagram
        self.rng = rng or random.Random()
        self.sleep = sleep
        self.since: float | None = None

    def interval(self) -> float:
        """The next wait: random between the configured bounds, so polls keep no rhythm."""
        return self.rng.uniform(self.settings.poll_min_seconds, self.settings.poll_max_seconds)

    async def _since(self) -> float:
        """Threads seen for the first time are answered only from when the channel was first
        turned on: an account's old conversations get no late replies."""
        if self.since is None:
            repo = InstagramRepository(self.app.db.connection)
            stored = await repo.get_state(SINCE)
            if stored is None:
                stored = str(self.app.conversations.clock().timestamp())
                async with self.app.db.transaction() as conn:
                    await InstagramRepository(conn).set_state(SINCE, stored)
            self.since = float(stored)
        return self.since

    async def run(self) -> None:
        """Forever: poll, then wait (longer while the channel is paused)."""
        while True:
            wait = self.guard.remaining()
            if wait <= 0:
                try:
                    await self.poll_once()
                except Exception:
                    log.exception("an Instagram poll failed; trying again")
                wait = max(self.interval(), self.guard.remaining())
            await self.sleep(wait)

    async def poll_once(self) -> int:
        """One round: the inbox, then message requests; returns how many messages were new."""
        if self.guard.remaining() > 0:
            return 0
        handled = 0
        try:
            for thread in await self.api.inbox():
                handled += await self.thread(thread)
            if self.settings.approve_requests:
                for request in await self.api.pending():
                    await self.api.approve(request.thread_id)
                    log.info("approved an Instagram message request")
                    handled += await self.thread(request)
        except SessionExpired as exc:
            log.error("the Instagram session no longer works (%s)", type(exc).__name__)
            log.debug("session failure: %s", exc)
            await self.guard.pushback("login", login=True)
        except Pushback as exc:
            await self.guard.pushback(exc.reason)
        except InstagramError as exc:
            log.warning("Instagram poll failed: %s", type(exc).__name__)
            log.debug("Instagram poll failure: %s", exc)  # may quote ids or texts
        else:
            await self.guard.healthy()
        return handled

    async def thread(self, view: DirectThreadView) -> int:
        """Answer a thread's new items in order; the cursor moves with each reply queued."""
        if not view.items:
            return 0
        repo = InstagramRepository(self.app.db.connection)
        cursor = await repo.cursor(view.thread_id)
        newest = view.items[-1]
        if view.is_group or len(view.user_ids) != 1:
            if cursor is None or item_order(newest.item_id) > item_order(cursor):
                await self._advance(view.thread_id, newest, None, None)
            log.debug("group thread %s ignored", view.thread_id)
            return 0
        if view.skipped:
            log.warning("%d item(s) of a direct thread could not be parsed: skipped", view.skipped)
        me = self.api.user_id
        if (
            cursor is not None
            and len(view.items) >= PAGE_ITEMS
            and item_order(view.items[0].item_id) > item_order(cursor)
        ):
            # More came in than the inbox shows (after a downtime): read the thread itself.
            view = await self.api.history(view.thread_id, HISTORY_ITEMS)
        if cursor is not None:
            new = [i for i in view.items if item_order(i.item_id) > item_order(cursor)]
        else:
            since = await self._since()
            new = [i for i in view.items if i.at >= since]
            ours = [n for n, item in enumerate(new) if item.user_id == me]
            if ours:  # someone answered from the app: only what came after that is new
                new = new[ours[-1] + 1 :]
            if not new:
                await self._advance(view.thread_id, newest, None, None)
                return 0
        handled = 0
        contact = next((f"Instagram @{name}" for name in view.usernames if name), "")
        for item in new:
            if item.user_id == me or item.kind in SILENT_KINDS or not item.user_id:
                await self._advance(view.thread_id, item, None, None)
                continue
            person, reply = await self.answer(item, contact)
            await self._advance(view.thread_id, item, reply, person)
            handled += 1
        if handled:
            try:
                await self.api.mark_seen(view.thread_id, new[-1].item_id)
            except (Pushback, SessionExpired):
                raise
            except InstagramError as exc:
                log.debug("could not mark a thread seen: %s", exc)
        return handled

    async def answer(self, item: DirectItem, contact: str) -> tuple[Person | None, Reply]:
        """One message through the core: a numbered option, a command, a question, or else."""
        app = self.app
        conv = app.conversations
        person, new = await app.people.identify(CHANNEL, item.user_id)
        log.debug("Instagram message %s from %s: %r", item.item_id, item.user_id, item.text)
        try:
            if item.kind != "text":
                incoming = Incoming(item.kind, item.text, ref=f"ig{item.item_id}")
                return person, await conv.other_content(person, incoming)
            text = item.text.strip()
            stored = await InstagramRepository(app.db.connection).options(person.id)
            chosen = pick(text, tuple(Action(k, v, label) for k, v, label in stored))
            if chosen is not None:
                updated, reply = await conv.act(person, chosen, CHANNEL, "plain", contact)
                if chosen.kind == "forget" and await app.people.get(person.id) is None:
                    return None, reply
                return updated, reply
            if text.startswith("/"):
                return person, await conv.command(person, text.split()[0], CHANNEL)
            turn = await conv.ask(person, text, CHANNEL, "plain", ref=f"ig{item.item_id}")
            if new and turn.crisis is None and turn.reply.text:
                # Telegram shows this with /start; on Instagram the first answer carries it.
                note = conv.t(turn.language, PRIVACY_NOTE)
                return person, Reply(f"{note}\n\n{turn.reply.text}", turn.reply.actions)
            return person, turn.reply
        except Exception:
            log.exception("an Instagram message failed in the core; the person is told")
            lang = conv.language_of(person)
            return person, Reply(
                conv.t(
                    lang,
                    "Sorry, something went wrong on my side. Please try again, or ask for a "
                    "specialist.",
                )
            )

    async def _advance(
        self, thread_id: str, item: DirectItem, reply: Reply | None, person: Person | None
    ) -> None:
        """Queue the reply and move the thread's cursor past the item, in one transaction."""
        messages: list[OutgoingMessage] = []
        if reply is not None and (reply.text or reply.actions):
            messages.append(
                OutgoingMessage(
                    f"instagram:reply:{item.item_id}",
                    CHANNEL,
                    item.user_id,
                    reply.text,
                    reply.actions,
                    person_id=person.id if person is not None else None,
                )
            )
        now = self.app.conversations.clock()
        async with self.app.db.transaction() as conn:
            if messages:
                await self.app.outbox.add_in(conn, messages)
            await InstagramRepository(conn).advance(thread_id, item.item_id, now)
        self.app.outbox.wake(messages)
