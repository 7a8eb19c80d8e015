"""The domain model of an electronic class journal (J1–J6 in REQUIREMENTS.md).

Every object is an immutable value: a `ClassJournal` snapshot extracted from
SQLite and from PostgreSQL must compare equal, and rendering the same snapshot
twice must give the same bytes. Collections are tuples in a fixed order.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from functools import cached_property

# --- Vocabularies -----------------------------------------------------------


class PeriodScheme(StrEnum):
    """How a class's year is split into reporting periods (J4)."""

    QUARTERS = "quarters"
    TRIMESTERS = "trimesters"
    HALVES = "halves"


class Assessment(StrEnum):
    """How a course is assessed: by marks 1–5, pass/fail (зачёт), or not at all (grade 1)."""

    MARKS = "marks"
    CREDIT = "credit"
    NONE = "none"


class LessonStatus(StrEnum):
    """Whether a scheduled lesson was given (J5)."""

    HELD = "held"
    MISSED = "missed"  # не проведён


class AbsenceReason(StrEnum):
    """Why a student missed a lesson (J3). Unknown reason is `None` on the absence."""

    VALID = "valid"  # уважительная
    ILLNESS = "illness"  # болезнь (also a valid reason)
    INVALID = "invalid"  # неуважительная

    @property
    def is_valid(self) -> bool:
        return self is not AbsenceReason.INVALID

    @property
    def title(self) -> str:
        return ABSENCE_REASON_TITLES[self]


ABSENCE_REASON_TITLES = {
    AbsenceReason.VALID: "уважительная",
    AbsenceReason.ILLNESS: "болезнь",
    AbsenceReason.INVALID: "неуважительная",
}

NUMERIC_MARKS = ("1", "2", "3", "4", "5")
"""The five-point scale."""

SPECIAL_MARKS = {
    "н/а": "не аттестован",
    "зач": "зачтено",
    "незач": "не зачтено",
    "осв": "освобождён",
}
"""Marks the school uses besides 1–5, with their meaning."""

VALID_MARKS = frozenset(NUMERIC_MARKS) | frozenset(SPECIAL_MARKS)

FINAL_YEAR = "Y"
FINAL_EXAM = "EXAM"
FINAL_RESULT = "FINAL"
FINAL_KIND_TITLES = {FINAL_YEAR: "годовая", FINAL_EXAM: "экзамен", FINAL_RESULT: "итоговая"}
"""Final marks that are not for a reporting period; period finals use the period code."""


def data_time(day: dt.date) -> dt.datetime:
    """The moment documents are dated with: midnight UTC of a day taken from the data, never the clock,
    so that archiving the same data again gives the same bytes (PDF dates, file times, the seal)."""
    return dt.datetime.combine(day, dt.time(), dt.UTC)


def mark_number(value: str) -> int | None:
    """The numeric value of a mark, or None for a special mark (н/а, зач…)."""
    return int(value) if value in NUMERIC_MARKS else None


def round_half_up(value: Decimal) -> int:
    """Mathematical rounding (J6): 3.5 → 4, 4.49 → 4, never banker's rounding."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


# --- People and organisation ------------------------------------------------


@dataclass(frozen=True, slots=True)
class Person:
    last_name: str
    first_name: str
    patronymic: str

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.last_name, self.first_name, self.patronymic) if p)

    @property
    def short_name(self) -> str:
        """«Иванова А. П.» — the form used in journal columns and signatures."""
        initials = " ".join(f"{p[0]}." for p in (self.first_name, self.patronymic) if p)
        return f"{self.last_name} {initials}".strip()


@dataclass(frozen=True, slots=True)
class School:
    id: int
    name: str
    short_name: str
    address: str
    director: str


@dataclass(frozen=True, slots=True)
class Teacher(Person):
    id: int = 0


@dataclass(frozen=True, slots=True)
class Guardian(Person):
    student_id: int = 0
    relation: str = ""  # мать, отец, опекун…
    phone: str = ""


@dataclass(frozen=True, slots=True)
class Student(Person):
    id: int = 0
    birth_date: dt.date | None = None


@dataclass(frozen=True, slots=True)
class Enrolment:
    """A student's membership of a class: joined/left dates are None at year edges (J1)."""

    student_id: int
    class_id: int
    joined: dt.date | None
    left: dt.date | None
    joined_note: str = ""  # e.g. «прибыл из МБОУ СОШ № 3»
    left_note: str = ""  # e.g. «выбыл в связи с переездом»

    def active_on(self, day: dt.date) -> bool:
        return (self.joined is None or self.joined <= day) and (self.left is None or day <= self.left)

    def overlaps(self, start: dt.date, end: dt.date) -> bool:
        return (self.joined is None or self.joined <= end) and (self.left is None or start <= self.left)


# --- Calendar ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AcademicYear:
    id: int
    name: str  # "2024/2025"
    start: dt.date
    end: dt.date


@dataclass(frozen=True, slots=True)
class Holiday:
    name: str
    start: dt.date
    end: dt.date


@dataclass(frozen=True, slots=True)
class ReportingPeriod:
    scheme: PeriodScheme
    code: str  # Q1…Q4, T1…T3, H1, H2
    ordinal: int
    name: str  # «I четверть»
    start: dt.date
    end: dt.date

    def contains(self, day: dt.date) -> bool:
        return self.start <= day <= self.end


# --- Classes and teaching ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class SchoolClass:
    id: int
    name: str  # «5А»
    grade: int
    letter: str
    class_teacher_id: int | None
    period_scheme: PeriodScheme


def class_name_sort_key(name: str) -> tuple[int, str]:
    """«1А» < «5Б» < «10А»: by the grade number, then the letter (for lists keyed by class name only)."""
    digits = "".join(itertools.takewhile(str.isdigit, name))
    return (int(digits) if digits else 0, name[len(digits) :])


@dataclass(frozen=True, slots=True)
class Subject:
    id: int
    name: str
    short_name: str
    ordinal: int  # position in the curriculum, for a stable order in print


@dataclass(frozen=True, slots=True)
class Course:
    """A subject taught to a class or one of its subgroups (J2)."""

    id: int
    class_id: int
    subject_id: int
    subgroup: str  # "" for the whole class, else «1 группа», «2 группа»…
    teacher_id: int
    hours_per_week: float
    assessment: Assessment


@dataclass(frozen=True, slots=True)
class CourseMember:
    """A student's membership of a subgroup course (whole-class courses have none)."""

    course_id: int
    student_id: int


@dataclass(frozen=True, slots=True)
class Lesson:
    id: int
    course_id: int
    date: dt.date
    number: int  # lesson number in the day
    topic: str
    homework: str
    teacher_id: int
    substitute_teacher_id: int | None  # замена (J5)
    status: LessonStatus


@dataclass(frozen=True, slots=True)
class Mark:
    id: int
    lesson_id: int
    student_id: int
    value: str  # "1".."5" or a special mark
    work_kind: str  # «контрольная работа», «ответ на уроке»…

    @property
    def number(self) -> int | None:
        return mark_number(self.value)


@dataclass(frozen=True, slots=True)
class Absence:
    lesson_id: int
    student_id: int
    reason: AbsenceReason | None


@dataclass(frozen=True, slots=True)
class FinalMark:
    """A period, year, exam or final mark (J4): `period` is a period code or FINAL_*."""

    student_id: int
    subject_id: int
    period: str
    value: str


# --- The snapshot -----------------------------------------------------------


@dataclass(frozen=True)
class ClassJournal:
    """Everything about one class for one reporting period, or for the whole year.

    `period` is None for a year snapshot. Collections are sorted so that two
    extractions of the same data are equal and render to the same bytes.
    """

    school: School
    year: AcademicYear
    school_class: SchoolClass
    period: ReportingPeriod | None
    periods: tuple[ReportingPeriod, ...]
    holidays: tuple[Holiday, ...]
    teachers: tuple[Teacher, ...]
    students: tuple[Student, ...]  # everyone enrolled at some point in the span, by name
    enrolments: tuple[Enrolment, ...]
    guardians: tuple[Guardian, ...]
    subjects: tuple[Subject, ...]
    courses: tuple[Course, ...]
    course_members: tuple[CourseMember, ...]
    lessons: tuple[Lesson, ...]
    marks: tuple[Mark, ...]
    absences: tuple[Absence, ...]
    final_marks: tuple[FinalMark, ...]

    # The span this snapshot covers.
    @property
    def start(self) -> dt.date:
        return self.period.start if self.period else self.year.start

    @property
    def end(self) -> dt.date:
        return self.period.end if self.period else self.year.end

    @property
    def span_name(self) -> str:
        """«I четверть» or «2024/2025 учебный год» — what this snapshot covers, in words."""
        return self.period.name if self.period else f"{self.year.name} учебный год"

    # Look-ups, built once per snapshot.
    @cached_property
    def teacher_by_id(self) -> dict[int, Teacher]:
        return {t.id: t for t in self.teachers}

    @cached_property
    def student_by_id(self) -> dict[int, Student]:
        return {s.id: s for s in self.students}

    @cached_property
    def subject_by_id(self) -> dict[int, Subject]:
        return {s.id: s for s in self.subjects}

    @cached_property
    def course_by_id(self) -> dict[int, Course]:
        return {c.id: c for c in self.courses}

    @cached_property
    def lesson_by_id(self) -> dict[int, Lesson]:
        return {lesson.id: lesson for lesson in self.lessons}

    @cached_property
    def class_teacher(self) -> Teacher | None:
        return self.teacher_by_id.get(self.school_class.class_teacher_id)

    def enrolments_of(self, student_id: int) -> tuple[Enrolment, ...]:
        return tuple(e for e in self.enrolments if e.student_id == student_id)

    def is_enrolled(self, student_id: int, day: dt.date) -> bool:
        return any(e.active_on(day) for e in self.enrolments_of(student_id))

    def course_students(self, course: Course) -> tuple[Student, ...]:
        """Students of a course in print order: the subgroup's members, or the whole class."""
        if not course.subgroup:
            return self.students
        members = {m.student_id for m in self.course_members if m.course_id == course.id}
        return tuple(s for s in self.students if s.id in members)

    def course_lessons(self, course: Course) -> tuple[Lesson, ...]:
        return tuple(lesson for lesson in self.lessons if lesson.course_id == course.id)

    def course_marks(self, course: Course) -> tuple[Mark, ...]:
        lessons = {lesson.id for lesson in self.course_lessons(course)}
        return tuple(m for m in self.marks if m.lesson_id in lessons)

    def course_absences(self, course: Course) -> tuple[Absence, ...]:
        lessons = {lesson.id for lesson in self.course_lessons(course)}
        return tuple(a for a in self.absences if a.lesson_id in lessons)

    def course_title(self, course: Course) -> str:
        """«Английский язык (1 группа)» — how a course is named in print."""
        name = self.subject_by_id[course.subject_id].name
        return f"{name} ({course.subgroup})" if course.subgroup else name

    def final_mark(self, student_id: int, subject_id: int, period: str) -> str | None:
        return self._finals_index.get((student_id, subject_id, period))

    @cached_property
    def _finals_index(self) -> dict[tuple[int, int, str], str]:
        return {(f.student_id, f.subject_id, f.period): f.value for f in self.final_marks}


# --- A whole school's year, as written to and read from a source -------------


@dataclass(frozen=True)
class SchoolYear:
    """Everything a journal source holds for one school and one academic year.

    The demo generator produces one, the XML importer produces one, and
    `journal.source.write_school_year` stores one; extraction then cuts it into
    `ClassJournal` snapshots. `periods` holds every scheme's periods for the year.
    """

    school: School
    year: AcademicYear
    periods: tuple[ReportingPeriod, ...]
    holidays: tuple[Holiday, ...]
    teachers: tuple[Teacher, ...]
    classes: tuple[SchoolClass, ...]
    students: tuple[Student, ...]
    enrolments: tuple[Enrolment, ...]
    guardians: tuple[Guardian, ...]
    subjects: tuple[Subject, ...]
    courses: tuple[Course, ...]
    course_members: tuple[CourseMember, ...]
    lessons: tuple[Lesson, ...]
    marks: tuple[Mark, ...]
    absences: tuple[Absence, ...]
    final_marks: tuple[FinalMark, ...]


def person_sort_key(person: Person) -> tuple[str, str, str, int]:
    """Russian alphabetical order (ё sorts as е), stable across databases and collations."""

    def fold(text: str) -> str:
        return text.casefold().replace("ё", "е")

    return (
        fold(person.last_name),
        fold(person.first_name),
        fold(person.patronymic),
        getattr(person, "id", 0),
    )
