"""Announcements to an audience, their progress, and the daily live-broadcast announcement."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from bot.config import Settings
from bot.content import ContentPack, Format, RenderError
from bot.core.lectures import SENDING_CHANNELS
from bot.core.replies import Action
from bot.core.stories import StoryPoster
from bot.outbox import Media, Outbox, OutgoingMessage
from bot.storage import Database
from bot.storage.lectures import (
    Broadcast,
    BroadcastRepository,
    LivePlan,
    LivePlanRepository,
    SubscriptionRepository,
)

log = logging.getLogger(__name__)

N_ = str
AUDIENCE_KINDS = ("everyone", "live", "city", "language")
PLAN_DAYS = 14


def _messages() -> tuple[str, ...]:
    return (
        N_("Sending: {sent} of {total}, {unreachable} unreachable."),
        N_("Done: sent {sent} of {total}, {unreachable} unreachable, {failed} failed."),
        N_("No live broadcast is planned for tomorrow ({day}). Plan it with /live_plan."),
        N_("Unsubscribe from the daily announcement"),
    )


BROADCAST_MESSAGES = _messages()


def number(value: int, lang: str) -> str:
    """1,200 in English; 1 200 in Kazakh and Russian."""
    grouped = f"{value:,}"
    return grouped if lang == "en" else grouped.replace(",", "\u00a0")


@dataclass(frozen=True, slots=True)
class Progress:
    """How far an announcement has gone."""

    total: int
    sent: int
    unreachable: int
    failed: int

    @property
    def finished(self) -> bool:
        return self.sent + self.unreachable + self.failed >= self.total


def parse_time(value: str) -> time:
    hours, _sep, minutes = value.partition(":")
    return time(int(hours), int(minutes))


class BroadcastService:
    """Coordinators' announcements and the live plan; messages leave through the outbox."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        content: ContentPack,
        outbox: Outbox,
        clock: Callable[[], datetime],
    ) -> None:
        self.settings = settings
        self.db = db
        self.content = content
        self.outbox = outbox
        self.clock = clock
        # Channels that also post the day's plan as a story (Instagram), attached at start-up.
        self.story_posters: list[StoryPoster] = []

    def t(self, lang: str, message: str, **values: Any) -> str:
        return self.content.catalogs.gettext(lang, message, **values)

    def lang(self, language: str | None) -> str:
        if language in self.settings.languages:
            return str(language)
        return self.settings.default_language

    def today(self) -> date:
        return self.clock().astimezone(self.settings.tz).date()

    # --- announcements ---------------------------------------------------------------------------

    async def audience_size(self, kind: str, value: str = "") -> int:
        found = await SubscriptionRepository(self.db.connection).audience(
            kind, value, SENDING_CHANNELS
        )
        return len(found)

    async def create(
        self,
        text: str,
        kind: str,
        value: str,
        created_by: str,
        media: tuple[str, str] | None = None,
    ) -> Broadcast:
        """Write the announcement and queue one message per recipient (announce:<id>:<person>)."""
        if kind not in AUDIENCE_KINDS:
            raise ValueError(f"unknown audience {kind!r}")
        now = self.clock()
        async with self.db.transaction() as conn:
            broadcast_id = await BroadcastRepository(conn).add(
                text, media, kind, value, created_by, now
            )
        recipients = await SubscriptionRepository(self.db.connection).audience(
            kind, value, SENDING_CHANNELS
        )
        messages = [
            OutgoingMessage(
                key=f"announce:{broadcast_id}:{r.person_id}",
                channel=r.channel,
                chat_id=r.platform_id,
                text=text,
                person_id=r.person_id,
                media=Media(kind=media[0], ref=media[1]) if media else None,
            )
            for r in recipients
        ]
        async with self.db.transaction() as conn:
            await BroadcastRepository(conn).set_total(broadcast_id, len(messages))
        if messages:
            await self.outbox.enqueue(messages)
        log.info("announcement %s queued for %d people (%s)", broadcast_id, len(messages), kind)
        broadcast = await BroadcastRepository(self.db.connection).get(broadcast_id)
        assert broadcast is not None
        return broadcast

    async def get(self, broadcast_id: int) -> Broadcast | None:
        return await BroadcastRepository(self.db.connection).get(broadcast_id)

    async def unfinished(self) -> list[Broadcast]:
        return await BroadcastRepository(self.db.connection).sending()

    async def remember_progress_message(self, broadcast_id: int, chat: str, message: int) -> None:
        async with self.db.transaction() as conn:
            await BroadcastRepository(conn).set_progress_message(broadcast_id, chat, message)

    async def progress(self, broadcast_id: int) -> Progress:
        broadcast = await self.get(broadcast_id)
        counts = await BroadcastRepository(self.db.connection).delivery(broadcast_id)
        return Progress(
            total=broadcast.total if broadcast else 0,
            sent=counts.get("sent", 0),
            unreachable=counts.get("unreachable", 0),
            failed=counts.get("failed", 0),
        )

    async def finish(self, broadcast_id: int) -> None:
        async with self.db.transaction() as conn:
            await BroadcastRepository(conn).finish(broadcast_id, self.clock())

    def progress_text(self, progress: Progress, lang: str) -> str:
        values = {
            "sent": number(progress.sent, lang),
            "total": number(progress.total, lang),
            "unreachable": number(progress.unreachable, lang),
            "failed": number(progress.failed, lang),
        }
        if progress.finished:
            return self.t(
                lang,
                "Done: sent {sent} of {total}, {unreachable} unreachable, {failed} failed.",
                **values,
            )
        return self.t(lang, "Sending: {sent} of {total}, {unreachable} unreachable.", **values)

    # --- the live plan ---------------------------------------------------------------------------

    async def plan(self, first: date | None = None, days: int = PLAN_DAYS) -> list[LivePlan]:
        start = first or self.today()
        return await LivePlanRepository(self.db.connection).between(
            start, start + timedelta(days=days - 1)
        )

    async def plan_for(self, day: date) -> LivePlan | None:
        return await LivePlanRepository(self.db.connection).get(day)

    async def set_plan(self, plan: LivePlan) -> None:
        async with self.db.transaction() as conn:
            await LivePlanRepository(conn).set(plan, self.clock())

    async def remove_plan(self, day: date) -> bool:
        async with self.db.transaction() as conn:
            return await LivePlanRepository(conn).remove(day)

    def announce_at(self, day: date) -> datetime:
        """When the announcement of a local day goes out (aware, in the deployment's zone)."""
        return datetime.combine(
            day, parse_time(self.settings.live.announce_time), self.settings.tz
        )

    def render_live(self, plan: LivePlan, lang: str, fmt: Format) -> str:
        context = {
            "lang": lang,
            "org": self.settings.organisation.name,
            "live": {
                "title": plan.title,
                "host": plan.host,
                "time": plan.time,
                "link": plan.link,
                "date": plan.day.strftime("%d.%m.%Y"),
            },
        }
        try:
            return self.content.render_template("live_announcement", lang, fmt, context)
        except RenderError:
            log.exception("the live announcement template (%s) does not render", lang)
            return f"{plan.title} — {plan.host}, {plan.time}"

    async def announce_live(self, day: date) -> int:
        """Queue the day's announcement to the channel and every subscriber; 0 with no plan."""
        plan = await self.plan_for(day)
        if plan is None:
            log.warning("no live plan for %s: nothing announced", day)
            return 0
        messages: list[OutgoingMessage] = []
        channel_id = self.settings.live.channel_id
        if channel_id is not None:
            messages.append(
                OutgoingMessage(
                    key=f"live:{day.isoformat()}:channel",
                    channel="telegram",
                    chat_id=str(channel_id),
                    text=self.render_live(plan, self.settings.default_language, "html"),
                )
            )
        recipients = await SubscriptionRepository(self.db.connection).audience(
            "live", "", SENDING_CHANNELS
        )
        texts: dict[tuple[str, Format], str] = {}
        for r in recipients:
            lang = self.lang(r.language)
            fmt: Format = "html" if r.channel == "telegram" else "plain"
            if (lang, fmt) not in texts:
                texts[(lang, fmt)] = self.render_live(plan, lang, fmt)
            messages.append(
                OutgoingMessage(
                    key=f"live:{day.isoformat()}:{r.person_id}",
                    channel=r.channel,
                    chat_id=r.platform_id,
                    text=texts[(lang, fmt)],
                    actions=(
                        Action(
                            "live",
                            "unsub",
                            self.t(lang, "Unsubscribe from the daily announcement"),
                        ),
                    ),
                    person_id=r.person_id,
                )
            )
        added = await self.outbox.enqueue(messages) if messages else 0
        log.info("live announcement for %s: %d message(s) queued", day, added)
        for poster in self.story_posters:  # each posts a day's story at most once
            try:
                await poster.post_story(plan)
            except Exception:  # a story must never stop the announcement
                log.exception("the live story was not posted")
        return added

    async def announced(self, day: date) -> bool:
        """Whether the day's live announcement was queued (to anyone)."""
        repo = BroadcastRepository(self.db.connection)
        return await repo.keys_with_prefix(f"live:{day.isoformat()}:") > 0

    async def check_plan(self, day: date) -> int:
        """Alert the coordinators when a day has no live plan; returns how many were alerted."""
        if await self.plan_for(day) is not None:
            return 0
        lang = self.settings.default_language
        text = self.t(
            lang,
            "No live broadcast is planned for tomorrow ({day}). Plan it with /live_plan.",
            day=day.strftime("%d.%m.%Y"),
        )
        messages = [
            OutgoingMessage(
                key=f"liveplan-missing:{day.isoformat()}:{coordinator}",
                channel="telegram",
                chat_id=str(coordinator),
                text=text,
            )
            for coordinator in self.settings.coordinators
        ]
        log.warning("no live plan for %s: %d coordinator(s) alerted", day, len(messages))
        return await self.outbox.enqueue(messages) if messages else 0
