"""The year summary of a class: сводная ведомость итоговых оценок и посещаемости (R3, R6, J3, J4).

What is kept 25 years (R3) is not the whole journal but its summary sheets: per student and
subject every period mark, the year mark, the exam and the final mark; and per student and
month the days and lessons missed, with and without a valid reason (R6). This module lays
them out as a short document of its own — title sheet with contents and sheet count, the
marks ведомость, the attendance ведомость, a certification sheet — rendered to PDF/A-3b by
documents/render.py like the journal, plus the same figures as CSV (documents/csv_export.py conventions).
It is built from the journal's parts (documents/layout.py): the page, the heading and footer with
the class teacher line, the line-spacing formula, numbering (simplex, or duplex with «оборот листа k»)
and sections; and its attachments are made by the same helper as the journal's.

Layout follows documents/layout.py: every sheet is laid out here to the millimetre (text
measured with the real font metrics) as a few absolutely positioned, pre-formatted text
blocks over one inline SVG of tints and rules (templates/summary/sheet.html), so each sheet
model is exactly one page and the sheet count is known before rendering. The marks grid is
sized from the data: each sub-column is as wide as its widest mark (min. ≈3 mm, so that
30 students × 15 subjects of a quarter class fit one A4 landscape sheet at 7–7.5 pt). Nothing is
set below 7 pt (layout.SMALLEST_PT): when the subjects do not fit, the year, exam and final
columns and the marks «зач», «незач», «осв» are abbreviated («г», «э», «и»; «з», «нз», «о»)
with the abbreviations in the sheet's legend; when even that does not fit, the subjects are
split evenly over several sheets. A sheet holds up to 30 students; more are split evenly over
sheets. The attendance columns are as wide as their widest figure.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from documents.csv_export import CSV_METADATA_NAME, Column, Table, csv_metadata_for, table_csv
from documents.fonts import (
    SANS,
    SANS_BOLD,
    clean_text,
    ellipsize,
    first_fitting,
    text_width_mm,
    wrap,
)
from documents.layout import (
    PAGE,
    SMALLEST_PT,
    Box,
    PageGeometry,
    Section,
    SheetDocument,
    SheetHeader,
    TextBlock,
    balanced_runs,
    centred_lines,
    centred_text,
    class_teacher_line,
    leading_mm,
    number_sheets,
    sheet_count,
    sheet_header,
    split_evenly,
    text_line,
)
from documents.pdfa import Attachment, PdfMeta
from documents.render import (
    CHUNK_SHEETS,
    RenderedDocument,
    TemplateFetcher,
    data_attachments,
    render_document,
)
from documents.statistics import attendance
from documents.xml_format import XML_ATTACHMENT_DESCRIPTIONS
from journal.model import (
    FINAL_EXAM,
    FINAL_RESULT,
    FINAL_YEAR,
    SPECIAL_MARKS,
    ClassJournal,
    ReportingPeriod,
    Student,
    Subject,
    data_time,
)
from journal.russian import count_words, format_date, month_name, plural, sheets_with_words, signature_name

TITLE = "Сводная ведомость итоговых оценок и посещаемости"
MARKS_TITLE = "Сводная ведомость итоговых оценок"
ATTENDANCE_TITLE = "Сводная ведомость посещаемости"
TITLE_SECTION = "Титульный лист"
CERTIFICATION_SECTION = "Заверительный лист"

MARKS_CSV = "final_marks_summary.csv"
ATTENDANCE_CSV = "attendance_summary.csv"

YEAR_LABEL, EXAM_LABEL, FINAL_LABEL = "год", "экз", "итог"
SHORT_LABELS = {YEAR_LABEL: "г", EXAM_LABEL: "э", FINAL_LABEL: "и"}
"""Column labels when the marks grid has to be abbreviated to fit one sheet (explained in the legend)."""
SHORT_MARKS = {"зач": "з", "незач": "нз", "осв": "о"}
"""Marks abbreviated in an abbreviated marks grid (explained in the legend); the CSV keeps them whole."""
VALID_BAND, INVALID_BAND = "уваж.", "неуваж."
LEFT_MARK = " (выб.)"  # after the name of a student no longer in the class at the end of the year
SHEETS_NOTE = {
    False: "Каждая страница — отдельный лист.",
    True: "Листы считаются по двум страницам: печать с двух сторон.",
}
"""How the title sheet says sheets are counted, by `duplex`."""


class SummaryError(ValueError):
    """A snapshot a summary cannot be made of; the message names the class."""


# --- Geometry ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MarkTier:
    """A size the marks grid may be set at: marks in `cell_pt`, cells at least `min_cell` mm wide;
    `short`: year/exam/final labels and «зач», «незач», «осв» abbreviated (SHORT_LABELS, SHORT_MARKS)."""

    cell_pt: float
    min_cell: float
    short: bool = False


@dataclass(frozen=True, slots=True)
class SummaryGeometry:
    """All sizes of the summary sheets (mm, pt), A4 landscape like the journal (layout.PAGE)."""

    page: PageGeometry = PAGE
    number_width: float = 6.0
    name_min: float = 34.0  # «Константинопольская А. В.» at 7 pt
    name_max: float = 62.0
    rows: int = 30
    marks_row: float = 4.8
    attendance_row: float = 4.5
    name_pt: float = 7.0
    group_pt: float = 7.0  # subject short names, months
    label_pt: float = 7.0  # I, II, год…; дн., ур.
    pad: float = 0.35  # text to rule, each side
    cell_max: float = 9.0  # a longer mark is ellipsized
    tiers: tuple[MarkTier, ...] = (MarkTier(7.5, 3.0), MarkTier(7.0, 2.8), MarkTier(7.0, 2.8, short=True))
    attendance_pt: float = 7.0
    attendance_cell: float = 3.0  # the narrowest attendance column
    legend_pt: float = 7.0

    @property
    def cells_room(self) -> float:
        """Width the cells may take when the Ф. И. О. column is as narrow as allowed."""
        return self.page.ruled.width - self.number_width - self.name_min

    @property
    def legend_leading(self) -> float:
        return leading_mm(self.legend_pt)

    def __post_init__(self) -> None:
        sizes = (self.name_pt, self.group_pt, self.label_pt, self.attendance_pt, self.legend_pt)
        smallest = min((*sizes, *(t.cell_pt for t in self.tiers)))
        if smallest < SMALLEST_PT:
            raise ValueError(f"the summary sets type at {smallest} pt, below {SMALLEST_PT} pt")


GEOMETRY = SummaryGeometry()


# --- Sheet model ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SummarySheet:
    """One page of the summary: text blocks and SVG path data (page mm) of tints and rules."""

    template: ClassVar[str] = "summary/sheet.html"

    header: SheetHeader
    blocks: tuple[TextBlock, ...] = ()
    tint: str = ""  # heading cells, every other row
    accent: str = ""  # year and final columns, the class total
    rules: str = ""  # thin rules between cells
    frame: str = ""  # the frame, subject boundaries, signature lines
    heading: bool = True  # print the header's title and subtitle lines
    section: str = ""  # which section the sheet belongs to (contents, tests)
    students: tuple[int, ...] = ()  # row order, for tests and cross-checks
    subjects: tuple[int, ...] = ()
    number: int = 0
    total: int = 0
    label: str = ""


@dataclass(frozen=True, slots=True)
class GridColumn:
    label: str  # the lowest heading: «I», «год», «дн.»
    width: float
    cells: tuple[str, ...]  # one text per row
    accent: bool = False


@dataclass(frozen=True, slots=True)
class GridGroup:
    """Columns under one heading (a subject, a month); `bands` span columns between the two heads."""

    title: str
    columns: tuple[GridColumn, ...]
    bands: tuple[tuple[str, int], ...] = ()

    @property
    def width(self) -> float:
        return sum(c.width for c in self.columns)


def _n(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _rect(left: float, top: float, width: float, height: float) -> str:
    return f"M{_n(left)} {_n(top)}h{_n(width)}v{_n(height)}h{_n(-width)}z"


def _hline(x: float, y: float, width: float) -> str:
    return f"M{_n(x)} {_n(y)}h{_n(width)}"


def _vline(x: float, y: float, height: float) -> str:
    return f"M{_n(x)} {_n(y)}v{_n(height)}"


def _head(lines: tuple[str, ...], box: Box, size_pt: float, *, bold: bool = True) -> TextBlock:
    block = centred_lines(lines, box, size_pt)
    return TextBlock(block.box, block.lines, size_pt, block.leading, align="center", bold=bold)


@dataclass(frozen=True, slots=True)
class GridRow:
    number: str
    name: str
    student_id: int = 0
    total: bool = False  # «Итого по классу»: accented


def _grid_sheet(
    header: SheetHeader,
    rows: Sequence[GridRow],
    groups: Sequence[GridGroup],
    *,
    name_width: float,
    row_height: float,
    cell_pt: float,
    legend: str,
    section: str,
    subjects: tuple[int, ...] = (),
    g: SummaryGeometry = GEOMETRY,
) -> SummarySheet:
    """A ruled grid: № | Ф. И. О. | groups of columns, a two- or three-level heading, a legend under it."""
    group_leading = leading_mm(g.group_pt)
    label_leading = leading_mm(g.label_pt)
    group_h = 2 * group_leading + 0.8
    band_h = label_leading + 0.9 if any(gr.bands for gr in groups) else 0.0
    label_h = label_leading + 0.9
    head_h = group_h + band_h + label_h
    left, top = g.page.ruled.left, g.page.grid_top  # where the journal's grids start, frame inside
    names_left = left + g.number_width
    cells_left = names_left + name_width
    width = cells_left - left + sum(gr.width for gr in groups)
    body_top = top + head_h
    height = head_h + len(rows) * row_height
    bottom = top + height

    blocks: list[TextBlock] = [
        _head(("№",), Box(left, top, g.number_width, head_h), g.group_pt),
        _head(
            wrap("Фамилия, имя, отчество обучающегося", name_width - 1.0, SANS_BOLD, g.group_pt, 2),
            Box(names_left, top, name_width, head_h),
            g.group_pt,
        ),
    ]
    tint = [_rect(left, top, width, head_h)]
    accent: list[str] = []
    rules: list[str] = []
    frame = [_rect(left, top, width, height), _hline(left, body_top, width)]
    frame += [_vline(names_left, top, height), _vline(cells_left, top, height)]

    for i, row in enumerate(rows):
        y = body_top + i * row_height
        if row.total:
            accent.append(_rect(left, y, width, row_height))
        elif i % 2 == 1:
            tint.append(_rect(left, y, width, row_height))
        if i:
            rules.append(_hline(left, y, width))
    blocks.append(
        TextBlock(
            Box(left + g.pad, body_top, g.number_width - 2 * g.pad, len(rows) * row_height),
            tuple(r.number for r in rows),
            g.name_pt,
            row_height,
            align="right",
        )
    )
    blocks.append(
        TextBlock(
            Box(names_left + 0.6, body_top, name_width - 1.0, len(rows) * row_height),
            tuple(r.name for r in rows),
            g.name_pt,
            row_height,
        )
    )

    x = cells_left
    for gi, group in enumerate(groups):
        if gi:
            frame.append(_vline(x, top, height))
        title = wrap(clean_text(group.title, 200), group.width - 0.6, SANS_BOLD, g.group_pt, 2)
        blocks.append(_head(title, Box(x, top, group.width, group_h), g.group_pt))
        rules.append(_hline(x, top + group_h, group.width))
        if group.bands:
            rules.append(_hline(x, top + group_h + band_h, group.width))
            bx, first_column = x, 0
            for band, count in group.bands:
                band_w = sum(c.width for c in group.columns[first_column : first_column + count])
                text = ellipsize(clean_text(band, 60), band_w - 0.4, SANS, g.label_pt)
                blocks.append(_head((text,), Box(bx, top + group_h, band_w, band_h), g.label_pt, bold=False))
                bx += band_w
                first_column += count
        cx = x
        for ci, column in enumerate(group.columns):
            label_top = top + group_h + band_h
            text = ellipsize(clean_text(column.label, 20), column.width - 0.2, SANS, g.label_pt)
            blocks.append(_head((text,), Box(cx, label_top, column.width, label_h), g.label_pt, bold=False))
            if ci:
                # A rule that starts a band runs through the band row; the others start below it.
                start = label_top if group.bands and not _band_edge(group, ci) else top + group_h
                rules.append(_vline(cx, start, bottom - start))
            if column.accent:
                accent.append(_rect(cx, body_top, column.width, len(rows) * row_height))
            if any(column.cells):
                used = [r for r, text in enumerate(column.cells) if text]
                first, last = used[0], used[-1]
                blocks.append(
                    TextBlock(
                        Box(cx, body_top + first * row_height, column.width, (last - first + 1) * row_height),
                        column.cells[first : last + 1],
                        cell_pt,
                        row_height,
                        align="center",
                    )
                )
            cx += column.width
        x += group.width

    room = int((g.page.body_bottom - bottom - 1.2) / g.legend_leading + 0.01)
    legend_lines = wrap(clean_text(legend, 4000), width, SANS, g.legend_pt, max(room, 1))
    g.page.check_inside(Box(left, top, width, height + 1.2 + len(legend_lines) * g.legend_leading), section)
    if legend:
        blocks.append(
            TextBlock(
                Box(left, bottom + 1.2, width, len(legend_lines) * g.legend_leading),
                legend_lines,
                g.legend_pt,
                g.legend_leading,
            )
        )
    return SummarySheet(
        header=header,
        blocks=tuple(blocks),
        tint="".join(tint),
        accent="".join(accent),
        rules="".join(rules),
        frame="".join(frame),
        section=section,
        students=tuple(r.student_id for r in rows if r.student_id),
        subjects=subjects,
    )


def _band_edge(group: GridGroup, column: int) -> bool:
    """Whether a band starts at `column`: its rule then runs through the band row too."""
    edge = 0
    for _, count in group.bands:
        edge += count
        if edge == column:
            return True
    return False


# --- What the marks ведомость shows ---------------------------------------------------------


def class_periods(journal: ClassJournal) -> tuple[ReportingPeriod, ...]:
    """The reporting periods of the class's scheme, in order (J4)."""
    return tuple(
        sorted(
            (p for p in journal.periods if p.scheme == journal.school_class.period_scheme),
            key=lambda p: (p.ordinal, p.code),
        )
    )


def period_label(period: ReportingPeriod) -> str:
    """«I» for «I четверть», «1» for «1 полугодие»: the number the period's name starts with."""
    first = period.name.split(" ", 1)[0] if period.name else ""
    if first and (first.isdigit() or set(first) <= set("IVXLC")):
        return first
    return str(period.ordinal)


def summary_subjects(journal: ClassJournal) -> tuple[Subject, ...]:
    """Subjects taught to the class or marked for it, in curriculum order."""
    taught = {c.subject_id for c in journal.courses} | {f.subject_id for f in journal.final_marks}
    return tuple(
        sorted(
            (s for s in journal.subjects if s.id in taught),
            key=lambda s: (s.ordinal, s.name, s.id),
        )
    )


def mark_columns(journal: ClassJournal, subject: Subject) -> tuple[tuple[str, str], ...]:
    """(final mark period code, heading) of a subject's sub-columns: each period, the year, the exam and
    the final mark where the class has any for this subject."""
    codes = {f.period for f in journal.final_marks if f.subject_id == subject.id}
    columns = [(p.code, period_label(p)) for p in class_periods(journal)]
    columns.append((FINAL_YEAR, YEAR_LABEL))
    if FINAL_EXAM in codes:
        columns.append((FINAL_EXAM, EXAM_LABEL))
    if FINAL_RESULT in codes:
        columns.append((FINAL_RESULT, FINAL_LABEL))
    return tuple(columns)


def _subject_title(subject: Subject) -> str:
    return clean_text(subject.short_name or subject.name, 100)


def _student_name(journal: ClassJournal, student: Student, width: float, g: SummaryGeometry) -> str:
    suffix = "" if journal.is_enrolled(student.id, journal.end) else LEFT_MARK
    return first_fitting(
        (
            clean_text(student.full_name, 300) + suffix,
            clean_text(student.short_name, 300) + suffix,
        ),
        width - 1.2,
        SANS,
        g.name_pt,
    )


def _marks_groups(
    journal: ClassJournal,
    subjects: Sequence[Subject],
    students: Sequence[Student],
    tier: MarkTier,
    g: SummaryGeometry,
) -> list[GridGroup]:
    groups = []
    for subject in subjects:
        columns = []
        for code, label in mark_columns(journal, subject):
            cells = tuple(clean_text(journal.final_mark(s.id, subject.id, code) or "", 20) for s in students)
            if tier.short:
                label = SHORT_LABELS.get(label, label)
                cells = tuple(SHORT_MARKS.get(c, c) for c in cells)
            widest = max((text_width_mm(c, SANS, tier.cell_pt) for c in cells), default=0.0)
            width = max(tier.min_cell, widest + 2 * g.pad, text_width_mm(label, SANS, g.label_pt) + 2 * g.pad)
            width = min(width, g.cell_max)
            cells = tuple(ellipsize(c, width - 2 * g.pad, SANS, tier.cell_pt) for c in cells)
            accent = code in (FINAL_YEAR, FINAL_RESULT)
            columns.append(GridColumn(label, width, cells, accent))
        groups.append(GridGroup(_subject_title(subject), tuple(columns)))
    return groups


def plan_marks(
    journal: ClassJournal, g: SummaryGeometry = GEOMETRY
) -> tuple[MarkTier, tuple[tuple[Subject, ...], ...]]:
    """The size the marks grid is set at and the subjects of each sheet: the largest tier at which all
    subjects fit one sheet (the last tier abbreviates); else the largest tier, with the subjects split
    evenly over the fewest sheets."""
    subjects = summary_subjects(journal)
    students = journal.students
    for tier in g.tiers:
        widths = [gr.width for gr in _marks_groups(journal, subjects, students, tier, g)]
        if sum(widths) <= g.cells_room + 0.01:
            return tier, (subjects,)
    tier = g.tiers[0]
    widths = [gr.width for gr in _marks_groups(journal, subjects, students, tier, g)]
    runs = balanced_runs(widths, g.cells_room)  # as many subjects on each sheet as on the others
    return tier, tuple(tuple(subjects[i] for i in run) for run in runs)


def _scheme_words(journal: ClassJournal) -> str:
    periods = class_periods(journal)
    names = ", ".join(clean_text(p.name, 60) for p in periods)
    return names


def _fit_widths(groups: list[GridGroup], g: SummaryGeometry) -> tuple[float, list[GridGroup]]:
    """The Ф. И. О. column gets what the cells leave, up to `name_max`; any more widens the cells evenly."""
    cells = sum(gr.width for gr in groups)
    name = g.page.ruled.width - g.number_width - cells
    if name <= g.name_max:
        return name, groups
    extra = (name - g.name_max) / max(1, sum(len(gr.columns) for gr in groups))
    widened = [
        dataclasses.replace(
            gr, columns=tuple(dataclasses.replace(c, width=c.width + extra) for c in gr.columns)
        )
        for gr in groups
    ]
    return g.name_max, widened


def marks_sheets(journal: ClassJournal, g: SummaryGeometry = GEOMETRY) -> tuple[SummarySheet, ...]:
    """The сводная ведомость итоговых оценок: students × subjects × (periods, год, экз, итог) (R3, J4)."""
    tier, subject_runs = plan_marks(journal, g)
    student_runs = split_evenly(journal.students, g.rows)
    sheets = []
    offset_of = [sum(len(r) for r in student_runs[:i]) for i in range(len(student_runs))]
    for si, subjects in enumerate(subject_runs):
        for students, offset in zip(student_runs, offset_of, strict=True):
            groups = _marks_groups(journal, subjects, students, tier, g)
            name_width, groups = _fit_widths(groups, g)
            rows = [
                GridRow(str(offset + i + 1), _student_name(journal, s, name_width, g), s.id)
                for i, s in enumerate(students)
            ]
            bits = [class_teacher_line(journal), f"{journal.year.name} учебный год"]
            if len(subject_runs) > 1:
                bits.append(f"предметы, часть {si + 1} из {len(subject_runs)}")
            if len(student_runs) > 1 and students:
                bits.append(f"обучающиеся № {offset + 1}–{offset + len(students)}")
            sheets.append(
                _grid_sheet(
                    sheet_header(journal, MARKS_TITLE, bits),
                    rows,
                    groups,
                    name_width=name_width,
                    row_height=g.marks_row,
                    cell_pt=tier.cell_pt,
                    legend=_marks_legend(journal, subjects, short=tier.short),
                    section=MARKS_TITLE,
                    subjects=tuple(s.id for s in subjects),
                    g=g,
                )
            )
    return tuple(sheets)


def _marks_legend(journal: ClassJournal, subjects: Sequence[Subject], *, short: bool = False) -> str:
    periods = class_periods(journal)
    labels = "–".join(dict.fromkeys((period_label(periods[0]), period_label(periods[-1])))) if periods else ""
    kinds = f"{labels} — отметки за {_scheme_words(journal)}; " if periods else ""
    codes = {f.period for f in journal.final_marks}

    def label(text: str) -> str:
        return SHORT_LABELS[text] if short else text

    parts = [f"{kinds}{label(YEAR_LABEL)} — годовая отметка"]
    if FINAL_EXAM in codes:
        parts.append(f"{label(EXAM_LABEL)} — экзаменационная")
    if FINAL_RESULT in codes:
        parts.append(f"{label(FINAL_LABEL)} — итоговая")
    values = {f.value for f in journal.final_marks}
    special = [
        f"{SHORT_MARKS.get(mark, mark) if short else mark} — {meaning}"
        for mark, meaning in SPECIAL_MARKS.items()
        if mark in values
    ]
    abbreviations = [
        f"{_subject_title(s)} — {clean_text(s.name, 200)}" for s in subjects if _subject_title(s) != s.name
    ]
    text = ", ".join(parts) + "."
    if special:
        text += " " + "; ".join(special) + "."
    if abbreviations:
        text += " Предметы: " + "; ".join(abbreviations) + "."
    if any(not journal.is_enrolled(s.id, journal.end) for s in journal.students):
        text += f" {LEFT_MARK.strip()} — выбыл(а) из класса до конца учебного года."
    return text + " Пустая клетка — отметки нет."


# --- Attendance ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MonthAbsences:
    """Missed in a month (or the year): whole days and lessons, by a valid reason or without one.

    «Without a valid reason» includes absences whose reason was not recorded: what is not
    excused is not excused. A day counts as missed for a valid reason when every lesson missed
    that day was for a valid reason (illness included)."""

    days_valid: int = 0
    days_invalid: int = 0
    lessons_valid: int = 0
    lessons_invalid: int = 0

    def __add__(self, other: MonthAbsences) -> MonthAbsences:
        return MonthAbsences(
            self.days_valid + other.days_valid,
            self.days_invalid + other.days_invalid,
            self.lessons_valid + other.lessons_valid,
            self.lessons_invalid + other.lessons_invalid,
        )

    def cells(self) -> tuple[str, str, str, str]:
        """Days and lessons, valid then invalid — the column order of the ведомость; zero prints empty."""
        return tuple(  # type: ignore[return-value]
            str(n) if n else ""
            for n in (self.days_valid, self.lessons_valid, self.days_invalid, self.lessons_invalid)
        )


def year_months(journal: ClassJournal) -> tuple[dt.date, ...]:
    """The first day of every month of the school year: September … May."""
    months = []
    day = journal.year.start.replace(day=1)
    while day <= journal.year.end:
        months.append(day)
        day = (day + dt.timedelta(days=32)).replace(day=1)
    return tuple(months)


def monthly_absences(journal: ClassJournal) -> dict[int, tuple[MonthAbsences, ...]]:
    """Per student id, one MonthAbsences per month of `year_months` (J3); counted by statistics.attendance."""
    excused = dataclasses.replace(
        journal, absences=tuple(a for a in journal.absences if a.reason is not None and a.reason.is_valid)
    )
    result: dict[int, list[MonthAbsences]] = {s.id: [] for s in journal.students}
    for first in year_months(journal):
        last = (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
        start, end = max(first, journal.year.start), min(last, journal.year.end)
        counts = attendance(journal, start, end)
        valid_days = attendance(excused, start, end)
        for sid, a in counts.items():
            days_valid = valid_days[sid].days
            result[sid].append(MonthAbsences(days_valid, a.days - days_valid, a.valid, a.invalid + a.unknown))
    return {sid: tuple(months) for sid, months in result.items()}


def _year_total(months: Sequence[MonthAbsences]) -> MonthAbsences:
    total = MonthAbsences()
    for m in months:
        total += m
    return total


def _attendance_widths(
    cells: Sequence[tuple[str, ...]],
    labels: Sequence[str],
    bands: Sequence[tuple[str, int]],
    g: SummaryGeometry,
) -> list[float]:
    """The widths of one month's columns: each as wide as its widest figure or label at 7 pt (a
    yearly «1009» never runs over a rule), each band's columns widened to hold the band's label."""
    widths = [
        max(
            g.attendance_cell,
            max((text_width_mm(row[k], SANS, g.attendance_pt) for row in cells), default=0.0) + 2 * g.pad,
            text_width_mm(label, SANS, g.label_pt) + 0.4,
        )
        for k, label in enumerate(labels)
    ]
    first = 0
    for band, count in bands:
        need = text_width_mm(band, SANS, g.label_pt) + 0.4 - sum(widths[first : first + count])
        for k in range(first, first + count):
            widths[k] += max(0.0, need) / count
        first += count
    return widths


def attendance_sheets(journal: ClassJournal, g: SummaryGeometry = GEOMETRY) -> tuple[SummarySheet, ...]:
    """The сводная ведомость посещаемости: students × months (Sep–May) and the year, each as days and
    lessons missed by a valid reason and without one (R6, J3); the class's totals in the last row."""
    months = year_months(journal)
    counts = monthly_absences(journal)
    student_runs = split_evenly(journal.students, g.rows)
    class_total = [_year_total([counts[s.id][i] for s in journal.students]) for i in range(len(months))]
    every_row = [[*counts[s.id], _year_total(counts[s.id])] for s in journal.students]
    every_row.append([*class_total, _year_total(class_total)])
    labels = ("дн.", "ур.", "дн.", "ур.")
    bands = ((VALID_BAND, 2), (INVALID_BAND, 2))
    widths = [
        _attendance_widths([row[index].cells() for row in every_row], labels, bands, g)
        for index in range(len(months) + 1)
    ]
    name_width = g.page.ruled.width - g.number_width - sum(map(sum, widths))
    if name_width > g.name_max:  # room to spare: wider figures, not a wider name column
        extra = (name_width - g.name_max) / (4 * len(widths))
        widths = [[w + extra for w in group] for group in widths]
        name_width = g.name_max
    sheets = []
    offset = 0
    for run_index, students in enumerate(student_runs):
        last = run_index == len(student_runs) - 1
        table = [[*counts[s.id], _year_total(counts[s.id])] for s in students]
        rows = [
            GridRow(str(offset + i + 1), _student_name(journal, s, name_width, g), s.id)
            for i, s in enumerate(students)
        ]
        if last:
            table.append([*class_total, _year_total(class_total)])
            rows.append(GridRow("", "Итого по классу", 0, total=True))
        titles = [month_name(m) for m in months] + ["За учебный год"]
        groups = []
        for index, title in enumerate(titles):
            cells = [row[index].cells() for row in table]
            columns = tuple(
                GridColumn(label, widths[index][k], tuple(c[k] for c in cells), accent=index == len(months))
                for k, label in enumerate(labels)
            )
            groups.append(GridGroup(title, columns, bands))
        bits = [class_teacher_line(journal), f"{journal.year.name} учебный год"]
        if len(student_runs) > 1:
            bits.append(f"обучающиеся № {offset + 1}–{offset + len(students)}")
        sheets.append(
            _grid_sheet(
                sheet_header(journal, ATTENDANCE_TITLE, bits),
                rows,
                groups,
                name_width=name_width,
                row_height=g.attendance_row,
                cell_pt=g.attendance_pt,
                legend=(
                    "дн. — пропущено дней целиком (обучающийся отсутствовал на всех своих уроках дня), "
                    f"ур. — пропущено уроков; «{VALID_BAND}» — по уважительной причине (в том числе по "
                    f"болезни), «{INVALID_BAND}» — без уважительной причины или причина не указана; "
                    "день засчитан как пропущенный по уважительной причине, если все пропуски этого дня "
                    "уважительные. Пустая клетка — пропусков нет."
                ),
                section=ATTENDANCE_TITLE,
                g=g,
            )
        )
        offset += len(students)
    return tuple(sheets)


# --- Title and certification -----------------------------------------------------------------


def _sheet_range(section: Section, duplex: bool) -> str:
    first, last = section.sheets(duplex)
    return f"лист {first}" if first == last else f"листы {first}–{last}"


def title_sheet(
    journal: ClassJournal, sections: Sequence[Section], total: int, *, duplex: bool = False
) -> SummarySheet:
    """School, class, year, class teacher; the contents with sheet numbers; «Всего N листов» (R2, R3).
    `total` counts sheets: pages, or pages two a sheet when `duplex`."""
    p = GEOMETRY.page
    left, width = p.margin_left + 20, p.content_width - 40
    blocks = [
        centred_text(journal.school.name, left, 22, width, 12, bold=True, lines=2),
        centred_text(journal.school.address, left, 34, width, 9, lines=2),
        centred_text("СВОДНАЯ ВЕДОМОСТЬ", left, 55, width, 24, bold=True),
        centred_text("итоговых оценок и посещаемости", left, 67, width, 16, bold=True),
        centred_text(
            f"{journal.school_class.name} класса · {journal.year.name} учебный год", left, 78, width, 14
        ),
        centred_text(
            class_teacher_line(journal, full=True),
            left,
            90,
            width,
            11,
            lines=2,
        ),
        centred_text(
            f"Сформирована {format_date(journal.year.end)} по данным электронного классного журнала",
            left,
            97,
            width,
            9,
        ),
        text_line("Содержание", left + 40, 112, width - 80, 11, bold=True),
    ]
    area = p.printable  # the frame's 0.3 mm line inside it
    frame = [_rect(area.left + 0.2, area.top + 0.2, area.width - 0.4, p.body_bottom - area.top - 0.4)]
    for i, section in enumerate(sections):
        top = 119 + i * 6.5
        blocks.append(text_line(f"{i + 1}. {section.title}", left + 40, top, width - 130, 11))
        blocks.append(text_line(_sheet_range(section, duplex), left + width - 90, top, 50, 11, align="right"))
    blocks.append(
        centred_text(
            f"Всего в ведомости {count_words(total, 'лист', 'листа', 'листов')}",
            left,
            119 + len(sections) * 6.5 + 8,
            width,
            14,
            bold=True,
        )
    )
    blocks.append(
        centred_text(
            f"Хранится 25 лет (документ строгой отчётности). {SHEETS_NOTE[duplex]}",
            left,
            185,
            width,
            8,
        )
    )
    return SummarySheet(
        header=sheet_header(journal, TITLE_SECTION, [f"{journal.year.name} учебный год"]),
        blocks=tuple(blocks),
        frame="".join(frame),
        heading=False,
        section=TITLE_SECTION,
    )


def certification_sheet(journal: ClassJournal, total: int) -> SummarySheet:
    """«В настоящей ведомости пронумеровано N (…) листов», signatures, «М. П.» (R3, A1); `total` counts
    sheets, as on the title sheet."""
    p = GEOMETRY.page
    left, width = p.margin_left + 30, p.content_width - 60
    verb = plural(total, "пронумерован", "пронумеровано", "пронумеровано")
    teacher = journal.class_teacher
    director = signature_name(clean_text(journal.school.director, 200))
    blocks = [
        centred_text("ЗАВЕРИТЕЛЬНЫЙ ЛИСТ", left, 40, width, 18, bold=True),
        centred_text(
            f"В настоящей сводной ведомости {verb} {sheets_with_words(total)}.", left, 62, width, 14, lines=2
        ),
        centred_text(
            f"{TITLE} {journal.school_class.name} класса за {journal.year.name} учебный год; "
            f"{clean_text(journal.school.name, 300)}.",
            left,
            80,
            width,
            10,
            lines=3,
        ),
    ]
    lines = []
    x_sign, x_name = left + 100, left + 150
    for i, (role, name) in enumerate(
        (
            ("Классный руководитель", signature_name(teacher.full_name) if teacher else ""),
            ("Директор", director),
        )
    ):
        top = 118 + i * 14
        blocks.append(text_line(role, left + 10, top, 88, 11))
        blocks.append(text_line(f"/ {name} /" if name else "/" + " " * 30 + "/", x_name + 2, top, 80, 11))
        lines.append(f"M{_n(x_sign)} {_n(top + 5.2)}H{_n(x_name)}")
    blocks.append(text_line("М. П.", left + 10, 152, 30, 12, bold=True))
    blocks.append(text_line("«____» ________________ 20____ г.", x_sign, 152, 100, 11))
    return SummarySheet(
        header=sheet_header(journal, CERTIFICATION_SECTION, [f"{journal.year.name} учебный год"]),
        blocks=tuple(blocks),
        frame="".join(lines),
        heading=False,
        section=CERTIFICATION_SECTION,
    )


# --- The document ------------------------------------------------------------------------------


def summary_document(journal: ClassJournal, *, duplex: bool = False) -> SheetDocument:
    """Every sheet of the class's year summary, numbered, and its sections: title, marks, attendance,
    certification. `duplex` counts two pages a sheet, as the journal does (documents/sections.py)."""
    if journal.period is not None:
        raise SummaryError(
            f"{journal.school_class.name}: сводная ведомость составляется за учебный год, "
            f"а не за «{journal.period.name}»"
        )
    marks = marks_sheets(journal)
    absences = attendance_sheets(journal)
    pages = 1 + len(marks) + len(absences) + 1
    sections = (
        Section(TITLE_SECTION, 1, 1),
        Section(MARKS_TITLE, 2, 1 + len(marks)),
        Section(ATTENDANCE_TITLE, 2 + len(marks), 1 + len(marks) + len(absences)),
        Section(CERTIFICATION_SECTION, pages, pages),
    )
    total = sheet_count(pages, duplex)
    ordered = [
        title_sheet(journal, sections, total, duplex=duplex),
        *marks,
        *absences,
        certification_sheet(journal, total),
    ]
    return SheetDocument(sheets=number_sheets(ordered, duplex=duplex), sections=sections, duplex=duplex)


def summary_sheets(journal: ClassJournal, *, duplex: bool = False) -> tuple[SummarySheet, ...]:
    """Every sheet of the class's year summary, numbered: title, marks, attendance, certification."""
    return summary_document(journal, duplex=duplex).sheets  # type: ignore[return-value]


def summary_meta(journal: ClassJournal) -> PdfMeta:
    """Title and dates of the summary PDF: dated at the end of the school year, midnight UTC."""
    return PdfMeta(
        title=clean_text(f"{TITLE} {journal.school_class.name} класса, {journal.year.name} учебный год", 300),
        author=clean_text(journal.school.name, 300),
        subject="Титульный лист, сводная ведомость итоговых оценок (по четвертям или полугодиям, годовые, "
        "экзаменационные и итоговые), сводная ведомость посещаемости по месяцам, заверительный лист",
        created=data_time(journal.year.end),
    )


_DESCRIPTIONS = {
    MARKS_CSV: "Сводная ведомость итоговых оценок: обучающийся × предмет, отметки за периоды, год, экзамен, "
    "итоговая.",
    ATTENDANCE_CSV: "Сводная ведомость посещаемости: обучающийся × месяц, пропущенные дни и уроки по "
    "уважительной причине и без неё.",
    CSV_METADATA_NAME: "Описание таблиц CSV (W3C CSVW): названия и типы столбцов.",
    **XML_ATTACHMENT_DESCRIPTIONS,
}


def summary_attachments(files: Mapping[str, bytes]) -> tuple[Attachment, ...]:
    """The summary bundle's data files as PDF/A-3 associated files (types as in the journal PDF)."""
    return data_attachments(files, _DESCRIPTIONS, fallback="Данные сводной ведомости", document="summary")


def render_summary_pdf(
    journal: ClassJournal,
    target: Path,
    *,
    attachments: Mapping[str, bytes] | None = None,
    duplex: bool = False,
    chunk_size: int = CHUNK_SHEETS,
    url_fetcher: TemplateFetcher | None = None,
) -> RenderedDocument:
    """The year summary of a class as one PDF/A-3b file at `target` (R3, R6), rendered like the journal;
    `attachments` (file name → bytes: the summary's CSV and XML) are embedded as associated files.
    `duplex` counts two pages a sheet."""
    return render_document(
        summary_document(journal, duplex=duplex),
        target,
        summary_meta(journal),
        attachments=summary_attachments(attachments or {}),
        chunk_size=chunk_size,
        url_fetcher=url_fetcher,
    )


# --- CSV -------------------------------------------------------------------------------------------


def _marks_table(journal: ClassJournal) -> Table:
    periods = class_periods(journal)
    columns = [
        Column("student_id", "Код обучающегося", "integer", True),
        Column("student", "Обучающийся"),
        Column("subject_id", "Код предмета", "integer", True),
        Column("subject", "Предмет"),
        *(Column(p.code.lower(), clean_text(p.name, 100)) for p in periods),
        Column("year", "Годовая отметка"),
        Column("exam", "Экзаменационная отметка"),
        Column("final", "Итоговая отметка"),
    ]
    codes = [*(p.code for p in periods), FINAL_YEAR, FINAL_EXAM, FINAL_RESULT]

    def rows(j: ClassJournal):
        for student in j.students:
            for subject in summary_subjects(j):
                yield (
                    student.id,
                    student.full_name,
                    subject.id,
                    subject.name,
                    *(j.final_mark(student.id, subject.id, code) for code in codes),
                )

    return Table(
        url=MARKS_CSV,
        title=MARKS_TITLE,
        description="Одна строка на обучающегося и предмет: отметки за каждый период, годовая, "
        "экзаменационная и итоговая. Пустая ячейка — отметки нет.",
        columns=tuple(columns),
        rows=rows,
        primary_key=("student_id", "subject_id"),
    )


def _attendance_table(journal: ClassJournal) -> Table:
    months = year_months(journal)

    def rows(j: ClassJournal):
        counts = monthly_absences(j)
        for student in j.students:
            for first, m in zip(months, counts[student.id], strict=True):
                yield (
                    student.id,
                    student.full_name,
                    first.strftime("%Y-%m"),
                    month_name(first),
                    m.days_valid,
                    m.days_invalid,
                    m.lessons_valid,
                    m.lessons_invalid,
                )
            t = _year_total(counts[student.id])
            yield (
                student.id,
                student.full_name,
                None,
                "за учебный год",
                t.days_valid,
                t.days_invalid,
                t.lessons_valid,
                t.lessons_invalid,
            )

    return Table(
        url=ATTENDANCE_CSV,
        title=ATTENDANCE_TITLE,
        description="Одна строка на обучающегося и месяц учебного года и одна (с пустым месяцем) за весь "
        "год: пропущено дней целиком и уроков по уважительной причине (в том числе по болезни) и без "
        "уважительной причины (в том числе когда причина не указана).",
        columns=(
            Column("student_id", "Код обучающегося", "integer", True),
            Column("student", "Обучающийся"),
            Column("month", "Месяц", "gYearMonth"),
            Column("month_name", "Название месяца"),
            Column("days_valid", "Дней по уважительной причине", "integer", True),
            Column("days_invalid", "Дней без уважительной причины", "integer", True),
            Column("lessons_valid", "Уроков по уважительной причине", "integer", True),
            Column("lessons_invalid", "Уроков без уважительной причины", "integer", True),
        ),
        rows=rows,
        primary_key=("student_id", "month"),
    )


def summary_csv_files(journal: ClassJournal) -> dict[str, bytes]:
    """final_marks_summary.csv, attendance_summary.csv and their csv-metadata.json (CSVW), written
    exactly like the journal's CSV (RFC 4180, CRLF, UTF-8 without BOM, formula guard)."""
    tables = (_marks_table(journal), _attendance_table(journal))
    files = {table.url: table_csv(table, journal) for table in tables}
    files[CSV_METADATA_NAME] = csv_metadata_for(
        journal, tables, f"{TITLE} {journal.school_class.name} класса, {journal.year.name} учебный год"
    )
    return files
