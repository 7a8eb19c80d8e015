"""Every format of a stored bundle, read by a client nobody here wrote (R5).

The demo's 5А is archived once for this module (its first quarter, then the year: the journal and
the summary bundle), and the stored bundles are read as an auditor would: the CSV with the `csvw`
library (the maintained Python implementation of W3C CSV on the Web) and its `csvwvalidate`
command, the files embedded in the PDFs with poppler's `pdfdetach`. The other formats have their
reference-client tests elsewhere: the bag with `bagit.py --validate` and the XML against the
bundle's own XSD with plain lxml (libxml2) in test_archive_period.py, the seal with `openssl cms
-verify` in test_archive_year.py.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from documents.csv_export import CSV_METADATA_NAME
from journal.model import FINAL_EXAM, FINAL_RESULT, FINAL_YEAR, ClassJournal
from journal.source import extract_class_journal, open_source
from pipeline.archive import ArchiveStatus, archive_period_class, archive_year_class
from storage.retention import BundleKind
from tests.homes import bundle_dirs, make_demo_home
from tests.test_open_formats import csvw_rows, journal_row_counts, shown
from validators.journal_rules import FINDINGS_FILE_DESCRIPTIONS as FINDINGS_FILES

pytestmark = pytest.mark.slow  # the module archives a quarter and a year, and csvw reads ~10,000 rows

YEAR = "2024/2025"
CLASS = "5А"
PERIOD = "Q1"


@dataclass(frozen=True)
class Stored:
    """One stored bundle's payload folder and the journal snapshot it was made from."""

    kind: str
    data: Path
    journal: ClassJournal
    pdf: str


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Stored]:
    settings = make_demo_home(tmp_path_factory.mktemp("home"))
    quarter = archive_period_class(settings, YEAR, CLASS, PERIOD)
    assert quarter.status == ArchiveStatus.CREATED, quarter
    year = {r.kind: r for r in archive_year_class(settings, YEAR, CLASS)}
    assert [r.status for r in year.values()] == [ArchiveStatus.CREATED] * 2, year
    engine = open_source(settings.source_url)
    try:
        snapshots = {p: extract_class_journal(engine, YEAR, CLASS, p) for p in (PERIOD, None)}
    finally:
        engine.dispose()

    def data(bundle_id: str) -> Path:
        return bundle_dirs(settings, bundle_id)[0] / "data"

    return {
        "period": Stored("period", data(quarter.bundle_id), snapshots[PERIOD], "journal.pdf"),
        "year": Stored("year", data(year[BundleKind.YEAR].bundle_id), snapshots[None], "journal.pdf"),
        "summary": Stored(
            "summary", data(year[BundleKind.SUMMARY].bundle_id), snapshots[None], "summary.pdf"
        ),
    }


@pytest.fixture(params=["period", "year", "summary"])
def bundle(request: pytest.FixtureRequest, stored: dict[str, Stored]) -> Stored:
    return stored[request.param]


def client(name: str) -> str:
    """A console script installed in this virtual environment (csvwvalidate), as the README runs it."""
    return str(Path(sys.executable).with_name(name))


# --- CSV + CSVW: the csvw library -------------------------------------------------------------------


def summary_row_counts(j: ClassJournal) -> dict[str, int]:
    """One row per student and subject taught or marked; per student one row a month and one for the year."""
    subjects = {c.subject_id for c in j.courses} | {f.subject_id for f in j.final_marks}
    months = (j.year.end.year - j.year.start.year) * 12 + j.year.end.month - j.year.start.month + 1
    return {
        "final_marks_summary.csv": len(j.students) * len(subjects),
        "attendance_summary.csv": len(j.students) * (months + 1),
    }


def test_csvw_reads_every_table_of_the_bundle_strictly(bundle: Stored) -> None:
    """Types, required columns, primary keys and foreign keys; the journal's row counts (R5)."""
    tables = csvw_rows(bundle.data / CSV_METADATA_NAME)
    assert set(tables) == {p.name for p in bundle.data.glob("*.csv")}
    j = bundle.journal
    expected = summary_row_counts(j) if bundle.kind == "summary" else journal_row_counts(j)
    assert {name: len(rows) for name, rows in tables.items()} == expected
    assert all(n > 0 for name, n in expected.items() if name not in ("course_members.csv", "holidays.csv"))

    if bundle.kind == "summary":
        marks = {(r["student_id"], r["subject_id"]): r for r in tables["final_marks_summary.csv"]}
        column = {FINAL_YEAR: "year", FINAL_EXAM: "exam", FINAL_RESULT: "final"}
        enrolled = {s.id for s in j.students}
        finals = [f for f in j.final_marks if f.student_id in enrolled]
        assert finals
        for f in finals:
            row = marks[(f.student_id, f.subject_id)]
            assert row[column.get(f.period, f.period.lower())] == shown(f.value), f
        year_rows = [r for r in tables["attendance_summary.csv"] if r["month"] is None]
        assert sorted(r["student_id"] for r in year_rows) == sorted(enrolled)
        missed = {r["student_id"]: r["lessons_valid"] + r["lessons_invalid"] for r in year_rows}
        assert missed == {s: sum(1 for a in j.absences if a.student_id == s) for s in enrolled}
    else:
        (about,) = tables["class.csv"]
        assert (about["class_name"], about["period_code"]) == (CLASS, j.period.code if j.period else None)
        assert [r["mark_id"] for r in tables["marks.csv"]] == [m.id for m in j.marks]
        assert [(r["lesson_id"], r["student_id"]) for r in tables["attendance.csv"]] == [
            (a.lesson_id, a.student_id) for a in j.absences
        ]


def test_csvwvalidate_says_ok_for_the_bundle(bundle: Stored) -> None:
    """The auditor's command line from the README, strict (without --lax), run inside the bundle."""
    run = subprocess.run(
        [client("csvwvalidate"), "-v", "data/csv-metadata.json"],
        cwd=bundle.data.parent,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert (run.returncode, run.stdout.strip()) == (0, "OK"), run.stdout + run.stderr


# --- PDF/A-3 attachments: poppler's pdfdetach -------------------------------------------------------


def test_pdfdetach_lists_and_saves_the_bundles_data_byte_for_byte(bundle: Stored, tmp_path: Path) -> None:
    """The CSV, its metadata and the XML embedded in the PDF are the bundle's own files (R5, R10)."""
    pdf = bundle.data / bundle.pdf
    # The journal check (journal-check.txt/.json) is a record about the journal, kept beside the PDF.
    beside = sorted(p.name for p in bundle.data.iterdir() if p.name not in (bundle.pdf, *FINDINGS_FILES))
    assert {"journal.xml", CSV_METADATA_NAME} <= set(beside) and any(n.endswith(".csv") for n in beside)

    listed = subprocess.run(["pdfdetach", "-list", str(pdf)], capture_output=True, text=True, check=True)
    count, *lines = listed.stdout.splitlines()
    assert count == f"{len(beside)} embedded files"
    assert sorted(line.split(": ", 1)[1] for line in lines) == beside

    out = tmp_path / "detached"
    out.mkdir()
    subprocess.run(["pdfdetach", "-saveall", "-o", str(out), str(pdf)], capture_output=True, check=True)
    assert sorted(p.name for p in out.iterdir()) == beside
    for name in beside:  # so what csvw and libxml2 accept in the bundle, they accept from the PDF alone
        assert out.joinpath(name).read_bytes() == bundle.data.joinpath(name).read_bytes(), name


# --- XML: libxml2's own command-line client ------------------------------------------------------


def test_xmllint_validates_the_xml_against_the_bundles_own_schema(bundle: Stored) -> None:
    """`xmllint --schema` (Debian's libxml2-utils) accepts journal.xml with the XSD beside it (R5)."""
    run = subprocess.run(
        ["xmllint", "--noout", "--nonet", "--schema", "journal.xsd", "journal.xml"],
        cwd=bundle.data,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    assert run.stderr.strip() == "journal.xml validates"
