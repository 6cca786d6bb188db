"""Text normalisation and language detection shared by the matcher and crisis detection."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

KAZAKH_LETTERS = frozenset("әғқңөұүһі")
_FOLD = str.maketrans(
    {
        "ә": "а",
        "ғ": "г",
        "қ": "к",
        "ң": "н",
        "ө": "о",
        "ұ": "у",
        "ү": "у",
        "һ": "х",
        "і": "и",
        "ё": "е",
        "Ә": "А",
        "Ғ": "Г",
        "Қ": "К",
        "Ң": "Н",
        "Ө": "О",
        "Ұ": "У",
        "Ү": "У",
        "Һ": "Х",
        "І": "И",
        "Ё": "Е",
    }
)
_NOT_WORD = re.compile(r"[^\w]+|_+")
_REPEATS = re.compile(r"(\w)\1{2,}")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]")

# Words that tell Kazakh or Russian apart when the letters do not (Cyrillic without ә ғ қ ...,
# or either language typed in Latin letters). Folded spelling.
_KAZAKH_WORDS = frozenset(
    """
    деген дегенимиз кандай калай неге мен сен ол биз сиз олар бар жок керек туралы жане
    ма ме ба бе па пе бул осы ана мына нагыз болады болама болса емес ушин уш деп айтып
    иске кайда кашан кимге ким мага сага оган бизге маган саган балам улым кызым апа ага
    кетти кетип жиад дин дини мусылман кудай аллах алла жасау айту билем билмеим
    sen men degen kalai kalay kandai kandai qalai qandai turaly jane zhane kerek
    bolady emes ushin qaida kaida din dini musylman
    """.split()
)
_RUSSIAN_WORDS = frozenset(
    """
    что как это почему зачем можно нужно если или который где когда кто такое такой
    меня мне мой моя сын дочь брат сестра муж жена друг очень тоже уже ещё еще вот
    chto kak eto pochemu zachem mozhno nuzhno esli ili kotoryi gde kogda kto takoe takoi
    menya mne moi moya syn doch brat sestra muzh zhena drug ochen tozhe uzhe esche vot
    pravda razve li dlya
    """.split()
)
_ENGLISH_WORDS = frozenset(
    """
    the a an is are was what why how who when where do does can could should i you my me
    it to of in for and or not with about this that there they we he she his her
    """.split()
)


def clean(text: str) -> str:
    """Remove control and invisible characters and normalise Unicode (NFC), keeping line breaks."""
    text = unicodedata.normalize("NFC", text)
    return _CONTROL.sub(" ", text)


def fold_letters(text: str) -> str:
    """Fold Kazakh letters and ё to their Russian look-alikes: people type either way."""
    return text.translate(_FOLD)


def normalise(text: str) -> str:
    """Lowercase, fold letters, drop punctuation, collapse runs of 3+ letters, squeeze spaces."""
    text = fold_letters(clean(text).lower())
    text = _NOT_WORD.sub(" ", text)
    text = _REPEATS.sub(r"\1", text)
    return " ".join(text.split())


def has_letters(text: str) -> bool:
    return any(ch.isalpha() for ch in text)


@dataclass(frozen=True, slots=True)
class Detected:
    """The language of a message and whether the text itself showed it clearly."""

    language: str
    certain: bool


def detect_language(text: str, preferred: str | None, languages: tuple[str, ...]) -> Detected:
    """Guess kk, ru or en: Kazakh letters, then Cyrillic or Latin, then telling words.

    The person's chosen language breaks ties, and the result is always one of `languages`.
    """
    fallback = preferred if preferred in languages else languages[0]
    lowered = clean(text).lower()
    cyrillic = sum(1 for ch in lowered if "а" <= ch <= "я" or ch in "ёәғқңөұүһі")
    latin = sum(1 for ch in lowered if "a" <= ch <= "z")
    if cyrillic == 0 and latin == 0:
        return Detected(fallback, certain=False)
    words = normalise(lowered).split()
    kk_words = sum(1 for w in words if w in _KAZAKH_WORDS)
    ru_words = sum(1 for w in words if w in _RUSSIAN_WORDS)
    en_words = sum(1 for w in words if w in _ENGLISH_WORDS)
    scores = {"kk": 0.0, "ru": 0.0, "en": 0.0}
    if any(ch in KAZAKH_LETTERS for ch in lowered):
        scores["kk"] += 3 + sum(1 for ch in lowered if ch in KAZAKH_LETTERS)
    if cyrillic >= latin:
        scores["ru"] += 1.5
        scores["kk"] += 1
    else:
        scores["en"] += 1.5
        scores["ru"] += 0.5
        scores["kk"] += 0.5
    scores["kk"] += 1.2 * kk_words
    scores["ru"] += 1.2 * ru_words
    scores["en"] += 1.2 * en_words
    candidates = {lang: score for lang, score in scores.items() if lang in languages}
    if not candidates:
        return Detected(fallback, certain=False)
    ranked = sorted(candidates.items(), key=lambda item: item[1], reverse=True)
    best, best_score = ranked[0]
    runner_up = ranked[1][1] if len(ranked) > 1 else -1.0
    if best_score - runner_up < 1.0:
        tied = [lang for lang, score in ranked if best_score - score < 1.0]
        if fallback in tied:
            return Detected(fallback, certain=False)
        return Detected(best, certain=False)
    return Detected(best, certain=True)
