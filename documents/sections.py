"""The whole class journal as sheets: title, students, subjects, attendance, reports, certification (R2).

The order is that of a paper class journal (R2, J1–J5, P1, P2):

1. title sheet — school, class, year and span, class teacher, date of forming; the contents
   (each section with its sheets) and the total number of sheets;
2. «Список обучающихся» — students with birth dates, arrivals and departures, parents (J1);
3. per course (subject or subgroup) its marks sheets and lessons sheets (documents/layout.py);
4. «Сводка посещаемости» — lessons and days missed per student, by reason (J3);
5. «Отчёт об успеваемости и посещаемости» — per course and for the class (P1);
6. «Анализ ведения журнала» — students with no or one mark, lessons held, topics, homework (P2);
7. «Заверительный лист» — «пронумеровано и прошнуровано N (…) листов», signatures, «М. П.».

A year snapshot reports every period of the class and then the year.

Every sheet model is one page, so the number of pages is known before rendering: the body is
laid out first, the contents' length (the title sheet may continue) does not depend on the
numbers in it, and then everything is numbered and the title and certification sheets are
filled in. Sheets are pages by default; `duplex=True` counts two pages a sheet (the title's
total, the contents and the certification say sheets; a front page says «Лист k из M», its
back «оборот листа k»).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar

from documents.fonts import clean_text
from documents.layout import (
    PAGE,
    Box,
    PageGeometry,
    Section,
    Sheet,
    SheetDocument,
    SheetHeader,
    TextBlock,
    centred_text,
    class_teacher_line,
    courses_in_print_order,
    lessons_sheets,
    marks_sheets,
    number_sheets,
    sheet_count,
    sheet_header,
    span_title,
    text_line,
)
from documents.statistics import (
    Absences,
    Keeping,
    Progress,
    Span,
    attendance,
    class_progress,
    course_keeping,
    course_progress,
    report_spans,
)
from documents.tables import Column, Row, RowKind, TablePart, layout_table
from journal.model import FINAL_YEAR, ClassJournal, Enrolment, Student, person_sort_key
from journal.russian import (
    count_words,
    format_date,
    format_date_range,
    format_date_short,
    format_decimal,
    format_percent,
    plural,
    sheets_with_words,
    signature_name,
)

TITLE_SECTION = "Титульный лист"
STUDENTS_SECTION = "Список обучающихся"
ATTENDANCE_SECTION = "Сводка посещаемости"
PROGRESS_SECTION = "Отчёт об успеваемости и посещаемости"
KEEPING_SECTION = "Анализ ведения журнала"
CERTIFICATION_SECTION = "Заверительный лист"
MARKS_PART = "отметки"
LESSONS_PART = "содержание уроков"
DASH = "—"


@dataclass(frozen=True, slots=True)
class TextSheet:
    """Any sheet that is not a marks or lessons grid: positioned text blocks, ruled tables and a
    few drawn lines, all fitted in Python (one page, whatever the data)."""

    template: ClassVar[str] = "journal/text_sheet.html"

    header: SheetHeader
    blocks: tuple[TextBlock, ...] = ()
    tables: tuple[TablePart, ...] = ()
    lines: str = ""  # SVG path data in page millimetres: signature lines, the title's frame
    heading: bool = True  # print the header's title and subtitle lines (the title sheet has its own)
    number: int = 0
    total: int = 0
    label: str = ""


# --- Geometry of the text sheets ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TextGeometry:
    page: PageGeometry = PAGE
    title_split: float = 150.0  # the title sheet: left panel up to here, contents right of it

    @property
    def body_top(self) -> float:
        return self.page.grid_top

    @property
    def body_bottom(self) -> float:
        return self.page.body_bottom

    @property
    def body(self) -> Box:
        """Where tables go: the printable width less half a rule each side (their frames stay inside)."""
        ruled = self.page.ruled
        return Box(ruled.left, self.body_top, ruled.width, self.body_bottom - self.body_top)

    @property
    def contents_box(self) -> Box:
        left = self.title_split + 6.0
        top = self.body_top + 12.0
        return Box(left, top, self.page.width - self.page.margin_right - 4.0 - left, self.body_bottom - top)

    @property
    def contents_more(self) -> Box:
        """The contents continued on a sheet of its own: the same columns, the body's height."""
        box = self.contents_box
        return Box(box.left, self.body_top, box.width, self.body_bottom - self.body_top)


TEXT = TextGeometry()


def _header(journal: ClassJournal, title: str, *bits: str, part: str = "") -> SheetHeader:
    return sheet_header(journal, title, [*bits, span_title(journal), *([part] if part else [])])


def _table_sheets(
    journal: ClassJournal,
    title: str,
    subtitle: Sequence[str],
    columns: Sequence[Column],
    rows: Sequence[Row],
) -> tuple[TextSheet, ...]:
    parts = layout_table(columns, rows, TEXT.body)
    sheets = []
    for i, part in enumerate(parts):
        more = f"часть {i + 1} из {len(parts)}" if len(parts) > 1 else ""
        sheets.append(TextSheet(header=_header(journal, title, *subtitle, part=more), tables=(part,)))
    return tuple(sheets)


# --- Students (J1) ---------------------------------------------------------------------


def student_list_sheets(journal: ClassJournal) -> tuple[TextSheet, ...]:
    """№, Ф. И. О., birth date, arrivals and departures in the span, parents and guardians (J1)."""
    columns = (
        Column("№", 9, "right"),
        Column("Фамилия, имя, отчество обучающегося", 0, lines=2),
        Column("Дата рождения", 19, "center"),
        Column("Прибытие и выбытие", 62, lines=4),
        Column("Фамилия, имя, отчество", 0, group="Родители (законные представители)", lines=4),
        Column("Кем приходится", 21, group="Родители (законные представители)", lines=4),
        Column("Телефон", 29, group="Родители (законные представители)", lines=4),
    )
    guardians: dict[int, list] = {}
    for g in sorted(journal.guardians, key=person_sort_key):
        guardians.setdefault(g.student_id, []).append(g)
    rows = []
    for number, student in enumerate(journal.students, start=1):
        kin = guardians.get(student.id, [])
        rows.append(
            Row(
                (
                    str(number),
                    student.full_name,
                    format_date_short(student.birth_date) if student.birth_date else "",
                    "; ".join(_movements(journal, student)),
                    tuple(g.full_name for g in kin) or ("",),
                    tuple(g.relation for g in kin) or ("",),
                    tuple(g.phone for g in kin) or ("",),
                )
            )
        )
    at_start = sum(journal.is_enrolled(s.id, journal.start) for s in journal.students)
    at_end = sum(journal.is_enrolled(s.id, journal.end) for s in journal.students)
    joined = sum(
        1 for e in journal.enrolments if e.joined is not None and journal.start < e.joined <= journal.end
    )
    left = sum(1 for e in journal.enrolments if e.left is not None and journal.start <= e.left < journal.end)
    summary = (
        f"Движение обучающихся: на {format_date_short(journal.start)} — {at_start}, прибыло — {joined}, "
        f"выбыло — {left}, на {format_date_short(journal.end)} — {at_end}."
    )
    rows.append(Row((summary,), RowKind.NOTE))
    return _table_sheets(journal, STUDENTS_SECTION, [class_teacher_line(journal)], columns, rows)


def _movements(journal: ClassJournal, student: Student) -> list[str]:
    """«11.11.2024 — прибыла из МБОУ СОШ № 3», «10.10.2024 — выбыл…»: what happened in the span."""
    events: list[tuple[dt.date, str]] = []
    for e in sorted(journal.enrolments_of(student.id), key=_enrolment_key):
        if e.joined is not None and journal.start < e.joined <= journal.end:
            events.append((e.joined, e.joined_note or "зачислен(а) в класс"))
        if e.left is not None and journal.start <= e.left < journal.end:
            events.append((e.left, e.left_note or "выбыл(а) из класса"))
    return [f"{format_date_short(day)} — {clean_text(note, 300)}" for day, note in events]


def _enrolment_key(e: Enrolment) -> tuple[dt.date, dt.date]:
    return (e.joined or dt.date.min, e.left or dt.date.max)


# --- Attendance (J3) -----------------------------------------------------------------


def attendance_sheets(journal: ClassJournal) -> tuple[TextSheet, ...]:
    """Lessons (and whole days) missed per student, by reason, with the class's totals (J3, P1).

    A year journal also shows each period's total, so the year's figures can be checked
    against the quarter archives.
    """
    year_mode = journal.period is None
    spans = report_spans(journal)
    periods = spans[:-1] if year_mode else ()
    whole = "За учебный год" if year_mode else "Пропущено за период"
    columns = [Column("№", 9, "right"), Column("Фамилия, имя, отчество обучающегося", 0)]
    columns += [Column(p.name, 17, "center", group="Пропущено уроков по периодам") for p in periods]
    columns += [
        Column("уроков всего", 17, "center", group=whole),
        Column("по уважи- тельной причине", 20, "center", group=whole),
        Column("из них по болезни", 17, "center", group=whole),
        Column("без уважи- тельной причины", 20, "center", group=whole),
        Column("причина не указана", 19, "center", group=whole),
        Column("дней целиком", 16, "center", group=whole),
    ]
    per_period = [attendance(journal, p.start, p.end) for p in periods]
    span = attendance(journal, journal.start, journal.end)
    rows = []
    totals = Absences()
    period_totals = [0] * len(periods)
    for number, student in enumerate(journal.students, start=1):
        a = span[student.id]
        totals += a
        by_period = [counts[student.id].total for counts in per_period]
        period_totals = [t + n for t, n in zip(period_totals, by_period, strict=True)]
        rows.append(Row((str(number), student.full_name, *map(_count, by_period), *_absence_cells(a))))
    rows.append(
        Row(("", "Итого по классу", *map(_count, period_totals), *_absence_cells(totals)), RowKind.TOTAL)
    )
    rows.append(
        Row(
            (
                "Уважительные причины включают болезнь. День считается пропущенным целиком, если "
                "обучающийся отсутствовал на всех своих проведённых уроках этого дня. «—» — пропусков нет.",
            ),
            RowKind.NOTE,
        )
    )
    return _table_sheets(journal, ATTENDANCE_SECTION, [class_teacher_line(journal)], columns, rows)


def _count(n: int) -> str:
    return str(n) if n else DASH


def _absence_cells(a: Absences) -> tuple[str, ...]:
    return tuple(_count(n) for n in (a.total, a.valid, a.illness, a.invalid, a.unknown, a.days))


# --- Progress (P1) ---------------------------------------------------------------------


def _short_names(journal: ClassJournal, ids: Sequence[int]) -> str:
    return ", ".join(journal.student_by_id[i].short_name for i in ids if i in journal.student_by_id)


def _average(value: Decimal | None) -> str:
    return format_decimal(value, 2) if value is not None else DASH


def progress_sheets(journal: ClassJournal) -> tuple[TextSheet, ...]:
    """P1: per course and for the class — attested, marks 5…2, успеваемость, качество, average,
    who is not attested, lessons missed; a year journal has a block per period and the year."""
    marks = "Отметки за период"
    missed = "Пропущено уроков"
    columns = (
        Column("№", 8, "right"),
        Column("Предмет (подгруппа)", 0, lines=2),
        Column("Учитель", 27, lines=2),
        Column("Обуча- ющихся", 15, "center"),
        Column("Аттесто- вано", 15, "center"),
        Column("«5»", 9, "center", group=marks),
        Column("«4»", 9, "center", group=marks),
        Column("«3»", 9, "center", group=marks),
        Column("«2»", 9, "center", group=marks),
        Column("зач", 9, "center", group=marks),
        Column("незач", 10, "center", group=marks),
        Column("Успевае- мость", 16, "center"),
        Column("Качество", 16, "center"),
        Column("Средний балл", 15, "center"),
        Column("Не аттестованы (н/а)", 34, lines=3),
        Column("всего", 14, "center", group=missed),
        Column("без уважит. причины", 16, "center", group=missed),
    )
    rows: list[Row] = []
    courses = courses_in_print_order(journal)
    spans = report_spans(journal)
    for span in spans:
        if len(spans) > 1:
            rows.append(Row((_span_heading(journal, span),), RowKind.GROUP))
        progress = [course_progress(journal, course, span) for course in courses]
        for number, (course, p) in enumerate(zip(courses, progress, strict=True), start=1):
            rows.append(
                Row(
                    (
                        str(number),
                        journal.course_title(course),
                        _teacher(journal, course.teacher_id),
                        *_progress_cells(journal, p),
                    )
                )
            )
        whole = class_progress(journal, span)
        sums = [sum(p.grades[i] for p in progress) for i in range(4)]
        rows.append(
            Row(
                (
                    "",
                    "Итого по классу",
                    "",
                    str(len(whole.students)),
                    str(len(whole.attested)),
                    *(_count(n) for n in sums),
                    _count(sum(p.credits for p in progress)),
                    _count(sum(p.fails for p in progress)),
                    format_percent(whole.succeeded, len(whole.attested)),
                    format_percent(whole.quality, len(whole.attested)),
                    _average(whole.average),
                    _not_attested(journal, whole.not_attested),
                    _count(sum(p.absences for p in progress)),
                    _count(sum(p.absences_invalid for p in progress)),
                ),
                RowKind.TOTAL,
            )
        )
        groups = (
            ("отличники", whole.excellent),
            ("на «4» и «5»", whole.good),
            ("с одной «3»", whole.one_three),
            ("неуспевающие", whole.failing),
            ("не аттестованы", whole.not_attested),
        )
        summary = "; ".join(
            f"{title} — {len(ids)}" + (f" ({_short_names(journal, ids)})" if ids and len(ids) <= 12 else "")
            for title, ids in groups
        )
        rows.append(Row((f"Итоги по классу: {summary}.",), RowKind.NOTE))
    rows.append(
        Row(
            (
                "Успеваемость — доля аттестованных с отметками «3», «4», «5» и «зач»; качество — доля "
                "аттестованных с отметками «4» и «5»; средний балл — по отметкам за период. В столбце «2» "
                "учтены и отметки «1». По классу: успевающие — аттестованные без «2» и «незач»; качество — "
                "доля отличников и обучающихся на «4» и «5».",
            ),
            RowKind.NOTE,
        )
    )
    return _table_sheets(journal, PROGRESS_SECTION, [class_teacher_line(journal)], columns, rows)


def _span_heading(journal: ClassJournal, span: Span) -> str:
    if span.code == FINAL_YEAR:
        return f"Учебный год ({format_date_range(span.start, span.end)}), годовые отметки"
    return f"{span.name} ({format_date_range(span.start, span.end)})"


def _teacher(journal: ClassJournal, teacher_id: int) -> str:
    teacher = journal.teacher_by_id.get(teacher_id)
    return teacher.short_name if teacher else "не указан"


def _not_attested(journal: ClassJournal, ids: Sequence[int]) -> str:
    return f"{len(ids)}: {_short_names(journal, ids)}" if ids else DASH


def _progress_cells(journal: ClassJournal, p: Progress) -> tuple[str, ...]:
    if not p.assessed:
        return (
            str(p.students),
            DASH,
            *([DASH] * 6),
            DASH,
            DASH,
            DASH,
            "не оценивается",
            _count(p.absences),
            _count(p.absences_invalid),
        )
    numeric = sum(p.grades)
    return (
        str(p.students),
        str(p.attested),
        *(_count(n) for n in p.grades),
        _count(p.credits),
        _count(p.fails),
        format_percent(p.succeeded, p.attested),
        format_percent(p.good, p.attested) if numeric else DASH,
        _average(p.average),
        _not_attested(journal, p.not_attested),
        _count(p.absences),
        _count(p.absences_invalid),
    )


# --- Journal keeping (P2) --------------------------------------------------------------


def keeping_sheets(journal: ClassJournal) -> tuple[TextSheet, ...]:
    """P2: students with no marks and with exactly one mark, lessons recorded, held, not held and
    substituted, held lessons without a topic or homework — per course, per span (J5)."""
    none = "Без отметок"
    one = "С одной отметкой"
    lessons = "Уроков"
    gaps = "Проведено уроков"
    columns = (
        Column("№", 8, "right"),
        Column("Предмет (подгруппа)", 0, lines=2),
        Column("Учитель", 32, lines=2),
        Column("Обуча- ющихся", 15, "center"),
        Column("чел.", 11, "center", group=none),
        Column("доля", 15, "center", group=none),
        Column("чел.", 11, "center", group=one),
        Column("доля", 15, "center", group=one),
        Column("в журнале", 17, "center", group=lessons),
        Column("прове- дено", 14, "center", group=lessons),
        Column("не прове- дено", 14, "center", group=lessons),
        Column("с заменой", 14, "center", group=lessons),
        Column("без темы", 14, "center", group=gaps),
        Column("без домаш- него задания", 18, "center", group=gaps),
    )
    rows: list[Row] = []
    courses = courses_in_print_order(journal)
    spans = report_spans(journal)
    for span in spans:
        if len(spans) > 1:
            rows.append(Row((_span_heading(journal, span).replace(", годовые отметки", ""),), RowKind.GROUP))
        total = Keeping(no_marks=None, one_mark=None)
        for number, course in enumerate(courses, start=1):
            k = course_keeping(journal, course, span)
            total = total + k
            rows.append(
                Row(
                    (
                        str(number),
                        journal.course_title(course),
                        _teacher(journal, course.teacher_id),
                        *_keeping_cells(k, k.students),
                    )
                )
            )
        rows.append(
            Row(("", "Итого по классу", "", *_keeping_cells(total, total.assessed_students)), RowKind.TOTAL)
        )
    rows.append(
        Row(
            (
                "Доли — от числа обучающихся предмета (подгруппы), числившихся в классе в период; в строке "
                "«Итого» — число и доля пар «обучающийся — предмет». «Уроков в журнале» — уроки "
                "календарно-тематического планирования, записанные в журнал; «без темы» и «без домашнего "
                "задания» считаются по проведённым урокам. У предметов без отметок (безотметочное "
                "обучение) доли не считаются.",
            ),
            RowKind.NOTE,
        )
    )
    return _table_sheets(journal, KEEPING_SECTION, [class_teacher_line(journal)], columns, rows)


def _keeping_cells(k: Keeping, base: int) -> tuple[str, ...]:
    def share(n: int | None) -> tuple[str, str]:
        if n is None:
            return DASH, DASH
        return str(n), format_percent(n, base)

    return (
        str(k.students),
        *share(k.no_marks),
        *share(k.one_mark),
        str(k.lessons),
        str(k.held),
        _count(k.missed),
        _count(k.substituted),
        _count(k.no_topic),
        _count(k.no_homework),
    )


# --- Title and certification (R2) ---------------------------------------------------------


def _contents_columns() -> tuple[Column, ...]:
    return (
        Column("№", 8, "right"),
        Column("Раздел журнала", 0, lines=2),
        Column("Листы", 44, "center", lines=2),
    )


def _contents_rows(entries: Sequence[tuple[str, str]]) -> tuple[Row, ...]:
    return tuple(Row((str(i), title, pages)) for i, (title, pages) in enumerate(entries, start=1))


def _contents_entries(sections: Sequence[Section], duplex: bool) -> list[tuple[str, str]]:
    """One line per section; the parts of a course share a line: «отметки 3–4; уроки 5–6»."""
    entries: list[tuple[str, str]] = []
    index_of: dict[str, int] = {}
    for s in sections:
        if not s.group:
            entries.append((s.title, s.sheet_range(duplex)))
            continue
        word = "отметки" if s.part == MARKS_PART else "уроки"
        text = f"{word} {s.sheet_range(duplex)}"
        if s.group in index_of:
            title, pages = entries[index_of[s.group]]
            entries[index_of[s.group]] = (title, f"{pages}; {text}")
        else:
            index_of[s.group] = len(entries)
            entries.append((s.group, text))
    return entries


def title_sheets(
    journal: ClassJournal, sections: Sequence[Section], sheets: int, duplex: bool
) -> tuple[TextSheet, ...]:
    """The title sheet (and, for a very long contents, its continuation sheets)."""
    g = TEXT
    p = g.page
    left, width = p.margin_left + 6.0, g.title_split - p.margin_left - 12.0
    school = centred_text(journal.school.name, left, 24, width, 11, bold=True, lines=3)
    blocks = [
        school,
        centred_text(journal.school.address, left, school.box.bottom + 2, width, 8, lines=2),
        centred_text("КЛАССНЫЙ ЖУРНАЛ", left, 66, width, 26, bold=True),
        centred_text(f"{journal.school_class.name} класса", left, 82, width, 18, bold=True),
        centred_text(span_title(journal), left, 96, width, 13, lines=2),
        centred_text(format_date_range(journal.start, journal.end), left, 104, width, 10),
        centred_text(
            class_teacher_line(journal, full=True),
            left,
            124,
            width,
            10,
            lines=2,
        ),
        centred_text(f"Журнал сформирован {format_date(journal.end)}", left, 134, width, 10),
        centred_text(
            f"Всего в журнале {count_words(sheets, 'лист', 'листа', 'листов')}",
            left,
            168,
            width,
            14,
            bold=True,
        ),
        centred_text(
            "(листы считаются по двум страницам: печать с двух сторон)"
            if duplex
            else "(каждая страница — отдельный лист)",
            left,
            176,
            width,
            8,
        ),
    ]
    box = g.contents_box
    parts = layout_table(
        _contents_columns(),
        _contents_rows(_contents_entries(sections, duplex)),
        g.contents_more,
        first_box=box,
    )
    contents_title = centred_text("СОДЕРЖАНИЕ", box.left, g.body_top + 3, box.width, 12, bold=True)
    inner = p.content_width - 2.4
    top, height = p.printable.top + 0.2, g.body_bottom - p.printable.top - 0.4  # the 0.3 mm line's ink inside
    frame = (  # a double frame round the page, and a rule between the title and the contents
        f"M{p.margin_left + 0.2} {top}h{p.content_width - 0.4}v{height}h{-(p.content_width - 0.4)}z"
        f"M{p.margin_left + 1.4} {top + 1.2}h{inner - 0.4}v{height - 2.4}h{-(inner - 0.4)}z"
        f"M{g.title_split} {top + 6}V{g.body_bottom - 4}"
    )
    title = TextSheet(
        header=_header(journal, TITLE_SECTION),
        blocks=(*blocks, contents_title),
        tables=(parts[0],),
        lines=frame,
        heading=False,
    )
    more = tuple(
        TextSheet(header=_header(journal, "Содержание (продолжение)"), tables=(part,)) for part in parts[1:]
    )
    return (title, *more)


def title_sheet_count(sections: Sequence[Section]) -> int:
    """How many sheets the title takes for these sections (its numbers do not change the count)."""
    entries = _contents_entries(sections, False)
    return len(
        layout_table(
            _contents_columns(), _contents_rows(entries), TEXT.contents_more, first_box=TEXT.contents_box
        )
    )


def certification_sheet(journal: ClassJournal, sheets: int) -> TextSheet:
    """«В настоящем журнале пронумеровано и прошнуровано N (…) листов», signatures, «М. П.» (R2, A1)."""
    p = TEXT.page
    left, width = p.margin_left + 30, p.content_width - 60
    verb = plural(
        sheets, "пронумерован и прошнурован", "пронумеровано и прошнуровано", "пронумеровано и прошнуровано"
    )
    teacher = journal.class_teacher
    director = signature_name(clean_text(journal.school.director, 200)) or "_______________"
    blocks = [
        centred_text("ЗАВЕРИТЕЛЬНЫЙ ЛИСТ", left, 40, width, 18, bold=True),
        centred_text(
            f"В настоящем журнале {verb} {sheets_with_words(sheets)}.",
            left,
            62,
            width,
            14,
            lines=2,
        ),
        centred_text(
            f"Классный журнал {journal.school_class.name} класса, {span_title(journal)}; "
            f"{clean_text(journal.school.name, 300)}.",
            left,
            80,
            width,
            10,
            lines=3,
        ),
        centred_text(
            f"Журнал сформирован {format_date(journal.end)} по данным электронного классного журнала.",
            left,
            94,
            width,
            10,
            lines=2,
        ),
    ]
    rows = [
        ("Классный руководитель", signature_name(teacher.full_name) if teacher else ""),
        ("Журнал проверил: заместитель директора", ""),
        ("Директор", director),
    ]
    lines = []
    x_sign, x_name = left + 100, left + 150
    for i, (role, name) in enumerate(rows):
        top = 118 + i * 14
        blocks.append(text_line(role, left + 10, top, 88, 11))
        lines.append(f"M{x_sign} {top + 5.2}H{x_name}")
        if name:
            blocks.append(text_line(f"/ {name} /", x_name + 2, top, 80, 11))
        else:  # a name to be written in by hand: «/ ________ /»
            blocks.append(text_line("/", x_name + 2, top, 4, 11))
            blocks.append(text_line("/", x_name + 46, top, 4, 11))
            lines.append(f"M{x_name + 6} {top + 5.2}H{x_name + 44}")
    blocks.append(text_line("М. П.", left + 10, 166, 30, 12, bold=True))
    blocks.append(text_line("«____» ________________ 20____ г.", x_sign, 166, 100, 11))
    return TextSheet(
        header=_header(journal, CERTIFICATION_SECTION),
        blocks=tuple(blocks),
        lines="".join(lines),
        heading=False,
    )


# --- The document --------------------------------------------------------------------------


def journal_document(journal: ClassJournal, *, duplex: bool = False) -> SheetDocument:
    """The class journal, every sheet laid out and numbered, and its sections."""
    body: list[tuple[str, str, str, tuple[Sheet, ...]]] = [
        (STUDENTS_SECTION, "", "", student_list_sheets(journal))
    ]
    for course in courses_in_print_order(journal):
        title = journal.course_title(course)
        body.append((f"{title} — {MARKS_PART}", title, MARKS_PART, marks_sheets(journal, course)))
        lessons = lessons_sheets(journal, course)
        if lessons:
            body.append((f"{title} — {LESSONS_PART}", title, LESSONS_PART, lessons))
    body.append((ATTENDANCE_SECTION, "", "", attendance_sheets(journal)))
    body.append((PROGRESS_SECTION, "", "", progress_sheets(journal)))
    body.append((KEEPING_SECTION, "", "", keeping_sheets(journal)))

    def sections_from(first_page: int) -> list[Section]:
        sections = []
        page = first_page
        for title, group, part, sheets in body:
            sections.append(Section(title, page, page + len(sheets) - 1, group, part))
            page += len(sheets)
        sections.append(Section(CERTIFICATION_SECTION, page, page))
        return sections

    draft = [Section(TITLE_SECTION, 1, 1), *sections_from(2)]
    title_count = title_sheet_count(draft)
    pages = title_count + sum(len(sheets) for *_, sheets in body) + 1
    sections = [Section(TITLE_SECTION, 1, title_count), *sections_from(title_count + 1)]
    total = sheet_count(pages, duplex)
    titles = title_sheets(journal, sections, total, duplex)
    if len(titles) != title_count:  # the contents' length cannot depend on its numbers
        raise AssertionError(f"title sheets: {len(titles)} laid out, {title_count} counted")
    ordered = [*titles, *(s for *_, sheets in body for s in sheets), certification_sheet(journal, total)]
    numbered = number_sheets(ordered, duplex=duplex)
    return SheetDocument(sheets=numbered, sections=tuple(sections), duplex=duplex)
