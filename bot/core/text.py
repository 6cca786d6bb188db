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
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
# Zero-width and direction marks split words invisibly (a zero-width space inside a word).
_INVISIBLE = re.compile(r"[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff]")

# Words that tell Kazakh or Russian apart in Cyrillic without ә ғ қ ... (folded spelling); the
# *_LATIN sets below do the same for both typed in Latin letters.
_KAZAKH_WORDS = frozenset(
    [
        "деген",
        "дегенимиз",
        "кандай",
        "калай",
        "неге",
        "мен",
        "сен",
        "ол",
        "биз",
        "сиз",
        "олар",
        "бар",
        "жок",
        "керек",
        "туралы",
        "жане",
        "ма",
        "ме",
        "ба",
        "бе",
        "па",
        "пе",
        "бул",
        "осы",
        "ана",
        "мына",
        "нагыз",
        "болады",
        "болама",
        "болса",
        "емес",
        "ушин",
        "уш",
        "деп",
        "айтып",
        "иске",
        "кайда",
        "кашан",
        "кимге",
        "ким",
        "мага",
        "сага",
        "оган",
        "бизге",
        "маган",
        "саган",
        "балам",
        "улым",
        "кызым",
        "апа",
        "ага",
        "кетти",
        "кетип",
        "жиад",
        "дин",
        "дини",
        "мусылман",
        "кудай",
        "аллах",
        "алла",
        "жасау",
        "айту",
        "билем",
        "билмеим",
        "канша",
        "неше",
        "бугин",
        "ертен",
        "келеди",
        "кайырлы",
        "рахмет",
        "салем",
        "калайсын",
        "жаксы",
        "озимди",
        "маган",
        "бари",
    ]
)
_RUSSIAN_WORDS = frozenset(
    [
        "что",
        "как",
        "это",
        "почему",
        "зачем",
        "можно",
        "нужно",
        "если",
        "или",
        "который",
        "где",
        "когда",
        "кто",
        "такое",
        "такой",
        "меня",
        "мне",
        "мой",
        "моя",
        "сын",
        "дочь",
        "брат",
        "сестра",
        "муж",
        "жена",
        "друг",
        "очень",
        "тоже",
        "уже",
        "ещё",
        "еще",
        "вот",
    ]
)
_ENGLISH_WORDS = frozenset(
    [
        "the",
        "a",
        "an",
        "is",
        "are",
        "was",
        "what",
        "why",
        "how",
        "who",
        "when",
        "where",
        "do",
        "does",
        "can",
        "could",
        "should",
        "i",
        "you",
        "my",
        "me",
        "it",
        "to",
        "of",
        "in",
        "for",
        "and",
        "or",
        "not",
        "with",
        "about",
        "this",
        "that",
        "there",
        "they",
        "we",
        "he",
        "she",
        "his",
        "her",
    ]
)


def clean(text: str) -> str:
    """Remove control and invisible characters and normalise Unicode (NFC), keeping line breaks."""
    text = unicodedata.normalize("NFC", text)
    return _CONTROL.sub(" ", _INVISIBLE.sub("", text))


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


_RUSSIAN_LATIN = frozenset(
    [
        "chto",
        "kak",
        "eto",
        "pochemu",
        "zachem",
        "mozhno",
        "nuzhno",
        "esli",
        "ili",
        "gde",
        "kogda",
        "kto",
        "takoe",
        "takoi",
        "menya",
        "mne",
        "moi",
        "moya",
        "syn",
        "doch",
        "brat",
        "sestra",
        "muzh",
        "zhena",
        "drug",
        "ochen",
        "tozhe",
        "uzhe",
        "vot",
        "ya",
        "ty",
        "on",
        "ona",
        "my",
        "vy",
        "oni",
        "ih",
        "ne",
        "net",
        "da",
        "na",
        "v",
        "iz",
        "za",
        "po",
        "dlya",
        "pro",
        "ot",
        "do",
        "u",
        "k",
        "s",
        "so",
        "bez",
        "skolko",
        "let",
        "vse",
        "vseh",
        "hochu",
        "hochet",
        "mogu",
        "mozhet",
        "nado",
        "kuda",
        "tut",
        "tam",
        "eshe",
        "esche",
        "razve",
        "pravda",
        "li",
        "nichego",
        "dela",
        "ponimat",
        "pravilno",
        "poluchat",
        "kakie",
        "est",
    ]
)
_KAZAKH_LATIN = frozenset(
    [
        "ne",
        "degen",
        "kalai",
        "qalai",
        "kalay",
        "qalay",
        "kandai",
        "qandai",
        "turaly",
        "jane",
        "zhane",
        "kerek",
        "bolady",
        "emes",
        "ushin",
        "kaida",
        "qaida",
        "kashan",
        "qashan",
        "men",
        "sen",
        "biz",
        "siz",
        "olar",
        "bar",
        "jok",
        "joq",
        "din",
        "dini",
        "musylman",
        "balam",
        "ulym",
        "kyzym",
        "qyzym",
        "ma",
        "me",
        "ba",
        "be",
        "pa",
        "pe",
        "ma",
        "eken",
        "edi",
    ]
)
_RUSSIAN_SUFFIXES = (
    "ого",
    "его",
    "ому",
    "ыми",
    "ими",
    "ая",
    "яя",
    "ый",
    "ий",
    "ой",
    "ться",
    "тся",
    "ение",
    "ение",
    "ость",
    "ство",
    "ии",
    "ых",
    "их",
    "ешь",
    "ишь",
    "ую",
    "юю",
    "ся",
)
_KAZAKH_SUFFIXES = (
    "лар",
    "лер",
    "дар",
    "дер",
    "тар",
    "тер",
    "нын",
    "дын",
    "тын",
    "нин",
    "дин",
    "тин",
    "ган",
    "ген",
    "кан",
    "кен",
    "мын",
    "мин",
    "сын",
    "сын",
    "сыз",
    "сиз",
    "ды",
    "ди",
    "ты",
    "ти",
    "ны",
    "ни",
    "га",
    "ге",
    "ка",
    "ке",
    "дан",
    "ден",
    "тан",
    "тен",
    "нан",
    "нен",
    "пын",
    "бын",
    "мыз",
    "миз",
)


def _suffix_votes(words: list[str], suffixes: tuple[str, ...]) -> int:
    return sum(1 for w in words if len(w) > 3 and w.endswith(suffixes))


def detect_language(text: str, preferred: str | None, languages: tuple[str, ...]) -> Detected:
    """Guess kk, ru or en: Kazakh letters, then Cyrillic or Latin, then telling words.

    The person's chosen language breaks ties, and the result is always one of `languages`.
    """
    fallback = preferred if preferred in languages else None
    lowered = clean(text).lower()
    cyrillic = sum(1 for ch in lowered if "а" <= ch <= "я" or ch in "ёәғқңөұүһі")
    latin = sum(1 for ch in lowered if "a" <= ch <= "z")
    if cyrillic == 0 and latin == 0:
        return Detected(fallback or languages[0], certain=False)
    words = normalise(lowered).split()
    scores = {"kk": 0.0, "ru": 0.0, "en": 0.0}
    kazakh_letters = sum(1 for ch in lowered if ch in KAZAKH_LETTERS)
    if kazakh_letters:
        scores["kk"] += 3 + kazakh_letters
    if cyrillic >= latin:
        cyr = [w for w in words if not w.isascii()]
        scores["ru"] += 2.0
        scores["kk"] += 0.5
        scores["kk"] += 1.5 * sum(1 for w in cyr if w in _KAZAKH_WORDS)
        scores["ru"] += 1.5 * sum(1 for w in cyr if w in _RUSSIAN_WORDS)
        scores["kk"] += 0.7 * _suffix_votes(cyr, _KAZAKH_SUFFIXES)
        scores["ru"] += 0.7 * _suffix_votes(cyr, _RUSSIAN_SUFFIXES)
    else:
        lat = [w for w in words if w.isascii()]
        scores["en"] += 1.5 + 1.2 * sum(1 for w in lat if w in _ENGLISH_WORDS)
        scores["ru"] += 1.2 * sum(1 for w in lat if w in _RUSSIAN_LATIN)
        scores["ru"] += 0.6 * sum(
            1
            for w in lat
            if w.endswith(("zh", "iy", "yh", "sya", "ogo", "aya", "nyi", "skiy", "ih"))
        )
        scores["kk"] += 1.2 * sum(1 for w in lat if w in _KAZAKH_LATIN)
    candidates = {lang: score for lang, score in scores.items() if lang in languages}
    if not candidates:
        return Detected(fallback or languages[0], certain=False)
    ranked = sorted(candidates.items(), key=lambda item: item[1], reverse=True)
    best, best_score = ranked[0]
    runner_up = ranked[1][1] if len(ranked) > 1 else -1.0
    if len(words) < 2 and not kazakh_letters:
        # One word ("jihad", "джихад") says little about the language the person speaks.
        return Detected(fallback or best, certain=False)
    if best_score - runner_up < 1.0:
        tied = [lang for lang, score in ranked if best_score - score < 1.0]
        if fallback in tied:
            return Detected(fallback, certain=False)
        return Detected(best, certain=False)
    return Detected(best, certain=True)
