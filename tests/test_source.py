"""Journal sources: SQLite and PostgreSQL hold the same data and give the same snapshots.

R10 (the printed copy matches the electronic journal) needs snapshots that do not depend on
the database; J1–J5 decide who and what belongs in a class's snapshot for a period.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from journal.demo import generate_demo_school
from journal.model import (
    FINAL_EXAM,
    FINAL_RESULT,
    FINAL_YEAR,
    AbsenceReason,
    ClassJournal,
    LessonStatus,
    SchoolYear,
)
from journal.source import (
    SourceError,
    canonical_school_year,
    count_class_lessons,
    create_schema,
    extract_class_journal,
    list_classes,
    list_years,
    open_source,
    read_school_year,
    remove_sqlite_database,
    select_class_names,
    write_school_year,
)
from tests.factories import (
    COURSE_ENGLISH_1,
    COURSE_ENGLISH_2,
    COURSE_MATH_5A,
    MISSED_ON,
    STUDENT_JOINED,
    STUDENT_LEFT,
    STUDENTS_5A_IN_ORDER,
    SUBSTITUTED_ON,
    TEACHER_IDLE,
    TEACHER_SUBSTITUTE,
    YEAR_NAME,
    make_school_year,
)


@pytest.fixture(scope="module")
def school_year() -> SchoolYear:
    return make_school_year()


def _new_source(url: str, data: SchoolYear | None = None) -> Engine:
    engine = open_source(url, create=True)
    create_schema(engine)
    if data is not None:
        write_school_year(engine, data)
    return engine


@pytest.fixture(scope="module")
def sqlite_source(tmp_path_factory: pytest.TempPathFactory, school_year: SchoolYear) -> Iterator[Engine]:
    engine = _new_source(f"sqlite:///{tmp_path_factory.mktemp('source') / 'journal.db'}", school_year)
    yield engine
    engine.dispose()


def _spans(data: SchoolYear) -> list[tuple[str, str | None]]:
    """Every (class, period) of the school year, and every class's whole year (None)."""
    return [
        (c.name, code)
        for c in data.classes
        for code in (None, *(p.code for p in data.periods if p.scheme == c.period_scheme))
    ]


def _extract(engine: Engine, class_name: str, period: str | None) -> ClassJournal:
    return extract_class_journal(engine, YEAR_NAME, class_name, period)


# --- The same on both databases ----------------------------------------------------------


def test_postgres_gives_the_same_snapshots_and_year_as_sqlite(
    postgres_url: str, sqlite_source: Engine, school_year: SchoolYear
) -> None:
    postgres = _new_source(postgres_url, school_year)
    try:
        spans = _spans(school_year)
        assert len(spans) == 8  # 5А: year + 4 quarters; 10Б: year + 2 halves
        for class_name, period in spans:
            from_postgres = _extract(postgres, class_name, period)
            assert from_postgres == _extract(sqlite_source, class_name, period), (class_name, period)
            assert from_postgres.lessons and from_postgres.marks and from_postgres.students
        assert read_school_year(postgres, YEAR_NAME) == school_year
        assert list_years(postgres) == list_years(sqlite_source) == (school_year.year,)
        assert list_classes(postgres, YEAR_NAME) == list_classes(sqlite_source, YEAR_NAME)
    finally:
        postgres.dispose()


def test_demo_school_is_the_same_on_postgres_and_sqlite(postgres_url: str, tmp_path: Path) -> None:
    data = generate_demo_school(size="small", seed=1).data
    sqlite = _new_source(f"sqlite:///{tmp_path / 'demo.db'}", data)
    postgres = _new_source(postgres_url, data)
    try:
        classes = list_classes(sqlite, data.year.name)
        assert classes and classes == list_classes(postgres, data.year.name)
        for school_class in classes:
            first = min(
                (p for p in data.periods if p.scheme == school_class.period_scheme), key=lambda p: p.ordinal
            )
            for period in (first.code, None):
                from_sqlite = extract_class_journal(sqlite, data.year.name, school_class.name, period)
                from_postgres = extract_class_journal(postgres, data.year.name, school_class.name, period)
                assert from_sqlite == from_postgres, (school_class.name, period)
        assert read_school_year(postgres, data.year.name) == canonical_school_year(data)
    finally:
        sqlite.dispose()
        postgres.dispose()


# --- Round trips ---------------------------------------------------------------------------


def test_read_school_year_returns_what_was_written(sqlite_source: Engine, school_year: SchoolYear) -> None:
    assert read_school_year(sqlite_source, YEAR_NAME) == school_year


def test_read_school_year_returns_canonical_order_whatever_the_written_order(
    tmp_path: Path, school_year: SchoolYear
) -> None:
    reversed_year = dataclasses.replace(
        school_year,
        **{
            f.name: tuple(reversed(getattr(school_year, f.name)))
            for f in dataclasses.fields(SchoolYear)
            if isinstance(getattr(school_year, f.name), tuple)
        },
    )
    assert reversed_year != school_year
    engine = _new_source(f"sqlite:///{tmp_path / 'journal.db'}", reversed_year)
    try:
        assert read_school_year(engine, YEAR_NAME) == school_year
    finally:
        engine.dispose()


# --- What belongs in a snapshot -------------------------------------------------------------


@pytest.mark.parametrize("class_name, period", _spans(make_school_year()))
def test_snapshot_holds_exactly_what_the_data_says(
    sqlite_source: Engine, school_year: SchoolYear, class_name: str, period: str | None
) -> None:
    """An independent, plain-Python cut of the school year agrees with the SQL extraction."""
    journal = _extract(sqlite_source, class_name, period)
    data = school_year
    school_class = next(c for c in data.classes if c.name == class_name)
    span = next((p for p in data.periods if p.code == period), None)
    start, end = (span.start, span.end) if span else (data.year.start, data.year.end)

    courses = {c.id for c in data.courses if c.class_id == school_class.id}
    lessons = {x.id for x in data.lessons if x.course_id in courses and start <= x.date <= end}
    enrolments = [e for e in data.enrolments if e.class_id == school_class.id]
    students = {e.student_id for e in enrolments if e.overlaps(start, end)}
    subjects = {c.subject_id for c in data.courses if c.id in courses}

    assert journal.school == data.school and journal.year == data.year
    assert journal.school_class == school_class and journal.period == span
    assert {c.id for c in journal.courses} == courses
    assert {x.id for x in journal.lessons} == lessons
    assert all(start <= x.date <= end for x in journal.lessons)
    assert set(journal.marks) == {m for m in data.marks if m.lesson_id in lessons}
    assert set(journal.absences) == {a for a in data.absences if a.lesson_id in lessons}
    assert {s.id for s in journal.students} == students
    assert set(journal.enrolments) == {e for e in enrolments if e.student_id in students}
    assert set(journal.guardians) == {g for g in data.guardians if g.student_id in students}
    assert set(journal.course_members) == {
        m for m in data.course_members if m.course_id in courses and m.student_id in students
    }
    assert {s.id for s in journal.subjects} == subjects
    assert set(journal.final_marks) == {
        f
        for f in data.final_marks
        if f.student_id in students and f.subject_id in subjects and (period is None or f.period == period)
    }
    assert journal.periods == tuple(p for p in data.periods if p.scheme == school_class.period_scheme)
    assert journal.holidays == data.holidays


def test_a_student_who_left_is_in_the_period_he_left_in_but_not_after(sqlite_source: Engine) -> None:
    q1, q2 = _extract(sqlite_source, "5А", "Q1"), _extract(sqlite_source, "5А", "Q2")
    assert STUDENT_LEFT in q1.student_by_id and STUDENT_JOINED not in q1.student_by_id
    assert STUDENT_LEFT not in q2.student_by_id and STUDENT_JOINED in q2.student_by_id
    assert any(m.student_id == STUDENT_LEFT for m in q1.marks)
    assert q1.enrolments_of(STUDENT_LEFT)[0].left_note == "выбыл в связи с переездом"
    assert not any(g.student_id == STUDENT_LEFT for g in q2.guardians)


def test_subgroup_members_are_right_for_the_period(sqlite_source: Engine) -> None:
    q1, q2 = _extract(sqlite_source, "5А", "Q1"), _extract(sqlite_source, "5А", "Q2")
    group_1, group_2 = (q2.course_by_id[COURSE_ENGLISH_1], q2.course_by_id[COURSE_ENGLISH_2])
    assert q2.course_title(group_1) == "Английский язык (1 группа)"
    assert [s.id for s in q1.course_students(q1.course_by_id[COURSE_ENGLISH_1])] == [504, 501, STUDENT_LEFT]
    assert [s.id for s in q2.course_students(group_1)] == [504, 501]
    assert [s.id for s in q2.course_students(group_2)] == [503, 502, STUDENT_JOINED]
    assert len(q2.course_students(q2.course_by_id[COURSE_MATH_5A])) == 5


def test_lessons_on_the_edges_of_a_period_belong_to_it(sqlite_source: Engine) -> None:
    q1, q2 = _extract(sqlite_source, "5А", "Q1"), _extract(sqlite_source, "5А", "Q2")
    assert q1.lessons[-1].date == q1.period.end
    assert q2.lessons[0].date == q2.period.start
    assert not {x.id for x in q1.lessons} & {x.id for x in q2.lessons}


def test_substitute_and_missed_lessons_are_kept(sqlite_source: Engine) -> None:
    q1, q2 = _extract(sqlite_source, "5А", "Q1"), _extract(sqlite_source, "5А", "Q2")
    substituted = [x for x in q1.lessons if x.substitute_teacher_id is not None]
    assert [x.date for x in substituted] == [SUBSTITUTED_ON]
    assert TEACHER_SUBSTITUTE in q1.teacher_by_id  # only a substitute in 5А, still named
    assert TEACHER_SUBSTITUTE not in q2.teacher_by_id
    assert TEACHER_IDLE not in q1.teacher_by_id
    assert q1.class_teacher is not None and q1.class_teacher.last_name == "Ёлкина"
    missed = [x for x in q2.lessons if x.status is LessonStatus.MISSED]
    assert [(x.date, x.course_id) for x in missed] == [(MISSED_ON, COURSE_MATH_5A)]
    assert not any(m.lesson_id == missed[0].id for m in q2.marks)


def test_special_marks_and_every_absence_reason_survive(sqlite_source: Engine) -> None:
    year = _extract(sqlite_source, "5А", None)
    assert {"н/а", "зач", "незач"} <= {m.value for m in year.marks}
    assert {a.reason for a in year.absences} == {*AbsenceReason, None}
    assert all(isinstance(a.reason, AbsenceReason | None) for a in year.absences)


def test_final_marks_are_the_periods_or_all_for_the_year(sqlite_source: Engine) -> None:
    assert {f.period for f in _extract(sqlite_source, "5А", "Q3").final_marks} == {"Q3"}
    ten_b = _extract(sqlite_source, "10Б", None)
    first = ten_b.students[0].id
    assert [(f.subject_id, f.period) for f in ten_b.final_marks if f.student_id == first] == [
        (1, "H1"), (1, "H2"), (1, FINAL_YEAR),  # Русский язык, ordinal 1
        (5, "H1"), (5, "H2"), (5, FINAL_YEAR), (5, FINAL_EXAM), (5, FINAL_RESULT),  # Алгебра
    ]  # fmt: skip
    assert ten_b.final_mark(STUDENT_LEFT, 2, "Q1") is None
    five_a = _extract(sqlite_source, "5А", "Q1")
    assert five_a.final_mark(STUDENT_LEFT, 2, "Q1") == "н/а"


# --- Order ----------------------------------------------------------------------------------


def test_people_are_in_russian_order_whatever_the_case_and_yo(sqlite_source: Engine) -> None:
    year = _extract(sqlite_source, "5А", None)
    assert tuple(s.id for s in year.students) == STUDENTS_5A_IN_ORDER
    # Абрамов, ежова, Елисеев, Ёлкина, Яковлева
    assert [t.id for t in year.teachers] == [TEACHER_SUBSTITUTE, 3, 2, 1, 5]
    assert [g.last_name for g in year.guardians][:3] == ["Алексеев", "Ёжиков", "Ёжикова"]


def test_lessons_marks_and_courses_are_in_journal_order(sqlite_source: Engine) -> None:
    year = _extract(sqlite_source, "5А", None)
    assert [c.id for c in year.courses] == [511, 512, COURSE_ENGLISH_1, COURSE_ENGLISH_2, 515]
    keys = [(x.date, x.number) for x in year.lessons]
    assert keys == sorted(keys)
    same_slot = [x.course_id for x in year.lessons if x.number == 3][:2]
    assert same_slot == [COURSE_ENGLISH_1, COURSE_ENGLISH_2]  # though group 1's lesson ids are higher
    position = {x.id: i for i, x in enumerate(year.lessons)}
    rank = {s.id: i for i, s in enumerate(year.students)}
    mark_keys = [(position[m.lesson_id], rank[m.student_id]) for m in year.marks]
    assert mark_keys == sorted(mark_keys)
    assert [c.name for c in list_classes(sqlite_source, YEAR_NAME)] == ["5А", "10Б"]  # by grade, not text


def test_extraction_runs_a_fixed_handful_of_queries(sqlite_source: Engine) -> None:
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    sa.event.listen(sqlite_source, "before_cursor_execute", count)
    try:
        _extract(sqlite_source, "5А", None)
        for_5a = len(statements)
        statements.clear()
        _extract(sqlite_source, "10Б", "H1")
        for_10b = len(statements)
    finally:
        sa.event.remove(sqlite_source, "before_cursor_execute", count)
    assert for_5a == for_10b <= 20  # 6 students or 3: the same number of queries


# --- Errors -----------------------------------------------------------------------------------


def _error(call: object, *args: object, **kwargs: object) -> str:
    with pytest.raises(SourceError) as caught:
        call(*args, **kwargs)  # type: ignore[operator]
    message = str(caught.value)
    assert "\n" not in message and message
    return message


def test_unknown_class_names_the_class_and_lists_the_others(sqlite_source: Engine) -> None:
    message = _error(_extract, sqlite_source, "5Я", "Q1")
    assert message == "Нет класса «5Я» в 2024/2025 учебном году; есть: 5А, 10Б"


def test_class_and_period_are_found_despite_latin_letters_and_case(sqlite_source: Engine) -> None:
    assert _extract(sqlite_source, "5a", "q1") == _extract(sqlite_source, "5А", "Q1")  # Latin «a»
    assert _extract(sqlite_source, "10 б", "h2").school_class.name == "10Б"


def test_unknown_period_names_the_period_and_the_class(sqlite_source: Engine) -> None:
    assert (
        _error(_extract, sqlite_source, "10Б", "Q1") == "Неизвестный период «Q1» для класса 10Б; есть: H1, H2"
    )
    assert "«Q7»" in _error(_extract, sqlite_source, "5А", "Q7")


def test_unknown_year_lists_the_years(sqlite_source: Engine) -> None:
    message = _error(list_classes, sqlite_source, "2030/2031")
    assert message == "Нет учебного года «2030/2031» в базе данных журнала; есть: 2024/2025"


def test_missing_sqlite_file_is_an_error_and_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.db"
    assert str(path) in _error(open_source, f"sqlite:///{path}")
    assert not path.exists()
    assert "папки" in _error(open_source, f"sqlite:///{tmp_path / 'no' / 'dir.db'}", create=True)


def test_a_file_that_is_not_a_journal_is_refused(tmp_path: Path) -> None:
    garbage = tmp_path / "notes.db"
    garbage.write_text("это не база данных\n" * 100)
    assert "недоступна" in _error(open_source, f"sqlite:///{garbage}")
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    with sqlite3.connect(empty) as conn:
        conn.execute("CREATE TABLE unrelated (x)")
    assert "нет журнала" in _error(open_source, f"sqlite:///{empty}")


def test_unreachable_postgres_is_named_with_the_reason() -> None:
    message = _error(open_source, "postgresql://127.0.0.1:1/test")
    assert message == "База данных журнала недоступна: postgresql://127.0.0.1:1/test (connection refused)"


def test_missing_postgres_database_is_named_and_password_hidden() -> None:
    message = _error(open_source, "postgresql+psycopg://root:secret@127.0.0.1:5432/ja_test_no_such_db")
    assert "ja_test_no_such_db" in message and "does not exist" in message
    assert "secret" not in message


@pytest.mark.parametrize(
    "url", ["not a url", "mysql://user@localhost/journal", "sqlite://", "postgresql+asyncpg://127.0.0.1/test"]
)
def test_malformed_or_unsupported_url(url: str) -> None:
    assert _error(open_source, url).startswith("Неверный адрес базы данных")


def test_malformed_url_does_not_show_the_password() -> None:
    message = _error(open_source, "postgresql://root:secret@127.0.0.1:port/test")
    assert "secret" not in message


def test_writing_a_year_twice_is_refused_and_changes_nothing(tmp_path: Path, school_year: SchoolYear) -> None:
    engine = _new_source(f"sqlite:///{tmp_path / 'journal.db'}", school_year)
    try:
        message = _error(write_school_year, engine, school_year)
        assert "2024/2025" in message and "уже есть" in message
        renamed = dataclasses.replace(
            school_year, year=dataclasses.replace(school_year.year, name="2025/2026")
        )
        assert "id 2024" in _error(write_school_year, engine, renamed)  # same id, other name
        assert read_school_year(engine, YEAR_NAME) == school_year
    finally:
        engine.dispose()


def test_dangling_reference_is_named_and_nothing_is_written(tmp_path: Path, school_year: SchoolYear) -> None:
    bad_mark = dataclasses.replace(school_year.marks[5], student_id=99999)
    broken = dataclasses.replace(
        school_year, marks=(*school_year.marks[:5], bad_mark, *school_year.marks[6:])
    )
    engine = _new_source(f"sqlite:///{tmp_path / 'journal.db'}")
    try:
        message = _error(write_school_year, engine, broken)
        assert f"Оценка {bad_mark.id}" in message and "99999" in message
        assert list_years(engine) == ()
    finally:
        engine.dispose()


def test_a_constraint_the_database_enforces_becomes_a_source_error(
    tmp_path: Path, school_year: SchoolYear
) -> None:
    backwards = dataclasses.replace(
        school_year.holidays[0], start=school_year.holidays[0].end.replace(day=28)
    )
    broken = dataclasses.replace(school_year, holidays=(backwards, *school_year.holidays[1:]))
    engine = _new_source(f"sqlite:///{tmp_path / 'journal.db'}")
    try:
        message = _error(write_school_year, engine, broken)
        assert message.startswith("Учебный год 2024/2025 не записан") and "CHECK" in message
        assert list_years(engine) == ()
    finally:
        engine.dispose()


# --- Choosing classes, starting afresh ----------------------------------------------------------


def test_select_class_names_all_named_or_by_period(sqlite_source: Engine) -> None:
    assert select_class_names(sqlite_source, YEAR_NAME, None) == ("5А", "10Б")
    assert select_class_names(sqlite_source, YEAR_NAME, "Q2") == ("5А",)  # 10Б has halves
    assert select_class_names(sqlite_source, YEAR_NAME, "h1") == ("10Б",)
    assert select_class_names(sqlite_source, YEAR_NAME, None, ["10Б", "5a", "5А"]) == ("5А", "10Б")
    assert _error(select_class_names, sqlite_source, YEAR_NAME, None, ["5А", "7В"]).startswith(
        "Нет класса «7В» в 2024/2025 учебном году"
    )
    assert _error(select_class_names, sqlite_source, YEAR_NAME, "Q1", ["10Б"]) == (
        "Неизвестный период «Q1» для класса 10Б; есть: H1, H2"
    )
    assert _error(select_class_names, sqlite_source, YEAR_NAME, "Q7") == (
        "Нет периода «Q7» ни у одного класса в 2024/2025 учебном году; есть: Q1, Q2, Q3, Q4, H1, H2"
    )


def test_count_class_lessons_counts_the_lessons_a_snapshot_holds(
    sqlite_source: Engine, school_year: SchoolYear
) -> None:
    """The work pool balances its flow runs by these counts (flows.pool.plan_batches)."""
    for class_name, period in _spans(school_year):
        counted = count_class_lessons(sqlite_source, YEAR_NAME, period, [class_name])
        assert counted == {class_name: len(_extract(sqlite_source, class_name, period).lessons)}
    both = count_class_lessons(sqlite_source, YEAR_NAME, "Q1", ["5А", "10Б", "7В"])
    assert both["5А"] > 0 and both["10Б"] == both["7В"] == 0  # 10Б has halves; 7В is no class


def test_remove_sqlite_database_removes_only_a_file(tmp_path: Path, school_year: SchoolYear) -> None:
    path = tmp_path / "journal.db"
    _new_source(f"sqlite:///{path}", school_year).dispose()
    assert remove_sqlite_database(f"sqlite:///{path}") is True
    assert not path.exists()
    assert remove_sqlite_database(f"sqlite:///{path}") is False
    assert remove_sqlite_database("postgresql://127.0.0.1:1/test") is False
    engine = _new_source(f"sqlite:///{path}", school_year)  # the year can be written afresh
    try:
        assert read_school_year(engine, YEAR_NAME) == school_year
    finally:
        engine.dispose()
