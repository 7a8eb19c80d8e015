"""The year summary of a class: сводная ведомость итоговых оценок и посещаемости (R3, R6, J3, J4).

Real data path (demo generator → SQLite → extract_class_journal), real WeasyPrint, pikepdf's
PDF/A validator and poppler's pdftotext; the 30 × 15 case is the demo class widened to 30
students and 15 subjects.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import random
import re
import subprocess
from pathlib import Path

import pikepdf
import pytest
from pikepdf.pdfa import validate_written

from documents.render import RenderedDocument
from documents.sections import journal_document
from documents.statistics import attendance
from documents.summary import (
    ATTENDANCE_CSV,
    ATTENDANCE_TITLE,
    MARKS_CSV,
    MARKS_TITLE,
    SHORT_MARKS,
    SummaryError,
    class_periods,
    mark_columns,
    monthly_absences,
    plan_marks,
    render_summary_pdf,
    summary_csv_files,
    summary_document,
    summary_sheets,
    summary_subjects,
    year_months,
)
from journal.demo import generate_demo_school
from journal.model import (
    FINAL_EXAM,
    FINAL_RESULT,
    FINAL_YEAR,
    ClassJournal,
    Enrolment,
    FinalMark,
    Student,
    Subject,
)
from journal.russian import sheets_with_words
from journal.source import create_schema, extract_class_journal, open_source, write_school_year

YEAR = "2024/2025"
EXTRA_SUBJECTS = (
    ("Информатика", "Информ."),
    ("Второй иностранный язык (немецкий)", "Нем. яз."),
    ("Основы безопасности и защиты Родины", "ОБЗР"),
    ("Вероятность и статистика", "Вер. и стат."),
)


def pdftotext(path: Path, *pages: int) -> str:
    args = ["pdftotext", "-layout", "-enc", "UTF-8"]
    if pages:
        args += ["-f", str(pages[0]), "-l", str(pages[-1])]
    return subprocess.run([*args, str(path), "-"], capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def engine_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('summary-source') / 'journal.sqlite'}"
    engine = open_source(url, create=True)
    try:
        create_schema(engine)
        write_school_year(engine, generate_demo_school(size="class").data)
    finally:
        engine.dispose()
    return url


@pytest.fixture(scope="module")
def year(engine_url: str) -> ClassJournal:
    engine = open_source(engine_url)
    try:
        return extract_class_journal(engine, YEAR, "5А", None)
    finally:
        engine.dispose()


def widened(journal: ClassJournal, students: int = 30, subjects: int = 15) -> ClassJournal:
    """The class with students and subjects added up to the given counts, every one with marks."""
    rng = random.Random(7)
    periods = [p.code for p in class_periods(journal)] + [FINAL_YEAR]
    new_subjects = list(journal.subjects)
    for i, (name, short) in enumerate(EXTRA_SUBJECTS[: subjects - len(journal.subjects)]):
        new_subjects.append(Subject(900 + i, name, short, 30 + i))
    new_students = list(journal.students)
    enrolments = list(journal.enrolments)
    names = [("Юдина", "Алиса", "Романовна"), ("Яковлев", "Фёдор", "Ильич"), ("Ёлкин", "Пётр", "Олегович")]
    for i in range(students - len(journal.students)):
        last, first, middle = names[i]
        student = Student(last, first, middle, id=9000 + i, birth_date=dt.date(2013, 3, 1 + i))
        new_students.append(student)
        enrolments.append(Enrolment(student.id, journal.school_class.id, None, None))
    finals = list(journal.final_marks)
    have = {(f.student_id, f.subject_id) for f in finals}
    for student in new_students:
        for subject in new_subjects:
            if (student.id, subject.id) in have:
                continue
            finals += [FinalMark(student.id, subject.id, code, rng.choice("3445")) for code in periods]
    return dataclasses.replace(
        journal,
        students=tuple(new_students),
        enrolments=tuple(enrolments),
        subjects=tuple(new_subjects),
        final_marks=tuple(finals),
    )


@pytest.fixture(scope="module")
def big(year: ClassJournal) -> ClassJournal:
    journal = widened(year)
    assert len(journal.students) == 30 and len(summary_subjects(journal)) == 15
    return journal


@pytest.fixture(scope="module")
def rendered(big: ClassJournal, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("summary-pdf") / "summary.pdf"
    render_summary_pdf(big, path, attachments=summary_csv_files(big))
    return path


def printed_names(journal: ClassJournal, text: str) -> list[Student]:
    return [s for s in journal.students if s.full_name in text or s.short_name in text]


def test_the_summary_is_valid_pdfa_3b_with_its_csv_attached(rendered: Path, big: ClassJournal) -> None:
    path = rendered
    report = validate_written(path, "3b")
    assert report.verdict == "pass", report.findings
    with pikepdf.open(path) as pdf:
        assert len(pdf.pages) == 4  # title, marks, attendance, certification
        assert sorted(pdf.attachments) == [
            "attendance_summary.csv",
            "csv-metadata.json",
            "final_marks_summary.csv",
        ]
        assert str(pdf.docinfo["/CreationDate"]).startswith("D:20250526")  # the year's last day, not now
        assert pdf.attachments[MARKS_CSV].get_file().read_bytes() == summary_csv_files(big)[MARKS_CSV]


def test_thirty_students_by_fifteen_subjects_fit_one_sheet(rendered: Path, big: ClassJournal) -> None:
    sheets = summary_sheets(big)
    assert [s.section for s in sheets].count(MARKS_TITLE) == 1
    marks = pdftotext(rendered, 2)
    assert MARKS_TITLE in marks
    assert len(printed_names(big, marks)) == 30
    for subject in summary_subjects(big):
        assert subject.short_name in marks, subject.short_name


def test_printed_marks_are_the_final_marks_in_order(rendered: Path, big: ClassJournal) -> None:
    """Every student's line of the ведомость reads exactly their marks, subject by subject (R10); 30 × 15
    fits one sheet at 7 pt only abbreviated («з» for «зач», issue 15), and the legend says so."""
    page = pdftotext(rendered, 2)
    lines = page.splitlines()
    subjects = summary_subjects(big)
    tier, _ = plan_marks(big)
    assert tier.short and tier.cell_pt >= 7
    assert "г — годовая отметка" in " ".join(page.split()) and "з — зачтено" in " ".join(page.split())
    for number, student in enumerate(big.students, start=1):
        line = next(line for line in lines if re.match(rf"\s*{number}\s", line) and student.last_name in line)
        tail = line.split(student.last_name, 1)[1]
        tokens = [t for t in tail.split() if re.fullmatch(r"[1-5]|з|нз|н/а|о", t)]
        expected = [
            SHORT_MARKS.get(value, value)
            for subject in subjects
            for code, _ in mark_columns(big, subject)
            if (value := big.final_mark(student.id, subject.id, code))
        ]
        assert tokens == expected, student.full_name


def test_title_and_certification_count_the_sheets(rendered: Path) -> None:
    title = pdftotext(rendered, 1)
    assert "СВОДНАЯ ВЕДОМОСТЬ" in title and "5А класса" in title
    assert "Всего в ведомости 4 листа" in title
    assert re.search(r"Сводная ведомость посещаемости\s+лист 3", title)
    certification = pdftotext(rendered, 4)
    assert "пронумеровано 4 (четыре) листа" in certification
    assert "М. П." in certification and "Директор" in certification
    every = pdftotext(rendered)
    assert [int(n) for n in re.findall(r"Лист (\d+) из 4", every)] == [1, 2, 3, 4]


def test_attendance_shows_every_student_and_month_and_adds_up(rendered: Path, year: ClassJournal) -> None:
    text = pdftotext(rendered, 3)
    assert ATTENDANCE_TITLE in text
    for month in ("сентябрь", "октябрь", "январь", "май", "За учебный год"):
        assert month in text
    months = year_months(year)
    assert [m.month for m in months] == [9, 10, 11, 12, 1, 2, 3, 4, 5]
    counts = monthly_absences(year)
    whole = attendance(year, year.year.start, year.year.end)
    missed = 0
    for student in year.students:
        lessons = sum(m.lessons_valid + m.lessons_invalid for m in counts[student.id])
        days = sum(m.days_valid + m.days_invalid for m in counts[student.id])
        assert lessons == whole[student.id].total
        assert days == whole[student.id].days
        assert sum(m.lessons_valid for m in counts[student.id]) == whole[student.id].valid
        missed += lessons
    assert missed == len(year.absences) > 0
    total_line = next(line for line in text.splitlines() if "Итого по классу" in line)
    assert str(missed - sum(whole[s.id].invalid + whole[s.id].unknown for s in year.students)) in total_line


def test_csv_files_follow_the_journal_conventions(year: ClassJournal) -> None:
    hostile = dataclasses.replace(
        year, students=(dataclasses.replace(year.students[0], last_name="=HYPERLINK(1)"), *year.students[1:])
    )
    files = summary_csv_files(hostile)
    assert sorted(files) == ["attendance_summary.csv", "csv-metadata.json", "final_marks_summary.csv"]
    for name in (MARKS_CSV, ATTENDANCE_CSV):
        data = files[name]
        assert not data.startswith(b"\xef\xbb\xbf")
        assert data.count(b"\r\n") == data.count(b"\n") > 1
    marks = list(csv.DictReader(io.StringIO(files[MARKS_CSV].decode("utf-8"), newline="")))
    assert marks[0]["Обучающийся"].startswith("'=HYPERLINK(1)")
    assert len(marks) == len(year.students) * len(summary_subjects(year))
    for row in marks:
        student, subject = int(row["Код обучающегося"]), int(row["Код предмета"])
        for period in class_periods(year):
            assert row[period.name] == (year.final_mark(student, subject, period.code) or "")
        assert row["Годовая отметка"] == (year.final_mark(student, subject, FINAL_YEAR) or "")
    rows = list(csv.DictReader(io.StringIO(files[ATTENDANCE_CSV].decode("utf-8"), newline="")))
    assert len(rows) == len(year.students) * (len(year_months(year)) + 1)
    year_rows = [r for r in rows if r["Месяц"] == ""]
    lessons = sum(
        int(r["Уроков по уважительной причине"]) + int(r["Уроков без уважительной причины"])
        for r in year_rows
    )
    assert lessons == len(year.absences)
    assert summary_csv_files(hostile) == files  # same snapshot, same bytes


def test_exam_and_final_columns_appear_only_where_marked(year: ClassJournal) -> None:
    maths = next(s for s in year.subjects if s.name == "Математика")
    student = year.students[0]
    journal = dataclasses.replace(
        year,
        final_marks=(
            *year.final_marks,
            FinalMark(student.id, maths.id, FINAL_EXAM, "5"),
            FinalMark(student.id, maths.id, FINAL_RESULT, "5"),
        ),
    )
    labels = [label for _, label in mark_columns(journal, maths)]
    assert labels == ["I", "II", "III", "IV", "год", "экз", "итог"]
    other = next(s for s in year.subjects if s.name == "История")
    assert [label for _, label in mark_columns(journal, other)] == ["I", "II", "III", "IV", "год"]
    legend = "\n".join(b.text for b in summary_sheets(journal)[1].blocks)
    assert "экз — экзаменационная" in legend and "итог — итоговая" in legend


def too_wide(year: ClassJournal) -> ClassJournal:
    """30 students × 16 subjects, three with the wide mark «незач»: the marks take two sheets."""
    wide = widened(year, students=30, subjects=16)
    return dataclasses.replace(
        wide,
        final_marks=tuple(
            dataclasses.replace(f, value="незач") if f.subject_id in {1, 2, 3} else f
            for f in wide.final_marks
        ),
    )


def test_too_many_subjects_or_students_are_split_not_shrunk(year: ClassJournal) -> None:
    """Subjects that do not fit even at the smallest size go to more sheets; 31+ students too."""
    wide = too_wide(year)
    sheets = summary_sheets(wide)
    marks = [s for s in sheets if s.section == MARKS_TITLE]
    assert len(marks) == 2
    assert sorted(sid for s in marks for sid in s.subjects) == sorted(s.id for s in summary_subjects(wide))
    assert "предметы, часть 1 из 2" in marks[0].header.subtitle
    title = "\n".join(b.text for b in sheets[0].blocks)
    assert (
        f"Всего в ведомости {len(sheets)} листов" in title
        or f"Всего в ведомости {len(sheets)} листа" in title
    )

    crowd = widened(year, students=31, subjects=12)
    sheets = summary_sheets(crowd)
    marks = [s for s in sheets if s.section == MARKS_TITLE]
    assert [len(s.students) for s in marks] == [16, 15]
    assert [s.number for s in sheets] == list(range(1, len(sheets) + 1))


def test_a_period_snapshot_is_refused(engine_url: str) -> None:
    engine = open_source(engine_url)
    try:
        quarter = extract_class_journal(engine, YEAR, "5А", "Q1")
    finally:
        engine.dispose()
    with pytest.raises(SummaryError, match="5А: сводная ведомость составляется за учебный год"):
        summary_sheets(quarter)


def test_two_renders_are_byte_identical(year: ClassJournal, tmp_path: Path) -> None:
    files = summary_csv_files(year)
    render_summary_pdf(year, tmp_path / "a.pdf", attachments=files)
    render_summary_pdf(year, tmp_path / "b.pdf", attachments=files)
    assert (tmp_path / "a.pdf").read_bytes() == (tmp_path / "b.pdf").read_bytes()


def test_duplex_summary_counts_sheets_as_the_journal_does(year: ClassJournal, tmp_path: Path) -> None:
    """With `duplex` (settings) the summary, like the journal, counts two pages a sheet: «Лист k из M»
    on a front, «оборот листа k» on its back, M sheets on the title, in the contents and on the
    certification sheet (R2, R3) — and the renderer reports them in the journal's result type."""
    wide = too_wide(year)  # 5 pages: title, 2 × marks, attendance, certification
    path = tmp_path / "duplex.pdf"
    rendered = render_summary_pdf(wide, path, attachments=summary_csv_files(wide), duplex=True)
    assert isinstance(rendered, RenderedDocument)
    assert (rendered.pages, rendered.sheets, rendered.duplex) == (5, 3, True)
    assert [(s.title, s.sheets(True)) for s in rendered.sections] == [
        ("Титульный лист", (1, 1)),
        (MARKS_TITLE, (1, 2)),
        (ATTENDANCE_TITLE, (2, 2)),
        ("Заверительный лист", (3, 3)),
    ]

    journal = journal_document(year, duplex=True)
    assert journal.sheet_count == (journal.pages + 1) // 2
    journal_labels = [s.label.replace(f"из {journal.sheet_count}", "из 3") for s in journal.sheets[:5]]
    labels = [s.label for s in summary_sheets(wide, duplex=True)]
    assert labels == ["Лист 1 из 3", "оборот листа 1", "Лист 2 из 3", "оборот листа 2", "Лист 3 из 3"]
    assert labels == journal_labels

    with pikepdf.open(path) as pdf:
        assert len(pdf.pages) == 5
    for page, label in enumerate(labels, start=1):
        assert label in pdftotext(path, page), f"page {page}"
    title = " ".join(pdftotext(path, 1).split())
    assert "Всего в ведомости 3 листа" in title
    assert "Листы считаются по двум страницам" in title
    assert "листы 1–2" in title and "лист 3" in title
    certification = " ".join(pdftotext(path, 5).split())
    assert f"пронумеровано {sheets_with_words(3)}" in certification

    simplex = summary_document(wide)
    assert (simplex.pages, simplex.sheet_count) == (5, 5)
    assert [s.label for s in simplex.sheets][1] == "Лист 2 из 5"
