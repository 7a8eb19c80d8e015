"""A small, hand-built school year that exercises every corner of the journal model.

Two classes on different period schemes (5А: quarters, 10Б: halves), English in two
subgroups, a student who left in the first quarter and one who joined in the second, a
substitute teacher, a missed lesson, special marks (н/а, зач, незач), absences with every
reason and with none, period/year/exam/final marks, and names with «ё» and odd case so
that ordering has to be done right (J1–J6).
"""

from __future__ import annotations

import datetime as dt
import itertools

from journal.model import (
    FINAL_EXAM,
    FINAL_RESULT,
    FINAL_YEAR,
    Absence,
    AbsenceReason,
    AcademicYear,
    Assessment,
    Course,
    CourseMember,
    Enrolment,
    FinalMark,
    Guardian,
    Holiday,
    Lesson,
    LessonStatus,
    Mark,
    PeriodScheme,
    ReportingPeriod,
    School,
    SchoolClass,
    SchoolYear,
    Student,
    Subject,
    Teacher,
)
from journal.source import canonical_school_year

D = dt.date

YEAR_NAME = "2024/2025"
CLASS_5A = 51
CLASS_10B = 101

# Ids the tests refer to.
TEACHER_SUBSTITUTE = 4  # Абрамов: only a substitute in 5А
TEACHER_IDLE = 6  # Борисова: no classes, no lessons
STUDENT_LEFT = 505  # Яшин: left 5А on 2024-10-10, inside Q1
STUDENT_JOINED = 506  # Новикова: joined 5А on 2024-11-11, inside Q2
COURSE_ENGLISH_1 = 513
COURSE_ENGLISH_2 = 514
COURSE_MATH_5A = 512
COURSE_RUSSIAN_5A = 511
STUDENTS_5A_IN_ORDER = (504, 501, 503, 502, 506, 505)
"""Алексеева, Ёжиков, ежов Антон, Ежов Борис, Новикова, Яшин: ё as е, case ignored."""

SUBSTITUTED_ON = D(2024, 10, 8)  # Russian in 5А, taught by the substitute
MISSED_ON = D(2024, 12, 3)  # Mathematics in 5А, not held

QUARTERS = (
    ReportingPeriod(PeriodScheme.QUARTERS, "Q1", 1, "I четверть", D(2024, 9, 2), D(2024, 10, 25)),
    ReportingPeriod(PeriodScheme.QUARTERS, "Q2", 2, "II четверть", D(2024, 11, 5), D(2024, 12, 27)),
    ReportingPeriod(PeriodScheme.QUARTERS, "Q3", 3, "III четверть", D(2025, 1, 9), D(2025, 3, 21)),
    ReportingPeriod(PeriodScheme.QUARTERS, "Q4", 4, "IV четверть", D(2025, 3, 31), D(2025, 5, 26)),
)
HALVES = (
    ReportingPeriod(PeriodScheme.HALVES, "H1", 1, "I полугодие", D(2024, 9, 2), D(2024, 12, 27)),
    ReportingPeriod(PeriodScheme.HALVES, "H2", 2, "II полугодие", D(2025, 1, 9), D(2025, 5, 26)),
)

# Lesson dates: two on the edges of Q1/Q2 (2024-10-25 is Q1's last day, 2024-11-05 Q2's first).
LESSON_DATES = (
    D(2024, 9, 3),
    D(2024, 9, 17),
    SUBSTITUTED_ON,
    D(2024, 10, 25),
    D(2024, 11, 5),
    MISSED_ON,
    D(2025, 1, 14),
    D(2025, 2, 11),
    D(2025, 4, 8),
    D(2025, 5, 20),
)


def make_school_year() -> SchoolYear:
    """The school year, in canonical order (what `read_school_year` returns)."""
    year = AcademicYear(id=2024, name=YEAR_NAME, start=D(2024, 9, 2), end=D(2025, 5, 26))
    school = School(
        id=7,
        name="Муниципальное бюджетное общеобразовательное учреждение «Средняя школа № 7»",
        short_name="МБОУ СШ № 7",
        address="г. Ёлкино, ул. Школьная, д. 1",
        director="Ёлкина Т. В.",
    )
    teachers = (
        Teacher("Ёлкина", "Мария", "Ивановна", id=1),
        Teacher("Елисеев", "Пётр", "Андреевич", id=2),
        Teacher("ежова", "Анна", "Сергеевна", id=3),
        Teacher("Абрамов", "Олег", "Ильич", id=TEACHER_SUBSTITUTE),
        Teacher("Яковлева", "Ирина", "Юрьевна", id=5),
        Teacher("Борисова", "Нина", "Петровна", id=TEACHER_IDLE),
    )
    classes = (
        SchoolClass(CLASS_10B, "10Б", 10, "Б", 2, PeriodScheme.HALVES),
        SchoolClass(CLASS_5A, "5А", 5, "А", 1, PeriodScheme.QUARTERS),
    )
    students = (
        Student("Ёжиков", "Артём", "Олегович", id=501, birth_date=D(2014, 3, 5)),
        Student("Ежов", "Борис", "Ильич", id=502, birth_date=D(2013, 12, 31)),
        Student("ежов", "Антон", "Павлович", id=503, birth_date=D(2014, 1, 17)),
        Student("Алексеева", "Дарья", "Сергеевна", id=504, birth_date=D(2014, 7, 1)),
        Student("Яшин", "Илья", "Романович", id=STUDENT_LEFT, birth_date=D(2014, 2, 2)),
        Student("Новикова", "Вера", "Денисовна", id=STUDENT_JOINED),
        Student("Петров", "Иван", "Сергеевич", id=1001, birth_date=D(2009, 4, 4)),
        Student("Сидорова", "Ольга", "Викторовна", id=1002, birth_date=D(2009, 8, 9)),
        Student("Ёлкин", "Егор", "", id=1003, birth_date=D(2009, 1, 30)),
    )
    enrolments = (
        *(Enrolment(sid, CLASS_5A, None, None) for sid in (501, 502, 503, 504)),
        Enrolment(STUDENT_LEFT, CLASS_5A, None, D(2024, 10, 10), left_note="выбыл в связи с переездом"),
        Enrolment(STUDENT_JOINED, CLASS_5A, D(2024, 11, 11), None, joined_note="прибыла из МБОУ СОШ № 3"),
        *(Enrolment(sid, CLASS_10B, None, None) for sid in (1001, 1002, 1003)),
    )
    guardians = (
        Guardian(
            "Ёжикова", "Светлана", "Петровна", student_id=501, relation="мать", phone="+7 900 000-00-01"
        ),
        Guardian("Ёжиков", "Олег", "Викторович", student_id=501, relation="отец", phone=""),
        Guardian("Ежова", "Анна", "Ильинична", student_id=502, relation="мать", phone="+7 900 000-00-02"),
        Guardian("Алексеев", "Сергей", "Юрьевич", student_id=504, relation="отец", phone="+7 900 000-00-04"),
        Guardian("Яшина", "Римма", "Олеговна", student_id=STUDENT_LEFT, relation="мать", phone=""),
        Guardian("Новиков", "Денис", "Игоревич", student_id=STUDENT_JOINED, relation="опекун", phone=""),
        Guardian("Петрова", "Елена", "Ивановна", student_id=1001, relation="мать", phone="+7 900 000-10-01"),
        Guardian("Сидоров", "Виктор", "Олегович", student_id=1002, relation="отец", phone=""),
    )
    subjects = (
        Subject(1, "Русский язык", "Рус. яз.", 1),
        Subject(2, "Математика", "Матем.", 2),
        Subject(3, "Английский язык", "Англ. яз.", 3),
        Subject(4, "Музыка", "Музыка", 4),
        Subject(5, "Алгебра", "Алгебра", 2),
    )
    courses = (
        Course(COURSE_RUSSIAN_5A, CLASS_5A, 1, "", 1, 5.0, Assessment.MARKS),
        Course(COURSE_MATH_5A, CLASS_5A, 2, "", 2, 5.0, Assessment.MARKS),
        Course(COURSE_ENGLISH_1, CLASS_5A, 3, "1 группа", 3, 1.5, Assessment.MARKS),
        Course(COURSE_ENGLISH_2, CLASS_5A, 3, "2 группа", 5, 1.5, Assessment.MARKS),
        Course(515, CLASS_5A, 4, "", 5, 1.0, Assessment.CREDIT),
        Course(1011, CLASS_10B, 5, "", 2, 4.0, Assessment.MARKS),
        Course(1012, CLASS_10B, 1, "", TEACHER_SUBSTITUTE, 1.5, Assessment.MARKS),
    )
    groups = {COURSE_ENGLISH_1: (501, 504, STUDENT_LEFT), COURSE_ENGLISH_2: (502, 503, STUDENT_JOINED)}
    course_members = tuple(CourseMember(cid, sid) for cid, sids in groups.items() for sid in sids)

    enrolled = {e.student_id: e for e in enrolments}
    lessons: list[Lesson] = []
    marks: list[Mark] = []
    absences: list[Absence] = []
    lesson_ids = itertools.count(900, -1)  # ids against date order: sorting must use dates
    mark_ids = itertools.count(1)
    reasons = itertools.cycle([AbsenceReason.VALID, AbsenceReason.ILLNESS, AbsenceReason.INVALID, None])
    kinds = itertools.cycle(["ответ на уроке", "контрольная работа", "самостоятельная работа"])
    for course in courses:
        number = {511: 1, 512: 2, 513: 3, 514: 3, 515: 4, 1011: 1, 1012: 2}[course.id]
        class_students = [e.student_id for e in enrolments if e.class_id == course.class_id]
        pupils = groups.get(course.id, class_students)
        values = (
            ["зач", "незач", "зач"] if course.assessment is Assessment.CREDIT else ["5", "4", "3", "2", "н/а"]
        )
        for index, day in enumerate(LESSON_DATES):
            missed = course.id == COURSE_MATH_5A and day == MISSED_ON
            substituted = course.id == COURSE_RUSSIAN_5A and day == SUBSTITUTED_ON
            lesson = Lesson(
                id=next(lesson_ids),
                course_id=course.id,
                date=day,
                number=number,
                topic=f"Тема {index + 1}. Урок по курсу {course.id}",
                homework="" if index % 3 == 2 else f"§ {index + 1}, упр. {index * 2 + 1}",
                teacher_id=course.teacher_id,
                substitute_teacher_id=TEACHER_SUBSTITUTE if substituted else None,
                status=LessonStatus.MISSED if missed else LessonStatus.HELD,
            )
            lessons.append(lesson)
            if missed:
                continue
            for position, sid in enumerate(pupils):
                if not enrolled[sid].active_on(day):
                    continue
                turn = index + position
                if turn % 2 == 0:
                    value = values[turn // 2 % len(values)]
                    marks.append(Mark(next(mark_ids), lesson.id, sid, value, next(kinds)))
                elif turn % 5 == 1:
                    absences.append(Absence(lesson.id, sid, next(reasons)))

    final_marks: list[FinalMark] = []
    for course in courses:
        if course.id == COURSE_ENGLISH_2:
            continue  # English is one subject: its finals are given once, below, for the whole class
        periods = QUARTERS if course.class_id == CLASS_5A else HALVES
        class_students = [e.student_id for e in enrolments if e.class_id == course.class_id]
        for sid in class_students:
            for period in periods:
                if enrolled[sid].overlaps(period.start, period.end):
                    final_marks.append(
                        FinalMark(sid, course.subject_id, period.code, _final(sid, course, period.ordinal))
                    )
            if enrolled[sid].left is None:
                final_marks.append(FinalMark(sid, course.subject_id, FINAL_YEAR, _final(sid, course, 9)))
            if course.id == 1011:
                final_marks.append(FinalMark(sid, course.subject_id, FINAL_EXAM, _final(sid, course, 7)))
                final_marks.append(FinalMark(sid, course.subject_id, FINAL_RESULT, _final(sid, course, 8)))

    return canonical_school_year(
        SchoolYear(
            school=school,
            year=year,
            periods=QUARTERS + HALVES,
            holidays=(
                Holiday("Осенние каникулы", D(2024, 10, 26), D(2024, 11, 4)),
                Holiday("Зимние каникулы", D(2024, 12, 28), D(2025, 1, 8)),
                Holiday("Весенние каникулы", D(2025, 3, 22), D(2025, 3, 30)),
            ),
            teachers=teachers,
            classes=classes,
            students=students,
            enrolments=enrolments,
            guardians=guardians,
            subjects=subjects,
            courses=courses,
            course_members=course_members,
            lessons=tuple(lessons),
            marks=tuple(marks),
            absences=tuple(absences),
            final_marks=tuple(final_marks),
        )
    )


def _final(student_id: int, course: Course, salt: int) -> str:
    if course.assessment is Assessment.CREDIT:
        return "зач"
    if student_id == STUDENT_LEFT and salt == 1 and course.id == COURSE_MATH_5A:
        return "н/а"
    return ("3", "4", "5", "4")[(student_id + course.subject_id + salt) % 4]


# --- Awkward text for the open formats (CSV, XML) ------------------------------------

LONG_TOPIC = ('Повторение: ёлка, «ёж» & <тег> "кавычки", запятые; ' * 200)[:10_000]
"""A 10,000-character topic with everything a naive writer gets wrong."""


def with_awkward_text(journal: ClassJournal) -> ClassJournal:
    """The same snapshot with text that breaks naive CSV and XML writers (R5, R10).

    Only text that does not take part in ordering changes (topics, homework, marks, notes,
    phones, the school's details), so the result is still in extraction order: written to
    a journal source and extracted again, it comes back equal. Lessons need ≥ 9, marks ≥ 8,
    guardians and enrolments ≥ 1.
    """
    from dataclasses import replace

    def changed(items: tuple, changes: dict[int, dict[str, str]]) -> tuple:
        return tuple(replace(item, **changes[i]) if i in changes else item for i, item in enumerate(items))

    school = replace(
        journal.school,
        name='Школа «Ёлочка» & <Ко> "№ 1"',
        address='г. Ёлкино,\r\nул. Школьная, д. 1; корп. "А"',
    )
    lessons = changed(
        journal.lessons,
        {
            0: {"topic": '=HYPERLINK("http://example.com","ёлка")', "homework": "+ упр. 5"},
            1: {"topic": "", "homework": ""},
            2: {"topic": LONG_TOPIC},
            3: {"topic": "строка 1\nстрока 2\r\nстрока 3", "homework": "-1 балл за опоздание"},
            4: {"topic": "  пробелы по краям  ", "homework": "@учитель"},
            5: {"topic": "вертикальная\x0bтабуляция и \x01 из текстового редактора"},
            6: {"topic": "\tотступ", "homework": "\rвозврат каретки"},
            7: {"topic": 'Тема =1, "не формула"'},
            8: {"topic": "Ёжик и ёлка: ё, Ё, ß, 😀"},
        },
    )
    marks = changed(
        journal.marks,
        {
            0: {"value": "н/а", "work_kind": "=1+1"},
            1: {"value": "осв"},
            2: {"value": "зач"},
            3: {"value": "незач"},
            4: {"value": "6"},  # outside the scale: archived as it is, never fixed (R9)
            5: {"value": ""},
            6: {"value": "-"},
            7: {"value": "4+", "work_kind": "контрольная, «итоговая»"},
        },
    )
    guardians = changed(journal.guardians, {0: {"relation": 'мать, "опекун"', "phone": "+7 900 000-00-01"}})
    enrolments = changed(
        journal.enrolments, {0: {"joined_note": "прибыл из МБОУ «СОШ № 3», г. Ёлкино", "left_note": "=выбыл"}}
    )
    return replace(
        journal, school=school, lessons=lessons, marks=marks, guardians=guardians, enrolments=enrolments
    )


from journal.model import ClassJournal  # noqa: E402  (appended section; keeps the file's top untouched)
