"""The matcher and crisis detection on the evaluation sets in tests/data: fail below target."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.app import build_core, load_pack
from bot.config import load_settings
from bot.core.conversations import Classifier
from bot.evaluation import EvalResult, evaluate, read_items, summarise

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    settings = load_settings(ROOT / "config.yaml", environ={})
    pack = load_pack(settings, base=ROOT)
    matcher, crisis = build_core(settings, pack)
    return Classifier(settings, matcher, crisis)


def results(classifier: Classifier, name: str) -> list[EvalResult]:
    items = read_items(DATA / name, classifier.matcher.topics)
    return evaluate(classifier, items)


def test_eval_set_meets_every_target_per_language(classifier: Classifier) -> None:
    summary = summarise(results(classifier, "eval.yaml"))
    for language in ("all", "kk", "ru", "en"):
        figures = summary[language]
        assert figures["topic_accuracy"] >= 0.90, (language, figures)
        assert figures["oos_recall"] >= 0.90, (language, figures)
        assert figures["crisis_recall"] == 1.0, (language, figures)
        assert figures["crisis_false_rate"] <= 0.02, (language, figures)
    accuracies = [summary[lang]["topic_accuracy"] for lang in ("kk", "ru", "en")]
    assert max(accuracies) - min(accuracies) <= 0.05  # type: ignore[operator]


def test_holdout_set_meets_the_overall_targets(classifier: Classifier) -> None:
    figures = summarise(results(classifier, "holdout.yaml"))["all"]
    assert figures["topic_accuracy"] >= 0.90, figures
    assert figures["oos_recall"] >= 0.90, figures
    assert figures["crisis_recall"] == 1.0, figures
    assert figures["crisis_false_rate"] <= 0.02, figures


def test_the_eval_sets_do_not_repeat_the_scripts_examples(classifier: Classifier) -> None:
    from bot.core.text import normalise

    pack = load_pack(load_settings(ROOT / "config.yaml", environ={}), base=ROOT)
    examples = {
        normalise(e) for s in pack.scripts.values() for t in s.texts.values() for e in t.examples
    }
    for name in ("eval.yaml", "holdout.yaml"):
        items = yaml.safe_load((DATA / name).read_text(encoding="utf-8"))
        repeated = [i["text"] for i in items if normalise(i["text"]) in examples]
        assert not repeated, (name, repeated[:5])


def test_crisis_stress_set_floor(classifier: Classifier) -> None:
    """An independent, harder set: keep what was measured from slipping back."""
    items = yaml.safe_load((DATA / "crisis_stress.yaml").read_text(encoding="utf-8"))
    crisis = [i["text"] for i in items if i["expect"] == "crisis"]
    calm = [i["text"] for i in items if i["expect"] != "crisis"]
    detect = classifier.crisis.detect
    recall = sum(detect(t) is not None for t in crisis) / len(crisis)
    false_rate = sum(detect(t) is not None for t in calm) / len(calm)
    assert recall >= 0.90, recall
    assert false_rate <= 0.12, false_rate
