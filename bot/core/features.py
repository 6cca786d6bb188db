"""Character and word n-gram TF-IDF features: fitted with scikit-learn, computed fast per query."""

from __future__ import annotations

import itertools
import re
from collections import Counter

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize as l2_normalise

CHAR_WEIGHT = 0.75
_SPACES = re.compile(r"\s\s+")
_TOKEN = re.compile(r"(?u)\b\w+\b")


def char_wb_ngrams(text: str, low: int = 2, high: int = 5) -> list[str]:
    """sklearn's char_wb analyser: n-grams inside each word padded with one space each side."""
    grams: list[str] = []
    for word in _SPACES.sub(" ", text.lower()).split():
        padded = f" {word} "
        length = len(padded)
        for n in range(low, high + 1):
            offset = 0
            grams.append(padded[offset : offset + n])
            while offset + n < length:
                offset += 1
                grams.append(padded[offset : offset + n])
            if offset == 0:
                break
    return grams


def word_ngrams(text: str) -> list[str]:
    """sklearn's word analyser with ngram_range (1, 2) and the \\b\\w+\\b token pattern."""
    tokens = _TOKEN.findall(text.lower())
    return tokens + [f"{a} {b}" for a, b in itertools.pairwise(tokens)]


class NgramFeatures:
    """TF-IDF over char_wb 2-5-grams and word 1-2-grams, each l2-normalised, then weighted."""

    def __init__(self, documents: list[str], char_weight: float = CHAR_WEIGHT) -> None:
        self._char = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)
        self._word = TfidfVectorizer(
            analyzer="word", ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"(?u)\b\w+\b"
        )
        self._char.fit(documents)
        self._word.fit(documents)
        self._weights = (char_weight**0.5, (1 - char_weight) ** 0.5)
        self._char_vocab: dict[str, int] = dict(self._char.vocabulary_)
        self._word_vocab: dict[str, int] = dict(self._word.vocabulary_)
        self._char_idf = np.asarray(self._char.idf_, dtype=np.float64)
        self._word_idf = np.asarray(self._word.idf_, dtype=np.float64)
        self.size = len(self._char_vocab) + len(self._word_vocab)

    def matrix(self, texts: list[str]) -> sparse.csr_matrix:
        """Features of many texts through scikit-learn (for training)."""
        stacked = sparse.hstack(
            [
                self._char.transform(texts) * self._weights[0],
                self._word.transform(texts) * self._weights[1],
            ]
        ).tocsr()
        return l2_normalise(stacked)

    def vector(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """One text's non-zero features (indices, values), exactly as matrix() computes them.

        scikit-learn's transform() spends about 0.4 ms a call on validation and matrix building;
        this does the same arithmetic on the fitted vocabulary and idf in tens of microseconds.
        """
        parts_idx: list[np.ndarray] = []
        parts_val: list[np.ndarray] = []
        for grams, vocab, idf, weight, offset in (
            (char_wb_ngrams(text), self._char_vocab, self._char_idf, self._weights[0], 0),
            (
                word_ngrams(text),
                self._word_vocab,
                self._word_idf,
                self._weights[1],
                len(self._char_vocab),
            ),
        ):
            # Counter counts in C; only distinct n-grams are then looked up in Python.
            known = [
                (index, n)
                for gram, n in Counter(grams).items()
                if (index := vocab.get(gram)) is not None
            ]
            if not known:
                continue
            idx = np.fromiter((i for i, _n in known), dtype=np.int64, count=len(known))
            tf = np.fromiter((n for _i, n in known), dtype=np.float64, count=len(known))
            values = (1.0 + np.log(tf)) * idf[idx]
            values *= weight / np.linalg.norm(values)
            parts_idx.append(idx + offset)
            parts_val.append(values)
        if not parts_idx:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        idx = np.concatenate(parts_idx)
        values = np.concatenate(parts_val)
        return idx, values / np.linalg.norm(values)
