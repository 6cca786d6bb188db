"""Finds the script a question asks about.

Character and word n-gram TF-IDF over every language's example questions feeds a logistic
regression whose classes are the topic ids plus an out-of-scope class (learned from
content/scope). Measured on tests/data: it picks the right topic more often than nearest-neighbour
similarity (see the README's matcher figures). Text that shares no n-gram with any example
has no features and is out of scope.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from bot.config import MatcherSettings
from bot.content import Script
from bot.core.features import NgramFeatures
from bot.core.text import normalise

OUT_OF_SCOPE = "__out_of_scope__"
MatchKind = Literal["confident", "ambiguous", "none"]
REGULARISATION = 20.0
# Out-of-scope examples count less than topic examples: an unusual question about a topic is
# better offered as a choice than turned away (tuned on tests/data/eval.yaml).
OUT_OF_SCOPE_WEIGHT = 0.3


@dataclass(frozen=True, slots=True)
class Candidate:
    topic_id: str
    score: float


@dataclass(frozen=True, slots=True)
class MatchResult:
    """A confident topic, an ambiguous set of 2 to 3 topics, or none."""

    kind: MatchKind
    candidates: tuple[Candidate, ...]
    out_of_scope_score: float

    @property
    def topic_id(self) -> str | None:
        return self.candidates[0].topic_id if self.kind == "confident" else None

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None


class Matcher:
    """Topic probabilities for a question, and the decision between answer, choice and none."""

    def __init__(
        self,
        scripts: Mapping[str, Script],
        out_of_scope: Mapping[str, tuple[str, ...]],
        settings: MatcherSettings,
    ) -> None:
        self.settings = settings
        documents: list[str] = []
        labels: list[str] = []
        for script in scripts.values():
            for local in script.texts.values():
                for example in (local.title, *local.examples):
                    documents.append(normalise(example))
                    labels.append(script.id)
        for examples in out_of_scope.values():
            for example in examples:
                documents.append(normalise(example))
                labels.append(OUT_OF_SCOPE)
        self.topics = sorted(scripts)
        self._model: LogisticRegression | None = None
        if not self.topics:
            return
        self._features = NgramFeatures(documents)
        matrix = self._features.matrix(documents)
        if len(set(labels)) >= 2:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                # saga trains in under a second here; lbfgs took 11 s for the same accuracy.
                self._model = LogisticRegression(
                    C=REGULARISATION, solver="saga", max_iter=300, tol=1e-3, random_state=0
                )
                weights = [OUT_OF_SCOPE_WEIGHT if lab == OUT_OF_SCOPE else 1.0 for lab in labels]
                self._model.fit(matrix, labels, sample_weight=weights)
            self._classes = [str(c) for c in self._model.classes_]
            self._coef = np.asarray(self._model.coef_, dtype=np.float64)
            self._intercept = np.asarray(self._model.intercept_, dtype=np.float64)

    def scores(self, text: str) -> dict[str, float]:
        """Each topic's probability, and out-of-scope's; all zero for text with no known n-gram."""
        norm = normalise(text)
        empty = dict.fromkeys([*self.topics, OUT_OF_SCOPE], 0.0)
        if not self.topics or not norm:
            return empty
        idx, values = self._features.vector(norm)
        if idx.size == 0:
            return empty
        if self._model is None:  # one topic and no out-of-scope examples
            return {self.topics[0]: 1.0, OUT_OF_SCOPE: 0.0}
        logits = self._coef[:, idx] @ values + self._intercept
        if logits.size == 1:  # two classes: sklearn keeps one row of coefficients
            positive = 1.0 / (1.0 + np.exp(-logits[0]))
            probabilities = np.array([1.0 - positive, positive])
        else:
            exp = np.exp(logits - logits.max())
            probabilities = exp / exp.sum()
        scores = {label: float(p) for label, p in zip(self._classes, probabilities, strict=True)}
        scores.setdefault(OUT_OF_SCOPE, 0.0)
        return scores

    def match(self, text: str) -> MatchResult:
        """Decide between a confident answer, a choice of 2 to 3 topics, and no match."""
        scores = self.scores(text)
        oos = scores.pop(OUT_OF_SCOPE, 0.0)
        ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)
        s = self.settings
        top = [Candidate(t, round(v, 4)) for t, v in ranked[: s.max_choices]]
        if not ranked or ranked[0][1] < s.minimum or oos >= ranked[0][1]:
            return MatchResult("none", tuple(top[:1]), round(oos, 4))
        top_score = ranked[0][1]
        second = ranked[1][1] if len(ranked) > 1 else 0.0
        if top_score >= s.confident and top_score - second >= s.margin:
            return MatchResult("confident", tuple(top[:1]), round(oos, 4))
        choices = [c for c in top if c.score >= s.choice_floor] or top[:2]
        if len(choices) < 2:
            choices = top[:2]
        return MatchResult("ambiguous", tuple(choices), round(oos, 4))
