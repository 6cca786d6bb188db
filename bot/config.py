"""Settings: config.yaml first, then environment variables; secrets only from the environment."""

from __future__ import annotations

import datetime as dt
import os
import re
import zoneinfo
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

LanguageCode = Literal["kk", "ru", "en"]
ReviewStatus = Literal["approved", "draft", "sample"]

DEFAULT_CONFIG = Path("config.yaml")
ENV_PREFIX = "SENIM_"
SECRET_KEYS = ("telegram.token", "instagram.password")


class ConfigError(Exception):
    """A configuration problem, worded for the operator: file, key and what is expected."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


HexColour = Annotated[str, Field(pattern=r"^#[0-9A-Fa-f]{6}$")]


class ColourSettings(_Section):
    """The organisation's colours (#RRGGBB) for generated images such as the story card."""

    background: HexColour = "#0B3D5C"
    accent: HexColour = "#F2B134"
    text: HexColour = "#FFFFFF"


class OrganisationSettings(_Section):
    name: str = "Senim"
    colours: ColourSettings = ColourSettings()


class DatabaseSettings(_Section):
    path: Path = Path("data/senim.sqlite3")
    event_flush_seconds: float = Field(2.0, ge=0, le=60)


class ContentSettings(_Section):
    path: Path = Path("content")
    serve_statuses: tuple[ReviewStatus, ...] = ("approved", "sample")


class MatcherSettings(_Section):
    confident: float = Field(0.3, ge=0, le=1)
    margin: float = Field(0.2, ge=0, le=1)
    minimum: float = Field(0.05, ge=0, le=1)
    choice_floor: float = Field(0.05, ge=0, le=1)
    max_choices: int = Field(3, ge=2, le=3)
    max_question_chars: int = Field(2000, ge=50)

    @model_validator(mode="after")
    def _ordered(self) -> MatcherSettings:
        if self.minimum > self.confident:
            raise ValueError("minimum must not be greater than confident")
        return self


class CrisisContact(_Section):
    name: str
    phone: str


def _default_contacts() -> dict[LanguageCode, tuple[CrisisContact, ...]]:
    return {
        "kk": (CrisisContact(name="Бірыңғай құтқару қызметі", phone="112"),),
        "ru": (CrisisContact(name="Единая служба спасения", phone="112"),),
        "en": (CrisisContact(name="Emergency services", phone="112"),),
    }


class CrisisSettings(_Section):
    classifier_threshold: float = Field(0.5, ge=0, le=1)
    contacts: dict[LanguageCode, tuple[CrisisContact, ...]] = Field(
        default_factory=lambda: _default_contacts()
    )

    def contacts_for(self, lang: str, default: str) -> tuple[CrisisContact, ...]:
        """The emergency contacts for a language, else the default language's."""
        configured = {str(k): v for k, v in self.contacts.items()}
        return configured.get(lang) or configured.get(default, ())


class ThrottleSettings(_Section):
    messages: int = Field(8, ge=1)
    window_seconds: float = Field(10.0, gt=0)


class TelegramSettings(_Section):
    token: str | None = None
    specialists_chat_id: int | None = None
    mode: Literal["polling", "webhook"] = "polling"
    api_server: str | None = None
    webhook_url: str | None = None
    webhook_secret: str | None = None
    listen_host: str = "127.0.0.1"
    listen_port: int = Field(8080, ge=1, le=65535)
    throttle: ThrottleSettings = ThrottleSettings()
    rate_per_second: float = Field(25.0, gt=0, le=30)
    per_chat_interval: float = Field(1.0, ge=0)
    send_concurrency: int = Field(4, ge=1, le=64)

    @model_validator(mode="after")
    def _webhook_complete(self) -> TelegramSettings:
        if self.mode == "webhook" and not self.webhook_url:
            raise ValueError("mode 'webhook' needs telegram.webhook_url")
        return self


class InstagramSettings(_Section):
    enabled: bool = False
    username: str | None = None
    password: str | None = None
    # The saved session (cookies and device ids) from `python -m bot instagram login`.
    session_path: Path = Path("data/instagram-session.json")
    poll_min_seconds: float = Field(20.0, ge=5, le=3600)
    poll_max_seconds: float = Field(40.0, ge=5, le=3600)
    approve_requests: bool = True
    # Outgoing direct messages: at most this many per minute, and this far apart to one person.
    messages_per_minute: float = Field(20.0, gt=0, le=60)
    per_chat_interval: float = Field(2.0, ge=0)
    # When Instagram pushes back: the first pause, doubled at each further push-back.
    backoff_minutes: float = Field(15.0, ge=1, le=1440)
    backoff_max_minutes: float = Field(720.0, ge=1, le=10_080)
    stories: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> InstagramSettings:
        if self.poll_max_seconds < self.poll_min_seconds:
            raise ValueError("instagram.poll_max_seconds must not be less than poll_min_seconds")
        if self.backoff_max_minutes < self.backoff_minutes:
            raise ValueError("instagram.backoff_max_minutes must not be less than backoff_minutes")
        if self.enabled and not self.username:
            raise ValueError("instagram.enabled needs instagram.username")
        return self


class SpecialistSettings(_Section):
    telegram_id: int
    name: str = Field(min_length=1, max_length=64, pattern=r"^[^<>&]+$")
    skills: tuple[Literal["theology", "psychology", "law", "social"], ...] = Field(min_length=1)
    languages: tuple[LanguageCode, ...] = Field(min_length=1)
    gender: Literal["female", "male"] | None = None
    max_open: int = Field(5, ge=1, le=100)


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class WorkingHoursSettings(_Section):
    days: tuple[Weekday, ...] = Field(("mon", "tue", "wed", "thu", "fri"), min_length=1)
    start: dt.time = dt.time(9, 0)
    end: dt.time = dt.time(18, 0)

    @model_validator(mode="after")
    def _start_before_end(self) -> WorkingHoursSettings:
        if self.end <= self.start:
            raise ValueError("queue.working_hours.end must be after start (HH:MM, local time)")
        return self


class FirstReplySettings(_Section):
    urgent_minutes: int = Field(15, ge=1, le=10_080)
    normal_minutes: int = Field(240, ge=1, le=43_200)


class QueueSettings(_Section):
    # topic id -> the skill its tickets need (theology, psychology, law, social)
    topic_skills: dict[str, Literal["theology", "psychology", "law", "social"]] = Field(
        default_factory=dict
    )
    first_reply: FirstReplySettings = FirstReplySettings()
    working_hours: WorkingHoursSettings = WorkingHoursSettings()
    reopen_hours: float = Field(24.0, ge=0, le=720)
    workspace_language: LanguageCode | None = None
    check_seconds: float = Field(60.0, ge=1, le=3600)


def _clock_time(value: str) -> str:
    match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", value.strip())
    if not match:
        raise ValueError("a local time of day as HH:MM, for example 09:00")
    return f"{int(match.group(1)):02d}:{match.group(2)}"


class LectureSettings(_Section):
    # Reminders before a lecture starts, in hours (fractions allowed: 0.5 is half an hour).
    reminder_offsets_hours: tuple[float, ...] = Field((24.0, 1.0), max_length=5)

    @field_validator("reminder_offsets_hours")
    @classmethod
    def _offsets(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(not 0 < v <= 24 * 14 for v in value):
            raise ValueError("each offset must be more than 0 and at most 336 hours")
        if len(set(value)) != len(value):
            raise ValueError("an offset is listed twice")
        return tuple(sorted(value, reverse=True))


class LiveSettings(_Section):
    announce_time: str = "09:00"
    channel_id: int | str | None = None
    grace_minutes: int = Field(120, ge=0, le=24 * 60)
    plan_check_time: str = "18:00"

    @field_validator("announce_time", "plan_check_time", mode="before")
    @classmethod
    def _time(cls, value: object) -> object:
        # YAML 1.1 reads an unquoted 18:00 as the base-60 number 1080; take it back.
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 24 * 60:
            value = f"{value // 60}:{value % 60:02d}"
        return _clock_time(value) if isinstance(value, str) else value


class PrivacySettings(_Section):
    retention_days: int = Field(180, ge=1)


class LoggingSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class Settings(_Section):
    """All settings of one deployment."""

    languages: tuple[LanguageCode, ...] = ("kk", "ru", "en")
    default_language: LanguageCode = "ru"
    timezone: str = "Asia/Almaty"
    organisation: OrganisationSettings = OrganisationSettings()
    database: DatabaseSettings = DatabaseSettings()
    content: ContentSettings = ContentSettings()
    matcher: MatcherSettings = MatcherSettings()
    crisis: CrisisSettings = CrisisSettings()
    telegram: TelegramSettings = TelegramSettings()
    instagram: InstagramSettings = InstagramSettings()
    queue: QueueSettings = QueueSettings()
    specialists: tuple[SpecialistSettings, ...] = ()
    coordinators: tuple[int, ...] = ()
    lectures: LectureSettings = LectureSettings()
    live: LiveSettings = LiveSettings()
    privacy: PrivacySettings = PrivacySettings()
    logging: LoggingSettings = LoggingSettings()
    source: str = Field("defaults", exclude=True)

    @field_validator("languages")
    @classmethod
    def _languages_not_empty(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("at least one language is needed")
        if len(set(value)) != len(value):
            raise ValueError("a language is listed twice")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError("an IANA time zone such as Asia/Almaty") from None
        return value

    @field_validator("specialists")
    @classmethod
    def _specialists_unique(
        cls, value: tuple[SpecialistSettings, ...]
    ) -> tuple[SpecialistSettings, ...]:
        ids = [s.telegram_id for s in value]
        if len(set(ids)) != len(ids):
            raise ValueError("a specialist's telegram_id is listed twice")
        return value

    @model_validator(mode="after")
    def _default_is_served(self) -> Settings:
        if self.default_language not in self.languages:
            raise ValueError(
                f"default_language {self.default_language!r} must be one of languages "
                f"{list(self.languages)}"
            )
        return self

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


def _set_path(data: dict[str, Any], dotted: str, value: Any) -> None:
    node = data
    *parents, leaf = dotted.split(".")
    for key in parents:
        child = node.get(key)
        if not isinstance(child, dict):
            child = {}
            node[key] = child
        node = child
    node[leaf] = value


def _get_path(data: Mapping[str, Any], dotted: str) -> Any:
    node: Any = data
    for key in dotted.split("."):
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    return node


def _env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """SENIM_SECTION__KEY=value overrides section.key; values are parsed as YAML scalars."""
    overrides: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or name == "SENIM_CONFIG":
            continue
        dotted = name[len(ENV_PREFIX) :].lower().replace("__", ".")
        try:
            value = yaml.safe_load(raw) if raw else None
        except yaml.YAMLError:
            value = raw
        _set_path(overrides, dotted, value)
    aliases = {
        "TELEGRAM_BOT_TOKEN": "telegram.token",
        "TELEGRAM_API_SERVER": "telegram.api_server",
        "INSTAGRAM_PASSWORD": "instagram.password",
    }
    for env_name, dotted in aliases.items():
        if environ.get(env_name):
            _set_path(overrides, dotted, environ[env_name])
    return overrides


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value
    return base


def _describe(error: Mapping[str, Any]) -> str:
    loc = ".".join(str(part) for part in error["loc"]) or "(top level)"
    if error["type"] == "extra_forbidden":
        return f"{loc}: unknown key (check the spelling against the commented config.yaml)"
    message = str(error["msg"]).removeprefix("Value error, ")
    got = error.get("input")
    shown = "" if isinstance(got, dict | list) or got is None else f" (got {got!r})"
    return f"{loc}: {message}{shown}"


def load_settings(
    path: str | Path | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Read the config file (path, else $SENIM_CONFIG, else ./config.yaml) and the environment."""
    environ = os.environ if environ is None else environ
    chosen = Path(path or environ.get("SENIM_CONFIG") or DEFAULT_CONFIG)
    data: dict[str, Any] = {}
    if chosen.exists():
        try:
            loaded = yaml.safe_load(chosen.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" line {mark.line + 1}" if mark is not None else ""
            detail = getattr(exc, "problem", None) or " ".join(str(exc).split())
            raise ConfigError(f"{chosen}:{where} is not valid YAML: {detail}") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"{chosen}: expected a mapping of keys at the top level")
        data = loaded or {}
        for secret in SECRET_KEYS:
            if _get_path(data, secret) is not None:
                env = (
                    "TELEGRAM_BOT_TOKEN" if secret.startswith("telegram") else "INSTAGRAM_PASSWORD"
                )
                raise ConfigError(
                    f"{chosen}: {secret}: secrets are not read from files; remove it and set "
                    f"the environment variable {env} instead"
                )
    elif path is not None or environ.get("SENIM_CONFIG"):
        raise ConfigError(f"{chosen}: no such config file")
    overrides = _env_overrides(environ)
    _merge(data, overrides)
    try:
        return Settings.model_validate({**data, "source": str(chosen)})
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            variable = _env_name(overrides, err["loc"], environ)
            where = f"environment variable {variable}: " if variable else ""
            problems.append(where + _describe(err))
        raise ConfigError(f"{chosen}: {'; '.join(problems)}") from None


def _env_name(
    overrides: Mapping[str, Any], loc: tuple[int | str, ...], environ: Mapping[str, str]
) -> str | None:
    """The environment variable a failing key came from, if it came from one."""
    node: Any = overrides
    for part in loc:
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    dotted = ".".join(str(p) for p in loc)
    for alias, key in (("TELEGRAM_API_SERVER", "telegram.api_server"),):
        if dotted == key and environ.get(alias):
            return alias
    return ENV_PREFIX + "__".join(str(p).upper() for p in loc)
