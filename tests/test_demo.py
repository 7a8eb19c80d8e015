"""The demo school (journal.demo): deterministic, believable, and breaking exactly the rules
it says it breaks (J1–J6), so that the archive can be shown and tested on it."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import subprocess
import sys
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path

import pytest

from journal.demo import (
    FIRST_GRADE_HOLIDAY,
    HOLIDAYS,
    SIZES,
    DemoSchool,
    generate_demo_school,
    school_days,
)
from journal.model import (
    FINAL_EXAM,
    FINAL_RESULT,
    FINAL_YEAR,
    Assessment,
    LessonStatus,
    PeriodScheme,
    SchoolYear,
    mark_number,
    round_half_up,
)
from journal.source import (
    canonical_school_year,
    create_schema,
    extract_class_journal,
    open_source,
    select_class_names,
    write_school_year,
)
from validators.journal_rules import validate_class_journal

RULES = {
    "too_few_marks",
    "final_differs_from_average",
    "lesson_without_topic",
    "lesson_without_homework",
    "absence_without_reason",
}


@pytest.fixture(scope="module")
def small() -> DemoSchool:
    return generate_demo_school("small")


@pytest.fixture(scope="module")
def school() -> DemoSchool:
    return generate_demo_school("school")  # its speed: benchmarks/generation_speed.py


def seeded_keys(demo: DemoSchool, *rules: str) -> set[tuple]:
    return {
        (v.rule, v.class_name, v.period, v.subject_id, v.student_id, v.lesson_id)
        for v in demo.seeded
        if not rules or v.rule in rules
    }


class Index:
    """Look-ups over a SchoolYear that several tests need."""

    def __init__(self, data: SchoolYear) -> None:
        self.data = data
        self.course = {c.id: c for c in data.courses}
        self.klass = {k.id: k for k in data.classes}
        self.subject = {s.id: s for s in data.subjects}
        self.lesson = {x.id: x for x in data.lessons}
        self.enrolment = {e.student_id: e for e in data.enrolments}
        self.members: dict[int, set[int]] = defaultdict(set)
        for m in data.course_members:
            self.members[m.course_id].add(m.student_id)
        self.absent = {(a.lesson_id, a.student_id) for a in data.absences}

    def class_of_lesson(self, lesson_id: int):
        return self.klass[self.course[self.lesson[lesson_id].course_id].class_id]

    def periods_of(self, scheme: PeriodScheme):
        return [p for p in self.data.periods if p.scheme is scheme]

    def in_course(self, student_id: int, course_id: int) -> bool:
        course = self.course[course_id]
        return self.enrolment[student_id].class_id == course.class_id and (
            not course.subgroup or student_id in self.members[course_id]
        )


# --- Determinism -------------------------------------------------------------------------


def test_the_same_seed_gives_an_equal_school_year() -> None:
    first, second = generate_demo_school("small", seed=7), generate_demo_school("small", seed=7)
    assert first == second
    assert hashlib.sha256(repr(first).encode()).digest() == hashlib.sha256(repr(second).encode()).digest()


def test_another_seed_gives_another_school(small: DemoSchool) -> None:
    other = generate_demo_school("small", seed=2025)
    assert other.data.students != small.data.students
    assert other.data.marks != small.data.marks
    assert {k.name for k in other.data.classes} == {k.name for k in small.data.classes}


def test_the_result_does_not_depend_on_the_interpreter_run() -> None:
    """Another process with another string-hash seed produces the same bytes (no set order leaks)."""
    code = (
        "import hashlib; from journal.demo import generate_demo_school; "
        "print(hashlib.sha256(repr(generate_demo_school('class', 11)).encode()).hexdigest())"
    )
    root = Path(__file__).resolve().parents[1]
    digests = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            cwd=root,
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
        ).stdout.strip()
        for hash_seed in ("1", "2")
    }
    assert digests == {hashlib.sha256(repr(generate_demo_school("class", 11)).encode()).hexdigest()}


def test_collections_come_in_the_order_a_source_reads_them_back(small: DemoSchool) -> None:
    assert canonical_school_year(small.data) == small.data


# --- Sizes -------------------------------------------------------------------------------


def test_sizes(small: DemoSchool, school: DemoSchool) -> None:
    one = generate_demo_school("class")
    assert [k.name for k in one.data.classes] == ["5А"]
    assert [k.name for k in small.data.classes] == ["1А", "5А", "9А", "10А"]
    assert len(school.data.classes) == 44 == len(SIZES["school"])
    assert 1000 <= len(school.data.students) <= 1200
    for demo in (one, small, school):
        sizes = Counter(e.class_id for e in demo.data.enrolments if e.joined is None)
        assert all(22 <= n <= 29 for n in sizes.values()), sizes


def test_an_unknown_size_is_refused() -> None:
    with pytest.raises(ValueError, match="huge"):
        generate_demo_school("huge")


# --- Calendar and timetable -------------------------------------------------------------


def test_lessons_fall_on_school_days_of_their_class_only(school: DemoSchool) -> None:
    index = Index(school.data)
    grade_two_in_february = False
    for lesson in school.data.lessons:
        klass = index.class_of_lesson(lesson.id)
        assert lesson.date.weekday() < 5
        assert not any(h.start <= lesson.date <= h.end for h in HOLIDAYS), lesson
        assert any(p.contains(lesson.date) for p in index.periods_of(klass.period_scheme)), lesson
        in_extra_week = FIRST_GRADE_HOLIDAY.start <= lesson.date <= FIRST_GRADE_HOLIDAY.end
        assert not (klass.grade == 1 and in_extra_week), lesson
        grade_two_in_february |= klass.grade == 2 and in_extra_week
    assert grade_two_in_february, "the first-grade holiday is for grade 1 only"
    assert school.data.holidays == HOLIDAYS
    assert school.data.year.start == dt.date(2024, 9, 2) and school.data.year.end == dt.date(2025, 5, 26)


def test_the_timetable_gives_each_course_its_weekly_hours(school: DemoSchool) -> None:
    """Every full school week holds exactly `hours_per_week` lessons of each course (held or not)."""
    per_week: dict[tuple[int, dt.date], Counter] = defaultdict(Counter)
    for lesson in school.data.lessons:
        monday = lesson.date - dt.timedelta(days=lesson.date.weekday())
        per_week[(lesson.course_id, monday)][lesson.date] += 1
    for klass in school.data.classes:
        days = school_days(klass.grade)
        full_weeks = [
            m for m in days if m.weekday() == 0 and all(m + dt.timedelta(i) in days for i in range(5))
        ]
        assert len(full_weeks) >= 25
        for course in (c for c in school.data.courses if c.class_id == klass.id):
            for monday in full_weeks:
                counts = per_week[(course.id, monday)]
                assert sum(counts.values()) == course.hours_per_week, (klass.name, course, monday)
                assert max(counts.values()) <= 2, (klass.name, course, monday)  # at most twice a day


def test_a_class_day_runs_from_the_first_lesson_without_gaps(school: DemoSchool) -> None:
    index = Index(school.data)
    numbers: dict[tuple[int, dt.date], set[int]] = defaultdict(set)
    for lesson in school.data.lessons:
        numbers[(index.class_of_lesson(lesson.id).id, lesson.date)].add(lesson.number)
    longest = {1: 4, 2: 5, 3: 5, 4: 5, 5: 6, 6: 6}
    for (class_id, day), seen in numbers.items():
        assert seen == set(range(1, max(seen) + 1)), (class_id, day)
        assert max(seen) <= longest.get(index.klass[class_id].grade, 7)


def test_no_teacher_is_in_two_places_at_once(school: DemoSchool) -> None:
    teaching = Counter(
        (x.date, x.number, x.substitute_teacher_id or x.teacher_id)
        for x in school.data.lessons
        if x.status is LessonStatus.HELD
    )
    assert max(teaching.values()) == 1


def test_a_few_lessons_are_substituted_or_not_held(school: DemoSchool, small: DemoSchool) -> None:
    index = Index(school.data)
    lessons = school.data.lessons
    substituted = [x for x in lessons if x.substitute_teacher_id is not None]
    missed = [x for x in lessons if x.status is LessonStatus.MISSED]
    assert 0.004 < len(substituted) / len(lessons) < 0.02
    assert 0 < len(missed) < 0.005 * len(lessons)
    assert all(x.substitute_teacher_id != x.teacher_id for x in substituted)
    assert all(x.teacher_id == index.course[x.course_id].teacher_id for x in lessons)
    missed_ids = {x.id for x in missed}
    assert not any(m.lesson_id in missed_ids for m in school.data.marks)
    assert not any(a.lesson_id in missed_ids for a in school.data.absences)
    for demo in (small, generate_demo_school("class")):
        assert any(x.substitute_teacher_id for x in demo.data.lessons)
        assert any(x.status is LessonStatus.MISSED for x in demo.data.lessons)


# --- Curriculum, people ------------------------------------------------------------------


def test_grade_five_follows_the_federal_curriculum(small: DemoSchool) -> None:
    index = Index(small.data)
    five = next(k for k in small.data.classes if k.name == "5А")
    hours = {
        index.subject[c.subject_id].short_name: c.hours_per_week
        for c in small.data.courses
        if c.class_id == five.id
    }
    assert hours == {
        "Рус. яз.": 5,
        "Лит-ра": 3,
        "Англ. яз.": 3,
        "Матем.": 5,
        "История": 2,
        "Геогр.": 1,
        "Биол.": 1,
        "ОДНКНР": 1,
        "Музыка": 1,
        "ИЗО": 1,
        "Труд": 2,
        "Физ-ра": 2,
    }
    ordinals = [s.ordinal for s in small.data.subjects]
    assert ordinals == sorted(ordinals) and len(set(ordinals)) == len(ordinals)


def test_subgroups_split_the_class(small: DemoSchool) -> None:
    """Foreign language from grade 2, technology and informatics: two groups, everyone in one (J2)."""
    index = Index(small.data)
    for klass in small.data.classes:
        pupils = {e.student_id for e in small.data.enrolments if e.class_id == klass.id}
        groups: dict[int, list] = defaultdict(list)
        for course in small.data.courses:
            if course.class_id == klass.id and course.subgroup:
                groups[course.subject_id].append(course)
        names = {index.subject[s].name for s in groups}
        expected = {"Иностранный язык (английский)"} if klass.grade >= 2 else set()
        expected |= {"Труд (технология)"} if 5 <= klass.grade <= 9 else set()
        expected |= {"Информатика"} if klass.grade >= 7 else set()
        assert names == expected, klass.name
        for courses in groups.values():
            assert [c.subgroup for c in courses] == ["1 группа", "2 группа"]
            assert courses[0].teacher_id != courses[1].teacher_id
            first, second = index.members[courses[0].id], index.members[courses[1].id]
            assert first and second and not first & second and first | second == pupils


def test_assessment_by_grade_and_subject(small: DemoSchool) -> None:
    index = Index(small.data)
    for course in small.data.courses:
        grade = index.klass[course.class_id].grade
        name = index.subject[course.subject_id].short_name
        expected = (
            Assessment.NONE
            if grade == 1
            else Assessment.CREDIT
            if name in ("ОРКСЭ", "ОДНКНР")
            else Assessment.MARKS
        )
        assert course.assessment is expected, (grade, name)
    scale = {c.id: c.assessment for c in small.data.courses}
    for mark in small.data.marks:
        assessment = scale[small.data.lessons[mark.lesson_id - 1].course_id]
        assert assessment is not Assessment.NONE
        assert (mark.value == "зач") == (assessment is Assessment.CREDIT)
    first_graders = {e.student_id for e in small.data.enrolments if index.klass[e.class_id].grade == 1}
    assert not any(f.student_id in first_graders for f in small.data.final_marks)


def test_every_class_has_a_class_teacher_who_teaches_it(school: DemoSchool) -> None:
    teachers = defaultdict(set)
    for course in school.data.courses:
        teachers[course.class_id].add(course.teacher_id)
    leaders = [k.class_teacher_id for k in school.data.classes]
    assert len(set(leaders)) == len(leaders)
    assert all(k.class_teacher_id in teachers[k.id] for k in school.data.classes)
    load = Counter()
    for course in school.data.courses:
        load[course.teacher_id] += course.hours_per_week
    assert max(load.values()) <= 30  # nobody teaches more than a full week allows


def test_people_have_real_looking_gender_consistent_names(small: DemoSchool) -> None:
    data = small.data
    classes = {k.id: k for k in data.classes}
    grade = {e.student_id: classes[e.class_id].grade for e in data.enrolments}
    for student in data.students:
        male = student.patronymic.endswith("ич")
        assert male or student.patronymic.endswith("на"), student
        assert student.last_name[-1] in "ая" or male or student.last_name.endswith(("ко", "их", "ых")), (
            student
        )
        age = (dt.date(2024, 9, 1) - student.birth_date).days / 365.25
        assert grade[student.id] + 5.4 < age < grade[student.id] + 7.2, student
    guardians = Counter(g.student_id for g in data.guardians)
    assert set(guardians) == {s.id for s in data.students}
    assert set(guardians.values()) <= {1, 2}
    assert {g.relation for g in data.guardians} <= {"мать", "отец", "опекун"}
    for g in data.guardians:
        assert re.fullmatch(r"\+7 9\d\d \d{3}-\d\d-\d\d", g.phone), g
        assert g.patronymic.endswith("ич" if g.relation == "отец" else "на"), g
    assert all(len(t.full_name.split()) == 3 for t in data.teachers)
    assert "№ 17" in data.school.name and data.school.address and len(data.school.director.split()) == 3


def test_some_students_arrive_or_leave_during_the_year(small: DemoSchool) -> None:
    joined = [e for e in small.data.enrolments if e.joined is not None]
    left = [e for e in small.data.enrolments if e.left is not None]
    assert joined and left
    assert all(e.joined_note.startswith(("прибыл ", "прибыла ")) for e in joined)
    assert all(e.left_note.startswith(("выбыл ", "выбыла ")) for e in left)
    for e in left:
        finals = {f.period for f in small.data.final_marks if f.student_id == e.student_id}
        assert FINAL_YEAR not in finals
        assert all(p.end <= e.left for p in small.data.periods if p.code in finals)


# --- Marks, absences, finals -------------------------------------------------------------


def test_marks_and_absences_only_for_enrolled_members_of_held_lessons(school: DemoSchool) -> None:
    """J1/J3: nobody is marked or absent on a day they are not in the class or group, and
    nobody is marked for a lesson they missed."""
    index = Index(school.data)
    for record in (*school.data.marks, *school.data.absences):
        lesson = index.lesson[record.lesson_id]
        assert lesson.status is LessonStatus.HELD
        assert index.in_course(record.student_id, lesson.course_id), record
        assert index.enrolment[record.student_id].active_on(lesson.date), record
    assert not any((m.lesson_id, m.student_id) in index.absent for m in school.data.marks)
    assert len({(m.lesson_id, m.student_id) for m in school.data.marks}) == len(school.data.marks)


def test_marks_look_like_a_real_school(school: DemoSchool) -> None:
    values = Counter(m.value for m in school.data.marks if m.number is not None)
    total = sum(values.values())
    assert values.most_common(1)[0][0] == "4"
    assert values["4"] > values["3"] > values["2"] and values["5"] > values["2"]
    assert values["2"] / total < 0.1 and not values["1"]
    lessons_per_mark = len(school.data.lessons) * 25 / len(school.data.marks)  # ~25 students a class
    assert 2.5 < lessons_per_mark < 5
    reasons = Counter(a.reason for a in school.data.absences)
    assert reasons.most_common(1)[0][0].value == "illness" and reasons[None] == len(
        seeded_keys(school, "absence_without_reason")
    )
    kinds = {m.work_kind for m in school.data.marks}
    assert {"контрольная работа", "диктант", "лабораторная работа", "ответ на уроке"} <= kinds


def test_every_held_lesson_has_topic_and_homework_except_the_seeded(school: DemoSchool) -> None:
    index = Index(school.data)
    found = set()
    for lesson in school.data.lessons:
        if lesson.status is not LessonStatus.HELD:
            continue
        klass = index.class_of_lesson(lesson.id)
        period = next(p.code for p in index.periods_of(klass.period_scheme) if p.contains(lesson.date))
        subject = index.course[lesson.course_id].subject_id
        if not lesson.topic:
            found.add(("lesson_without_topic", klass.name, period, subject, None, lesson.id))
        if not lesson.homework:
            found.add(("lesson_without_homework", klass.name, period, subject, None, lesson.id))
    assert found == seeded_keys(school, "lesson_without_topic", "lesson_without_homework")


def rounding_findings(data: SchoolYear) -> set[tuple]:
    """J6 as the brief states it: a period final is the rounded mean of ≥ 3 marks, else «н/а»
    (for a student in the class all period long); the year mark is the rounded mean of the
    period finals; the final result the rounded mean of year and exam, else the year mark."""
    index = Index(data)
    numbers: dict[tuple[int, int, str], list[int]] = defaultdict(list)
    for mark in data.marks:
        lesson = index.lesson[mark.lesson_id]
        klass = index.class_of_lesson(lesson.id)
        period = next(p for p in index.periods_of(klass.period_scheme) if p.contains(lesson.date))
        if mark.number is not None:
            numbers[(mark.student_id, index.course[lesson.course_id].subject_id, period.code)].append(
                mark.number
            )
    finals = {(f.student_id, f.subject_id, f.period): f.value for f in data.final_marks}
    marks_subjects = {(c.class_id, c.subject_id) for c in data.courses if c.assessment is Assessment.MARKS}
    found = set()

    def rounded(values: list[int]) -> int:
        return round_half_up(Decimal(sum(values)) / len(values))

    for (student, subject, code), value in finals.items():
        klass = index.klass[index.enrolment[student].class_id]
        if (klass.id, subject) not in marks_subjects:
            assert value == "зач"
            continue
        where = (klass.name, code, subject, student, None)
        got = numbers.get((student, subject, code), [])
        periods = index.periods_of(klass.period_scheme)
        if code in {p.code for p in periods}:
            period = next(p for p in periods if p.code == code)
            e = index.enrolment[student]
            throughout = (e.joined is None or e.joined <= period.start) and (
                e.left is None or period.end <= e.left
            )
            if len(got) >= 3 and mark_number(value) != rounded(got):
                found.add(("final_differs_from_average", *where))
            if len(got) < 3 and value != "н/а" and throughout:
                found.add(("too_few_marks", *where))
        elif code == FINAL_YEAR:
            terms = [finals.get((student, subject, p.code)) for p in periods]
            if all(t and t.isdigit() for t in terms):
                assert value == str(rounded([int(t) for t in terms])), where
            elif None not in terms:
                assert value == "н/а", where
        elif code == FINAL_RESULT:
            year, exam = finals[(student, subject, FINAL_YEAR)], finals.get((student, subject, FINAL_EXAM))
            expected = str(rounded([int(year), int(exam)])) if exam else year
            assert value == expected, where
        else:
            assert code == FINAL_EXAM and klass.grade in (9, 11) and value in ("3", "4", "5")
            assert index.subject[subject].name in (
                "Русский язык",
                "Алгебра",
                "Алгебра и начала математического анализа",
            )
    # Every student in the class all year has every final of every marks subject.
    for class_id, subject in marks_subjects:
        klass = index.klass[class_id]
        for e in data.enrolments:
            if e.class_id == class_id and e.joined is None and e.left is None:
                for p in index.periods_of(klass.period_scheme):
                    assert (e.student_id, subject, p.code) in finals, (klass.name, e.student_id, p.code)
                assert (e.student_id, subject, FINAL_YEAR) in finals
                assert ((e.student_id, subject, FINAL_RESULT) in finals) == (klass.grade in (9, 11))
    return found


def test_finals_follow_the_rounding_rule_except_the_seeded(school: DemoSchool) -> None:
    found = rounding_findings(school.data)
    assert found == seeded_keys(school, "too_few_marks", "final_differs_from_average")
    values = Counter(f.value for f in school.data.final_marks)
    assert values["4"] > values["3"] > values["5"] > values["2"]


def test_exams_in_grades_nine_and_eleven(school: DemoSchool) -> None:
    index = Index(school.data)
    exams = Counter(
        (index.klass[index.enrolment[f.student_id].class_id].grade, index.subject[f.subject_id].name)
        for f in school.data.final_marks
        if f.period == FINAL_EXAM
    )
    assert set(exams) == {
        (9, "Русский язык"),
        (9, "Алгебра"),
        (11, "Русский язык"),
        (11, "Алгебра и начала математического анализа"),
    }


# --- Seeded violations -------------------------------------------------------------------


@pytest.mark.parametrize("size", ["class", "small"])
def test_every_rule_is_seeded(size: str, school: DemoSchool) -> None:
    demo = generate_demo_school(size)
    assert {v.rule for v in demo.seeded} == RULES
    assert {v.rule for v in school.seeded} == RULES
    assert len(demo.seeded) == len(set(demo.seeded)) <= 8


def test_the_journal_validator_reports_exactly_the_seeded_violations(
    small: DemoSchool, tmp_path: Path
) -> None:
    """Through a real SQLite source and the real rules: the demo breaks nothing else (J1–J6)."""
    engine = open_source(f"sqlite:///{tmp_path / 'journal.sqlite'}", create=True)
    create_schema(engine)
    write_school_year(engine, small.data)
    findings = [
        finding
        for name in select_class_names(engine, small.data.year.name, None, ())
        for finding in validate_class_journal(extract_class_journal(engine, small.data.year.name, name, None))
    ]
    found = {(f.rule, f.class_name, f.period, f.subject_id, f.student_id, f.lesson_id) for f in findings}
    assert found == seeded_keys(small)
    assert len(found) == len(small.seeded) >= 5
