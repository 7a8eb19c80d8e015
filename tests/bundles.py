"""Small hand-built bags and class journals for the bag, changes and storage tests."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

from documents.bag import BagInfo, bag_readme, write_bag
from journal.model import (
    AcademicYear,
    Assessment,
    ClassJournal,
    Course,
    Lesson,
    LessonStatus,
    Mark,
    PeriodScheme,
    ReportingPeriod,
    School,
    SchoolClass,
    Student,
    Subject,
    Teacher,
)
from storage.filesystem import FilesystemTarget
from storage.layout import bundle_id, bundle_key
from storage.retention import BundleKind, RetentionClass, retain_until

D = dt.date
SCHOOL_NAME = "Муниципальное бюджетное общеобразовательное учреждение «Средняя школа № 7 имени Героя Ёлкина»"
YEAR_END = D(2025, 5, 26)

PAYLOAD = {
    "journal.pdf": b"%PDF-1.7\n% not a real PDF, but bytes are bytes\n",
    "csv/marks.csv": "ученик,дата,отметка\nИванов Иван,2024-09-12,5\n".encode(),
    "csv-metadata.json": b'{"@context": "http://www.w3.org/ns/csvw"}\n',
    "journal.xml": '<?xml version="1.0" encoding="UTF-8"?>\n<journal класс="5А"/>\n'.encode(),
    "journal.xsd": b'<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"/>\n',
}
DESCRIPTIONS = {
    "journal.pdf": "Классный журнал в формате PDF/A-3 для печати и чтения.",
    "csv/marks.csv": "Отметки учеников: таблица CSV в кодировке UTF-8.",
    "csv-metadata.json": "Описание столбцов таблиц CSV (CSV on the Web).",
    "journal.xml": "Журнал целиком в формате XML.",
    "journal.xsd": "Схема XML, по которой проверяется journal.xml.",
}


def sample_bag_info(
    version: int = 1, *, span: str = "Q1", supersedes: str = "", changes: str = ""
) -> BagInfo:
    kind = BundleKind.PERIOD
    retention = RetentionClass.QUARTER
    return BagInfo(
        source_organization=SCHOOL_NAME,
        organization_address="г. Ёлкино, ул. Школьная, д. 1",
        external_description=f"Электронный классный журнал 5А класса, {span} 2024/2025 учебного года",
        external_identifier=bundle_id("2024/2025", "5А", span, version),
        academic_year="2024/2025",
        school_class="5А",
        period_code=span,
        period="I четверть",
        bundle_kind=kind.value,
        bundle_version=version,
        retention_class=retention.value,
        retain_until=retain_until(YEAR_END, retention),
        source_fingerprint="sha256:" + f"{version:02d}" * 32,
        bagging_date=D(2024, 10, 25),
        supersedes=supersedes,
        changes=changes,
    )


def write_sample_bag(
    parent: Path,
    version: int = 1,
    *,
    payload: dict[str, bytes] | None = None,
    supersedes: str = "",
    changes: str | None = None,
    span: str = "Q1",
) -> Path:
    """A complete bag named by its bundle id under `parent`."""
    info = sample_bag_info(
        version, span=span, supersedes=supersedes, changes="изменено: 1" if changes else ""
    )
    payload = dict(PAYLOAD if payload is None else payload)
    descriptions = {name: DESCRIPTIONS.get(name, "Файл журнала.") for name in payload}
    readme = bag_readme(
        "Архивный пакет: классный журнал 5А, I четверть 2024/2025",
        info.external_identifier,
        descriptions,
        has_changes=changes is not None,
    )
    return write_bag(parent / info.external_identifier, payload, info, readme, changes)


def sample_key(bag: Path) -> str:
    return bundle_key("school-7", "2024/2025", "5А", bag.name)


# --- a tiny class journal for diff_marks -------------------------------------------------

Q1 = ReportingPeriod(PeriodScheme.QUARTERS, "Q1", 1, "I четверть", D(2024, 9, 2), D(2024, 10, 25))


def sample_journal() -> ClassJournal:
    """5А in Q1: two students, mathematics and Russian, three lessons, five marks."""
    teacher = Teacher("Петрова", "Анна", "Сергеевна", id=1)
    students = (
        Student("Ёжиков", "Пётр", "Ильич", id=11),
        Student("Иванова", "Мария", "Олеговна", id=12),
    )
    subjects = (Subject(1, "Русский язык", "Рус. яз.", 1), Subject(2, "Математика", "Матем.", 2))
    courses = (
        Course(21, 5, 1, "", 1, 5.0, Assessment.MARKS),
        Course(22, 5, 2, "", 1, 5.0, Assessment.MARKS),
    )
    lesson = Lesson(0, 0, D(2024, 9, 3), 1, "Тема", "Задание", 1, None, LessonStatus.HELD)
    lessons = (
        dataclasses.replace(lesson, id=31, course_id=22, date=D(2024, 9, 12), number=2),
        dataclasses.replace(lesson, id=32, course_id=21, date=D(2024, 9, 12), number=1),
        dataclasses.replace(lesson, id=33, course_id=22, date=D(2024, 10, 1), number=3),
    )
    marks = (
        Mark(41, 31, 11, "4", "ответ на уроке"),
        Mark(42, 31, 12, "5", "ответ на уроке"),
        Mark(43, 32, 12, "3", "диктант"),
        Mark(44, 33, 11, "5", "контрольная работа"),
        Mark(45, 33, 12, "4", "контрольная работа"),
    )
    return ClassJournal(
        school=School(7, SCHOOL_NAME, "МБОУ СШ № 7", "г. Ёлкино", "Ёлкина Т. В."),
        year=AcademicYear(2024, "2024/2025", D(2024, 9, 2), YEAR_END),
        school_class=SchoolClass(5, "5А", 5, "А", 1, PeriodScheme.QUARTERS),
        period=Q1,
        periods=(Q1,),
        holidays=(),
        teachers=(teacher,),
        students=students,
        enrolments=(),
        guardians=(),
        subjects=subjects,
        courses=courses,
        course_members=(),
        lessons=lessons,
        marks=marks,
        absences=(),
        final_marks=(),
    )


def folder_target(name: str, root: Path) -> FilesystemTarget:
    """A folder target whose root `targets init` made (a run never creates a root)."""
    target = FilesystemTarget(name, root)
    target.init_root()
    return target
