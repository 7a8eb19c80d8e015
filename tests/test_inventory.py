"""The yearly inventory (опись): every bundle of the year and each copy's state, as PDF/A-3b and CSV (R7, R8).

The day it was made is an input (the injected clock); the same catalog state and day give the
same bytes. The PDF's text and the CSV list exactly the catalog's bundles and replica states.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
import stat
import subprocess
from pathlib import Path

import pikepdf
import pytest
from click.testing import CliRunner

import flows.cli
from flows.cli import main
from pipeline.archive import archive_period_class, archive_year_class, class_names_for
from pipeline.inventory import make_inventory
from pipeline.settings import Settings, load_settings
from storage.catalog import CatalogError, list_bundles, open_catalog, record_replica, replicas_of
from storage.target import ReplicaStatus
from tests.homes import make_demo_home
from validators.pdfa_rules import check_pdf

YEAR = "2024/2025"
MADE_ON = dt.date(2031, 1, 2)  # the injected clock: after the bundles were made and checked (real time)
DAMAGED_AT = dt.datetime(2030, 12, 20, 4, 15, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def archived_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One class: its Q1 bundle, then its sealed year journal and summary (the Q1 bundle superseded);
    the catalog then records the summary's secondary copy as found damaged."""
    home = tmp_path_factory.mktemp("inventory") / "home"
    settings = make_demo_home(home, size="class")
    (class_name,) = class_names_for(settings, YEAR, None)
    assert archive_period_class(settings, YEAR, class_name, "Q1").ok
    assert all(r.ok for r in archive_year_class(settings, YEAR, class_name, allow_errors=True))
    db = open_catalog(settings.catalog_path)
    try:
        record_replica(db, "2024-2025-5a-summary-v1", "secondary", ReplicaStatus.CORRUPT, DAMAGED_AT)
    finally:
        db.close()
    return home


@pytest.fixture
def settings(archived_home: Path, tmp_path: Path) -> Settings:
    copy = tmp_path / "home"
    shutil.copytree(archived_home, copy, symlinks=True)
    return load_settings(copy)


def catalog_state(settings: Settings) -> dict[str, dict[str, str]]:
    """{bundle id: {target: state in staff's words}} as the catalog holds it."""
    db = open_catalog(settings.catalog_path)
    try:
        return {
            record.bundle_id: {r.target: r.status.title for r in replicas_of(db, record.bundle_id)}
            for record in list_bundles(db, year=YEAR, current_only=False, include_destroyed=True)
        }
    finally:
        db.close()


def pdf_text(path: Path, *, layout: bool = True) -> str:
    options = ["-layout"] if layout else []
    return subprocess.run(
        ["pdftotext", *options, str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def test_the_inventory_lists_exactly_the_catalogs_bundles_and_copies(
    settings: Settings, tmp_path: Path
) -> None:
    made = make_inventory(settings, YEAR, MADE_ON, tmp_path / "out")
    state = catalog_state(settings)
    assert set(state) == {"2024-2025-5a-q1-v1", "2024-2025-5a-year-v1", "2024-2025-5a-summary-v1"}
    assert (made.bundles, made.copies) == (3, 6)

    rows = list(csv.DictReader(io.StringIO(made.csv.read_text(encoding="utf-8"))))
    assert {(r["Пакет"], r["Хранилище"]): r["Состояние копии"] for r in rows} == {
        (bundle, target): title for bundle, copies in state.items() for target, title in copies.items()
    }
    summary = {r["Хранилище"]: r for r in rows if r["Пакет"] == "2024-2025-5a-summary-v1"}
    assert summary["secondary"]["Состояние копии"] == "повреждена"
    assert summary["secondary"]["Последняя проверка (UTC)"] == "2030-12-20 04:15"
    assert summary["primary"]["Состояние копии"] == "проверена"
    assert (
        summary["primary"]["Срок хранения"] == "25 лет" and summary["primary"]["Хранить до"] == "31.12.2050"
    )
    year = next(r for r in rows if r["Пакет"] == "2024-2025-5a-year-v1")
    assert (year["Вид"], year["Класс"], year["Версия"]) == ("журнал за год", "5А", "1")
    assert (year["Срок хранения"], year["Хранить до"]) == ("5 лет", "31.12.2030")
    q1 = next(r for r in rows if r["Пакет"] == "2024-2025-5a-q1-v1")
    assert q1["Период"] == "I четверть" and "заменён версией 2024-2025-5a-year-v1" in q1["Примечание"]

    text = " ".join(pdf_text(made.pdf).split())
    for bundle, copies in state.items():
        assert bundle in text
        for target, title in copies.items():
            assert f"{target}: {title}" in text, (bundle, target)
    assert text.count("2024-2025-5a-") == 3 + 1  # each bundle once, and the q1's note names the year bundle
    assert "Классный журнал 5А класса, 2024/2025 учебный год" in " ".join(
        pdf_text(made.pdf, layout=False).split()
    )
    for phrase in (
        "ОПИСЬ",
        "за 2024/2025 учебный год",
        "Составлена 2 января 2031 г.",
        "Итого 3 (три) дела; 6 (шесть) копий, из них проверенных — 5 (пять) копий.",
        "25 лет",
        "secondary: повреждена, 2030-12-20 04:15",
    ):
        assert phrase in text, phrase

    with pikepdf.open(made.pdf) as pdf:
        assert pdf.open_metadata()["pdfaid:part"] == "3"
        assert sorted(pdf.attachments) == ["inventory-2024-2025.csv"]
        assert pdf.attachments["inventory-2024-2025.csv"].get_file().read_bytes() == made.csv.read_bytes()
        assert str(pdf.docinfo["/CreationDate"]).startswith("D:20310102")
    assert not pikepdf.pdfa.validate_written(made.pdf, "3b").violations
    assert not check_pdf(made.pdf)
    assert stat.S_IMODE(made.pdf.stat().st_mode) == stat.S_IMODE(made.csv.stat().st_mode) == 0o600


def test_same_catalog_and_day_give_the_same_bytes_and_another_day_another_date(
    settings: Settings, tmp_path: Path
) -> None:
    first = make_inventory(settings, YEAR, MADE_ON, tmp_path / "a")
    again = make_inventory(settings, YEAR, MADE_ON, tmp_path / "b")
    assert first.pdf.read_bytes() == again.pdf.read_bytes()
    assert first.csv.read_bytes() == again.csv.read_bytes()
    later = make_inventory(settings, YEAR, MADE_ON + dt.timedelta(days=1), tmp_path / "c")
    assert "Составлена 3 января 2031 г." in " ".join(pdf_text(later.pdf).split())


def test_the_command_writes_into_the_home_and_refuses_a_year_without_bundles(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(flows.cli, "clock", lambda: MADE_ON)
    runner = CliRunner()
    done = runner.invoke(main, ["--home", str(settings.home), "catalog", "inventory", "--year", "2024-2025"])
    assert done.exit_code == 0, done.output
    assert (settings.home / "inventories" / "inventory-2024-2025.pdf").is_file()
    assert (settings.home / "inventories" / "inventory-2024-2025.csv").is_file()
    empty = runner.invoke(main, ["--home", str(settings.home), "catalog", "inventory", "--year", "2023/2024"])
    assert empty.exit_code == 2 and "нет пакетов за 2023/2024" in empty.output


def test_an_inventory_dated_before_what_it_lists_is_refused(settings: Settings, tmp_path: Path) -> None:
    """A clock behind the catalog would make the inventory state a false date: it fails instead."""
    with pytest.raises(CatalogError, match="часы компьютера отстают"):
        make_inventory(settings, YEAR, dt.date(2025, 6, 30), tmp_path / "out")
    assert not (tmp_path / "out" / "inventory-2024-2025.pdf").exists()
