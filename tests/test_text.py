"""Normalisation and language detection."""

from __future__ import annotations

import pytest

from bot.core.text import clean, detect_language, fold_letters, has_letters, normalise

LANGS = ("kk", "ru", "en")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ПРИВЕТ Как Дела", "привет как дела"),
        ("Ёлка и ёж", "елка и еж"),
        ("что такое джихад?!...", "что такое джихад"),
        ("«джихад» — это, (наверное), война", "джихад это наверное война"),
        ("дааааа нееет", "да нет"),
        ("Hello, Anna", "hello anna"),  # two equal letters stay
        ("жиһад деген не", "жихад деген не"),
        ("ӘҒҚҢӨҰҮҺІ әғқңөұүһі", "агкноуухи агкноуухи"),
        ("a\x00b\x07c\x1bd\x7fe", "a b c d e"),
        ("строка\nвторая\tтретья", "строка вторая третья"),
        ("  много    пробелов  ", "много пробелов"),
        ("snake_case__word", "snake case word"),
        ("", ""),
        ("😀🙏", ""),
        ("!!! ??? ...", ""),
    ],
)
def test_normalise(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


def test_kazakh_folding_makes_both_spellings_equal() -> None:
    assert normalise("өлтіремін") == normalise("олтиремин") == "олтиремин"
    assert normalise("Қазақстан") == normalise("Казакстан")
    assert fold_letters("ё") == "е"


def test_normalise_composes_unicode() -> None:
    # "й" typed as и + combining breve equals the precomposed letter after NFC
    assert normalise("и\u0306") == normalise("й") == "й"


def test_clean_keeps_line_breaks_and_drops_invisible_characters() -> None:
    assert clean("a\nb") == "a\nb"
    assert "\u200b" not in clean("a\u200bb")
    assert "\ufeff" not in clean("\ufeffa")
    assert "\u202e" not in clean("a\u202eb")  # right-to-left override


def test_normalise_is_idempotent_on_long_mixed_input() -> None:
    text = ("Жиһад JIHAD джихад!!! 😀 \x00 " * 500).strip()
    once = normalise(text)
    assert normalise(once) == once
    assert "\x00" not in once


def test_has_letters() -> None:
    assert has_letters("a")
    assert has_letters("ә")
    assert not has_letters("😀 123 !?")
    assert not has_letters("")


@pytest.mark.parametrize(
    ("text", "preferred", "expected"),
    [
        ("жиһад деген не", "ru", "kk"),  # Kazakh letters win over a Russian preference
        ("Сирияға бару керек пе", "en", "kk"),
        ("что такое джихад", "kk", "ru"),  # Cyrillic without Kazakh letters or words
        ("почему мне это говорят", "en", "ru"),
        ("what is jihad", "ru", "en"),  # Latin
        ("why do they say that", "kk", "en"),
    ],
)
def test_language_is_detected_with_certainty(text: str, preferred: str, expected: str) -> None:
    detected = detect_language(text, preferred, LANGS)
    assert detected.language == expected
    assert detected.certain


@pytest.mark.parametrize(
    ("text", "preferred", "expected"),
    [
        ("kalay jihad degen", "kk", "kk"),  # Kazakh typed in Latin letters
        ("chto takoe dzhihad", "ru", "ru"),  # Russian typed in Latin letters
    ],
)
def test_transliterated_text_keeps_the_persons_language(
    text: str, preferred: str, expected: str
) -> None:
    assert detect_language(text, preferred, LANGS).language == expected


@pytest.mark.parametrize(("preferred", "expected"), [("kk", "kk"), ("ru", "ru"), (None, "kk")])
def test_preferred_language_breaks_a_tie(preferred: str | None, expected: str) -> None:
    """Latin text when English is not served: Kazakh and Russian are equally likely.

    Without a preference the first configured language stands in for it.
    """
    detected = detect_language("hello there", preferred, ("kk", "ru"))
    assert detected.language == expected
    assert not detected.certain


@pytest.mark.parametrize("text", ["", "😀🙏", "123 456", "!!!", "\x00\x01"])
def test_no_letters_gives_the_preferred_language(text: str) -> None:
    assert detect_language(text, "en", LANGS).language == "en"
    assert detect_language(text, "kk", LANGS).language == "kk"
    assert not detect_language(text, "en", LANGS).certain
    # without a preference: the first configured language
    assert detect_language(text, None, ("ru", "kk")).language == "ru"


def test_result_is_always_a_configured_language() -> None:
    assert detect_language("жиһад деген не", None, ("ru", "en")).language in ("ru", "en")
    assert detect_language("what is jihad", "ru", ("kk", "ru")).language in ("kk", "ru")
    assert detect_language("что такое", "xx", ("en",)).language == "en"


def test_detection_survives_hostile_input() -> None:
    long_text = "джихад " * 2000 + "😀" * 1000 + "\x00\u202e" * 100
    assert detect_language(long_text, "kk", LANGS).language in LANGS
    assert detect_language("Ｊｉｈａｄ", "ru", LANGS).language in LANGS  # full-width letters
