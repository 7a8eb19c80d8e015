"""The command line as the administrator uses it: demo, check, and clear errors for bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from flows.cli import main
from journal.demo import generate_demo_school
from journal.source import extract_class_journal, open_source, select_class_names
from tests.homes import make_demo_home, run_cli
from validators.journal_rules import Severity, validate_class_journal

YEAR = "2024/2025"


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with the one-class demo journal, made through the CLI."""
    return make_demo_home(tmp_path_factory.mktemp("home")).home


def test_demo_writes_into_the_home_and_reports_it(demo_home: Path) -> None:
    assert (demo_home / "journal-archive.toml").is_file()
    assert (demo_home / "journal.sqlite").is_file()


def test_demo_refuses_to_overwrite_without_force(demo_home: Path) -> None:
    result = CliRunner().invoke(main, ["--home", str(demo_home), "demo", "--size", "class"])
    assert result.exit_code == 2
    assert "2024/2025" in result.output


def seeded_keys(size: str) -> set[tuple]:
    return {
        (v.rule, v.class_name, v.period, v.subject_id, v.student_id, v.lesson_id)
        for v in generate_demo_school(size=size).seeded
    }


def test_check_finds_every_seeded_violation_and_nothing_else(demo_home: Path) -> None:
    """The demo seeds rule violations on purpose; the check must report exactly those (J1–J6)."""
    engine = open_source(f"sqlite:///{demo_home / 'journal.sqlite'}")
    findings = [
        finding
        for name in select_class_names(engine, YEAR, None, ())
        for finding in validate_class_journal(extract_class_journal(engine, YEAR, name, None))
    ]
    found = {(f.rule, f.class_name, f.period, f.subject_id, f.student_id, f.lesson_id) for f in findings}
    assert found == seeded_keys("class")
    assert len(found) >= 5


def test_check_prints_a_russian_report_and_exits_zero_on_warnings(demo_home: Path) -> None:
    result = run_cli("check", "--year", YEAR, home=demo_home)
    assert result.returncode == 0, result.stderr
    assert "5А" in result.stdout
    assert "предупрежд" in result.stdout


def test_check_of_one_period_and_class(demo_home: Path) -> None:
    result = CliRunner().invoke(main, ["--home", str(demo_home), "check", "--period", "Q1", "--class", "5А"])
    assert result.exit_code == 0, result.output
    assert "I четверт" in result.output or "Q1" in result.output


def test_check_exits_one_when_the_journal_has_errors(demo_home: Path, tmp_path: Path) -> None:
    """A mark for a student on a day they were not enrolled is an error (J1)."""
    copy = tmp_path / "journal.sqlite"
    copy.write_bytes((demo_home / "journal.sqlite").read_bytes())
    engine = open_source(f"sqlite:///{copy}")
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE mark SET value = '7' WHERE id = (SELECT min(id) FROM mark)")
    journal = extract_class_journal(engine, YEAR, "5А", None)
    assert any(f.severity is Severity.ERROR for f in validate_class_journal(journal))
    result = CliRunner().invoke(main, ["--home", str(demo_home), "check", "--source", f"sqlite:///{copy}"])
    assert result.exit_code == 1
    assert "«7»" in result.output or "7" in result.output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["check", "--class", "5Я"], "5Я"),
        (["check", "--period", "Q7"], "Q7"),
        (["check", "--year", "1999/2000"], "1999/2000"),
        (["check", "--source", "postgresql://root@127.0.0.1:1/test"], "127.0.0.1"),
        (["check", "--source", "mysql+nonsense:://x"], "mysql+nonsense"),
        (
            ["check", "--source", "sqlite:////nonexistent/folder/journal.sqlite"],
            "/nonexistent/folder/journal.sqlite",
        ),
    ],
)
def test_bad_input_gives_one_clear_line_and_exit_code_2(
    demo_home: Path, args: list[str], expected: str
) -> None:
    result = run_cli(*args, home=demo_home)
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]
    assert "Traceback" not in result.stderr
