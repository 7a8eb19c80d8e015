"""The command line as the administrator uses it: demo, check, and clear errors for bad input."""

from __future__ import annotations

import dataclasses
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from flows.cli import main
from journal.demo import generate_demo_school
from journal.source import extract_class_journal, open_source, select_class_names
from pipeline.school import imported_line, journal_counts
from tests.bundles import sample_journal
from tests.homes import make_demo_home, run_cli
from validators.journal_rules import RULES, Severity, validate_class_journal

YEAR = "2024/2025"


@dataclass(frozen=True)
class DemoRun:
    home: Path
    output: str  # what `journal-archive demo` printed


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """`journal-archive demo --size class` into a new home: the one-class demo journal."""
    home = tmp_path_factory.mktemp("home")
    result = CliRunner().invoke(main, ["--home", str(home), "demo", "--size", "class"])
    assert result.exit_code == 0, result.output
    return DemoRun(home, result.output)


@pytest.fixture(scope="module")
def demo_home(demo_run: DemoRun) -> Path:
    return demo_run.home


@pytest.fixture(scope="module")
def small_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with the four-class demo journal (1А, 5А, 9А, 10А)."""
    return make_demo_home(tmp_path_factory.mktemp("small-home"), size="small").home


def test_demo_writes_into_the_home_and_reports_it(demo_run: DemoRun) -> None:
    """The one line the administrator reads names the school and counts exactly what was written."""
    assert (demo_run.home / "journal-archive.toml").is_file()
    database = demo_run.home / "journal.sqlite"
    db = sqlite3.connect(database)
    try:
        counts = {
            table: db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("school_class", "student", "lesson", "mark")
        }
        school, year = db.execute("SELECT short_name FROM school").fetchone()[0], YEAR
    finally:
        db.close()
    assert counts["school_class"] == 1
    assert (
        f"Демо-школа «{school}», {year}: 1 кл., "
        f"{journal_counts(counts['student'], counts['lesson'], counts['mark'])} "
        f"— записано в sqlite:///{database.resolve()} за "
    ) in demo_run.output
    certificate = demo_run.home / "keys" / "seal-cert.pem"
    assert certificate.is_file()
    assert f"Демонстрационная печать школы (самоподписанный сертификат): {certificate}" in demo_run.output


def test_counts_agree_with_their_numbers() -> None:
    """The demo's and import's line «… уроков, … отметок» agrees in number: «6394 отметки», not «отметок»."""
    assert journal_counts(25, 1076, 6394) == "25 уч., 1076 уроков, 6394 отметки"
    assert journal_counts(28, 1071, 7041) == "28 уч., 1071 урок, 7041 отметка"
    assert journal_counts(101, 4047, 20220) == "101 уч., 4047 уроков, 20220 отметок"


def test_import_names_the_span_once() -> None:
    """«…, 2024/2025 учебный год: …», not «2024/2025 учебный год 2024/2025»; a period with its year."""
    quarter = sample_journal()
    assert imported_line(quarter).startswith(
        "Импортирован журнал 5А класса, I четверть 2024/2025 учебного года: "
    )
    year = dataclasses.replace(quarter, period=None)
    assert imported_line(year).startswith("Импортирован журнал 5А класса, 2024/2025 учебный год: ")


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


def test_a_year_typed_with_a_hyphen_is_reported_as_the_journal_writes_it(demo_home: Path) -> None:
    """`--year 2024-2025` is accepted, and the report says «2024/2025», not the text as typed."""
    result = CliRunner().invoke(main, ["--home", str(demo_home), "check", "--year", "2024-2025"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Проверка журналов: 2024/2025, учебный год\n")


def test_an_empty_listing_names_the_filters_it_was_asked_for(demo_home: Path) -> None:
    """«нет пакетов» for a year or class says which: the catalog as a whole may well hold bundles."""
    home = str(demo_home)
    listed = CliRunner().invoke(
        main, ["--home", home, "catalog", "list", "--year", "2024-2025", "--class", "5А"]
    )
    assert listed.exit_code == 0, listed.output
    assert listed.output == "В каталоге нет пакетов (учебный год 2024/2025; класс 5А).\n"
    assert CliRunner().invoke(main, ["--home", home, "catalog", "list"]).output == "В каталоге нет пакетов.\n"


def test_check_of_one_period_and_class(small_home: Path) -> None:
    """--period and --class narrow the report to exactly the findings of that class in that period."""
    seeded = generate_demo_school(size="small").seeded
    wanted = [v for v in seeded if (v.class_name, v.period) == ("5А", "Q1")]
    other_periods = {v.rule for v in seeded if v.class_name == "5А" and v.period != "Q1"}
    other_classes = {v.class_name for v in seeded if v.class_name != "5А" and v.period == "Q1"}
    assert wanted and other_periods and other_classes  # the demo gives both filters something to drop
    result = CliRunner().invoke(
        main, ["--home", str(small_home), "check", "--year", YEAR, "--period", "Q1", "--class", "5А"]
    )
    assert result.exit_code == 0, result.output
    output = result.output
    assert output.startswith(f"Проверка журналов: {YEAR}, период Q1\n")
    counts = f"{Severity.ERROR.count(0)}, {Severity.WARNING.count(len(wanted))}"
    class_lines = [line for line in output.splitlines() if re.match(r"^(?!Найдено)\S+: \d+ ошиб", line)]
    assert class_lines == [f"5А: {counts}"]
    assert output.rstrip().endswith(f"Найдено: {counts}")
    bullets = [line.strip() for line in output.splitlines() if line.strip().startswith("• ")]
    assert len(bullets) == len(wanted)
    assert all(bullet.startswith("• 5А · ") for bullet in bullets)
    for rule in {v.rule for v in wanted}:
        assert f"{RULES[rule].title} ({RULES[rule].cite}):" in output
    for rule in other_periods - {v.rule for v in wanted}:
        assert RULES[rule].title not in output


def test_check_exits_one_when_the_journal_has_errors(demo_home: Path, tmp_path: Path) -> None:
    """A mark outside the school's scale is an error (J2): the report names it and the exit code is 1."""
    copy = tmp_path / "journal.sqlite"
    copy.write_bytes((demo_home / "journal.sqlite").read_bytes())
    engine = open_source(f"sqlite:///{copy}")
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE mark SET value = '7' WHERE id = (SELECT min(id) FROM mark)")
    journal = extract_class_journal(engine, YEAR, "5А", None)
    errors = [f for f in validate_class_journal(journal) if f.severity is Severity.ERROR]
    assert [(f.rule, "«7»" in f.message) for f in errors] == [("mark_outside_scale", True)]
    result = CliRunner().invoke(
        main, ["--home", str(demo_home), "check", "--year", YEAR, "--source", f"sqlite:///{copy}"]
    )
    assert result.exit_code == 1
    assert f"{RULES['mark_outside_scale'].title} (J2): 1" in result.output
    assert f"• {errors[0].message}" in result.output
    assert "такой отметки нет в шкале" in errors[0].message


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["check", "--year", YEAR, "--class", "5Я"], "5Я"),
        (["check", "--year", YEAR, "--period", "Q7"], "Q7"),
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
