"""content eval: run an evaluation file through crisis detection and the matcher, and score it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.core.conversations import Classifier

SPECIAL = ("none", "crisis")


class EvalFileError(Exception):
    """The evaluation file cannot be used; the message says where and why."""


@dataclass(frozen=True, slots=True)
class EvalItem:
    text: str
    expect: str


@dataclass(frozen=True, slots=True)
class EvalResult:
    text: str
    expect: str
    language: str
    predicted: str | None
    score: float
    crisis: bool
    offered: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "language": self.language,
            "predicted": self.predicted,
            "score": round(self.score, 4),
            "crisis": self.crisis,
        }


def read_items(path: Path, known_topics: Iterable[str]) -> list[EvalItem]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise EvalFileError(f"{path}: cannot read: {exc}") from None
    if not isinstance(data, list) or not data:
        raise EvalFileError(f"{path}: expected a list of {{text, expect}} items")
    known = set(known_topics) | set(SPECIAL)
    items = []
    for number, raw in enumerate(data, start=1):
        if (
            not isinstance(raw, dict)
            or not isinstance(raw.get("text"), str)
            or "expect" not in raw
        ):
            raise EvalFileError(f"{path}: item {number}: expected {{text: ..., expect: ...}}")
        expect = str(raw["expect"]).strip()
        if expect not in known:
            raise EvalFileError(f"{path}: item {number}: unknown expect {expect!r}")
        items.append(EvalItem(raw["text"], expect))
    return items


def evaluate(classifier: Classifier, items: Iterable[EvalItem]) -> list[EvalResult]:
    results = []
    for item in items:
        language, hit, match = classifier.classify(item.text, None)
        predicted = None
        score = 0.0
        offered: tuple[str, ...] = ()
        if match is not None and match.best is not None:
            score = match.best.score
            if match.kind != "none":
                predicted = match.best.topic_id
                offered = tuple(c.topic_id for c in match.candidates)
        results.append(
            EvalResult(
                item.text, item.expect, language, predicted, score, hit is not None, offered
            )
        )
    return results


def _ratio(hits: int, total: int) -> float | None:
    return hits / total if total else None


def summarise(results: list[EvalResult]) -> dict[str, dict[str, float | int | None]]:
    """Totals overall and per language: topic accuracy, out-of-scope P/R, crisis recall/FPR."""
    groups: dict[str, list[EvalResult]] = defaultdict(list)
    for result in results:
        groups["all"].append(result)
        groups[result.language].append(result)
    summary = {}
    for name, group in groups.items():
        topical = [r for r in group if r.expect not in SPECIAL]
        oos = [r for r in group if r.expect == "none"]
        crisis = [r for r in group if r.expect == "crisis"]
        non_crisis = [r for r in group if r.expect != "crisis"]
        said_none = [r for r in group if r.predicted is None and not r.crisis]
        summary[name] = {
            "items": len(group),
            "topic_accuracy": _ratio(
                sum(1 for r in topical if r.predicted == r.expect and not r.crisis), len(topical)
            ),
            "topic_offered": _ratio(
                sum(1 for r in topical if r.expect in r.offered and not r.crisis), len(topical)
            ),
            "oos_precision": _ratio(
                sum(1 for r in said_none if r.expect == "none"), len(said_none)
            ),
            "oos_recall": _ratio(
                sum(1 for r in oos if r.predicted is None and not r.crisis), len(oos)
            ),
            "crisis_recall": _ratio(sum(1 for r in crisis if r.crisis), len(crisis)),
            "crisis_false_rate": _ratio(sum(1 for r in non_crisis if r.crisis), len(non_crisis)),
        }
    return summary


def _pct(value: float | int | None) -> str:
    return "   -  " if value is None else f"{100 * value:5.1f}%"


def format_table(results: list[EvalResult], show_errors: bool = True) -> str:
    lines = []
    if show_errors:
        lines.append(f"{'lang':4}  {'expect':26} {'predicted':26} {'score':>6}  text")
        for r in results:
            got = "crisis" if r.crisis else (r.predicted or "none")
            if got == r.expect:
                continue
            lines.append(f"{r.language:4}  {r.expect:26} {got:26} {r.score:6.3f}  {r.text[:70]!r}")
        lines.append(f"{len(lines) - 1} of {len(results)} items were not as expected")
        lines.append("")
    summary = summarise(results)
    header = (
        f"{'':5}{'items':>6} {'topic acc':>10} {'offered':>9} {'oos prec':>9} "
        f"{'oos rec':>9} {'crisis rec':>11} {'crisis FP':>10}"
    )
    lines.append(header)
    for name in ["all", *sorted(k for k in summary if k != "all")]:
        s = summary[name]
        lines.append(
            f"{name:5}{s['items']:>6} {_pct(s['topic_accuracy']):>10}"
            f" {_pct(s['topic_offered']):>9}"
            f" {_pct(s['oos_precision']):>9} {_pct(s['oos_recall']):>9}"
            f" {_pct(s['crisis_recall']):>11} {_pct(s['crisis_false_rate']):>10}"
        )
    return "\n".join(lines)
