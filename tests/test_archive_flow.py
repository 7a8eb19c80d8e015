"""The administrator's command: `journal-archive archive period` through the real Prefect flow (R1).

Prefect runs in ephemeral mode (no server configured), as on a school's machine.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from journal.source import open_source
from pipeline.settings import CONFIG_NAME, load_settings
from tests.homes import run_cli

YEAR = "2024/2025"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("home")
    result = run_cli("demo", "--size", "small", home=home)
    assert result.returncode == 0, result.stderr
    return home


def table_rows(stdout: str) -> dict[str, list[str]]:
    """The result table's rows by class name (first column)."""
    rows = {}
    for line in stdout.splitlines():
        cells = line.split()
        if cells and cells[0][:-1].isdigit() and cells[0][-1].isalpha():
            rows[cells[0]] = cells
    return rows


def test_archive_period_archives_every_quarter_class_and_prints_a_table(home: Path) -> None:
    result = run_cli("-v", "archive", "period", "--year", YEAR, "--period", "Q1", home=home)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = table_rows(result.stdout)
    # 10А works in half-years, so Q1 is for the three quarter classes only (J4).
    assert set(rows) == {"1А", "5А", "9А"}
    assert all("создан" in cells for cells in rows.values())
    assert "Без сбоев: 3 пакета из 3." in result.stdout
    assert "Без периода Q1 (другое деление учебного года): 10А" in result.stdout
    assert "Flow run" in result.stderr + result.stdout  # with -v Prefect's own logs show the run
    settings = load_settings(home)
    for target in settings.targets():
        assert len(target.list_bundles()) == 3

    again = run_cli("archive", "period", "--year", YEAR, "--period", "Q1", home=home)
    assert again.returncode == 0, again.stdout + again.stderr
    assert all("без изменений" in " ".join(cells) for cells in table_rows(again.stdout).values())
    assert "Flow run" not in again.stderr + again.stdout  # by default Prefect's English lines are hidden


def test_one_blocked_class_does_not_stop_the_others(home: Path, tmp_path: Path) -> None:
    """With block_on_errors on, a class whose journal has an error is stopped; the rest go on."""
    other = tmp_path / "home"
    other.mkdir()
    (other / "journal.sqlite").write_bytes((home / "journal.sqlite").read_bytes())
    config = (home / CONFIG_NAME).read_text(encoding="utf-8")
    (other / CONFIG_NAME).write_text(
        config.replace("block_on_errors = false", "block_on_errors = true"), encoding="utf-8"
    )
    for target in ("primary", "secondary"):  # a copied home: its storage folders are prepared explicitly
        assert run_cli("targets", "init", target, home=other).returncode == 0
    engine = open_source(load_settings(other).source_url)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "UPDATE mark SET value = '7' WHERE id = (SELECT min(m.id) FROM mark m"
            " JOIN lesson l ON l.year_id = m.year_id AND l.id = m.lesson_id"
            " JOIN course c ON c.year_id = l.year_id AND c.id = l.course_id"
            " JOIN school_class k ON k.year_id = c.year_id AND k.id = c.class_id WHERE k.name = '5А')"
        )
    engine.dispose()

    result = run_cli("archive", "period", "--year", YEAR, "--period", "Q1", home=other)
    assert result.returncode == 1
    rows = table_rows(result.stdout)
    assert "остановлен" in rows["5А"]
    assert "«7»" in " ".join(rows["5А"])
    assert "создан" in rows["1А"] and "создан" in rows["9А"]


def test_unknown_period_is_one_clear_line(home: Path) -> None:
    result = run_cli("archive", "period", "--year", YEAR, "--period", "Q9", home=home)
    assert result.returncode == 2
    assert "Q9" in result.stderr
    assert "Traceback" not in result.stderr
