"""Crisis detection: phrase and pattern lists from content/safety, run before the matcher."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.content import CRISIS_CATEGORIES, CrisisRules
from bot.core.text import normalise

# The order in which categories are reported when a message hits several.
_PRIORITY = ("harm_others", "self_harm", "life_threat")


@dataclass(frozen=True, slots=True)
class CrisisHit:
    """Which kind of crisis a message shows, and in which language's list it was found."""

    category: str
    language: str


class CrisisDetector:
    """Checks a message against every language's lists: people mix languages in one message."""

    def __init__(self, rules: Mapping[str, Mapping[str, CrisisRules]]) -> None:
        self._rules = rules

    @property
    def configured(self) -> bool:
        return any(self._rules.values())

    def detect(self, text: str, language: str | None = None) -> CrisisHit | None:
        norm = normalise(text)
        if not norm:
            return None
        order = sorted(self._rules, key=lambda lang: lang != language)
        for category in _PRIORITY:
            for lang in order:
                rules = self._rules[lang].get(category)
                if rules is None:
                    continue
                hit = any(p.search(norm) for p in rules.phrases) or any(
                    p.search(norm) for p in rules.patterns
                )
                if hit and not any(p.search(norm) for p in rules.exclude):
                    return CrisisHit(category, lang)
        return None


assert set(_PRIORITY) == set(CRISIS_CATEGORIES)
