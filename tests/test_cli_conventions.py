"""Command-line conventions (issue 14): --version, -q/-v, exit codes, repeatable --class, read-only
commands that create nothing, the default --year from today's date, and what `verify` checked."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from importlib.metadata import version
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

import flows.cli
from flows.cli import main, prefect_environment
from pipeline.archive import ArchiveStatus, archive_period_class
from pipeline.settings import CONFIG_NAME, academic_year, load_settings
from pipeline.verify import checks_line
from tests.homes import bundle_dirs, make_demo_home
from validators.bundle_checks import BundleReport

YEAR = "2024/2025"  # the demo school's year
CLASS = "5А"


def cli(home: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--home", str(home), *args])


@pytest.fixture(scope="module")
def archived(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A one-class demo home with 5А's Q1 bundle archived: (home, bundle id)."""
    settings = make_demo_home(tmp_path_factory.mktemp("conventions") / "home")
    result = archive_period_class(settings, YEAR, CLASS, "Q1")
    assert result.status == ArchiveStatus.CREATED, result
    assert result.bundle_id
    return settings.home, result.bundle_id


# --- --version -------------------------------------------------------------------------------


def test_version_prints_the_installed_package_version() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"journal-archive {version('journal-archive')}"


# --- the default --year ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("today", "year"),
    [
        (dt.date(2026, 11, 30), "2026/2027"),
        (dt.date(2026, 8, 31), "2025/2026"),  # the last day of a school year
        (dt.date(2026, 9, 1), "2026/2027"),  # the first day of the next
        (dt.date(2027, 1, 1), "2026/2027"),
        (dt.date(2025, 6, 30), "2024/2025"),
    ],
)
def test_academic_year_runs_september_to_august(today: dt.date, year: str) -> None:
    assert academic_year(today) == year


def test_default_year_follows_the_clock(archived: tuple[Path, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """`check` without --year checks the academic year of today's date, not a constant."""
    home, _ = archived
    monkeypatch.setattr(flows.cli, "clock", lambda: dt.date(2025, 5, 20))
    in_year = cli(home, "check", "--class", CLASS)
    assert in_year.exit_code in (0, 1), in_year.output  # the demo year's journal was checked
    assert "2024/2025" in in_year.output

    monkeypatch.setattr(flows.cli, "clock", lambda: dt.date(2025, 9, 1))
    next_year = cli(home, "check", "--class", CLASS)
    assert next_year.exit_code == 2
    assert "2025/2026" in next_year.output  # the demo journal has no such year, and says so


# --- -q / -v ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("verbosity", "level"), [(0, "WARNING"), (1, "INFO"), (-1, "ERROR")])
def test_prefect_logging_level_follows_q_and_v(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, verbosity: int, level: str
) -> None:
    """Prefect's INFO lines (English) only with -v; the level is set before Prefect is imported."""
    monkeypatch.delenv("PREFECT_LOGGING_LEVEL", raising=False)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect"))  # restored after the test
    prefect_environment(load_settings(tmp_path / "home"), verbosity)
    assert os.environ["PREFECT_LOGGING_LEVEL"] == level


def test_an_explicit_logging_level_is_kept_unless_v_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PREFECT_LOGGING_LEVEL", "DEBUG")
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect"))
    settings = load_settings(tmp_path / "home")
    prefect_environment(settings, 0)
    assert os.environ["PREFECT_LOGGING_LEVEL"] == "DEBUG"
    prefect_environment(settings, 1)
    assert os.environ["PREFECT_LOGGING_LEVEL"] == "INFO"


def test_q_hides_the_progress_bar(archived: tuple[Path, str]) -> None:
    home, _ = archived
    shown = cli(home, "verify", "--all")
    assert shown.exit_code == 0, shown.output
    assert "Проверка копий" in shown.stderr
    quiet = cli(home, "-q", "verify", "--all")
    assert quiet.exit_code == 0, quiet.output
    assert "Проверка копий" not in quiet.stderr
    assert "VALID" in quiet.stdout  # the results are still printed


def test_q_and_v_together_are_bad_input(tmp_path: Path) -> None:
    result = cli(tmp_path, "-q", "-v", "catalog", "list")
    assert result.exit_code == 2


# --- exit codes -----------------------------------------------------------------------------


def test_exit_codes_are_documented_as_the_code_uses_them() -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    table = readme.split("### Exit codes", 1)[1].split("\n\n", 2)[1]
    assert [line.split("|")[1].strip() for line in table.splitlines()[2:]] == ["0", "1", "2"]
    assert (flows.cli.EXIT_FAILED, flows.cli.EXIT_BAD_INPUT) == (1, 2)


def test_bad_input_exits_2_and_a_failed_check_exits_1(archived: tuple[Path, str], tmp_path: Path) -> None:
    home, bundle_id = archived
    assert cli(home, "verify", str(tmp_path / "no-such-bundle")).exit_code == 2
    assert cli(home, "catalog", "list", "--format", "xml").exit_code == 2  # click's usage error
    assert cli(home, "check", "--year", YEAR, "--class", "5Я").exit_code == 2
    damaged = tmp_path / "damaged"
    (bundle,) = bundle_dirs(load_settings(home), bundle_id)[:1]
    shutil.copytree(bundle, damaged)
    for path in [damaged, *damaged.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    (damaged / "data" / "marks.csv").write_text("изменено\n", encoding="utf-8")
    assert cli(home, "verify", str(damaged)).exit_code == 1


# --- --class is repeatable ------------------------------------------------------------------


def _class_options(group: click.Group, prefix: str = "") -> dict[str, click.Option]:
    found: dict[str, click.Option] = {}
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found |= _class_options(command, f"{prefix}{name} ")
        for param in command.params:
            if isinstance(param, click.Option) and "--class" in param.opts:
                found[prefix + name] = param
    return found


def test_class_is_repeatable_wherever_it_is_accepted() -> None:
    options = _class_options(main)
    assert {"check", "archive period", "archive year", "retrieve", "catalog list"} <= set(options)
    assert [name for name, option in options.items() if not option.multiple] == []


def test_catalog_list_takes_several_classes(archived: tuple[Path, str]) -> None:
    home, bundle_id = archived
    both = cli(home, "catalog", "list", "--class", CLASS, "--class", "9А")
    assert both.exit_code == 0, both.output
    assert bundle_id in both.output  # 5А is listed although 9А was named after it
    other = cli(home, "catalog", "list", "--class", "9А", "--class", "1А")
    assert bundle_id not in other.output


# --- read-only commands create nothing ------------------------------------------------------


READ_ONLY = [
    ("catalog", "list"),
    ("catalog", "list", "--format", "json"),
    ("catalog", "history", "2024-2025-5a-q1-v1"),
    ("verify", "--all"),
    ("retention",),
    ("users", "list"),
]


def _listing(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


@pytest.mark.parametrize("args", READ_ONLY, ids=" ".join)
def test_read_only_commands_leave_an_empty_home_empty(tmp_path: Path, args: tuple[str, ...]) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    before = _listing(tmp_path)
    result = cli(empty, *args)
    assert result.exit_code in (0, 2), result.output  # history of an unknown bundle is bad input
    assert "Traceback" not in result.output
    assert _listing(tmp_path) == before


@pytest.mark.parametrize("args", READ_ONLY, ids=" ".join)
def test_read_only_commands_do_not_make_a_missing_home(tmp_path: Path, args: tuple[str, ...]) -> None:
    missing = tmp_path / "missing"
    cli(missing, *args)
    assert not missing.exists()


def test_a_command_that_writes_still_makes_the_home(tmp_path: Path) -> None:
    """The default configuration is still written on first use by a command that changes things."""
    home = tmp_path / "home"
    result = cli(home, "targets", "init", "primary")
    assert result.exit_code == 0, result.output
    assert (home / CONFIG_NAME).is_file()


# --- verify says what it checked ------------------------------------------------------------


def test_verify_names_the_checks_that_ran_and_why_the_anchor_was_skipped(
    archived: tuple[Path, str], tmp_path: Path
) -> None:
    home, bundle_id = archived
    (bundle,) = bundle_dirs(load_settings(home), bundle_id)[:1]

    inside = cli(home, "verify", str(bundle))
    assert inside.exit_code == 0, inside.output
    line = next(line for line in inside.output.splitlines() if "проверено —" in line)
    assert "BagIt (RFC 8493)" in line and "якорь каталога" in line.split("не проверено")[0]
    assert "PDF/A и XML по схеме — обычная глубина" in line
    assert "печать — пакет не опечатан" in line

    outside = cli(tmp_path / "elsewhere", "verify", str(bundle))  # no home: no catalog
    assert outside.exit_code == 0, outside.output
    line = next(line for line in outside.output.splitlines() if "проверено —" in line)
    assert "PDF/A, XML по схеме" in line.split("не проверено")[0]
    assert "якорь каталога — папка проверяется вне архива" in line


def test_checks_line_for_a_bundle_the_catalog_does_not_know() -> None:
    report = BundleReport("x", True, (), (), 3, 10, 0.0, ("RFC 8493", "PDF/A-3b", "XSD", "seal"))
    line = checks_line(report, has_catalog=True)
    assert line.startswith("x: проверено — BagIt (RFC 8493), PDF/A, XML по схеме, печать")
    assert "якорь каталога — пакета нет в каталоге этого архива" in line
    assert "обычная глубина" not in line
