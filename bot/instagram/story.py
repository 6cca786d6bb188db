"""The daily live broadcast's story card (Pillow, 1080x1920 JPEG) and its upload.

Where it is called: `BroadcastService.announce_live` (the daily announcement job) awaits
`InstagramChannel.post_story`, a `bot.core.stories.StoryPoster` that the runner attaches to
`app.broadcasts.story_posters`, with the day's live plan right after it has queued the Telegram
announcement. The plan needs only `day`, `time`, `title` and `host`.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from bot.config import Settings
from bot.content import Catalogs
from bot.core.channel_texts import STORY_HOST, STORY_LIVE_TODAY
from bot.core.stories import PlanEntry
from bot.instagram.client import DirectApi

log = logging.getLogger(__name__)

SIZE = (1080, 1920)
MARGIN = 90
FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/local/share/fonts"),
)

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


def _font(size: int, bold: bool = False) -> Font:
    """DejaVu (Kazakh and Russian letters) when installed, else Pillow's own font."""
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    for folder in FONT_DIRS:
        if (folder / name).exists():
            return ImageFont.truetype(str(folder / name), size)
    return ImageFont.load_default(size=size)


def _wrap(draw: ImageDraw.ImageDraw, text: str, font: Font, width: int) -> list[str]:
    """Words into lines no wider than width pixels."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for word in paragraph.split():
            candidate = f"{line} {word}".strip()
            if draw.textlength(candidate, font=font) <= width or not line:
                line = candidate
            else:
                lines.append(line)
                line = word
        lines.append(line)
    return lines


def _say(catalogs: Catalogs | None, lang: str, message: str, **values: Any) -> str:
    if catalogs is None:
        return message.format(**values)
    return catalogs.gettext(lang, message, **values)


def render_card(
    entry: PlanEntry, settings: Settings, path: Path, catalogs: Catalogs | None = None
) -> Path:
    """Draw the announcement card for the day's plan into a JPEG at path (labels in the
    default language when the catalogs are given, else in English)."""
    colours = settings.organisation.colours
    lang = settings.default_language
    image = Image.new("RGB", SIZE, colours.background)
    draw = ImageDraw.Draw(image)
    width = SIZE[0] - 2 * MARGIN
    # Decoration in the accent colour: a band at the top and bottom, two circles.
    draw.rectangle((0, 0, SIZE[0], 28), fill=colours.accent)
    draw.rectangle((0, SIZE[1] - 28, SIZE[0], SIZE[1]), fill=colours.accent)
    draw.ellipse((SIZE[0] - 360, -180, SIZE[0] + 180, 360), outline=colours.accent, width=18)
    draw.ellipse((-220, SIZE[1] - 520, 300, SIZE[1] + 0), outline=colours.accent, width=12)

    y = 200
    org = _font(60, bold=True)
    draw.text((MARGIN, y), settings.organisation.name, font=org, fill=colours.text)
    y += 170

    badge = _font(54, bold=True)
    label = _say(catalogs, lang, STORY_LIVE_TODAY).upper()
    pad = 28
    box = draw.textbbox((MARGIN + pad, y + pad), label, font=badge)
    draw.rounded_rectangle((MARGIN, y, box[2] + pad, box[3] + pad), radius=24, fill=colours.accent)
    draw.text((MARGIN + pad, y + pad), label, font=badge, fill=colours.background)
    y = int(box[3]) + pad + 90

    when = _font(150, bold=True)
    draw.text((MARGIN, y), entry.time, font=when, fill=colours.accent)
    y += 190
    draw.text((MARGIN, y), entry.day.strftime("%d.%m.%Y"), font=_font(56), fill=colours.text)
    y += 150

    title = _font(84, bold=True)
    for line in _wrap(draw, entry.title, title, width)[:6]:
        draw.text((MARGIN, y), line, font=title, fill=colours.text)
        y += 104
    y += 60
    host = _font(58)
    text = _say(catalogs, lang, STORY_HOST, host=entry.host)
    for line in _wrap(draw, text, host, width)[:3]:
        draw.text((MARGIN, y), line, font=host, fill=colours.accent)
        y += 74

    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, "JPEG", quality=90)
    return path


async def post_story(
    client: DirectApi,
    entry: PlanEntry,
    settings: Settings,
    catalogs: Catalogs | None = None,
    workdir: Path | None = None,
) -> str:
    """Render the day's card and upload it as a story; returns the story's id."""
    with tempfile.TemporaryDirectory(dir=workdir) as folder:
        path = Path(folder) / f"live-{entry.day.isoformat()}.jpg"
        await asyncio.to_thread(render_card, entry, settings, path, catalogs)
        story_id = await client.upload_story(path)
    log.info("the live broadcast of %s is posted as an Instagram story", entry.day)
    return story_id
