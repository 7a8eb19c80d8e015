"""Marks and lessons sheets of the class journal as PDF/A-3b (J2–J5, R2, R5, R10).

Real data path (factories → SQLite → extract_class_journal), real WeasyPrint, real
pikepdf validator, poppler's pdftotext for what a reader can copy out of the file.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
import subprocess
from pathlib import Path

import pikepdf
import pytest
from pikepdf.pdfa import validate_written

from benchmarks.synthetic import synthetic_class_journal
from documents.fonts import SANS, TEMPLATES_DIR, text_width_mm
from documents.layout import (
    LESSONS,
    LessonsSheet,
    MarksSheet,
    cell_text,
    journal_sheets,
    lessons_sheets,
    marks_sheets,
    number_sheets,
    split_evenly,
)
from documents.pdf import journal_meta, render_journal_pdf
from documents.pdfa import PdfMeta, finish_pdfa
from documents.render import FetchRefused, TemplateFetcher, render_sheets_pdf
from documents.sections import journal_document
from journal.model import ClassJournal, LessonStatus, Mark
from journal.russian import month_name
from journal.source import create_schema, extract_class_journal, open_source, write_school_year
from tests.factories import YEAR_NAME, make_school_year, with_awkward_text

SCRIPT = "<script>alert('x')</script>"
FILE_URL = "url(file:///etc/passwd)"
HUGE = "Ж" * 10_000


def pdftotext(path: Path, *pages: int) -> str:
    args = ["pdftotext", "-layout", "-enc", "UTF-8"]
    if pages:
        args += ["-f", str(pages[0]), "-l", str(pages[-1])]
    return subprocess.run([*args, str(path), "-"], capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def quarter(tmp_path_factory: pytest.TempPathFactory) -> ClassJournal:
    """5А, first quarter, from a real SQLite journal (subgroups, a substitute, special marks…)."""
    folder = tmp_path_factory.mktemp("pdf-source")
    engine = open_source(f"sqlite:///{folder / 'journal.sqlite'}", create=True)
    try:
        create_schema(engine)
        write_school_year(engine, make_school_year())
        return extract_class_journal(engine, YEAR_NAME, "5А", "Q1")
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def hostile(quarter: ClassJournal) -> ClassJournal:
    """The quarter with HTML, a file URL and a 10,000-character string in names and topics."""
    journal = with_awkward_text(quarter)  # «незач», «н/а», «осв», «6», «4+», a 10,000-character topic…
    students = list(journal.students)
    students[0] = dataclasses.replace(students[0], last_name=SCRIPT)
    students[1] = dataclasses.replace(students[1], last_name=FILE_URL, first_name="", patronymic="")
    students[2] = dataclasses.replace(students[2], last_name=HUGE)
    lessons = list(journal.lessons)
    lessons[-1] = dataclasses.replace(lessons[-1], topic=f"{SCRIPT} {FILE_URL}", homework=HUGE)
    return dataclasses.replace(journal, students=tuple(students), lessons=tuple(lessons))


@pytest.fixture(scope="module")
def rendered(hostile: ClassJournal, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, TemplateFetcher]:
    path = tmp_path_factory.mktemp("pdf") / "journal.pdf"
    fetcher = TemplateFetcher()
    logger = logging.getLogger("weasyprint")
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append  # type: ignore[method-assign]
    logger.addHandler(handler)
    try:
        render_journal_pdf(hostile, path, chunk_size=5, url_fetcher=fetcher)  # several chunks, merged
    finally:
        logger.removeHandler(handler)
    assert [r.getMessage() for r in records] == []
    return path, fetcher


def test_the_journal_is_valid_pdfa_3b_with_embedded_fonts(rendered: tuple[Path, TemplateFetcher]) -> None:
    path, _ = rendered
    report = validate_written(path, "3b")
    assert report.verdict == "pass", report.findings
    with pikepdf.open(path) as pdf:
        fonts = {}
        for page in pdf.pages:
            for font in page.Resources.Font.values():
                fonts[(str(font.BaseFont), font.objgen)] = font
        assert len({name for name, _ in fonts}) >= 3  # sans, bold, mono
        for font in fonts.values():
            descriptor = font.DescendantFonts[0].FontDescriptor
            assert "/FontFile2" in descriptor, f"{font.BaseFont} is not embedded"
            assert "/ToUnicode" in font
        # Subsets of the same font in different chunks never share a name.
        subsets = {}
        for (base, _), font in fonts.items():
            data = font.DescendantFonts[0].FontDescriptor.FontFile2.read_raw_bytes()
            assert subsets.setdefault(base, data) == data
        assert pdf.open_metadata()["pdfaid:part"] == "3"
        assert str(pdf.docinfo["/CreationDate"]).startswith("D:20241025")  # the quarter's last day, not now


def test_every_sheet_is_numbered_with_the_real_page_count(
    rendered: tuple[Path, TemplateFetcher], hostile: ClassJournal
) -> None:
    path, _ = rendered
    with pikepdf.open(path) as pdf:
        pages = len(pdf.pages)
    document = journal_document(hostile)
    assert pages == document.pages > 5  # one page per sheet model, across chunks
    text = pdftotext(path)
    for n in range(1, pages + 1):
        assert text.count(f"Лист {n} из {pages}") == 1
    assert f"Лист {pages + 1} " not in text
    first_marks = next(s for s in document.sections if s.part == "отметки").first_page
    first = pdftotext(path, first_marks)
    assert "Ф. И. О. обучающегося" in first and "Отметка за" in first and "I четверть" in first
    assert re.search(r"сентябрь|октябрь", first)
    listed = journal_sheets(hostile)[0].students[-1]
    assert hostile.student_by_id[listed].last_name in first  # real, extractable names


def test_lessons_sheets_show_topic_homework_and_substitutions(
    rendered: tuple[Path, TemplateFetcher], hostile: ClassJournal
) -> None:
    text = pdftotext(rendered[0])
    assert "Что пройдено на уроке" in text and "Домашнее задание" in text
    assert "замена:" in text  # the factories' substitute lesson (J5)
    held = next(lesson for lesson in hostile.lessons if len(lesson.topic) > 20 and "<" not in lesson.topic)
    assert held.topic[:20] in text


def test_hostile_text_is_printed_not_obeyed_and_nothing_is_fetched(
    rendered: tuple[Path, TemplateFetcher],
) -> None:
    path, fetcher = rendered
    text = pdftotext(path)
    assert SCRIPT in text
    assert FILE_URL in text
    assert "ЖЖЖЖЖЖЖЖ…" in text.replace("\n", "")  # the 10,000-character name, ellipsized to its column
    assert fetcher.refused == []
    templates = TEMPLATES_DIR.resolve().as_uri()
    assert fetcher.requested, "the stylesheet, fonts and grids come through the fetcher"
    assert all(url.startswith(templates + "/") for url in fetcher.requested), fetcher.requested
    assert not any("passwd" in url for url in fetcher.requested)


def test_two_renders_are_byte_identical(
    rendered: tuple[Path, TemplateFetcher], hostile: ClassJournal, tmp_path: Path
) -> None:
    again = tmp_path / "again.pdf"
    render_journal_pdf(hostile, again, chunk_size=5)
    assert again.read_bytes() == rendered[0].read_bytes()


def test_the_fetcher_serves_only_templates_and_fonts() -> None:
    fetcher = TemplateFetcher()
    css = fetcher.fetch((TEMPLATES_DIR / "journal" / "journal.css").as_uri())
    assert b"@font-face" in css.read()
    font = fetcher.fetch((TEMPLATES_DIR / "fonts" / "DejaVuSansMono.ttf").as_uri())
    assert font.read(4) == b"\x00\x01\x00\x00"  # a TrueType file, from fonts-dejavu
    grid = fetcher.fetch((TEMPLATES_DIR / "journal" / "marks_grid.svg").as_uri()).read()
    assert grid.startswith(b"<svg") and b"{{" not in grid  # drawn from the layout's geometry
    for url in (
        "file:///etc/passwd",
        (TEMPLATES_DIR / "journal").as_uri() + "/../../../../etc/passwd",
        (TEMPLATES_DIR / "fonts" / "passwd").as_uri(),
        "http://example.com/journal.css",
        "data:text/css,body{}",
    ):
        with pytest.raises(FetchRefused):
            fetcher.fetch(url)
    assert len(fetcher.refused) == 5


def all_held(journal: ClassJournal) -> ClassJournal:
    """The synthetic class with every lesson held, so each lesson gets a date column."""
    lessons = tuple(dataclasses.replace(ls, status=LessonStatus.HELD) for ls in journal.lessons)
    return dataclasses.replace(journal, lessons=lessons)


def test_a_30_by_35_grid_fits_one_legible_sheet(tmp_path: Path) -> None:
    """30 students × 35 lessons on one sheet, nothing below 7 pt (issue 15): the five-character
    «незач» and «5/4/3» do not fit a cell at 7 pt, so they go to numbered notes under the grid."""
    journal = all_held(synthetic_class_journal(students=30, courses=1, lessons_per_course=35))
    lessons = sorted(journal.lessons, key=lambda ls: (ls.date, ls.number, ls.id))
    planted = {  # (student, lesson) → marks, on cells cleared first
        (0, 0): ("4", "5"),
        (1, 1): ("н/а",),
        (2, 2): ("незач",),
        (3, 3): ("зач",),
        (29, 34): ("5", "4", "3"),
    }
    cells = {(journal.students[s].id, lessons[c].id) for s, c in planted}
    marks = [m for m in journal.marks if (m.student_id, m.lesson_id) not in cells]
    for (s, c), values in planted.items():
        for value in values:
            marks.append(Mark(100_000 + len(marks), lessons[c].id, journal.students[s].id, value, "ответ"))
    absences = tuple(a for a in journal.absences if (a.student_id, a.lesson_id) not in cells)
    journal = dataclasses.replace(journal, marks=tuple(marks), absences=absences)
    (sheet,) = marks_sheets(journal, journal.courses[0])
    assert (len(sheet.students), len(sheet.lessons)) == (30, 35)
    assert all(block.size_pt >= 7 for block in (sheet.names, *sheet.cells, *sheet.days))
    path = tmp_path / "grid.pdf"
    assert render_sheets_pdf(number_sheets([sheet]), path, journal_meta(journal)) == 1
    text = pdftotext(path)
    for student in (journal.students[0], journal.students[-1]):
        assert student.last_name in text
    assert "Лист 1 из 1" in text
    for shown in ("4/5", "н/а", "зач"):
        assert re.search(rf"(?<!\S){shown}(?!\S)", text), shown
    assert sheet.notes is not None and sheet.notes.size_pt >= 7
    notes = " ".join(sheet.notes.lines)
    assert f"*1 — {journal.students[2].short_name}" in notes and ": незач" in notes
    assert f"— {journal.students[29].short_name}" in notes and ": 5/4/3" in notes
    assert "незач" in text and "5/4/3" in text


def test_special_marks_and_absences_reach_the_page(rendered: tuple[Path, TemplateFetcher]) -> None:
    text = pdftotext(rendered[0])
    for mark in ("незач", "зач", "н/а", "осв"):
        assert re.search(rf"(?<!\S){mark}(?!\S)", text), mark
    assert re.search(r"(?<!\S)н(?!\S)", text)


# --- Layout, without rendering ----------------------------------------------------


def test_students_and_dates_are_split_evenly_across_sheets() -> None:
    journal = all_held(synthetic_class_journal(students=32, courses=1, lessons_per_course=40))
    sheets = marks_sheets(journal, journal.courses[0])
    assert [(len(s.lessons), len(s.students)) for s in sheets] == [(20, 16), (20, 16), (20, 16), (20, 16)]
    assert sheets[0].names.lines[0].strip().startswith("1")
    assert sheets[1].names.lines[0].strip().startswith("17")  # row numbers run on across sheets
    assert "обучающиеся № 17–32" in sheets[1].header.subtitle
    assert [any(s.finals) for s in sheets] == [False, False, True, True]  # on the last run of dates only
    assert split_evenly(list(range(30)), 30) == (tuple(range(30)),)
    assert split_evenly([], 30) == ((),)


def test_cells_join_marks_and_absences_and_long_ones_go_to_notes() -> None:
    assert cell_text(["4", "5"], False) == "4/5"
    assert cell_text([], True) == "н"
    assert cell_text(["н/а"], False) == "н/а"
    journal = synthetic_class_journal(students=3, courses=1, lessons_per_course=3)
    lesson = journal.lessons[0]
    student = journal.students[0]
    extra = tuple(Mark(10_000 + i, lesson.id, student.id, v, "ответ") for i, v in enumerate("5432"))
    journal = dataclasses.replace(journal, marks=journal.marks + extra)
    (sheet,) = marks_sheets(journal, journal.courses[0])
    assert sheet.notes is not None
    assert "5/4/3/2" in sheet.notes.text and student.short_name in sheet.notes.text
    assert any("*1" in line for block in sheet.cells for line in block.lines)


def test_long_names_and_topics_are_cut_to_their_columns() -> None:
    journal = synthetic_class_journal(students=3, courses=1, lessons_per_course=2)
    students = (dataclasses.replace(journal.students[0], last_name=HUGE), *journal.students[1:])
    lessons = (
        dataclasses.replace(journal.lessons[0], topic=HUGE, homework=SCRIPT * 40),
        *journal.lessons[1:],
    )
    journal = dataclasses.replace(journal, students=students, lessons=lessons)
    (marks,) = marks_sheets(journal, journal.courses[0])
    assert marks.names.lines[0].endswith("…")
    assert all(
        text_width_mm(line, SANS, marks.names.size_pt) <= marks.names.box.width for line in marks.names.lines
    )
    (sheet,) = lessons_sheets(journal, journal.courses[0])
    date, topic, homework, _teacher = sheet.columns
    assert len(topic.lines) == LESSONS.topic_lines + 1  # 4 lines for the first lesson, 1 for the second
    assert topic.lines[LESSONS.topic_lines - 1].endswith("…")
    assert all(text_width_mm(line, SANS, topic.size_pt) <= topic.box.width for line in topic.lines)
    assert date.lines[: LESSONS.topic_lines] == (date.lines[0], "", "", "")
    assert homework.lines[0].startswith("<script>")


def test_lessons_fill_sheets_without_splitting_a_lesson() -> None:
    journal = synthetic_class_journal(students=2, courses=1, lessons_per_course=120)
    sheets = lessons_sheets(journal, journal.courses[0])
    assert len(sheets) >= 3
    seen = [lesson_id for sheet in sheets for lesson_id in sheet.lessons]
    assert seen == [
        lesson.id for lesson in sorted(journal.lessons, key=lambda ls: (ls.date, ls.number, ls.id))
    ]
    for sheet in sheets:
        assert all(len(column.lines) <= LESSONS.lines for column in sheet.columns)
        assert len(sheet.rules) == len(sheet.lessons)


def test_numbering_covers_marks_and_lessons_sheets_in_curriculum_order(quarter: ClassJournal) -> None:
    sheets = number_sheets(journal_sheets(quarter))
    assert [(s.number, s.total) for s in sheets] == [(i, len(sheets)) for i in range(1, len(sheets) + 1)]
    assert isinstance(sheets[0], MarksSheet) and any(isinstance(s, LessonsSheet) for s in sheets)
    titles = [s.header.title for s in sheets if isinstance(s, MarksSheet)]
    assert any("группа" in t for t in titles)  # subgroup courses get their own sheets (J2)
    missed = [ls for ls in quarter.lessons if ls.status.value == "missed"]
    for lesson in missed:
        assert any(lesson.id in s.lessons for s in sheets if isinstance(s, LessonsSheet))


def test_finishing_is_what_makes_weasyprint_output_pass_as_pdfa(tmp_path: Path) -> None:
    """Raw WeasyPrint PDF/A has empty /Pattern and /Shading dictionaries; finish_pdfa removes them."""
    from weasyprint import HTML

    raw = tmp_path / "raw.pdf"
    HTML(string="<p>Лист 1 из 1</p>").write_pdf(raw, pdf_variant="pdf/a-3b")
    assert validate_written(raw, "3b").verdict == "not_checked"
    meta = PdfMeta("Проверка", "Школа", "тест", dt.datetime(2024, 10, 25, tzinfo=dt.UTC))
    finished = tmp_path / "finished.pdf"
    with pikepdf.open(raw) as pdf:
        finish_pdfa(pdf, finished, meta)
    assert validate_written(finished, "3b").verdict == "pass"
    with pikepdf.open(finished) as pdf:
        assert pdf.open_metadata()["dc:title"] == "Проверка"
        assert str(pdf.docinfo["/ModDate"]).startswith("D:20241025")
    assert not list(tmp_path.glob(".*.part"))


def test_month_headings_are_russian_nominative() -> None:
    assert [month_name(dt.date(2024, m, 1)) for m in (9, 10, 1)] == ["сентябрь", "октябрь", "январь"]
    assert month_name(dt.date(2024, 9, 1), abbreviated=True) == "сент."
