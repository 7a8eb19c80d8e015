"""The whole class journal PDF: title, contents, reports, certification, attachments (R2, R5, J1, J3, P1, P2).

Real data (factories → SQLite → extract_class_journal), real WeasyPrint, pikepdf's PDF/A
validator and poppler's pdftotext, one page at a time, for what a reader sees.
"""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import pikepdf
import pytest
from pikepdf.pdfa import validate_written

from benchmarks.synthetic import synthetic_class_journal
from documents.csv_export import journal_csv_files
from documents.layout import Box
from documents.pdf import render_journal_pdf
from documents.render import RenderedDocument
from documents.sections import (
    CERTIFICATION_SECTION,
    TEXT,
    TITLE_SECTION,
    TextSheet,
    attendance_sheets,
    journal_document,
    progress_sheets,
    student_list_sheets,
)
from documents.statistics import course_progress, report_spans
from documents.tables import RowKind
from documents.xml_format import JOURNAL_XML_NAME, journal_xml
from journal.model import Assessment, ClassJournal, FinalMark
from journal.russian import count_words, number_in_words, sheets_in_words
from journal.source import create_schema, extract_class_journal, open_source, write_school_year
from tests.factories import (
    COURSE_MATH_5A,
    STUDENT_JOINED,
    STUDENT_LEFT,
    STUDENTS_5A_IN_ORDER,
    YEAR_NAME,
    make_school_year,
)

SCRIPT = "<script>alert('x')</script>"


def page_text(path: Path, page: int, crop: Box | None = None) -> str:
    """The text of one page; with `crop`, only of that area (millimetres)."""
    args = ["pdftotext", "-layout", "-enc", "UTF-8", "-f", str(page), "-l", str(page)]
    if crop is not None:
        pt = 72 / 25.4
        args += ["-r", "72", "-x", str(int(crop.left * pt)), "-y", str(int(crop.top * pt))]
        args += ["-W", str(int(crop.width * pt) + 1), "-H", str(int(crop.height * pt) + 1)]
    return subprocess.run([*args, str(path), "-"], capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def quarter(tmp_path_factory: pytest.TempPathFactory) -> ClassJournal:
    folder = tmp_path_factory.mktemp("journal-source")
    engine = open_source(f"sqlite:///{folder / 'journal.sqlite'}", create=True)
    try:
        create_schema(engine)
        write_school_year(engine, make_school_year())
        return extract_class_journal(engine, YEAR_NAME, "5А", "Q1")
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def files(quarter: ClassJournal) -> dict[str, bytes]:
    """What the archive embeds: the CSV tables, their CSVW description and the XML."""
    data = dict(journal_csv_files(quarter))
    data[JOURNAL_XML_NAME] = journal_xml(quarter)
    return data


@pytest.fixture(scope="module")
def rendered(
    quarter: ClassJournal, files: dict[str, bytes], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, RenderedDocument]:
    path = tmp_path_factory.mktemp("journal-pdf") / "journal.pdf"
    return path, render_journal_pdf(quarter, path, attachments=files, chunk_size=7)


def test_the_title_total_is_the_real_page_count_and_the_certified_number(
    rendered: tuple[Path, RenderedDocument],
) -> None:
    """R2: the title sheet's «Всего в журнале N листов» and the certification's N are the page count."""
    path, result = rendered
    with pikepdf.open(path) as pdf:
        pages = len(pdf.pages)
    assert result.pages == result.sheets == pages > 10
    title = page_text(path, 1)
    assert "КЛАССНЫЙ ЖУРНАЛ" in title and "5А класса" in title
    assert "I четверть 2024/2025 учебного года" in title
    assert f"Всего в журнале {count_words(pages, 'лист', 'листа', 'листов')}" in title
    assert "Журнал сформирован 25 октября 2024 г." in title  # the quarter's last day, from the data
    last = " ".join(page_text(path, pages).split())
    words = number_in_words(pages)
    assert f"пронумеровано и прошнуровано {pages} ({words})" in last
    assert sheets_in_words(pages).split()[-1] in last  # «листов» agreeing with the number
    assert "М. П." in last and "Директор" in last and "Т. В. Ёлкина" in last  # «Ёлкина Т. В.» turned round
    assert f"Лист {pages} из {pages}" in last


def test_contents_and_outline_point_at_each_section(rendered: tuple[Path, RenderedDocument]) -> None:
    path, result = rendered
    sections = result.sections
    assert sections[0].title == TITLE_SECTION and sections[-1].title == CERTIFICATION_SECTION
    pages = [page for s in sections for page in range(s.first_page, s.last_page + 1)]
    assert pages == list(range(1, result.pages + 1))  # every page in exactly one section, in order
    title_lines = page_text(path, 1, TEXT.contents_box).splitlines()
    headings = {
        TITLE_SECTION: "КЛАССНЫЙ ЖУРНАЛ",
        CERTIFICATION_SECTION: "ЗАВЕРИТЕЛЬНЫЙ ЛИСТ",
        "отметки": "Ф. И. О. обучающегося",
        "содержание уроков": "Что пройдено на уроке",
    }
    for section in sections:
        text = page_text(path, section.first_page)
        assert section.group in text  # a course's sheets are headed by the course's name
        assert headings.get(section.part or section.title, section.title) in text, section
        # The title sheet's contents line for the section names its sheets.
        name = section.group or section.title
        line = next(line for line in title_lines if f" {name} " in f" {line} ")
        expected = section.sheet_range(False)
        if section.group:
            expected = f"{'отметки' if section.part == 'отметки' else 'уроки'} {expected}"
        assert expected in line, (line, section)
    with pikepdf.open(path) as pdf:
        assert pdf.Root.PageMode == pikepdf.Name.UseOutlines
        with pdf.open_outline() as outline:
            flat = []
            for item in outline.root:
                flat.append((str(item.title), item.destination[0].objgen))
                flat.extend((str(c.title), c.destination[0].objgen) for c in item.children)
        page_ids = [p.objgen for p in pdf.pages]
    expected_outline = []
    for section in sections:
        if section.group and section.part == "отметки":
            expected_outline.append((section.group, page_ids[section.first_page - 1]))
        label = section.part.capitalize() if section.group else section.title
        expected_outline.append((label, page_ids[section.first_page - 1]))
    assert flat == expected_outline


def test_source_data_is_embedded_as_pdfa3_associated_files(
    rendered: tuple[Path, RenderedDocument], files: dict[str, bytes]
) -> None:
    """R5, R10: the PDF alone carries its data, byte for byte, each file listed once in /AF."""
    path, _ = rendered
    assert validate_written(path, "3b").verdict == "pass"
    with pikepdf.open(path) as pdf:
        assert sorted(pdf.attachments) == sorted(files)
        for name, data in files.items():
            spec = pdf.attachments[name]
            assert spec.get_file().read_bytes() == data, name
            relationship = "/Source" if name == JOURNAL_XML_NAME else "/Data"
            assert spec.obj.AFRelationship == pikepdf.Name(relationship), name
            mimes = {"csv": "text/csv", "json": "application/json", "xml": "application/xml"}
            assert spec.get_file().mime_type == mimes[name.split(".")[-1]]
            assert str(spec.obj.Desc)  # a description in Russian
            assert str(spec.get_file().obj.Params.ModDate).startswith("D:20241025")
        listed = [spec.objgen for spec in pdf.Root.AF]
        assert len(listed) == len(set(listed)) == len(files)
        for page in pdf.pages:
            for font in page.Resources.Font.values():
                assert "/FontFile2" in font.DescendantFonts[0].FontDescriptor


def test_two_renders_are_byte_identical(
    rendered: tuple[Path, RenderedDocument], quarter: ClassJournal, files: dict[str, bytes], tmp_path: Path
) -> None:
    again = tmp_path / "again.pdf"
    render_journal_pdf(quarter, again, attachments=dict(reversed(files.items())), chunk_size=7)
    assert again.read_bytes() == rendered[0].read_bytes()


def test_duplex_counts_two_pages_a_sheet(quarter: ClassJournal) -> None:
    simplex = journal_document(quarter)
    duplex = journal_document(quarter, duplex=True)
    assert duplex.pages == simplex.pages
    sheets = (duplex.pages + 1) // 2
    assert duplex.sheet_count == sheets
    labels = [s.label for s in duplex.sheets]
    assert labels[0] == f"Лист 1 из {sheets}" and labels[1] == "оборот листа 1"
    assert labels[2] == f"Лист 2 из {sheets}"
    assert all(label.startswith("Лист") == (i % 2 == 0) for i, label in enumerate(labels))
    title, certification = duplex.sheets[0], duplex.sheets[-1]
    assert isinstance(title, TextSheet) and isinstance(certification, TextSheet)
    title_text = " ".join(b.text for b in title.blocks)
    assert f"Всего в журнале {count_words(sheets, 'лист', 'листа', 'листов')}" in title_text
    assert f"прошнуровано {sheets} ({number_in_words(sheets)})" in " ".join(
        b.text for b in certification.blocks
    )
    section = next(s for s in duplex.sections if s.part == "содержание уроков")
    assert section.sheets(True) == ((section.first_page + 1) // 2, (section.last_page + 1) // 2)
    assert [s.label for s in simplex.sheets][1] == f"Лист 2 из {simplex.pages}"


def with_math_finals(journal: ClassJournal) -> ClassJournal:
    """Mathematics' Q1 marks set by hand: 5, 4, 2 and «н/а»; the student who left has none."""
    math = journal.course_by_id[COURSE_MATH_5A]
    planted = dict(zip((504, 501, 503, 502), ("5", "4", "2", "н/а"), strict=True))
    finals = [f for f in journal.final_marks if not (f.subject_id == math.subject_id and f.period == "Q1")]
    finals += [FinalMark(sid, math.subject_id, "Q1", value) for sid, value in planted.items()]
    return dataclasses.replace(journal, final_marks=tuple(finals))


def test_progress_report_matches_a_hand_computation(quarter: ClassJournal) -> None:
    """P1 for one course: 4 students in the class at the quarter's end (Яшин left), 3 attested;
    успеваемость 2/3 = 66,7 %, качество 2/3 = 66,7 %, средний балл (5+4+2)/3 = 3,67, one «н/а»."""
    journal = with_math_finals(quarter)
    assert STUDENT_LEFT in journal.student_by_id and STUDENT_JOINED not in journal.student_by_id
    math = journal.course_by_id[COURSE_MATH_5A]
    (span,) = report_spans(journal)
    p = course_progress(journal, math, span)
    assert (p.students, p.attested, p.grades, p.succeeded, p.good) == (4, 3, (1, 1, 0, 1), 2, 2)
    assert p.not_attested == (502,)
    rows = [row for sheet in progress_sheets(journal) for t in sheet.tables for row in t.rows]
    row = next(r for r in rows if r.kind is RowKind.BODY and r.cells[1] == journal.course_title(math))
    ezhov = journal.student_by_id[502].short_name
    # students, attested, «5», «4», «3», «2», зач, незач
    assert row.cells[3:11] == ("4", "3", "1", "1", "—", "1", "—", "—")
    assert row.cells[11:15] == ("66,7 %", "66,7 %", "3,67", f"1: {ezhov}")
    total = next(r for r in rows if r.kind is RowKind.TOTAL)
    assert ezhov in total.cells[14]  # not attested in a subject: not attested in the class


def test_student_list_shows_departures_and_guardians(quarter: ClassJournal) -> None:
    (sheet,) = student_list_sheets(quarter)
    rows = sheet.tables[0].rows
    left = next(r for r in rows if r.kind is RowKind.BODY and "Яшин" in str(r.cells[1]))
    assert "10.10.2024" in str(left.cells[3])
    assert [r.cells[1] for r in rows if r.kind is RowKind.BODY] == [
        quarter.student_by_id[sid].full_name for sid in STUDENTS_5A_IN_ORDER if sid in quarter.student_by_id
    ]
    assert any(r.cells[4] != ("",) for r in rows if r.kind is RowKind.BODY)  # guardians, one per line
    note = rows[-1]
    assert note.kind is RowKind.NOTE and "выбыло — 1" in str(note.cells[0])


def big_class_without_marks() -> ClassJournal:
    """40 students, grade 1 (no marks at all), a credit course, hostile and over-long text."""
    journal = synthetic_class_journal(students=40, courses=2, lessons_per_course=6)
    courses = (
        dataclasses.replace(journal.courses[0], assessment=Assessment.NONE),
        dataclasses.replace(journal.courses[1], assessment=Assessment.CREDIT),
    )
    students = list(journal.students)
    students[0] = dataclasses.replace(students[0], last_name=SCRIPT)
    students[1] = dataclasses.replace(students[1], last_name="Ж" * 5000)
    school = dataclasses.replace(journal.school, name="Школа " + "очень длинное название " * 40)
    subjects = (dataclasses.replace(journal.subjects[0], name="Предмет " * 60), *journal.subjects[1:])
    return dataclasses.replace(
        journal,
        school=school,
        subjects=subjects,
        courses=courses,
        students=tuple(students),
        marks=(),
        final_marks=(),
    )


def test_a_big_class_without_marks_splits_sheets_and_renders_one_page_each(tmp_path: Path) -> None:
    journal = big_class_without_marks()
    assert len(student_list_sheets(journal)) >= 2 and len(attendance_sheets(journal)) == 2
    document = journal_document(journal)
    for sheet in document.sheets:
        for table in getattr(sheet, "tables", ()):
            assert table.height <= table.box.height + 0.01
    progress = [row for s in progress_sheets(journal) for t in s.tables for row in t.rows]
    assert any("не оценивается" in str(row.cells) for row in progress)
    path = tmp_path / "big.pdf"
    result = render_journal_pdf(journal, path, chunk_size=6)  # LayoutError if a sheet took two pages
    assert result.pages == document.pages
    assert validate_written(path, "3b").verdict == "pass"
    text = "".join(page_text(path, s.first_page) for s in document.sections if not s.group)
    assert SCRIPT in text and "ЖЖЖЖ" in text and "…" in text


def test_a_year_journal_reports_every_period_and_the_year(tmp_path: Path) -> None:
    engine = open_source(f"sqlite:///{tmp_path / 'journal.sqlite'}", create=True)
    try:
        create_schema(engine)
        write_school_year(engine, make_school_year())
        year = extract_class_journal(engine, YEAR_NAME, "5А", None)
    finally:
        engine.dispose()
    groups = [
        str(row.cells[0])
        for sheet in progress_sheets(year)
        for table in sheet.tables
        for row in table.rows
        if row.kind is RowKind.GROUP and not str(row.cells[0]).endswith("(продолжение)")
    ]
    assert [g.split(" (")[0] for g in groups] == [
        "I четверть",
        "II четверть",
        "III четверть",
        "IV четверть",
        "Учебный год",
    ]
    document = journal_document(year)
    title = document.sheets[0]
    assert isinstance(title, TextSheet)
    assert "2024/2025 учебный год" in " ".join(b.text for b in title.blocks)
