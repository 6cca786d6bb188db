"""The citizen's conversation: questions, topics, feedback, a specialist, privacy."""

from __future__ import annotations

import logging
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from bot.config import Settings
from bot.content import ContentPack, Format, RenderError, Script
from bot.core.channel_texts import _messages as _alert_messages
from bot.core.events import EventLog
from bot.core.lectures import CITIZEN_COMMANDS
from bot.core.lectures import ui_messages as lecture_messages
from bot.core.matcher import Matcher, MatchResult
from bot.core.people import PeopleService, utc_now
from bot.core.queue import OUTCOMES, Incoming, QueueService
from bot.core.queue import _messages as _queue_messages
from bot.core.replies import Action, Reply
from bot.core.safety import CrisisDetector, CrisisHit
from bot.core.text import clean, detect_language, has_letters
from bot.core.tickets import TicketService
from bot.storage import Database, Person

log = logging.getLogger(__name__)

LANGUAGE_NAMES = {"kk": "Қазақша", "ru": "Русский", "en": "English"}

# UI messages (msgids in content/locales); content check reports those a catalog lacks.
# Kept here as literals so that `pybabel extract` finds them too.
N_ = str


def _messages() -> tuple[str, ...]:
    return (
        N_("Sources"),
        N_("Choose your language"),
        N_(
            "Welcome! I answer questions about religion with texts written and checked by "
            "theologians, psychologists and lawyers. You can also talk to a specialist in person."
        ),
        N_(
            "Privacy: I keep only what I need to reply (an id, your language and your requests). "
            "Specialists see a pseudonym, never your name. /forget erases everything about you."
        ),
        N_("Write your question in your own words, or choose a topic."),
        N_("Topics"),
        N_("Talk to a specialist"),
        N_("Language"),
        N_("Privacy"),
        N_("Help"),
        N_("Main menu"),
        N_("This helped"),
        N_("This did not help"),
        N_("Did this help?"),
        N_("Choose a topic:"),
        N_("Did you mean one of these?"),
        N_("None of these"),
        N_("Thank you! I am glad it helped."),
        N_("I am sorry it did not help. A specialist can talk it through with you in person."),
        N_(
            "Your request has been passed to a specialist. A specialist will write to you here; "
            "you do not need to do anything else."
        ),
        N_("Your request is already in the queue. A specialist will write to you here."),
        N_("You are number {position} in line."),
        N_("A specialist is already handling your request."),
        N_("Language set: English."),
        N_("Please write your question in words, and I will try to help."),
        N_("Your message is very long, so I read only its beginning. Short questions work best."),
        N_(
            "This will erase everything I keep about you: your language, your requests and your "
            "conversations. It cannot be undone. Erase?"
        ),
        N_("Yes, erase everything"),
        N_("No, keep"),
        N_("Done: everything about you has been erased. If you write again, we start afresh."),
        N_("Nothing was erased."),
        N_("That option is no longer available. Here is the menu."),
        N_("Sorry, something went wrong on my side. Please try again, or ask for a specialist."),
        N_(
            "What I keep: an id needed to reply to you, your language, your requests for a "
            "specialist and your subscriptions. I do not keep your name, username or phone "
            "number. Conversations with a specialist are kept for {days} days and then deleted. "
            "Specialists see only your pseudonym ({pseudonym}), unless you agree to share more. "
            "Coordinators see only totals, never conversations. /forget erases everything about "
            "you at any time."
        ),
        N_(
            "I can answer questions about religion and extremism, explain the law, and put you in "
            "touch with a specialist. Write a question, or use: /topics, /specialist, /language, "
            "/privacy, /forget."
        ),
        N_("I can only read text messages. Please write your question in words."),
        N_("Too many messages at once. Please wait a few seconds and write again."),
    )


# The commands every channel understands, with their menu descriptions (UI strings).
COMMANDS = (
    ("start", N_("Start and main menu")),
    ("topics", N_("Browse topics")),
    ("specialist", N_("Talk to a specialist")),
    ("language", N_("Change language")),
    ("privacy", N_("What is stored and who sees it")),
    ("end", N_("End the conversation with a specialist")),
    ("forget", N_("Erase everything about me")),
    ("help", N_("What this bot can do")),
    *CITIZEN_COMMANDS,
)

RECENT_TURNS = 8
RECENT_PEOPLE = 5_000
RECENT_CHARS = 1_000

UI_MESSAGES = tuple(
    dict.fromkeys(
        [
            *_messages(),
            *(text for _name, text in COMMANDS),
            *_queue_messages(),
            *OUTCOMES.values(),
            *lecture_messages(),
            *_alert_messages(),
        ]
    )
)


class Classifier:
    """Language, crisis and match for a text, with no side effects (content eval uses it too)."""

    def __init__(self, settings: Settings, matcher: Matcher, crisis: CrisisDetector) -> None:
        self.settings = settings
        self.matcher = matcher
        self.crisis = crisis

    def language(self, text: str, preferred: str | None) -> tuple[str, bool]:
        detected = detect_language(text, preferred, self.settings.languages)
        return detected.language, detected.certain

    def classify(
        self, text: str, preferred: str | None
    ) -> tuple[str, CrisisHit | None, MatchResult | None]:
        language, _certain, hit, match = self.examine(text, preferred)
        return language, hit, match

    def examine(
        self, text: str, preferred: str | None
    ) -> tuple[str, bool, CrisisHit | None, MatchResult | None]:
        """Language (and whether the text showed it clearly), crisis, then the match."""
        cleaned = clean(text)
        language, certain = self.language(cleaned, preferred)
        hit = self.crisis.detect(cleaned, language)
        if hit is not None:
            return language, certain, hit, None
        limit = self.settings.matcher.max_question_chars
        return language, certain, None, self.matcher.match(cleaned[:limit])


@dataclass(frozen=True, slots=True)
class Turn:
    """What the core decided about one message, for the channel and for evaluation."""

    reply: Reply
    language: str
    crisis: CrisisHit | None
    match: MatchResult | None


class ConversationService:
    """Everything a citizen can do, answered as channel-neutral replies."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        content: ContentPack,
        matcher: Matcher,
        crisis: CrisisDetector,
        people: PeopleService,
        clock: Callable[[], datetime] = utc_now,
        events: EventLog | None = None,
        tickets: TicketService | None = None,
        queue: QueueService | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.content = content
        self.matcher = matcher
        self.crisis = crisis
        self.people = people
        self.clock = clock
        self.events = events or EventLog(db, clock)
        self.tickets = tickets or TicketService(db, clock, settings.queue.topic_skills)
        self.queue = queue
        # The last few turns per person, in memory only, so a new ticket can carry the
        # conversation so far without the bot storing every question.
        self._recent: OrderedDict[int, deque[tuple[str, str]]] = OrderedDict()
        self.scripts: dict[str, Script] = content.served(settings.content.serve_statuses)
        self.classifier = Classifier(settings, matcher, crisis)

    # --- helpers ---------------------------------------------------------------------------------

    def t(self, lang: str, message: str, **values: Any) -> str:
        return self.content.catalogs.gettext(lang, message, **values)

    def language_of(self, person: Person) -> str:
        lang = person.language
        return lang if lang in self.settings.languages else self.settings.default_language

    def _context(self, lang: str) -> dict[str, Any]:
        contacts = self.settings.crisis.contacts_for(lang, self.settings.default_language)
        return {
            "lang": lang,
            "org": self.settings.organisation.name,
            "contacts": [{"name": c.name, "phone": c.phone} for c in contacts],
        }

    def title(self, topic_id: str, lang: str) -> str:
        script = self.scripts[topic_id]
        local = script.texts.get(lang) or script.texts[self.settings.default_language]
        return local.title

    async def _event(self, kind: str, channel: str, **fields: Any) -> None:
        await self.events.record(kind, channel, **fields)

    def menu_actions(self, lang: str) -> tuple[Action, ...]:
        return (
            Action("topics", "", self.t(lang, "Topics")),
            Action("specialist", "", self.t(lang, "Talk to a specialist")),
            Action("language", "", self.t(lang, "Language")),
            Action("privacy", "", self.t(lang, "Privacy")),
        )

    def _failure(self, lang: str) -> Reply:
        return Reply(
            self.t(
                lang,
                "Sorry, something went wrong on my side. Please try again, or ask for a "
                "specialist.",
            ),
            (Action("specialist", "", self.t(lang, "Talk to a specialist")),),
        )

    def _remember(self, person: Person, author: str, text: str) -> None:
        turns = self._recent.get(person.id)
        if turns is None:
            turns = self._recent[person.id] = deque(maxlen=RECENT_TURNS)
            if len(self._recent) > RECENT_PEOPLE:
                self._recent.popitem(last=False)
        else:
            self._recent.move_to_end(person.id)
        turns.append((author, text[:RECENT_CHARS]))

    def recent(self, person: Person) -> list[tuple[str, str]]:
        return list(self._recent.get(person.id, ()))

    # --- commands --------------------------------------------------------------------------------

    def language_choice(self, lang: str | None = None) -> Reply:
        shown = lang or self.settings.default_language
        return Reply(
            " / ".join(self.t(code, "Choose your language") for code in self.settings.languages)
            if lang is None
            else self.t(shown, "Choose your language"),
            tuple(
                Action("language", code, LANGUAGE_NAMES.get(code, code))
                for code in self.settings.languages
            ),
        )

    def welcome(self, person: Person) -> Reply:
        lang = self.language_of(person)
        text = "\n\n".join(
            [
                self.t(
                    lang,
                    "Welcome! I answer questions about religion with texts written and "
                    "checked by theologians, psychologists and lawyers. You can also talk to a "
                    "specialist in person.",
                ),
                self.t(
                    lang,
                    "Privacy: I keep only what I need to reply (an id, your language and "
                    "your requests). Specialists see a pseudonym, never your name. /forget "
                    "erases everything about you.",
                ),
                self.t(lang, "Write your question in your own words, or choose a topic."),
            ]
        )
        return Reply(text, self.menu_actions(lang))

    def start(self, person: Person) -> Reply:
        if person.language not in self.settings.languages:
            return self.language_choice()
        return self.welcome(person)

    async def set_language(self, person: Person, lang: str) -> tuple[Person, Reply]:
        if lang not in self.settings.languages:
            return person, self.language_choice(self.language_of(person))
        person = await self.people.set_language(person, lang)
        confirmation = self.t(lang, "Language set: English.")
        welcome = self.welcome(person)
        return person, Reply(f"{confirmation}\n\n{welcome.text}", welcome.actions)

    def help(self, person: Person) -> Reply:
        lang = self.language_of(person)
        return Reply(
            self.t(
                lang,
                "I can answer questions about religion and extremism, explain the law, "
                "and put you in touch with a specialist. Write a question, or use: /topics, "
                "/specialist, /language, /privacy, /forget.",
            ),
            self.menu_actions(lang),
        )

    def privacy(self, person: Person) -> Reply:
        lang = self.language_of(person)
        text = self.t(
            lang,
            "What I keep: an id needed to reply to you, your language, your requests for a "
            "specialist and your subscriptions. I do not keep your name, username or phone "
            "number. Conversations with a specialist are kept for {days} days and then deleted. "
            "Specialists see only your pseudonym ({pseudonym}), unless you agree to share more. "
            "Coordinators see only totals, never conversations. /forget erases everything about "
            "you at any time.",
            days=self.settings.privacy.retention_days,
            pseudonym=person.pseudonym,
        )
        return Reply(text, (Action("menu", "", self.t(lang, "Main menu")),))

    def topics(self, person: Person) -> Reply:
        lang = self.language_of(person)
        return Reply(
            self.t(lang, "Choose a topic:"),
            tuple(
                Action("topic", topic_id, self.title(topic_id, lang)) for topic_id in self.scripts
            ),
        )

    def forget_request(self, person: Person) -> Reply:
        lang = self.language_of(person)
        return Reply(
            self.t(
                lang,
                "This will erase everything I keep about you: your language, your "
                "requests and your conversations. It cannot be undone. Erase?",
            ),
            (
                Action("forget", "yes", self.t(lang, "Yes, erase everything")),
                Action("forget", "no", self.t(lang, "No, keep")),
            ),
        )

    async def forget(self, person: Person, confirmed: bool) -> Reply:
        lang = self.language_of(person)
        if not confirmed:
            return Reply(self.t(lang, "Nothing was erased."), self.menu_actions(lang))
        if self.queue is not None:
            await self.queue.forget(person)
        await self.people.forget(person)
        self._recent.pop(person.id, None)
        if self.queue is not None:
            self.queue.refresh_soon()
        return Reply(
            self.t(
                lang,
                "Done: everything about you has been erased. If you write again, we start afresh.",
            )
        )

    async def request_specialist(
        self,
        person: Person,
        channel: str,
        reason: str = "asked",
        topic_id: str | None = None,
        urgent: bool = False,
    ) -> Reply:
        """Open a ticket for a human (or find the open one) and say where the person stands."""
        lang = self.language_of(person)
        await self._event(
            "specialist_requested", channel, language=lang, topic_id=topic_id, outcome=reason
        )
        actions: tuple[Action, ...] = ()
        if self.queue is not None:
            previous = await self.queue.previous_for(person)
            ticket, new, position, note = await self.queue.open_ticket(
                person, reason, topic_id, urgent, self.recent(person), previous
            )
            actions = self.queue.waiting_actions(person, ticket)  # shown only while waiting
        else:
            opened = await self.tickets.open(person, lang, reason, topic_id, urgent)
            new, position, note = opened.new, opened.position, ""
        if position:
            where = self.t(lang, "You are number {position} in line.", position=position)
        else:
            where = self.t(lang, "A specialist is already handling your request.")
        if not new and not urgent:
            first = self.t(
                lang, "Your request is already in the queue. A specialist will write to you here."
            )
        else:
            first = self.t(
                lang,
                "Your request has been passed to a specialist. A specialist will write "
                "to you here; you do not need to do anything else.",
            )
        text = " ".join(part for part in (first, where) if part)
        if note:
            text += "\n\n" + note
        return Reply(text, actions if position else ())

    # --- answers ---------------------------------------------------------------------------------

    def answer(self, topic_id: str, lang: str, fmt: Format) -> Reply:
        script = self.scripts[topic_id]
        try:
            text = self.content.render_answer(script, lang, fmt, self._context(lang))
        except RenderError:
            log.exception("the answer of %s (%s) does not render", topic_id, lang)
            return self._failure(lang)
        actions = [
            Action("feedback", f"yes/{topic_id}", self.t(lang, "This helped")),
            Action("feedback", f"no/{topic_id}", self.t(lang, "This did not help")),
        ]
        actions += [
            Action("topic", rel, self.title(rel, lang))
            for rel in script.related
            if rel in self.scripts
        ]
        actions.append(Action("specialist", topic_id, self.t(lang, "Talk to a specialist")))
        return Reply(f"{text}\n\n{self.t(lang, 'Did this help?')}", tuple(actions))

    async def open_topic(self, person: Person, topic_id: str, channel: str, fmt: Format) -> Reply:
        lang = self.language_of(person)
        if topic_id not in self.scripts:
            return Reply(
                self.t(lang, "That option is no longer available. Here is the menu."),
                self.menu_actions(lang),
            )
        await self._event("topic_opened", channel, language=lang, topic_id=topic_id)
        return self.answer(topic_id, lang, fmt)

    async def feedback(self, person: Person, topic_id: str, helped: bool, channel: str) -> Reply:
        lang = self.language_of(person)
        known = topic_id if topic_id in self.scripts else None
        await self._event(
            "feedback",
            channel,
            language=lang,
            topic_id=known,
            outcome="helped" if helped else "not_helped",
        )
        if helped:
            return Reply(self.t(lang, "Thank you! I am glad it helped."), self.menu_actions(lang))
        return Reply(
            self.t(
                lang,
                "I am sorry it did not help. A specialist can talk it through with you in person.",
            ),
            (
                Action("specialist", known or "", self.t(lang, "Talk to a specialist")),
                Action("topics", "", self.t(lang, "Topics")),
            ),
        )

    async def ask(
        self, person: Person, text: str, channel: str, fmt: Format, ref: str = ""
    ) -> Turn:
        """A free-text message: crisis check first; then, if the person has a ticket, it goes
        to the specialist; otherwise the matcher answers. Every step is logged."""
        cleaned = clean(text).strip()
        examined = (
            self.classifier.examine(cleaned, person.language) if has_letters(cleaned) else None
        )
        if self.queue is not None:
            hit = examined[2] if examined else None
            routed = await self.queue.from_citizen(
                person, Incoming("text", cleaned, ref=ref), crisis=hit is not None
            )
            if routed is not None:
                lang = self.language_of(person)
                if hit is not None:
                    crisis = await self._crisis(person, hit, lang, channel, fmt)
                    return Turn(crisis, lang, hit, None)
                return Turn(routed, lang, None, None)
        if examined is None:
            lang = self.language_of(person)
            reply = Reply(
                self.t(lang, "Please write your question in words, and I will try to help."),
                self.menu_actions(lang),
            )
            return Turn(reply, lang, None, None)
        detected, certain, hit, result = examined
        lang = detected if certain else self.language_of(person)
        self._remember(person, "citizen", cleaned)
        if hit is not None:
            return Turn(await self._crisis(person, hit, lang, channel, fmt), lang, hit, None)
        assert result is not None
        limit = self.settings.matcher.max_question_chars
        best = result.best
        await self._event(
            "question",
            channel,
            language=lang,
            outcome=result.kind,
            topic_id=result.topic_id,
            score=best.score if best else None,
        )
        note = ""
        if len(cleaned) > limit:
            note = (
                self.t(
                    lang,
                    "Your message is very long, so I read only its beginning. Short "
                    "questions work best.",
                )
                + "\n\n"
            )
        if result.kind == "confident" and result.topic_id is not None:
            reply = self.answer(result.topic_id, lang, fmt)
        elif result.kind == "ambiguous":
            actions = (
                *tuple(
                    Action("topic", c.topic_id, self.title(c.topic_id, lang))
                    for c in result.candidates
                ),
                Action("specialist", "", self.t(lang, "Talk to a specialist")),
            )
            reply = Reply(self.t(lang, "Did you mean one of these?"), actions)
        else:
            reply = self._out_of_scope(lang, fmt)
        if note:
            reply = Reply(note + reply.text, reply.actions)
        summary = {"confident": result.topic_id or "", "ambiguous": "choice of topics"}
        self._remember(person, "bot", summary.get(result.kind, "out of scope"))
        return Turn(reply, lang, None, result)

    async def edited(self, person: Person, incoming: Incoming) -> Reply:
        """An edited message: relayed (marked as an edit) to the person's specialist when they
        are in a conversation; otherwise the help, since an edit gets no new answer."""
        if self.queue is not None and await self.queue.in_conversation(person):
            marked = replace(incoming, text=f"\N{PENCIL} {incoming.text}".strip())
            routed = await self.queue.from_citizen(person, marked)
            if routed is not None:
                return routed
        return self.help(person)

    async def other_content(self, person: Person, incoming: Incoming) -> Reply:
        """A photo, document, voice message or anything else: to the specialist when the
        person has a ticket; otherwise a polite word that only text is read."""
        if self.queue is not None:
            routed = await self.queue.from_citizen(person, incoming)
            if routed is not None:
                return routed
        lang = self.language_of(person)
        return Reply(
            self.t(lang, "I can only read text messages. Please write your question in words."),
            self.menu_actions(lang),
        )

    def _out_of_scope(self, lang: str, fmt: Format) -> Reply:
        try:
            text = self.content.render_template("out_of_scope", lang, fmt, self._context(lang))
        except RenderError:
            log.exception("the out-of-scope template (%s) does not render", lang)
            text = self.t(lang, "Write your question in your own words, or choose a topic.")
        return Reply(
            text,
            (
                Action("topics", "", self.t(lang, "Topics")),
                Action("specialist", "", self.t(lang, "Talk to a specialist")),
            ),
        )

    async def _crisis(
        self, person: Person, hit: CrisisHit, lang: str, channel: str, fmt: Format
    ) -> Reply:
        context = self._context(lang)
        try:
            text = self.content.render_template("crisis", lang, fmt, context)
        except RenderError:
            log.exception("the crisis template (%s) does not render", lang)
            numbers = ", ".join(f"{c['name']}: {c['phone']}" for c in context["contacts"])
            text = numbers or "112"
        await self._event("crisis", channel, language=lang, outcome=hit.category)
        await self.request_specialist(
            person, channel, reason=f"crisis:{hit.category}", urgent=True
        )
        log.warning("crisis (%s) from %s; urgent request recorded", hit.category, person.pseudonym)
        return Reply(
            text, (Action("specialist", "", self.t(lang, "Talk to a specialist")),), crisis=True
        )

    async def act(
        self,
        person: Person,
        action: Action,
        channel: str,
        fmt: Format,
        contact: str = "",
    ) -> tuple[Person, Reply]:
        """Carry out a button's (or numbered option's) action; the person may change language.
        `contact` is what the channel knows of the person's name, shared only if they agree."""
        kind, value = action.kind, action.value
        if kind in ("rate", "contact", "gender", "end") and self.queue is not None:
            return person, await self._ticket_action(person, kind, value, contact)
        if kind == "topic":
            return person, await self.open_topic(person, value, channel, fmt)
        if kind == "topics":
            return person, self.topics(person)
        if kind == "feedback":
            verdict, _sep, topic = value.partition("/")
            if verdict not in ("yes", "no"):
                return person, self.welcome(person)
            return person, await self.feedback(person, topic, verdict == "yes", channel)
        if kind == "specialist":
            topic_id = value if value in self.scripts else None
            return person, await self.request_specialist(person, channel, topic_id=topic_id)
        if kind == "language":
            if value:
                return await self.set_language(person, value)
            return person, self.language_choice(self.language_of(person))
        if kind == "privacy":
            return person, self.privacy(person)
        if kind == "forget":
            return person, await self.forget(person, value == "yes")
        if kind == "help":
            return person, self.help(person)
        return person, self.welcome(person)

    async def _ticket_action(self, person: Person, kind: str, value: str, contact: str) -> Reply:
        assert self.queue is not None
        ticket, _sep, choice = value.partition("/")
        if not ticket.isdigit():
            lang = self.language_of(person)
            return Reply(
                self.t(lang, "That option is no longer available. Here is the menu."),
                self.menu_actions(lang),
            )
        if kind == "rate":
            return await self.queue.rate(person, int(ticket), choice)
        if kind == "contact":
            return await self.queue.answer_contact(person, int(ticket), choice == "yes", contact)
        if kind == "gender":
            return await self.queue.prefer_gender(person, int(ticket), choice)
        return await self.queue.end(person)

    async def command(self, person: Person, name: str, channel: str) -> Reply:
        """A command every channel understands (see COMMANDS); unknown ones get the help."""
        name = name.lstrip("/").split("@")[0].lower()
        if name == "start":
            return self.start(person)
        if name == "topics":
            return self.topics(person)
        if name == "language":
            return self.language_choice(self.language_of(person))
        if name == "privacy":
            return self.privacy(person)
        if name == "forget":
            return self.forget_request(person)
        if name == "specialist":
            return await self.request_specialist(person, channel)
        if name == "end" and self.queue is not None:
            return await self.queue.end(person)
        return self.help(person)
