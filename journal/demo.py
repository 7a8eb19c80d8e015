"""A deterministic demo school: the year 2024/2025 of «СОШ № 17», as model objects.

`generate_demo_school(size, seed)` builds a whole `SchoolYear` the way a real journal
would hold it, so that the archive can be shown to school staff and tested on
believable data: the federal curriculum's hours (journal.demo_plans), a weekly
timetable without teacher clashes repeated over every school day, topics from a
thematic plan (J5), homework, subgroups (J2), marks from a persistent ability per
student, illness and other absences (J3), students who arrive or leave mid-year
(J1), period/year/exam finals by mathematical rounding (J4, J6), a few substituted
and missed lessons (J5).

A handful of rule violations is seeded on purpose and listed in `DemoSchool.seeded`
(too few marks for a numeric period mark, a period mark that differs from the rounded
average, a held lesson without topic, one without homework, an absence without
reason); everything else keeps those rules, so a validator must report exactly them.

Determinism: one `random.Random(seed)` and one `Faker("ru_RU")` seeded with the same
seed are the only sources of chance, and nothing iterates a set or dict whose order
could differ between runs. Same seed, equal `SchoolYear`.

Decisions made here:
* The school calendar's «Дополнительные каникулы для первоклассников» (17–23.02.2025)
  is *not* in `SchoolYear.holidays`: `Holiday` has no grade scope, and a holiday there
  means "no lessons for any class" (journal rules, J4). First-grade classes simply have
  no lessons that week; the holiday is `FIRST_GRADE_HOLIDAY`.
* First graders get no homework (СанПиН), recorded as «не задаётся» so that every held
  lesson has a homework entry.
* Exams (FINAL_EXAM) are in grade 9 for «Русский язык» and «Алгебра» and in grade 11
  for «Русский язык» and «Алгебра и начала математического анализа» — the algebra
  course carries the mathematics exam. A student with «н/а» for the year sits no exam.
* A student who leaves gets no final for the period they leave in, nor a year mark;
  one who arrives gets finals from the first period they are in at its end.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from faker import Faker
from faker.providers.person.ru_RU import Provider as _RuPersons

from journal.demo_plans import CURRICULUM, HOMEWORK, PLANS, PROJECT_STEPS, SubjectSpec, Unit, bundle_of
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
    person_sort_key,
    round_half_up,
)

D = dt.date

# --- Public API --------------------------------------------------------------------------


@dataclass(frozen=True)
class SeededViolation:
    """A rule violation put into the demo on purpose, keyed as a validator reports it.

    `period` is the period code the finding belongs to: the period of the final mark, or
    the period containing the lesson for lesson and absence rules (None if none does).
    """

    rule: str  # too_few_marks | final_differs_from_average | lesson_without_topic | …
    class_name: str
    period: str | None
    subject_id: int | None
    student_id: int | None
    lesson_id: int | None


@dataclass(frozen=True)
class DemoSchool:
    data: SchoolYear
    seeded: tuple[SeededViolation, ...]


SIZES: dict[str, tuple[str, ...]] = {
    "class": ("5А",),
    "small": ("1А", "5А", "9А", "10А"),
    "school": tuple(f"{grade}{letter}" for grade in range(1, 12) for letter in "АБВГ"),
}
"""Demo sizes → the classes generated, in order."""

YEAR = AcademicYear(1, "2024/2025", D(2024, 9, 2), D(2025, 5, 26))

PERIODS: tuple[ReportingPeriod, ...] = (
    ReportingPeriod(PeriodScheme.QUARTERS, "Q1", 1, "I четверть", D(2024, 9, 2), D(2024, 10, 25)),
    ReportingPeriod(PeriodScheme.QUARTERS, "Q2", 2, "II четверть", D(2024, 11, 5), D(2024, 12, 27)),
    ReportingPeriod(PeriodScheme.QUARTERS, "Q3", 3, "III четверть", D(2025, 1, 9), D(2025, 3, 21)),
    ReportingPeriod(PeriodScheme.QUARTERS, "Q4", 4, "IV четверть", D(2025, 3, 31), D(2025, 5, 26)),
    ReportingPeriod(PeriodScheme.HALVES, "H1", 1, "I полугодие", D(2024, 9, 2), D(2024, 12, 27)),
    ReportingPeriod(PeriodScheme.HALVES, "H2", 2, "II полугодие", D(2025, 1, 9), D(2025, 5, 26)),
)
"""Quarters for grades 1–9, half-years for grades 10–11."""

HOLIDAYS: tuple[Holiday, ...] = (
    Holiday("Осенние каникулы", D(2024, 10, 26), D(2024, 11, 4)),
    Holiday("День народного единства", D(2024, 11, 4), D(2024, 11, 4)),
    Holiday("Зимние каникулы", D(2024, 12, 28), D(2025, 1, 8)),
    Holiday("Весенние каникулы", D(2025, 3, 22), D(2025, 3, 30)),
    Holiday("Праздник Весны и Труда", D(2025, 5, 1), D(2025, 5, 4)),
    Holiday("День Победы", D(2025, 5, 8), D(2025, 5, 11)),
)
"""Holidays of every class: no lessons on these days."""

FIRST_GRADE_HOLIDAY = Holiday("Дополнительные каникулы для первоклассников", D(2025, 2, 17), D(2025, 2, 23))
"""The extra February week of grade 1 (kept out of `SchoolYear.holidays`, see the module docstring)."""

NO_HOMEWORK_GRADE_1 = "не задаётся"


DEMO_SCHOOL_NUMBER = 17
"""The demo school's number: «МБОУ СОШ № 17»; `demo --schools N` numbers the others on from it."""


def generate_demo_school(
    size: str = "small", seed: int = 2024, number: int = DEMO_SCHOOL_NUMBER
) -> DemoSchool:
    """The demo school year for one of `SIZES`; the same seed gives an equal result.
    `number` names the school (№ 17 by default), so several demo schools differ."""
    if size not in SIZES:
        raise ValueError(f"unknown demo size {size!r}: choose one of {', '.join(SIZES)}")
    rng = random.Random(seed)
    fake = Faker("ru_RU")
    fake.seed_instance(seed)
    build = _Build(rng, _People(rng, fake))
    build.school = _make_school(rng, build.people, number)
    build.classes = [_new_class(i + 1, name) for i, name in enumerate(SIZES[size])]
    for klass in build.classes:
        _enrol_pupils(build, klass)
    _make_subjects(build)
    _make_courses_and_staff(build)
    _make_members(build)
    _make_lessons(build, _timetables(build))
    _teacher_absences(build)
    _plan_topics(build)
    for klass in build.classes:
        _attendance(build, klass)
    for klass in build.classes:
        _marks(build, klass)
    seeded = _seed_violations(build)
    finals = _finals(build)
    return DemoSchool(data=_assemble(build, finals), seeded=tuple(seeded))


# --- Names -------------------------------------------------------------------------------

_PATRONYMICS: dict[str, tuple[str, str]] = {
    "Александр": ("Александрович", "Александровна"),
    "Алексей": ("Алексеевич", "Алексеевна"),
    "Анатолий": ("Анатольевич", "Анатольевна"),
    "Андрей": ("Андреевич", "Андреевна"),
    "Антон": ("Антонович", "Антоновна"),
    "Аркадий": ("Аркадьевич", "Аркадьевна"),
    "Артём": ("Артёмович", "Артёмовна"),
    "Артур": ("Артурович", "Артуровна"),
    "Борис": ("Борисович", "Борисовна"),
    "Вадим": ("Вадимович", "Вадимовна"),
    "Валентин": ("Валентинович", "Валентиновна"),
    "Валерий": ("Валерьевич", "Валерьевна"),
    "Василий": ("Васильевич", "Васильевна"),
    "Виктор": ("Викторович", "Викторовна"),
    "Виталий": ("Витальевич", "Витальевна"),
    "Владимир": ("Владимирович", "Владимировна"),
    "Владислав": ("Владиславович", "Владиславовна"),
    "Вячеслав": ("Вячеславович", "Вячеславовна"),
    "Геннадий": ("Геннадьевич", "Геннадьевна"),
    "Георгий": ("Георгиевич", "Георгиевна"),
    "Григорий": ("Григорьевич", "Григорьевна"),
    "Денис": ("Денисович", "Денисовна"),
    "Дмитрий": ("Дмитриевич", "Дмитриевна"),
    "Евгений": ("Евгеньевич", "Евгеньевна"),
    "Егор": ("Егорович", "Егоровна"),
    "Иван": ("Иванович", "Ивановна"),
    "Игорь": ("Игоревич", "Игоревна"),
    "Илья": ("Ильич", "Ильинична"),
    "Кирилл": ("Кириллович", "Кирилловна"),
    "Константин": ("Константинович", "Константиновна"),
    "Леонид": ("Леонидович", "Леонидовна"),
    "Максим": ("Максимович", "Максимовна"),
    "Михаил": ("Михайлович", "Михайловна"),
    "Николай": ("Николаевич", "Николаевна"),
    "Олег": ("Олегович", "Олеговна"),
    "Павел": ("Павлович", "Павловна"),
    "Пётр": ("Петрович", "Петровна"),
    "Роман": ("Романович", "Романовна"),
    "Руслан": ("Русланович", "Руслановна"),
    "Сергей": ("Сергеевич", "Сергеевна"),
    "Станислав": ("Станиславович", "Станиславовна"),
    "Степан": ("Степанович", "Степановна"),
    "Фёдор": ("Фёдорович", "Фёдоровна"),
    "Эдуард": ("Эдуардович", "Эдуардовна"),
    "Юрий": ("Юрьевич", "Юрьевна"),
}
"""Father's first name → the child's patronymic (son, daughter)."""

_BOYS = (
    "Александр", "Максим", "Артём", "Михаил", "Иван", "Даниил", "Дмитрий", "Кирилл", "Андрей", "Егор",
    "Никита", "Илья", "Алексей", "Матвей", "Тимофей", "Роман", "Владимир", "Ярослав", "Фёдор", "Марк",
    "Лев", "Георгий", "Сергей", "Константин", "Николай", "Степан", "Глеб", "Владислав", "Денис", "Павел",
    "Арсений", "Тимур", "Макар", "Богдан", "Савелий", "Захар", "Всеволод", "Семён", "Платон", "Мирон",
)  # fmt: skip
_GIRLS = (
    "Анастасия", "Мария", "Дарья", "Анна", "Елизавета", "Полина", "Виктория", "Екатерина", "Софья",
    "Александра", "Варвара", "Алиса", "Ксения", "Арина", "Валерия", "Вероника", "Милана", "Ульяна",
    "Василиса", "Алина", "Кристина", "Маргарита", "Ева", "Алёна", "Диана", "Юлия", "Таисия", "Есения",
    "Злата", "Ангелина", "Кира", "Олеся", "Вера", "Надежда", "Яна", "Милена", "Эвелина", "Ольга",
)  # fmt: skip
_FATHERS = (
    "Сергей", "Андрей", "Алексей", "Дмитрий", "Александр", "Евгений", "Максим", "Денис", "Роман", "Игорь",
    "Олег", "Павел", "Владимир", "Михаил", "Николай", "Артём", "Антон", "Виталий", "Юрий", "Иван",
    "Константин", "Вадим", "Руслан", "Илья", "Кирилл", "Станислав", "Вячеслав", "Владислав", "Егор",
    "Артур", "Эдуард",
)  # fmt: skip
_MOTHERS = (
    "Елена", "Ольга", "Наталья", "Татьяна", "Ирина", "Екатерина", "Анна", "Юлия", "Светлана", "Мария",
    "Марина", "Анастасия", "Евгения", "Надежда", "Оксана", "Людмила", "Ксения", "Дарья", "Алёна",
    "Виктория", "Валентина", "Кристина", "Вера", "Инна", "Жанна", "Яна", "Александра", "Елизавета",
)  # fmt: skip
_GRANDFATHERS = (
    "Иван", "Николай", "Виктор", "Владимир", "Анатолий", "Геннадий", "Валерий", "Юрий", "Василий",
    "Михаил", "Пётр", "Александр", "Сергей", "Алексей", "Борис", "Григорий", "Леонид", "Евгений", "Фёдор",
    "Степан", "Вячеслав", "Аркадий", "Валентин", "Константин", "Дмитрий", "Олег", "Игорь",
)  # fmt: skip
_TEACHER_WOMEN = (
    "Елена", "Ольга", "Наталья", "Татьяна", "Ирина", "Светлана", "Галина", "Людмила", "Марина", "Надежда",
    "Любовь", "Нина", "Лариса", "Валентина", "Тамара", "Анна", "Екатерина", "Юлия", "Анастасия", "Мария",
    "Оксана", "Вера", "Лидия", "Алла", "Инна", "Маргарита", "Дарья", "Ксения",
)  # fmt: skip
_TEACHER_MEN = (
    "Сергей", "Александр", "Андрей", "Владимир", "Алексей", "Николай", "Игорь", "Виктор", "Михаил",
    "Дмитрий", "Евгений", "Олег", "Юрий", "Павел", "Константин", "Геннадий", "Анатолий", "Валерий",
    "Иван", "Роман", "Максим", "Артём",
)  # fmt: skip
_GRANDMOTHERS = ("Галина", "Людмила", "Валентина", "Нина", "Тамара", "Любовь", "Надежда", "Татьяна", "Ольга")

_CITIES = (
    ("Калуга", "248"), ("Тверь", "170"), ("Тула", "300"), ("Рязань", "390"), ("Ярославль", "150"),
    ("Владимир", "600"), ("Смоленск", "214"), ("Кострома", "156"), ("Иваново", "153"), ("Курск", "305"),
    ("Липецк", "398"), ("Брянск", "241"), ("Воронеж", "394"), ("Пенза", "440"), ("Орёл", "302"),
)  # fmt: skip
_STREETS = (
    "ул. Ленина", "ул. Гагарина", "ул. Садовая", "ул. Школьная", "ул. Мира", "ул. Советская",
    "ул. Пушкина", "ул. Молодёжная", "пр-т Победы", "ул. Чкалова",
)  # fmt: skip


class _People:
    """Russian names, gender-consistent: Faker's paired surnames, first names of the right
    generation, patronymics derived from the father's name."""

    def __init__(self, rng: random.Random, fake: Faker) -> None:
        self.rng = rng
        self.fake = fake

    def surname(self) -> tuple[str, str]:
        """(male, female) forms of one family name."""
        i = self.fake.random_int(0, len(_RuPersons.last_names_male) - 1)
        return _RuPersons.last_names_male[i], _RuPersons.last_names_female[i]

    def pick(self, names: Sequence[str]) -> str:
        return self.fake.random_element(names)

    def patronymic(self, fathers: Sequence[str], male: bool) -> str:
        return _PATRONYMICS[self.pick(fathers)][0 if male else 1]

    def adult(self, male: bool, first_names: Sequence[str]) -> tuple[str, str, str]:
        last = self.surname()[0 if male else 1]
        return last, self.pick(first_names), self.patronymic(_GRANDFATHERS, male)

    def phone(self) -> str:
        code, number = self.rng.randint(0, 99), self.rng.randint(0, 9_999_999)
        return f"+7 9{code:02d} {number // 10_000:03d}-{number // 100 % 100:02d}-{number % 100:02d}"


# --- Build state -------------------------------------------------------------------------


@dataclass(slots=True)
class _Pupil:
    id: int
    klass: _Class
    male: bool
    last_name: str
    first_name: str
    patronymic: str
    birth_date: dt.date
    ability: float  # the student's typical mark, before subject and chance
    family: tuple[str, str]  # the family name (male, female forms)
    father: str  # father's first name, which gave the patronymic
    joined: dt.date | None = None
    left: dt.date | None = None
    joined_note: str = ""
    left_note: str = ""

    @property
    def always_enrolled(self) -> bool:
        return self.joined is None and self.left is None

    def enrolled(self, day: dt.date) -> bool:
        return (self.joined is None or self.joined <= day) and (self.left is None or day <= self.left)


@dataclass(slots=True)
class _Class:
    id: int
    name: str
    grade: int
    letter: str
    scheme: PeriodScheme
    periods: tuple[ReportingPeriod, ...]
    days: tuple[dt.date, ...]
    pupils: list[_Pupil] = field(default_factory=list)
    courses: list[_Course] = field(default_factory=list)
    class_teacher_id: int | None = None


@dataclass(slots=True)
class _Course:
    id: int
    klass: _Class
    spec: SubjectSpec
    subject_id: int
    subgroup: str
    group: int  # 0 whole class, 1 or 2 subgroup
    hours: int
    assessment: Assessment
    bundle: str
    teacher_id: int = 0
    members: list[_Pupil] = field(default_factory=list)
    lessons: list[_Lesson] = field(default_factory=list)

    def students(self) -> list[_Pupil]:
        return self.members if self.group else self.klass.pupils


@dataclass(slots=True)
class _Lesson:
    course: _Course
    date: dt.date
    number: int
    period: str
    id: int = 0
    topic: str = ""
    homework: str = ""
    substitute_id: int | None = None
    held: bool = True
    work: str | None = None  # a whole-class work («контрольная работа»…) given in this lesson


@dataclass(slots=True)
class _TeacherDraft:
    id: int
    male: bool
    last_name: str
    first_name: str
    patronymic: str
    bundle: str
    load: int = 0


@dataclass
class _Build:
    """Everything generated so far; steps of `generate_demo_school` fill it in order."""

    rng: random.Random
    people: _People
    school: School | None = None
    classes: list[_Class] = field(default_factory=list)
    guardians: list[Guardian] = field(default_factory=list)
    subjects: dict[str, Subject] = field(default_factory=dict)
    teachers: list[_TeacherDraft] = field(default_factory=list)
    lessons: list[_Lesson] = field(default_factory=list)  # by id - 1
    busy: dict[int, set[tuple[int, int]]] = field(default_factory=dict)  # teacher → (weekday, number)
    absences: dict[tuple[int, int], AbsenceReason | None] = field(default_factory=dict)  # (lesson, student)
    marks: dict[tuple[int, int], tuple[str, str]] = field(default_factory=dict)  # (lesson, student)
    final_overrides: dict[tuple[int, int, str], str] = field(default_factory=dict)
    offsets: dict[tuple[int, int], float] = field(default_factory=dict)  # (student, subject) → strength
    pupil_count: int = 0

    def next_pupil_id(self) -> int:
        self.pupil_count += 1
        return self.pupil_count


# --- School, classes, calendar -----------------------------------------------------------


def _make_school(rng: random.Random, people: _People, number: int) -> School:
    city, postcode = rng.choice(_CITIES)
    address = (
        f"{postcode}{rng.randint(0, 999):03d}, г. {city}, {rng.choice(_STREETS)}, д. {rng.randint(3, 48)}"
    )
    male = rng.random() < 0.3
    director = " ".join(people.adult(male, _TEACHER_MEN if male else _TEACHER_WOMEN))
    return School(
        id=1,
        name=f"МБОУ «Средняя общеобразовательная школа № {number}»",
        short_name=f"МБОУ СОШ № {number}",
        address=address,
        director=director,
    )


def scheme_of(grade: int) -> PeriodScheme:
    """Quarters up to grade 9, half-years in grades 10–11."""
    return PeriodScheme.HALVES if grade >= 10 else PeriodScheme.QUARTERS


def school_days(grade: int) -> tuple[dt.date, ...]:
    """Days with lessons for a grade: Monday–Friday inside its reporting periods, not on holidays."""
    holidays = (*HOLIDAYS, FIRST_GRADE_HOLIDAY) if grade == 1 else HOLIDAYS
    days = []
    for period in PERIODS:
        if period.scheme is not scheme_of(grade):
            continue
        day = period.start
        while day <= period.end:
            if day.weekday() < 5 and not any(h.start <= day <= h.end for h in holidays):
                days.append(day)
            day += dt.timedelta(days=1)
    return tuple(days)


def _new_class(class_id: int, name: str) -> _Class:
    grade, letter = int(name[:-1]), name[-1]
    scheme = scheme_of(grade)
    return _Class(
        id=class_id,
        name=name,
        grade=grade,
        letter=letter,
        scheme=scheme,
        periods=tuple(p for p in PERIODS if p.scheme is scheme),
        days=school_days(grade),
    )


def _period_of(klass: _Class, day: dt.date) -> str:
    return next(p.code for p in klass.periods if p.contains(day))


# --- Students and guardians --------------------------------------------------------------


def _enrol_pupils(build: _Build, klass: _Class) -> None:
    """22–28 students in Russian alphabetical order, then those who arrive during the year.

    Someone leaves or arrives in about one class in four, and always in the first one.
    """
    rng, people = build.rng, build.people
    count = rng.randint(22, 28)
    drafts = []
    taken: set[tuple[str, str]] = set()
    while len(drafts) < count:
        draft = _new_person(build, klass, taken)
        drafts.append(draft)
    drafts.sort(key=lambda p: person_sort_key(Student(p.last_name, p.first_name, p.patronymic)))
    for draft in drafts:
        draft.id = build.next_pupil_id()
        klass.pupils.append(draft)
        _add_guardians(build, draft)
    first = klass.id == 1
    if first or rng.random() < 0.15:
        leaver = rng.choice(klass.pupils)
        leaver.left = rng.choice([d for d in klass.days if D(2024, 11, 15) <= d <= D(2025, 4, 25)])
        city = rng.choice(_CITIES)[0]
        verb = "выбыл" if leaver.male else "выбыла"
        leaver.left_note = rng.choice(
            (
                f"{verb} в связи с переездом в г. {city}",
                f"{verb} в МБОУ СОШ № {rng.randint(1, 40)} г. {city}",
                f"{verb} в МАОУ «Гимназия № {rng.randint(1, 9)}»",
            )
        )
    if first or rng.random() < 0.15:
        joiner = _new_person(build, klass, taken)
        joiner.id = build.next_pupil_id()
        joiner.joined = rng.choice([d for d in klass.days if D(2024, 10, 1) <= d <= D(2025, 3, 14)])
        verb = "прибыл" if joiner.male else "прибыла"
        joiner.joined_note = rng.choice(
            (
                f"{verb} из МБОУ СОШ № {rng.choice((3, 5, 8, 12, 21, 24))}",
                f"{verb} из МБОУ «Лицей № {rng.randint(1, 4)}» г. {rng.choice(_CITIES)[0]}",
                f"{verb} из МКОУ «Основная общеобразовательная школа» с. {people.pick(_VILLAGES)}",
            )
        )
        klass.pupils.append(joiner)
        _add_guardians(build, joiner)


_VILLAGES = ("Никольское", "Покровское", "Ивановка", "Берёзовка", "Горки", "Воскресенское")


def _new_person(build: _Build, klass: _Class, taken: set[tuple[str, str]]) -> _Pupil:
    rng, people = build.rng, build.people
    male = rng.random() < 0.5
    while True:
        family = people.surname()
        last, first = family[0 if male else 1], people.pick(_BOYS if male else _GIRLS)
        if (last, first) not in taken:
            taken.add((last, first))
            break
    father = people.pick(_FATHERS)
    # Born so as to be 6.5–8 years old on 1 September of grade 1.
    earliest = D(2016 - (klass.grade - 1), 9, 1)
    span = (D(2018 - (klass.grade - 1), 2, 28) - earliest).days
    birth = earliest + dt.timedelta(days=round(rng.triangular(0, span, span * 0.45)))
    ability = min(4.9, max(2.9, rng.gauss(3.8, 0.45)))
    return _Pupil(
        id=0,
        klass=klass,
        male=male,
        last_name=last,
        first_name=first,
        patronymic=_PATRONYMICS[father][0 if male else 1],
        birth_date=birth,
        ability=ability,
        family=family,
        father=father,
    )


def _add_guardians(build: _Build, pupil: _Pupil) -> None:
    """Mother and often father (same family name), or a guardian (опекун)."""
    rng, people = build.rng, build.people
    male_form, female_form = pupil.family
    roll = rng.random()
    if roll < 0.03:
        last = female_form if rng.random() < 0.6 else people.surname()[1]
        first, patronymic = people.pick(_GRANDMOTHERS), people.patronymic(_GRANDFATHERS, False)
        build.guardians.append(Guardian(last, first, patronymic, pupil.id, "опекун", people.phone()))
        return
    if roll < 0.98:
        mother_last = female_form if rng.random() < 0.93 else people.surname()[1]
        first, patronymic = people.pick(_MOTHERS), people.patronymic(_GRANDFATHERS, False)
        build.guardians.append(Guardian(mother_last, first, patronymic, pupil.id, "мать", people.phone()))
    if roll >= 0.98 or rng.random() < 0.65:
        patronymic = people.patronymic(_GRANDFATHERS, True)
        build.guardians.append(
            Guardian(male_form, pupil.father, patronymic, pupil.id, "отец", people.phone())
        )


# --- Subjects, courses, teachers ---------------------------------------------------------


def _make_subjects(build: _Build) -> None:
    grades = {k.grade for k in build.classes}
    for ordinal, spec in enumerate(CURRICULUM, start=1):
        if any(g in spec.hours for g in sorted(grades)):
            subject_id = len(build.subjects) + 1
            build.subjects[spec.name] = Subject(subject_id, spec.name, spec.short_name, ordinal)


def _assessment(spec: SubjectSpec, grade: int) -> Assessment:
    if grade == 1:
        return Assessment.NONE
    return Assessment.CREDIT if spec.credit else Assessment.MARKS


_TARGET_LOAD = 22
"""Weekly hours a subject teacher aims at; the pool of a specialisation is sized by it."""

_MALE_SHARE = {
    "pe": 0.5, "obzr": 0.8, "inf": 0.4, "phys": 0.35, "math": 0.15, "hist": 0.25, "tech_1": 1.0,
    "tech_2": 0.0, "primary": 0.03,
}  # fmt: skip


def _make_courses_and_staff(build: _Build) -> None:
    """Courses of every class, then teachers: one primary teacher per class of grades 1–4
    (also its class teacher), specialists shared between classes with balanced loads."""
    course_id = 0
    for klass in build.classes:
        for spec in CURRICULUM:
            hours = spec.hours.get(klass.grade)
            if not hours:
                continue
            split = spec.split_from is not None and klass.grade >= spec.split_from
            for group in (1, 2) if split else (0,):
                course_id += 1
                klass.courses.append(
                    _Course(
                        id=course_id,
                        klass=klass,
                        spec=spec,
                        subject_id=build.subjects[spec.name].id,
                        subgroup=f"{group} группа" if group else "",
                        group=group,
                        hours=hours,
                        assessment=_assessment(spec, klass.grade),
                        bundle=bundle_of(spec, klass.grade),
                    )
                )
    _assign_teachers(build)


def _pool_key(course: _Course) -> str:
    if course.bundle == "tech" and course.group:
        return f"tech_{course.group}"  # boys with a man, girls with a woman
    return course.bundle


def _new_teacher(build: _Build, pool: str) -> _TeacherDraft:
    male = build.rng.random() < _MALE_SHARE.get(pool, 0.1)
    last, first, patronymic = build.people.adult(male, _TEACHER_MEN if male else _TEACHER_WOMEN)
    teacher = _TeacherDraft(len(build.teachers) + 1, male, last, first, patronymic, pool)
    build.teachers.append(teacher)
    return teacher


def _assign_teachers(build: _Build) -> None:
    # Assignment units: a class's courses of one pool and subgroup, taught by one teacher.
    units: dict[str, list[list[_Course]]] = {}
    for klass in build.classes:
        by_key: dict[tuple[str, int], list[_Course]] = {}
        for course in klass.courses:
            if course.bundle != "project":
                by_key.setdefault((_pool_key(course), course.group), []).append(course)
        for (pool, _group), courses in by_key.items():
            units.setdefault(pool, []).append(courses)
    for klass in build.classes:
        if klass.grade <= 4:
            teacher = _new_teacher(build, "primary")
            klass.class_teacher_id = teacher.id
            for course in klass.courses:
                if course.bundle == "primary":
                    course.teacher_id = teacher.id
                    teacher.load += course.hours
    for pool in sorted(units):
        if pool == "primary":
            continue
        total = sum(c.hours for unit in units[pool] for c in unit)
        split = any(c.group for unit in units[pool] for c in unit)
        size = max(2 if split and not pool.startswith("tech") else 1, math.ceil(total / _TARGET_LOAD))
        staff = [_new_teacher(build, pool) for _ in range(size)]
        for unit in units[pool]:
            klass, group = unit[0].klass, unit[0].group
            other = {
                c.teacher_id for c in klass.courses if c.group and c.group != group and _same_subject(c, unit)
            }
            teacher = min((t for t in staff if t.id not in other), key=lambda t: (t.load, t.id))
            for course in unit:
                course.teacher_id = teacher.id
                teacher.load += course.hours
    _choose_class_teachers(build)


def _same_subject(course: _Course, unit: list[_Course]) -> bool:
    return course.spec.name == unit[0].spec.name


def _choose_class_teachers(build: _Build) -> None:
    """Grades 5–11: the subject teacher with most hours in the class who leads no class yet;
    they also supervise the individual project (10–11)."""
    leading = {k.class_teacher_id for k in build.classes if k.class_teacher_id}
    for klass in build.classes:
        if klass.class_teacher_id is None:
            hours: dict[int, int] = defaultdict(int)
            for course in klass.courses:
                if course.teacher_id:
                    hours[course.teacher_id] += course.hours
            ranked = sorted(hours, key=lambda t: (-hours[t], t))
            chosen = next((t for t in ranked if t not in leading), ranked[0])
            klass.class_teacher_id = chosen
            leading.add(chosen)
        for course in klass.courses:
            if course.bundle == "project":
                course.teacher_id = klass.class_teacher_id
    loads: dict[int, int] = defaultdict(int)
    for klass in build.classes:
        for course in klass.courses:
            loads[course.teacher_id] += course.hours
    for teacher in build.teachers:
        teacher.load = loads[teacher.id]


def _make_members(build: _Build) -> None:
    """Subgroups: foreign language and informatics by halves of the class list (newcomers
    to the smaller group), technology by boys and girls."""
    for klass in build.classes:
        initial = [p for p in klass.pupils if p.joined is None]
        later = [p for p in klass.pupils if p.joined is not None]
        for spec_name in dict.fromkeys(c.spec.name for c in klass.courses if c.group):
            groups = [c for c in klass.courses if c.spec.name == spec_name]
            if groups[0].spec.by_gender:
                groups[0].members = [p for p in klass.pupils if p.male]
                groups[1].members = [p for p in klass.pupils if not p.male]
                continue
            half = (len(initial) + 1) // 2
            groups[0].members, groups[1].members = initial[:half], initial[half:]
            for pupil in later:
                smaller = min(groups, key=lambda c: (len(c.members), c.group))
                smaller.members.append(pupil)


# --- Timetable and lessons ---------------------------------------------------------------

_MAX_PER_DAY = {1: 4, 2: 5, 3: 5, 4: 5, 5: 6, 6: 6}
"""Lessons a day by grade (SanPiN); 7 from grade 7."""

_BUSY_FIRST = (1, 2, 3, 0, 4)
"""Weekdays that get one lesson more when the week's hours do not divide by five."""


@dataclass(frozen=True)
class _Slot:
    """One timetable entry: the course(s) taught at once (both subgroups of a split subject)."""

    courses: tuple[_Course, ...]
    teachers: tuple[int, ...]
    hours: int
    paired: bool  # a double lesson is welcome (technology)
    early: bool  # better in the first lessons of the day


def _day_lengths(klass: _Class) -> list[int]:
    total = sum(c.hours for c in klass.courses if c.group != 2)
    base, extra = divmod(total, 5)
    lengths = [base] * 5
    for day in _BUSY_FIRST[:extra]:
        lengths[day] += 1
    if max(lengths) > _MAX_PER_DAY.get(klass.grade, 7):
        raise ValueError(f"class {klass.name}: {total} lessons a week do not fit into five school days")
    return lengths


def _class_slots(klass: _Class) -> list[_Slot]:
    slots = []
    for course in klass.courses:
        if course.group == 2:
            continue
        together = tuple(c for c in klass.courses if c.spec is course.spec)
        slots.append(
            _Slot(
                courses=together,
                teachers=tuple(c.teacher_id for c in together),
                hours=course.hours,
                paired=course.spec.bundle == "tech" and course.hours == 2,
                early=course.spec.style in ("tasks", "language"),
            )
        )
    return slots


def _timetables(build: _Build) -> dict[int, dict[tuple[int, int], _Slot]]:
    """A weekly timetable per class: (weekday, lesson number) → slot. Lessons follow each
    other from the first with no gaps, a subject at most twice a day (then as a double
    lesson), and no teacher in two places at once. Randomised greedy with restarts."""
    rng = build.rng
    order = sorted(build.classes, key=lambda k: (-sum(c.hours for c in k.courses), k.id))
    for _restart in range(20):
        busy: dict[int, set[tuple[int, int]]] = defaultdict(set)
        tables: dict[int, dict[tuple[int, int], _Slot]] = {}
        for klass in order:
            table = None
            for _attempt in range(60):
                table = _try_class_timetable(klass, busy, rng)
                if table is not None:
                    break
            if table is None:
                break
            tables[klass.id] = table
            for (day, number), slot in table.items():
                for teacher in slot.teachers:
                    busy[teacher].add((day, number))
        else:
            build.busy = dict(busy)
            return tables
    raise RuntimeError("could not build a clash-free timetable for the demo school")


def _try_class_timetable(
    klass: _Class, busy: dict[int, set[tuple[int, int]]], rng: random.Random
) -> dict[tuple[int, int], _Slot] | None:
    lengths = _day_lengths(klass)
    free = {(day, number) for day in range(5) for number in range(1, lengths[day] + 1)}
    slots = _class_slots(klass)
    rng.shuffle(slots)
    # Hardest first: most teachers at once, busiest teachers, most hours.
    slots.sort(key=lambda s: (-len(s.teachers), -max(len(busy[t]) for t in s.teachers), -s.hours))
    table: dict[tuple[int, int], _Slot] = {}
    for slot in slots:
        per_day = [0] * 5
        for _ in range(slot.hours):
            best, best_score = None, math.inf
            for day, number in sorted(free):
                if per_day[day] >= 2 or any((day, number) in busy[t] for t in slot.teachers):
                    continue
                score = per_day[day] * 100.0
                if per_day[day]:
                    adjacent = table.get((day, number - 1)) is slot or table.get((day, number + 1)) is slot
                    score += -150 if slot.paired and adjacent else (0 if adjacent else 60)
                elif slot.paired:
                    score += 20
                score += number * (1.5 if slot.early else 0.3) + rng.random() * 4
                if score < best_score:
                    best, best_score = (day, number), score
            if best is None:
                return None
            free.discard(best)
            table[best] = slot
            per_day[best[0]] += 1
    return table


def _make_lessons(build: _Build, tables: dict[int, dict[tuple[int, int], _Slot]]) -> None:
    """Every school day of the year gets the day's timetable; ids go by date, class, number."""
    drafts = []
    for klass in build.classes:
        table = tables[klass.id]
        by_day: dict[int, list[tuple[int, _Slot]]] = defaultdict(list)
        for (day, number), slot in sorted(table.items(), key=lambda item: item[0]):
            by_day[day].append((number, slot))
        for date in klass.days:
            period = _period_of(klass, date)
            for number, slot in by_day[date.weekday()]:
                for course in slot.courses:
                    drafts.append(_Lesson(course, date, number, period))
    drafts.sort(key=lambda x: (x.date, x.course.klass.id, x.number, x.course.id))
    for lesson_id, lesson in enumerate(drafts, start=1):
        lesson.id = lesson_id
        lesson.course.lessons.append(lesson)
    build.lessons = drafts


def _teacher_absences(build: _Build) -> None:
    """Teachers fall ill for a few days: most of their lessons are covered by a free colleague
    (of the same subject if possible) — a substitution — the rest are not held (J5). Every
    demo, however small, has at least one of each."""
    rng = build.rng
    days = school_days(2)
    sick: dict[int, set[dt.date]] = {}
    for teacher in build.teachers:
        for _ in range(rng.choices((0, 1, 2), weights=(55, 33, 12))[0]):
            start = rng.randrange(len(days))
            sick.setdefault(teacher.id, set()).update(days[start : start + rng.randint(1, 5)])
    covering: set[tuple[dt.date, int, int]] = set()  # (date, number, teacher)
    for lesson in build.lessons:
        if lesson.date not in sick.get(lesson.course.teacher_id, ()):
            continue
        free = _free_teachers(build, lesson, sick, covering)
        if free and rng.random() > 0.12:
            _substitute(lesson, rng.choice(free), covering)
        else:
            lesson.held = False
    first_class = [
        x for c in build.classes[0].courses for x in c.lessons if x.held and x.substitute_id is None
    ]
    if all(x.held for x in build.lessons):
        rng.choice([x for x in first_class if x.date.month == 3]).held = False
    if all(x.substitute_id is None for x in build.lessons):
        options = [x for x in first_class if x.held and x.date.month == 2]
        rng.shuffle(options)
        lesson = next(x for x in options if _free_teachers(build, x, sick, covering))
        _substitute(lesson, _free_teachers(build, lesson, sick, covering)[0], covering)


def _free_teachers(
    build: _Build, lesson: _Lesson, sick: dict[int, set[dt.date]], covering: set[tuple[dt.date, int, int]]
) -> list[int]:
    """Colleagues who could take the lesson, the same subject's teachers first."""
    when = (lesson.date.weekday(), lesson.number)
    free = [
        t
        for t in build.teachers
        if t.id != lesson.course.teacher_id
        and when not in build.busy.get(t.id, ())
        and lesson.date not in sick.get(t.id, ())
        and (lesson.date, lesson.number, t.id) not in covering
    ]
    same = [t.id for t in free if t.bundle == lesson.course.bundle]
    return same or [t.id for t in free]


def _substitute(lesson: _Lesson, teacher_id: int, covering: set[tuple[dt.date, int, int]]) -> None:
    lesson.substitute_id = teacher_id
    covering.add((lesson.date, lesson.number, teacher_id))


# --- Topics and homework -----------------------------------------------------------------

_WHOLE_CLASS_WORKS = (
    ("Контрольный диктант", "диктант"),
    ("Входная контрольная работа", "контрольная работа"),
    ("Итоговая контрольная работа", "контрольная работа"),
    ("Контрольная работа", "контрольная работа"),
    ("Пробный экзамен", "контрольная работа"),
    ("Лабораторная работа", "лабораторная работа"),
    ("Практическая работа", "практическая работа"),
    ("Проверочная работа", "проверочная работа"),
    ("Изложение", "изложение"),
    ("Сжатое изложение", "изложение"),
    ("Сочинение", "сочинение"),
    ("Сдача нормативов", "сдача нормативов"),
    ("Защита проекта", "защита проекта"),
)
"""Topic beginnings that mean the whole class is marked for one work that lesson."""


def _whole_class_work(topic: str) -> str | None:
    """The kind of work the whole class is marked for in a lesson with this topic, if any."""
    text = topic.removeprefix("Развитие речи. ")
    return next((kind for prefix, kind in _WHOLE_CLASS_WORKS if text.startswith(prefix)), None)


_REPEATS = {
    "tasks": (
        "Решение задач по теме «{}»",
        "Закрепление по теме «{}»",
        "Решение упражнений по теме «{}»",
        "Самостоятельная работа по теме «{}»",
    ),
    "language": ("Закрепление по теме «{}»", "Упражнения по теме «{}»"),
    "foreign": (
        "{}. Развитие навыков чтения",
        "{}. Развитие навыков аудирования",
        "{}. Развитие навыков устной речи",
        "{}. Развитие навыков письменной речи",
    ),
    "reading": ("{}. Анализ произведения", "{}. Художественные особенности", "{} (продолжение)"),
    "reading_primary": ("{}. Выразительное чтение", "{}. Работа с текстом"),
    "general": ("{} (продолжение)", "Закрепление по теме «{}»"),
    "continued": ("{} (продолжение)",),
    "art": ("{}", "{} (продолжение)"),  # a double lesson has the same topic twice
    "pe": ("{}",),
}
"""How a topic is written again when the plan gives it more than one lesson."""

_NO_UNIT_CONTROL = ("Повторение", "Итоговое повторение", "Введение", "Подготовка к")
_SHORT_UNITS = ("Повторение", "Итоговое повторение", "Введение")
"""Review and introduction units get fewer lessons than their topics suggest."""


def _unit_tail(style: str, title: str, k: int, grade: int, assessed: bool, last: bool) -> list[str]:
    """Closing lessons of a unit with `k` lessons: control work and its analysis, or a summary.
    `{n}` is filled with the control work's number in the course."""
    controls = assessed and style in ("tasks", "language")
    if last and controls:
        return ["Итоговая контрольная работа", "Анализ итоговой контрольной работы"][: min(2, k - 1)]
    if title.startswith(_NO_UNIT_CONTROL):
        return []
    if controls and k >= 4:
        work = "Контрольная работа № {n}" if style == "tasks" else "Контрольный диктант № {n}"
        analysis = (
            "Анализ контрольной работы. Работа над ошибками" if style == "tasks" else "Работа над ошибками"
        )
        return [f"{work} по теме «{title}»", analysis][: 2 if k >= 5 else 1]
    if assessed and style == "foreign" and k >= 4:
        return [f"Контрольная работа № {{n}} по теме «{title}»"]
    if assessed and style == "reading" and k >= (7 if grade >= 5 else 5):
        return [f"Проверочная работа по разделу «{title}»"]
    if style == "general" and k >= 4:
        summary = f"Обобщение по теме «{title}»"
        return [summary, f"Проверочная работа по теме «{title}»"] if assessed and k >= 6 else [summary]
    return []


def _is_single(topic: str) -> bool:
    """A work that takes exactly one lesson (a control, lab or practical work…)."""
    return topic.startswith(("ЛР «", "ПР «")) or _whole_class_work(topic) is not None


def _allocate(total: int, weights: Sequence[float]) -> list[int]:
    """Split `total` lessons in proportion to `weights` (largest remainder, in order)."""
    whole = sum(weights)
    exact = [total * w / whole for w in weights]
    counts = [math.floor(x) for x in exact]
    rest = total - sum(counts)
    for i in sorted(range(len(weights)), key=lambda i: (counts[i] - exact[i], i))[:rest]:
        counts[i] += 1
    return counts


def _course_topics(spec: SubjectSpec, grade: int, count: int, assessed: bool) -> list[str]:
    """Topics of `count` consecutive held lessons following the subject's thematic plan (J5)."""
    units: tuple[Unit, ...] = PLANS[(spec.name, grade)]
    style = "reading_primary" if spec.style == "reading" and grade <= 4 else spec.style
    extra = 1.5 if assessed and spec.style in ("tasks", "language") else 0.5
    weights = [
        (len(topics) + extra) * (0.6 if title.startswith(_SHORT_UNITS) else 1.0) for title, topics in units
    ]
    numbers = {"control": 0, "lab": 0, "practical": 0}
    result: list[str] = []
    for index, ((title, topics), k) in enumerate(zip(units, _allocate(count, weights), strict=True)):
        if k == 0:
            continue
        tail = _unit_tail(spec.style, title, k, grade, assessed, index == len(units) - 1)
        body_count = k - len(tail)
        singles = [t for t in topics if _is_single(t)]
        regular = [t for t in topics if not _is_single(t)] or [title]
        spare = max(0, body_count - len(singles))
        repeats = [
            spare // len(regular) + (1 if i < spare % len(regular) else 0) for i in range(len(regular))
        ]
        body: list[str] = []
        for topic in topics if any(t in regular for t in topics) else (title, *topics):
            if topic in singles:
                body.append(_numbered(topic, numbers))
                continue
            times = repeats[regular.index(topic)]
            variants = _REPEATS["continued" if style == "reading" and "«" not in topic else style]
            body.extend(
                topic if r == 0 else variants[(r - 1) % len(variants)].format(topic) for r in range(times)
            )
        body = body[:body_count]
        for line in tail:
            if "{n}" in line:
                numbers["control"] += 1
                line = line.format(n=numbers["control"])
            body.append(line)
        result.extend(body[:k])
    while len(result) < count:  # only when units were left without lessons
        result.append(result[-1] if result else spec.name)
    return result


def _numbered(topic: str, numbers: dict[str, int]) -> str:
    """«ЛР «…»» → «Лабораторная работа № 3 «…»», numbered through the course."""
    for marker, key, name in (
        ("ЛР «", "lab", "Лабораторная работа"),
        ("ПР «", "practical", "Практическая работа"),
    ):
        if topic.startswith(marker):
            numbers[key] += 1
            return f"{name} № {numbers[key]} {topic[3:]}"
    return topic


def _homework(spec: SubjectSpec, grade: int, index: int, total: int, rng: random.Random) -> str:
    """Homework for the `index`-th of `total` lessons: paragraphs, pages and exercise numbers
    move through the textbook over the year."""
    if grade == 1:
        return NO_HOMEWORK_GRADE_1
    if spec.homework == "project":
        return PROJECT_STEPS[index * len(PROJECT_STEPS) // max(total, 1)]
    kind = spec.homework
    if grade <= 4 and kind in ("ru", "lit", "math"):
        kind = f"{kind}_primary"
    templates, paragraphs, exercises = HOMEWORK[kind]
    progress = index / max(total, 1)
    p = 1 + int(progress * paragraphs)
    n = 1 + int(progress * exercises) + rng.randint(0, 6)
    page = 5 + int(progress * 200) + rng.randint(0, 3)
    k = rng.randint(1, 6)
    return rng.choice(templates).format(
        p=p, n=n, n1=n + rng.randint(1, 3), n2=n + rng.randint(4, 6), n3=n + 3,
        page=page, page2=page + rng.randint(3, 12), k=k, k1=k + 1, k2=k + 2,
        e=max(1, p * 2 // 3), k6=1 + int(progress * 6), wb=2 + int(progress * 60),
    )  # fmt: skip


def _plan_topics(build: _Build) -> None:
    """Topics and homework of every held lesson; missed lessons keep neither (J5)."""
    for klass in build.classes:
        for course in klass.courses:
            held = [x for x in course.lessons if x.held]
            assessed = course.assessment is not Assessment.NONE
            topics = _course_topics(course.spec, klass.grade, len(held), assessed)
            for index, (lesson, topic) in enumerate(zip(held, topics, strict=True)):
                lesson.topic = topic
                lesson.homework = _homework(course.spec, klass.grade, index, len(held), build.rng)
                lesson.work = _whole_class_work(topic) if assessed else None


# --- Attendance ---------------------------------------------------------------------------

_ILLNESS_EPISODES = {"primary": (20, 35, 30, 15), "middle": (30, 40, 22, 8), "senior": (40, 40, 15, 5)}
_MONTH_WEIGHT = {9: 1, 10: 2, 11: 3, 12: 3, 1: 3, 2: 3, 3: 2, 4: 1, 5: 1}
"""Colds come in autumn and winter."""


def _attendance(build: _Build, klass: _Class) -> None:
    """Illness episodes (whole days, reason illness), family days (valid), single missed
    lessons (valid: competitions, olympiads; invalid: truancy, more in senior grades)."""
    rng = build.rng
    band = "primary" if klass.grade <= 4 else "middle" if klass.grade <= 9 else "senior"
    invalid_counts = {1: (0,), 2: (0, 0, 0, 0, 1), 3: (0, 0, 0, 1), 4: (0, 0, 0, 1)}.get(
        klass.grade, (0, 1, 1, 2, 3, 4) if klass.grade >= 8 else (0, 0, 1, 1, 2)
    )
    held_by_day: dict[dt.date, list[_Lesson]] = defaultdict(list)
    for course in klass.courses:
        for lesson in course.lessons:
            if lesson.held:
                held_by_day[lesson.date].append(lesson)
    for day_lessons in held_by_day.values():
        day_lessons.sort(key=lambda x: (x.number, x.id))
    for pupil in klass.pupils:
        mine = {c.id for c in klass.courses if not c.group or pupil in c.members}
        days = [d for d in klass.days if pupil.enrolled(d)]
        lessons_on = {d: [x for x in held_by_day[d] if x.course.id in mine] for d in days}
        weights = [_MONTH_WEIGHT[d.month] for d in days]
        for _ in range(rng.choices((0, 1, 2, 3), weights=_ILLNESS_EPISODES[band])[0]):
            start = days.index(rng.choices(days, weights=weights)[0])
            for day in days[start : start + rng.randint(3, 8)]:
                for lesson in lessons_on[day]:
                    build.absences[(lesson.id, pupil.id)] = AbsenceReason.ILLNESS
        for _ in range(rng.choice((0, 0, 0, 1, 1, 2))):
            for lesson in lessons_on[rng.choice(days)]:
                build.absences.setdefault((lesson.id, pupil.id), AbsenceReason.VALID)
        singles = (
            (AbsenceReason.VALID, rng.choice((0, 0, 1, 1, 2))),
            (AbsenceReason.INVALID, rng.choice(invalid_counts)),
        )
        for reason, times in singles:
            for _ in range(times):
                options = lessons_on[rng.choice(days)]
                if options:
                    build.absences.setdefault((rng.choice(options).id, pupil.id), reason)


# --- Marks -------------------------------------------------------------------------------

_INDIVIDUAL_WORKS = {
    "language": (("ответ на уроке", 35), ("словарный диктант", 15), ("домашняя работа", 25),
                 ("самостоятельная работа", 25)),
    "foreign": (("ответ на уроке", 45), ("словарный диктант", 15), ("домашняя работа", 25),
                ("самостоятельная работа", 15)),
    "reading": (("ответ на уроке", 45), ("чтение наизусть", 20), ("домашняя работа", 20),
                ("самостоятельная работа", 15)),
    "pe": (("сдача нормативов", 55), ("работа на уроке", 45)),
    "art": (("практическая работа", 60), ("ответ на уроке", 40)),
}  # fmt: skip
_DEFAULT_WORKS = (("ответ на уроке", 50), ("самостоятельная работа", 20), ("домашняя работа", 20),
                  ("проверочная работа", 10))  # fmt: skip
_WORK_BIAS = {"контрольная работа": -0.3, "диктант": -0.3, "домашняя работа": 0.25, "ответ на уроке": 0.1}


def _mark_value(base: float, kind: str, rng: random.Random) -> str:
    return str(min(5, max(2, round(base + _WORK_BIAS.get(kind, 0.0) + rng.gauss(0, 0.7)))))


def _marks(build: _Build, klass: _Class) -> None:
    """Per student, course and period: the whole class's works, then marks for answers and
    homework up to roughly one mark per 3–4 lessons present, at least 3 where possible (J6).
    Never on a lesson the student missed or before/after their enrolment."""
    rng = build.rng
    grade_bias = 0.15 if klass.grade <= 4 else 0.1 if klass.grade >= 10 else 0.0
    for course in klass.courses:
        if course.assessment is Assessment.NONE:
            continue
        credit = course.assessment is Assessment.CREDIT
        works = _INDIVIDUAL_WORKS.get(course.spec.style, _DEFAULT_WORKS)
        kinds, kind_weights = [w for w, _ in works], [n for _, n in works]
        for period in klass.periods:
            lessons = [x for x in course.lessons if x.held and x.period == period.code]
            for pupil in course.students():
                base = pupil.ability + grade_bias + _subject_offset(build, pupil, course.subject_id)
                present = [
                    x
                    for x in lessons
                    if (pupil.always_enrolled or pupil.enrolled(x.date))
                    and (x.id, pupil.id) not in build.absences
                ]
                whole = [x for x in present if x.work]
                rate = rng.uniform(4.5, 6.0) if credit else rng.uniform(2.9, 4.0)
                wanted = max(0 if credit else 3, round(len(present) / rate)) - len(whole)
                others = [x for x in present if not x.work]
                chosen = rng.sample(others, min(max(wanted, 0), len(others)))
                for lesson in whole:
                    value = "зач" if credit else _mark_value(base, lesson.work, rng)
                    build.marks[(lesson.id, pupil.id)] = (value, lesson.work)
                for lesson in sorted(chosen, key=lambda x: x.id):
                    kind = rng.choices(kinds, weights=kind_weights)[0]
                    value = "зач" if credit else _mark_value(base, kind, rng)
                    build.marks[(lesson.id, pupil.id)] = (value, kind)


def _subject_offset(build: _Build, pupil: _Pupil, subject_id: int) -> float:
    """A student's strength in a subject, drawn once per (student, subject)."""
    key = (pupil.id, subject_id)
    if key not in build.offsets:
        build.offsets[key] = build.rng.gauss(0, 0.35)
    return build.offsets[key]


# --- Seeded violations -------------------------------------------------------------------


def _seed_violations(build: _Build) -> list[SeededViolation]:
    """A handful of rule violations, recorded so that a validator can be checked against them."""
    seeded: list[SeededViolation] = []
    first = build.classes[0]
    quarters = next((k for k in build.classes if k.grade >= 2 and k.scheme is PeriodScheme.QUARTERS), None)
    halves = next((k for k in build.classes if k.scheme is PeriodScheme.HALVES), None)
    if quarters is not None:
        q1, q2 = quarters.periods[0], quarters.periods[1]
        chosen = _seed_too_few_marks(build, quarters, q1, seeded)
        _seed_final_differs(build, quarters, q2, seeded, avoid={chosen})
    if halves is not None:
        _seed_final_differs(build, halves, halves.periods[0], seeded, avoid=set())
    _seed_lesson_gaps(build, first, seeded)
    _seed_absence_without_reason(build, first, seeded)
    return seeded


def _marked_lessons(build: _Build, pupil: _Pupil, course: _Course, period: ReportingPeriod) -> list[_Lesson]:
    return [x for x in course.lessons if x.period == period.code and (x.id, pupil.id) in build.marks]


def _whole_class_marks_courses(klass: _Class) -> list[_Course]:
    return [c for c in klass.courses if c.assessment is Assessment.MARKS and not c.group]


def _seed_too_few_marks(
    build: _Build, klass: _Class, period: ReportingPeriod, seeded: list[SeededViolation]
) -> int:
    """A teacher gave a numeric period mark with only two marks in the journal."""
    rng = build.rng
    course = min(_whole_class_marks_courses(klass), key=lambda c: (c.hours, c.spec.name != "География", c.id))
    candidates = [
        p for p in klass.pupils if p.always_enrolled and len(_marked_lessons(build, p, course, period)) >= 3
    ]
    pupil = rng.choice(candidates)
    marked = _marked_lessons(build, pupil, course, period)
    for lesson in marked[2:]:
        del build.marks[(lesson.id, pupil.id)]
    values = [int(build.marks[(x.id, pupil.id)][0]) for x in marked[:2]]
    build.final_overrides[(pupil.id, course.subject_id, period.code)] = str(
        round_half_up(Decimal(sum(values)) / Decimal(2))
    )
    seeded.append(
        SeededViolation("too_few_marks", klass.name, period.code, course.subject_id, pupil.id, None)
    )
    return pupil.id


def _seed_final_differs(
    build: _Build, klass: _Class, period: ReportingPeriod, seeded: list[SeededViolation], avoid: set[int]
) -> None:
    """A period mark one point off the rounded average (the teacher's judgement)."""
    rng = build.rng
    course = rng.choice([c for c in _whole_class_marks_courses(klass) if c.hours >= 2])
    candidates = [
        p
        for p in klass.pupils
        if p.always_enrolled and p.id not in avoid and len(_marked_lessons(build, p, course, period)) >= 4
    ]
    pupil = rng.choice(candidates)
    values = [int(build.marks[(x.id, pupil.id)][0]) for x in _marked_lessons(build, pupil, course, period)]
    rounded = round_half_up(Decimal(sum(values)) / Decimal(len(values)))
    build.final_overrides[(pupil.id, course.subject_id, period.code)] = str(
        rounded + 1 if rounded < 5 else rounded - 1
    )
    seeded.append(
        SeededViolation(
            "final_differs_from_average", klass.name, period.code, course.subject_id, pupil.id, None
        )
    )


def _seed_lesson_gaps(build: _Build, klass: _Class, seeded: list[SeededViolation]) -> None:
    """One held lesson without a topic (October), one without homework (December)."""
    rng = build.rng
    for rule, month in (("lesson_without_topic", 10), ("lesson_without_homework", 12)):
        lesson = rng.choice(
            [
                x
                for c in klass.courses
                for x in c.lessons
                if x.held and x.date.month == month and not x.work and x.topic and x.homework
            ]
        )
        if rule == "lesson_without_topic":
            lesson.topic = ""
        else:
            lesson.homework = ""
        seeded.append(
            SeededViolation(rule, klass.name, lesson.period, lesson.course.subject_id, None, lesson.id)
        )


def _seed_absence_without_reason(build: _Build, klass: _Class, seeded: list[SeededViolation]) -> None:
    """A student left a lesson and nobody wrote down why (J3)."""
    rng = build.rng
    pupil = rng.choice([p for p in klass.pupils if p.always_enrolled])
    lesson = rng.choice(
        [
            x
            for c in klass.courses
            if not c.group or pupil in c.members
            for x in c.lessons
            if x.held
            and x.date.month == 11
            and (x.id, pupil.id) not in build.absences
            and (x.id, pupil.id) not in build.marks
        ]
    )
    build.absences[(lesson.id, pupil.id)] = None
    seeded.append(
        SeededViolation(
            "absence_without_reason", klass.name, lesson.period, lesson.course.subject_id, pupil.id, lesson.id
        )
    )


# --- Final marks -------------------------------------------------------------------------

_EXAM_SUBJECTS = {
    9: ("Русский язык", "Алгебра"),
    11: ("Русский язык", "Алгебра и начала математического анализа"),
}
"""Subjects with an exam mark (ОГЭ, ЕГЭ) and a final result averaged with it."""


def _finals(build: _Build) -> dict[tuple[int, int, str], str]:
    """Period finals by rounding the period's marks (≥ 3 marks, else «н/а»), the year mark by
    rounding the period finals, exams and final results in grades 9 and 11 (J4, J6)."""
    numbers: dict[tuple[int, int, str], list[int]] = defaultdict(list)
    for (lesson_id, student_id), (value, _kind) in build.marks.items():
        if value.isdigit():
            lesson = build.lessons[lesson_id - 1]
            numbers[(student_id, lesson.course.subject_id, lesson.period)].append(int(value))
    finals: dict[tuple[int, int, str], str] = {}
    for klass in build.classes:
        if klass.grade == 1:
            continue
        subjects = {c.subject_id: c for c in klass.courses}
        for pupil in klass.pupils:
            for subject_id, course in subjects.items():
                mine: list[str] = []
                for period in klass.periods:
                    if (pupil.joined and pupil.joined > period.end) or (
                        pupil.left and pupil.left < period.end
                    ):
                        continue
                    key = (pupil.id, subject_id, period.code)
                    if course.assessment is Assessment.CREDIT:
                        value = "зач"
                    else:
                        got = numbers.get(key, [])
                        value = str(round_half_up(Decimal(sum(got)) / len(got))) if len(got) >= 3 else "н/а"
                    finals[key] = build.final_overrides.get(key, value)
                    mine.append(finals[key])
                if pupil.left or not mine:
                    continue
                year = _year_mark(mine)
                finals[(pupil.id, subject_id, FINAL_YEAR)] = year
                if course.assessment is Assessment.MARKS and klass.grade in _EXAM_SUBJECTS:
                    result = year
                    if course.spec.name in _EXAM_SUBJECTS[klass.grade] and year != "н/а":
                        exam = min(5, max(3, round(pupil.ability + build.rng.gauss(0, 0.5))))
                        finals[(pupil.id, subject_id, FINAL_EXAM)] = str(exam)
                        result = str(round_half_up(Decimal(int(year) + exam) / 2))
                    finals[(pupil.id, subject_id, FINAL_RESULT)] = result
    return finals


def _year_mark(period_finals: Sequence[str]) -> str:
    if all(v == "зач" for v in period_finals):
        return "зач"
    if any(not v.isdigit() for v in period_finals):
        return "н/а"
    return str(round_half_up(Decimal(sum(int(v) for v in period_finals)) / len(period_finals)))


# --- Assembly ----------------------------------------------------------------------------


def _assemble(build: _Build, finals: dict[tuple[int, int, str], str]) -> SchoolYear:
    """Model objects in the canonical order of `journal.source.read_school_year`."""
    pupils = sorted((p for k in build.classes for p in k.pupils), key=lambda p: p.id)
    students = tuple(Student(p.last_name, p.first_name, p.patronymic, p.id, p.birth_date) for p in pupils)
    enrolments = tuple(
        Enrolment(p.id, p.klass.id, p.joined, p.left, p.joined_note, p.left_note) for p in pupils
    )
    courses = [c for k in build.classes for c in k.courses]
    lessons = tuple(
        Lesson(
            id=x.id,
            course_id=x.course.id,
            date=x.date,
            number=x.number,
            topic=x.topic,
            homework=x.homework,
            teacher_id=x.course.teacher_id,
            substitute_teacher_id=x.substitute_id,
            status=LessonStatus.HELD if x.held else LessonStatus.MISSED,
        )
        for x in build.lessons
    )
    marks = tuple(
        Mark(mark_id, lesson_id, student_id, value, kind)
        for mark_id, ((lesson_id, student_id), (value, kind)) in enumerate(
            sorted(build.marks.items()), start=1
        )
    )
    return SchoolYear(
        school=build.school,
        year=YEAR,
        periods=tuple(p for p in PERIODS if any(k.scheme is p.scheme for k in build.classes)),
        holidays=HOLIDAYS,
        teachers=tuple(Teacher(t.last_name, t.first_name, t.patronymic, t.id) for t in build.teachers),
        classes=tuple(
            SchoolClass(k.id, k.name, k.grade, k.letter, k.class_teacher_id, k.scheme) for k in build.classes
        ),
        students=students,
        enrolments=enrolments,
        guardians=tuple(
            sorted(
                build.guardians,
                key=lambda g: (g.student_id, g.last_name, g.first_name, g.patronymic, g.relation, g.phone),
            )
        ),
        subjects=tuple(build.subjects.values()),
        courses=tuple(
            Course(c.id, c.klass.id, c.subject_id, c.subgroup, c.teacher_id, float(c.hours), c.assessment)
            for c in courses
        ),
        course_members=tuple(
            CourseMember(c.id, p.id) for c in courses for p in sorted(c.members, key=lambda p: p.id)
        ),
        lessons=lessons,
        marks=marks,
        absences=tuple(
            Absence(lesson, student, reason) for (lesson, student), reason in sorted(build.absences.items())
        ),
        final_marks=tuple(
            FinalMark(student, subject, period, value)
            for (student, subject, period), value in sorted(finals.items(), key=lambda kv: (*kv[0], kv[1]))
        ),
    )
