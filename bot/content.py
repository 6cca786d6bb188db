"""Loading, validating and rendering content/: scripts, sandboxed Jinja templates, UI catalogs."""

from __future__ import annotations

import datetime as dt
import io
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Literal

import yaml
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup, escape
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

log = logging.getLogger(__name__)

Format = Literal["html", "plain"]
FORMATS: tuple[Format, ...] = ("html", "plain")
TELEGRAM_LIMIT = 4096
SCRIPT_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
TEMPLATE_NAMES = ("crisis", "out_of_scope", "reminder", "live_announcement")
CRISIS_CATEGORIES = ("self_harm", "harm_others", "life_threat")


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in content/, shown as 'file: problem'."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


# --- the script schema -------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Review(_Strict):
    status: Literal["approved", "draft", "sample"]
    reviewer: str = Field(min_length=1)
    date: dt.date


class _Local(_Strict):
    title: str = Field(min_length=1, max_length=64)
    examples: list[str] = Field(min_length=3)
    answer: str = Field(min_length=1)
    sources: list[str] = Field(default_factory=list)

    @field_validator("examples")
    @classmethod
    def _non_empty(cls, value: list[str]) -> list[str]:
        if any(not str(item).strip() for item in value):
            raise ValueError("an example question is empty")
        return value


@dataclass(frozen=True, slots=True)
class LocalScript:
    """One language's part of a script."""

    title: str
    examples: tuple[str, ...]
    answer: str
    sources: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Script:
    """A Q&A script: one topic, its texts per language, its review state."""

    id: str
    status: str
    reviewer: str
    reviewed: dt.date
    related: tuple[str, ...]
    texts: Mapping[str, LocalScript]
    path: Path


# A phrase is a sequence of words; a word marked True matches any word it begins ("убью*").
PhraseWords = tuple[tuple[str, bool], ...]


@dataclass(frozen=True, slots=True)
class CrisisRules:
    """One language's phrase lists for one crisis category, compiled."""

    phrases: tuple[PhraseWords, ...]
    patterns: tuple[re.Pattern[str], ...]
    exclude: tuple[re.Pattern[str], ...]


# --- rendering -----------------------------------------------------------------------------------


def _filters(fmt: Format) -> dict[str, Callable[..., Any]]:
    if fmt == "html":
        return {
            "bold": lambda text: Markup("<b>%s</b>") % text,
            "italic": lambda text: Markup("<i>%s</i>") % text,
            "link": lambda url, label=None: Markup('<a href="%s">%s</a>') % (url, label or url),
        }
    return {
        "bold": lambda text: str(text),
        "italic": lambda text: str(text),
        "link": lambda url, label=None: f"{label} ({url})" if label else str(url),
    }


def create_environment(fmt: Format) -> SandboxedEnvironment:
    """A sandboxed Jinja environment for one output format; authors cannot run code."""
    env = SandboxedEnvironment(
        undefined=StrictUndefined,
        autoescape=fmt == "html",
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters.update(_filters(fmt))
    return env


class RenderError(Exception):
    """A template could not be rendered; content check reports these before they reach anyone."""


_TELEGRAM_TAGS = {
    "b": set(),
    "strong": set(),
    "i": set(),
    "em": set(),
    "u": set(),
    "ins": set(),
    "s": set(),
    "strike": set(),
    "del": set(),
    "a": {"href"},
    "code": {"class"},
    "pre": set(),
    "tg-spoiler": set(),
    "span": {"class"},
    "blockquote": {"expandable"},
}


class _TelegramHTMLChecker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.stack: list[str] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _TELEGRAM_TAGS:
            self.problems.append(f"tag <{tag}> is not allowed in Telegram HTML")
            return
        for name, _value in attrs:
            if name not in _TELEGRAM_TAGS[tag]:
                self.problems.append(f"attribute {name!r} is not allowed on <{tag}>")
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag not in _TELEGRAM_TAGS:
            return
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes a tag that is not open")
            return
        self.stack.pop()

    def handle_entityref(self, name: str) -> None:
        if name not in {"lt", "gt", "amp", "quot"}:
            self.problems.append(f"entity &{name}; is not supported by Telegram")


def telegram_html_problems(text: str) -> list[str]:
    """What would make Telegram reject this text with parse_mode HTML."""
    checker = _TelegramHTMLChecker()
    checker.feed(text)
    checker.close()
    problems = list(checker.problems)
    if checker.stack:
        problems.append(f"<{checker.stack[-1]}> is never closed")
    if re.search(r"&(?![a-zA-Z]+;|#\d+;|#x[0-9a-fA-F]+;)", text):
        problems.append("a bare '&' must be written as &amp;")
    if len(text) > TELEGRAM_LIMIT:
        problems.append(f"{len(text)} characters, over Telegram's limit of {TELEGRAM_LIMIT}")
    return problems


# --- UI strings ----------------------------------------------------------------------------------


class Catalogs:
    """UI strings from gettext catalogs; a missing translation shows the default language."""

    def __init__(self, translations: Mapping[str, Translations], default: str) -> None:
        self._translations = dict(translations)
        self.default = default
        fallback = self._translations.get(default)
        for lang, catalog in self._translations.items():
            if lang != default and fallback is not None:
                catalog.add_fallback(fallback)

    def gettext(self, lang: str, message: str, **values: Any) -> str:
        catalog = self._translations.get(lang) or self._translations.get(self.default)
        text = catalog.gettext(message) if catalog is not None else message
        return text.format(**values) if values else text


def _load_catalog(path: Path) -> tuple[Translations | None, list[str], list[Problem]]:
    """Parse a .po file, compile it in memory (Babel), and list its untranslated message ids."""
    try:
        with path.open("rb") as handle:
            catalog = read_po(handle, abort_invalid=True)
    except Exception as exc:
        return None, [], [Problem(str(path), f"cannot read the catalog: {exc}")]
    missing = [
        str(message.id)
        for message in catalog
        if message.id and (not message.string or message.fuzzy)
    ]
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return Translations(fp=buffer), missing, []


# --- the pack ------------------------------------------------------------------------------------


@dataclass
class ContentPack:
    """Everything in content/, loaded and compiled, with the problems found on the way."""

    root: Path
    languages: tuple[str, ...]
    default_language: str
    scripts: dict[str, Script] = field(default_factory=dict)
    out_of_scope: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Example messages for the crisis classifier: "crisis" and "not_crisis", per language.
    crisis_examples: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    crisis: dict[str, dict[str, CrisisRules]] = field(default_factory=dict)
    catalogs: Catalogs = field(default_factory=lambda: Catalogs({}, "ru"))
    problems: list[Problem] = field(default_factory=list)
    environments: dict[str, SandboxedEnvironment] = field(default_factory=dict)
    _compiled: dict[tuple[str, str], Any] = field(default_factory=dict, repr=False)
    _files: dict[Path, str] = field(default_factory=dict, repr=False)

    def env(self, fmt: Format) -> SandboxedEnvironment:
        if fmt not in self.environments:
            self.environments[fmt] = create_environment(fmt)
        return self.environments[fmt]

    def served(self, statuses: Iterable[str]) -> dict[str, Script]:
        allowed = set(statuses)
        return {sid: s for sid, s in self.scripts.items() if s.status in allowed}

    def render_string(self, source: str, fmt: Format, context: Mapping[str, Any]) -> str:
        """Render a template source; compiled templates are kept (content is read at start)."""
        try:
            template = self._compiled.get((fmt, source))
            if template is None:
                template = self.env(fmt).from_string(source)
                self._compiled[(fmt, source)] = template
            return str(template.render(**context)).strip()
        except TemplateError as exc:
            raise RenderError(str(exc)) from exc
        except Exception as exc:  # the sandbox raises SecurityError and others
            raise RenderError(f"{type(exc).__name__}: {exc}") from exc

    def template_path(self, lang: str, name: str) -> Path:
        return self.root / "templates" / lang / f"{name}.j2"

    def render_template(
        self, name: str, lang: str, fmt: Format, context: Mapping[str, Any]
    ) -> str:
        """Render content/templates/<lang>/<name>.j2, falling back to the default language."""
        for candidate in (lang, self.default_language):
            path = self.template_path(candidate, name)
            source = self._files.get(path)
            if source is None and path.is_file():
                source = self._files[path] = path.read_text(encoding="utf-8")
            if source is not None:
                return self.render_string(source, fmt, context)
        raise RenderError(f"no template {name!r} for {lang!r}")

    def render_answer(
        self, script: Script, lang: str, fmt: Format, context: Mapping[str, Any]
    ) -> str:
        """The answer text followed by its sources, for one channel format."""
        local = script.texts.get(lang) or script.texts[self.default_language]
        body = self.render_string(local.answer, fmt, context)
        if not local.sources:
            return body
        heading = self.catalogs.gettext(lang, "Sources")
        if fmt == "html":
            items = "\n".join(f"• {escape(item)}" for item in local.sources)
            return f"{body}\n\n<i>{escape(heading)}:</i>\n{items}"
        items = "\n".join(f"• {item}" for item in local.sources)
        return f"{body}\n\n{heading}:\n{items}"


def sample_context(pack: ContentPack, lang: str, org: str = "Senim") -> dict[str, Any]:
    """The context content check renders every template with."""
    return {
        "lang": lang,
        "org": org,
        "contacts": [{"name": "Emergency", "phone": "112"}],
        "lecture": {
            "title": "Sample & lecture",
            "when": "02.06.2025 18:00",
            "city": "Almaty",
            "place": "Library <hall> 2",
            "link": "https://example.org/live",
            "lecturer": "A. Lecturer",
        },
        "hours": 24,
        "live": {
            "title": "Sample & broadcast",
            "host": "A. Host",
            "time": "20:00",
            "link": "https://example.org/live",
            "date": "02.06.2025",
        },
    }


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root.parent))
    except ValueError:
        return str(path)


def _read_yaml(path: Path, problems: list[Problem], root: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problems.append(Problem(_relative(path, root), f"{where}not valid YAML ({exc})"))
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(Problem(_relative(path, root), f"cannot read: {exc}"))
    return None


def _load_script(
    path: Path, data: Any, languages: tuple[str, ...], root: Path
) -> tuple[Script | None, list[Problem]]:
    name = _relative(path, root)
    if not isinstance(data, dict):
        return None, [Problem(name, "expected a mapping with id, review, related and languages")]
    problems: list[Problem] = []
    unknown = set(data) - {"id", "review", "related", *languages}
    for key in sorted(unknown, key=str):
        problems.append(Problem(name, f"unknown key {key!r}"))
    sid = data.get("id")
    if not isinstance(sid, str) or not SCRIPT_ID.match(sid):
        problems.append(Problem(name, "id must be lowercase words joined by '-'"))
    elif sid != path.stem:
        problems.append(Problem(name, f"id {sid!r} does not match the file name {path.stem!r}"))
    try:
        review = _Review.model_validate(data.get("review"))
    except ValidationError as exc:
        problems.append(Problem(name, f"review: {_pydantic_message(exc)}"))
        review = None
    related = data.get("related", [])
    if not isinstance(related, list) or not all(isinstance(r, str) for r in related):
        problems.append(Problem(name, "related must be a list of topic ids"))
        related = []
    elif not 1 <= len(related) <= 3:
        problems.append(Problem(name, f"related: expected 1 to 3 topic ids, found {len(related)}"))
    texts: dict[str, LocalScript] = {}
    for lang in languages:
        if lang not in data:
            problems.append(Problem(name, f"language {lang!r} is missing"))
            continue
        try:
            local = _Local.model_validate(data[lang])
        except ValidationError as exc:
            problems.append(Problem(name, f"{lang}: {_pydantic_message(exc)}"))
            continue
        texts[lang] = LocalScript(
            title=local.title.strip(),
            examples=tuple(str(e).strip() for e in local.examples),
            answer=local.answer,
            sources=tuple(str(s).strip() for s in local.sources),
        )
    if problems or review is None or not isinstance(sid, str):
        return None, problems
    return (
        Script(
            id=sid,
            status=review.status,
            reviewer=review.reviewer,
            reviewed=review.date,
            related=tuple(related),
            texts=texts,
            path=path,
        ),
        problems,
    )


def _pydantic_message(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        msg = str(err["msg"]).removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts)


def _compile_phrases(
    items: Any, name: str, where: str, problems: list[Problem], fold: Callable[[str], str]
) -> tuple[PhraseWords, ...]:
    """Phrases as word sequences, normalised exactly like the messages they are matched in."""
    from bot.core.text import normalise

    compiled = []
    for item in items or []:
        if not isinstance(item, str) or not item.strip():
            problems.append(Problem(name, f"{where}: an entry is empty or not text"))
            continue
        words: list[tuple[str, bool]] = []
        for raw in item.split():
            prefix = raw.endswith("*")
            parts = normalise(raw.rstrip("*")).split()
            words.extend((part, prefix and i == len(parts) - 1) for i, part in enumerate(parts))
        if words:
            compiled.append(tuple(words))
        else:
            problems.append(Problem(name, f"{where}: phrase {item!r} has no letters"))
    return tuple(compiled)


def _compile_patterns(
    items: Any, name: str, where: str, problems: list[Problem], fold: Callable[[str], str]
) -> tuple[re.Pattern[str], ...]:
    compiled = []
    for item in items or []:
        if not isinstance(item, str) or not item.strip():
            problems.append(Problem(name, f"{where}: an entry is empty or not text"))
            continue
        try:
            compiled.append(re.compile(fold(item), re.IGNORECASE))
        except re.error as exc:
            problems.append(Problem(name, f"{where}: bad regular expression {item!r}: {exc}"))
    return tuple(compiled)


def _load_crisis(
    path: Path, data: Any, languages: tuple[str, ...], root: Path
) -> tuple[dict[str, dict[str, CrisisRules]], list[Problem]]:
    """One crisis*.yaml file: language -> category -> phrases, patterns, exclude."""
    from bot.core.text import fold_letters, normalise

    name = _relative(path, root)
    problems: list[Problem] = []
    rules: dict[str, dict[str, CrisisRules]] = {}
    if not isinstance(data, dict):
        return {}, [Problem(name, "expected a mapping of language -> categories")]
    for lang in sorted(set(data) - set(languages), key=str):
        problems.append(Problem(name, f"unknown language {lang!r}"))
    for lang in languages:
        categories = data.get(lang)
        if categories is None:
            continue
        if not isinstance(categories, dict):
            problems.append(Problem(name, f"{lang}: expected a mapping of categories"))
            continue
        rules[lang] = {}
        for category in sorted(set(categories) - set(CRISIS_CATEGORIES), key=str):
            problems.append(Problem(name, f"{lang}: unknown category {category!r}"))
        for category in CRISIS_CATEGORIES:
            spec = categories.get(category)
            if spec is None:
                continue
            if not isinstance(spec, dict):
                problems.append(Problem(name, f"{lang}.{category}: expected phrases/patterns"))
                continue
            unknown = set(spec) - {"phrases", "patterns", "exclude"}
            if unknown:
                problems.append(
                    Problem(name, f"{lang}.{category}: unknown keys {sorted(unknown)}")
                )
            where = f"{lang}.{category}"
            rules[lang][category] = CrisisRules(
                phrases=_compile_phrases(spec.get("phrases"), name, where, problems, normalise),
                patterns=_compile_patterns(
                    spec.get("patterns"), name, where, problems, fold_letters
                ),
                exclude=_compile_patterns(
                    spec.get("exclude"), name, where, problems, fold_letters
                ),
            )
    return rules, problems


def _merge_crisis(
    into: dict[str, dict[str, CrisisRules]], extra: dict[str, dict[str, CrisisRules]]
) -> None:
    for lang, categories in extra.items():
        target = into.setdefault(lang, {})
        for category, rules in categories.items():
            old = target.get(category)
            target[category] = (
                rules
                if old is None
                else CrisisRules(
                    phrases=old.phrases + rules.phrases,
                    patterns=old.patterns + rules.patterns,
                    exclude=old.exclude + rules.exclude,
                )
            )


def _load_crisis_examples(
    path: Path, data: Any, languages: tuple[str, ...], root: Path
) -> tuple[dict[str, dict[str, tuple[str, ...]]], list[Problem]]:
    name = _relative(path, root)
    if not isinstance(data, dict) or set(data) - {"crisis", "not_crisis"}:
        return {}, [
            Problem(name, "expected the keys crisis and not_crisis, each language -> list")
        ]
    result: dict[str, dict[str, tuple[str, ...]]] = {}
    problems: list[Problem] = []
    for kind in ("crisis", "not_crisis"):
        by_language = data.get(kind)
        if not isinstance(by_language, dict):
            problems.append(Problem(name, f"{kind}: expected a mapping of language -> list"))
            continue
        for lang in languages:
            items = by_language.get(lang) or []
            if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
                problems.append(Problem(name, f"{kind}.{lang}: expected a list of messages"))
                continue
            result.setdefault(kind, {})[lang] = tuple(i for i in items if i.strip())
    return result, problems


def load_content(root: str | Path, languages: Iterable[str], default_language: str) -> ContentPack:
    """Load content/ tolerantly: what is broken is skipped and listed in pack.problems."""
    root = Path(root)
    langs = tuple(languages)
    pack = ContentPack(root=root, languages=langs, default_language=default_language)
    problems = pack.problems
    scripts_dir = root / "scripts"
    if not scripts_dir.is_dir():
        problems.append(Problem(str(scripts_dir), "the scripts folder is missing"))
    else:
        for path in sorted(scripts_dir.glob("*.yaml")):
            before = len(problems)
            data = _read_yaml(path, problems, root)
            if len(problems) > before:
                continue
            script, found = _load_script(path, data, langs, root)
            problems.extend(found)
            if script is not None:
                pack.scripts[script.id] = script
    scope = root / "scope" / "out-of-scope.yaml"
    if scope.is_file():
        data = _read_yaml(scope, problems, root)
        if isinstance(data, dict):
            for lang in langs:
                items = data.get(lang) or []
                pack.out_of_scope[lang] = tuple(str(i) for i in items if str(i).strip())
        elif data is not None:
            problems.append(
                Problem(_relative(scope, root), "expected a mapping of language -> list")
            )
    examples = root / "safety" / "classifier-examples.yaml"
    if examples.is_file():
        data = _read_yaml(examples, problems, root)
        if data is not None:
            pack.crisis_examples, found = _load_crisis_examples(examples, data, langs, root)
            problems.extend(found)
    crisis_files = sorted((root / "safety").glob("crisis*.yaml"))
    for crisis in crisis_files:
        data = _read_yaml(crisis, problems, root)
        if data is not None:
            found_rules, found = _load_crisis(crisis, data, langs, root)
            problems.extend(found)
            _merge_crisis(pack.crisis, found_rules)
    where = _relative(root / "safety" / "crisis.yaml", root)
    if not crisis_files:
        problems.append(Problem(where, "the crisis phrase list is missing"))
    else:
        for lang in langs:
            for category in CRISIS_CATEGORIES:
                rules = pack.crisis.get(lang, {}).get(category)
                if rules is None or not (rules.phrases or rules.patterns):
                    problems.append(
                        Problem(where, f"{lang}.{category}: no phrases or patterns at all")
                    )
    translations: dict[str, Translations] = {}
    for lang in langs:
        po = root / "locales" / lang / "LC_MESSAGES" / "messages.po"
        if not po.is_file():
            problems.append(Problem(_relative(po, root), "the UI catalog is missing"))
            continue
        catalog, _missing, found = _load_catalog(po)
        problems.extend(found)
        if catalog is not None:
            translations[lang] = catalog
    pack.catalogs = Catalogs(translations, default_language)
    return pack


def check_content(
    root: str | Path,
    languages: Iterable[str],
    default_language: str,
    ui_messages: Iterable[str] = (),
) -> tuple[ContentPack, list[Problem]]:
    """Everything content check verifies, beyond loading: templates, links, HTML, translations."""
    pack = load_content(root, languages, default_language)
    problems = list(pack.problems)
    root = Path(root)
    for script in pack.scripts.values():
        name = _relative(script.path, root)
        for rel in script.related:
            if rel == script.id:
                problems.append(Problem(name, "related: a topic cannot be related to itself"))
            elif rel not in pack.scripts:
                problems.append(Problem(name, f"related: unknown topic id {rel!r}"))
        for lang, local in script.texts.items():
            for fmt in FORMATS:
                try:
                    text = pack.render_answer(script, lang, fmt, sample_context(pack, lang))
                except RenderError as exc:
                    problems.append(Problem(name, f"{lang}: the answer does not render: {exc}"))
                    break
                if fmt == "html":
                    problems.extend(
                        Problem(name, f"{lang}: {problem}")
                        for problem in telegram_html_problems(text)
                    )
            if len(set(local.examples)) != len(local.examples):
                problems.append(Problem(name, f"{lang}: an example question is repeated"))
    for lang in pack.languages:
        for template in TEMPLATE_NAMES:
            path = pack.template_path(lang, template)
            if not path.is_file():
                problems.append(Problem(_relative(path, root), "the template is missing"))
                continue
            for fmt in FORMATS:
                try:
                    text = pack.render_string(
                        path.read_text(encoding="utf-8"), fmt, sample_context(pack, lang)
                    )
                except (RenderError, TemplateSyntaxError) as exc:
                    problems.append(Problem(_relative(path, root), f"does not render: {exc}"))
                    break
                if fmt == "html":
                    problems.extend(
                        Problem(_relative(path, root), p) for p in telegram_html_problems(text)
                    )
    for lang in pack.languages:
        po = root / "locales" / lang / "LC_MESSAGES" / "messages.po"
        if not po.is_file():
            continue
        _catalog, missing, _found = _load_catalog(po)
        wanted = set(ui_messages)
        if wanted:
            with po.open("rb") as handle:
                present = {str(m.id) for m in read_po(handle) if m.id}
            missing = sorted(set(missing) | (wanted - present))
        for message in missing:
            problems.append(
                Problem(
                    _relative(po, root),
                    f"no translation for {message!r}; {default_language!r} is shown instead",
                )
            )
    return pack, problems


__all__ = [
    "FORMATS",
    "Catalogs",
    "ContentPack",
    "CrisisRules",
    "Format",
    "LocalScript",
    "PhraseWords",
    "Problem",
    "RenderError",
    "Script",
    "check_content",
    "load_content",
    "telegram_html_problems",
]
