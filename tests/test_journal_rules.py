"""Journal rules J1–J6 (validators/journal_rules.py) on small hand-built snapshots.

`BASE` is a clean I-quarter snapshot of 5А: every test changes one thing and
checks that exactly the expected rule fires — or, for the boundary cases, that
it does not.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from journal.model import (
    FINAL_RESULT,
    FINAL_YEAR,
    Absence,
    AbsenceReason,
    AcademicYear,
    Assessment,
    ClassJournal,
    Course,
    CourseMember,
    Enrolment,
    FinalMark,
    Holiday,
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
from validators.journal_rules import (
    RULES,
    Finding,
    Severity,
    format_report,
    has_errors,
    validate_class_journal,
)

D = dt.date
Q = PeriodScheme.QUARTERS
PERIODS = (
    ReportingPeriod(Q, "Q1", 1, "I четверть", D(2024, 9, 2), D(2024, 10, 25)),
    ReportingPeriod(Q, "Q2", 2, "II четверть", D(2024, 11, 5), D(2024, 12, 28)),
    ReportingPeriod(Q, "Q3", 3, "III четверть", D(2025, 1, 9), D(2025, 3, 21)),
    ReportingPeriod(Q, "Q4", 4, "IV четверть", D(2025, 3, 31), D(2025, 5, 26)),
)
Q1 = PERIODS[0]

IVANOV, PETROVA, SIDOROV = 1, 2, 3
MATH, ENGLISH, PE = 1, 2, 3
MATH_C, ENG_G1, ENG_G2, PE_C = 10, 11, 12, 13

_LESSON_PLAN = (
    # id, course, date
    (101, MATH_C, D(2024, 9, 3)),
    (102, MATH_C, D(2024, 9, 10)),
    (103, MATH_C, D(2024, 9, 17)),
    (104, MATH_C, D(2024, 9, 24)),
    (111, ENG_G1, D(2024, 9, 4)),
    (112, ENG_G1, D(2024, 9, 11)),
    (113, ENG_G1, D(2024, 9, 18)),
    (121, ENG_G2, D(2024, 9, 4)),
    (122, ENG_G2, D(2024, 9, 11)),
    (123, ENG_G2, D(2024, 9, 18)),
    (131, PE_C, D(2024, 9, 5)),
)


def lesson(lesson_id, course_id, day, *, topic="Тема урока", homework="§ 1, № 5", status=LessonStatus.HELD):
    return Lesson(lesson_id, course_id, day, 2, topic, homework, 1, None, status)


def marks(*triples: tuple[int, int, str], first_id: int = 1) -> tuple[Mark, ...]:
    """Marks from (lesson, student, value) triples, numbered from `first_id`."""
    return tuple(
        Mark(first_id + i, lesson_id, student, value, "ответ на уроке")
        for i, (lesson_id, student, value) in enumerate(triples)
    )


def finals(period: str, subject_id: int, **by_student: str) -> tuple[FinalMark, ...]:
    ids = {"ivanov": IVANOV, "petrova": PETROVA, "sidorov": SIDOROV}
    return tuple(FinalMark(ids[name], subject_id, period, value) for name, value in by_student.items())


BASE = ClassJournal(
    school=School(1, "МБОУ «Средняя общеобразовательная школа № 1»", "СОШ № 1", "г. Тверь", "Орлов П. С."),
    year=AcademicYear(1, "2024/2025", D(2024, 9, 1), D(2025, 5, 31)),
    school_class=SchoolClass(5, "5А", 5, "А", 1, Q),
    period=Q1,
    periods=PERIODS,
    holidays=(
        Holiday("выходной день по решению учредителя", D(2024, 10, 4), D(2024, 10, 4)),
        Holiday("осенние каникулы", D(2024, 10, 26), D(2024, 11, 4)),
    ),
    teachers=(Teacher("Смирнова", "Ольга", "Ивановна", id=1),),
    students=(
        Student("Иванов", "Иван", "Петрович", id=IVANOV),
        Student("Петрова", "Анна", "Сергеевна", id=PETROVA),
        Student("Сидоров", "Алексей", "Николаевич", id=SIDOROV),
    ),
    enrolments=tuple(Enrolment(s, 5, None, None) for s in (IVANOV, PETROVA, SIDOROV)),
    guardians=(),
    subjects=(
        Subject(MATH, "Математика", "Матем.", 1),
        Subject(ENGLISH, "Английский язык", "Англ. яз.", 2),
        Subject(PE, "Физическая культура", "Физ-ра", 3),
    ),
    courses=(
        Course(MATH_C, 5, MATH, "", 1, 5, Assessment.MARKS),
        Course(ENG_G1, 5, ENGLISH, "1 группа", 1, 3, Assessment.MARKS),
        Course(ENG_G2, 5, ENGLISH, "2 группа", 1, 3, Assessment.MARKS),
        Course(PE_C, 5, PE, "", 1, 2, Assessment.CREDIT),
    ),
    course_members=(
        CourseMember(ENG_G1, IVANOV),
        CourseMember(ENG_G1, PETROVA),
        CourseMember(ENG_G2, SIDOROV),
    ),
    lessons=tuple(lesson(*plan) for plan in _LESSON_PLAN),
    marks=marks(
        (101, IVANOV, "5"),
        (102, IVANOV, "4"),
        (103, IVANOV, "5"),  # 4,67 → 5
        (101, PETROVA, "3"),
        (102, PETROVA, "4"),
        (103, PETROVA, "4"),  # 3,67 → 4
        (102, SIDOROV, "4"),
        (103, SIDOROV, "4"),
        (104, SIDOROV, "4"),
        (111, IVANOV, "5"),
        (112, IVANOV, "5"),
        (113, IVANOV, "5"),
        (111, PETROVA, "4"),
        (112, PETROVA, "4"),
        (113, PETROVA, "4"),
        (121, SIDOROV, "3"),
        (122, SIDOROV, "3"),
        (123, SIDOROV, "4"),  # 3,33 → 3
        (131, IVANOV, "зач"),
        (131, PETROVA, "зач"),
        (131, SIDOROV, "зач"),
    ),
    absences=(Absence(104, PETROVA, AbsenceReason.ILLNESS),),
    final_marks=(
        *finals("Q1", MATH, ivanov="5", petrova="4", sidorov="4"),
        *finals("Q1", ENGLISH, ivanov="5", petrova="4", sidorov="3"),
        *finals("Q1", PE, ivanov="зач", petrova="зач", sidorov="зач"),
    ),
)


def change(journal: ClassJournal = BASE, **fields) -> ClassJournal:
    return dataclasses.replace(journal, **fields)


def add_marks(journal: ClassJournal, *triples: tuple[int, int, str]) -> ClassJournal:
    return change(journal, marks=journal.marks + marks(*triples, first_id=1000))


def drop_marks(journal: ClassJournal, *pairs: tuple[int, int]) -> ClassJournal:
    """Without the marks of (lesson, student) pairs."""
    return change(journal, marks=tuple(m for m in journal.marks if (m.lesson_id, m.student_id) not in pairs))


def set_final(journal: ClassJournal, student: int, subject: int, period: str, value: str | None):
    kept = tuple(
        f for f in journal.final_marks if (f.student_id, f.subject_id, f.period) != (student, subject, period)
    )
    added = () if value is None else (FinalMark(student, subject, period, value),)
    return change(journal, final_marks=kept + added)


def set_enrolment(journal: ClassJournal, student: int, joined: dt.date | None, left: dt.date | None):
    others = tuple(e for e in journal.enrolments if e.student_id != student)
    return change(journal, enrolments=(*others, Enrolment(student, 5, joined, left)))


def replace_lesson(journal: ClassJournal, lesson_id: int, **fields) -> ClassJournal:
    return change(
        journal,
        lessons=tuple(dataclasses.replace(x, **fields) if x.id == lesson_id else x for x in journal.lessons),
    )


def of_rule(journal: ClassJournal, rule: str) -> list[Finding]:
    return [f for f in validate_class_journal(journal) if f.rule == rule]


def messages(journal: ClassJournal) -> list[str]:
    return [f.message for f in validate_class_journal(journal)]


def year_journal(**math_finals_of_ivanov: str) -> ClassJournal:
    """A year snapshot of BASE; Иванов's mathematics finals by period code (Q1=…, Y=…)."""
    journal = change(BASE, period=None)
    for code, value in math_finals_of_ivanov.items():
        journal = set_final(journal, IVANOV, MATH, code, value)
    return journal


# --- The clean snapshot -------------------------------------------------------


def test_clean_period_snapshot_has_no_findings():
    assert validate_class_journal(BASE) == ()


def test_clean_year_snapshot_has_no_findings():
    """Q2–Q4 have no lessons here, so nobody is short of marks there (J6)."""
    assert validate_class_journal(year_journal(Q2="5", Q3="4", Q4="5", Y="5", EXAM="4", FINAL="5")) == ()


def test_rules_registry():
    assert dict((code, rule.severity) for code, rule in RULES.items()) == {
        "lesson_outside_period": Severity.ERROR,
        "not_enrolled": Severity.ERROR,
        "mark_outside_scale": Severity.ERROR,
        "too_few_marks": Severity.WARNING,
        "final_differs_from_average": Severity.WARNING,
        "lesson_without_topic": Severity.WARNING,
        "lesson_without_homework": Severity.WARNING,
        "absence_without_reason": Severity.WARNING,
        "outside_xml_format": Severity.ERROR,
        "control_characters": Severity.WARNING,
    }
    assert RULES["too_few_marks"].requirements == ("J6",)
    assert all(rule.title and rule.requirements for rule in RULES.values())


# --- J6: at least three marks -------------------------------------------------


def test_two_marks_with_a_numeric_final():
    journal = drop_marks(BASE, (103, IVANOV))
    [finding] = validate_class_journal(journal)
    assert finding == Finding(
        rule="too_few_marks",
        severity=Severity.WARNING,
        class_name="5А",
        period="Q1",
        subject_id=MATH,
        student_id=IVANOV,
        lesson_id=None,
        date=None,
        message="5А · Математика · Иванов Иван Петрович: в I четверти 2 отметки (нужно не менее 3), "
        "а четвертная отметка «5» — должна быть «н/а» (J6)",
    )


def test_two_marks_and_no_final():
    journal = set_final(drop_marks(BASE, (103, IVANOV)), IVANOV, MATH, "Q1", None)
    assert messages(journal) == [
        "5А · Математика · Иванов Иван Петрович: в I четверти 2 отметки (нужно не менее 3), "
        "а четвертная отметка не выставлена — должна быть «н/а» (J6)"
    ]


@pytest.mark.parametrize("final", ["н/а", "осв"])
def test_too_few_marks_with_not_attested_or_exempt_final_is_fine(final):
    journal = set_final(drop_marks(BASE, (103, IVANOV), (102, IVANOV)), IVANOV, MATH, "Q1", final)
    assert validate_class_journal(journal) == ()


def test_special_lesson_marks_do_not_count_towards_three():
    journal = add_marks(drop_marks(BASE, (103, IVANOV)), (103, IVANOV, "н/а"))
    assert [f.rule for f in validate_class_journal(journal)] == ["too_few_marks"]
    assert "2 отметки" in messages(journal)[0]


def test_student_who_joined_during_the_period_is_not_required_three_marks():
    journal = set_enrolment(BASE, SIDOROV, D(2024, 9, 12), None)
    journal = drop_marks(
        journal, (102, SIDOROV), (103, SIDOROV), (121, SIDOROV), (122, SIDOROV), (131, SIDOROV)
    )
    assert validate_class_journal(journal) == ()


def test_student_who_left_during_the_period_is_not_required_three_marks():
    journal = set_enrolment(BASE, SIDOROV, None, D(2024, 10, 1))
    journal = drop_marks(journal, (103, SIDOROV), (104, SIDOROV))
    assert validate_class_journal(journal) == ()


def test_marks_count_over_all_groups_of_the_subject_the_student_belongs_to():
    """Сидоров attends both English groups: 1 + 2 marks are 3 marks (J2, J6)."""
    journal = change(BASE, course_members=(*BASE.course_members, CourseMember(ENG_G1, SIDOROV)))
    journal = add_marks(drop_marks(journal, (123, SIDOROV)), (111, SIDOROV, "4"))  # 3, 3, 4 → 3
    assert validate_class_journal(journal) == ()


def test_subject_without_held_lessons_in_the_period_needs_no_marks():
    art = Subject(4, "Изобразительное искусство", "ИЗО", 4)
    journal = change(
        BASE,
        subjects=(*BASE.subjects, art),
        courses=(*BASE.courses, Course(14, 5, art.id, "", 1, 1, Assessment.MARKS)),
        lessons=(
            *BASE.lessons,
            lesson(141, 14, D(2024, 9, 6), topic="", homework="", status=LessonStatus.MISSED),
        ),
    )
    assert validate_class_journal(journal) == ()
    taught = replace_lesson(journal, 141, status=LessonStatus.HELD, topic="Цвет", homework="Рисунок")
    assert [(f.rule, f.student_id) for f in validate_class_journal(taught)] == [
        ("too_few_marks", IVANOV),
        ("too_few_marks", PETROVA),
        ("too_few_marks", SIDOROV),
    ]


# --- J6: finals follow mathematical rounding ------------------------------------


def test_mean_of_three_and_a_half_rounds_up_to_four():
    journal = add_marks(
        drop_marks(BASE, (101, IVANOV), (102, IVANOV), (103, IVANOV)),
        (101, IVANOV, "3"), (102, IVANOV, "4"), (103, IVANOV, "3"), (104, IVANOV, "4"),
    )  # fmt: skip
    assert validate_class_journal(set_final(journal, IVANOV, MATH, "Q1", "4")) == ()
    assert messages(set_final(journal, IVANOV, MATH, "Q1", "3")) == [
        "5А · Математика · Иванов Иван Петрович: отметка за I четверть «3», а среднее отметок "
        "(3, 4, 3, 4) — 3,5, по правилам округления «4»; отметка учителя сохраняется (J6)"
    ]


def test_final_below_mean_is_reported_once_with_period_and_subject():
    journal = set_final(BASE, SIDOROV, ENGLISH, "Q1", "4")  # marks 3, 3, 4 → 3
    [finding] = validate_class_journal(journal)
    assert (finding.rule, finding.severity, finding.period, finding.subject_id, finding.student_id) == (
        "final_differs_from_average",
        Severity.WARNING,
        "Q1",
        ENGLISH,
        SIDOROV,
    )
    assert "«4», а среднее отметок (3, 3, 4) — 3,33, по правилам округления «3»" in finding.message


def test_no_average_check_below_three_marks():
    journal = set_final(drop_marks(BASE, (103, IVANOV)), IVANOV, MATH, "Q1", "н/а")
    assert of_rule(journal, "final_differs_from_average") == []


def test_year_mark_is_the_rounded_mean_of_period_finals():
    ok = year_journal(Q1="5", Q2="4", Q3="3", Q4="2", Y="4")  # 3,5 → 4
    assert of_rule(ok, "final_differs_from_average") == []
    bad = year_journal(Q1="5", Q2="4", Q3="3", Q4="2", Y="3")
    [finding] = of_rule(bad, "final_differs_from_average")
    assert finding.period == FINAL_YEAR
    assert finding.message == (
        "5А · Математика · Иванов Иван Петрович: годовая отметка «3», а среднее отметок за учебные "
        "периоды (5, 4, 3, 2) — 3,5, по правилам округления «4»; отметка учителя сохраняется (J6)"
    )


def test_year_mark_is_not_compared_when_a_period_final_is_not_numeric():
    journal = year_journal(Q1="н/а", Q2="4", Q3="3", Q4="3", Y="3")
    journal = set_final(journal, IVANOV, MATH, "Q1", "н/а")
    assert of_rule(journal, "final_differs_from_average") == []


def test_year_mark_is_not_checked_in_a_period_snapshot():
    journal = set_final(BASE, IVANOV, MATH, FINAL_YEAR, "2")
    assert validate_class_journal(journal) == ()


def test_final_result_with_an_exam():
    ok = year_journal(Q1="5", Q2="4", Q3="4", Q4="4", Y="4", EXAM="5", FINAL="5")  # 4,5 → 5
    assert of_rule(ok, "final_differs_from_average") == []
    bad = year_journal(Q1="5", Q2="4", Q3="4", Q4="4", Y="4", EXAM="5", FINAL="4")
    [finding] = of_rule(bad, "final_differs_from_average")
    assert finding.period == FINAL_RESULT
    assert finding.message == (
        "5А · Математика · Иванов Иван Петрович: итоговая отметка «4», а годовая «4» и экзаменационная "
        "«5» дают 4,5, по правилам округления «5»; отметка учителя сохраняется (J6)"
    )


def test_final_result_without_an_exam_equals_the_year_mark():
    assert of_rule(year_journal(Y="4", FINAL="4"), "final_differs_from_average") == []
    [finding] = of_rule(year_journal(Y="4", FINAL="5"), "final_differs_from_average")
    assert "итоговая отметка «5», а годовая «4», а экзаменационной отметки нет" in finding.message
    exempt_exam = year_journal(Y="4", EXAM="осв", FINAL="5")
    assert [f.period for f in of_rule(exempt_exam, "final_differs_from_average")] == [FINAL_RESULT]


# --- J2, J5: topics and homework ------------------------------------------------


def test_held_lesson_without_topic_or_homework():
    journal = replace_lesson(BASE, 102, topic="  ", homework="\t")
    assert messages(journal) == [
        "5А · Математика: урок 10 сентября 2024 г. проведён, но тема не записана (J2, J5)",
        "5А · Математика: урок 10 сентября 2024 г. проведён, но домашнее задание не записано (J2)",
    ]
    [topic, _] = validate_class_journal(journal)
    assert (topic.lesson_id, topic.date, topic.period, topic.subject_id, topic.student_id) == (
        102,
        D(2024, 9, 10),
        "Q1",
        MATH,
        None,
    )


def test_missed_lesson_without_topic_is_fine():
    journal = replace_lesson(BASE, 104, topic="", homework="", status=LessonStatus.MISSED)
    assert validate_class_journal(journal) == ()


def test_subgroup_lesson_names_the_group():
    journal = replace_lesson(BASE, 122, homework="")
    assert messages(journal) == [
        "5А · Английский язык (2 группа): урок 11 сентября 2024 г. проведён, "
        "но домашнее задание не записано (J2)"
    ]


# --- J3: absences ---------------------------------------------------------------


def test_absence_without_reason():
    journal = change(BASE, absences=(Absence(104, PETROVA, None),))
    [finding] = validate_class_journal(journal)
    assert finding.rule == "absence_without_reason"
    assert finding.message == (
        "5А · Математика · Петрова Анна Сергеевна: пропуск урока 24 сентября 2024 г. "
        "без указания причины (J3)"
    )


def test_absence_with_invalid_reason_is_recorded_not_flagged():
    journal = change(BASE, absences=(Absence(104, PETROVA, AbsenceReason.INVALID),))
    assert validate_class_journal(journal) == ()


# --- J1: marks only for students of the class or group --------------------------


def test_mark_the_day_after_the_student_left_is_an_error():
    journal = set_enrolment(BASE, PETROVA, None, D(2024, 9, 16))  # mark on 17 September
    journal = change(drop_marks(journal, (113, PETROVA)), absences=())
    [finding] = validate_class_journal(journal)
    assert (finding.rule, finding.severity, finding.lesson_id, finding.date) == (
        "not_enrolled",
        Severity.ERROR,
        103,
        D(2024, 9, 17),
    )
    assert finding.message == (
        "5А · Математика · Петрова Анна Сергеевна: отметка «4» за урок 17 сентября 2024 г., "
        "но ученик выбыл из класса 16 сентября 2024 г. (J1)"
    )


def test_mark_after_leaving_does_not_count_towards_the_average():
    journal = set_enrolment(BASE, PETROVA, None, D(2024, 9, 20))
    journal = change(add_marks(journal, (104, PETROVA, "2")), absences=())  # 3, 4, 4 (+2) → 4
    assert [(f.rule, f.lesson_id) for f in validate_class_journal(journal)] == [("not_enrolled", 104)]


def test_mark_on_the_day_the_student_left_is_fine():
    journal = set_enrolment(BASE, PETROVA, None, D(2024, 9, 17))
    journal = change(drop_marks(journal, (113, PETROVA)), absences=())
    assert validate_class_journal(journal) == ()


def test_mark_before_the_student_joined():
    journal = set_enrolment(BASE, SIDOROV, D(2024, 9, 11), None)
    found = [(f.rule, f.lesson_id) for f in validate_class_journal(journal)]
    assert found == [("not_enrolled", 102), ("not_enrolled", 121), ("not_enrolled", 131)]
    assert messages(journal)[0] == (
        "5А · Математика · Сидоров Алексей Николаевич: отметка «4» за урок 10 сентября 2024 г., "
        "но ученик прибыл в класс только 11 сентября 2024 г. (J1)"
    )


def test_mark_for_a_student_outside_the_subgroup():
    journal = add_marks(BASE, (112, SIDOROV, "5"))
    assert messages(journal) == [
        "5А · Английский язык (1 группа) · Сидоров Алексей Николаевич: отметка «5» за урок "
        "11 сентября 2024 г., но ученик не входит в группу «1 группа» (J1)"
    ]


def test_absence_of_a_student_not_in_the_class():
    journal = change(BASE, absences=(Absence(104, 99, AbsenceReason.VALID),))
    assert messages(journal) == [
        "5А · Математика · ученик № 99: пропуск урока 24 сентября 2024 г., "
        "но в этот день ученик не числится в классе (J1)"
    ]


# --- J2: the scale --------------------------------------------------------------


def test_mark_outside_the_scale():
    journal = add_marks(BASE, (104, IVANOV, "6"))
    [finding] = validate_class_journal(journal)
    assert (finding.rule, finding.severity) == ("mark_outside_scale", Severity.ERROR)
    assert finding.message == (
        "5А · Математика · Иванов Иван Петрович: отметка «6» за урок 24 сентября 2024 г. — "
        "такой отметки нет в шкале (1–5, зач, н/а, незач, осв) (J2)"
    )


def test_special_marks_are_on_the_scale():
    assert validate_class_journal(add_marks(BASE, (104, IVANOV, "н/а"))) == ()


def test_numeric_mark_on_a_credit_course():
    journal = add_marks(BASE, (131, IVANOV, "5"))
    assert messages(journal) == [
        "5А · Физическая культура · Иванов Иван Петрович: отметка «5» за урок 5 сентября 2024 г. — "
        "а предмет оценивается зачётом («зач» / «незач») (J2)"
    ]


def test_numeric_mark_where_no_marks_are_given():
    journal = change(
        BASE,
        courses=tuple(
            dataclasses.replace(c, assessment=Assessment.NONE) if c.id == PE_C else c for c in BASE.courses
        ),
    )
    assert validate_class_journal(journal) == ()
    assert [f.rule for f in validate_class_journal(add_marks(journal, (131, IVANOV, "4")))] == [
        "mark_outside_scale"
    ]


def test_final_marks_outside_the_scale():
    journal = set_final(set_final(BASE, IVANOV, MATH, "Q1", "5+"), PETROVA, PE, "Q1", "5")
    assert messages(journal) == [
        "5А · Математика · Иванов Иван Петрович: отметка за I четверть «5+» — "
        "такой отметки нет в шкале (1–5, зач, н/а, незач, осв) (J2)",
        "5А · Физическая культура · Петрова Анна Сергеевна: отметка за I четверть «5» — "
        "а предмет оценивается зачётом («зач» / «незач») (J2)",
    ]


# --- J4: lessons inside the periods ---------------------------------------------


def with_lesson_on(journal: ClassJournal, day: dt.date) -> ClassJournal:
    """An extra mathematics lesson (id 105, no marks) on `day`."""
    return change(journal, lessons=(*journal.lessons, lesson(105, MATH_C, day)))


def test_lesson_on_a_holiday():
    journal = with_lesson_on(BASE, D(2024, 10, 4))
    assert messages(journal) == [
        "5А · Математика: урок 4 октября 2024 г. приходится на нерабочие дни: "
        "выходной день по решению учредителя (4 октября 2024 г.) (J4)"
    ]


def test_lesson_outside_the_period_snapshot():
    journal = with_lesson_on(BASE, D(2024, 11, 12))
    [finding] = validate_class_journal(journal)
    assert (finding.rule, finding.severity, finding.period) == ("lesson_outside_period", Severity.ERROR, "Q2")
    assert finding.message == (
        "5А · Математика: урок 12 ноября 2024 г. — вне периода «I четверть» "
        "(с 2 сентября по 25 октября 2024 г.) (J4)"
    )


def test_lesson_outside_every_period_of_the_year():
    journal = with_lesson_on(change(BASE, period=None), D(2024, 10, 30))
    [finding] = validate_class_journal(journal)
    assert (finding.rule, finding.period) == ("lesson_outside_period", None)
    assert finding.message == "5А · Математика: урок 30 октября 2024 г. — вне учебных периодов класса (J4)"


def test_lesson_on_the_last_day_of_the_period_is_fine():
    assert validate_class_journal(with_lesson_on(BASE, D(2024, 10, 25))) == ()
    assert validate_class_journal(with_lesson_on(BASE, D(2024, 9, 2))) == ()


def test_periods_of_another_scheme_do_not_count():
    trimester = ReportingPeriod(
        PeriodScheme.TRIMESTERS, "T1", 1, "I триместр", D(2024, 9, 2), D(2024, 11, 30)
    )
    journal = change(BASE, period=None, periods=(*PERIODS, trimester))
    journal = with_lesson_on(journal, D(2024, 11, 1))  # during the autumn holidays: in no quarter
    [finding] = validate_class_journal(journal)
    assert finding.message == "5А · Математика: урок 1 ноября 2024 г. — вне учебных периодов класса (J4)"


# --- Order, determinism, bad input ----------------------------------------------


def _messy() -> ClassJournal:
    journal = add_marks(BASE, (104, IVANOV, "6"), (112, SIDOROV, "5"))
    journal = replace_lesson(journal, 102, topic="")
    journal = set_final(journal, SIDOROV, ENGLISH, "Q1", "5")
    return change(journal, absences=(Absence(104, PETROVA, None),))


def test_errors_come_first_then_rules_in_registry_order():
    found = validate_class_journal(_messy())
    assert [f.rule for f in found] == [
        "not_enrolled",
        "mark_outside_scale",
        "final_differs_from_average",
        "lesson_without_topic",
        "absence_without_reason",
    ]
    assert all(f.severity is RULES[f.rule].severity for f in found)
    assert has_errors(found)
    assert not has_errors(f for f in found if f.severity is Severity.WARNING)


def test_order_does_not_depend_on_input_order():
    journal = _messy()
    shuffled = change(
        journal,
        lessons=journal.lessons[::-1],
        marks=journal.marks[::-1],
        final_marks=journal.final_marks[::-1],
        students=journal.students[::-1],
        subjects=journal.subjects[::-1],
        courses=journal.courses[::-1],
    )
    assert validate_class_journal(shuffled) == validate_class_journal(journal)


def test_mark_on_an_unknown_lesson_is_a_clear_error():
    journal = change(BASE, marks=(*BASE.marks, Mark(999, 777, IVANOV, "5", "")))
    with pytest.raises(ValueError, match=r"класс 5А: отметка № 999 ссылается на урок № 777"):
        validate_class_journal(journal)


# --- The report ------------------------------------------------------------------


def _finding(class_name: str, rule: str, message: str) -> Finding:
    return Finding(rule, RULES[rule].severity, class_name, "Q1", None, None, None, None, message)


def test_report_without_findings():
    report = format_report((), title="Проверка журналов: I четверть 2024/2025")
    assert report == (
        "Проверка журналов: I четверть 2024/2025\n=======================================\n\nЗамечаний нет\n"
    )


def test_report_groups_by_class_and_severity():
    findings = [
        _finding("5А", "lesson_without_topic", "тема 1"),
        _finding("10Б", "not_enrolled", "чужой"),
        _finding("5А", "mark_outside_scale", "шесть"),
        _finding("5А", "lesson_without_topic", "тема 2"),
    ]
    assert format_report(findings, title="Проверка") == (
        "Проверка\n"
        "========\n"
        "\n"
        "5А: 1 ошибка, 2 предупреждения\n"
        "  Ошибки\n"
        "    Отметка не по шкале предмета (J2): 1\n"
        "      • шесть\n"
        "  Предупреждения\n"
        "    Не записана тема урока (J2, J5): 2\n"
        "      • тема 1\n"
        "      • тема 2\n"
        "\n"
        "10Б: 1 ошибка, 0 предупреждений\n"
        "  Ошибки\n"
        "    Ученик не числится в классе или группе (J1): 1\n"
        "      • чужой\n"
        "\n"
        "Найдено: 2 ошибки, 2 предупреждения\n"
    )


@pytest.mark.parametrize(
    ("errors", "warnings", "summary"),
    [
        (2, 5, "Найдено: 2 ошибки, 5 предупреждений"),
        (1, 1, "Найдено: 1 ошибка, 1 предупреждение"),
        (0, 21, "Найдено: 0 ошибок, 21 предупреждение"),
        (11, 22, "Найдено: 11 ошибок, 22 предупреждения"),
    ],
)
def test_report_summary_plural_forms(errors, warnings, summary):
    findings = [_finding("5А", "not_enrolled", f"e{i}") for i in range(errors)]
    findings += [_finding("5А", "absence_without_reason", f"w{i}") for i in range(warnings)]
    report = format_report(findings, title="Отчёт")
    assert report.splitlines()[-1] == summary


def test_report_of_a_real_validation():
    report = format_report(validate_class_journal(_messy()), title="5А, I четверть")
    assert report.index("Ошибки") < report.index("Предупреждения")
    assert "5А: 2 ошибки, 3 предупреждения" in report
    assert "отметка учителя сохраняется" in report
    assert report.endswith("Найдено: 2 ошибки, 3 предупреждения\n")
