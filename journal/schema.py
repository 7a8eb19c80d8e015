"""The SQL schema of a journal source (SQLAlchemy Core), the same on SQLite and PostgreSQL.

Tables mirror `journal.model`, one table per model class. Design choices, and why:

- A database holds one school's journal, possibly for several academic years. Each year is
  written and read as a whole (`journal.source.write_school_year` / `read_school_year`),
  so every row carries `year_id` and the model's ids are unique *within a year*
  (keys are `(year_id, id)`). Two years produced independently — a demo, an XML import —
  can then share ids without clashing, and the school's details (director…) are kept as
  they stood in that year, which is what an archive must show.
- Enumerations are stored as their string values (`PeriodScheme`, `Assessment`,
  `LessonStatus`, `AbsenceReason`) with a CHECK, not as database enum types, so the
  schema is identical on both databases.
- Marks are plain strings without a CHECK: a wrong mark is for the validators to
  report (R9: nothing is silently dropped or refused on the way into the archive).
- Indexes serve per-class extraction: courses of a class, lessons of those courses by
  date, marks and absences of those lessons, enrolments of a class, final marks of a
  student. Ordering is never left to SQL (collations differ); `journal.source` sorts.
"""

from __future__ import annotations

import sqlalchemy as sa

from journal.model import AbsenceReason, Assessment, LessonStatus, PeriodScheme

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ModelId = sa.BigInteger
"""Ids from the source system; may exceed 32 bits."""


def _in_values(column: str, values: type) -> str:
    """A CHECK expression allowing exactly the string values of an enum."""
    allowed = ", ".join(f"'{member.value}'" for member in values)
    return f"{column} IN ({allowed})"


def _year_id() -> sa.Column:
    return sa.Column(
        "year_id",
        ModelId,
        sa.ForeignKey("academic_year.id", ondelete="CASCADE"),
        nullable=False,
        comment="Учебный год, которому принадлежит строка / academic year this row belongs to",
    )


def _person_columns() -> list[sa.Column]:
    return [
        sa.Column("last_name", sa.Text, nullable=False, comment="Фамилия / last name"),
        sa.Column("first_name", sa.Text, nullable=False, comment="Имя / first name"),
        sa.Column(
            "patronymic", sa.Text, nullable=False, comment="Отчество, '' если нет / patronymic, '' if none"
        ),
    ]


def _year_fk(columns: list[str], table: str, name: str | None = None) -> sa.ForeignKeyConstraint:
    """A foreign key to another table of the same year: (year_id, x) → table(year_id, id)."""
    return sa.ForeignKeyConstraint(
        ["year_id", *columns], [f"{table}.year_id", f"{table}.id"], name=name, ondelete="CASCADE"
    )


academic_year = sa.Table(
    "academic_year",
    metadata,
    sa.Column("id", ModelId, primary_key=True, autoincrement=False),
    sa.Column("name", sa.Text, nullable=False, unique=True, comment="«2024/2025»; how users name the year"),
    sa.Column("start_date", sa.Date, nullable=False, comment="Первый учебный день / first school day"),
    sa.Column("end_date", sa.Date, nullable=False, comment="Последний учебный день / last school day"),
    sa.CheckConstraint("start_date <= end_date", name="span"),
    comment="Учебный год школы / an academic year; the unit written and read as a whole",
)

school = sa.Table(
    "school",
    metadata,
    sa.Column(
        "year_id",
        ModelId,
        sa.ForeignKey("academic_year.id", ondelete="CASCADE"),
        primary_key=True,
        comment="One row per year: the school's details as they stood that year",
    ),
    sa.Column("id", ModelId, nullable=False, comment="Id of the school in the source system"),
    sa.Column("name", sa.Text, nullable=False, comment="Полное наименование / full official name"),
    sa.Column("short_name", sa.Text, nullable=False, comment="Краткое наименование / short name"),
    sa.Column("address", sa.Text, nullable=False, comment="Адрес / postal address"),
    sa.Column("director", sa.Text, nullable=False, comment="Директор (ФИО) / director who signs (A1)"),
    comment="Школа / the school, as recorded for an academic year",
)

reporting_period = sa.Table(
    "reporting_period",
    metadata,
    _year_id(),
    sa.Column(
        "scheme",
        sa.String(16),
        nullable=False,
        comment="Схема деления года: quarters | trimesters | halves (PeriodScheme)",
    ),
    sa.Column("code", sa.String(16), nullable=False, comment="Q1…Q4, T1…T3, H1, H2"),
    sa.Column("ordinal", sa.Integer, nullable=False, comment="Порядковый номер в схеме / 1-based position"),
    sa.Column("name", sa.Text, nullable=False, comment="«I четверть» — name used in print"),
    sa.Column("start_date", sa.Date, nullable=False, comment="Первый день периода (включительно)"),
    sa.Column("end_date", sa.Date, nullable=False, comment="Последний день периода (включительно)"),
    sa.PrimaryKeyConstraint("year_id", "scheme", "code"),
    sa.UniqueConstraint("year_id", "scheme", "ordinal"),
    sa.CheckConstraint(_in_values("scheme", PeriodScheme), name="scheme"),
    sa.CheckConstraint("start_date <= end_date", name="span"),
    comment="Отчётный период (четверть, триместр, полугодие) / reporting period of every scheme (J4)",
)

holiday = sa.Table(
    "holiday",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, comment="Surrogate key; not part of the model"),
    _year_id(),
    sa.Column("name", sa.Text, nullable=False, comment="«Осенние каникулы»"),
    sa.Column("start_date", sa.Date, nullable=False, comment="Первый день (включительно)"),
    sa.Column("end_date", sa.Date, nullable=False, comment="Последний день (включительно)"),
    sa.CheckConstraint("start_date <= end_date", name="span"),
    sa.Index(None, "year_id"),
    comment="Каникулы / school holidays of the year",
)

teacher = sa.Table(
    "teacher",
    metadata,
    _year_id(),
    sa.Column("id", ModelId, nullable=False, autoincrement=False),
    *_person_columns(),
    sa.PrimaryKeyConstraint("year_id", "id"),
    comment="Учитель / teacher",
)

school_class = sa.Table(
    "school_class",
    metadata,
    _year_id(),
    sa.Column("id", ModelId, nullable=False, autoincrement=False),
    sa.Column("name", sa.Text, nullable=False, comment="«5А» — how users name the class"),
    sa.Column("grade", sa.Integer, nullable=False, comment="Параллель / grade, 1–11"),
    sa.Column("letter", sa.Text, nullable=False, comment="Литера / letter, «А»"),
    sa.Column("class_teacher_id", ModelId, comment="Классный руководитель / class teacher, if any"),
    sa.Column(
        "period_scheme",
        sa.String(16),
        nullable=False,
        comment="Как делится год этого класса: quarters | trimesters | halves",
    ),
    sa.PrimaryKeyConstraint("year_id", "id"),
    sa.UniqueConstraint("year_id", "name"),
    _year_fk(["class_teacher_id"], "teacher"),
    sa.CheckConstraint(_in_values("period_scheme", PeriodScheme), name="period_scheme"),
    comment="Класс / a class of one academic year",
)

student = sa.Table(
    "student",
    metadata,
    _year_id(),
    sa.Column("id", ModelId, nullable=False, autoincrement=False),
    *_person_columns(),
    sa.Column("birth_date", sa.Date, comment="Дата рождения, если известна / birth date if known"),
    sa.PrimaryKeyConstraint("year_id", "id"),
    comment="Обучающийся / student (J1)",
)

enrolment = sa.Table(
    "enrolment",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, comment="Surrogate key; not part of the model"),
    _year_id(),
    sa.Column("student_id", ModelId, nullable=False),
    sa.Column("class_id", ModelId, nullable=False),
    sa.Column(
        "joined_on", sa.Date, comment="Дата прибытия; NULL — с начала года / joined, NULL = from start"
    ),
    sa.Column("left_on", sa.Date, comment="Дата выбытия; NULL — до конца года / left, NULL = to the end"),
    sa.Column("joined_note", sa.Text, nullable=False, comment="«прибыл из МБОУ СОШ № 3»"),
    sa.Column("left_note", sa.Text, nullable=False, comment="«выбыл в связи с переездом»"),
    _year_fk(["student_id"], "student"),
    _year_fk(["class_id"], "school_class"),
    sa.CheckConstraint("joined_on IS NULL OR left_on IS NULL OR joined_on <= left_on", name="span"),
    sa.Index(None, "year_id", "class_id"),
    sa.Index(None, "year_id", "student_id"),
    comment="Зачисление ученика в класс (движение обучающихся) / a student's membership of a class (J1)",
)

guardian = sa.Table(
    "guardian",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, comment="Surrogate key; not part of the model"),
    _year_id(),
    sa.Column("student_id", ModelId, nullable=False, comment="Чей родитель / whose guardian"),
    *_person_columns(),
    sa.Column("relation", sa.Text, nullable=False, comment="мать, отец, опекун…"),
    sa.Column("phone", sa.Text, nullable=False, comment="Телефон, '' если нет / phone, '' if none"),
    _year_fk(["student_id"], "student"),
    sa.Index(None, "year_id", "student_id"),
    comment="Родитель (законный представитель) / parent or guardian of a student (J1, A2: personal data)",
)

subject = sa.Table(
    "subject",
    metadata,
    _year_id(),
    sa.Column("id", ModelId, nullable=False, autoincrement=False),
    sa.Column("name", sa.Text, nullable=False, comment="«Русский язык»"),
    sa.Column("short_name", sa.Text, nullable=False, comment="«Рус. яз.» for narrow columns"),
    sa.Column("ordinal", sa.Integer, nullable=False, comment="Место в учебном плане / order in print"),
    sa.PrimaryKeyConstraint("year_id", "id"),
    comment="Учебный предмет / subject of the curriculum",
)

course = sa.Table(
    "course",
    metadata,
    _year_id(),
    sa.Column("id", ModelId, nullable=False, autoincrement=False),
    sa.Column("class_id", ModelId, nullable=False),
    sa.Column("subject_id", ModelId, nullable=False),
    sa.Column(
        "subgroup",
        sa.Text,
        nullable=False,
        comment="'' — весь класс, иначе «1 группа» / subgroup, '' = class",
    ),
    sa.Column("teacher_id", ModelId, nullable=False, comment="Учитель по нагрузке / the assigned teacher"),
    sa.Column("hours_per_week", sa.Double, nullable=False, comment="Часов в неделю по учебному плану"),
    sa.Column("assessment", sa.String(16), nullable=False, comment="marks | credit | none (Assessment)"),
    sa.PrimaryKeyConstraint("year_id", "id"),
    _year_fk(["class_id"], "school_class"),
    _year_fk(["subject_id"], "subject"),
    _year_fk(["teacher_id"], "teacher"),
    sa.CheckConstraint(_in_values("assessment", Assessment), name="assessment"),
    sa.CheckConstraint("hours_per_week >= 0", name="hours"),
    sa.Index(None, "year_id", "class_id"),
    comment="Предмет в классе или подгруппе (страница журнала) / a subject for a class or subgroup (J2)",
)

course_member = sa.Table(
    "course_member",
    metadata,
    _year_id(),
    sa.Column("course_id", ModelId, nullable=False),
    sa.Column("student_id", ModelId, nullable=False),
    sa.PrimaryKeyConstraint("year_id", "course_id", "student_id"),
    _year_fk(["course_id"], "course"),
    _year_fk(["student_id"], "student"),
    comment="Состав подгруппы / members of a subgroup course (whole-class courses have none)",
)

lesson = sa.Table(
    "lesson",
    metadata,
    _year_id(),
    sa.Column("id", ModelId, nullable=False, autoincrement=False),
    sa.Column("course_id", ModelId, nullable=False),
    sa.Column("date", sa.Date, nullable=False, comment="Дата урока / lesson date"),
    sa.Column("number", sa.Integer, nullable=False, comment="Номер урока в дне / lesson number in the day"),
    sa.Column("topic", sa.Text, nullable=False, comment="Тема урока (КТП) / topic from the thematic plan"),
    sa.Column("homework", sa.Text, nullable=False, comment="Домашнее задание, '' если нет"),
    sa.Column("teacher_id", ModelId, nullable=False, comment="Учитель, за которым урок / teacher of record"),
    sa.Column("substitute_teacher_id", ModelId, comment="Заменяющий учитель (замена, J5) / substitute"),
    sa.Column("status", sa.String(16), nullable=False, comment="held | missed (не проведён, J5)"),
    sa.PrimaryKeyConstraint("year_id", "id"),
    _year_fk(["course_id"], "course"),
    _year_fk(["teacher_id"], "teacher"),
    _year_fk(["substitute_teacher_id"], "teacher"),
    sa.CheckConstraint(_in_values("status", LessonStatus), name="status"),
    sa.Index(None, "year_id", "course_id", "date"),
    comment="Урок / a lesson of a course (J2, J5)",
)

mark = sa.Table(
    "mark",
    metadata,
    _year_id(),
    sa.Column("id", ModelId, nullable=False, autoincrement=False),
    sa.Column("lesson_id", ModelId, nullable=False),
    sa.Column("student_id", ModelId, nullable=False),
    sa.Column("value", sa.Text, nullable=False, comment="«1»…«5» или н/а, зач, незач, осв"),
    sa.Column("work_kind", sa.Text, nullable=False, comment="Вид работы: «контрольная работа»…"),
    sa.PrimaryKeyConstraint("year_id", "id"),
    _year_fk(["lesson_id"], "lesson"),
    _year_fk(["student_id"], "student"),
    sa.Index(None, "year_id", "lesson_id"),
    comment="Отметка за урок / a mark given in a lesson (J2)",
)

absence = sa.Table(
    "absence",
    metadata,
    _year_id(),
    sa.Column("lesson_id", ModelId, nullable=False),
    sa.Column("student_id", ModelId, nullable=False),
    sa.Column(
        "reason",
        sa.String(16),
        comment="valid (уважительная) | illness (болезнь) | invalid (неуважительная) | NULL — не указана",
    ),
    # The primary key starts with (year_id, lesson_id): it is the index for per-lesson look-ups.
    sa.PrimaryKeyConstraint("year_id", "lesson_id", "student_id"),
    _year_fk(["lesson_id"], "lesson"),
    _year_fk(["student_id"], "student"),
    sa.CheckConstraint(f"reason IS NULL OR {_in_values('reason', AbsenceReason)}", name="reason"),
    comment="Пропуск урока / a student's absence from a lesson (J3)",
)

final_mark = sa.Table(
    "final_mark",
    metadata,
    _year_id(),
    sa.Column("student_id", ModelId, nullable=False),
    sa.Column("subject_id", ModelId, nullable=False),
    sa.Column(
        "period",
        sa.String(16),
        nullable=False,
        comment="Код периода (Q1, H2…) или Y (годовая), EXAM (экзамен), FINAL (итоговая)",
    ),
    sa.Column("value", sa.Text, nullable=False, comment="«1»…«5» или н/а, зач, незач, осв"),
    # The primary key starts with (year_id, student_id): it is the index for per-student look-ups.
    sa.PrimaryKeyConstraint("year_id", "student_id", "subject_id", "period"),
    _year_fk(["student_id"], "student"),
    _year_fk(["subject_id"], "subject"),
    comment="Отметка за период, год, экзамен, итоговая / period, year, exam or final mark (J4, R3)",
)

TABLES_IN_WRITE_ORDER = (
    academic_year,
    school,
    reporting_period,
    holiday,
    teacher,
    school_class,
    student,
    enrolment,
    guardian,
    subject,
    course,
    course_member,
    lesson,
    mark,
    absence,
    final_mark,
)
"""Parents before children, so foreign keys hold at every insert."""
