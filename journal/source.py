"""Journal sources: store a `SchoolYear` in SQL and cut `ClassJournal` snapshots out of it.

`sqlite:///path` is the embedded default and `postgresql://…` works the same (the schema is
`journal.schema`). Extraction runs a fixed handful of queries per class, filtered by the
class's courses, never one per student. All ordering is done here in Python with explicit
keys, never by SQL `ORDER BY` on text: SQLite and PostgreSQL collate differently, and a
snapshot extracted from either must be equal and render to the same bytes (R10).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from operator import attrgetter
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine, make_url

from journal import schema as t
from journal.model import (
    FINAL_EXAM,
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
)
from journal.names import class_key, match_one, period_key
from journal.names import year_name as loose_year_name

_BATCH = 10_000
"""Rows per executemany call: big enough to be fast, small enough to bound memory."""

_CONNECT_TIMEOUT_S = 5


class SourceError(Exception):
    """A journal source cannot be used; str() is one line in Russian for the user."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))


# --- Opening a source ----------------------------------------------------------


def open_source(url: str, *, create: bool = False) -> Engine:
    """Open a journal database and check at once that it answers.

    `sqlite:///path`, `postgresql://…` (driven by psycopg 3) and `postgresql+psycopg://…`
    are accepted. With `create=False` the database must already hold the journal tables,
    and a missing SQLite file is an error rather than an empty database silently created.
    With `create=True` a new SQLite file may be created; call `create_schema` next.
    """
    parsed = _parse_url(url)
    shown = _display_url(parsed)
    if parsed.drivername in _SQLITE_DRIVERS:
        engine = _sqlite_engine(parsed, shown, create=create)
    elif parsed.drivername in ("postgresql", "postgresql+psycopg"):
        engine = _postgres_engine(parsed.set(drivername="postgresql+psycopg"))
    else:
        raise SourceError(
            f"Неверный адрес базы данных: «{shown}» — поддерживаются sqlite:///путь и postgresql://…"
        )
    try:
        with engine.connect() as conn:
            # Reading sqlite_master makes SQLite notice a file that is not a database.
            probe = "SELECT count(*) FROM sqlite_master" if engine.dialect.name == "sqlite" else "SELECT 1"
            conn.exec_driver_sql(probe)
            missing = [] if create else _missing_tables(conn)
    except sa.exc.DBAPIError as exc:
        engine.dispose()
        raise SourceError(f"База данных журнала недоступна: {shown} ({_connect_reason(exc)})") from None
    if missing:
        engine.dispose()
        if len(missing) == len(t.metadata.tables):
            raise SourceError(f"В базе данных {shown} нет журнала: таблицы журнала не созданы")
        raise SourceError(f"В базе данных {shown} неполный журнал: нет таблиц {', '.join(missing)}")
    return engine


_SQLITE_DRIVERS = ("sqlite", "sqlite+pysqlite")


def _parse_url(url: str) -> URL:
    try:
        return make_url(url)
    except (sa.exc.ArgumentError, ValueError):
        raise SourceError(
            f"Неверный адрес базы данных: «{_mask_password(url)}» (нужен sqlite:///путь или postgresql://…)"
        ) from None


def remove_sqlite_database(url: str) -> bool:
    """Delete the SQLite file a URL names, with its -wal/-shm/-journal companions, to start afresh.

    Only ever a file: any other database is left alone (a PostgreSQL database is never
    dropped from here). Returns whether anything was removed.
    """
    parsed = _parse_url(url)
    if parsed.drivername not in _SQLITE_DRIVERS or not parsed.database or parsed.database == ":memory:":
        return False
    removed = False
    for path in (Path(parsed.database + suffix) for suffix in ("", "-wal", "-shm", "-journal")):
        try:
            path.unlink()
            removed = True
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise SourceError(f"Не удалось удалить файл базы данных журнала {path}: {exc.strerror}") from None
    return removed


def _sqlite_engine(url: URL, shown: str, *, create: bool) -> Engine:
    if not url.database or url.database == ":memory:":
        raise SourceError(f"Неверный адрес базы данных: «{shown}» — нужен путь к файлу, sqlite:///путь")
    path = Path(url.database)
    if not create and not path.is_file():
        raise SourceError(f"Файл базы данных журнала не найден: {path}")
    if create and not path.parent.is_dir():
        raise SourceError(f"Нет папки для базы данных журнала: {path.parent}")
    if create and not path.exists():  # marks and names are personal data (A2): owner-only, whatever the umask
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    engine = sa.create_engine(url)

    # pysqlite's own transaction handling does not begin a transaction for reads and
    # cannot change PRAGMAs inside one; take control so that a snapshot is read in one
    # transaction and foreign keys are enforced as on PostgreSQL.
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA foreign_keys = ON")

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN")

    return engine


def _postgres_engine(url: URL) -> Engine:
    connect_args = {} if "connect_timeout" in url.query else {"connect_timeout": _CONNECT_TIMEOUT_S}
    return sa.create_engine(url, connect_args=connect_args)


def _missing_tables(conn: Connection) -> list[str]:
    present = set(sa.inspect(conn).get_table_names())
    return sorted(name for name in t.metadata.tables if name not in present)


def _display_url(url: URL) -> str:
    """The address as the user wrote it, without a password."""
    if url.drivername == "postgresql+psycopg":
        url = url.set(drivername="postgresql")
    return url.render_as_string(hide_password=True)


def _mask_password(text: str) -> str:
    return re.sub(r"(://[^:/@\s]*:)[^@\s]*@", r"\1***@", text)


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__


def _connect_reason(exc: sa.exc.DBAPIError) -> str:
    """The gist of a connection failure: «connection refused», «database "x" does not exist»."""
    reason = _first_line(exc).rsplit(": ", 1)[-1].strip() or type(exc).__name__
    return reason[:1].lower() + reason[1:]


@contextmanager
def _database_errors(engine: Engine, what: str) -> Iterator[None]:
    """Turn a database failure into a one-line SourceError that says what was being done."""
    try:
        yield
    except sa.exc.DBAPIError as exc:
        raise SourceError(f"{what}: {_display_url(engine.url)} ({_first_line(exc)})") from None


@contextmanager
def _reading(engine: Engine) -> Iterator[Connection]:
    """One consistent read transaction (a snapshot must not mix two states of the data)."""
    with _database_errors(engine, "Ошибка чтения базы данных журнала"), engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            yield conn


def create_schema(engine: Engine) -> None:
    """Create the journal tables that do not exist yet (idempotent)."""
    with _database_errors(engine, "Не удалось создать таблицы журнала"):
        t.metadata.create_all(engine)


# --- Writing --------------------------------------------------------------------


def write_school_year(engine: Engine, data: SchoolYear) -> None:
    """Store a whole school year in one transaction; refuse if that year is already stored.

    Rows go in as executemany batches of plain inserts. References are checked first so
    that bad data is named precisely (which lesson, which student) instead of surfacing
    as a database constraint name.
    """
    _check_school_year(data)
    rows = _school_year_rows(data)
    with _database_errors(engine, f"Учебный год {data.year.name} не записан"), engine.begin() as conn:
        existing = conn.execute(
            sa.select(t.academic_year.c.id, t.academic_year.c.name).where(
                sa.or_(t.academic_year.c.name == data.year.name, t.academic_year.c.id == data.year.id)
            )
        ).first()
        if existing is not None:
            where = _display_url(engine.url)
            if existing.name == data.year.name:
                raise SourceError(
                    f"Учебный год {data.year.name} уже есть в базе данных {where}; повторно не записан"
                )
            raise SourceError(
                f"В базе данных {where} уже есть учебный год {existing.name} с тем же id {existing.id}; "
                f"{data.year.name} не записан"
            )
        for table in t.TABLES_IN_WRITE_ORDER:
            table_rows = rows[table.name]
            for start in range(0, len(table_rows), _BATCH):
                conn.execute(sa.insert(table), table_rows[start : start + _BATCH])


def _school_year_rows(data: SchoolYear) -> dict[str, list[dict[str, Any]]]:
    y = data.year.id

    def person(p: Teacher | Student | Guardian) -> dict[str, Any]:
        return {"last_name": p.last_name, "first_name": p.first_name, "patronymic": p.patronymic}

    s = data.school
    return {
        "academic_year": [
            {"id": y, "name": data.year.name, "start_date": data.year.start, "end_date": data.year.end}
        ],
        "school": [
            {
                "year_id": y,
                "id": s.id,
                "name": s.name,
                "short_name": s.short_name,
                "address": s.address,
                "director": s.director,
            }
        ],
        "reporting_period": [
            {
                "year_id": y,
                "scheme": PeriodScheme(p.scheme).value,
                "code": p.code,
                "ordinal": p.ordinal,
                "name": p.name,
                "start_date": p.start,
                "end_date": p.end,
            }
            for p in data.periods
        ],
        "holiday": [
            {"year_id": y, "name": h.name, "start_date": h.start, "end_date": h.end} for h in data.holidays
        ],
        "teacher": [{"year_id": y, "id": x.id, **person(x)} for x in data.teachers],
        "school_class": [
            {
                "year_id": y,
                "id": c.id,
                "name": c.name,
                "grade": c.grade,
                "letter": c.letter,
                "class_teacher_id": c.class_teacher_id,
                "period_scheme": PeriodScheme(c.period_scheme).value,
            }
            for c in data.classes
        ],
        "student": [
            {"year_id": y, "id": x.id, **person(x), "birth_date": x.birth_date} for x in data.students
        ],
        "enrolment": [
            {
                "year_id": y,
                "student_id": e.student_id,
                "class_id": e.class_id,
                "joined_on": e.joined,
                "left_on": e.left,
                "joined_note": e.joined_note,
                "left_note": e.left_note,
            }
            for e in data.enrolments
        ],
        "guardian": [
            {"year_id": y, "student_id": g.student_id, **person(g), "relation": g.relation, "phone": g.phone}
            for g in data.guardians
        ],
        "subject": [
            {"year_id": y, "id": x.id, "name": x.name, "short_name": x.short_name, "ordinal": x.ordinal}
            for x in data.subjects
        ],
        "course": [
            {
                "year_id": y,
                "id": c.id,
                "class_id": c.class_id,
                "subject_id": c.subject_id,
                "subgroup": c.subgroup,
                "teacher_id": c.teacher_id,
                "hours_per_week": c.hours_per_week,
                "assessment": Assessment(c.assessment).value,
            }
            for c in data.courses
        ],
        "course_member": [
            {"year_id": y, "course_id": m.course_id, "student_id": m.student_id} for m in data.course_members
        ],
        "lesson": [
            {
                "year_id": y,
                "id": x.id,
                "course_id": x.course_id,
                "date": x.date,
                "number": x.number,
                "topic": x.topic,
                "homework": x.homework,
                "teacher_id": x.teacher_id,
                "substitute_teacher_id": x.substitute_teacher_id,
                "status": LessonStatus(x.status).value,
            }
            for x in data.lessons
        ],
        "mark": [
            {
                "year_id": y,
                "id": m.id,
                "lesson_id": m.lesson_id,
                "student_id": m.student_id,
                "value": m.value,
                "work_kind": m.work_kind,
            }
            for m in data.marks
        ],
        "absence": [
            {
                "year_id": y,
                "lesson_id": a.lesson_id,
                "student_id": a.student_id,
                "reason": None if a.reason is None else AbsenceReason(a.reason).value,
            }
            for a in data.absences
        ],
        "final_mark": [
            {
                "year_id": y,
                "student_id": f.student_id,
                "subject_id": f.subject_id,
                "period": f.period,
                "value": f.value,
            }
            for f in data.final_marks
        ],
    }


def _check_school_year(data: SchoolYear) -> None:
    """Refuse a school year whose parts do not fit together, naming the first bad record."""
    where = f"учебный год {data.year.name} не записан"

    def unique(items: Iterable[Any], key: Callable[[Any], Any], what: Callable[[Any], str]) -> set[Any]:
        seen: set[Any] = set()
        for item in items:
            k = key(item)
            if k in seen:
                raise SourceError(f"{what(item)} встречается дважды; {where}")
            seen.add(k)
        return seen

    def refer(owner: str, genitive: str, target: int | None, known: set[int]) -> None:
        if target is not None and target not in known:
            raise SourceError(f"{owner}: нет {genitive} с id {target}; {where}")

    by_id = attrgetter("id")
    teachers = unique(data.teachers, by_id, lambda x: f"Учитель с id {x.id}")
    classes = unique(data.classes, by_id, lambda x: f"Класс с id {x.id}")
    unique(data.classes, attrgetter("name"), lambda x: f"Класс «{x.name}»")
    students = unique(data.students, by_id, lambda x: f"Ученик с id {x.id}")
    subjects = unique(data.subjects, by_id, lambda x: f"Предмет с id {x.id}")
    courses = unique(data.courses, by_id, lambda x: f"Курс с id {x.id}")
    lessons = unique(data.lessons, by_id, lambda x: f"Урок с id {x.id}")
    unique(data.marks, by_id, lambda x: f"Оценка с id {x.id}")
    unique(data.periods, lambda p: (p.scheme, p.code), lambda p: f"Период {p.code} ({p.scheme})")
    unique(
        data.course_members,
        lambda m: (m.course_id, m.student_id),
        lambda m: f"Ученик {m.student_id} в составе курса {m.course_id}",
    )
    unique(
        data.absences,
        lambda a: (a.lesson_id, a.student_id),
        lambda a: f"Пропуск ученика {a.student_id} на уроке {a.lesson_id}",
    )
    unique(
        data.final_marks,
        lambda f: (f.student_id, f.subject_id, f.period),
        lambda f: f"Отметка {f.period} ученика {f.student_id} по предмету {f.subject_id}",
    )

    for c in data.classes:
        refer(f"Класс «{c.name}»", "классного руководителя", c.class_teacher_id, teachers)
    for e in data.enrolments:
        refer("Зачисление в класс", "ученика", e.student_id, students)
        refer(f"Зачисление ученика {e.student_id}", "класса", e.class_id, classes)
    for g in data.guardians:
        refer(f"Родитель «{g.full_name}»", "ученика", g.student_id, students)
    for c in data.courses:
        refer(f"Курс {c.id}", "класса", c.class_id, classes)
        refer(f"Курс {c.id}", "предмета", c.subject_id, subjects)
        refer(f"Курс {c.id}", "учителя", c.teacher_id, teachers)
    for m in data.course_members:
        refer("Состав подгруппы", "курса", m.course_id, courses)
        refer(f"Состав курса {m.course_id}", "ученика", m.student_id, students)
    for x in data.lessons:
        refer(f"Урок {x.id}", "курса", x.course_id, courses)
        refer(f"Урок {x.id}", "учителя", x.teacher_id, teachers)
        refer(f"Урок {x.id} (замена)", "учителя", x.substitute_teacher_id, teachers)
    for m in data.marks:
        refer(f"Оценка {m.id}", "урока", m.lesson_id, lessons)
        refer(f"Оценка {m.id}", "ученика", m.student_id, students)
    for a in data.absences:
        refer(f"Пропуск ученика {a.student_id}", "урока", a.lesson_id, lessons)
        refer(f"Пропуск на уроке {a.lesson_id}", "ученика", a.student_id, students)
    for f in data.final_marks:
        refer(f"Отметка {f.period}", "ученика", f.student_id, students)
        refer(f"Отметка {f.period} ученика {f.student_id}", "предмета", f.subject_id, subjects)


# --- Rows → model ------------------------------------------------------------------


def _year(r: sa.Row) -> AcademicYear:
    return AcademicYear(id=r.id, name=r.name, start=r.start_date, end=r.end_date)


def _school(r: sa.Row) -> School:
    return School(id=r.id, name=r.name, short_name=r.short_name, address=r.address, director=r.director)


def _period(r: sa.Row) -> ReportingPeriod:
    return ReportingPeriod(
        scheme=PeriodScheme(r.scheme),
        code=r.code,
        ordinal=r.ordinal,
        name=r.name,
        start=r.start_date,
        end=r.end_date,
    )


def _holiday(r: sa.Row) -> Holiday:
    return Holiday(name=r.name, start=r.start_date, end=r.end_date)


def _teacher(r: sa.Row) -> Teacher:
    return Teacher(r.last_name, r.first_name, r.patronymic, id=r.id)


def _class(r: sa.Row) -> SchoolClass:
    return SchoolClass(
        id=r.id,
        name=r.name,
        grade=r.grade,
        letter=r.letter,
        class_teacher_id=r.class_teacher_id,
        period_scheme=PeriodScheme(r.period_scheme),
    )


def _student(r: sa.Row) -> Student:
    return Student(r.last_name, r.first_name, r.patronymic, id=r.id, birth_date=r.birth_date)


def _enrolment(r: sa.Row) -> Enrolment:
    return Enrolment(
        student_id=r.student_id,
        class_id=r.class_id,
        joined=r.joined_on,
        left=r.left_on,
        joined_note=r.joined_note,
        left_note=r.left_note,
    )


def _guardian(r: sa.Row) -> Guardian:
    return Guardian(
        r.last_name, r.first_name, r.patronymic, student_id=r.student_id, relation=r.relation, phone=r.phone
    )


def _subject(r: sa.Row) -> Subject:
    return Subject(id=r.id, name=r.name, short_name=r.short_name, ordinal=r.ordinal)


def _course(r: sa.Row) -> Course:
    return Course(
        id=r.id,
        class_id=r.class_id,
        subject_id=r.subject_id,
        subgroup=r.subgroup,
        teacher_id=r.teacher_id,
        hours_per_week=float(r.hours_per_week),
        assessment=Assessment(r.assessment),
    )


def _member(r: sa.Row) -> CourseMember:
    return CourseMember(course_id=r.course_id, student_id=r.student_id)


def _lesson(r: sa.Row) -> Lesson:
    return Lesson(
        id=r.id,
        course_id=r.course_id,
        date=r.date,
        number=r.number,
        topic=r.topic,
        homework=r.homework,
        teacher_id=r.teacher_id,
        substitute_teacher_id=r.substitute_teacher_id,
        status=LessonStatus(r.status),
    )


def _mark(r: sa.Row) -> Mark:
    return Mark(id=r.id, lesson_id=r.lesson_id, student_id=r.student_id, value=r.value, work_kind=r.work_kind)


def _absence(r: sa.Row) -> Absence:
    reason = None if r.reason is None else AbsenceReason(r.reason)
    return Absence(lesson_id=r.lesson_id, student_id=r.student_id, reason=reason)


def _final(r: sa.Row) -> FinalMark:
    return FinalMark(student_id=r.student_id, subject_id=r.subject_id, period=r.period, value=r.value)


def _fetch(conn: Connection, table: sa.Table, convert: Callable[[sa.Row], Any], *where: Any) -> list[Any]:
    return [convert(r) for r in conn.execute(sa.select(table).where(*where))]


# --- Listing -------------------------------------------------------------------------


def list_years(engine: Engine) -> tuple[AcademicYear, ...]:
    """The academic years stored, oldest first."""
    with _reading(engine) as conn:
        years = _fetch(conn, t.academic_year, _year)
    return tuple(sorted(years, key=lambda y: (y.start, y.end, y.name, y.id)))


def list_classes(engine: Engine, year_name: str) -> tuple[SchoolClass, ...]:
    """The classes of a year by grade and letter (5А, 5Б, …, 10А)."""
    with _reading(engine) as conn:
        year = _find_year(conn, year_name)
        return _sorted_classes(_fetch(conn, t.school_class, _class, t.school_class.c.year_id == year.id))


def _sorted_classes(classes: Iterable[SchoolClass]) -> tuple[SchoolClass, ...]:
    return tuple(sorted(classes, key=lambda c: (c.grade, c.letter, c.name, c.id)))


def _find_year(conn: Connection, year_name: str) -> AcademicYear:
    years = sorted(_fetch(conn, t.academic_year, _year), key=lambda y: (y.start, y.name, y.id))
    wanted = loose_year_name(year_name)
    for year in years:
        if year.name == wanted:
            return year
    known = ", ".join(y.name for y in years) or "ни одного"
    raise SourceError(f"Нет учебного года «{year_name}» в базе данных журнала; есть: {known}")


def _find_class(classes: Sequence[SchoolClass], class_name: str, year: AcademicYear) -> SchoolClass:
    found = match_one(classes, class_name, attrgetter("name"), class_key)
    if found is None:
        known = ", ".join(c.name for c in classes) or "ни одного"
        raise SourceError(f"Нет класса «{class_name}» в {year.name} учебном году; есть: {known}")
    return found


def _find_period(periods: Sequence[ReportingPeriod], code: str, school_class: SchoolClass) -> ReportingPeriod:
    found = match_one(periods, code, attrgetter("code"), period_key)
    if found is None:
        known = ", ".join(p.code for p in periods) or "ни одного"
        raise SourceError(f"Неизвестный период «{code}» для класса {school_class.name}; есть: {known}")
    return found


def _scheme_periods(periods: Iterable[ReportingPeriod], scheme: PeriodScheme) -> list[ReportingPeriod]:
    """One scheme's periods in calendar order."""
    return sorted((p for p in periods if p.scheme == scheme), key=lambda p: (p.ordinal, p.start, p.code))


def select_class_names(
    engine: Engine, year_name: str, period_code: str | None, class_names: Sequence[str] = ()
) -> tuple[str, ...]:
    """The classes a command works on, by their stored names, in school order (5А, 5Б, 10А).

    Named classes are checked (a typo is an error naming it; «5a» finds «5А»); no names means
    every class of the year. With a period code, a named class must have that period, and
    "every class" means those whose scheme has it: a quarter is not asked of a class on halves.
    """
    with _reading(engine) as conn:
        year = _find_year(conn, year_name)
        classes = _sorted_classes(_fetch(conn, t.school_class, _class, t.school_class.c.year_id == year.id))
        periods = _fetch(conn, t.reporting_period, _period, t.reporting_period.c.year_id == year.id)
    if class_names:
        chosen = {_find_class(classes, name, year).id for name in class_names}
        selected = [c for c in classes if c.id in chosen]
        if period_code is not None:
            for c in selected:
                _find_period(_scheme_periods(periods, c.period_scheme), period_code, c)
        return tuple(c.name for c in selected)
    if period_code is None:
        return tuple(c.name for c in classes)
    selected = [
        c
        for c in classes
        if match_one(_scheme_periods(periods, c.period_scheme), period_code, attrgetter("code"), period_key)
    ]
    if classes and not selected:
        codes = ", ".join(dict.fromkeys(p.code for s in PeriodScheme for p in _scheme_periods(periods, s)))
        raise SourceError(
            f"Нет периода «{period_code}» ни у одного класса в {year.name} учебном году; есть: {codes}"
        )
    return tuple(c.name for c in selected)


def count_class_lessons(
    engine: Engine, year_name: str, period_code: str | None, class_names: Sequence[str]
) -> dict[str, int]:
    """Each named class's lessons in the period (the year with None), as its snapshot would hold
    them: how large its journal is, hence how long its archive takes to render. One query; a
    name that is not a stored class, or a class without that period, counts 0."""
    with _reading(engine) as conn:
        year = _find_year(conn, year_name)
        classes = {c.id: c for c in _fetch(conn, t.school_class, _class, t.school_class.c.year_id == year.id)}
        periods = _fetch(conn, t.reporting_period, _period, t.reporting_period.c.year_id == year.id)
        per_day = conn.execute(
            sa.select(t.course.c.class_id, t.lesson.c.date, sa.func.count())
            .select_from(t.lesson)
            .join(
                t.course,
                sa.and_(t.course.c.year_id == t.lesson.c.year_id, t.course.c.id == t.lesson.c.course_id),
            )
            .where(t.lesson.c.year_id == year.id)
            .group_by(t.course.c.class_id, t.lesson.c.date)
        ).all()
    spans: dict[Any, tuple[dt.date, dt.date] | None] = {}
    for class_id, school_class in classes.items():
        if period_code is None:
            spans[class_id] = (year.start, year.end)
            continue
        scheme = _scheme_periods(periods, school_class.period_scheme)
        period = match_one(scheme, period_code, attrgetter("code"), period_key)
        spans[class_id] = (period.start, period.end) if period else None
    counts = dict.fromkeys(class_names, 0)
    for class_id, date, lessons in per_day:
        school_class, span = classes.get(class_id), spans.get(class_id)
        if school_class and school_class.name in counts and span and span[0] <= date <= span[1]:
            counts[school_class.name] += lessons
    return counts


# --- Extraction ------------------------------------------------------------------------


def extract_class_journal(
    engine: Engine, year_name: str, class_name: str, period_code: str | None
) -> ClassJournal:
    """The snapshot of one class for one reporting period, or for the whole year (None).

    Lessons are the class's courses' lessons dated in the span; students are those whose
    enrolment in this class overlaps the span (J1: a student who left before the period is
    not in it, one who left during it is); final marks are this period's (or, for the year,
    all) for those students in the class's subjects. About fifteen queries, whatever the
    class size.
    """
    with _reading(engine) as conn:
        year = _find_year(conn, year_name)
        y = year.id
        school_rows = conn.execute(sa.select(t.school).where(t.school.c.year_id == y)).all()
        if len(school_rows) != 1:
            raise SourceError(f"В базе данных журнала нет сведений о школе за {year.name} учебный год")
        school_class = _find_class(
            _sorted_classes(_fetch(conn, t.school_class, _class, t.school_class.c.year_id == y)),
            class_name,
            year,
        )
        periods = _scheme_periods(
            _fetch(
                conn,
                t.reporting_period,
                _period,
                t.reporting_period.c.year_id == y,
                t.reporting_period.c.scheme == school_class.period_scheme.value,
            ),
            school_class.period_scheme,
        )
        period = None if period_code is None else _find_period(periods, period_code, school_class)
        start, end = (period.start, period.end) if period else (year.start, year.end)

        courses = _fetch(
            conn, t.course, _course, t.course.c.year_id == y, t.course.c.class_id == school_class.id
        )
        course_ids = [c.id for c in courses]
        in_span = (
            t.lesson.c.year_id == y,
            t.lesson.c.course_id.in_(course_ids),
            t.lesson.c.date >= start,
            t.lesson.c.date <= end,
        )
        lessons = _fetch(conn, t.lesson, _lesson, *in_span)
        lesson_ids = sa.select(t.lesson.c.id).where(*in_span)
        marks = _fetch(conn, t.mark, _mark, t.mark.c.year_id == y, t.mark.c.lesson_id.in_(lesson_ids))
        absences = _fetch(
            conn, t.absence, _absence, t.absence.c.year_id == y, t.absence.c.lesson_id.in_(lesson_ids)
        )

        class_enrolments = _fetch(
            conn,
            t.enrolment,
            _enrolment,
            t.enrolment.c.year_id == y,
            t.enrolment.c.class_id == school_class.id,
        )
        student_ids = sorted({e.student_id for e in class_enrolments if e.overlaps(start, end)})
        students = sorted(
            _fetch(conn, t.student, _student, t.student.c.year_id == y, t.student.c.id.in_(student_ids)),
            key=person_sort_key,
        )
        guardians = _fetch(
            conn, t.guardian, _guardian, t.guardian.c.year_id == y, t.guardian.c.student_id.in_(student_ids)
        )
        members = _fetch(
            conn,
            t.course_member,
            _member,
            t.course_member.c.year_id == y,
            t.course_member.c.course_id.in_(course_ids),
            t.course_member.c.student_id.in_(student_ids),
        )

        teacher_ids = {c.teacher_id for c in courses} | {x.teacher_id for x in lessons}
        teacher_ids |= {x.substitute_teacher_id for x in lessons if x.substitute_teacher_id is not None}
        if school_class.class_teacher_id is not None:
            teacher_ids.add(school_class.class_teacher_id)
        teachers = _fetch(
            conn, t.teacher, _teacher, t.teacher.c.year_id == y, t.teacher.c.id.in_(sorted(teacher_ids))
        )
        subject_ids = sorted({c.subject_id for c in courses})
        subjects = _fetch(
            conn, t.subject, _subject, t.subject.c.year_id == y, t.subject.c.id.in_(subject_ids)
        )
        final_where = [
            t.final_mark.c.year_id == y,
            t.final_mark.c.student_id.in_(student_ids),
            t.final_mark.c.subject_id.in_(subject_ids),
        ]
        if period is not None:
            final_where.append(t.final_mark.c.period == period.code)
        finals = _fetch(conn, t.final_mark, _final, *final_where)
        holidays = _fetch(conn, t.holiday, _holiday, t.holiday.c.year_id == y)

    # All ordering happens here, with explicit keys (see the module docstring).
    student_rank = _ranks(s.id for s in students)
    subjects = sorted(subjects, key=lambda s: (s.ordinal, s.name, s.id))
    subject_rank = _ranks(s.id for s in subjects)
    courses = sorted(courses, key=lambda c: (subject_rank[c.subject_id], c.subgroup, c.id))
    course_rank = _ranks(c.id for c in courses)
    lessons = sorted(lessons, key=lambda x: (x.date, x.number, course_rank[x.course_id], x.id))
    lesson_rank = _ranks(x.id for x in lessons)
    period_rank = _ranks([*(p.code for p in periods), FINAL_YEAR, FINAL_EXAM, FINAL_RESULT])

    def of_student(student_id: int) -> tuple[int, int]:
        # A record of someone not in the snapshot is kept (for validators to report), last.
        return (student_rank.get(student_id, len(student_rank)), student_id)

    enrolments = sorted(
        (e for e in class_enrolments if e.student_id in student_rank),
        key=lambda e: (of_student(e.student_id), *_enrolment_span_key(e)),
    )
    guardians = sorted(
        guardians, key=lambda g: (of_student(g.student_id), person_sort_key(g), g.relation, g.phone)
    )
    members = sorted(members, key=lambda m: (course_rank[m.course_id], of_student(m.student_id)))
    marks = sorted(marks, key=lambda m: (lesson_rank[m.lesson_id], of_student(m.student_id), m.id))
    absences = sorted(absences, key=lambda a: (lesson_rank[a.lesson_id], of_student(a.student_id)))
    finals = sorted(
        finals,
        key=lambda f: (
            of_student(f.student_id),
            subject_rank[f.subject_id],
            period_rank.get(f.period, len(period_rank)),
            f.period,
            f.value,
        ),
    )
    return ClassJournal(
        school=_school(school_rows[0]),
        year=year,
        school_class=school_class,
        period=period,
        periods=tuple(periods),
        holidays=tuple(sorted(holidays, key=_holiday_key)),
        teachers=tuple(sorted(teachers, key=person_sort_key)),
        students=tuple(students),
        enrolments=tuple(enrolments),
        guardians=tuple(guardians),
        subjects=tuple(subjects),
        courses=tuple(courses),
        course_members=tuple(members),
        lessons=tuple(lessons),
        marks=tuple(marks),
        absences=tuple(absences),
        final_marks=tuple(finals),
    )


def _ranks(ids: Iterable[Any]) -> dict[Any, int]:
    return {key: rank for rank, key in enumerate(ids)}


def _holiday_key(h: Holiday) -> tuple[dt.date, dt.date, str]:
    return (h.start, h.end, h.name)


def _enrolment_span_key(e: Enrolment) -> tuple[bool, dt.date, bool, dt.date, int, str, str]:
    """Earliest first; an open start (None) before any date, an open end after any date."""
    return (
        e.joined is not None,
        e.joined or dt.date.min,
        e.left is None,
        e.left or dt.date.max,
        e.class_id,
        e.joined_note,
        e.left_note,
    )


# --- Reading a whole year back ---------------------------------------------------------

_SCHEME_ORDER = {scheme: rank for rank, scheme in enumerate(PeriodScheme)}

_CANONICAL_ORDER: dict[str, Callable[[Any], Any]] = {
    "periods": lambda p: (_SCHEME_ORDER[p.scheme], p.ordinal, p.code, p.start, p.end, p.name),
    "holidays": _holiday_key,
    "teachers": attrgetter("id"),
    "classes": attrgetter("id"),
    "students": attrgetter("id"),
    "enrolments": lambda e: (e.student_id, *_enrolment_span_key(e)),
    "guardians": lambda g: (g.student_id, g.last_name, g.first_name, g.patronymic, g.relation, g.phone),
    "subjects": attrgetter("id"),
    "courses": attrgetter("id"),
    "course_members": lambda m: (m.course_id, m.student_id),
    "lessons": attrgetter("id"),
    "marks": attrgetter("id"),
    "absences": lambda a: (a.lesson_id, a.student_id),
    "final_marks": lambda f: (f.student_id, f.subject_id, f.period, f.value),
}
"""How every collection of a SchoolYear is ordered: by id where there is one, else by all fields."""


def canonical_school_year(data: SchoolYear) -> SchoolYear:
    """The same school year with every collection in the canonical order that
    `read_school_year` returns, so `read_school_year(write_school_year(x)) == canonical_school_year(x)`.
    """
    return replace(
        data, **{name: tuple(sorted(getattr(data, name), key=key)) for name, key in _CANONICAL_ORDER.items()}
    )


def read_school_year(engine: Engine, year_name: str) -> SchoolYear:
    """Everything stored for one academic year, in canonical order (for export and round trips)."""
    with _reading(engine) as conn:
        year = _find_year(conn, year_name)
        y = year.id
        school_rows = conn.execute(sa.select(t.school).where(t.school.c.year_id == y)).all()
        if len(school_rows) != 1:
            raise SourceError(f"В базе данных журнала нет сведений о школе за {year.name} учебный год")

        def rows(table: sa.Table, convert: Callable[[sa.Row], Any]) -> tuple[Any, ...]:
            return tuple(_fetch(conn, table, convert, table.c.year_id == y))

        data = SchoolYear(
            school=_school(school_rows[0]),
            year=year,
            periods=rows(t.reporting_period, _period),
            holidays=rows(t.holiday, _holiday),
            teachers=rows(t.teacher, _teacher),
            classes=rows(t.school_class, _class),
            students=rows(t.student, _student),
            enrolments=rows(t.enrolment, _enrolment),
            guardians=rows(t.guardian, _guardian),
            subjects=rows(t.subject, _subject),
            courses=rows(t.course, _course),
            course_members=rows(t.course_member, _member),
            lessons=rows(t.lesson, _lesson),
            marks=rows(t.mark, _mark),
            absences=rows(t.absence, _absence),
            final_marks=rows(t.final_mark, _final),
        )
    return canonical_school_year(data)
