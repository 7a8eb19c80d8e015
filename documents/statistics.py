"""The figures of the journal's reports: attendance (J3), progress (P1) and journal keeping (P2).

Plain numbers from a `ClassJournal`, no layout: documents/sections.py sets them on sheets.
A period snapshot is reported for its period; a year snapshot for each reporting period of the
class and for the year (the year's final marks), so the same code serves the quarter archive
and the bound year journal (R2, R6).

Definitions (as Russian schools count them):

- a student is *in scope* of a course for a span when they belong to the course and are in
  the class on the span's last day, or have a final mark for it (someone who left mid-period
  has no period mark and is not «не аттестован»);
- attested (аттестовано) = period marks 1–5, «зач» and «незач»; «н/а» is not attested, «осв»
  (exempt) and a missing mark count neither way;
- успеваемость = marks 3–5 and «зач» / attested; качество = marks 4–5 / attested, «—» for a
  course with no numeric marks (a credit course); средний балл = mean of numeric period marks;
- for the class: a student is attested without any «н/а» and with at least one mark;
  успевает without 1, 2 or «незач»; is «качественный» when, besides, every numeric mark is 4 or 5.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from documents.fonts import clean_text
from journal.model import (
    FINAL_YEAR,
    AbsenceReason,
    Assessment,
    ClassJournal,
    Course,
    LessonStatus,
    Student,
    mark_number,
)

NOT_ATTESTED = "н/а"
EXEMPT = "осв"
CREDIT = "зач"
NO_CREDIT = "незач"


@dataclass(frozen=True, slots=True)
class Span:
    """What a report block covers: a reporting period, or the year (its final marks)."""

    code: str  # the final marks' period code: Q1…, H2, or FINAL_YEAR
    name: str  # «I четверть», «2024/2025 учебный год»
    start: dt.date
    end: dt.date


def report_spans(journal: ClassJournal) -> tuple[Span, ...]:
    """The period of a period snapshot; every period of the class and then the year for a year one."""
    if journal.period is not None:
        p = journal.period
        return (Span(p.code, p.name, p.start, p.end),)
    periods = sorted(
        (p for p in journal.periods if p.scheme == journal.school_class.period_scheme),
        key=lambda p: (p.ordinal, p.code),
    )
    year = Span(FINAL_YEAR, f"{journal.year.name} учебный год", journal.year.start, journal.year.end)
    return (*(Span(p.code, p.name, p.start, p.end) for p in periods), year)


# --- Attendance (J3) --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Absences:
    """Lessons missed, by reason; `days`: school days on which every lesson was missed."""

    total: int = 0
    valid: int = 0  # by a valid reason, illness included
    illness: int = 0
    invalid: int = 0
    unknown: int = 0  # no reason recorded
    days: int = 0

    def __add__(self, other: Absences) -> Absences:
        return Absences(*(a + b for a, b in zip(self._values(), other._values(), strict=True)))

    def _values(self) -> tuple[int, ...]:
        return (self.total, self.valid, self.illness, self.invalid, self.unknown, self.days)


def attendance(journal: ClassJournal, start: dt.date, end: dt.date) -> dict[int, Absences]:
    """Absences per student id (every student of the snapshot, zeros included) from `start` to `end`."""
    counts: dict[int, Counter[str]] = {s.id: Counter() for s in journal.students}
    absent_on: dict[tuple[int, dt.date], int] = Counter()
    for absence in journal.absences:
        lesson = journal.lesson_by_id.get(absence.lesson_id)
        if lesson is None or not (start <= lesson.date <= end) or absence.student_id not in counts:
            continue
        c = counts[absence.student_id]
        c["total"] += 1
        reason = absence.reason
        if reason is None:
            c["unknown"] += 1
        elif reason.is_valid:
            c["valid"] += 1
            if reason is AbsenceReason.ILLNESS:
                c["illness"] += 1
        else:
            c["invalid"] += 1
        absent_on[(absence.student_id, lesson.date)] += 1
    # A day is missed when the student was absent from every held lesson they had that day.
    held_on: dict[tuple[int, dt.date], int] = Counter(
        (ls.course_id, ls.date) for ls in journal.lessons if ls.status is LessonStatus.HELD
    )
    courses_of: dict[int, list[int]] = defaultdict(list)
    for course in journal.courses:
        for student in journal.course_students(course):
            courses_of[student.id].append(course.id)
    due = {
        (sid, day): sum(held_on[(course_id, day)] for course_id in courses_of[sid]) for sid, day in absent_on
    }
    for key, missed in absent_on.items():
        if missed >= due[key] > 0:
            counts[key[0]]["days"] += 1
    return {
        sid: Absences(c["total"], c["valid"], c["illness"], c["invalid"], c["unknown"], c["days"])
        for sid, c in counts.items()
    }


# --- Progress (P1) ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Progress:
    """Period marks of one course (or, summed, of the class) for one span."""

    students: int = 0  # in scope
    grades: tuple[int, int, int, int] = (0, 0, 0, 0)  # how many 5, 4, 3, and 2 (1 counted with 2)
    credits: int = 0  # «зач»
    fails: int = 0  # «незач»
    not_attested: tuple[int, ...] = ()  # student ids with «н/а»
    exempt: int = 0
    missing: int = 0  # in scope, no final mark at all
    numbers: tuple[int, ...] = ()  # the numeric marks, for the average
    absences: int = 0  # lessons missed by the course's students in the span
    absences_invalid: int = 0
    assessed: bool = True  # False for a course without marks (grade 1)

    @property
    def attested(self) -> int:
        return sum(self.grades) + self.credits + self.fails

    @property
    def succeeded(self) -> int:
        return self.grades[0] + self.grades[1] + self.grades[2] + self.credits

    @property
    def good(self) -> int:
        return self.grades[0] + self.grades[1]

    @property
    def average(self) -> Decimal | None:
        return Decimal(sum(self.numbers)) / len(self.numbers) if self.numbers else None


@dataclass(frozen=True, slots=True)
class ClassProgress:
    """The class as a whole for a span: students by their worst and best marks."""

    students: tuple[int, ...] = ()  # in scope
    attested: tuple[int, ...] = ()
    excellent: tuple[int, ...] = ()  # only 5 (and «зач»)
    good: tuple[int, ...] = ()  # 4 and 5, at least one 4
    one_three: tuple[int, ...] = ()  # exactly one 3, the rest 4–5
    failing: tuple[int, ...] = ()  # a 1, 2 or «незач»
    not_attested: tuple[int, ...] = ()
    numbers: tuple[int, ...] = ()

    @property
    def succeeded(self) -> int:
        return len(self.attested) - len(self.failing)

    @property
    def quality(self) -> int:
        return len(self.excellent) + len(self.good)

    @property
    def average(self) -> Decimal | None:
        return Decimal(sum(self.numbers)) / len(self.numbers) if self.numbers else None


def _in_scope(journal: ClassJournal, student: Student, subject_id: int, span: Span) -> bool:
    return (
        journal.is_enrolled(student.id, span.end)
        or journal.final_mark(student.id, subject_id, span.code) is not None
    )


def course_progress(journal: ClassJournal, course: Course, span: Span) -> Progress:
    """P1 for one course (one subgroup of a subject) and one span."""
    grades = [0, 0, 0, 0]
    credits = fails = exempt = missing = 0
    not_attested: list[int] = []
    numbers: list[int] = []
    students = [s for s in journal.course_students(course) if _in_scope(journal, s, course.subject_id, span)]
    for student in students:
        value = journal.final_mark(student.id, course.subject_id, span.code)
        number = mark_number(value) if value is not None else None
        if value is None:
            missing += 1
        elif number is not None:
            grades[min(5 - max(number, 2), 3)] += 1
            numbers.append(number)
        elif value == CREDIT:
            credits += 1
        elif value == NO_CREDIT:
            fails += 1
        elif value == NOT_ATTESTED:
            not_attested.append(student.id)
        elif value == EXEMPT:
            exempt += 1
    ids = {s.id for s in students}
    total = invalid = 0
    lessons = {ls.id for ls in journal.course_lessons(course) if span.start <= ls.date <= span.end}
    for absence in journal.absences:
        if absence.lesson_id in lessons and absence.student_id in ids:
            total += 1
            invalid += absence.reason is AbsenceReason.INVALID
    return Progress(
        students=len(students),
        grades=(grades[0], grades[1], grades[2], grades[3]),
        credits=credits,
        fails=fails,
        not_attested=tuple(not_attested),
        exempt=exempt,
        missing=missing,
        numbers=tuple(numbers),
        absences=total,
        absences_invalid=invalid,
        assessed=course.assessment is not Assessment.NONE,
    )


def class_progress(journal: ClassJournal, span: Span) -> ClassProgress:
    """P1 for the whole class and one span, student by student over every assessed subject."""
    subjects = sorted({c.subject_id for c in journal.courses if c.assessment is not Assessment.NONE})
    scope, attested, excellent, good, one_three, failing, not_attested = ([] for _ in range(7))
    numbers: list[int] = []
    for student in journal.students:
        values = [journal.final_mark(student.id, subject_id, span.code) for subject_id in subjects]
        values = [v for v in values if v is not None]
        if not journal.is_enrolled(student.id, span.end) and not values:
            continue
        scope.append(student.id)
        if NOT_ATTESTED in values:
            not_attested.append(student.id)
            continue
        marks = [mark_number(v) for v in values]
        nums = [n for n in marks if n is not None]
        numbers.extend(nums)
        if not any(v != EXEMPT for v in values):
            continue
        attested.append(student.id)
        if NO_CREDIT in values or any(n <= 2 for n in nums):
            failing.append(student.id)
        elif nums and all(n == 5 for n in nums):
            excellent.append(student.id)
        elif nums and all(n >= 4 for n in nums):
            good.append(student.id)
        elif nums.count(3) == 1:
            one_three.append(student.id)
    return ClassProgress(
        tuple(scope),
        tuple(attested),
        tuple(excellent),
        tuple(good),
        tuple(one_three),
        tuple(failing),
        tuple(not_attested),
        tuple(numbers),
    )


# --- Journal keeping (P2) ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Keeping:
    """How a course's journal was kept in a span (P2, J5)."""

    students: int = 0  # in the course at some time in the span
    no_marks: int | None = 0  # None for a course without marks
    one_mark: int | None = 0
    lessons: int = 0  # recorded (the plan as the journal has it)
    held: int = 0
    missed: int = 0  # не проведено
    substituted: int = 0
    no_topic: int = 0  # held lessons
    no_homework: int = 0
    teachers: tuple[int, ...] = field(default=())

    def __add__(self, other: Keeping) -> Keeping:
        def both(a: int | None, b: int | None) -> int | None:
            return None if a is None and b is None else (a or 0) + (b or 0)

        return Keeping(
            self.students + other.students,
            both(self.no_marks, other.no_marks),
            both(self.one_mark, other.one_mark),
            self.lessons + other.lessons,
            self.held + other.held,
            self.missed + other.missed,
            self.substituted + other.substituted,
            self.no_topic + other.no_topic,
            self.no_homework + other.no_homework,
        )

    @property
    def assessed_students(self) -> int:
        """The students the no-marks shares are of (none for a course without marks)."""
        return self.students if self.no_marks is not None else 0


def course_keeping(journal: ClassJournal, course: Course, span: Span) -> Keeping:
    """P2 for one course and one span: students with no or one mark, lessons and their records."""
    lessons = [ls for ls in journal.course_lessons(course) if span.start <= ls.date <= span.end]
    lesson_ids = {ls.id for ls in lessons}
    students = [
        s
        for s in journal.course_students(course)
        if any(e.overlaps(span.start, span.end) for e in journal.enrolments_of(s.id))
    ]
    per_student: Counter[int] = Counter()
    for mark in journal.marks:
        if mark.lesson_id in lesson_ids:
            per_student[mark.student_id] += 1
    assessed = course.assessment is not Assessment.NONE
    held = [ls for ls in lessons if ls.status is LessonStatus.HELD]
    return Keeping(
        students=len(students),
        no_marks=sum(per_student[s.id] == 0 for s in students) if assessed else None,
        one_mark=sum(per_student[s.id] == 1 for s in students) if assessed else None,
        lessons=len(lessons),
        held=len(held),
        missed=len(lessons) - len(held),
        substituted=sum(ls.substitute_teacher_id is not None for ls in held),
        no_topic=sum(not clean_text(ls.topic) for ls in held),
        no_homework=sum(not clean_text(ls.homework) for ls in held),
    )
