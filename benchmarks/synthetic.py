"""A synthetic class journal for benchmarks and rendering tests: no database, fully deterministic.

`synthetic_class_journal()` builds one `ClassJournal` for the first quarter: by default
30 students and 12 whole-class courses of 35 lessons each — the largest marks sheet the
journal must fit on one page (30 × 35). Marks are 1–5 with the odd «4/5» double mark,
«н» absences, «н/а», and a credit course («зач»/«незач»). It stands in until the demo
school (journal.demo) is the benchmark's data; see benchmarks/render_marks_sheets.py.
"""

from __future__ import annotations

import datetime as dt
import random

from journal.model import (
    Absence,
    AbsenceReason,
    AcademicYear,
    Assessment,
    ClassJournal,
    Course,
    CourseMember,
    Enrolment,
    FinalMark,
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
    person_sort_key,
)

SUBJECTS = (
    "Русский язык",
    "Литература",
    "Алгебра",
    "Геометрия",
    "Английский язык",
    "История",
    "Обществознание",
    "География",
    "Биология",
    "Физика",
    "Информатика",
    "Физическая культура",
    "Музыка",
    "Изобразительное искусство",
    "Технология",
    "Химия",
)
SURNAMES = (
    ("Иванов", "Иванова"),
    ("Смирнов", "Смирнова"),
    ("Кузнецов", "Кузнецова"),
    ("Попов", "Попова"),
    ("Соколов", "Соколова"),
    ("Лебедев", "Лебедева"),
    ("Козлов", "Козлова"),
    ("Новиков", "Новикова"),
    ("Морозов", "Морозова"),
    ("Петров", "Петрова"),
    ("Волков", "Волкова"),
    ("Соловьёв", "Соловьёва"),
    ("Васильев", "Васильева"),
    ("Зайцев", "Зайцева"),
    ("Павлов", "Павлова"),
    ("Семёнов", "Семёнова"),
    ("Голубев", "Голубева"),
    ("Виноградов", "Виноградова"),
    ("Богданов", "Богданова"),
    ("Воробьёв", "Воробьёва"),
    ("Фёдоров", "Фёдорова"),
    ("Михайлов", "Михайлова"),
    ("Беляев", "Беляева"),
    ("Тарасов", "Тарасова"),
    ("Константинопольский", "Константинопольская"),
)
MALE = ("Александр", "Максим", "Артём", "Михаил", "Даниил", "Иван", "Дмитрий", "Кирилл", "Андрей", "Егор")
FEMALE = ("Анна", "Мария", "Софья", "Алиса", "Виктория", "Полина", "Елизавета", "Дарья", "Варвара", "Ксения")
FATHERS = ("Александров", "Сергеев", "Дмитриев", "Андреев", "Алексеев", "Владимиров", "Николаев", "Игорев")
TOPICS = (
    "Повторение изученного в начальной школе",
    "Натуральные числа и шкалы. Обозначение натуральных чисел",
    "Сложение и вычитание натуральных чисел, свойства сложения; решение текстовых задач на движение",
    "Контрольная работа № 1 по теме «Натуральные числа»",
    "Анализ контрольной работы. Работа над ошибками",
    "Умножение и деление натуральных чисел, упрощение выражений, порядок выполнения действий, "
    "степень числа, квадрат и куб числа",
    "Лабораторная работа «Измерение объёма тела»",
    "Практическая работа с картой",
    "Словарный диктант",
)
HOMEWORK = (
    "§ 1, № 5, 7",
    "упр. 12",
    "выучить правило, с. 24",
    "§ 3 читать, вопросы 1–4",
    "",
    "№ 112–115 (а, б)",
)


def _schedule(start: dt.date, end: dt.date, count: int, rng: random.Random) -> list[dt.date]:
    """`count` lesson dates on school days between start and end (two lessons a day if it must)."""
    days = [start + dt.timedelta(n) for n in range((end - start).days + 1)]
    days = [d for d in days if d.weekday() < 5]
    picked = sorted(rng.sample(days, min(count, len(days))))
    while len(picked) < count:
        picked.append(rng.choice(days))
        picked.sort()
    return picked


def synthetic_class_journal(
    students: int = 30,
    courses: int = 12,
    lessons_per_course: int = 35,
    seed: int = 2024,
    subgroups: bool = False,
) -> ClassJournal:
    """One class's first-quarter journal with `students` × `courses` × `lessons_per_course`.

    With `subgroups`, the last course is split into «1 группа» / «2 группа» (two courses).
    """
    rng = random.Random(seed)
    year = AcademicYear(1, "2024/2025", dt.date(2024, 9, 1), dt.date(2025, 5, 31))
    q1 = ReportingPeriod(
        PeriodScheme.QUARTERS, "Q1", 1, "I четверть", dt.date(2024, 9, 2), dt.date(2024, 10, 27)
    )
    school = School(
        1,
        "Муниципальное бюджетное общеобразовательное учреждение «Средняя школа № 1»",
        "МБОУ СШ № 1",
        "г. Энск, ул. Школьная, 1",
        "Петрова Н. В.",
    )
    teachers = tuple(
        Teacher(rng.choice(SURNAMES)[1], rng.choice(FEMALE), rng.choice(FATHERS) + "на", id=100 + i)
        for i in range(courses + 3)
    )
    school_class = SchoolClass(1, "7Б", 7, "Б", teachers[0].id, PeriodScheme.QUARTERS)
    people = []
    for i in range(students):
        female = rng.random() < 0.5
        last = rng.choice(SURNAMES)[1 if female else 0]
        first = rng.choice(FEMALE if female else MALE)
        patronymic = rng.choice(FATHERS) + ("на" if female else "ич")
        people.append(
            Student(last, first, patronymic, id=1000 + i, birth_date=dt.date(2011, 1 + i % 12, 1 + i % 28))
        )
    people.sort(key=person_sort_key)
    enrolments = [Enrolment(s.id, school_class.id, None, None) for s in people]
    if students > 3:  # one student joins late, one leaves early (J1)
        enrolments[1] = Enrolment(
            people[1].id, 1, dt.date(2024, 9, 23), None, joined_note="прибыл из МБОУ СШ № 3"
        )
        enrolments[2] = Enrolment(
            people[2].id, 1, None, dt.date(2024, 10, 11), left_note="выбыл в связи с переездом"
        )

    subjects = tuple(
        Subject(i + 1, SUBJECTS[i % len(SUBJECTS)], SUBJECTS[i % len(SUBJECTS)][:8], i + 1)
        for i in range(courses)
    )
    course_list: list[Course] = []
    members: list[CourseMember] = []
    for i, subject in enumerate(subjects):
        assessment = Assessment.CREDIT if i == 11 else Assessment.MARKS
        if subgroups and i == courses - 1:
            half = len(people) // 2
            for g, group in enumerate((people[:half], people[half:]), start=1):
                course = Course(
                    len(course_list) + 1, 1, subject.id, f"{g} группа", teachers[i + g].id, 3, assessment
                )
                course_list.append(course)
                members.extend(CourseMember(course.id, s.id) for s in group)
        else:
            course_list.append(
                Course(len(course_list) + 1, 1, subject.id, "", teachers[i + 1].id, 4, assessment)
            )

    lessons: list[Lesson] = []
    marks: list[Mark] = []
    absences: list[Absence] = []
    finals: list[FinalMark] = []
    for course in course_list:
        roster = [s for s in people if not course.subgroup or CourseMember(course.id, s.id) in members]
        got: dict[int, list[int]] = {s.id: [] for s in roster}
        for n, day in enumerate(_schedule(q1.start, q1.end, lessons_per_course, rng)):
            missed = rng.random() < 0.02
            substitute = teachers[-1].id if rng.random() < 0.05 else None
            lesson = Lesson(
                len(lessons) + 1,
                course.id,
                day,
                1 + n % 6,
                rng.choice(TOPICS),
                rng.choice(HOMEWORK),
                course.teacher_id,
                substitute,
                LessonStatus.MISSED if missed else LessonStatus.HELD,
            )
            lessons.append(lesson)
            if missed:
                continue
            for s in roster:
                roll = rng.random()
                if roll < 0.05:
                    reason = rng.choice(
                        (AbsenceReason.ILLNESS, AbsenceReason.VALID, AbsenceReason.INVALID, None)
                    )
                    absences.append(Absence(lesson.id, s.id, reason))
                elif roll < 0.40:
                    for _ in range(2 if rng.random() < 0.08 else 1):
                        if course.assessment is Assessment.CREDIT:
                            value = "зач" if rng.random() < 0.85 else "незач"
                        else:
                            value = rng.choice("5554443332") if rng.random() > 0.01 else "н/а"
                        marks.append(Mark(len(marks) + 1, lesson.id, s.id, value, "ответ на уроке"))
                        if value.isdigit():
                            got[s.id].append(int(value))
        for s in roster:
            if course.assessment is Assessment.CREDIT:
                value = "зач"
            elif len(got[s.id]) >= 3:
                value = str(min(5, max(2, round(sum(got[s.id]) / len(got[s.id])))))
            else:
                value = "н/а"
            if not any(f.student_id == s.id and f.subject_id == course.subject_id for f in finals):
                finals.append(FinalMark(s.id, course.subject_id, "Q1", value))
    return ClassJournal(
        school=school,
        year=year,
        school_class=school_class,
        period=q1,
        periods=(q1,),
        holidays=(),
        teachers=teachers,
        students=tuple(people),
        enrolments=tuple(enrolments),
        guardians=(),
        subjects=subjects,
        courses=tuple(course_list),
        course_members=tuple(members),
        lessons=tuple(lessons),
        marks=tuple(marks),
        absences=tuple(absences),
        final_marks=tuple(finals),
    )
