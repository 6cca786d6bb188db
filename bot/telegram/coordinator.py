"""The coordinators' router: /lecture_new, /lectures (edit, cancel), /live_plan, /announce."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta
from html import escape
from typing import Any

from aiogram import Bot, Router
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.filters import Command, Filter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import (
    BotCommand,
    BotCommandScopeChat,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    TelegramObject,
)

from bot.config import Settings
from bot.content import Catalogs
from bot.core.broadcasts import BroadcastService
from bot.core.conversations import COMMANDS
from bot.core.coordination import AUDIENCE_LABELS, parse_plan_line
from bot.core.lectures import AUDIENCES, LectureError, LectureService
from bot.storage import Person
from bot.storage.lectures import Lecture, LivePlan
from bot.telegram.filters import InState, IsCommand, PrivateChat

log = logging.getLogger(__name__)

COORDINATOR_COMMANDS = ("lecture_new", "live_plan", "announce")
N_ = str
COORDINATOR_MENU = (
    ("lecture_new", N_("Schedule a lecture")),
    ("live_plan", N_("Plan the live broadcasts")),
    ("announce", N_("Send an announcement")),
)
CAPTION_LIMIT = 1024  # Telegram's limit for a photo's caption
EDITABLE = {
    "title": "Title",
    "lecturer": "Lecturer",
    "city": "City",
    "place": "Place",
    "start": "Start",
    "duration": "Duration",
}


class CoordinatorData(CallbackData, prefix="co"):
    """A coordinator's button: what to do (op), on which lecture or day (ref), with what value."""

    op: str
    ref: int = 0
    value: str = ""


class LectureForm(StatesGroup):
    title = State()
    lecturer = State()
    city = State()
    place = State()
    language = State()
    audience = State()
    start = State()
    duration = State()
    preview = State()


class EditForm(StatesGroup):
    value = State()


class PlanForm(StatesGroup):
    lines = State()


class AnnounceForm(StatesGroup):
    compose = State()
    audience = State()
    preview = State()


class IsCoordinator(Filter):
    """The update comes from a user listed in settings.coordinators."""

    async def __call__(self, event: TelegramObject, settings: Settings) -> bool:
        user = getattr(event, "from_user", None)
        return user is not None and user.id in settings.coordinators


def _button(label: str, op: str, ref: int = 0, value: str = "") -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=label[:64], callback_data=CoordinatorData(op=op, ref=ref, value=value).pack()
    )


def _markup(*rows: list[InlineKeyboardButton]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[row for row in rows if row])


def _chat_id(query: CallbackQuery) -> int:
    return query.message.chat.id if query.message is not None else query.from_user.id


class ProgressTracker:
    """Edits an announcement's progress message as sending goes on, then sends the summary."""

    def __init__(self, broadcasts: BroadcastService, interval: float = 2.0) -> None:
        self.broadcasts = broadcasts
        self.interval = interval
        self._tasks: dict[int, asyncio.Task[None]] = {}

    def watch(self, bot: Bot, broadcast_id: int, chat_id: int, message_id: int, lang: str) -> None:
        if broadcast_id in self._tasks and not self._tasks[broadcast_id].done():
            return
        task = asyncio.get_running_loop().create_task(
            self.follow(bot, broadcast_id, chat_id, message_id, lang)
        )
        self._tasks[broadcast_id] = task
        task.add_done_callback(lambda _t: self._tasks.pop(broadcast_id, None))

    async def follow(
        self, bot: Bot, broadcast_id: int, chat_id: int, message_id: int, lang: str
    ) -> None:
        """Until every message has a result; safe to run again after a restart."""
        shown = ""
        while True:
            try:
                progress = await self.broadcasts.progress(broadcast_id)
                text = self.broadcasts.progress_text(progress, lang)
                if text != shown:
                    with contextlib.suppress(TelegramBadRequest):  # deleted, or not modified
                        await bot.edit_message_text(
                            text=text, chat_id=chat_id, message_id=message_id
                        )
                    shown = text
                if progress.finished:
                    await self.broadcasts.finish(broadcast_id)
                    await bot.send_message(chat_id, text)
                    return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("announcement %s: progress update failed", broadcast_id)
            await asyncio.sleep(self.interval)

    async def resume(self, bot: Bot, lang: str) -> int:
        """After a restart: follow every announcement still sending."""
        count = 0
        for broadcast in await self.broadcasts.unfinished():
            if broadcast.progress_chat and broadcast.progress_message:
                self.watch(
                    bot,
                    broadcast.id,
                    int(broadcast.progress_chat),
                    broadcast.progress_message,
                    lang,
                )
                count += 1
        return count

    async def stop(self) -> None:
        for task in list(self._tasks.values()):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def set_coordinator_commands(bot: Bot, settings: Settings, catalogs: Catalogs) -> int:
    """Each coordinator's menu: everyone's commands and the coordinators' ones, per language."""
    done = 0
    for coordinator in settings.coordinators:
        scope = BotCommandScopeChat(chat_id=coordinator)
        try:
            for lang in (None, *settings.languages):
                shown = lang or settings.default_language
                menu = [
                    BotCommand(command=name, description=catalogs.gettext(shown, text))
                    for name, text in (*COMMANDS, *COORDINATOR_MENU)
                ]
                await bot.set_my_commands(menu, scope=scope, language_code=lang)
        except TelegramAPIError as exc:  # a coordinator who has not yet started the bot
            log.warning("a coordinator's command menu was not set: %s", exc)
            continue
        done += 1
    return done


def create_router() -> Router:
    """Coordinators' commands; anyone else who tries them gets a polite refusal."""
    router = Router(name="coordinator")
    router.message.filter(PrivateChat())
    coordinator = IsCoordinator()
    typed = ~IsCommand()  # a command typed in a dialogue is that command, not an answer

    def t(lectures: LectureService, person: Person, message: str, **values: Any) -> str:
        return lectures.t(lectures.lang(person.language), message, **values)

    # --- refusals ------------------------------------------------------------------------------

    @router.message(Command(*COORDINATOR_COMMANDS), ~coordinator)
    async def cmd_refused(message: Message, person: Person, lectures: LectureService) -> None:
        log.info("a coordinator command was refused to %s", person.pseudonym)
        await message.answer(t(lectures, person, "Sorry, this command is for coordinators only."))

    @router.callback_query(CoordinatorData.filter(), ~coordinator)
    async def on_refused(
        query: CallbackQuery, lectures: LectureService, person: Person | None = None
    ) -> None:
        log.info("a coordinator button was refused to %s", person.pseudonym if person else "?")
        lang = lectures.lang(person.language if person else None)
        await query.answer(
            lectures.t(lang, "Sorry, this command is for coordinators only."), show_alert=True
        )

    @router.message(Command("cancel"), coordinator)
    async def cmd_cancel(
        message: Message, state: FSMContext, person: Person, lectures: LectureService
    ) -> None:
        await state.clear()
        await message.answer(t(lectures, person, "Stopped; nothing was saved."))

    # --- /lecture_new --------------------------------------------------------------------------

    @router.message(Command("lecture_new"), coordinator)
    async def cmd_lecture_new(
        message: Message, state: FSMContext, person: Person, lectures: LectureService
    ) -> None:
        await state.clear()
        await state.set_state(LectureForm.title)
        await message.answer(
            t(lectures, person, "New lecture. Send the title (or /cancel to stop).")
        )

    async def field_step(
        message: Message,
        state: FSMContext,
        person: Person,
        lectures: LectureService,
        name: str,
        next_state: State,
        prompt: str,
        markup: InlineKeyboardMarkup | None = None,
        **values: Any,
    ) -> None:
        value = " ".join((message.text or "").split())
        raw = {name: value}
        if name == "place":
            raw = (
                {"link": value} if value.startswith(("http://", "https://")) else {"venue": value}
            )
        problem = field_problem(lectures, raw, person)
        if problem:
            await message.answer(
                t(lectures, person, "That does not look right: {problem}", problem=problem)
            )
            return
        await state.update_data(raw)
        await state.set_state(next_state)
        await message.answer(t(lectures, person, prompt, **values), reply_markup=markup)

    @router.message(InState(LectureForm.title), coordinator, typed)
    async def on_title(
        message: Message, state: FSMContext, person: Person, lectures: LectureService
    ) -> None:
        await field_step(
            message,
            state,
            person,
            lectures,
            "title",
            LectureForm.lecturer,
            "Who gives the lecture? Send the lecturer's name.",
        )

    @router.message(InState(LectureForm.lecturer), coordinator, typed)
    async def on_lecturer(
        message: Message, state: FSMContext, person: Person, lectures: LectureService
    ) -> None:
        await field_step(
            message, state, person, lectures, "lecturer", LectureForm.city, "Which city?"
        )

    @router.message(InState(LectureForm.city), coordinator, typed)
    async def on_city(
        message: Message, state: FSMContext, person: Person, lectures: LectureService
    ) -> None:
        await field_step(
            message,
            state,
            person,
            lectures,
            "city",
            LectureForm.place,
            "Where? Send the address, or an online link starting with https://",
        )

    @router.message(InState(LectureForm.place), coordinator, typed)
    async def on_place(
        message: Message, state: FSMContext, person: Person, lectures: LectureService
    ) -> None:
        languages = [_button(code, "lang", value=code) for code in lectures.settings.languages]
        await field_step(
            message,
            state,
            person,
            lectures,
            "place",
            LectureForm.language,
            "In which language?",
            _markup(languages),
        )

    @router.callback_query(InState(LectureForm.language), CoordinatorData.filter(), coordinator)
    async def on_language(
        query: CallbackQuery,
        callback_data: CoordinatorData,
        state: FSMContext,
        person: Person,
        lectures: LectureService,
        bot: Bot,
    ) -> None:
        await query.answer()
        if callback_data.op != "lang" or callback_data.value not in lectures.settings.languages:
            return
        await state.update_data(language=callback_data.value)
        await state.set_state(LectureForm.audience)
        rows = [
            [_button(t(lectures, person, AUDIENCE_LABELS[a]), "aud", value=a)] for a in AUDIENCES
        ]
        await bot.send_message(
            _chat_id(query),
            t(lectures, person, "For which audience?"),
            reply_markup=_markup(*rows),
        )

    @router.callback_query(InState(LectureForm.audience), CoordinatorData.filter(), coordinator)
    async def on_audience(
        query: CallbackQuery,
        callback_data: CoordinatorData,
        state: FSMContext,
        person: Person,
        lectures: LectureService,
        bot: Bot,
    ) -> None:
        await query.answer()
        if callback_data.op != "aud" or callback_data.value not in AUDIENCES:
            return
        await state.update_data(audience=callback_data.value)
        await state.set_state(LectureForm.start)
        await bot.send_message(
            _chat_id(query),
            t(
                lectures,
                person,
                "When does it start? Send the local date and time as YYYY-MM-DD HH:MM ({zone}).",
                zone=lectures.settings.timezone,
            ),
        )

    @router.message(InState(LectureForm.start), coordinator, typed)
    async def on_start(
        message: Message, state: FSMContext, person: Person, lectures: LectureService
    ) -> None:
        await field_step(
            message,
            state,
            person,
            lectures,
            "start",
            LectureForm.duration,
            "How long, in minutes? For example 90.",
        )

    @router.message(InState(LectureForm.duration), coordinator, typed)
    async def on_duration(
        message: Message, state: FSMContext, person: Person, lectures: LectureService
    ) -> None:
        value = (message.text or "").strip()
        problem = field_problem(lectures, {"duration": value}, person)
        if problem:
            await message.answer(
                t(lectures, person, "That does not look right: {problem}", problem=problem)
            )
            return
        await state.update_data(duration=value)
        data = await state.get_data()
        try:
            fields = lectures.validate(data)
        except LectureError as exc:
            await message.answer(
                t(
                    lectures,
                    person,
                    "That does not look right: {problem}",
                    problem=exc.translated(lambda m, **v: t(lectures, person, m, **v)),
                )
            )
            await state.clear()
            return
        await state.set_state(LectureForm.preview)
        lang = lectures.lang(person.language)
        preview = lectures.describe(draft(fields, lectures.clock()), lang, "html")
        await message.answer(
            t(lectures, person, "Please check the lecture:") + "\n\n" + preview,
            reply_markup=_markup(
                [
                    _button(t(lectures, person, "Save"), "save"),
                    _button(t(lectures, person, "Cancel"), "drop"),
                ]
            ),
        )

    @router.callback_query(InState(LectureForm.preview), CoordinatorData.filter(), coordinator)
    async def on_preview(
        query: CallbackQuery,
        callback_data: CoordinatorData,
        state: FSMContext,
        person: Person,
        lectures: LectureService,
        bot: Bot,
    ) -> None:
        await query.answer()
        data = await state.get_data()
        await state.clear()
        chat_id = _chat_id(query)
        if callback_data.op != "save":
            await bot.send_message(chat_id, t(lectures, person, "Stopped; nothing was saved."))
            return
        try:
            lecture = await lectures.create(lectures.validate(data))
        except LectureError as exc:  # the time may have passed while the preview was shown
            await bot.send_message(
                chat_id,
                t(
                    lectures,
                    person,
                    "That does not look right: {problem}",
                    problem=exc.translated(lambda m, **v: t(lectures, person, m, **v)),
                ),
            )
            return
        offsets = ", ".join(f"{h:g}" for h in lectures.settings.lectures.reminder_offsets_hours)
        lang = lectures.lang(person.language)
        await bot.send_message(
            chat_id,
            t(
                lectures,
                person,
                "Saved. Reminders go out {offsets} hours before it starts.",
                offsets=offsets,
            )
            + "\n\n"
            + lectures.describe(lecture, lang, "html"),
        )

    # --- /lectures with edit and cancel --------------------------------------------------------

    @router.message(Command("lectures"), coordinator)
    async def cmd_lectures(
        message: Message, state: FSMContext, person: Person, lectures: LectureService
    ) -> None:
        await state.clear()
        lang = lectures.lang(person.language)
        upcoming = await lectures.upcoming(limit=20)
        if not upcoming:
            await message.answer(
                t(lectures, person, "No lectures are planned yet. Add one with /lecture_new.")
            )
            return
        blocks, rows = [], []
        for number, lecture in enumerate(upcoming, start=1):
            count = await lectures.repo.attendee_count(lecture.id)
            blocks.append(
                f"{number}. "
                + lectures.describe(lecture, lang, "html")
                + "\n"
                + t(lectures, person, "signed up: {count}", count=count)
            )
            rows.append(
                [
                    _button(f"✎ {number}. {t(lectures, person, 'Edit')}", "edit", lecture.id),
                    _button(
                        f"✕ {number}. {t(lectures, person, 'Cancel lecture')}",
                        "cancel",
                        lecture.id,
                    ),
                ]
            )
        await message.answer(
            t(lectures, person, "Upcoming lectures:") + "\n\n" + "\n\n".join(blocks),
            reply_markup=_markup(*rows),
        )

    @router.callback_query(CoordinatorData.filter(), coordinator)
    async def on_coordinator_button(
        query: CallbackQuery,
        callback_data: CoordinatorData,
        state: FSMContext,
        person: Person,
        lectures: LectureService,
        broadcasts: BroadcastService,
        progress: ProgressTracker,
        bot: Bot,
    ) -> None:
        """Buttons outside the guided dialogues: edit, cancel, announcement steps."""
        op, ref, value = callback_data.op, callback_data.ref, callback_data.value
        chat_id = _chat_id(query)
        if op.startswith("ann"):
            await on_announce_button(
                query, op, ref, value, state, person, lectures, broadcasts, progress, bot
            )
            return
        lecture = await lectures.get(ref) if ref else None
        if lecture is None or op not in ("edit", "field", "cancel", "cancel_yes", "cancel_no"):
            await query.answer(
                t(lectures, person, "This lecture is no longer available."), show_alert=True
            )
            return
        await query.answer()
        if op == "edit":
            rows = [
                [_button(t(lectures, person, label), "field", lecture.id, name)]
                for name, label in EDITABLE.items()
            ]
            await bot.send_message(
                chat_id,
                t(lectures, person, "Which field do you want to change?"),
                reply_markup=_markup(*rows),
            )
        elif op == "field" and value in EDITABLE:
            await state.set_state(EditForm.value)
            await state.update_data(lecture_id=lecture.id, field=value)
            await bot.send_message(chat_id, t(lectures, person, "Send the new value."))
        elif op == "cancel":
            count = await lectures.repo.attendee_count(lecture.id)
            await bot.send_message(
                chat_id,
                t(
                    lectures,
                    person,
                    "Cancel this lecture? Everyone signed up ({count}) will be told.",
                    count=count,
                )
                + "\n\n"
                + lectures.describe(lecture, lectures.lang(person.language), "html"),
                reply_markup=_markup(
                    [
                        _button(t(lectures, person, "Yes, cancel it"), "cancel_yes", lecture.id),
                        _button(t(lectures, person, "No, keep it"), "cancel_no", lecture.id),
                    ]
                ),
            )
        elif op == "cancel_yes":
            await lectures.cancel(lecture.id)
            await bot.send_message(
                chat_id, t(lectures, person, "Cancelled; the people signed up are being told.")
            )
        elif op == "cancel_no":
            await bot.send_message(chat_id, t(lectures, person, "Stopped; nothing was saved."))

    @router.message(InState(EditForm.value), coordinator, typed)
    async def on_edit_value(
        message: Message, state: FSMContext, person: Person, lectures: LectureService
    ) -> None:
        data = await state.get_data()
        lecture = await lectures.get(int(data.get("lecture_id", 0)))
        if lecture is None or not lecture.active:
            await state.clear()
            await message.answer(t(lectures, person, "This lecture is no longer available."))
            return
        raw = raw_fields(lecture, lectures)
        value = " ".join((message.text or "").split())
        name = str(data.get("field"))
        if name == "place":
            if value.startswith(("http://", "https://")):
                raw["link"] = value
            else:
                raw["venue"] = value
        else:
            raw[name] = value
        try:
            fields = lectures.validate(raw)
        except LectureError as exc:
            await message.answer(
                t(
                    lectures,
                    person,
                    "That does not look right: {problem}",
                    problem=exc.translated(lambda m, **v: t(lectures, person, m, **v)),
                )
            )
            return
        await state.clear()
        updated = await lectures.update(lecture.id, fields)
        await message.answer(
            t(lectures, person, "Changed.")
            + "\n\n"
            + lectures.describe(updated, lectures.lang(person.language), "html")
        )

    # --- /live_plan ----------------------------------------------------------------------------

    @router.message(Command("live_plan"), coordinator)
    async def cmd_live_plan(
        message: Message,
        state: FSMContext,
        person: Person,
        lectures: LectureService,
        broadcasts: BroadcastService,
    ) -> None:
        await state.set_state(PlanForm.lines)
        await message.answer(await plan_text(lectures, broadcasts, person))

    @router.message(InState(PlanForm.lines), coordinator, typed)
    async def on_plan_lines(
        message: Message,
        state: FSMContext,
        person: Person,
        lectures: LectureService,
        broadcasts: BroadcastService,
    ) -> None:
        today = broadcasts.today()
        entries: list[LivePlan | Any] = []
        problems = []
        for number, line in enumerate((message.text or "").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                entries.append(parse_plan_line(line, today))
            except ValueError as exc:
                problems.append(
                    t(
                        lectures,
                        person,
                        "Line {line}: {problem}",
                        line=number,
                        problem=t(lectures, person, str(exc)),  # each problem is a msgid
                    )
                )
        if problems or not entries:
            await message.answer(
                "\n".join(escape(p) for p in problems)
                or t(lectures, person, "Stopped; nothing was saved.")
            )
            return
        for entry in entries:
            if isinstance(entry, LivePlan):
                await broadcasts.set_plan(entry)
            else:
                await broadcasts.remove_plan(entry)
        await state.clear()
        await message.answer(
            t(lectures, person, "Saved: {count} day(s).", count=len(entries))
            + "\n\n"
            + await plan_text(lectures, broadcasts, person)
        )

    # --- /announce -----------------------------------------------------------------------------

    @router.message(Command("announce"), coordinator)
    async def cmd_announce(
        message: Message, state: FSMContext, person: Person, lectures: LectureService
    ) -> None:
        await state.clear()
        await state.set_state(AnnounceForm.compose)
        await message.answer(
            t(
                lectures,
                person,
                "Send the announcement: text, or a photo with a caption (or /cancel to stop).",
            )
        )

    @router.message(InState(AnnounceForm.compose), coordinator, typed)
    async def on_compose(
        message: Message,
        state: FSMContext,
        person: Person,
        lectures: LectureService,
        broadcasts: BroadcastService,
    ) -> None:
        media: list[str] | None = None
        if message.photo:
            if len(message.caption or "") > CAPTION_LIMIT:
                await message.answer(
                    t(lectures, person, "A photo's caption can have at most 1,024 characters.")
                )
                return
            media = ["photo", message.photo[-1].file_id]
        elif not message.text:
            await message.answer(
                t(lectures, person, "Please send text, or a photo with a caption.")
            )
            return
        await state.update_data(text=message.html_text, media=media)
        await state.set_state(AnnounceForm.audience)
        everyone = await broadcasts.audience_size("everyone")
        live = await broadcasts.audience_size("live")
        await message.answer(
            t(lectures, person, "Who should get it?"),
            reply_markup=_markup(
                [
                    _button(
                        t(lectures, person, "Everyone ({count})", count=everyone),
                        "ann_to",
                        value="everyone",
                    )
                ],
                [
                    _button(
                        t(lectures, person, "Live subscribers ({count})", count=live),
                        "ann_to",
                        value="live",
                    )
                ],
                [_button(t(lectures, person, "A city"), "ann_cities")],
                [_button(t(lectures, person, "A language"), "ann_langs")],
            ),
        )

    async def on_announce_button(
        query: CallbackQuery,
        op: str,
        ref: int,
        value: str,
        state: FSMContext,
        person: Person,
        lectures: LectureService,
        broadcasts: BroadcastService,
        progress: ProgressTracker,
        bot: Bot,
    ) -> None:
        chat_id = _chat_id(query)
        current = await state.get_state()
        data = await state.get_data()
        if "text" not in data or current not in (
            AnnounceForm.audience.state,
            AnnounceForm.preview.state,
        ):
            await query.answer(
                t(lectures, person, "That option is no longer available. Here is the menu."),
                show_alert=True,
            )
            return
        await query.answer()
        if op == "ann_cities":
            cities = await lectures.repo.all_cities()
            cities = cities[:30]
            await state.update_data(cities=cities)  # the button carries the index (64 bytes)
            rows = [[_button(city, "ann_to", i, "city")] for i, city in enumerate(cities)]
            await bot.send_message(
                chat_id, t(lectures, person, "Which city?"), reply_markup=_markup(*rows)
            )
        elif op == "ann_langs":
            rows = [
                [_button(code, "ann_to", value=f"language={code}")]
                for code in lectures.settings.languages
            ]
            await bot.send_message(
                chat_id, t(lectures, person, "Which language?"), reply_markup=_markup(*rows)
            )
        elif op == "ann_to":
            kind, _sep, arg = value.partition("=")
            if kind == "city":
                cities = data.get("cities") or []
                if not 0 <= ref < len(cities):
                    return
                arg = cities[ref]
            if kind not in ("everyone", "live", "city", "language"):
                return
            count = await broadcasts.audience_size(kind, arg)
            if not count:
                await bot.send_message(
                    chat_id,
                    t(lectures, person, "Nobody is in that audience yet; nothing was sent."),
                )
                return
            await state.update_data(audience=kind, value=arg)
            await state.set_state(AnnounceForm.preview)
            media = data.get("media")
            if media:
                await bot.send_photo(chat_id, media[1], caption=data["text"] or None)
            else:
                await bot.send_message(chat_id, data["text"])
            await bot.send_message(
                chat_id,
                t(lectures, person, "This will go to {count} people. Send it?", count=count),
                reply_markup=_markup(
                    [
                        _button(t(lectures, person, "Send"), "ann_send"),
                        _button(t(lectures, person, "Cancel"), "ann_drop"),
                    ]
                ),
            )
        elif op == "ann_drop":
            await state.clear()
            await bot.send_message(chat_id, t(lectures, person, "Stopped; nothing was saved."))
        elif op == "ann_send" and current == AnnounceForm.preview.state:
            await state.clear()
            media = data.get("media")
            broadcast = await broadcasts.create(
                data["text"],
                data["audience"],
                data.get("value", ""),
                str(query.from_user.id),
                (media[0], media[1]) if media else None,
            )
            lang = lectures.lang(person.language)
            shown = await bot.send_message(
                chat_id, broadcasts.progress_text(await broadcasts.progress(broadcast.id), lang)
            )
            await broadcasts.remember_progress_message(
                broadcast.id, str(chat_id), shown.message_id
            )
            progress.watch(bot, broadcast.id, chat_id, shown.message_id, lang)

    return router


def field_problem(
    lectures: LectureService, raw: dict[str, str], person: Person | None = None
) -> str | None:
    """The problem with one field of a lecture, checked against plausible other fields."""
    sample = {
        "title": "x",
        "lecturer": "x",
        "city": "x",
        "venue": "x",
        "language": lectures.settings.default_language,
        "start": "2999-01-01 10:00",
        "duration": "90",
        **raw,
    }
    try:
        lectures.validate(sample)
    except LectureError as exc:
        if person is None:
            return "; ".join(exc.problems)
        lang = lectures.lang(person.language)
        return exc.translated(lambda m, **v: lectures.t(lang, m, **v))
    return None


def draft(fields: dict[str, Any], now: datetime) -> Lecture:
    """An unsaved lecture, for the preview."""
    return Lecture(
        id=0,
        uid="",
        title=fields["title"],
        topic_id=fields.get("topic_id"),
        lecturer=fields["lecturer"],
        venue=fields.get("venue", ""),
        link=fields.get("link", ""),
        city=fields["city"],
        audience=fields["audience"],
        language=fields["language"],
        starts_at=fields["starts_at"],
        duration_min=fields["duration_min"],
        status="scheduled",
        sequence=0,
        updated_at=now,
    )


def raw_fields(lecture: Lecture, lectures: LectureService) -> dict[str, str]:
    """A saved lecture as the text fields a coordinator would type."""
    return {
        "title": lecture.title,
        "topic_id": lecture.topic_id or "",
        "lecturer": lecture.lecturer,
        "venue": lecture.venue,
        "link": lecture.link,
        "city": lecture.city,
        "audience": lecture.audience,
        "language": lecture.language,
        "start": lectures.local(lecture.starts_at).strftime("%Y-%m-%d %H:%M"),
        "duration": str(lecture.duration_min),
    }


async def plan_text(lectures: LectureService, broadcasts: BroadcastService, person: Person) -> str:
    """The next 14 days of the live plan, and how to change it."""
    lang = lectures.lang(person.language)
    today = broadcasts.today()
    plans = {p.day: p for p in await broadcasts.plan(today)}
    lines = [lectures.t(lang, "Live plan for the next 14 days:")]
    for offset in range(14):
        day = today + timedelta(days=offset)
        plan = plans.get(day)
        if plan is None:
            lines.append(f"{day.isoformat()} — {lectures.t(lang, 'nothing planned')}")
        else:
            link = f" | {escape(plan.link)}" if plan.link else ""
            lines.append(
                f"{day.isoformat()} {plan.time} | {escape(plan.title)} | {escape(plan.host)}{link}"
            )
    lines.append("")
    lines.append(
        lectures.t(
            lang,
            "To plan a day, send one line per day: YYYY-MM-DD HH:MM | title | host | link "
            "(the link may be left out). To clear a day: YYYY-MM-DD -",
        )
    )
    return "\n".join(lines)
