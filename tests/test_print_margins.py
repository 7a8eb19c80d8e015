"""Print check (issue 15, R2, R3): every kind of sheet, rendered and measured from the PDF.

The year journal and the summary are sewn and bound at year end, signed and stamped. So, for
every kind of sheet — title, contents continued, student list, marks, lessons, attendance, the
P1/P2 reports, certification, and the summary's title, marks, attendance and certification —
the rendered PDF is read back with pdfminer (tests/printcheck.py) and every drawn object (text,
rules, frames, fills, the footer) must keep 20 mm from the bound edge and 10 mm from every other
edge, and no type may be smaller than 7 pt. Simplex the bound edge is the left one on every
page; duplex (mirrored margins) it is the left one on a front (odd page) and the right one on a
back (even page). Each kind is printed both as a front and as a back.

The receipt of `retrieve` is plain text (pipeline/retrieval.py receipt_text), not a PDF: there is
no printed receipt to measure yet.

One small demo class (5А of the `class` demo, the whole year), rendered once per module.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from documents.layout import PAGE, Section, Sheet, number_sheets
from documents.pdf import journal_meta
from documents.render import render_sheets_pdf
from documents.sections import (
    ATTENDANCE_SECTION,
    CERTIFICATION_SECTION,
    KEEPING_SECTION,
    LESSONS_PART,
    MARKS_PART,
    PROGRESS_SECTION,
    STUDENTS_SECTION,
    TITLE_SECTION,
    journal_document,
    title_sheets,
)
from documents.summary import summary_document
from journal.demo import generate_demo_school
from journal.model import ClassJournal
from journal.source import create_schema, extract_class_journal, open_source, write_school_year
from tests.printcheck import PageInk, margin_faults, measure_pdf


@pytest.fixture(scope="module")
def year(tmp_path_factory: pytest.TempPathFactory) -> ClassJournal:
    """5А's whole year from a real SQLite journal (subgroups, special marks, arrivals, departures)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('print-source') / 'journal.sqlite'}"
    engine = open_source(url, create=True)
    try:
        create_schema(engine)
        write_school_year(engine, generate_demo_school(size="class").data)
        return extract_class_journal(engine, "2024/2025", "5А", None)
    finally:
        engine.dispose()


def journal_kinds(journal: ClassJournal) -> dict[str, Sheet]:
    """One sheet of every kind of the journal, the contents continuation included."""
    document = journal_document(journal)
    first = {section.title: document.sheets[section.first_page - 1] for section in document.sections}
    by_part = {
        section.part: document.sheets[section.first_page - 1] for section in document.sections if section.part
    }
    # A contents too long for the title sheet continues on a sheet of its own: 120 sections.
    many = [Section(f"Раздел {i}", i, i) for i in range(1, 121)]
    contents = title_sheets(journal, many, 120, False)
    assert len(contents) > 1, "the long contents should have continued on a sheet of its own"
    return {
        "title": first[TITLE_SECTION],
        "contents": contents[1],
        "students": first[STUDENTS_SECTION],
        "marks": by_part[MARKS_PART],
        "lessons": by_part[LESSONS_PART],
        "attendance": first[ATTENDANCE_SECTION],
        "progress report": first[PROGRESS_SECTION],
        "keeping report": first[KEEPING_SECTION],
        "certification": first[CERTIFICATION_SECTION],
    }


def summary_kinds(journal: ClassJournal) -> dict[str, Sheet]:
    document = summary_document(journal)
    return {
        f"summary {section.title}": document.sheets[section.first_page - 1] for section in document.sections
    }


def render(sheets: Sequence[Sheet], path: Path, journal: ClassJournal, *, duplex: bool) -> list[PageInk]:
    numbered = number_sheets(list(sheets), duplex=duplex)
    assert render_sheets_pdf(numbered, path, journal_meta(journal), duplex=duplex) == len(sheets)
    return measure_pdf(path)


@pytest.fixture(scope="module")
def kinds(year: ClassJournal) -> dict[str, Sheet]:
    return {**journal_kinds(year), **summary_kinds(year)}


@pytest.fixture(scope="module")
def simplex(year: ClassJournal, kinds: dict[str, Sheet], tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("print") / "simplex.pdf"
    return dict(zip(kinds, render(list(kinds.values()), path, year, duplex=False), strict=True))


@pytest.fixture(scope="module")
def duplex(year: ClassJournal, kinds: dict[str, Sheet], tmp_path_factory: pytest.TempPathFactory):
    """Every kind twice in a row — once on a front (odd page), once on a back (even page)."""
    path = tmp_path_factory.mktemp("print") / "duplex.pdf"
    pages = render([s for s in kinds.values() for _ in (0, 1)], path, year, duplex=True)
    return {name: (pages[2 * i], pages[2 * i + 1]) for i, name in enumerate(kinds)}


EXPECTED_KINDS = [
    "title",
    "contents",
    "students",
    "marks",
    "lessons",
    "attendance",
    "progress report",
    "keeping report",
    "certification",
    "summary Титульный лист",
    "summary Сводная ведомость итоговых оценок",
    "summary Сводная ведомость посещаемости",
    "summary Заверительный лист",
]


def test_every_kind_of_sheet_is_measured(kinds: dict[str, Sheet], simplex: dict[str, PageInk]) -> None:
    assert list(kinds) == EXPECTED_KINDS
    for name, ink in simplex.items():  # something was printed near every edge: a real page
        assert (ink.width, ink.height) == pytest.approx((PAGE.width, PAGE.height), abs=0.1), name
        assert max(ink.left, ink.right, ink.top, ink.bottom) < 60, f"{name}: {ink.describe()}"


@pytest.mark.parametrize("kind", EXPECTED_KINDS)
def test_simplex_sheet_keeps_the_binding_margin_and_legible_type(
    kind: str, simplex: dict[str, PageInk]
) -> None:
    """Single-sided: 20 mm clear on the left (bound) edge, 10 mm on the others, nothing below 7 pt."""
    ink = simplex[kind]
    assert margin_faults([ink], duplex=False) == [], kind
    assert ink.left >= 20 - 0.01 and min(ink.right, ink.top, ink.bottom) >= 10 - 0.01


@pytest.mark.parametrize("kind", EXPECTED_KINDS)
def test_duplex_sheet_mirrors_the_margins(kind: str, duplex: dict[str, tuple[PageInk, PageInk]]) -> None:
    """Both sides: the front keeps 20 mm on the left, its back 20 mm on the right (mirrored)."""
    front, back = duplex[kind]
    assert (front.page % 2, back.page % 2) == (1, 0)
    assert margin_faults([front, back], duplex=True) == [], kind
    assert front.left >= 20 - 0.01 and back.right >= 20 - 0.01
    # The back is the front moved as a whole: the same page, 10 mm further left.
    shift = PAGE.margin_left - PAGE.margin_right
    assert back.left == pytest.approx(front.left - shift, abs=0.05)
    assert back.right == pytest.approx(front.right + shift, abs=0.05)
    assert (back.top, back.bottom) == pytest.approx((front.top, front.bottom), abs=0.05)


def test_the_check_catches_a_sheet_printed_into_the_margin(
    year: ClassJournal, kinds: dict[str, Sheet], tmp_path: Path
) -> None:
    """The measurement itself can fail: the marks sheet rendered as the back of a duplex sheet but
    checked as a front, and a real violation, are both reported."""
    pages = render([kinds["title"], kinds["marks"]], tmp_path / "both.pdf", year, duplex=True)
    faults = margin_faults(pages, duplex=False)  # the back's left margin is 10 mm, not 20
    assert len(faults) == 1 and faults[0].startswith("left 10.") and "page 2" in faults[0]
    assert margin_faults(pages, duplex=False, edge=25.0)  # nothing keeps 25 mm everywhere
    assert margin_faults(pages, duplex=True, smallest_pt=7.6)  # marks are set at 7.5 pt


def test_the_receipt_keeps_the_print_margins(tmp_path: Path) -> None:
    """The secretary's receipt (web page, PDF/A) is filed too: 20 mm on the bound edge, 10 mm elsewhere."""
    import datetime as dt

    from documents.receipt import render_receipt_pdf

    lines = ["КВИТАНЦИЯ О ВЫДАЧЕ АРХИВНОГО ПАКЕТА", ""]
    lines += [f"  {'0123456789abcdef' * 4}  data/file-{n:03d}-с-длинным-именем.csv" for n in range(90)]
    pdf = render_receipt_pdf(
        "\n".join(lines),
        tmp_path / "receipt.pdf",
        school="Школа № 1",
        handed_out=dt.datetime(2026, 11, 30, tzinfo=dt.UTC),
    )
    pages = measure_pdf(pdf)
    assert len(pages) >= 2  # the long list runs over a page, and every page keeps the margins
    assert margin_faults(pages, duplex=False) == []
