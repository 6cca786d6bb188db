"""Helpers shared by the tests: paths, a clock, configs, crisis lists, subprocesses."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from bot.content import ContentPack, load_content

REPO = Path(__file__).resolve().parent.parent
CONTENT = REPO / "content"
LANGUAGES = ("kk", "ru", "en")
REAL_CRISIS = CONTENT / "safety" / "crisis.yaml"

# A small crisis list for tests that must not depend on the real one's wording.
TEST_CRISIS_YAML = """\
kk:
  self_harm:
    phrases: ["өзімді өлтіремін", "өмір сүргім келмейді"]
  harm_others:
    phrases: ["бәрін өлтіремін"]
  life_threat:
    phrases: ["мені өлтіреді"]
ru:
  self_harm:
    phrases: ["убить себя", "покончить с собой", "не хочу жить"]
    exclude: ["не хочу жить в этом городе"]
  harm_others:
    phrases: ["взорву*"]
  life_threat:
    phrases: ["мне угрожают убить"]
en:
  self_harm:
    phrases: ["kill myself", "don't want to live"]
  harm_others:
    phrases: ["shoot them all"]
  life_threat:
    phrases: ["threatening to kill me"]
"""


class Clock:
    """A clock the test moves by hand; pass clock.now wherever a clock callable is wanted."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2025, 6, 2, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float = 0, **delta: float) -> datetime:
        self._now += timedelta(seconds=seconds, **delta)
        return self._now


def write_config(path: Path, data: Mapping[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(dict(data), allow_unicode=True), encoding="utf-8")
    return path


def crisis_rules(tmp_path: Path, text: str = TEST_CRISIS_YAML) -> ContentPack:
    """Load a crisis.yaml through bot.content's own loader (the rest of the pack is absent)."""
    root = tmp_path / "crisis-pack"
    (root / "safety").mkdir(parents=True, exist_ok=True)
    (root / "safety" / "crisis.yaml").write_text(text, encoding="utf-8")
    return load_content(root, LANGUAGES, "ru")


def with_crisis(pack: ContentPack, tmp_path: Path, text: str = TEST_CRISIS_YAML) -> ContentPack:
    """The real pack with the test crisis list in place of the real one."""
    rules = crisis_rules(tmp_path, text)
    assert not [p for p in rules.problems if p.path.endswith("crisis.yaml")], rules.problems
    return replace(pack, crisis=rules.crisis, environments={})


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment for `python -m bot` in tests: no token, no developer SENIM_* settings."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("SENIM_", "TELEGRAM_", "INSTAGRAM_"))
    }
    env["PYTHONIOENCODING"] = "utf-8"
    env.update(extra)
    return env


BOT = [sys.executable, "-m", "bot"]


def copy_content(dest: Path) -> Path:
    shutil.copytree(CONTENT, dest)
    return dest


def run_bot(
    args: list[str], *, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m bot ARGS` in the repository, with standard input, output captured."""
    return subprocess.run(
        [*BOT, *args],
        input=stdin,
        cwd=REPO,
        env=env if env is not None else subprocess_env(),
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=180,
    )


def run_bots(
    jobs: Mapping[str, tuple[list[str], str, dict[str, str]]],
) -> dict[str, subprocess.CompletedProcess[str]]:
    """Several independent `python -m bot` runs at once (each trains its own matcher)."""
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        futures = {
            name: pool.submit(run_bot, args, stdin=stdin, env=env)
            for name, (args, stdin, env) in jobs.items()
        }
        return {name: future.result() for name, future in futures.items()}
