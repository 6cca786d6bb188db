"""Crisis detection from small hand-made lists loaded by bot.content's own loader."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.content import ContentPack
from bot.core.safety import CrisisDetector
from tests.helpers import REAL_CRISIS, TEST_CRISIS_YAML, crisis_rules

RULES = """\
ru:
  self_harm:
    phrases: ["покончить с собой", "Убить Себя", "не хочу жить"]
    exclude: ["не хочу жить в (этом|таком) город"]
  harm_others:
    phrases: ["взорв*"]
    patterns: ["убь?ю (всех|их)"]
  life_threat:
    phrases: ["мне угрожают"]
kk:
  self_harm:
    phrases: ["өзімді өлтіремін"]
  harm_others:
    phrases: ["бәрін өлтіремін"]
  life_threat:
    phrases: ["мені өлтіреді"]
en:
  self_harm:
    phrases: ["kill myself", "don't want to live"]
  harm_others:
    phrases: ["shoot them"]
  life_threat:
    patterns: ["threaten\\\\w* to kill me"]
"""


@pytest.fixture
def detector(tmp_path: Path) -> CrisisDetector:
    pack = crisis_rules(tmp_path, RULES)
    assert [p for p in pack.problems if p.path.endswith("crisis.yaml")] == []
    return CrisisDetector(pack.crisis)


def category(detector: CrisisDetector, text: str, lang: str | None = None) -> str | None:
    hit = detector.detect(text, lang)
    return hit.category if hit else None


@pytest.mark.parametrize(
    "text",
    [
        "я хочу покончить с собой",
        "Хочу ПОКОНЧИТЬ   с собой!!!",
        "думаю покончить, с собой",  # punctuation is not a word
        "хочу убить себя",  # the list entry has capitals
        "я не хочу жить",
    ],
)
def test_phrase_matches(detector: CrisisDetector, text: str) -> None:
    assert category(detector, text, "ru") == "self_harm"


@pytest.mark.parametrize(
    "text",
    [
        "покончитьс собой",
        "непокончить с собой",
        "хочу убить себяя",  # a different word, not a repeated letter run
        "покончить с делами",
    ],
)
def test_phrases_respect_word_boundaries(detector: CrisisDetector, text: str) -> None:
    assert category(detector, text, "ru") is None


@pytest.mark.parametrize("text", ["взорву школу", "хочу взорвать", "Взорвём всё"])
def test_trailing_wildcard_matches_any_ending(detector: CrisisDetector, text: str) -> None:
    assert category(detector, text, "ru") == "harm_others"


def test_wildcard_still_needs_the_word_start(detector: CrisisDetector) -> None:
    assert category(detector, "перевзорвать", "ru") is None


def test_pattern_matches(detector: CrisisDetector) -> None:
    assert category(detector, "я убью всех", "ru") == "harm_others"
    assert category(detector, "убю их", "ru") == "harm_others"
    assert category(detector, "they keep threatening to kill me", "en") == "life_threat"
    assert category(detector, "he threatened to kill me", "en") == "life_threat"


def test_exclude_cancels_a_hit(detector: CrisisDetector) -> None:
    assert category(detector, "я не хочу жить в этом городе", "ru") is None
    assert category(detector, "не хочу жить в таком городе, переезжаю", "ru") is None
    assert category(detector, "я не хочу жить", "ru") == "self_harm"


def test_english_apostrophes_and_case(detector: CrisisDetector) -> None:
    assert category(detector, "I don't want to live anymore", "en") == "self_harm"
    assert category(detector, "I will KILL MYSELF", "en") == "self_harm"
    assert category(detector, "skill myselfish", "en") is None


@pytest.mark.parametrize("text", ["өзімді өлтіремін", "озимди олтиремин", "ӨЗІМДІ ӨЛТІРЕМІН"])
def test_kazakh_letter_folding(detector: CrisisDetector, text: str) -> None:
    assert category(detector, text, "kk") == "self_harm"


def test_all_languages_are_checked(detector: CrisisDetector) -> None:
    hit = detector.detect("I want to kill myself", "ru")
    assert hit is not None
    assert hit.language == "en"


def test_harm_to_others_is_reported_before_self_harm(detector: CrisisDetector) -> None:
    assert category(detector, "хочу покончить с собой и взорвать их", "ru") == "harm_others"


@pytest.mark.parametrize(
    "text",
    ["", "😀", "что такое джихад", "what is jihad", "\x00\x01", "а" * 10_000],
)
def test_ordinary_or_empty_text_is_no_crisis(detector: CrisisDetector, text: str) -> None:
    assert detector.detect(text, "ru") is None


def test_control_characters_cannot_split_a_phrase(detector: CrisisDetector) -> None:
    # A control character separates words; an invisible one inside a word is dropped, so a
    # word split with a zero-width space to slip past the lists is put back together.
    assert category(detector, "покончить\x00с собой", "ru") == "self_harm"
    assert category(detector, "по\u200bкон\u00adчить с со\u200bбой", "ru") == "self_harm"


def test_detector_without_rules() -> None:
    empty = CrisisDetector({})
    assert not empty.configured
    assert empty.detect("kill myself") is None


def test_bad_crisis_lists_are_reported(tmp_path: Path) -> None:
    pack = crisis_rules(
        tmp_path,
        "ru:\n  self_harm:\n    patterns: ['([unclosed']\n  harm_others:\n    phrases: []\n"
        "  life_threat:\n    phrases: ['']\n  rumours:\n    phrases: [x]\n",
    )
    problems = [str(p) for p in pack.problems if p.path.endswith("crisis.yaml")]
    assert all(p.startswith("crisis-pack/safety/crisis.yaml: ") for p in problems)
    text = "\n".join(problems)
    assert "ru.self_harm: bad regular expression" in text
    assert "ru.harm_others:" in text  # no phrases at all
    assert "ru.life_threat: an entry is empty" in text
    assert "unknown category 'rumours'" in text
    assert "kk.self_harm:" in text  # a language without any list


def test_the_shared_test_list_loads(tmp_path: Path) -> None:
    pack = crisis_rules(tmp_path, TEST_CRISIS_YAML)
    assert [p for p in pack.problems if p.path.endswith("crisis.yaml")] == []
    assert set(pack.crisis) == {"kk", "ru", "en"}


@pytest.mark.skipif(not REAL_CRISIS.is_file(), reason="content/safety/crisis.yaml not written yet")
@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("я хочу покончить с собой", "ru"),
        ("I want to kill myself", "en"),
        ("өзімді өлтіргім келеді", "kk"),
    ],
)
def test_the_real_list_catches_plain_statements(
    content_pack: ContentPack, text: str, lang: str
) -> None:
    detector = CrisisDetector(content_pack.crisis)
    assert detector.configured
    assert detector.detect(text, lang) is not None
    assert detector.detect("что такое джихад", "ru") is None
