"""The terminal chat, driven through standard input of real `python -m bot` processes.

The processes are independent (each has its own database in its own folder) and are started
together once per module, because each spends a second or two training the matcher.
"""

from __future__ import annotations

import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import run_bots, subprocess_env

SCENARIOS: dict[str, tuple[list[str], list[str]]] = {
    "answer": (["chat", "--lang", "ru"], ["что такое джихад"]),
    "numbers": (["chat", "--lang", "ru"], ["/topics", "1", "2"]),
    "forget-yes": (["chat", "--lang", "ru"], ["что такое джихад", "/specialist", "/forget", "1"]),
    "forget-no": (["chat", "--lang", "ru"], ["/forget", "2", "/privacy", "7"]),
    "awkward": (
        ["chat", "--lang", "ru"],
        [
            "",
            "😀🙏🔥",
            "джихад " * 1430,  # a 10,010-character line
            "\x01\x02\x07\x1b[31m что такое джихад \x7f",
            "/nonsense",
            "what is jihad",
            "/quit",
            "что такое такфир",
        ],
    ),
    "choose-language": (["chat"], ["3", "what is jihad"]),
    "run-without-token": (["run"], ["2", "что такое джихад"]),
    "specialist-demo": (
        ["chat", "--lang", "ru"],
        [
            "мне нужен человек, брат ушёл в группу",
            "/specialist",
            "/as specialist",
            "/next",
            "Здравствуйте! Расскажите, что случилось?",
            "/note проверить",
            "/ask_contact",
            "/as citizen",
            "2",
            "Брат перестал с нами говорить",
            "/as specialist",
            "/close",
            "1",
            "/as citizen",
            "5",
            "спасибо",
        ],
    ),
}


@dataclass
class Run:
    result: subprocess.CompletedProcess[str]
    database: Path

    @property
    def out(self) -> str:
        return self.result.stdout

    def ok(self) -> None:
        assert self.result.returncode == 0, self.result.stderr
        assert "Traceback" not in self.result.stderr

    def query(self, sql: str) -> list[tuple[object, ...]]:
        with sqlite3.connect(self.database) as raw:
            return raw.execute(sql).fetchall()


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    databases = {
        name: tmp_path_factory.mktemp(f"console-{name}") / "console.sqlite3" for name in SCENARIOS
    }
    results = run_bots(
        {
            name: (
                args,
                "".join(f"{line}\n" for line in lines),
                subprocess_env(SENIM_DATABASE__PATH=str(databases[name])),
            )
            for name, (args, lines) in SCENARIOS.items()
        }
    )
    return {name: Run(results[name], databases[name]) for name in SCENARIOS}


def blocks(output: str) -> list[str]:
    """The replies in the order printed: each is followed by a blank line."""
    return [block for block in output.split("\n\n") if block.strip()]


def people(run: Run) -> int:
    return int(run.query("SELECT COUNT(*) FROM people")[0][0])


POLITE_NO_WORDS = "Пожалуйста, напишите вопрос словами, и я постараюсь помочь."


def test_a_question_gets_the_answer_and_the_chat_ends_at_end_of_input(
    runs: dict[str, Run],
) -> None:
    run = runs["answer"]
    run.ok()
    out = run.out
    assert out.startswith("Язык")  # the language confirmation comes first
    assert "усердие, приложение усилий" in out
    assert "<b>" not in out  # the terminal gets plain text
    assert "Источники:" in out
    assert "Это помогло?" in out
    assert "1. Это помогло" in out
    assert people(run) == 1
    assert run.query("SELECT kind, topic_id FROM events") == [("question", "jihad-meaning")]


def test_numbered_options_choose(runs: dict[str, Run]) -> None:
    run = runs["numbers"]
    run.ok()
    replies = blocks(run.out)
    menu = replies.index("Выберите тему:")
    assert replies[menu + 1].startswith("1. ")
    # "1" opened the first topic: its answer ends with the feedback question and options
    assert "Это помогло?" in replies[menu + 2 :]
    options = replies[replies.index("Это помогло?", menu) + 1]
    assert options.startswith("1. Это помогло\n2. Это не помогло")
    # "2" was "This did not help": the apology and the specialist offer
    assert replies[-2] == "Жаль, что это не помогло. Специалист может обсудить это с вами лично."
    assert replies[-1] == "1. Поговорить со специалистом\n2. Темы"
    rows = run.query("SELECT kind, outcome FROM events ORDER BY id")
    assert rows == [("topic_opened", None), ("feedback", "not_helped")]


def test_forget_then_yes_erases(runs: dict[str, Run]) -> None:
    run = runs["forget-yes"]
    run.ok()
    out = run.out
    assert "Удалить?" in out
    assert "1. Да, удалить всё" in out
    assert "Готово: всё о вас удалено." in out
    assert people(run) == 0
    assert run.query("SELECT COUNT(*) FROM tickets") == [(0,)]
    assert len(run.query("SELECT * FROM events")) >= 2  # the anonymous log stays


def test_forget_then_no_keeps_and_stale_numbers_are_questions(runs: dict[str, Run]) -> None:
    run = runs["forget-no"]
    run.ok()
    assert "Ничего не удалено." in run.out
    assert people(run) == 1
    # "7" when the privacy text offers one option is not a choice: it is a question without words
    assert blocks(run.out)[-2] == POLITE_NO_WORDS


def test_awkward_lines_get_polite_replies_and_the_chat_goes_on(runs: dict[str, Run]) -> None:
    run = runs["awkward"]
    run.ok()
    out = run.out
    assert "Sorry, something went wrong" not in out
    replies = blocks(out)
    # the empty line and the emoji-only line: a polite request for words, twice
    assert out.count(POLITE_NO_WORDS) == 2
    # the very long line: read from its beginning, with a note
    assert "Ваше сообщение очень длинное" in out
    # control characters are dropped and the question still understood
    assert "усердие, приложение усилий" in out
    # an unknown command shows the help
    assert "Я отвечаю на вопросы о религии и экстремизме" in out
    # the last line before /quit, after all of that, still gets its answer
    assert "striving, making an effort" in out
    assert replies[-1].startswith("1.")  # numbered options close the last reply
    # /quit ended the chat: the question after it was not answered
    assert "Такфир" not in out
    kinds = [row[0] for row in run.query("SELECT kind FROM events")]
    assert kinds.count("question") == 3  # the long line, the cleaned line, the English one


def test_without_lang_the_chat_asks_for_a_language(runs: dict[str, Run]) -> None:
    run = runs["choose-language"]
    run.ok()
    out = run.out
    assert out.startswith("Тілді таңдаңыз / Выберите язык / Choose your language")
    assert "1. Қазақша\n2. Русский\n3. English" in out
    assert "Language set: English." in out
    assert "striving, making an effort" in out
    assert run.query("SELECT language FROM people") == [("en",)]


def test_run_without_a_token_starts_the_terminal_chat(runs: dict[str, Run]) -> None:
    run = runs["run-without-token"]
    run.ok()
    notices = [line for line in run.result.stderr.splitlines() if "TELEGRAM_BOT_TOKEN" in line]
    assert len(notices) == 1
    assert "terminal chat" in notices[0]
    assert "Choose your language" in run.out
    assert "усердие, приложение усилий" in run.out


def test_the_terminal_demo_shows_both_sides_of_a_ticket(runs: dict[str, Run]) -> None:
    run = runs["specialist-demo"]
    run.ok()
    out = run.out
    assert "[specialists] new topic #1 · ru · theology · console" in out
    assert "мне нужен человек, брат ушёл в группу" in out, "the conversation so far"
    assert "[to the citizen] Demo specialist:\nЗдравствуйте! Расскажите, что случилось?" in out
    assert "[specialists · topic 1] 👤 Брат перестал с нами говорить" in out
    assert "Гражданин отказался делиться контактами." in out
    assert "проверить" not in out.split("/note проверить")[-1].split("[to the citizen]")[-1]
    assert "topic closed: ✓ #1" in out
    rows = run.query("SELECT status, outcome, rating, rating_comment FROM tickets")
    assert rows == [("closed", "answered", 5, "спасибо")]
    consent = run.query("SELECT contact_consent_at FROM tickets")
    assert consent == [(None,)]
    assert "console-specialist" not in str(run.query("SELECT * FROM specialists"))
