"""Settings: defaults, environment overrides, choice of file, and errors worded for operators."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.config import ConfigError, Settings, load_settings
from tests.helpers import REPO, run_bot, subprocess_env, write_config


def test_defaults_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no ./config.yaml here
    settings = load_settings(environ={})
    assert settings.languages == ("kk", "ru", "en")
    assert settings.default_language == "ru"
    assert settings.timezone == "Asia/Almaty"
    assert settings.database.path == Path("data/senim.sqlite3")
    assert settings.content.path == Path("content")
    assert settings.content.serve_statuses == ("approved", "sample")
    assert settings.telegram.token is None
    assert settings.telegram.mode == "polling"
    assert settings.telegram.api_server is None
    assert settings.instagram.enabled is False
    assert settings.privacy.retention_days == 180
    assert settings.matcher.minimum <= settings.matcher.confident
    assert [c.phone for c in settings.crisis.contacts["ru"]] == ["112"]


def test_shipped_config_matches_the_defaults() -> None:
    """The commented config.yaml is valid and says what the code defaults to."""
    shipped = load_settings(REPO / "config.yaml", environ={})
    defaults = Settings()
    assert shipped.model_dump() == defaults.model_dump()


def test_almaty_is_utc_plus_5_in_2025() -> None:
    settings = load_settings(REPO / "config.yaml", environ={})
    moment = datetime(2025, 7, 1, 12, 0, tzinfo=settings.tz)
    assert moment.utcoffset() == timedelta(hours=5)
    assert datetime(2025, 1, 15, 12, 0, tzinfo=settings.tz).utcoffset() == timedelta(hours=5)


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "c.yaml",
        {"database": {"path": "from-file.sqlite3"}, "matcher": {"confident": 0.6}},
    )
    settings = load_settings(
        config,
        environ={
            "SENIM_DATABASE__PATH": str(tmp_path / "env.sqlite3"),
            "SENIM_MATCHER__MARGIN": "0.1",
            "SENIM_DEFAULT_LANGUAGE": "kk",
            "TELEGRAM_BOT_TOKEN": "123:secret",
            "TELEGRAM_API_SERVER": "http://127.0.0.1:8081",
            "INSTAGRAM_PASSWORD": "pw",
        },
    )
    assert settings.database.path == tmp_path / "env.sqlite3"
    assert settings.matcher.confident == 0.6  # untouched keys of the section stay
    assert settings.matcher.margin == 0.1
    assert settings.default_language == "kk"
    assert settings.telegram.token == "123:secret"
    assert settings.telegram.api_server == "http://127.0.0.1:8081"
    assert settings.instagram.password == "pw"


def test_unrelated_environment_is_ignored(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.yaml", {})
    settings = load_settings(config, environ={"PATH": "/bin", "DATABASE__PATH": "x"})
    assert settings.database.path == Path("data/senim.sqlite3")


def test_config_argument_beats_senim_config(tmp_path: Path) -> None:
    a = write_config(tmp_path / "a.yaml", {"organisation": {"name": "A"}})
    b = write_config(tmp_path / "b.yaml", {"organisation": {"name": "B"}})
    assert load_settings(a, environ={"SENIM_CONFIG": str(b)}).organisation.name == "A"
    chosen = load_settings(environ={"SENIM_CONFIG": str(b)})
    assert chosen.organisation.name == "B"
    assert chosen.source == str(b)


def test_config_choice_on_the_command_line(tmp_path: Path) -> None:
    """--config and SENIM_CONFIG reach the program: a broken file named either way is read."""
    bad = tmp_path / "chosen.yaml"
    bad.write_text("colour: red\n", encoding="utf-8")
    by_flag = run_bot(["--config", str(bad), "doctor"])
    by_env = run_bot(["doctor"], env=subprocess_env(SENIM_CONFIG=str(bad)))
    for result in (by_flag, by_env):
        assert result.returncode == 2
        assert "chosen.yaml" in result.stderr
        assert "colour" in result.stderr


def test_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.yaml: no such config file"):
        load_settings(tmp_path / "nope.yaml", environ={})
    with pytest.raises(ConfigError, match="no such config file"):
        load_settings(environ={"SENIM_CONFIG": str(tmp_path / "gone.yaml")})


def test_bad_environment_value_names_the_key(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.yaml", {})
    with pytest.raises(ConfigError, match=r"matcher\.confident"):
        load_settings(config, environ={"SENIM_MATCHER__CONFIDENT": "high"})


BAD_CONFIGS = {
    "unknown-key": ("matcher:\n  confidnt: 0.4\n", ["matcher.confidnt", "unknown key"]),
    "unknown-section": ("colour: red\n", ["colour", "unknown key"]),
    "wrong-type": ("matcher:\n  confident: high\n", ["matcher.confident", "number", "'high'"]),
    "out-of-range": ("matcher:\n  max_choices: 7\n", ["matcher.max_choices", "3"]),
    "bad-timezone": ("timezone: Mars/Olympus\n", ["timezone", "IANA", "Mars/Olympus"]),
    "default-not-served": (
        "languages: [kk, ru]\ndefault_language: en\n",
        ["default_language", "'en'", "languages"],
    ),
    "unknown-language": ("languages: [kk, de]\n", ["languages", "'de'"]),
    "broken-yaml": ("languages: [kk, ru\nfoo: 1\n", ["not valid YAML", "line 2"]),
    "not-a-mapping": ("- a\n- b\n", ["mapping"]),
    "token-in-file": (
        "telegram:\n  token: '123456:ABC'\n",
        ["telegram.token", "TELEGRAM_BOT_TOKEN", "environment"],
    ),
    "password-in-file": (
        "instagram:\n  password: hunter2\n",
        ["instagram.password", "INSTAGRAM_PASSWORD"],
    ),
    "webhook-without-url": ("telegram:\n  mode: webhook\n", ["webhook_url"]),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_config_is_one_clear_message(tmp_path: Path, case: str) -> None:
    text, expected = BAD_CONFIGS[case]
    bad = tmp_path / "bad.yaml"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_settings(bad, environ={})
    message = str(raised.value)
    assert message.startswith(f"{bad}:")
    assert "\n" not in message
    for part in expected:
        assert part in message
    if case == "token-in-file":
        assert "123456:ABC" not in message  # a secret is never echoed back


@pytest.mark.parametrize(
    ("case", "key"),
    [
        ("unknown-key", "matcher.confidnt"),
        ("wrong-type", "matcher.confident"),
        ("bad-timezone", "timezone"),
        ("default-not-served", "default_language"),
        ("broken-yaml", "line 2"),
        ("token-in-file", "telegram.token"),
    ],
)
def test_bad_config_exits_2_without_traceback(tmp_path: Path, case: str, key: str) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD_CONFIGS[case][0], encoding="utf-8")
    result = run_bot(["--config", str(bad), "doctor"])
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert key in result.stderr
    assert str(bad) in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == ""


def test_missing_explicit_file_exits_2(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    result = run_bot(["--config", str(missing), "doctor"])
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"{missing}: no such config file" in result.stderr


def test_an_error_from_the_environment_names_the_variable(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("languages: [kk, ru, en]\n", encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_settings(config, environ={"SENIM_MATCHER__CONFIDENT": "abc"})
    assert "environment variable SENIM_MATCHER__CONFIDENT" in str(raised.value)
    with pytest.raises(ConfigError) as raised:
        load_settings(config, environ={"SENIM_DATABASE__PATHH": "x"})
    assert "environment variable SENIM_DATABASE__PATHH" in str(raised.value)
