"""content/: the real pack, and small broken packs built from it, each broken in one place."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.app import create_app
from bot.config import Settings
from bot.content import (
    ContentPack,
    Problem,
    check_content,
    load_content,
    telegram_html_problems,
)
from bot.core.conversations import UI_MESSAGES
from bot.storage import EventRepository
from tests.helpers import (
    CONTENT,
    LANGUAGES,
    REAL_CRISIS,
    TEST_CRISIS_YAML,
    Clock,
    run_bot,
    write_config,
)

# The mini pack: three real scripts whose related lists point at each other. SCRIPT is the one
# the script-level tests break; nothing points at it, so its problems stay in its own file.
RELATED = {
    "jihad-meaning": ["takfir"],
    "takfir": ["jihad-meaning"],
    "secular-state": ["jihad-meaning", "takfir"],
}
SCRIPT = "secular-state"
SCRIPT_FILE = f"content/scripts/{SCRIPT}.yaml"


def build_pack(root: Path) -> Path:
    """A small valid pack in root/content: the real catalogs, templates, scope, three scripts."""
    pack = root / "content"
    for folder in ("locales", "templates", "scope"):
        if (CONTENT / folder).is_dir():
            shutil.copytree(CONTENT / folder, pack / folder)
    # The small test crisis list, not the real ones: those are checked on the real pack, and
    # these tests are about scripts, templates and catalogs.
    (pack / "safety").mkdir(parents=True)
    (pack / "safety" / "crisis.yaml").write_text(TEST_CRISIS_YAML, encoding="utf-8")
    (pack / "scripts").mkdir()
    for sid, related in RELATED.items():
        text = (CONTENT / "scripts" / f"{sid}.yaml").read_text(encoding="utf-8")
        text, count = re.subn(
            r"^related: .*$", f"related: [{', '.join(related)}]", text, flags=re.MULTILINE
        )
        assert count == 1
        (pack / "scripts" / f"{sid}.yaml").write_text(text, encoding="utf-8")
    return pack


def edit_script(pack: Path, change: Callable[[dict[str, Any]], None], sid: str = SCRIPT) -> None:
    path = pack / "scripts" / f"{sid}.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def set_answer(answer: str, lang: str = "ru") -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        data[lang]["answer"] = answer

    return change


def check(pack: Path) -> list[Problem]:
    _pack, problems = check_content(pack, LANGUAGES, "ru", UI_MESSAGES)
    return problems


def only_in(problems: list[Problem], path: str) -> list[str]:
    """The problems' messages, after asserting that every one of them is about path."""
    assert problems, "expected a problem to be reported"
    assert {p.path for p in problems} == {path}, [str(p) for p in problems]
    for problem in problems:
        assert str(problem) == f"{problem.path}: {problem.message}"
    return [p.message for p in problems]


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    return build_pack(tmp_path)


# --- the real pack -------------------------------------------------------------------------------


def test_real_pack_loads(content_pack: ContentPack) -> None:
    expected = [] if REAL_CRISIS.is_file() else ["content/safety/crisis.yaml"]
    assert [p.path for p in content_pack.problems] == expected
    assert len(content_pack.scripts) >= 20
    for script in content_pack.scripts.values():
        assert set(script.texts) == set(LANGUAGES)
        assert script.path.stem == script.id


@pytest.mark.skipif(not REAL_CRISIS.is_file(), reason="content/safety/crisis.yaml not written yet")
def test_real_pack_passes_the_full_check() -> None:
    _pack, problems = check_content(CONTENT, LANGUAGES, "ru", UI_MESSAGES)
    assert [str(p) for p in problems] == []


def test_real_answers_are_valid_telegram_html(content_pack: ContentPack) -> None:
    context = {"lang": "ru", "org": "Senim", "contacts": [{"name": "X", "phone": "112"}]}
    for script in content_pack.scripts.values():
        for lang in LANGUAGES:
            html = content_pack.render_answer(script, lang, "html", context)
            assert telegram_html_problems(html) == [], (script.id, lang)
            plain = content_pack.render_answer(script, lang, "plain", context)
            assert "<b>" not in plain


def test_the_mini_pack_is_clean(pack: Path) -> None:
    assert [str(p) for p in check(pack)] == []


# --- one thing broken each -----------------------------------------------------------------------


def test_broken_yaml(pack: Path) -> None:
    path = pack / "scripts" / f"{SCRIPT}.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "\nkk: [unclosed\n", encoding="utf-8")
    (message,) = only_in(check(pack), SCRIPT_FILE)
    assert re.match(r"line \d+: not valid YAML", message)


def test_unknown_key(pack: Path) -> None:
    edit_script(pack, lambda data: data.update(colour="red"))
    assert only_in(check(pack), SCRIPT_FILE) == ["unknown key 'colour'"]


def test_missing_language(pack: Path) -> None:
    edit_script(pack, lambda data: data.pop("en"))
    assert only_in(check(pack), SCRIPT_FILE) == ["language 'en' is missing"]


def test_too_few_examples(pack: Path) -> None:
    edit_script(pack, lambda data: data["kk"].update(examples=["бір", "екі"]))
    (message,) = only_in(check(pack), SCRIPT_FILE)
    assert message.startswith("kk: examples")


def test_id_must_match_the_file_name(pack: Path) -> None:
    edit_script(pack, lambda data: data.update(id="something-else"))
    (message,) = only_in(check(pack), SCRIPT_FILE)
    assert "does not match the file name" in message


def test_bad_review_status(pack: Path) -> None:
    edit_script(pack, lambda data: data["review"].update(status="done"))
    (message,) = only_in(check(pack), SCRIPT_FILE)
    assert message.startswith("review: status")


def test_related_id_that_does_not_exist(pack: Path) -> None:
    edit_script(pack, lambda data: data.update(related=["takfir", "no-such-topic"]))
    assert only_in(check(pack), SCRIPT_FILE) == ["related: unknown topic id 'no-such-topic'"]


def test_related_to_itself(pack: Path) -> None:
    edit_script(pack, lambda data: data.update(related=[SCRIPT]))
    assert only_in(check(pack), SCRIPT_FILE) == ["related: a topic cannot be related to itself"]


def test_template_syntax_error_in_an_answer(pack: Path) -> None:
    edit_script(pack, set_answer("Текст {% if %} без конца"))
    (message,) = only_in(check(pack), SCRIPT_FILE)
    assert message.startswith("ru: the answer does not render")


def test_template_syntax_error_in_a_template_file(pack: Path) -> None:
    template = pack / "templates" / "kk" / "crisis.j2"
    template.write_text("{% for c in contacts %}{{ c.phone }}", encoding="utf-8")
    (message,) = only_in(check(pack), "content/templates/kk/crisis.j2")
    assert message.startswith("does not render")


def test_missing_template_file(pack: Path) -> None:
    (pack / "templates" / "en" / "out_of_scope.j2").unlink()
    assert only_in(check(pack), "content/templates/en/out_of_scope.j2") == [
        "the template is missing"
    ]


@pytest.mark.parametrize(
    "escape",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ lang.__class__ }}",
        "{{ contacts.__class__.__base__ }}",
    ],
)
def test_sandbox_escape_in_an_answer(pack: Path, escape: str) -> None:
    edit_script(pack, set_answer(f"Ответ {escape}"))
    (message,) = only_in(check(pack), SCRIPT_FILE)
    assert message.startswith("ru: the answer does not render")
    assert "unsafe" in message
    assert "<class" not in message


def test_sandbox_escape_is_not_rendered(content_pack: ContentPack) -> None:
    from bot.content import RenderError

    with pytest.raises(RenderError, match="unsafe"):
        content_pack.render_string("{{ ''.__class__.__mro__ }}", "html", {})


def test_undefined_variable(pack: Path) -> None:
    edit_script(pack, set_answer("Здравствуйте, {{ username }}!"))
    (message,) = only_in(check(pack), SCRIPT_FILE)
    assert message.startswith("ru: the answer does not render")
    assert "'username' is undefined" in message


def test_filters_make_valid_html(pack: Path) -> None:
    edit_script(pack, set_answer('{{ "x" | bold }} и {{ "y" | italic }} <b>z</b> a &amp; b'))
    assert check(pack) == []


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("Текст <b>x", "ru: <b> is never closed"),
        ("Текст <script>alert(1)</script>", "ru: tag <script> is not allowed in Telegram HTML"),
        ("Текст <b>x</i>", "ru: </i> closes a tag that is not open"),
        ('Текст <a href="x" onclick="y">x</a>', "ru: attribute 'onclick' is not allowed on <a>"),
        ("Текст &nbsp; здесь", "ru: entity &nbsp; is not supported by Telegram"),
        ("Мы & вы", "ru: a bare '&' must be written as &amp;"),
    ],
)
def test_answer_that_is_invalid_telegram_html(pack: Path, answer: str, expected: str) -> None:
    edit_script(pack, set_answer(answer))
    assert expected in only_in(check(pack), SCRIPT_FILE)


def test_variables_are_escaped_in_html(content_pack: ContentPack) -> None:
    html = content_pack.render_string("{{ org }}", "html", {"org": "<b>x & y"})
    assert html == "&lt;b&gt;x &amp; y"
    assert telegram_html_problems(html) == []
    assert content_pack.render_string("{{ org }}", "plain", {"org": "<b>x"}) == "<b>x"


def test_answer_over_4096_characters(pack: Path) -> None:
    edit_script(pack, set_answer("Очень длинный ответ. " * 250, lang="en"))
    (message,) = only_in(check(pack), SCRIPT_FILE)
    assert re.fullmatch(r"en: \d{4,} characters, over Telegram's limit of 4096", message)


def test_missing_translation_is_reported_and_falls_back(pack: Path) -> None:
    po = pack / "locales" / "en" / "LC_MESSAGES" / "messages.po"
    text = po.read_text(encoding="utf-8")
    assert 'msgid "Topics"\nmsgstr "Topics"' in text
    po.write_text(
        text.replace('msgid "Topics"\nmsgstr "Topics"', 'msgid "Topics"\nmsgstr ""'),
        encoding="utf-8",
    )
    assert only_in(check(pack), "content/locales/en/LC_MESSAGES/messages.po") == [
        "no translation for 'Topics'; 'ru' is shown instead"
    ]
    loaded = load_content(pack, LANGUAGES, "ru")
    assert loaded.catalogs.gettext("en", "Topics") == loaded.catalogs.gettext("ru", "Topics")
    assert loaded.catalogs.gettext("ru", "Topics") == "Темы"
    assert loaded.catalogs.gettext("en", "Language") == "Language"  # the rest is still English


def test_message_missing_from_a_catalog_is_reported(pack: Path) -> None:
    po = pack / "locales" / "kk" / "LC_MESSAGES" / "messages.po"
    text = po.read_text(encoding="utf-8")
    cut = re.sub(r'msgid "Help"\nmsgstr "[^"]*"\n', "", text)
    assert cut != text
    po.write_text(cut, encoding="utf-8")
    assert only_in(check(pack), "content/locales/kk/LC_MESSAGES/messages.po") == [
        "no translation for 'Help'; 'ru' is shown instead"
    ]


def test_missing_catalog(pack: Path) -> None:
    (pack / "locales" / "en" / "LC_MESSAGES" / "messages.po").unlink()
    assert only_in(check(pack), "content/locales/en/LC_MESSAGES/messages.po") == [
        "the UI catalog is missing"
    ]


def test_missing_crisis_list(pack: Path) -> None:
    for path in (pack / "safety").glob("crisis*.yaml"):
        path.unlink()
    assert only_in(check(pack), "content/safety/crisis.yaml") == [
        "the crisis phrase list is missing"
    ]


def test_a_broken_script_is_skipped_and_the_rest_load(pack: Path) -> None:
    edit_script(pack, lambda data: data.pop("en"))
    loaded = load_content(pack, LANGUAGES, "ru")
    assert sorted(loaded.scripts) == ["jihad-meaning", "takfir"]


# --- review status -------------------------------------------------------------------------------


async def test_draft_scripts_are_not_served(pack: Path, tmp_path: Path, clock: Clock) -> None:
    edit_script(pack, lambda data: data["review"].update(status="draft"), sid="takfir")
    loaded = load_content(pack, LANGUAGES, "ru")
    assert set(loaded.scripts) == set(RELATED)  # loaded (and checked) ...
    assert set(loaded.served(("approved", "sample"))) == {"jihad-meaning", SCRIPT}  # not served
    assert set(loaded.served(("approved",))) == set()
    assert set(loaded.served(("draft",))) == {"takfir"}

    settings = Settings.model_validate(
        {
            "database": {"path": str(tmp_path / "db.sqlite3")},
            "content": {"path": str(pack), "serve_statuses": ["approved", "sample"]},
        }
    )
    app = await create_app(settings, content=loaded, clock=clock.now)
    try:
        conv = app.conversations
        person, _ = await app.people.identify("console", "draft-reader", "ru")
        assert "takfir" not in app.matcher.topics
        assert [a.value for a in conv.topics(person).actions] == ["jihad-meaning", SCRIPT]
        stale = await conv.open_topic(person, "takfir", "console", "plain")
        assert stale.text == conv.t("ru", "That option is no longer available. Here is the menu.")
        # the related button to the draft is dropped from an answer
        answer = conv.answer("jihad-meaning", "ru", "plain")
        assert "takfir" not in [a.value for a in answer.actions if a.kind == "topic"]
        turn = await conv.ask(person, "что такое такфир", "console", "plain")
        assert turn.match is not None
        assert turn.match.topic_id != "takfir"
        events = await EventRepository(app.db.connection).list("topic_opened")
        assert events == []
    finally:
        await app.close()


# --- the command ---------------------------------------------------------------------------------


def run_check(tmp_path: Path, content: Path) -> subprocess.CompletedProcess[str]:
    config = write_config(
        tmp_path / "check.yaml",
        {"content": {"path": str(content)}, "database": {"path": str(tmp_path / "c.sqlite3")}},
    )
    return run_bot(["--config", str(config), "content", "check"])


def test_content_check_command_on_a_broken_pack(pack: Path, tmp_path: Path) -> None:
    edit_script(pack, lambda data: data.update(colour="red"))
    edit_script(pack, lambda data: data.update(related=["nope"]), sid="takfir")
    result = run_check(tmp_path, pack)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stdout.splitlines()
    assert f"{SCRIPT_FILE}: unknown key 'colour'" in lines
    assert "content/scripts/takfir.yaml: related: unknown topic id 'nope'" in lines
    assert all(re.match(r"^\S+: .+", line) for line in lines)
    assert "problem(s)" in result.stderr


def test_content_check_command_on_the_real_pack(tmp_path: Path) -> None:
    if not REAL_CRISIS.is_file():
        pytest.skip("content/safety/crisis.yaml is not written yet (another helper is on it)")
    result = run_check(tmp_path, CONTENT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""
    assert "content OK" in result.stderr
