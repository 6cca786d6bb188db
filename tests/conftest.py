"""Shared fixtures: settings on a temporary config, the app on a real SQLite file, a clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import bot.app
from bot.app import App, create_app
from bot.config import MatcherSettings, Settings, load_settings
from bot.content import ContentPack, load_content
from bot.core.matcher import Matcher
from bot.core.safety import CrisisDetector
from tests.helpers import CONTENT, LANGUAGES, Clock, with_crisis, write_config


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    return write_config(
        tmp_path / "config.yaml",
        {
            # Events written at once, so tests can read them right after an action.
            "database": {
                "path": str(tmp_path / "data" / "senim.sqlite3"),
                "event_flush_seconds": 0,
            },
            "content": {"path": str(CONTENT)},
        },
    )


@pytest.fixture
def settings(config_file: Path) -> Settings:
    return load_settings(config_file, environ={})


@pytest.fixture(scope="session")
def content_pack() -> ContentPack:
    """The real content pack, loaded once; treat it as read-only."""
    return load_content(CONTENT, LANGUAGES, "ru")


SERVED = ("approved", "sample")


@pytest.fixture(scope="session")
def real_matcher(content_pack: ContentPack) -> Matcher:
    """The matcher for the real pack with default settings, trained once per test run."""
    return Matcher(content_pack.served(SERVED), content_pack.out_of_scope, MatcherSettings())


@pytest.fixture
def shared_core(
    monkeypatch: pytest.MonkeyPatch, content_pack: ContentPack, real_matcher: Matcher
) -> None:
    """Let create_app reuse the trained real matcher instead of training it for every test.

    Only when it would build exactly that matcher (same scripts, scope and settings); the crisis
    detector is always built from the pack it is given.
    """
    real_build = bot.app.build_core

    def build_core(settings: Settings, content: ContentPack) -> tuple[Matcher, CrisisDetector]:
        same = (
            content.scripts is content_pack.scripts
            and content.out_of_scope is content_pack.out_of_scope
            and tuple(settings.content.serve_statuses) == SERVED
            and settings.matcher == real_matcher.settings
        )
        if not same:
            return real_build(settings, content)
        return real_matcher, CrisisDetector(content.crisis)

    monkeypatch.setattr(bot.app, "build_core", build_core)


@pytest.fixture
async def app(
    settings: Settings, content_pack: ContentPack, clock: Clock, shared_core: None
) -> AsyncIterator[App]:
    application = await create_app(settings, content=content_pack, clock=clock.now)
    try:
        yield application
    finally:
        await application.close()


@pytest.fixture
async def crisis_app(
    settings: Settings, content_pack: ContentPack, clock: Clock, tmp_path: Path, shared_core: None
) -> AsyncIterator[App]:
    """The app with the real scripts and the small test crisis list."""
    pack = with_crisis(content_pack, tmp_path)
    application = await create_app(settings, content=pack, clock=clock.now)
    try:
        yield application
    finally:
        await application.close()
