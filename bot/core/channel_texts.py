"""UI strings of the channels beyond the conversation: coordinators' alerts, the story card."""

from __future__ import annotations

# Kept as literals so that `pybabel extract` and `content check` find them.
N_ = str

INSTAGRAM_PAUSED = N_(
    "Instagram pushed back ({reason}): the Instagram channel is paused for {minutes} minutes. "
    "Telegram keeps working."
)
INSTAGRAM_LOGIN = N_(
    "Instagram needs a new login: run `python -m bot instagram login` on the server. The "
    "Instagram channel is paused for {minutes} minutes; Telegram keeps working."
)
INSTAGRAM_RESUMED = N_("Instagram works again: the Instagram channel has resumed.")
STORY_LIVE_TODAY = N_("Live today")
STORY_HOST = N_("With {host}")


def _messages() -> tuple[str, ...]:
    return (INSTAGRAM_PAUSED, INSTAGRAM_LOGIN, INSTAGRAM_RESUMED, STORY_LIVE_TODAY, STORY_HOST)
