"""The hook through which the daily live announcement also becomes a story on a channel.

`BroadcastService.announce_live` keeps the channels' `StoryPoster`s in `story_posters` (the
runner attaches Instagram's) and, right after it has queued the Telegram announcement (outside
any transaction), awaits `post_story(plan)` on each. A poster posts a day's story at most once;
a failure is logged and never stops the announcement.
"""

from __future__ import annotations

from datetime import date
from typing import Protocol


class PlanEntry(Protocol):
    """The day's live plan as a story needs it (bot.storage.lectures.LivePlan fits)."""

    @property
    def day(self) -> date: ...

    @property
    def time(self) -> str: ...

    @property
    def title(self) -> str: ...

    @property
    def host(self) -> str: ...


class StoryPoster(Protocol):
    """A channel that can post the day's live plan as a story."""

    async def post_story(self, entry: PlanEntry) -> str | None:
        """The story's id, or None when nothing was posted (off, paused, refused, done)."""
        ...
