"""`python -m bot content eval`: JSON and table output, and clear errors for bad files."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from bot.config import Settings
from bot.content import ContentPack
from bot.core.conversations import Classifier
from bot.core.matcher import Matcher
from bot.core.safety import CrisisDetector
from bot.evaluation import EvalFileError, evaluate, format_table, read_items, summarise
from tests.helpers import REPO, run_bots, subprocess_env, with_crisis

ITEMS = [
    {"text": "что такое джихад", "expect": "jihad-meaning"},
    {"text": "what is jihad", "expect": "jihad-meaning"},
    {"text": "жиһад деген не", "expect": "jihad-meaning"},
    {"text": "тәкфір деген не", "expect": "takfir"},
    {"text": "какой рецепт борща с говядиной", "expect": "none"},
    {"text": "я хочу покончить с собой", "expect": "crisis"},
]


def write_items(path: Path, items: object) -> Path:
    path.write_text(yaml.safe_dump(items, allow_unicode=True), encoding="utf-8")
    return path


BAD_ITEMS = [{"text": "x", "expect": "no-such-topic"}]
TABLE_ITEMS = [*ITEMS, {"text": "ислам", "expect": "takfir"}]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, subprocess.CompletedProcess[str]]:
    """The command on a few files, run together once (each run trains the matcher)."""
    folder = tmp_path_factory.mktemp("eval")
    good = write_items(folder / "eval.yaml", ITEMS)
    table = write_items(folder / "table.yaml", TABLE_ITEMS)
    bad = write_items(folder / "bad.yaml", BAD_ITEMS)
    env = subprocess_env(SENIM_DATABASE__PATH=str(folder / "unused.sqlite3"))
    return run_bots(
        {
            "json": (["content", "eval", str(good), "--json"], "", env),
            "table": (["content", "eval", str(table)], "", env),
            "bad": (["content", "eval", str(bad), "--json"], "", env),
            "missing": (["content", "eval", str(folder / "missing.yaml")], "", env),
        }
    )


def test_json_output(runs: dict[str, subprocess.CompletedProcess[str]]) -> None:
    result = runs["json"]
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert isinstance(data, list)
    assert len(data) == len(ITEMS)
    for item, row in zip(ITEMS, data, strict=True):
        assert set(row) == {"text", "language", "predicted", "score", "crisis"}
        assert row["text"] == item["text"]
        assert row["language"] in ("kk", "ru", "en")
        assert isinstance(row["score"], float | int)
        assert 0.0 <= row["score"] <= 1.0
        assert isinstance(row["crisis"], bool)
    assert [row["language"] for row in data[:4]] == ["ru", "en", "kk", "kk"]
    assert [row["predicted"] for row in data[:3]] == ["jihad-meaning"] * 3
    assert data[4]["predicted"] is None  # out of scope
    assert [row["crisis"] for row in data[:5]] == [False] * 5
    if (REPO / "content" / "safety" / "crisis.yaml").is_file():
        assert data[5]["crisis"] is True
        assert data[5]["predicted"] is None


def test_table_output_has_per_language_rows(
    runs: dict[str, subprocess.CompletedProcess[str]],
) -> None:
    result = runs["table"]
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    header = next(line for line in lines if "topic acc" in line)
    assert "crisis rec" in header
    rows = {line.split()[0]: line for line in lines[lines.index(header) + 1 :] if line.strip()}
    assert set(rows) == {"all", "en", "kk", "ru"}
    assert rows["all"].split()[1] == str(len(TABLE_ITEMS))
    assert rows["en"].split()[1] == "1"
    assert rows["kk"].split()[1] == "2"
    assert rows["ru"].split()[1] == "4"
    # the item not answered as expected is listed above the totals
    assert any("'ислам'" in line for line in lines)
    assert any("items were not as expected" in line for line in lines)
    with pytest.raises(json.JSONDecodeError):
        json.loads(result.stdout)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[unclosed\n", "cannot read"),
        ("text: not a list\n", "expected a list"),
        ("[]\n", "expected a list"),
        ("- {text: 'что такое джихад'}\n", "item 1: expected {text: ..., expect: ...}"),
        ("- {text: 1, expect: none}\n", "item 1: expected {text: ..., expect: ...}"),
        (
            "- {text: a, expect: none}\n- {text: b, expect: no-such-topic}\n",
            "item 2: unknown expect 'no-such-topic'",
        ),
    ],
)
def test_bad_eval_file_is_a_clear_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad-eval.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(EvalFileError) as raised:
        read_items(path, ["jihad-meaning", "takfir"])
    assert str(raised.value).startswith(f"{path}: ")
    assert message in str(raised.value)


def test_bad_eval_file_exits_non_zero(runs: dict[str, subprocess.CompletedProcess[str]]) -> None:
    result = runs["bad"]
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "bad.yaml: item 1: unknown expect 'no-such-topic'" in result.stderr
    assert result.stdout == ""


def test_missing_eval_file_exits_non_zero(
    runs: dict[str, subprocess.CompletedProcess[str]],
) -> None:
    result = runs["missing"]
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "missing.yaml: cannot read" in result.stderr
    assert result.stdout == ""


def test_evaluate_in_process(
    content_pack: ContentPack, real_matcher: Matcher, tmp_path: Path
) -> None:
    """The same scoring in process, with the small test crisis list: the summary adds up."""
    pack = with_crisis(content_pack, tmp_path)
    classifier = Classifier(Settings(), real_matcher, CrisisDetector(pack.crisis))
    items = read_items(write_items(tmp_path / "e.yaml", ITEMS), real_matcher.topics)
    results = evaluate(classifier, items)
    assert [r.crisis for r in results] == [False] * 5 + [True]
    summary = summarise(results)
    assert summary["all"]["items"] == len(ITEMS)
    assert summary["all"]["crisis_recall"] == 1.0
    assert summary["all"]["crisis_false_rate"] == 0.0
    assert summary["en"]["items"] == 1
    assert summary["en"]["crisis_recall"] is None  # no crisis item in English
    wrong = [r for r in results if ("crisis" if r.crisis else (r.predicted or "none")) != r.expect]
    table = format_table(results)
    assert f"{len(wrong)} of {len(ITEMS)} items were not as expected" in table.splitlines()
    assert len(wrong) <= 1


def test_the_shipped_eval_file_is_valid(real_matcher: Matcher) -> None:
    items = read_items(REPO / "tests" / "data" / "eval.yaml", real_matcher.topics)
    assert len(items) > 100
    expects = {item.expect for item in items}
    assert {"none", "crisis"} <= expects
    assert expects - {"none", "crisis"} <= set(real_matcher.topics)
