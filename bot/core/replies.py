"""Channel-neutral replies: text for one format plus actions that channels show as buttons."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Action:
    """A button: what it does (kind, value) and what it says (label)."""

    kind: str
    value: str
    label: str


@dataclass(frozen=True, slots=True)
class Reply:
    """What the bot says back: text rendered for the channel's format, then the actions."""

    text: str
    actions: tuple[Action, ...] = field(default=())
    crisis: bool = False


def numbered(reply: Reply) -> str:
    """Plain-text rendering of a reply's actions as a numbered list (Instagram, console)."""
    if not reply.actions:
        return reply.text
    lines = [f"{number}. {action.label}" for number, action in enumerate(reply.actions, start=1)]
    return reply.text + "\n\n" + "\n".join(lines)


def pick(text: str, actions: tuple[Action, ...]) -> Action | None:
    """The action a person chose by answering with its number, if that is what they did."""
    stripped = text.strip().rstrip(".)")
    if not stripped.isdigit() or len(stripped) > 3:
        return None
    index = int(stripped)
    if 1 <= index <= len(actions):
        return actions[index - 1]
    return None


def split_message(text: str, limit: int = 4096) -> list[str]:
    """Split a long text at paragraph boundaries (then lines, then hard) into parts under limit."""
    if len(text) <= limit:
        return [text]
    parts: list[str] = []
    current = ""
    for paragraph in text.split("\n\n"):
        pieces = [paragraph]
        if len(paragraph) > limit:
            pieces = [paragraph[i : i + limit] for i in range(0, len(paragraph), limit)]
        for piece in pieces:
            candidate = f"{current}\n\n{piece}" if current else piece
            if len(candidate) <= limit:
                current = candidate
            else:
                if current:
                    parts.append(current)
                current = piece
    if current:
        parts.append(current)
    return parts
