"""The quarter archive end to end on a real rendered bundle (R1, R5, R7, R8, R9, R10).

Everything is real: the demo journal in SQLite, WeasyPrint, pikepdf, lxml, the
filesystem targets, bagit-python and coreutils for the auditor's view.
"""

from __future__ import annotations

import filecmp
import subprocess
import sys
from pathlib import Path

import bagit
import pikepdf
import pytest
from click.testing import CliRunner
from lxml import etree

from documents.xml_format import JOURNAL_XSD_PATH
from flows.cli import main
from journal.source import extract_class_journal, open_source
from pipeline.archive import ArchiveStatus, ClassArchiveResult, archive_period_class
from pipeline.settings import Settings, load_settings
from storage.bagformat import parse_bag_info
from storage.catalog import list_bundles, open_catalog, replicas_of
from tests.homes import bundle_dirs, make_demo_home

YEAR = "2024/2025"
CLASS = "5А"


@pytest.fixture(scope="module")
def archived(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, ClassArchiveResult]:
    settings = make_demo_home(tmp_path_factory.mktemp("home"))
    result = archive_period_class(settings, YEAR, CLASS, "Q1")
    assert result.status == ArchiveStatus.CREATED, result
    return settings, result


@pytest.fixture(scope="module")
def bag(archived: tuple[Settings, ClassArchiveResult]) -> Path:
    settings, result = archived
    return bundle_dirs(settings, result.bundle_id)[0]


def test_bundle_is_on_both_targets_with_identical_bytes(
    archived: tuple[Settings, ClassArchiveResult],
) -> None:
    """R8: two targets holding identical bytes, each recorded as verified.

    That the read-back after writing refuses a damaged copy is tested where a damaged disk
    is injected: tests/test_protections.py.
    """
    settings, result = archived
    primary, secondary = bundle_dirs(settings, result.bundle_id)
    assert primary != secondary
    comparison = filecmp.dircmp(primary, secondary)
    assert not comparison.left_only and not comparison.right_only and not comparison.diff_files
    files = [p.relative_to(primary) for p in primary.rglob("*") if p.is_file()]
    assert all((primary / f).read_bytes() == (secondary / f).read_bytes() for f in files)
    assert dict(result.replicas) == {"primary": "verified", "secondary": "verified"}


def test_bagit_python_and_sha256sum_validate_the_bundle(bag: Path) -> None:
    """An auditor needs nothing but standard tools (R5, R7)."""
    bagit.Bag(str(bag)).validate()
    bagit_cli = subprocess.run(
        [str(Path(sys.executable).with_name("bagit.py")), "--validate", str(bag)],
        capture_output=True,
        text=True,
    )
    assert bagit_cli.returncode == 0, bagit_cli.stderr
    assert "is valid" in bagit_cli.stderr
    for manifest in ("manifest-sha256.txt", "tagmanifest-sha256.txt"):
        check = subprocess.run(["sha256sum", "-c", manifest], cwd=bag, capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
        assert "FAILED" not in check.stdout
    info = parse_bag_info((bag / "bag-info.txt").read_bytes())
    assert info["Retain-Until"] == "2030-12-31"
    assert info["Retention-Class"] == "quarter"
    assert info["School-Class"] == CLASS


def test_payload_holds_pdf_csv_xml_and_xsd(bag: Path) -> None:
    names = {p.name for p in (bag / "data").iterdir()}
    assert {
        "journal.pdf",
        "journal.xml",
        "journal.xsd",
        "csv-metadata.json",
        "marks.csv",
        "students.csv",
    } <= names
    readme = (bag / "README.txt").read_text(encoding="utf-8")
    assert "sha256sum -c manifest-sha256.txt" in readme
    assert all(f"data/{name}" in readme for name in names)


def test_xml_is_valid_against_the_shipped_xsd(bag: Path) -> None:
    schema = etree.XMLSchema(etree.parse(str(bag / "data" / "journal.xsd")))
    assert schema.validate(etree.parse(str(bag / "data" / "journal.xml"))), schema.error_log
    assert (bag / "data" / "journal.xsd").read_bytes() == JOURNAL_XSD_PATH.read_bytes()


def test_pdf_is_valid_pdfa_3b_with_embedded_fonts(
    bag: Path, archived: tuple[Settings, ClassArchiveResult]
) -> None:
    pdf_path = bag / "data" / "journal.pdf"
    assert pikepdf.pdfa.validate_written(pdf_path, "3b").passed  # type: ignore[attr-defined]
    with pikepdf.open(pdf_path) as pdf:
        assert len(pdf.pages) == archived[1].pages
        for page in pdf.pages:
            for font in page.resources.get("/Font", {}).values():
                descriptor = font.get("/FontDescriptor") or font.DescendantFonts[0].FontDescriptor
                assert "/FontFile2" in descriptor or "/FontFile3" in descriptor or "/FontFile" in descriptor


def test_second_run_changes_nothing(archived: tuple[Settings, ClassArchiveResult]) -> None:
    """R9: re-archiving unchanged data creates nothing new."""
    settings, first = archived
    before = {p: p.stat().st_mtime_ns for p in settings.home.joinpath("archive").rglob("*")}
    again = archive_period_class(settings, YEAR, CLASS, "Q1")
    assert again.status == ArchiveStatus.UNCHANGED
    assert again.bundle_id == first.bundle_id
    after = {p: p.stat().st_mtime_ns for p in settings.home.joinpath("archive").rglob("*")}
    assert after == before


def test_same_data_in_another_home_gives_byte_identical_bundle(
    archived: tuple[Settings, ClassArchiveResult], bag: Path, tmp_path: Path
) -> None:
    """Same input, same bytes: checksums mean something."""
    other = make_demo_home(tmp_path / "other")
    result = archive_period_class(other, YEAR, CLASS, "Q1")
    other_bag = bundle_dirs(other, result.bundle_id)[0]
    files = sorted(p.relative_to(bag) for p in bag.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(other_bag) for p in other_bag.rglob("*") if p.is_file())
    different = [f for f in files if (bag / f).read_bytes() != (other_bag / f).read_bytes()]
    assert different == []


def test_changing_one_mark_makes_a_new_version_naming_that_mark(tmp_path: Path) -> None:
    """R9: a correction is a new, traceable version; the old one stays, marked superseded."""
    settings = make_demo_home(tmp_path / "home")
    first = archive_period_class(settings, YEAR, CLASS, "Q1")
    engine = open_source(settings.source_url)
    journal = extract_class_journal(engine, YEAR, CLASS, "Q1")
    mark = next(m for m in journal.marks if m.value == "3")
    student = journal.student_by_id[mark.student_id]
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE mark SET value = '4' WHERE id = ?", (mark.id,))
    engine.dispose()

    second = archive_period_class(settings, YEAR, CLASS, "Q1")
    assert second.status == ArchiveStatus.CREATED
    assert second.bundle_id.endswith("-v2") and first.bundle_id.endswith("-v1")
    new_bag = bundle_dirs(settings, second.bundle_id)[0]
    info = parse_bag_info((new_bag / "bag-info.txt").read_bytes())
    assert info["Supersedes"] == first.bundle_id
    changes = (new_bag / "CHANGES.txt").read_text(encoding="utf-8")
    changed_lines = [line for line in changes.splitlines() if "изменена" in line]
    assert len(changed_lines) == 1, changes
    assert student.full_name in changed_lines[0]
    assert "3 изменена на 4" in changed_lines[0]
    assert "изменено: 1," in changes
    assert bundle_dirs(settings, first.bundle_id), "the old version is never deleted"

    db = open_catalog(settings.catalog_path)
    records = {r.bundle_id: r for r in list_bundles(db)}
    assert records[first.bundle_id].superseded_by == second.bundle_id
    assert {r.status for r in replicas_of(db, second.bundle_id)} == {"verified"}
    db.close()


def test_archive_import_archive_gives_identical_data(
    archived: tuple[Settings, ClassArchiveResult], bag: Path, tmp_path: Path
) -> None:
    """R10: journal.xml read back into a fresh database archives to the same payload."""
    home = tmp_path / "imported"
    result = CliRunner().invoke(main, ["--home", str(home), "import", str(bag / "data" / "journal.xml")])
    assert result.exit_code == 0, result.output
    for target in ("primary", "secondary"):  # a home without `demo`: its folders are prepared explicitly
        made = CliRunner().invoke(main, ["--home", str(home), "targets", "init", target])
        assert made.exit_code == 0, made.output
    again = archive_period_class(load_settings(home), YEAR, CLASS, "Q1")
    assert again.status == ArchiveStatus.CREATED, again
    new_bag = bundle_dirs(load_settings(home), again.bundle_id)[0]
    for path in sorted((bag / "data").iterdir()):
        assert (new_bag / "data" / path.name).read_bytes() == path.read_bytes(), path.name


def test_catalog_can_be_rebuilt_from_the_targets(archived: tuple[Settings, ClassArchiveResult]) -> None:
    settings, result = archived
    db = open_catalog(settings.catalog_path)
    before = list_bundles(db)
    db.close()
    settings.catalog_path.unlink()
    rebuilt = CliRunner().invoke(main, ["--home", str(settings.home), "catalog", "rebuild"])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert len(before) == 1 and "Каталог восстановлен по хранилищам: 1 пакет." in rebuilt.output
    db = open_catalog(settings.catalog_path)
    assert list_bundles(db) == before
    db.close()
    listing = CliRunner().invoke(main, ["--home", str(settings.home), "catalog", "list"])
    assert result.bundle_id in listing.output
    assert "2030-12-31" in listing.output


def test_unreachable_target_leaves_the_bundle_under_replicated_until_the_next_run(tmp_path: Path) -> None:
    """R8: one target down → the bundle goes to the other, is recorded as such, and is completed later."""
    settings = make_demo_home(tmp_path / "home")
    secondary = next(t for t in settings.targets() if t.name == "secondary")
    unplugged = secondary.root.rename(secondary.root.with_name("unplugged"))  # the disk is not mounted

    first = archive_period_class(settings, YEAR, CLASS, "Q1")
    assert first.status == ArchiveStatus.UNDER_REPLICATED
    assert dict(first.replicas) == {"primary": "verified", "secondary": "missing"}
    assert "secondary" in first.message
    assert not first.ok

    unplugged.rename(secondary.root)
    listing = CliRunner().invoke(main, ["--home", str(settings.home), "replicate"])
    assert listing.exit_code == 0, listing.output
    assert f"{first.bundle_id} → secondary: проверена (копия с primary)" in listing.output  # staff's words
    db = open_catalog(settings.catalog_path)
    assert {r.target: r.status for r in replicas_of(db, first.bundle_id)} == {
        "primary": "verified",
        "secondary": "verified",
    }
    db.close()
    again = archive_period_class(settings, YEAR, CLASS, "Q1")
    assert again.status == ArchiveStatus.UNCHANGED


def test_next_run_completes_a_missing_replica(tmp_path: Path) -> None:
    settings = make_demo_home(tmp_path / "home")
    secondary = next(t for t in settings.targets() if t.name == "secondary")
    unplugged = secondary.root.rename(secondary.root.with_name("unplugged"))
    first = archive_period_class(settings, YEAR, CLASS, "Q1")
    assert first.status == ArchiveStatus.UNDER_REPLICATED
    unplugged.rename(secondary.root)

    second = archive_period_class(settings, YEAR, CLASS, "Q1")
    assert second.status == ArchiveStatus.UNCHANGED, second
    assert dict(second.replicas) == {"secondary": "verified"}
    assert bundle_dirs(settings, first.bundle_id)[1].joinpath("data", "journal.pdf").is_file()


def test_names_are_taken_as_the_journal_spells_them(archived: tuple[Settings, ClassArchiveResult]) -> None:
    """«q1» and a Latin «5a» name the same class and period: nothing new, same bundle."""
    settings, first = archived
    again = archive_period_class(settings, YEAR, "5a", "q1")
    assert again.status == ArchiveStatus.UNCHANGED, again
    assert again.bundle_id == first.bundle_id
