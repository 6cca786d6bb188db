"""The command line's lectures import/export, live-plan import and scheduler preview."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.__main__ import main
from tests.helpers import CONTENT, run_bot, subprocess_env, write_config


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(
        tmp_path / "config.yaml",
        {
            "database": {"path": str(tmp_path / "cli.sqlite3")},
            "content": {"path": str(CONTENT)},
            "timezone": "Asia/Almaty",
            "coordinators": [7001],
        },
    )


def count(config: Path, table: str) -> int:
    with sqlite3.connect(config.parent / "cli.sqlite3") as conn:
        return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def local(days: int, hour: int = 18) -> str:
    moment = datetime.now().astimezone() + timedelta(days=days)
    return f"{moment:%Y-%m-%d} {hour:02d}:00"


CSV_HEADER = "title,lecturer,city,language,start,duration,venue,link,audience,uid\n"


def test_a_file_with_bad_rows_imports_nothing_unless_told(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = tmp_path / "lectures.csv"
    csv.write_text(
        CSV_HEADER
        + f"Good one,Dr A,Almaty,ru,{local(3)},90,Library,,students,good-1\n"
        + f",Dr B,Almaty,ru,{local(4)},90,Library,,students,\n"
        + "Bad date,Dr C,Astana,xx,2099-13-01 18:00,90,Hall,,public,\n"
        + f"Online,Dr D,Astana,kk,{local(5)},45,,https://zoom.us/j/1,schools,\n",
        encoding="utf-8",
    )
    assert main(["--config", str(config), "lectures", "import", str(csv)]) == 1
    err = capsys.readouterr().err
    assert f"{csv}:3: title: needed, at most 200 characters" in err
    assert f"{csv}:4: language: one of kk, ru, en" in err
    assert f"{csv}:4: start: a date and time as YYYY-MM-DD HH:MM" in err
    assert "nothing imported" in err
    assert not (config.parent / "cli.sqlite3").exists() or count(config, "lectures") == 0

    assert main(["--config", str(config), "lectures", "import", str(csv), "--skip-bad"]) == 0
    assert "2 added, 0 updated, 2 skipped" in capsys.readouterr().out
    assert count(config, "lectures") == 2

    csv.write_text(
        CSV_HEADER + f"Good one (moved),Dr A,Almaty,ru,{local(6)},90,Library,,students,good-1\n",
        encoding="utf-8",
    )
    assert main(["--config", str(config), "lectures", "import", str(csv)]) == 0
    assert "0 added, 1 updated" in capsys.readouterr().out
    assert count(config, "lectures") == 2


def test_unknown_columns_are_reported(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = tmp_path / "lectures.csv"
    csv.write_text("title,speaker\nA,B\n", encoding="utf-8")
    assert main(["--config", str(config), "lectures", "import", str(csv)]) == 1
    err = capsys.readouterr().err
    assert "missing column 'lecturer'" in err
    assert "unknown column 'speaker'" in err


def test_export_then_import_ics_round_trip(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = tmp_path / "lectures.csv"
    csv.write_text(
        CSV_HEADER
        + f'"Faith, law; and you",Dr A,Almaty,ru,{local(3)},90,"Library, hall 2",,students,\n'
        + f"Online,Dr D,Astana,kk,{local(5)},45,,https://zoom.us/j/1,schools,\n",
        encoding="utf-8",
    )
    assert main(["--config", str(config), "lectures", "import", str(csv)]) == 0
    exported = tmp_path / "out.ics"
    assert main(["--config", str(config), "lectures", "export", "--ics", "-o", str(exported)]) == 0
    data = exported.read_bytes()
    assert data.startswith(b"BEGIN:VCALENDAR\r\n")
    assert b"SUMMARY:Faith\\, law\\; and you" in data

    other = write_config(
        tmp_path / "other.yaml",
        {"database": {"path": str(tmp_path / "other.sqlite3")}, "content": {"path": str(CONTENT)}},
    )
    capsys.readouterr()
    assert main(["--config", str(other), "lectures", "import", str(exported)]) == 0
    assert "2 added" in capsys.readouterr().out
    with sqlite3.connect(tmp_path / "other.sqlite3") as conn:
        rows = conn.execute(
            "SELECT title, venue, city, language, audience, link FROM lectures ORDER BY starts_at"
        ).fetchall()
    assert rows == [
        ("Faith, law; and you", "Library, hall 2", "Almaty", "ru", "students", ""),
        ("Online", "", "Astana", "kk", "schools", "https://zoom.us/j/1"),
    ]
    # The same file again updates (same UIDs) instead of adding.
    assert main(["--config", str(other), "lectures", "import", str(exported)]) == 0
    assert "0 added, 2 updated" in capsys.readouterr().out


def test_a_bad_ics_event_is_reported_with_its_line(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ics = tmp_path / "bad.ics"
    ics.write_text(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"
        "BEGIN:VEVENT\r\nUID:a\r\nSUMMARY:No start\r\nEND:VEVENT\r\n"
        "BEGIN:VEVENT\r\nUID:b\r\nSUMMARY:Bad zone\r\nDTSTART;TZID=Mars/Base:20990101T100000\r\n"
        "X-SENIM-CITY:Almaty\r\nX-SENIM-LECTURER:Dr\r\nLOCATION:Hall\r\nEND:VEVENT\r\n"
        "END:VCALENDAR\r\n",
        encoding="utf-8",
    )
    assert main(["--config", str(config), "lectures", "import", str(ics)]) == 1
    err = capsys.readouterr().err
    assert f"{ics}:3: the event has no DTSTART" in err
    assert f"{ics}:7: unknown time zone 'Mars/Base'" in err


def test_live_plan_import_and_scheduler_preview(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tomorrow = (datetime.now().astimezone() + timedelta(days=1)).date()
    plan = tmp_path / "plan.csv"
    plan.write_text(
        "date,time,title,host,link\n"
        f"{tomorrow},20:00,Who are recruiters?,Aliya,https://instagram.com/senim\n"
        f"{tomorrow + timedelta(days=1)},25:00,Bad time,Aliya,\n",
        encoding="utf-8",
    )
    assert main(["--config", str(config), "live-plan", "import", str(plan)]) == 1
    assert f"{plan}:3: time: HH:MM, for example 20:00" in capsys.readouterr().err
    assert main(["--config", str(config), "live-plan", "import", str(plan), "--skip-bad"]) == 0
    assert count(config, "live_plan") == 1

    csv = tmp_path / "lectures.csv"
    csv.write_text(
        CSV_HEADER + f"Soon,Dr A,Almaty,ru,{local(3, 12)},90,Library,,students,\n",
        encoding="utf-8",
    )
    assert main(["--config", str(config), "lectures", "import", str(csv)]) == 0
    capsys.readouterr()
    assert main(["--config", str(config), "scheduler", "preview", "--days", "7"]) == 0
    out = capsys.readouterr().out
    assert "local time (Asia/Almaty)" in out
    assert f"{tomorrow} 09:00  live" in out
    assert "“Who are recruiters?”" in out
    assert "reminder" in out
    assert "24 h before" in out
    assert "no live plan: coordinators alerted" in out


def test_the_cli_runs_as_a_process(config: Path, tmp_path: Path) -> None:
    result = run_bot(
        ["--config", str(config), "scheduler", "preview", "--days", "2"], env=subprocess_env()
    )
    assert result.returncode == 0, result.stderr
    assert "Planned sends for the next 2 day(s)" in result.stdout
