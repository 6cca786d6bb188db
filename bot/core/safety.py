"""Crisis detection: phrase and pattern lists from content/safety, run before the matcher."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from bot.content import CRISIS_CATEGORIES, CrisisRules, PhraseWords
from bot.core.features import NgramFeatures
from bot.core.text import normalise

# The order in which categories are reported when a message hits several.
_PRIORITY = ("harm_others", "self_harm", "life_threat")


@dataclass(frozen=True, slots=True)
class CrisisHit:
    """Which kind of crisis a message shows, and in which language's list it was found."""

    category: str
    language: str


class PhraseIndex:
    """Finds any of many word phrases in a token list in one pass (regex alternation of hundreds
    of literals tries each at every position; this looks up each token once)."""

    def __init__(self, phrases: tuple[PhraseWords, ...]) -> None:
        self._exact: dict[str, list[PhraseWords]] = {}
        self._prefix: list[tuple[str, PhraseWords]] = []
        for phrase in phrases:
            first, is_prefix = phrase[0]
            if is_prefix:
                self._prefix.append((first, phrase))
            else:
                self._exact.setdefault(first, []).append(phrase)

    def __bool__(self) -> bool:
        return bool(self._exact or self._prefix)

    @staticmethod
    def _matches(phrase: PhraseWords, tokens: list[str], start: int) -> bool:
        if start + len(phrase) > len(tokens):
            return False
        for offset, (word, is_prefix) in enumerate(phrase):
            token = tokens[start + offset]
            if token != word and not (is_prefix and token.startswith(word)):
                return False
        return True

    def search(self, tokens: list[str]) -> bool:
        for start, token in enumerate(tokens):
            for phrase in self._exact.get(token, ()):
                if self._matches(phrase, tokens, start):
                    return True
            for prefix, phrase in self._prefix:
                if token.startswith(prefix) and self._matches(phrase, tokens, start):
                    return True
        return False


def _join(patterns: tuple[re.Pattern[str], ...]) -> re.Pattern[str] | None:
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{p.pattern})" for p in patterns), re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class _Compiled:
    phrases: PhraseIndex
    patterns: re.Pattern[str] | None
    exclude: re.Pattern[str] | None


class CrisisClassifier:
    """The probability that a message is a crisis, learned from example messages.

    The phrase lists catch what they name; this catches the open-ended rest (a rope bought, a
    roof, "tomorrow I won't be here") that no list foresees. Trained on content/safety's crisis
    examples against their look-alikes and every topic and out-of-scope example.
    """

    def __init__(self, crisis: Iterable[str], not_crisis: Iterable[str]) -> None:
        positives = [normalise(t) for t in crisis]
        negatives = [normalise(t) for t in not_crisis]
        documents = positives + negatives
        self._features = NgramFeatures(documents)
        labels = np.array([1] * len(positives) + [0] * len(negatives))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model = LogisticRegression(
                C=20.0,
                solver="saga",
                max_iter=300,
                tol=1e-3,
                class_weight="balanced",
                random_state=0,
            )
            model.fit(self._features.matrix(documents), labels)
        self._coef = np.asarray(model.coef_[0], dtype=np.float64)
        self._intercept = float(model.intercept_[0])

    def probability(self, norm: str) -> float:
        idx, values = self._features.vector(norm)
        if idx.size == 0:
            return 0.0
        logit = float(self._coef[idx] @ values) + self._intercept
        return float(1.0 / (1.0 + np.exp(-logit)))


class CrisisDetector:
    """Checks a message against every language's lists: people mix languages in one message."""

    def __init__(
        self,
        rules: Mapping[str, Mapping[str, CrisisRules]],
        classifier: CrisisClassifier | None = None,
        threshold: float = 0.5,
    ) -> None:
        self.classifier = classifier
        self.threshold = threshold
        self._rules = {
            lang: {
                category: _Compiled(PhraseIndex(r.phrases), _join(r.patterns), _join(r.exclude))
                for category, r in categories.items()
            }
            for lang, categories in rules.items()
        }

    @property
    def configured(self) -> bool:
        return any(self._rules.values()) or self.classifier is not None

    def detect(self, text: str, language: str | None = None) -> CrisisHit | None:
        norm = normalise(text)
        if not norm:
            return None
        tokens = norm.split()
        order = sorted(self._rules, key=lambda lang: lang != language)
        for category in _PRIORITY:
            for lang in order:
                rules = self._rules[lang].get(category)
                if rules is None:
                    continue
                hit = rules.phrases.search(tokens) or (
                    rules.patterns is not None and rules.patterns.search(norm) is not None
                )
                if hit and (rules.exclude is None or not rules.exclude.search(norm)):
                    return CrisisHit(category, lang)
        if self.classifier is not None and self.classifier.probability(norm) >= self.threshold:
            return CrisisHit("unspecified", language or "")
        return None


assert set(_PRIORITY) == set(CRISIS_CATEGORIES)
