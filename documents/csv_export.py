"""The open CSV form of an archived class journal: one file per table plus CSVW metadata (R5).

`journal_csv_files` turns a `ClassJournal` snapshot into CSV files that any spreadsheet
or text editor opens, and a `csv-metadata.json` in the W3C «Metadata Vocabulary for
Tabular Data» (CSVW) that says what every column means, in Russian, with its datatype,
keys and references. The CSV set is complete: every field of the snapshot is in some
file, with names (student, teacher, subject) printed beside the ids so that a file can
be read on its own. The XML (`documents.xml_format`) remains the exact, importable
record; the CSV is the form people read.

Choices, and why:

* RFC 4180: comma, fields quoted only when they hold a comma, a quote or a line break,
  quotes doubled, CRLF after every record, one header row. The header is in Russian
  (what school staff read); the CSVW metadata gives each column an English `name` for
  programs and the same Russian text as its `titles`, so header and metadata match.
* The metadata is read by the reference client, the `csvw` library, in its strict mode
  (`csvwvalidate csv-metadata.json`, R5): `titles` are plain strings, Russian through the
  context's `@language`, because csvw does not match a language map against the header
  row; and a foreign key is declared only on a required column, because strict csvw
  refuses an empty referencing cell. The optional teacher columns (class teacher,
  substitute) are therefore described by their titles, not by a foreign key.
* UTF-8 *without* a byte-order mark. RFC 4180 and CSVW expect plain UTF-8, and every
  CSV tool reads it; a BOM would end up in the first header cell for tools that do not
  strip it. A BOM would not make a double-click open correctly in Russian Excel either,
  since Excel there splits on «;»: the way is «Данные → Из текстового/CSV-файла»,
  choosing UTF-8 and comma, which the metadata's description tells the reader.
* Spreadsheet formula injection: a text cell that begins with «=», «+», «-», «@», a tab
  or a carriage return is written with a leading apostrophe («'=1+1»), so a spreadsheet
  shows it as text instead of running it. Only text columns are guarded; numbers and
  dates never start with those characters (there are no negative numbers in a journal).
  The original text is kept unchanged in journal.xml, so nothing is lost.
* Empty cell means «none» (no birth date, no substitute, reason not given, enrolment
  open at a year edge, year snapshot without a period), as CSVW's default `null` says.
* Rows keep the snapshot's order, which extraction fixes; the JSON is sorted, indented
  and ends with a newline. Same snapshot, same bytes.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from documents.xml_format import decimal_text
from journal.model import (
    ABSENCE_REASON_TITLES,
    FINAL_KIND_TITLES,
    Assessment,
    ClassJournal,
    Course,
    Lesson,
    LessonStatus,
    PeriodScheme,
)
from journal.text import shown

CSV_METADATA_NAME = "csv-metadata.json"
CSVW_CONTEXT = "http://www.w3.org/ns/csvw"

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet treat a cell as a formula (OWASP «CSV injection»)."""

LESSON_STATUS_TITLES = {LessonStatus.HELD: "проведён", LessonStatus.MISSED: "не проведён"}
ASSESSMENT_TITLES = {
    Assessment.MARKS: "отметки",
    Assessment.CREDIT: "зачёт",
    Assessment.NONE: "без оценивания",
}
PERIOD_SCHEME_TITLES = {
    PeriodScheme.QUARTERS: "четверти",
    PeriodScheme.TRIMESTERS: "триместры",
    PeriodScheme.HALVES: "полугодия",
}


def inert(text: str) -> str:
    """The text as a spreadsheet will show it but never evaluate it: «=A1» → «'=A1»."""
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


# --- Table descriptions -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Column:
    name: str  # CSVW name, for programs
    title: str  # the Russian header cell
    datatype: str = "string"  # CSVW built-in datatype: string, integer, decimal, date
    required: bool = False  # an empty cell is an error (ids, dates, codes)


@dataclass(frozen=True, slots=True)
class ForeignKey:
    column: str
    table: str  # file name of the referenced table
    reference: str  # column there


Row = tuple[object, ...]


@dataclass(frozen=True, slots=True)
class Table:
    url: str
    title: str
    description: str
    columns: tuple[Column, ...]
    rows: Callable[[ClassJournal], Iterable[Row]]
    primary_key: tuple[str, ...] = ()
    foreign_keys: tuple[ForeignKey, ...] = ()


def _id(name: str, title: str, required: bool = True) -> Column:
    return Column(name, title, "integer", required)


def _date(name: str, title: str, required: bool = True) -> Column:
    return Column(name, title, "date", required)


# --- Rows ---------------------------------------------------------------------------


class _Names:
    """Readable names beside ids; an id that the snapshot does not know gets an empty name."""

    def __init__(self, journal: ClassJournal) -> None:
        self.j = journal

    def student(self, student_id: int) -> str:
        student = self.j.student_by_id.get(student_id)
        return student.full_name if student else ""

    def teacher(self, teacher_id: int | None) -> str:
        teacher = self.j.teacher_by_id.get(teacher_id) if teacher_id is not None else None
        return teacher.full_name if teacher else ""

    def subject(self, subject_id: int | None) -> str:
        subject = self.j.subject_by_id.get(subject_id) if subject_id is not None else None
        return subject.name if subject else ""

    def course(self, course_id: int) -> Course | None:
        return self.j.course_by_id.get(course_id)

    def lesson_columns(self, lesson_id: int) -> Row:
        """Date, lesson number, lesson id, subject id, subject name, subgroup — where a record happened."""
        lesson: Lesson | None = self.j.lesson_by_id.get(lesson_id)
        course = self.course(lesson.course_id) if lesson else None
        subject_id = course.subject_id if course else None
        return (
            lesson.date if lesson else None,
            lesson.number if lesson else None,
            lesson_id,
            subject_id,
            self.subject(subject_id),
            course.subgroup if course else "",
        )

    def period(self, code: str) -> str:
        found = next((p for p in self.j.periods if p.code == code), None)
        return found.name if found else FINAL_KIND_TITLES.get(code, "")


def _class_rows(j: ClassJournal) -> Iterable[Row]:
    c = j.school_class
    yield (
        j.school.id,
        j.school.name,
        j.school.short_name,
        j.school.address,
        j.school.director,
        j.year.id,
        j.year.name,
        j.year.start,
        j.year.end,
        c.id,
        c.name,
        c.grade,
        c.letter,
        c.class_teacher_id,
        _Names(j).teacher(c.class_teacher_id),
        PERIOD_SCHEME_TITLES[c.period_scheme],
        j.period.code if j.period else None,
        j.span_name,
        j.start,
        j.end,
    )


def _period_rows(j: ClassJournal) -> Iterable[Row]:
    for p in j.periods:
        yield (PERIOD_SCHEME_TITLES[p.scheme], p.code, p.ordinal, p.name, p.start, p.end)


def _holiday_rows(j: ClassJournal) -> Iterable[Row]:
    for h in j.holidays:
        yield (h.name, h.start, h.end)


def _teacher_rows(j: ClassJournal) -> Iterable[Row]:
    for t in j.teachers:
        yield (t.id, t.full_name, t.last_name, t.first_name, t.patronymic)


def _student_rows(j: ClassJournal) -> Iterable[Row]:
    for s in j.students:
        yield (s.id, s.full_name, s.last_name, s.first_name, s.patronymic, s.birth_date)


def _enrolment_rows(j: ClassJournal) -> Iterable[Row]:
    names = _Names(j)
    for e in j.enrolments:
        yield (
            e.student_id,
            names.student(e.student_id),
            e.class_id,
            e.joined,
            e.joined_note,
            e.left,
            e.left_note,
        )


def _guardian_rows(j: ClassJournal) -> Iterable[Row]:
    names = _Names(j)
    for g in j.guardians:
        yield (
            g.student_id,
            names.student(g.student_id),
            g.relation,
            g.full_name,
            g.last_name,
            g.first_name,
            g.patronymic,
            g.phone,
        )


def _subject_rows(j: ClassJournal) -> Iterable[Row]:
    for s in j.subjects:
        yield (s.id, s.name, s.short_name, s.ordinal)


def _course_rows(j: ClassJournal) -> Iterable[Row]:
    names = _Names(j)
    for c in j.courses:
        yield (
            c.id,
            c.class_id,
            c.subject_id,
            names.subject(c.subject_id),
            c.subgroup,
            c.teacher_id,
            names.teacher(c.teacher_id),
            c.hours_per_week,
            ASSESSMENT_TITLES[c.assessment],
        )


def _member_rows(j: ClassJournal) -> Iterable[Row]:
    names = _Names(j)
    for m in j.course_members:
        course = names.course(m.course_id)
        yield (
            m.course_id,
            names.subject(course.subject_id if course else None),
            course.subgroup if course else "",
            m.student_id,
            names.student(m.student_id),
        )


def _lesson_rows(j: ClassJournal) -> Iterable[Row]:
    names = _Names(j)
    for x in j.lessons:
        course = names.course(x.course_id)
        subject_id = course.subject_id if course else None
        yield (
            x.id,
            x.date,
            x.number,
            x.course_id,
            subject_id,
            names.subject(subject_id),
            course.subgroup if course else "",
            x.topic,
            x.homework,
            x.teacher_id,
            names.teacher(x.teacher_id),
            x.substitute_teacher_id,
            names.teacher(x.substitute_teacher_id),
            LESSON_STATUS_TITLES[x.status],
        )


def _mark_rows(j: ClassJournal) -> Iterable[Row]:
    names = _Names(j)
    for m in j.marks:
        yield (
            m.id,
            *names.lesson_columns(m.lesson_id),
            m.student_id,
            names.student(m.student_id),
            m.value,
            m.work_kind,
        )


def _absence_rows(j: ClassJournal) -> Iterable[Row]:
    names = _Names(j)
    for a in j.absences:
        reason = ABSENCE_REASON_TITLES[a.reason] if a.reason is not None else None
        yield (*names.lesson_columns(a.lesson_id), a.student_id, names.student(a.student_id), reason)


def _final_rows(j: ClassJournal) -> Iterable[Row]:
    names = _Names(j)
    for f in j.final_marks:
        yield (
            f.student_id,
            names.student(f.student_id),
            f.subject_id,
            names.subject(f.subject_id),
            f.period,
            names.period(f.period),
            f.value,
        )


_WHERE_COLUMNS = (
    _date("date", "Дата урока"),
    Column("lesson_number", "Номер урока", "integer", required=True),
    _id("lesson_id", "Код урока"),
    _id("subject_id", "Код предмета"),
    Column("subject_name", "Предмет"),
    Column("subgroup", "Подгруппа"),
)
"""Where a mark or an absence was recorded (see `_Names.lesson_columns`)."""

_PERSON_COLUMNS = (
    Column("full_name", "ФИО"),
    Column("last_name", "Фамилия"),
    Column("first_name", "Имя"),
    Column("patronymic", "Отчество"),
)

STUDENTS = "students.csv"
TEACHERS = "teachers.csv"
SUBJECTS = "subjects.csv"
COURSES = "courses.csv"
LESSONS = "lessons.csv"

TABLES: tuple[Table, ...] = (
    Table(
        "class.csv",
        "Сведения о журнале",
        "Школа, учебный год, класс и период, за который сохранён журнал (одна строка). "
        "Пустой код периода — журнал за весь учебный год.",
        (
            _id("school_id", "Код школы"),
            Column("school_name", "Образовательная организация"),
            Column("school_short_name", "Краткое наименование"),
            Column("school_address", "Адрес"),
            Column("director", "Директор"),
            _id("year_id", "Код учебного года"),
            Column("year", "Учебный год"),
            _date("year_start", "Начало учебного года"),
            _date("year_end", "Конец учебного года"),
            _id("class_id", "Код класса"),
            Column("class_name", "Класс"),
            Column("grade", "Параллель", "integer", required=True),
            Column("letter", "Литера"),
            _id("class_teacher_id", "Код классного руководителя", required=False),
            Column("class_teacher_name", "Классный руководитель"),
            Column("period_scheme", "Деление года на периоды", required=True),
            Column("period_code", "Код периода"),
            Column("period_name", "Период журнала"),
            _date("span_start", "Начало периода журнала"),
            _date("span_end", "Конец периода журнала"),
        ),
        _class_rows,
        primary_key=("class_id",),
    ),
    Table(
        "periods.csv",
        "Отчётные периоды",
        "Четверти, триместры или полугодия учебного года.",
        (
            Column("period_scheme", "Деление года на периоды", required=True),
            Column("code", "Код периода", required=True),
            Column("ordinal", "Номер периода", "integer", required=True),
            Column("name", "Период"),
            _date("start", "Начало"),
            _date("end", "Конец"),
        ),
        _period_rows,
        primary_key=("period_scheme", "code"),
    ),
    Table(
        "holidays.csv",
        "Каникулы",
        "Каникулы учебного года.",
        (Column("name", "Каникулы"), _date("start", "Начало"), _date("end", "Конец")),
        _holiday_rows,
    ),
    Table(
        TEACHERS,
        "Учителя",
        "Учителя, которые вели уроки в классе (в том числе на замене), и классный руководитель.",
        (_id("teacher_id", "Код учителя"), *_PERSON_COLUMNS),
        _teacher_rows,
        primary_key=("teacher_id",),
    ),
    Table(
        STUDENTS,
        "Обучающиеся",
        "Все, кто числился в классе в период журнала.",
        (
            _id("student_id", "Код обучающегося"),
            *_PERSON_COLUMNS,
            _date("birth_date", "Дата рождения", False),
        ),
        _student_rows,
        primary_key=("student_id",),
    ),
    Table(
        "enrolments.csv",
        "Движение обучающихся",
        "Зачисление в класс и выбытие. Пустая дата прибытия — с начала учебного года, "
        "пустая дата выбытия — до конца учебного года.",
        (
            _id("student_id", "Код обучающегося"),
            Column("student_name", "Обучающийся"),
            _id("class_id", "Код класса"),
            _date("joined", "Дата прибытия", False),
            Column("joined_note", "Примечание о прибытии"),
            _date("left", "Дата выбытия", False),
            Column("left_note", "Примечание о выбытии"),
        ),
        _enrolment_rows,
        foreign_keys=(ForeignKey("student_id", STUDENTS, "student_id"),),
    ),
    Table(
        "guardians.csv",
        "Родители (законные представители)",
        "Родители и законные представители обучающихся. Персональные данные (152-ФЗ).",
        (
            _id("student_id", "Код обучающегося"),
            Column("student_name", "Обучающийся"),
            Column("relation", "Кем приходится"),
            Column("full_name", "ФИО родителя"),
            Column("last_name", "Фамилия"),
            Column("first_name", "Имя"),
            Column("patronymic", "Отчество"),
            Column("phone", "Телефон"),
        ),
        _guardian_rows,
        foreign_keys=(ForeignKey("student_id", STUDENTS, "student_id"),),
    ),
    Table(
        SUBJECTS,
        "Предметы",
        "Учебные предметы класса в порядке учебного плана.",
        (
            _id("subject_id", "Код предмета"),
            Column("name", "Предмет"),
            Column("short_name", "Краткое название"),
            Column("ordinal", "Место в учебном плане", "integer", required=True),
        ),
        _subject_rows,
        primary_key=("subject_id",),
    ),
    Table(
        COURSES,
        "Предметы в классе и подгруппах",
        "Страницы журнала: предмет для всего класса (подгруппа пустая) или для подгруппы, учитель, "
        "часы в неделю и способ оценивания.",
        (
            _id("course_id", "Код страницы журнала"),
            _id("class_id", "Код класса"),
            _id("subject_id", "Код предмета"),
            Column("subject_name", "Предмет"),
            Column("subgroup", "Подгруппа"),
            _id("teacher_id", "Код учителя"),
            Column("teacher_name", "Учитель"),
            Column("hours_per_week", "Часов в неделю", "decimal", required=True),
            Column("assessment", "Оценивание", required=True),
        ),
        _course_rows,
        primary_key=("course_id",),
        foreign_keys=(
            ForeignKey("subject_id", SUBJECTS, "subject_id"),
            ForeignKey("teacher_id", TEACHERS, "teacher_id"),
        ),
    ),
    Table(
        "course_members.csv",
        "Состав подгрупп",
        "Обучающиеся каждой подгруппы; у предметов, которые ведутся для всего класса, состава нет.",
        (
            _id("course_id", "Код страницы журнала"),
            Column("subject_name", "Предмет"),
            Column("subgroup", "Подгруппа"),
            _id("student_id", "Код обучающегося"),
            Column("student_name", "Обучающийся"),
        ),
        _member_rows,
        primary_key=("course_id", "student_id"),
        foreign_keys=(
            ForeignKey("course_id", COURSES, "course_id"),
            ForeignKey("student_id", STUDENTS, "student_id"),
        ),
    ),
    Table(
        LESSONS,
        "Уроки",
        "Уроки с темами и домашними заданиями (выполнение тематического планирования), замены "
        "и непроведённые уроки.",
        (
            _id("lesson_id", "Код урока"),
            _date("date", "Дата"),
            Column("number", "Номер урока", "integer", required=True),
            _id("course_id", "Код страницы журнала"),
            _id("subject_id", "Код предмета"),
            Column("subject_name", "Предмет"),
            Column("subgroup", "Подгруппа"),
            Column("topic", "Тема урока"),
            Column("homework", "Домашнее задание"),
            _id("teacher_id", "Код учителя"),
            Column("teacher_name", "Учитель"),
            _id("substitute_teacher_id", "Код заменяющего учителя", required=False),
            Column("substitute_teacher_name", "Заменяющий учитель"),
            Column("status", "Урок", required=True),
        ),
        _lesson_rows,
        primary_key=("lesson_id",),
        foreign_keys=(
            ForeignKey("course_id", COURSES, "course_id"),
            ForeignKey("subject_id", SUBJECTS, "subject_id"),
            ForeignKey("teacher_id", TEACHERS, "teacher_id"),
        ),
    ),
    Table(
        "marks.csv",
        "Отметки за уроки",
        "Отметки так, как они записаны в журнале, с видом работы. Отметка обучающемуся, который не "
        "числился в классе в этот день, тоже сохранена (его может не быть в students.csv).",
        (
            _id("mark_id", "Код отметки"),
            *_WHERE_COLUMNS,
            _id("student_id", "Код обучающегося"),
            Column("student_name", "Обучающийся"),
            Column("value", "Отметка"),
            Column("work_kind", "Вид работы"),
        ),
        _mark_rows,
        primary_key=("mark_id",),
        foreign_keys=(
            ForeignKey("lesson_id", LESSONS, "lesson_id"),
            ForeignKey("subject_id", SUBJECTS, "subject_id"),
        ),
    ),
    Table(
        "attendance.csv",
        "Пропуски уроков",
        "Пропуски уроков с причиной; пустая причина — не указана. Пропуск обучающегося, который не "
        "числился в классе в этот день, тоже сохранён (его может не быть в students.csv).",
        (
            *_WHERE_COLUMNS,
            _id("student_id", "Код обучающегося"),
            Column("student_name", "Обучающийся"),
            Column("reason", "Причина пропуска"),
        ),
        _absence_rows,
        primary_key=("lesson_id", "student_id"),
        foreign_keys=(
            ForeignKey("lesson_id", LESSONS, "lesson_id"),
            ForeignKey("subject_id", SUBJECTS, "subject_id"),
        ),
    ),
    Table(
        "final_marks.csv",
        "Итоговые отметки",
        "Отметки за отчётные периоды (код периода), годовые (Y), экзаменационные (EXAM) и итоговые (FINAL).",
        (
            _id("student_id", "Код обучающегося"),
            Column("student_name", "Обучающийся"),
            _id("subject_id", "Код предмета"),
            Column("subject_name", "Предмет"),
            Column("period", "Код периода", required=True),
            Column("period_name", "Период"),
            Column("value", "Отметка"),
        ),
        _final_rows,
        primary_key=("student_id", "subject_id", "period"),
        foreign_keys=(
            ForeignKey("student_id", STUDENTS, "student_id"),
            ForeignKey("subject_id", SUBJECTS, "subject_id"),
        ),
    ),
)
"""Every CSV file of a bundle, in the order the metadata lists them."""


# --- Output ---------------------------------------------------------------------------


def journal_csv_files(journal: ClassJournal) -> dict[str, bytes]:
    """File name → bytes: one RFC 4180 CSV per table and `csv-metadata.json` describing them."""
    files = {table.url: _csv_bytes(table, journal) for table in TABLES}
    files[CSV_METADATA_NAME] = csv_metadata(journal)
    return files


def _csv_bytes(table: Table, journal: ClassJournal) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, dialect="excel", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(column.title for column in table.columns)
    for row in table.rows(journal):
        if len(row) != len(table.columns):  # a programming error, never data
            raise AssertionError(f"{table.url}: {len(row)} values for {len(table.columns)} columns")
        writer.writerow(_cell(value, column) for value, column in zip(row, table.columns, strict=True))
    return buffer.getvalue().encode("utf-8", "replace")  # a lone surrogate cannot be UTF-8; XML keeps it


def _cell(value: object, column: Column) -> str:
    if value is None:
        return ""
    if column.datatype == "string":  # control characters shown as U+FFFD (journal/text.py); XML keeps them
        return inert(shown(str(value)))
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return decimal_text(value)
    return str(value)


def csv_metadata(journal: ClassJournal) -> bytes:
    """`csv-metadata.json` (CSVW): every file, every column with Russian title and datatype, keys."""
    c = journal.school_class
    span = f"{journal.period.name} {journal.year.name} учебного года" if journal.period else journal.span_name
    return csv_metadata_for(journal, TABLES, f"Классный журнал {c.name}: {span}")


def csv_metadata_for(journal: ClassJournal, tables: Iterable[Table], title: str) -> bytes:
    """`csv-metadata.json` (CSVW) describing `tables` — the journal's, or another document's own
    (documents/summary.py) — with the same dialect and reading instructions."""
    metadata = {
        "@context": [CSVW_CONTEXT, {"@language": "ru"}],
        "dc:title": title,
        "dc:publisher": journal.school.name,
        "dc:coverage": f"{journal.start.isoformat()}/{journal.end.isoformat()}",
        "dc:description": (
            "Электронный классный журнал в открытом формате: таблицы CSV (RFC 4180, кодировка UTF-8 "
            "без BOM, разделитель — запятая, первая строка — заголовки). В Excel открывайте через "
            "«Данные → Из текстового/CSV-файла», указав кодировку UTF-8 и разделитель «запятая». "
            "Текстовая ячейка, начинающаяся с «=», «+», «-», «@», табуляции или возврата каретки, "
            "записана с апострофом в начале, чтобы электронная таблица не выполнила её как формулу; "
            "точный текст без изменений — в journal.xml. Пустая ячейка означает отсутствие значения."
        ),
        "dialect": {
            "delimiter": ",",
            "doubleQuote": True,
            "encoding": "utf-8",
            "header": True,
            "headerRowCount": 1,
            "lineTerminators": ["\r\n"],
            "quoteChar": '"',
            "skipInitialSpace": False,
            "trim": False,
        },
        "tables": [_table_metadata(table) for table in tables],
    }
    return (json.dumps(metadata, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode("utf-8")


def table_csv(table: Table, journal: ClassJournal) -> bytes:
    """One table as RFC 4180 CSV bytes (header, CRLF, UTF-8, formula guard), for documents that
    define their own tables (documents/summary.py)."""
    return _csv_bytes(table, journal)


def _table_metadata(table: Table) -> dict[str, object]:
    schema: dict[str, object] = {
        "columns": [
            {
                "datatype": column.datatype,
                "name": column.name,
                "required": column.required,
                "titles": column.title,
            }
            for column in table.columns
        ]
    }
    if table.primary_key:
        schema["primaryKey"] = list(table.primary_key)
    if table.foreign_keys:
        schema["foreignKeys"] = [
            {
                "columnReference": fk.column,
                "reference": {"columnReference": fk.reference, "resource": fk.table},
            }
            for fk in table.foreign_keys
        ]
    return {
        "dc:description": table.description,
        "dc:title": table.title,
        "tableSchema": schema,
        "url": table.url,
    }
