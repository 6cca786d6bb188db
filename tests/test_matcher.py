"""The matcher: confident, ambiguous and none, on hand-made topics and on the real pack."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest

from bot.config import MatcherSettings
from bot.content import ContentPack, LocalScript, Script
from bot.core.matcher import Matcher


def script(sid: str, title: str, examples: list[str], lang: str = "en") -> Script:
    return Script(
        id=sid,
        status="approved",
        reviewer="test",
        reviewed=dt.date(2025, 1, 1),
        related=(),
        texts={lang: LocalScript(title, tuple(examples), "answer", ())},
        path=Path(f"{sid}.yaml"),
    )


def examples(word: str) -> list[str]:
    return [
        f"what are the rules of {word}",
        f"is {word} obligatory for me",
        f"{word} explained",
        f"tell me about {word}",
        f"how do muslims practise {word}",
        f"why is {word} important in islam",
    ]


FASTING = script("fasting", "Fasting", examples("fasting"))
PRAYER = script("prayer", "Prayer", examples("prayer"))
CHARITY = script("charity", "Charity", examples("charity"))
OUT = {
    "en": (
        "what is the weather tomorrow",
        "recommend a good film",
        "how do I cook pasta",
        "football scores today",
        "best phone to buy",
    )
}


@pytest.fixture(scope="module")
def small() -> Matcher:
    return Matcher({"fasting": FASTING, "prayer": PRAYER}, OUT, MatcherSettings())


@pytest.fixture(scope="module")
def three() -> Matcher:
    return Matcher({s.id: s for s in (FASTING, PRAYER, CHARITY)}, OUT, MatcherSettings())


@pytest.fixture
def real(real_matcher: Matcher) -> Matcher:
    return real_matcher


def test_an_example_question_is_confident(small: Matcher) -> None:
    result = small.match("what are the rules of fasting")
    assert result.kind == "confident"
    assert result.topic_id == "fasting"
    assert result.best is not None
    assert result.best.score >= small.settings.confident


def test_a_close_paraphrase_is_confident(small: Matcher) -> None:
    result = small.match("Prayer: is it OBLIGATORY for me??")
    assert result.kind == "confident"
    assert result.topic_id == "prayer"


def test_a_question_between_two_topics_is_ambiguous(small: Matcher) -> None:
    result = small.match("is fasting or prayer obligatory for me")
    assert result.kind == "ambiguous"
    assert result.topic_id is None
    assert {c.topic_id for c in result.candidates} == {"fasting", "prayer"}
    scores = [c.score for c in result.candidates]
    assert scores == sorted(scores, reverse=True)


def test_ambiguous_offers_at_most_max_choices(three: Matcher) -> None:
    result = three.match("is fasting, prayer or charity obligatory for me")
    assert result.kind == "ambiguous"
    assert {c.topic_id for c in result.candidates} == {"fasting", "prayer", "charity"}
    two = Matcher(
        {s.id: s for s in (FASTING, PRAYER, CHARITY)}, OUT, MatcherSettings(max_choices=2)
    )
    narrowed = two.match("is fasting, prayer or charity obligatory for me")
    assert narrowed.kind == "ambiguous"
    assert len(narrowed.candidates) == 2


def test_a_bigger_margin_turns_confident_into_ambiguous() -> None:
    strict = Matcher(
        {"fasting": FASTING, "prayer": PRAYER},
        OUT,
        MatcherSettings(confident=0.5, margin=0.9),
    )
    assert strict.match("what are the rules of fasting").kind == "ambiguous"


def test_out_of_scope_text_gets_none(small: Matcher) -> None:
    result = small.match("quantum chromodynamics lecture")
    assert result.kind == "none"
    assert result.topic_id is None


def test_text_like_the_out_of_scope_examples_gets_none(small: Matcher) -> None:
    result = small.match("what is the weather for football tomorrow")
    assert result.kind == "none"
    assert result.best is not None
    assert result.out_of_scope_score > result.best.score


def test_a_matcher_without_topics_says_none() -> None:
    empty = Matcher({}, {}, MatcherSettings())
    assert empty.topics == []
    assert empty.match("what are the rules of fasting").kind == "none"


HOSTILE = {
    "empty": "",
    "spaces": "   \n\t  ",
    "emoji-only": "😀🙏🔥" * 10,
    "long": "джихад и такфир " * 625,  # 10,000 characters
    "long-one-word": "а" * 10_000,
    "mixed-script": "жиһад JIHAD джихад ǰihād 聖戰 جهاد",
    "control": "\x00\x01что\x07 такое\x1b[31m джихад\u202e\ufeff",
    "digits": "1234567890",
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_input_does_not_break_the_matcher(
    small: Matcher, real: Matcher, case: str
) -> None:
    for matcher in (small, real):
        started = time.perf_counter()
        result = matcher.match(HOSTILE[case])
        assert time.perf_counter() - started < 2.0
        assert result.kind in ("confident", "ambiguous", "none")
        if result.kind == "ambiguous":
            assert 2 <= len(result.candidates) <= 3


@pytest.mark.parametrize("case", ["empty", "spaces", "emoji-only", "digits"])
def test_nothing_to_match_is_none(real: Matcher, case: str) -> None:
    assert real.match(HOSTILE[case]).kind == "none"


def test_control_characters_do_not_hide_the_question(real: Matcher) -> None:
    result = real.match(HOSTILE["control"])
    assert result.kind == "confident"
    assert result.topic_id == "jihad-meaning"


# --- the real pack -------------------------------------------------------------------------------


def test_every_served_topic_is_in_the_matcher(real: Matcher, content_pack: ContentPack) -> None:
    assert real.topics == sorted(content_pack.served(("approved", "sample")))
    assert len(real.topics) >= 20


def test_every_title_and_first_example_finds_its_own_topic(
    real: Matcher, content_pack: ContentPack
) -> None:
    wrong = []
    for sid in real.topics:
        for lang, local in content_pack.scripts[sid].texts.items():
            for question in (local.title, local.examples[0]):
                result = real.match(question)
                if result.kind != "confident" or result.topic_id != sid:
                    wrong.append((sid, lang, question, result.kind, result.best))
    assert wrong == []


@pytest.mark.parametrize(
    ("question", "topic"),
    [
        ("что такое джихад", "jihad-meaning"),
        ("жиһад деген не", "jihad-meaning"),
        ("what is jihad", "jihad-meaning"),
        ("ЧТО ТАКОЕ ДЖИХАД???", "jihad-meaning"),
        ("что такое джихаааад", "jihad-meaning"),
    ],
)
def test_real_questions_are_confident(real: Matcher, question: str, topic: str) -> None:
    result = real.match(question)
    assert result.kind == "confident"
    assert result.topic_id == topic


def test_real_off_topic_question_is_none(real: Matcher) -> None:
    assert real.match("какой рецепт борща с говядиной").kind == "none"
