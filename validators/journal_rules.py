"""Rules a class journal must follow before it is archived (J1–J6 in REQUIREMENTS.md).

`validate_class_journal` reads one `ClassJournal` snapshot — a reporting period
or the whole year — and returns findings in Russian for the people who keep the
journal. Findings never change the data: a wrong final mark is reported, and
the teacher's mark stands (R9: marks are not silently corrected).

Decisions the regulations leave open, made here once:

* too_few_marks (J6, 004 §5.3: at least 3 marks for attestation). Only students
  enrolled in the class for the whole period are required to have 3 marks, and
  only in a subject that has a marks-assessed course they belong to with at
  least one held lesson in that period (a subject taught only in the second
  half-year is not "missing marks" in the first). Marks are counted over all
  of the subject's courses (subgroups) the student belongs to, leaving out marks
  that are themselves errors (not_enrolled). With fewer than
  3 marks the period final must be «н/а»; a missing final is reported too (at
  archive time the journal must say the student is not attested), while «н/а»
  and «осв» (exempt) are fine.
* final_differs_from_average (J6, 004 §5.1: mathematical rounding). A numeric
  period final is compared with the rounded mean of the student's numeric marks
  in the subject in that period when there are at least 3 of them; the year
  mark with the rounded mean of the period finals when every period has a
  numeric final; the final result with the rounded mean of the year and a
  numeric exam mark, else with the year mark. Only marks-assessed subjects.
* mark_outside_scale (J2) is one error rule for every mark that does not fit
  the course's scale: a value outside `VALID_MARKS`, or a numeric mark (lesson
  or final) where the subject is assessed by зачёт or not at all — in that
  case the number cannot be read as anything the curriculum allows, so it is
  an error, not a warning.
* lesson_outside_period (J4) covers every lesson, held or missed: a date that
  no reporting period of the class's scheme contains, a holiday, or (in a
  period snapshot) a date outside the snapshot's period.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from functools import cache, cached_property
from types import MappingProxyType

from lxml import etree

from documents.xml_format import JOURNAL_XSD_PATH, written_text
from journal.model import (
    FINAL_EXAM,
    FINAL_RESULT,
    FINAL_YEAR,
    NUMERIC_MARKS,
    SPECIAL_MARKS,
    VALID_MARKS,
    Assessment,
    ClassJournal,
    Course,
    Lesson,
    LessonStatus,
    Mark,
    ReportingPeriod,
    Student,
    mark_number,
    person_sort_key,
    round_half_up,
)
from journal.russian import (
    count_words,
    format_date,
    format_date_range,
    format_decimal,
    in_period,
    period_final_title,
)
from journal.text import REPLACEMENT, invisible_characters, shown

MIN_PERIOD_MARKS = 3
"""Marks a student needs in a period to be attested (J6, 004 §5.3)."""

NOT_ATTESTED = "н/а"
EXEMPT = "осв"


class Severity(StrEnum):
    ERROR = "error"  # the archive would record something impossible
    WARNING = "warning"  # the journal is incomplete or questionable; archiving goes on

    @property
    def title(self) -> str:
        """«ошибка» / «предупреждение»."""
        return _SEVERITY_WORDS[self][0]

    def count(self, n: int) -> str:
        """«2 ошибки», «5 предупреждений»."""
        return count_words(n, *_SEVERITY_WORDS[self])


_SEVERITY_WORDS = {
    Severity.ERROR: ("ошибка", "ошибки", "ошибок"),
    Severity.WARNING: ("предупреждение", "предупреждения", "предупреждений"),
}
_SEVERITY_HEADINGS = {Severity.ERROR: "Ошибки", Severity.WARNING: "Предупреждения"}
_SEVERITY_ORDER = (Severity.ERROR, Severity.WARNING)


class JournalDataError(ValueError):
    """A snapshot whose records point at records it does not hold; worded for the administrator."""


@dataclass(frozen=True)
class Rule:
    code: str
    severity: Severity
    title: str  # Russian, for report headings
    requirements: tuple[str, ...]  # IDs in REQUIREMENTS.md

    @property
    def cite(self) -> str:
        return ", ".join(self.requirements)


RULES: Mapping[str, Rule] = MappingProxyType(
    {
        rule.code: rule
        for rule in (
            Rule("lesson_outside_period", Severity.ERROR, "Урок вне учебного периода", ("J4",)),
            Rule("not_enrolled", Severity.ERROR, "Ученик не числится в классе или группе", ("J1",)),
            Rule("mark_outside_scale", Severity.ERROR, "Отметка не по шкале предмета", ("J2",)),
            Rule("too_few_marks", Severity.WARNING, "Мало отметок для аттестации", ("J6",)),
            Rule(
                "final_differs_from_average",
                Severity.WARNING,
                "Итоговая отметка не совпадает с округлённым средним",
                ("J6",),
            ),
            Rule("lesson_without_topic", Severity.WARNING, "Не записана тема урока", ("J2", "J5")),
            Rule("lesson_without_homework", Severity.WARNING, "Не записано домашнее задание", ("J2",)),
            Rule("absence_without_reason", Severity.WARNING, "Не указана причина пропуска", ("J3",)),
            Rule(
                "outside_xml_format",
                Severity.ERROR,
                "Значение не помещается в формат архива (journal.xsd)",
                ("R5", "R9"),
            ),
            Rule(
                "control_characters",
                Severity.WARNING,
                "Управляющие символы в тексте (в PDF и CSV показаны как «\ufffd»)",
                ("R5", "R10"),
            ),
        )
    }
)
"""Every rule's severity, title and requirement IDs, in report order."""


@dataclass(frozen=True)
class Finding:
    """One thing wrong in one journal; `period` is a period code or FINAL_* or None."""

    rule: str
    severity: Severity
    class_name: str
    period: str | None
    subject_id: int | None
    student_id: int | None
    lesson_id: int | None
    date: dt.date | None
    message: str  # Russian: class, subject, student, date, what is wrong, requirement IDs


def has_errors(findings: Iterable[Finding]) -> bool:
    return any(f.severity is Severity.ERROR for f in findings)


# --- Validation --------------------------------------------------------------


def validate_class_journal(journal: ClassJournal) -> tuple[Finding, ...]:
    """All findings for one snapshot, in a fixed order: errors first, then by rule,
    period, subject, student (Russian order), date and lesson."""
    facts = _Facts(journal)
    findings = [
        *_check_lessons(facts),
        *_check_marks(facts),
        *_check_absences(facts),
        *_check_final_scale(facts),
        *_check_period_marks(facts),
        *_check_year_finals(facts),
        *_check_xml_format(facts),
    ]
    return tuple(sorted(findings, key=facts.sort_key))


class _Facts:
    """Look-ups over one snapshot, built once; raises ValueError on dangling references."""

    def __init__(self, journal: ClassJournal) -> None:
        self.journal = journal
        self.class_name = journal.school_class.name
        scheme = journal.school_class.period_scheme
        self.periods = tuple(
            sorted((p for p in journal.periods if p.scheme == scheme), key=lambda p: (p.start, p.ordinal))
        )
        # Periods whose marks and finals this snapshot is responsible for.
        self.checked_periods = (journal.period,) if journal.period else self.periods

    @cached_property
    def members(self) -> dict[int, frozenset[int]]:
        """Subgroup course id → its students; whole-class courses are absent."""
        found: dict[int, set[int]] = defaultdict(set)
        for member in self.journal.course_members:
            found[member.course_id].add(member.student_id)
        return {c.id: frozenset(found.get(c.id, ())) for c in self.journal.courses if c.subgroup}

    def belongs(self, student_id: int, course: Course) -> bool:
        return not course.subgroup or student_id in self.members[course.id]

    def course_of(self, lesson: Lesson) -> Course:
        course = self.journal.course_by_id.get(lesson.course_id)
        if course is None:
            raise JournalDataError(
                f"класс {self.class_name}: урок № {lesson.id} ссылается на предмет в классе "
                f"№ {lesson.course_id}, которого нет в выгрузке журнала"
            )
        return course

    def lesson_of(self, lesson_id: int, what: str) -> Lesson:
        lesson = self.journal.lesson_by_id.get(lesson_id)
        if lesson is None:
            raise JournalDataError(
                f"класс {self.class_name}: {what} ссылается на урок № {lesson_id}, "
                "которого нет в выгрузке журнала"
            )
        return lesson

    def lesson_where(self, lesson: Lesson) -> dict:
        """A finding's place for something on one lesson: subject (group), period, date, who."""
        course = self.journal.course_by_id.get(lesson.course_id)
        subject = self.journal.course_title(course) if course else f"предмет в классе № {lesson.course_id}"
        return {
            "subject": _readable(subject, "предмет"),
            "period": self.period_code_on(lesson.date),
            "subject_id": course.subject_id if course else None,
            "lesson_id": lesson.id,
            "date": lesson.date,
            "who": f"урок {format_date(lesson.date)}",
        }

    def period_code_on(self, day: dt.date) -> str | None:
        return next((p.code for p in self.periods if p.contains(day)), None)

    def student_name(self, student_id: int) -> str:
        student = self.journal.student_by_id.get(student_id)
        return _readable(student.full_name, f"ученик № {student_id}") if student else f"ученик № {student_id}"

    @cached_property
    def subject_courses(self) -> dict[int, tuple[Course, ...]]:
        found: dict[int, list[Course]] = defaultdict(list)
        for course in self.journal.courses:
            found[course.subject_id].append(course)
        return {subject_id: tuple(courses) for subject_id, courses in found.items()}

    def subject_assessed_by_marks(self, subject_id: int) -> bool:
        return any(c.assessment is Assessment.MARKS for c in self.subject_courses.get(subject_id, ()))

    @cached_property
    def student_marks(self) -> dict[tuple[int, int], tuple[tuple[Lesson, Mark], ...]]:
        """(student, subject) → the student's valid marks in lesson order: on lessons of courses
        the student belongs to, on days the student is in the class. A mark that breaks J1 is
        reported as not_enrolled and does not also count towards J6."""
        found: dict[tuple[int, int], list[tuple[Lesson, Mark]]] = defaultdict(list)
        for mark in self.journal.marks:
            lesson = self.lesson_of(mark.lesson_id, f"отметка № {mark.id}")
            course = self.course_of(lesson)
            if self.belongs(mark.student_id, course) and self.journal.is_enrolled(
                mark.student_id, lesson.date
            ):
                found[(mark.student_id, course.subject_id)].append((lesson, mark))
        return {
            key: tuple(sorted(items, key=lambda lm: (lm[0].date, lm[0].number, lm[0].id, lm[1].id)))
            for key, items in found.items()
        }

    @cached_property
    def held_lesson_dates(self) -> dict[int, tuple[dt.date, ...]]:
        """Course id → dates of its held lessons."""
        found: dict[int, list[dt.date]] = defaultdict(list)
        for lesson in self.journal.lessons:
            if lesson.status is LessonStatus.HELD:
                found[lesson.course_id].append(lesson.date)
        return {course_id: tuple(sorted(dates)) for course_id, dates in found.items()}

    def enrolled_throughout(self, student_id: int, period: ReportingPeriod) -> bool:
        return any(
            (e.joined is None or e.joined <= period.start) and (e.left is None or period.end <= e.left)
            for e in self.journal.enrolments_of(student_id)
        )

    def final_label(self, code: str) -> str:
        """«отметка за I четверть», «годовая отметка»… — a final mark named by its kind."""
        period = next((p for p in self.periods if p.code == code), None)
        if period is not None:
            return f"отметка за {period.name}"
        return _FINAL_LABELS.get(code, f"отметка за период «{code}»")

    def finding(
        self,
        code: str,
        text: str,
        *,
        subject: str | None = None,
        student_id: int | None = None,
        period: str | None = None,
        subject_id: int | None = None,
        lesson_id: int | None = None,
        date: dt.date | None = None,
    ) -> Finding:
        """A finding whose message reads «5А · Математика · Иванов Иван Петрович: text (J6)»."""
        rule = RULES[code]
        where = [self.class_name]
        if subject:
            where.append(subject)
        if student_id is not None:
            where.append(self.student_name(student_id))
        return Finding(
            rule=code,
            severity=rule.severity,
            class_name=self.class_name,
            period=period,
            subject_id=subject_id,
            student_id=student_id,
            lesson_id=lesson_id,
            date=date,
            message=f"{' · '.join(where)}: {text} ({rule.cite})",
        )

    @cached_property
    def _period_rank(self) -> dict[str, int]:
        codes = [p.code for p in self.periods]
        codes += [p.code for p in sorted(self.journal.periods, key=lambda p: p.start) if p.code not in codes]
        codes += [FINAL_YEAR, FINAL_EXAM, FINAL_RESULT]
        return {code: rank for rank, code in enumerate(codes)}

    @cached_property
    def _rule_rank(self) -> dict[str, int]:
        return {code: rank for rank, code in enumerate(RULES)}

    def sort_key(self, f: Finding) -> tuple:
        subject = self.journal.subject_by_id.get(f.subject_id) if f.subject_id is not None else None
        student: Student | None = (
            self.journal.student_by_id.get(f.student_id) if f.student_id is not None else None
        )
        return (
            _SEVERITY_ORDER.index(f.severity),
            self._rule_rank.get(f.rule, len(self._rule_rank)),
            f.rule,
            -1 if f.period is None else self._period_rank.get(f.period, len(self._period_rank)),
            (subject.ordinal, subject.id) if subject else (-1, f.subject_id or 0),
            person_sort_key(student) if student else ("", "", "", f.student_id or 0),
            f.date or dt.date.min,
            f.message,  # same day and subject: «(1 группа)» before «(2 группа)»
            f.lesson_id or 0,
        )


_FINAL_LABELS = {
    FINAL_YEAR: "годовая отметка",
    FINAL_EXAM: "экзаменационная отметка",
    FINAL_RESULT: "итоговая отметка",
}
_SCALE_TEXT = f"{NUMERIC_MARKS[0]}–{NUMERIC_MARKS[-1]}, " + ", ".join(sorted(SPECIAL_MARKS))


def _check_lessons(facts: _Facts) -> Iterable[Finding]:
    """J4 dates, J2/J5 topics and homework of held lessons."""
    journal = facts.journal
    for lesson in journal.lessons:
        course = facts.course_of(lesson)
        where = {
            "subject": journal.course_title(course),
            "period": facts.period_code_on(lesson.date),
            "subject_id": course.subject_id,
            "lesson_id": lesson.id,
            "date": lesson.date,
        }
        day = format_date(lesson.date)
        holiday = next((h for h in journal.holidays if h.start <= lesson.date <= h.end), None)
        if journal.period is not None and not journal.period.contains(lesson.date):
            span = format_date_range(journal.period.start, journal.period.end)
            yield facts.finding(
                "lesson_outside_period", f"урок {day} — вне периода «{journal.period.name}» ({span})", **where
            )
        elif where["period"] is None:
            yield facts.finding("lesson_outside_period", f"урок {day} — вне учебных периодов класса", **where)
        elif holiday is not None:
            span = format_date_range(holiday.start, holiday.end)
            yield facts.finding(
                "lesson_outside_period",
                f"урок {day} приходится на нерабочие дни: {holiday.name} ({span})",
                **where,
            )
        if lesson.status is LessonStatus.HELD:
            if not lesson.topic.strip():
                yield facts.finding(
                    "lesson_without_topic", f"урок {day} проведён, но тема не записана", **where
                )
            if not lesson.homework.strip():
                yield facts.finding(
                    "lesson_without_homework",
                    f"урок {day} проведён, но домашнее задание не записано",
                    **where,
                )


def _membership_problem(facts: _Facts, student_id: int, course: Course, day: dt.date) -> str | None:
    """Why a student cannot have a mark or absence in this course on this day (J1), or None."""
    journal = facts.journal
    if not journal.is_enrolled(student_id, day):
        enrolments = journal.enrolments_of(student_id)
        if len(enrolments) == 1:
            e = enrolments[0]
            if e.joined is not None and day < e.joined:
                return f"ученик прибыл в класс только {format_date(e.joined)}"
            if e.left is not None and e.left < day:
                return f"ученик выбыл из класса {format_date(e.left)}"
        return "в этот день ученик не числится в классе"
    if not facts.belongs(student_id, course):
        return f"ученик не входит в группу «{course.subgroup}»"
    return None


def _check_marks(facts: _Facts) -> Iterable[Finding]:
    """J1 membership and J2 scale of lesson marks."""
    journal = facts.journal
    for mark in journal.marks:
        lesson = facts.lesson_of(mark.lesson_id, f"отметка № {mark.id}")
        course = facts.course_of(lesson)
        where = {
            "subject": journal.course_title(course),
            "student_id": mark.student_id,
            "period": facts.period_code_on(lesson.date),
            "subject_id": course.subject_id,
            "lesson_id": lesson.id,
            "date": lesson.date,
        }
        what = f"отметка «{mark.value}» за урок {format_date(lesson.date)}"
        problem = _membership_problem(facts, mark.student_id, course, lesson.date)
        if problem:
            yield facts.finding("not_enrolled", f"{what}, но {problem}", **where)
        scale = _scale_problem(mark.value, course.assessment)
        if scale:
            yield facts.finding("mark_outside_scale", f"{what} — {scale}", **where)


def _scale_problem(value: str, assessment: Assessment) -> str | None:
    if value not in VALID_MARKS:
        return f"такой отметки нет в шкале ({_SCALE_TEXT})"
    if mark_number(value) is not None and assessment is Assessment.CREDIT:
        return "а предмет оценивается зачётом («зач» / «незач»)"
    if mark_number(value) is not None and assessment is Assessment.NONE:
        return "а по предмету обучение безотметочное"
    return None


def _check_absences(facts: _Facts) -> Iterable[Finding]:
    """J1 membership and J3 reasons of absences."""
    journal = facts.journal
    for absence in journal.absences:
        lesson = facts.lesson_of(absence.lesson_id, f"пропуск ученика № {absence.student_id}")
        course = facts.course_of(lesson)
        where = {
            "subject": journal.course_title(course),
            "student_id": absence.student_id,
            "period": facts.period_code_on(lesson.date),
            "subject_id": course.subject_id,
            "lesson_id": lesson.id,
            "date": lesson.date,
        }
        what = f"пропуск урока {format_date(lesson.date)}"
        problem = _membership_problem(facts, absence.student_id, course, lesson.date)
        if problem:
            yield facts.finding("not_enrolled", f"{what}, но {problem}", **where)
        if absence.reason is None:
            yield facts.finding("absence_without_reason", f"{what} без указания причины", **where)


def _check_final_scale(facts: _Facts) -> Iterable[Finding]:
    """J2/J4: period, year, exam and final marks on the subject's scale."""
    journal = facts.journal
    for final in journal.final_marks:
        subject = journal.subject_by_id.get(final.subject_id)
        courses = facts.subject_courses.get(final.subject_id, ())
        if final.value not in VALID_MARKS:
            problem = f"такой отметки нет в шкале ({_SCALE_TEXT})"
        elif (
            courses
            and mark_number(final.value) is not None
            and not facts.subject_assessed_by_marks(final.subject_id)
        ):
            problem = _scale_problem(final.value, courses[0].assessment)
        else:
            continue
        yield facts.finding(
            "mark_outside_scale",
            f"{facts.final_label(final.period)} «{final.value}» — {problem}",
            subject=subject.name if subject else f"предмет № {final.subject_id}",
            student_id=final.student_id,
            period=final.period,
            subject_id=final.subject_id,
        )


def _mean(numbers: Sequence[int]) -> Decimal:
    return Decimal(sum(numbers)) / Decimal(len(numbers))


def _marks_list(numbers: Sequence[int]) -> str:
    return ", ".join(str(n) for n in numbers)


def _check_period_marks(facts: _Facts) -> Iterable[Finding]:
    """J6 within each checked period: enough marks, and the final is their rounded mean."""
    journal = facts.journal
    for period in facts.checked_periods:
        for subject in journal.subjects:
            if not facts.subject_assessed_by_marks(subject.id):
                continue
            courses = facts.subject_courses.get(subject.id, ())
            for student in journal.students:
                mine = [c for c in courses if facts.belongs(student.id, c)]
                if not any(c.assessment is Assessment.MARKS for c in mine):
                    continue
                numbers = [
                    mark.number
                    for lesson, mark in facts.student_marks.get((student.id, subject.id), ())
                    if period.contains(lesson.date) and mark.number is not None
                ]
                final = journal.final_mark(student.id, subject.id, period.code)
                where = {
                    "subject": subject.name,
                    "student_id": student.id,
                    "period": period.code,
                    "subject_id": subject.id,
                }
                taught = any(
                    period.contains(day) for c in mine for day in facts.held_lesson_dates.get(c.id, ())
                )
                if (
                    taught
                    and len(numbers) < MIN_PERIOD_MARKS
                    and final not in (NOT_ATTESTED, EXEMPT)
                    and facts.enrolled_throughout(student.id, period)
                ):
                    final_text = (
                        f"{period_final_title(period.name)} не выставлена"
                        if final is None
                        else f"{period_final_title(period.name)} «{final}»"
                    )
                    yield facts.finding(
                        "too_few_marks",
                        f"{in_period(period.name)} "
                        f"{count_words(len(numbers), 'отметка', 'отметки', 'отметок')} "
                        f"(нужно не менее {MIN_PERIOD_MARKS}), а {final_text} — должна быть «{NOT_ATTESTED}»",
                        **where,
                    )
                final_number = mark_number(final) if final is not None else None
                if final_number is not None and len(numbers) >= MIN_PERIOD_MARKS:
                    mean = _mean(numbers)
                    expected = round_half_up(mean)
                    if final_number != expected:
                        yield facts.finding(
                            "final_differs_from_average",
                            f"{facts.final_label(period.code)} «{final}», а среднее отметок "
                            f"({_marks_list(numbers)}) — {format_decimal(mean)}, по правилам округления "
                            f"«{expected}»; отметка учителя сохраняется",
                            **where,
                        )


def _final_number(journal: ClassJournal, student_id: int, subject_id: int, code: str) -> int | None:
    value = journal.final_mark(student_id, subject_id, code)
    return mark_number(value) if value is not None else None


def _check_year_finals(facts: _Facts) -> Iterable[Finding]:
    """J6 for a year snapshot: year mark from period finals, final result from year and exam."""
    journal = facts.journal
    if journal.period is not None or not facts.periods:
        return
    for subject in journal.subjects:
        if not facts.subject_assessed_by_marks(subject.id):
            continue
        for student in journal.students:
            finals = {
                code: _final_number(journal, student.id, subject.id, code)
                for code in (*(p.code for p in facts.periods), FINAL_YEAR, FINAL_EXAM, FINAL_RESULT)
            }
            where = {"subject": subject.name, "student_id": student.id, "subject_id": subject.id}
            year = finals[FINAL_YEAR]
            period_numbers = [finals[p.code] for p in facts.periods]
            if year is not None and all(n is not None for n in period_numbers):
                numbers = [n for n in period_numbers if n is not None]
                mean = _mean(numbers)
                expected = round_half_up(mean)
                if year != expected:
                    yield facts.finding(
                        "final_differs_from_average",
                        f"годовая отметка «{year}», а среднее отметок за учебные периоды "
                        f"({_marks_list(numbers)}) — {format_decimal(mean)}, по правилам округления "
                        f"«{expected}»; отметка учителя сохраняется",
                        period=FINAL_YEAR,
                        **where,
                    )
            result = finals[FINAL_RESULT]
            if result is None or year is None:
                continue
            exam = finals[FINAL_EXAM]
            if exam is not None:
                mean = _mean([year, exam])
                expected = round_half_up(mean)
                basis = (
                    f"годовая «{year}» и экзаменационная «{exam}» дают {format_decimal(mean)}, "
                    f"по правилам округления «{expected}»"
                )
            else:
                expected = year
                basis = f"годовая «{year}», а экзаменационной отметки нет"
            if result != expected:
                yield facts.finding(
                    "final_differs_from_average",
                    f"итоговая отметка «{result}», а {basis}; отметка учителя сохраняется",
                    period=FINAL_RESULT,
                    **where,
                )


# --- Limits of the archive format (journal.xsd) ------------------------------------------------

XML_TEXT_FIELDS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "school/name": ("LongText", "название школы"),
        "school/shortName": ("ShortText", "краткое название школы"),
        "school/address": ("LongText", "адрес школы"),
        "school/director": ("ShortText", "директор"),
        "academicYear/name": ("ShortText", "название учебного года"),
        "class/name": ("ShortText", "название класса"),
        "class/letter": ("ShortText", "буква класса"),
        "periods/period/name": ("ShortText", "название периода"),
        "holidays/holiday/name": ("ShortText", "название каникул"),
        "teachers/teacher/lastName": ("ShortText", "фамилия"),
        "teachers/teacher/firstName": ("ShortText", "имя"),
        "teachers/teacher/patronymic": ("ShortText", "отчество"),
        "students/student/lastName": ("ShortText", "фамилия"),
        "students/student/firstName": ("ShortText", "имя"),
        "students/student/patronymic": ("ShortText", "отчество"),
        "enrolments/enrolment/joinedNote": ("LongText", "примечание о прибытии"),
        "enrolments/enrolment/leftNote": ("LongText", "примечание о выбытии"),
        "guardians/guardian/lastName": ("ShortText", "фамилия родителя"),
        "guardians/guardian/firstName": ("ShortText", "имя родителя"),
        "guardians/guardian/patronymic": ("ShortText", "отчество родителя"),
        "guardians/guardian/relation": ("ShortText", "кем приходится родитель"),
        "guardians/guardian/phone": ("ShortText", "телефон родителя"),
        "subjects/subject/name": ("ShortText", "название предмета"),
        "subjects/subject/shortName": ("ShortText", "краткое название предмета"),
        "courses/course/subgroup": ("ShortText", "подгруппа"),
        "lessons/lesson/topic": ("LongText", "тема урока"),
        "lessons/lesson/homework": ("LongText", "домашнее задание"),
        "marks/mark/value": ("MarkValue", "отметка"),
        "marks/mark/workKind": ("ShortText", "вид работы"),
        "finalMarks/finalMark/value": ("MarkValue", "итоговая отметка"),
    }
)
"""Every text element of journal.xml → its XSD type and its Russian name. The limits themselves are
read from the XSD (`xsd_limits`); tests/test_xml_limits.py checks this table against the XSD."""

XML_CODE_FIELDS: Mapping[str, str] = MappingProxyType(
    {"periods/period/@code": "код периода", "finalMarks/finalMark/@period": "код периода итоговой отметки"}
)
"""Attributes of XSD type Code (the journal's own @period is one of the periods' codes)."""

_XS = "{http://www.w3.org/2001/XMLSchema}"
_LONG = (-(2**63), 2**63 - 1)  # xs:long, the base of the XSD's Id type


@cache
def xsd_limits() -> Mapping[str, tuple[int, int | None]]:
    """XSD type name → (minLength, maxLength) for every string type of journal.xsd, complex text
    types (ShortText…) resolved to the simple type they extend: one place for each limit."""
    schema = etree.parse(str(JOURNAL_XSD_PATH)).getroot()
    simple: dict[str, tuple[int, int | None]] = {}
    for st in schema.iter(f"{_XS}simpleType"):
        restriction = st.find(f"{_XS}restriction")
        if restriction is None or restriction.get("base") != "xs:string":
            continue
        low = restriction.find(f"{_XS}minLength")
        high = restriction.find(f"{_XS}maxLength")
        if low is None and high is None:
            continue
        simple[st.get("name")] = (
            int(low.get("value")) if low is not None else 0,
            int(high.get("value")) if high is not None else None,
        )
    limits = dict(simple)
    for ct in schema.iter(f"{_XS}complexType"):
        extension = ct.find(f"{_XS}simpleContent/{_XS}extension")
        if ct.get("name") and extension is not None:
            base = extension.get("base", "").removeprefix("j:")
            if base in simple:
                limits[ct.get("name")] = simple[base]
    return MappingProxyType(limits)


def _readable(text: str, fallback: str) -> str:
    """A value as a message can quote it: control characters shown, a very long one cut."""
    text = shown(text)
    return f"{text[:60]}… ({fallback})" if len(text) > 80 else text


def _subject_name(journal: ClassJournal, subject_id: int) -> str:
    subject = journal.subject_by_id.get(subject_id)
    fallback = f"предмет № {subject_id}"
    return _readable(subject.name, fallback) if subject else fallback


def _text_values(facts: _Facts) -> Iterable[tuple[str, str, dict]]:
    """(XML path, value, where) for every text of the snapshot that journal.xml writes."""
    j = facts.journal
    school, year, c = j.school, j.year, j.school_class
    yield from (
        ("school/name", school.name, {}),
        ("school/shortName", school.short_name, {}),
        ("school/address", school.address, {}),
        ("school/director", school.director, {}),
        ("academicYear/name", year.name, {}),
        ("class/name", c.name, {}),
        ("class/letter", c.letter, {}),
    )
    for p in j.periods:
        yield "periods/period/name", p.name, {"who": f"период {_readable(p.code, 'код')}"}
    for h in j.holidays:
        yield "holidays/holiday/name", h.name, {"who": f"каникулы {format_date_range(h.start, h.end)}"}
    for t in j.teachers:
        who = {"who": f"учитель № {t.id}"}
        yield "teachers/teacher/lastName", t.last_name, who
        yield "teachers/teacher/firstName", t.first_name, who
        yield "teachers/teacher/patronymic", t.patronymic, who
    for st in j.students:
        who = {"student_id": st.id}
        yield "students/student/lastName", st.last_name, who
        yield "students/student/firstName", st.first_name, who
        yield "students/student/patronymic", st.patronymic, who
    for e in j.enrolments:
        yield "enrolments/enrolment/joinedNote", e.joined_note, {"student_id": e.student_id}
        yield "enrolments/enrolment/leftNote", e.left_note, {"student_id": e.student_id}
    for g in j.guardians:
        who = {"student_id": g.student_id}
        for field, value in (
            ("lastName", g.last_name),
            ("firstName", g.first_name),
            ("patronymic", g.patronymic),
            ("relation", g.relation),
            ("phone", g.phone),
        ):
            yield f"guardians/guardian/{field}", value, who
    for s in j.subjects:
        who = {"subject": _readable(s.name, f"предмет № {s.id}"), "subject_id": s.id}
        yield "subjects/subject/name", s.name, who
        yield "subjects/subject/shortName", s.short_name, who
    for co in j.courses:
        name = _subject_name(j, co.subject_id)
        yield "courses/course/subgroup", co.subgroup, {"subject": name, "subject_id": co.subject_id}
    for le in j.lessons:
        where = facts.lesson_where(le)
        yield "lessons/lesson/topic", le.topic, where
        yield "lessons/lesson/homework", le.homework, where
    for mk in j.marks:
        lesson = j.lesson_by_id.get(mk.lesson_id)
        where = {**(facts.lesson_where(lesson) if lesson else {}), "student_id": mk.student_id}
        yield "marks/mark/value", mk.value, where
        yield "marks/mark/workKind", mk.work_kind, where
    for f in j.final_marks:
        where = {
            "subject": _subject_name(j, f.subject_id),
            "subject_id": f.subject_id,
            "student_id": f.student_id,
            "period": f.period,
            "who": facts.final_label(f.period),
        }
        yield "finalMarks/finalMark/value", f.value, where


def _ids(journal: ClassJournal) -> Iterable[tuple[str, int]]:
    """(what, id) for every id journal.xml writes as the XSD's Id (xs:long)."""
    j = journal
    yield "школа", j.school.id
    yield "учебный год", j.year.id
    yield "класс", j.school_class.id
    yield from (("учитель", t.id) for t in j.teachers)
    yield from (("ученик", s.id) for s in j.students)
    yield from (("предмет", s.id) for s in j.subjects)
    yield from (("предмет в классе", c.id) for c in j.courses)
    yield from (("урок", le.id) for le in j.lessons)
    yield from (("отметка", m.id) for m in j.marks)


def _check_xml_format(facts: _Facts) -> Iterable[Finding]:
    """Every limit journal.xsd sets, checked before archiving: a journal `check` passes is one
    `archive` can write (R5). Control characters are a warning: the PDF and CSV show U+FFFD, the
    XML keeps the exact value in Base64 (journal/text.py)."""
    limits = xsd_limits()
    for path, value, where in _text_values(facts):
        where = dict(where)
        who = where.pop("who", None)
        xsd_type, title = XML_TEXT_FIELDS[path]
        field = f"{who}, поле «{title}» ({path})" if who else f"поле «{title}» ({path})"
        written, encoded = written_text(value)
        low, high = limits[xsd_type]
        if high is not None and len(written) > high:
            size = count_words(len(written), "символ", "символа", "символов")
            how = " в записи Base64 (в тексте есть управляющие символы)" if encoded else ""
            yield facts.finding(
                "outside_xml_format",
                f"{field}: {size}{how}, а формат архива (journal.xsd, тип {xsd_type}) допускает "
                f"не более {high}; сократите текст в журнале",
                **where,
            )
        found = invisible_characters(value)
        if found:
            yield facts.finding(
                "control_characters",
                f"{field}: управляющие символы {', '.join(found)}; в PDF и CSV они показаны "
                f"как «{REPLACEMENT}», в journal.xml текст сохранён точно "
                "(в Base64: XML 1.0 не допускает таких символов)",
                **where,
            )
    j = facts.journal
    low, high = limits["Code"]
    codes = [("periods/period/@code", p.code, {}) for p in j.periods]
    codes += [
        ("finalMarks/finalMark/@period", f.period, {"student_id": f.student_id, "subject_id": f.subject_id})
        for f in j.final_marks
    ]
    for path, code, where in codes:
        if not low <= len(code) <= (high if high is not None else len(code)):
            yield facts.finding(
                "outside_xml_format",
                f"поле «{XML_CODE_FIELDS[path]}» ({path}): длина {len(code)}, а формат архива "
                f"(journal.xsd, тип Code) допускает от {low} до {high} символов",
                **where,
            )
    for what, number in _ids(j):
        if not _LONG[0] <= number <= _LONG[1]:
            yield facts.finding(
                "outside_xml_format",
                f"{what}: идентификатор {number} вне диапазона формата архива "
                f"(journal.xsd, тип Id: от {_LONG[0]} до {_LONG[1]})",
            )
    for co in j.courses:
        if not math.isfinite(co.hours_per_week):
            yield facts.finding(
                "outside_xml_format",
                f"предмет в классе № {co.id}: число часов в неделю «{co.hours_per_week}» — не число "
                "(journal.xsd, тип Hours)",
                subject_id=co.subject_id,
            )


# --- Report ------------------------------------------------------------------


def _class_order(name: str) -> tuple[int, str]:
    """«5А» before «10Б»: grade as a number, then the rest."""
    match = re.match(r"\s*(\d+)(.*)", name)
    return (int(match.group(1)), match.group(2)) if match else (10**6, name)


def format_report(findings: Sequence[Finding], *, title: str) -> str:
    """A plain-text Russian report: per class, errors first, each rule's findings under its title,
    then a summary line («Найдено: 2 ошибки, 5 предупреждений» or «Замечаний нет»)."""
    lines = [title, "=" * len(title), ""]
    by_class: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        by_class[f.class_name].append(f)
    rule_rank = {code: rank for rank, code in enumerate(RULES)}
    for class_name in sorted(by_class, key=_class_order):
        class_findings = by_class[class_name]
        counts = {s: sum(f.severity is s for f in class_findings) for s in _SEVERITY_ORDER}
        lines.append(f"{class_name}: {', '.join(s.count(counts[s]) for s in _SEVERITY_ORDER)}")
        for severity in _SEVERITY_ORDER:
            of_severity = [f for f in class_findings if f.severity is severity]
            if not of_severity:
                continue
            lines.append(f"  {_SEVERITY_HEADINGS[severity]}")
            by_rule: dict[str, list[Finding]] = defaultdict(list)
            for f in of_severity:
                by_rule[f.rule].append(f)
            for code in sorted(by_rule, key=lambda c: (rule_rank.get(c, len(rule_rank)), c)):
                rule = RULES.get(code)
                heading = f"{rule.title} ({rule.cite})" if rule else code
                lines.append(f"    {heading}: {len(by_rule[code])}")
                lines.extend(f"      • {f.message}" for f in by_rule[code])
        lines.append("")
    if findings:
        totals = [s.count(sum(f.severity is s for f in findings)) for s in _SEVERITY_ORDER]
        lines.append(f"Найдено: {', '.join(totals)}")
    else:
        lines.append("Замечаний нет")
    return "\n".join(lines) + "\n"


# --- The findings inside a bundle ---------------------------------------------------

FINDINGS_TEXT_NAME = "journal-check.txt"
FINDINGS_JSON_NAME = "journal-check.json"
FINDINGS_FILE_DESCRIPTIONS = {
    FINDINGS_TEXT_NAME: "Результат проверки журнала по правилам J1–J6 на момент архивирования: "
    "ошибки и предупреждения с классом, предметом, учеником и датой (или «Замечаний нет»). "
    "Журнал архивируется как есть: отметки не исправляются (R9).",
    FINDINGS_JSON_NAME: "Тот же результат проверки в JSON: правило, серьёзность, требования, "
    "коды предмета, ученика и урока, дата и текст замечания.",
}
"""README.txt's lines for the two findings files a bundle carries in data/."""


def findings_files(findings: Sequence[Finding], *, title: str) -> dict[str, bytes]:
    """The Russian report and a machine-readable copy, for a bundle's data/: an inspector asks years
    later what was wrong with the journal when it was archived. Deterministic: same journal, same bytes."""
    records = [
        {
            "rule": f.rule,
            "severity": str(f.severity),
            "requirements": list(RULES[f.rule].requirements) if f.rule in RULES else [],
            "class": f.class_name,
            "period": f.period,
            "subject_id": f.subject_id,
            "student_id": f.student_id,
            "lesson_id": f.lesson_id,
            "date": f.date.isoformat() if f.date else None,
            "message": f.message,
        }
        for f in findings
    ]
    document = {
        "title": title,
        "errors": sum(f.severity is Severity.ERROR for f in findings),
        "warnings": sum(f.severity is Severity.WARNING for f in findings),
        "findings": records,
    }
    return {
        FINDINGS_TEXT_NAME: format_report(findings, title=title).encode("utf-8"),
        FINDINGS_JSON_NAME: (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8"),
    }
