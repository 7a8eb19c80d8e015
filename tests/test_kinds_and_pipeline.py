"""The registry of bundle kinds and the pipeline's named steps (issue 9; R1, R5, R7, R9).

A kind defined here, in the test alone, is archived by the same steps as the built-in
ones; a previous version that cannot be read back stops the class instead of letting a
new version claim that no mark changed (R9); loose class and year names work everywhere.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from documents.kinds import KINDS, BundleKindSpec, kind_spec, kind_title, register_kind, render_journal
from flows.cli import main
from journal import schema
from journal.model import ClassJournal, data_time
from journal.names import class_key, match_one, year_name
from journal.source import open_source
from pipeline.archive import ArchiveStatus, archive_bundle, archive_period_class, extract_journal
from pipeline.settings import Settings
from pipeline.verify import verifier_for
from storage.bagformat import parse_bag_info
from storage.catalog import find_bundle, list_bundles, open_catalog
from storage.retention import RetentionClass
from tests.homes import bundle_dirs, make_demo_home
from validators.journal_rules import validate_class_journal

YEAR = "2024/2025"
CLASS = "5А"


def roster_files(journal: ClassJournal, xml: bytes) -> dict[str, bytes]:
    """The throwaway kind's only data file: the class roster."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["student_id", "name"])
    for student in journal.students:
        writer.writerow([student.id, student.full_name])
    return {"roster.csv": out.getvalue().encode("utf-8")}


ROSTER = BundleKindSpec(
    kind="roster",
    title="список класса",
    option="roster",
    retention_class=RetentionClass.QUARTER,
    span_code=lambda journal: "roster",
    describe=lambda journal: f"Список {journal.school_class.name} класса, {journal.year.name}",
    pdf_name="roster.pdf",
    render_pdf=render_journal,
    data_files=roster_files,
    file_descriptions={"roster.pdf": "Список класса для печати.", "roster.csv": "Список класса в CSV."},
)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return make_demo_home(tmp_path_factory.mktemp("home"))


@pytest.fixture
def roster_kind() -> Iterator[BundleKindSpec]:
    register_kind(ROSTER)
    try:
        yield ROSTER
    finally:
        KINDS.pop(ROSTER.kind)


def test_a_kind_defined_in_a_test_is_archived_verified_and_catalogued(home: Settings, roster_kind) -> None:
    journal = extract_journal(home, YEAR, CLASS, "Q1")
    result = archive_bundle(home, journal, roster_kind, findings=(), today=lambda: dt.date(2027, 1, 15))
    assert result.status == ArchiveStatus.CREATED, result
    assert result.bundle_id == "2024-2025-5a-roster-v1"
    copies = bundle_dirs(home, result.bundle_id)
    assert len(copies) == 2
    info = parse_bag_info((copies[0] / "bag-info.txt").read_bytes())
    assert info["Bundle-Kind"] == "roster"
    assert info["Retention-Class"] == "quarter"
    # Bagging-Date is the day of bagging (an act, from the clock); file times come from the data.
    assert info["Bagging-Date"] == "2027-01-15"
    assert (copies[0] / "data" / "roster.csv").stat().st_mtime == data_time(journal.end).timestamp()
    assert sorted(p.name for p in (copies[0] / "data").iterdir()) == [
        "journal-check.json",
        "journal-check.txt",
        "roster.csv",
        "roster.pdf",
    ]
    assert "Список класса в CSV." in (copies[0] / "README.txt").read_text(encoding="utf-8")
    assert kind_title("roster") == "список класса"
    with verifier_for(home) as verifier:
        record = find_bundle(verifier.db, result.bundle_id)
        assert record is not None and record.kind == "roster"
        reports = [verifier.stored(target, record) for target in home.targets()]
    assert [r.valid for r in reports] == [True, True], [r.problems for r in reports]


def test_registering_a_kind_twice_is_refused(roster_kind) -> None:
    with pytest.raises(ValueError, match="registered already"):
        register_kind(roster_kind)
    assert kind_spec("summary").retention_class is RetentionClass.SUMMARY_25Y
    with pytest.raises(ValueError, match="неизвестный вид пакета"):
        kind_spec("no-such-kind")


def _change_one_mark(settings: Settings) -> None:
    engine = open_source(settings.source_url)
    try:
        with engine.begin() as conn:
            first_lesson = sa.select(schema.lesson.c.id).order_by(schema.lesson.c.date).limit(1)
            mark_id, value = conn.execute(
                sa.select(schema.mark.c.id, schema.mark.c.value)
                .where(schema.mark.c.lesson_id.in_(first_lesson))
                .limit(1)
            ).one()
            conn.execute(
                sa.update(schema.mark)
                .where(schema.mark.c.id == mark_id)
                .values(value="5" if value != "5" else "4")
            )
    finally:
        engine.dispose()


def test_an_unreadable_previous_version_fails_the_class_and_writes_nothing(tmp_path: Path) -> None:
    """R9: CHANGES.txt must state what changed; with v1 unreadable everywhere it cannot, so no v2."""
    settings = make_demo_home(tmp_path / "home")
    first = archive_period_class(settings, YEAR, CLASS, "Q1")
    assert first.status == ArchiveStatus.CREATED
    for copy in bundle_dirs(settings, first.bundle_id):
        xml = copy / "data" / "journal.xml"
        os.chmod(xml, stat.S_IWUSR | stat.S_IRUSR)
        xml.write_bytes(b"<not-a-journal/>")
    _change_one_mark(settings)

    second = archive_period_class(settings, YEAR, CLASS, "Q1")

    assert second.status == ArchiveStatus.FAILED
    assert "Предыдущая версия 2024-2025-5a-q1-v1 не читается ни на одном хранилище" in second.message
    assert "новая версия не записана" in second.message
    assert bundle_dirs(settings, "2024-2025-5a-q1-v2") == []
    db = open_catalog(settings.catalog_path)
    try:
        assert [r.bundle_id for r in list_bundles(db)] == [first.bundle_id]
    finally:
        db.close()
    assert not settings.work_dir.exists() or not list(settings.work_dir.iterdir())


def test_loose_names_are_one_function() -> None:
    assert class_key("5a") == class_key("5 А") == class_key("5А")
    assert year_name(" 2024-2025 ") == "2024/2025"
    assert match_one(["5А", "5Б"], "5a", str, class_key) == "5А"
    assert match_one(["5А", "5Б"], "5", str, class_key) is None


def test_retrieve_takes_a_latin_class_letter_and_a_dashed_year(home: Settings, tmp_path: Path) -> None:
    """`retrieve --class 5a --year 2024-2025` finds the sealed bundles of «5А» in «2024/2025»."""
    runner = CliRunner()
    sealed = runner.invoke(
        main, ["--home", str(home.home), "archive", "year", "--year", "2024/2025", "--class", CLASS]
    )
    assert sealed.exit_code == 0, sealed.output
    result = runner.invoke(
        main,
        [
            "--home",
            str(home.home),
            "retrieve",
            "--class",
            "5a",
            "--year",
            "2024-2025",
            "--kind",
            "summary",
            "--to",
            str(tmp_path / "out"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "2024-2025-5a-summary-v1" / "data" / "summary.pdf").is_file()
    receipt = (tmp_path / "out" / "2024-2025-5a-summary-v1.receipt.txt").read_text(encoding="utf-8")
    assert "совпадает с контрольной суммой, записанной в каталог при архивировании" in receipt


def test_the_journal_check_is_archived_with_the_journal(home: Settings) -> None:
    """The findings at archiving time travel in data/ (Russian report + JSON), not only on screen (R9)."""
    journal = extract_journal(home, YEAR, CLASS, "Q1")
    findings = validate_class_journal(journal)
    assert findings, "the demo journal has seeded violations"
    result = archive_period_class(home, YEAR, CLASS, "Q1")
    assert result.ok, result
    data = bundle_dirs(home, result.bundle_id)[0] / "data"
    report = (data / "journal-check.txt").read_text(encoding="utf-8")
    assert report.startswith("Проверка журнала 5А класса: I четверть 2024/2025")
    assert all(f.message in report for f in findings)
    document = json.loads((data / "journal-check.json").read_bytes())
    assert len(document["findings"]) == len(findings)
    assert document["errors"] + document["warnings"] == len(findings)
    assert {f["rule"] for f in document["findings"]} == {f.rule for f in findings}
    readme = (data.parent / "README.txt").read_text(encoding="utf-8")
    assert "data/journal-check.txt" in readme and "data/journal-check.json" in readme
