"""Finds the script a question asks about: TF-IDF over the scripts' example questions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize as l2_normalise

from bot.config import MatcherSettings
from bot.content import Script
from bot.core.text import normalise

OUT_OF_SCOPE = "__out_of_scope__"
MatchKind = Literal["confident", "ambiguous", "none"]


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
    """Character and word n-gram TF-IDF over every language's examples; topics are shared ids."""

    def __init__(
        self,
        scripts: Mapping[str, Script],
        out_of_scope: Mapping[str, tuple[str, ...]],
        settings: MatcherSettings,
        char_weight: float = 0.75,
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
        self._empty = not self.topics
        if self._empty:
            return
        self._char = TfidfVectorizer(
            analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=1, dtype=np.float32
        )
        self._word = TfidfVectorizer(
            analyzer="word",
            ngram_range=(1, 2),
            sublinear_tf=True,
            token_pattern=r"(?u)\b\w+\b",
            dtype=np.float32,
        )
        self._weights = (char_weight**0.5, (1 - char_weight) ** 0.5)
        matrix = sparse.hstack(
            [
                self._char.fit_transform(documents) * self._weights[0],
                self._word.fit_transform(documents) * self._weights[1],
            ]
        ).tocsr()
        self._matrix = matrix.T.tocsr()
        label_index = {topic: i for i, topic in enumerate([*self.topics, OUT_OF_SCOPE])}
        self._labels = np.array([label_index[label] for label in labels], dtype=np.int32)
        self._n_labels = len(label_index)

    def _vector(self, text: str) -> sparse.csr_matrix:
        vector = sparse.hstack(
            [
                self._char.transform([text]) * self._weights[0],
                self._word.transform([text]) * self._weights[1],
            ]
        ).tocsr()
        return l2_normalise(vector)

    def scores(self, text: str) -> dict[str, float]:
        """The best similarity of the text to each topic's examples (and to out-of-scope)."""
        if self._empty:
            return {}
        norm = normalise(text)
        if not norm:
            return dict.fromkeys([*self.topics, OUT_OF_SCOPE], 0.0)
        similarities = (self._vector(norm) @ self._matrix).toarray().ravel()
        best = np.zeros(self._n_labels, dtype=np.float32)
        np.maximum.at(best, self._labels, similarities)
        return {
            label: float(best[i]) for i, label in enumerate([*self.topics, OUT_OF_SCOPE])
        }

    def match(self, text: str) -> MatchResult:
        """Decide between a confident answer, a choice of 2 to 3 topics, and no match."""
        scores = self.scores(text)
        oos = scores.pop(OUT_OF_SCOPE, 0.0)
        ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)
        s = self.settings
        if not ranked or ranked[0][1] < s.minimum or oos > ranked[0][1] + s.out_of_scope_margin:
            best = tuple(Candidate(t, round(v, 4)) for t, v in ranked[:1])
            return MatchResult("none", best, round(oos, 4))
        top_score = ranked[0][1]
        second = ranked[1][1] if len(ranked) > 1 else 0.0
        if top_score >= s.confident and top_score - second >= s.margin:
            return MatchResult("confident", (Candidate(ranked[0][0], round(top_score, 4)),), oos)
        floor = s.minimum * 0.75
        choices = [Candidate(t, round(v, 4)) for t, v in ranked[: s.max_choices] if v >= floor]
        if len(choices) < 2:
            choices = [Candidate(t, round(v, 4)) for t, v in ranked[:2]]
        return MatchResult("ambiguous", tuple(choices), round(oos, 4))
