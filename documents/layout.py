"""Journal sheets as data: which students, dates and lessons go on which printed sheet (J2–J5, R2).

A paper class journal has, per subject, a marks page (students × lesson dates, month
headers over day numbers, «н» for an absence, the period mark in the last column) and a
lessons page (date, «Что пройдено на уроке», «Домашнее задание»). These pure functions cut
a `ClassJournal` into such sheets and lay every sheet out completely, down to the
position of each text block in millimetres, so that

- each sheet model is exactly one printed page, whatever the data (names are fitted or
  ellipsized, topics wrapped and capped, over-long marks moved to a note under the grid);
  the number of sheets is therefore known before rendering — «Лист N из M» and the
  title sheet's count (R2) need no second pass;
- the renderer only pours text into a handful of absolutely positioned, pre-formatted
  blocks over a static background SVG of grid lines (templates/journal/*.svg). The marks
  of a row are one line of fixed-width text: every cell is a fixed number of character
  slots of DejaVu Sans Mono with `letter-spacing` making a slot exactly 1/slots of a cell.
  WeasyPrint renders that 16–18× faster than one table cell per mark (benchmarks/), because its
  time goes by boxes, lines and glyphs: a marks sheet is ~20 boxes and ~65 lines.

All geometry lives here (one place): the SVG templates and the sheet templates get their
numbers from the `PageGeometry`, `MarksGeometry` and `LessonsGeometry` values below.

The parts every sheet document is built from also live here, so that the journal
(documents/sections.py) and the year summary (documents/summary.py) share them: the page,
the heading and footer (`sheet_header`, `class_teacher_line`), the line-spacing formula
(`leading_mm`), the free text of title and certification sheets (`centred_text`, `text_line`),
numbering in simplex or duplex (`number_sheets`) and `Section`/`SheetDocument`. The renderer
(documents/render.py) takes any `SheetDocument`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Protocol, TypeVar

from documents.fonts import (
    MONO,
    MONO_ADVANCE_EM,
    PT_PER_MM,
    SANS,
    SANS_BOLD,
    clean_text,
    ellipsize,
    first_fitting,
    has_glyphs,
    text_width_mm,
    wrap,
)
from journal.model import (
    FINAL_YEAR,
    ClassJournal,
    Course,
    Lesson,
    LessonStatus,
    Mark,
    Student,
)
from journal.russian import format_date_short, month_name

# --- Geometry (millimetres, A4 landscape) --------------------------------------

SMALLEST_PT = 7.0
"""Nothing printed is set smaller (issue 15): what does not fit at 7 pt is abbreviated with a
legend, moved to a note or split over sheets, never shrunk."""


@dataclass(frozen=True, slots=True)
class Box:
    """A rectangle on the page, in millimetres from the page's top-left corner."""

    left: float
    top: float
    width: float
    height: float

    @property
    def right(self) -> float:
        return self.left + self.width

    @property
    def bottom(self) -> float:
        return self.top + self.height


@dataclass(frozen=True, slots=True)
class PageGeometry:
    """What every journal sheet shares: page, margins, heading lines and footer.

    Sheets are filed and bound on the left (R2, R3): the bound edge keeps `margin_left` clear
    (ГОСТ Р 7.0.97-2016 asks 20 mm for documents that are filed), every other edge
    `margin_edge`, more than most office printers cannot print. Everything is laid out for
    the front of a sheet; printed on both sides, the back of a sheet (an even page) has its
    bound edge on the right, so the renderer shifts the whole page by `back_shift` (mirrored
    margins). Nothing — text, rules, frames, the footer — is placed outside `printable`.
    """

    width: float = 297.0
    height: float = 210.0
    margin_left: float = 20.0  # the bound edge (on the back of a duplex sheet: the right edge)
    margin_edge: float = 10.0  # every other edge
    title_top: float = 10.0
    title_pt: float = 11.0
    subtitle_top: float = 16.0
    subtitle_pt: float = 8.0
    grid_top: float = 22.0
    footer_top: float = 195.0
    footer_pt: float = 7.5
    footer_gap: float = 1.0  # between the body of a sheet and the footer
    rule_allowance: float = 0.2  # half the widest rule (0.4 mm): a frame on `ruled`'s edge stays inside

    @property
    def margin_right(self) -> float:
        return self.margin_edge

    @property
    def content_width(self) -> float:
        return self.width - self.margin_left - self.margin_right

    @property
    def printable(self) -> Box:
        """The part of the front page anything may be drawn on."""
        return Box(self.margin_left, self.margin_edge, self.content_width, self.height - 2 * self.margin_edge)

    @property
    def ruled(self) -> Box:
        """The printable area less half a rule each side: where a table's outer frame may be drawn."""
        area, a = self.printable, self.rule_allowance
        return Box(area.left + a, area.top + a, area.width - 2 * a, area.height - 2 * a)

    @property
    def body_bottom(self) -> float:
        """Where a sheet's grid, table or notes must end: the footer comes below."""
        return self.footer_top - self.footer_gap

    @property
    def back_shift(self) -> float:
        """How far a back page (duplex, even) moves right: negative, its content moves left."""
        return self.margin_right - self.margin_left

    def shift(self, page: int, duplex: bool) -> float:
        """The horizontal shift of page `page` (1-based): mirrored margins on the back of a duplex sheet."""
        return self.back_shift if duplex and page % 2 == 0 else 0.0

    @property
    def title_box(self) -> Box:
        return Box(self.margin_left, self.title_top, self.content_width * 0.75, 5.5)

    @property
    def class_box(self) -> Box:
        """«5А класс», right-aligned on the title line."""
        return Box(
            self.margin_left + self.content_width * 0.75, self.title_top, self.content_width * 0.25, 5.5
        )

    @property
    def subtitle_box(self) -> Box:
        return Box(self.margin_left, self.subtitle_top, self.content_width, 4.5)

    @property
    def footer_box(self) -> Box:
        return Box(self.margin_left, self.footer_top, self.content_width, 4.0)

    def check_inside(self, box: Box, what: str) -> None:
        """Refuse a layout that would print `what` outside the printable area (a geometry bug)."""
        area = self.printable
        if (
            box.left < area.left - 0.01
            or box.right > area.right + 0.01
            or box.top < area.top - 0.01
            or box.bottom > area.bottom + 0.01
        ):
            raise ValueError(
                f"{what} ({box.left:.1f}–{box.right:.1f} × {box.top:.1f}–{box.bottom:.1f} mm) lies outside "
                f"the printable area ({area.left:.1f}–{area.right:.1f} × {area.top:.1f}–{area.bottom:.1f} mm)"
            )

    def __post_init__(self) -> None:
        for name in ("title_box", "class_box", "subtitle_box", "footer_box"):
            self.check_inside(getattr(self, name), name)


@dataclass(frozen=True, slots=True)
class CellFont:
    """How text is set in the fixed-slot cells: `slots` DejaVu Sans Mono characters per cell."""

    slots: int
    size_pt: float

    def spacing_mm(self, cell_width: float) -> float:
        """The letter-spacing that makes each glyph advance exactly one slot."""
        spacing = cell_width / self.slots - MONO_ADVANCE_EM * self.size_pt / PT_PER_MM
        if spacing < 0:
            raise ValueError(f"{self.size_pt} pt is too large for {self.slots} slots of {cell_width} mm")
        return spacing


@dataclass(frozen=True, slots=True)
class MarksGeometry:
    """The marks grid: № | Ф. И. О. | 35 date columns | the period mark; 30 student rows.

    The period mark's column is `final_cells` cells wide, so that it is set on the same
    fixed-slot line as the marks (one line per student: the fewer lines, the faster).
    The Ф. И. О. column takes the width that is left.
    """

    page: PageGeometry = PageGeometry()
    number_width: float = 6.0
    cell_width: float = 5.6
    columns: int = 35  # a subject taught once a week: its year on one sheet
    final_cells: int = 3
    month_height: float = 4.5
    day_height: float = 5.0
    row_height: float = 5.0
    rows: int = 30
    name_pt: float = 7.5
    head_pt: float = 7.0
    number_digits: int = 3  # room for «120» before the name, on the name's line
    note_pt: float = 7.0
    note_lines: int = 3
    note_line_height: float = 3.0
    # A cell's text takes the first font with enough slots: «5», «н», «4/5», «н/а», «зач» in three
    # (one line per student for nearly every sheet); longer text («незач», «н/4/5») goes to a
    # numbered note under the grid. The period mark's column has nine slots. Nothing is set
    # smaller than 7 pt (issue 15: a second, 5.2 pt layer for five characters was not legible in
    # print). Tried and measured: «5» in a 1-slot 8 pt layer with «4/5» in a 4-slot layer looks a
    # touch finer but costs 10 % more (a second line per student).
    mark_fonts: tuple[CellFont, ...] = (CellFont(3, 7.5),)
    day: CellFont = CellFont(3, 8.0)  # three slots: 8 pt keeps the digits of «23» close together

    @property
    def left(self) -> float:
        return self.page.margin_left

    @property
    def final_width(self) -> float:
        return self.final_cells * self.cell_width

    @property
    def name_width(self) -> float:
        return self.page.content_width - self.number_width - self.columns * self.cell_width - self.final_width

    @property
    def names_left(self) -> float:
        return self.left + self.number_width

    @property
    def cells_left(self) -> float:
        return self.names_left + self.name_width

    @property
    def final_left(self) -> float:
        return self.cells_left + self.columns * self.cell_width

    @property
    def width(self) -> float:
        return self.final_left + self.final_width - self.left

    @property
    def top(self) -> float:
        return self.page.grid_top

    @property
    def head_height(self) -> float:
        return self.month_height + self.day_height

    @property
    def body_top(self) -> float:
        return self.top + self.head_height

    @property
    def height(self) -> float:
        return self.head_height + self.rows * self.row_height

    @property
    def grid_box(self) -> Box:
        """Where the background SVG (marks_grid.svg) is placed."""
        return Box(self.left, self.top, self.width, self.height)

    @property
    def notes_box(self) -> Box:
        top = self.top + self.height + 1.2
        return Box(self.left, top, self.width, self.note_lines * self.note_line_height)

    @property
    def head_number_box(self) -> Box:
        return Box(self.left, self.top, self.number_width, self.head_height)

    @property
    def head_name_box(self) -> Box:
        return Box(self.names_left, self.top, self.name_width, self.head_height)

    @property
    def head_final_box(self) -> Box:
        return Box(self.final_left, self.top, self.final_width, self.head_height)

    @property
    def names_box(self) -> Box:
        """The «№ Ф. И. О.» lines: the number's digits end 0.6 mm before the column rule."""
        digits = text_width_mm("0" * self.number_digits, SANS, self.name_pt)
        left = self.names_left - 0.6 - digits
        return Box(
            left, self.body_top, self.names_left + self.name_width - 0.8 - left, self.rows * self.row_height
        )

    @property
    def final_column_x(self) -> float:
        """Left edge of the period mark's column, relative to the grid (for the SVG's tint)."""
        return self.final_left - self.left

    # Zebra stripes, for the SVG: every other student row is shaded.
    @property
    def shaded_rows(self) -> tuple[float, ...]:
        return tuple(self.body_top - self.top + i * self.row_height for i in range(1, self.rows, 2))

    def __post_init__(self) -> None:
        if abs(self.width - self.page.content_width) > 0.01:
            raise ValueError(
                f"marks grid is {self.width} mm wide, the page holds {self.page.content_width} mm"
            )
        for font in (*self.mark_fonts, self.day):
            font.spacing_mm(self.cell_width)
        sizes = (self.name_pt, self.head_pt, self.note_pt, *(f.size_pt for f in (*self.mark_fonts, self.day)))
        if min(sizes) < SMALLEST_PT:
            raise ValueError(f"the marks sheet sets type at {min(sizes)} pt, below {SMALLEST_PT} pt")
        self.page.check_inside(self.grid_box, "the marks grid")
        if self.notes_box.bottom > self.page.body_bottom + 0.01:
            raise ValueError(
                f"the marks sheet's notes end at {self.notes_box.bottom:.1f} mm, over the footer"
            )
        if self.name_width < 40 or self.names_box.left < self.left + 0.3:
            raise ValueError(f"the Ф. И. О. column is {self.name_width:.1f} mm wide, too narrow for names")


@dataclass(frozen=True, slots=True)
class LessonsGeometry:
    """The lessons sheet: Дата | Что пройдено на уроке | Домашнее задание | Учитель; 42 ruled lines."""

    page: PageGeometry = PageGeometry()
    date_width: float = 14.0
    topic_width: float = 124.0
    homework_width: float = 84.0
    teacher_width: float = 45.0
    head_height: float = 7.0
    line_height: float = 3.9
    lines: int = 42
    text_pt: float = 7.5
    head_pt: float = 7.0
    padding: float = 1.2
    topic_lines: int = 4  # a longer topic ends in «…»
    homework_lines: int = 4
    teacher_lines: int = 2

    @property
    def left(self) -> float:
        return self.page.margin_left

    @property
    def top(self) -> float:
        return self.page.grid_top

    @property
    def body_top(self) -> float:
        return self.top + self.head_height

    @property
    def width(self) -> float:
        return self.date_width + self.topic_width + self.homework_width + self.teacher_width

    @property
    def height(self) -> float:
        return self.head_height + self.lines * self.line_height

    @property
    def grid_box(self) -> Box:
        return Box(self.left, self.top, self.width, self.height)

    @property
    def column_lefts(self) -> tuple[float, float, float, float]:
        """Left edges of the four columns, relative to the grid."""
        a = self.date_width
        b = a + self.topic_width
        return (0.0, a, b, b + self.homework_width)

    def column_box(self, index: int, *, head: bool = False) -> Box:
        widths = (self.date_width, self.topic_width, self.homework_width, self.teacher_width)
        left = self.left + self.column_lefts[index]
        if head:
            return Box(left, self.top, widths[index], self.head_height)
        return Box(
            left + self.padding,
            self.body_top,
            widths[index] - 2 * self.padding,
            self.lines * self.line_height,
        )

    @property
    def ruled_lines(self) -> tuple[float, ...]:
        """Y of each light ruling line, relative to the grid (for the SVG)."""
        return tuple(self.head_height + i * self.line_height for i in range(1, self.lines))

    def __post_init__(self) -> None:
        if abs(self.width - self.page.content_width) > 0.01:
            raise ValueError(
                f"lessons grid is {self.width} mm wide, the page holds {self.page.content_width} mm"
            )
        self.page.check_inside(self.grid_box, "the lessons grid")
        if self.grid_box.bottom > self.page.body_bottom + 0.01:
            raise ValueError(f"the lessons grid ends at {self.grid_box.bottom:.1f} mm, over the footer")


PAGE = PageGeometry()
MARKS = MarksGeometry()
LESSONS = LessonsGeometry()

# --- Sheet models ---------------------------------------------------------------


class Sheet(Protocol):
    """What the renderer needs of any sheet: its template, and its place in the document.

    Every sheet model is exactly one page. Title sheets, reports and the rest follow
    the same protocol, so the renderer and the numbering take them unchanged.
    """

    template: ClassVar[str]
    number: int  # page number, 1…total
    total: int  # pages in the document
    label: str  # what the footer prints: «Лист 3 из 15», or «оборот листа 3» on a duplex back


@dataclass(frozen=True, slots=True)
class SheetHeader:
    """The two heading lines and the footer of a sheet, already fitted to their boxes."""

    title: str  # «Математика (1 группа)»
    class_label: str  # «5А класс»
    subtitle: str  # «Учитель: Иванова А. П. · I четверть 2024/2025 учебного года · обучающиеся 1–15»
    footer: str  # «МБОУ СОШ № 1 · 5А класс · I четверть 2024/2025»


@dataclass(frozen=True, slots=True)
class TextBlock:
    """Pre-formatted lines at a place: one block per layer of cells, or per column of text."""

    box: Box
    lines: tuple[str, ...]
    size_pt: float
    leading: float  # line height, mm: a row of the grid or a ruled line
    spacing_mm: float = 0.0  # letter-spacing of fixed-slot cells
    align: str = ""  # "", "center" or "right" (the default is left)
    bold: bool = False

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@dataclass(frozen=True, slots=True)
class Label:
    """A short text centred in a box (a month name over its columns)."""

    box: Box
    text: str


@dataclass(frozen=True, slots=True)
class MarksSheet:
    """One marks page: ≤ 30 students × ≤ 35 lesson columns, and the period mark on the last one."""

    template: ClassVar[str] = "journal/marks_sheet.html"

    header: SheetHeader
    months: tuple[Label, ...]
    month_rules: tuple[Box, ...]  # vertical lines between months in the month row
    days: tuple[TextBlock, ...]  # day numbers, one line each
    names: TextBlock  # «№ Ф. И. О.», one line per student
    cells: tuple[TextBlock, ...]  # marks and the period mark: one line per student per font layer
    final_title: TextBlock  # «Отметка за» / «I четверть», centred in the heading cell
    notes: TextBlock | None  # cells too long for the grid, spelled out
    students: tuple[int, ...]  # ids, in row order (for tests and cross-checks)
    lessons: tuple[int, ...]  # ids, in column order
    finals: tuple[str, ...]  # the period marks in row order; empty unless this is the last run of dates
    number: int = 0
    total: int = 0
    label: str = ""


@dataclass(frozen=True, slots=True)
class LessonsSheet:
    """One lessons page: the lessons of a course in order, each on one or more ruled lines."""

    template: ClassVar[str] = "journal/lesson_sheet.html"

    header: SheetHeader
    columns: tuple[TextBlock, TextBlock, TextBlock, TextBlock]  # date, topic, homework, teacher
    rules: tuple[Box, ...]  # the line under each lesson
    lessons: tuple[int, ...]
    number: int = 0
    total: int = 0
    label: str = ""


# --- Building sheets --------------------------------------------------------------

S = TypeVar("S", bound=Sheet)
T = TypeVar("T")

NBSP = "\u00a0"  # keeps «I четверть» on one line when a heading wraps
ABSENT = "н"
NOT_ENROLLED = "–"  # a date on which the student was not in the class
MARK_SEPARATOR = "/"


def journal_sheets(journal: ClassJournal) -> tuple[MarksSheet | LessonsSheet, ...]:
    """All marks and lessons sheets of a class, course by course in curriculum order, unnumbered."""
    sheets: list[MarksSheet | LessonsSheet] = []
    for course in courses_in_print_order(journal):
        sheets.extend(marks_sheets(journal, course))
        sheets.extend(lessons_sheets(journal, course))
    return tuple(sheets)


def number_sheets(sheets: Sequence[S], *, duplex: bool = False) -> tuple[S, ...]:
    """The sheets with their page number, the page count and the footer's label filled in.

    Simplex (the default) a sheet is a page: «Лист N из M». Duplex, a sheet is two pages:
    the front (odd page) says «Лист k из M», the back says «оборот листа k», so a bound
    copy can still be checked page by page against the title sheet's count (R2).
    """
    pages = len(sheets)
    total = sheet_count(pages, duplex)
    return tuple(
        dataclasses.replace(s, number=i, total=pages, label=sheet_label(i, total, duplex=duplex))
        for i, s in enumerate(sheets, start=1)
    )


def sheet_count(pages: int, duplex: bool) -> int:
    """How many sheets `pages` pages make: one each, or two each when printed on both sides."""
    return (pages + 1) // 2 if duplex else pages


def sheet_of_page(page: int, duplex: bool) -> int:
    """The sheet a page (1-based) is printed on."""
    return (page + 1) // 2 if duplex else page


def sheet_label(page: int, sheets: int, *, duplex: bool = False) -> str:
    """The footer of a page: «Лист 3 из 15»; duplex, «оборот листа 3» on an even page."""
    if duplex and page % 2 == 0:
        return f"оборот листа {sheet_of_page(page, duplex)}"
    return f"Лист {sheet_of_page(page, duplex)} из {sheets}"


@dataclass(frozen=True, slots=True)
class Section:
    """A section of a document and the pages it takes (1-based, inclusive)."""

    title: str  # «Список обучающихся», «Русский язык — отметки»
    first_page: int
    last_page: int
    group: str = ""  # the course, for the parts of a course: «Русский язык»
    part: str = ""  # «отметки», «содержание уроков»

    def sheets(self, duplex: bool) -> tuple[int, int]:
        return sheet_of_page(self.first_page, duplex), sheet_of_page(self.last_page, duplex)

    def sheet_range(self, duplex: bool) -> str:
        """«5» or «5–8»: how the contents name the section's sheets."""
        first, last = self.sheets(duplex)
        return str(first) if first == last else f"{first}–{last}"


@dataclass(frozen=True)
class SheetDocument:
    """Every sheet of a document (journal or summary), numbered, with its sections (contents, outline)."""

    sheets: tuple[Sheet, ...]
    sections: tuple[Section, ...]
    duplex: bool

    @property
    def pages(self) -> int:
        return len(self.sheets)

    @property
    def sheet_count(self) -> int:
        return sheet_count(self.pages, self.duplex)


def courses_in_print_order(journal: ClassJournal) -> tuple[Course, ...]:
    """Curriculum order (subject ordinal, name), then subgroup and id — stable for any source."""

    def key(course: Course) -> tuple[int, str, str, int]:
        subject = journal.subject_by_id[course.subject_id]
        return (subject.ordinal, subject.name, course.subgroup, course.id)

    return tuple(sorted(journal.courses, key=key))


def split_evenly(items: Sequence[T], most: int) -> tuple[tuple[T, ...], ...]:
    """`items` cut into the fewest runs of ≤ `most`, as even as possible (32 students → 16 + 16).

    An empty sequence still gives one (empty) run: a course with no lessons still prints its list.
    """
    count = max(1, -(-len(items) // most))
    size, extra = divmod(len(items), count)
    runs, start = [], 0
    for i in range(count):
        end = start + size + (1 if i < extra else 0)
        runs.append(tuple(items[start:end]))
        start = end
    return tuple(runs)


def pack_runs(sizes: Sequence[float], capacity: float) -> list[range]:
    """Consecutive items packed greedily into runs whose sizes add up to ≤ `capacity` (an item
    larger than the capacity gets a run of its own)."""
    runs: list[range] = []
    used = 0.0
    for i, size in enumerate(sizes):
        if runs and used + size <= capacity + 1e-9:
            runs[-1] = range(runs[-1].start, i + 1)
            used += size
        else:
            runs.append(range(i, i + 1))
            used = size
    return runs


def balanced_runs(sizes: Sequence[float], capacity: float) -> list[range]:
    """The fewest runs of ≤ `capacity` (as `pack_runs`), made as even as possible: the smallest
    capacity that still needs no more runs, so 44 lines over two sheets print as 22 + 22, never
    42 + 2 (issue 15: no near-empty sheets). Greedy packing needs no fewer runs for a smaller
    capacity, so the smallest one is found by bisection."""
    runs = pack_runs(sizes, capacity)
    if len(runs) < 2:
        return runs
    low, high = max(max(sizes), sum(sizes) / len(runs)), capacity
    if len(pack_runs(sizes, low)) == len(runs):
        return pack_runs(sizes, low)
    for _ in range(40):
        middle = (low + high) / 2
        if len(pack_runs(sizes, middle)) <= len(runs):
            high = middle
        else:
            low = middle
    return pack_runs(sizes, high)


def grid_lessons(journal: ClassJournal, course: Course) -> tuple[Lesson, ...]:
    """The lessons that get a date column: every held lesson, and a missed one only if it has entries."""
    with_entries = {m.lesson_id for m in journal.course_marks(course)}
    with_entries |= {a.lesson_id for a in journal.course_absences(course)}
    lessons = (
        lesson
        for lesson in journal.course_lessons(course)
        if lesson.status is LessonStatus.HELD or lesson.id in with_entries
    )
    return tuple(sorted(lessons, key=lambda lesson: (lesson.date, lesson.number, lesson.id)))


HEAD_LEADING = 1.15
"""Line height of multi-line headings and grid labels, in em."""

TEXT_LEADING = 1.3
"""Line height of the free text of title and certification sheets, in em."""


def leading_mm(size_pt: float, em: float = HEAD_LEADING) -> float:
    """The line height, in mm, of text set at `size_pt` with lines `em` high: the one formula for it."""
    return size_pt / PT_PER_MM * em


def centred_text(
    text: str, left: float, top: float, width: float, size_pt: float, *, bold: bool = False, lines: int = 1
) -> TextBlock:
    """Free text of a title or certification sheet, centred, wrapped to at most `lines` lines."""
    fitted = wrap(clean_text(text, 600), width, SANS_BOLD if bold else SANS, size_pt, lines)
    leading = leading_mm(size_pt, TEXT_LEADING)
    return TextBlock(
        Box(left, top, width, leading * len(fitted)), fitted, size_pt, leading, align="center", bold=bold
    )


def text_line(
    text: str, left: float, top: float, width: float, size_pt: float, *, bold: bool = False, align: str = ""
) -> TextBlock:
    """One line of such text, ellipsized to `width`: a contents line, a role before a signature."""
    leading = leading_mm(size_pt, TEXT_LEADING)
    fitted = ellipsize(clean_text(text, 600), width, SANS_BOLD if bold else SANS, size_pt)
    return TextBlock(Box(left, top, width, leading), (fitted,), size_pt, leading, align=align, bold=bold)


def centred_lines(lines: tuple[str, ...], box: Box, size_pt: float) -> TextBlock:
    """Lines centred vertically in `box` by placing the block (flexbox costs WeasyPrint far more)."""
    leading = leading_mm(size_pt)
    height = leading * len(lines)
    top = box.top + max(0.0, (box.height - height) / 2)
    return TextBlock(Box(box.left, top, box.width, min(height, box.height)), lines, size_pt, leading)


def cell_text(marks: Sequence[str], absent: bool) -> str:
    """What a student's cell shows for one lesson: «н», «5», «4/5», «н/а», «н/4»."""
    return MARK_SEPARATOR.join(([ABSENT] if absent else []) + [clean_text(m, 60) for m in marks])


def span_title(journal: ClassJournal) -> str:
    """«I четверть 2024/2025 учебного года» or «2024/2025 учебный год»."""
    if journal.period is None:
        return f"{journal.year.name} учебный год"
    return f"{journal.period.name} {journal.year.name} учебного года"


def final_column(journal: ClassJournal) -> tuple[str, str]:
    """(period code of the final mark, heading) — the period's mark, or the year's for a year snapshot."""
    if journal.period is None:
        return FINAL_YEAR, "Годовая отметка"
    return journal.period.code, f"Отметка за {clean_text(journal.period.name, 100).replace(' ', NBSP)}"


def marks_sheets(
    journal: ClassJournal, course: Course, geometry: MarksGeometry = MARKS
) -> tuple[MarksSheet, ...]:
    """The marks pages of one course: date runs (chronological) × student runs."""
    g = geometry
    students = journal.course_students(course)
    lessons = grid_lessons(journal, course)
    marks_at: dict[tuple[int, int], list[Mark]] = defaultdict(list)
    for mark in journal.course_marks(course):
        marks_at[(mark.lesson_id, mark.student_id)].append(mark)
    absent_at = {(a.lesson_id, a.student_id) for a in journal.course_absences(course)}
    enrolments = defaultdict(list)
    for e in journal.enrolments:
        enrolments[e.student_id].append(e)
    final_period, final_heading = final_column(journal)
    final_title = centred_lines(
        wrap(final_heading, g.final_width - 1.0, SANS, g.head_pt, 3), g.head_final_box, g.head_pt
    )

    date_runs = split_evenly(lessons, g.columns)
    student_runs = split_evenly(students, g.rows)
    offsets = [sum(len(run) for run in student_runs[:i]) for i in range(len(student_runs))]
    sheets = []
    for date_index, date_run in enumerate(date_runs):
        last_dates = date_index == len(date_runs) - 1
        for student_run, offset in zip(student_runs, offsets, strict=True):
            rows = []
            for student in student_run:
                row = []
                for lesson in date_run:
                    key = (lesson.id, student.id)
                    values = [m.value for m in sorted(marks_at.get(key, ()), key=lambda m: m.id)]
                    text = cell_text(values, key in absent_at)
                    if not text and not any(e.active_on(lesson.date) for e in enrolments[student.id]):
                        text = NOT_ENROLLED
                    row.append(text)
                final = (
                    journal.final_mark(student.id, course.subject_id, final_period) if last_dates else None
                )
                rows.append((row, clean_text(final or "", 60)))
            part = _marks_part(len(students), offset, len(student_run), date_run, len(date_runs) > 1)
            sheets.append(
                _marks_sheet(journal, course, g, student_run, offset, date_run, rows, final_title, part)
            )
    return tuple(sheets)


def _marks_part(class_size: int, offset: int, count: int, dates: Sequence[Lesson], split_dates: bool) -> str:
    parts = []
    if count < class_size:
        parts.append(f"обучающиеся № {offset + 1}–{offset + count}")
    if split_dates and dates:
        parts.append(f"уроки с {_day_month(dates[0].date)} по {_day_month(dates[-1].date)}")
    return ", ".join(parts)


def _day_month(day: dt.date) -> str:
    return format_date_short(day)[:5]


def _marks_sheet(
    journal: ClassJournal,
    course: Course,
    g: MarksGeometry,
    students: Sequence[Student],
    offset: int,
    lessons: Sequence[Lesson],
    rows: list[tuple[list[str], str]],
    final_title: TextBlock,
    part: str,
) -> MarksSheet:
    # Date cells, then the period mark, which spans `final_cells` cells at the end of the same line.
    spans = (*((column, 1) for column in range(len(lessons))), (g.columns, g.final_cells))
    notes: list[str] = []

    def overflow(row: int, column: int, text: str) -> str:
        """Anything too long for its cell moves to a numbered note under the grid."""
        where = (
            _day_month(lessons[column].date) if column < len(lessons) else final_title.text.replace("\n", " ")
        )
        notes.append(f"*{len(notes) + 1} — {students[row].short_name}, {where}: {text}")
        marker = f"*{len(notes)}"
        return marker if len(marker) <= g.mark_fonts[-1].slots else "*"

    texts = [[*cells, final] for cells, final in rows]
    cells = _cell_blocks(texts, spans, g.mark_fonts, g, g.body_top, g.row_height, overflow)
    notes_block = None
    if notes:
        note_text = "; ".join(clean_text(n, 400) for n in notes)
        note_lines = wrap(note_text, g.notes_box.width, SANS, g.note_pt, g.note_lines)
        notes_block = TextBlock(g.notes_box, note_lines, g.note_pt, g.note_line_height)

    # Day numbers: the same cell machinery, one row.
    days = _cell_blocks(
        [[str(lesson.date.day) for lesson in lessons]],
        spans[:-1],
        (g.day,),
        g,
        g.top + g.month_height,
        g.day_height,
        None,
    )
    months, rules = _month_labels(lessons, g)
    names = TextBlock(
        g.names_box,
        tuple(_numbered_name(s, offset + i + 1, g) for i, s in enumerate(students)),
        g.name_pt,
        g.row_height,
    )
    return MarksSheet(
        header=_header(journal, course, g.page, part),
        months=months,
        month_rules=rules,
        days=days,
        names=names,
        cells=cells,
        final_title=final_title,
        notes=notes_block,
        students=tuple(s.id for s in students),
        lessons=tuple(lesson.id for lesson in lessons),
        finals=tuple(final for _, final in rows),
    )


FIGURE_SPACE = "\u2007"  # as wide as a digit: right-aligns the numbers on the names' lines
NUMBER_GAP = "\u2002\u2009"  # en + thin space: from the number's last digit across the column rule


def _numbered_name(student: Student, number: int, g: MarksGeometry) -> str:
    """«␣12  Иванова Анна Петровна»: the row number right-aligned in its column, then the name
    (full, else «Фамилия И. О.», else ellipsized) — one line instead of two blocks."""
    prefix = str(number).rjust(g.number_digits, FIGURE_SPACE) + NUMBER_GAP
    room = g.names_box.width - text_width_mm(prefix, SANS, g.name_pt)
    name = first_fitting(
        (clean_text(student.full_name, 300), clean_text(f"{student.last_name} {_initials(student)}", 300)),
        room,
        SANS,
        g.name_pt,
    )
    return prefix + name


def _initials(person: Student) -> str:
    return " ".join(f"{p[0]}." for p in (person.first_name, person.patronymic) if p)


BRIDGE_ROWS = 2
"""Empty rows a cell block bridges rather than starting a new block (a block costs about two lines)."""


def _cell_blocks(
    rows: Sequence[Sequence[str]],
    spans: Sequence[tuple[int, int]],
    fonts: tuple[CellFont, ...],
    g: MarksGeometry,
    top: float,
    row_height: float,
    overflow: Callable[[int, int, str], str] | None,
) -> tuple[TextBlock, ...]:
    """Lay cell texts out as a few fixed-width text blocks.

    `spans[i]` is (first grid cell, cells wide) of the texts' column i. Each text goes to
    the first font whose slots hold it (a mono-font glyph for every character); it is
    centred in its cell's slots, and when the free slots are odd the text goes to a twin
    block shifted right by half a slot — so «5», «12» and «4/5» are all centred. Text that
    fits no font is replaced by `overflow(row, column, text)`. A layer only gets lines for
    the rows that use it (split into several blocks when the rows are far apart): WeasyPrint's
    time goes by lines, and most rows have no double marks.
    """
    grids: dict[tuple[int, bool], dict[int, list[str]]] = {}
    width_cells = max((first + wide for first, wide in spans), default=0)
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            if not text:
                continue
            first, wide = spans[c]
            fitting = [
                i for i, f in enumerate(fonts) if len(text) <= f.slots * wide and has_glyphs(text, MONO)
            ]
            if not fitting:
                if overflow is None:
                    raise ValueError(f"cell text {text!r} fits no cell font")
                text = overflow(r, c, text)
                fitting = [i for i, f in enumerate(fonts) if len(text) <= f.slots * wide]
            index = fitting[0]
            slots = fonts[index].slots
            free = slots * wide - len(text)
            shifted = free % 2 == 1
            lines = grids.setdefault((index, shifted), {})
            if r not in lines:
                lines[r] = [" "] * (width_cells * slots)
            start = first * slots + free // 2
            lines[r][start : start + len(text)] = list(text)
    blocks = []
    for (index, shifted), lines in sorted(grids.items()):
        font = fonts[index]
        spacing = font.spacing_mm(g.cell_width)
        # Pango puts the letter-spacing after each glyph: half of it before the first centres the glyphs.
        left = g.cells_left + spacing / 2 + (g.cell_width / font.slots / 2 if shifted else 0.0)
        for run in _row_runs(sorted(lines)):
            text = ["".join(lines[r]).rstrip() if r in lines else "" for r in run]
            # Start the block at its first used cell: WeasyPrint draws every space glyph too.
            skip = min((len(t) - len(t.lstrip(" "))) // font.slots for t in text if t)
            text = [t[skip * font.slots :] for t in text]
            box = Box(
                left + skip * g.cell_width,
                top + run[0] * row_height,
                (width_cells - skip) * g.cell_width,
                len(run) * row_height,
            )
            blocks.append(TextBlock(box, tuple(text), font.size_pt, row_height, spacing))
    return tuple(blocks)


def _row_runs(used: list[int]) -> list[range]:
    """Sorted row numbers grouped into runs, bridging gaps of up to BRIDGE_ROWS empty rows."""
    runs: list[range] = []
    for r in used:
        if runs and r - runs[-1].stop <= BRIDGE_ROWS:
            runs[-1] = range(runs[-1].start, r + 1)
        else:
            runs.append(range(r, r + 1))
    return runs


def _month_labels(lessons: Sequence[Lesson], g: MarksGeometry) -> tuple[tuple[Label, ...], tuple[Box, ...]]:
    """Month names centred over their run of columns, and a rule where a month begins."""
    runs: list[tuple[dt.date, int, int]] = []  # (a day of the month, first column, count)
    for column, lesson in enumerate(lessons):
        if runs and (runs[-1][0].year, runs[-1][0].month) == (lesson.date.year, lesson.date.month):
            day, first, count = runs[-1]
            runs[-1] = (day, first, count + 1)
        else:
            runs.append((lesson.date, column, 1))
    labels, rules = [], []
    for day, first, count in runs:
        box = Box(g.cells_left + first * g.cell_width, g.top, count * g.cell_width, g.month_height)
        text = first_fitting(
            (month_name(day), month_name(day, abbreviated=True)), box.width - 0.6, SANS_BOLD, g.head_pt
        )
        labels.append(Label(box, text))
        if first:
            rules.append(Box(box.left, g.top, 0.0, g.month_height))
    return tuple(labels), tuple(rules)


def _header(journal: ClassJournal, course: Course, page: PageGeometry, part: str) -> SheetHeader:
    teacher = journal.teacher_by_id.get(course.teacher_id)
    bits = [f"Учитель: {teacher.short_name}" if teacher else "Учитель: не указан", span_title(journal)]
    if part:
        bits.append(part)
    return sheet_header(journal, journal.course_title(course), bits, page)


def class_teacher_line(journal: ClassJournal, *, full: bool = False) -> str:
    """«Классный руководитель: Иванова А. П.» for a sheet's subtitle; `full` names them in full
    (title sheets)."""
    teacher = journal.class_teacher
    name = (teacher.full_name if full else teacher.short_name) if teacher else "не назначен"
    return f"Классный руководитель: {name}"


def sheet_header(
    journal: ClassJournal, title: str, subtitle: Sequence[str], page: PageGeometry = PAGE
) -> SheetHeader:
    """The heading lines and footer of any journal sheet, fitted: «title … 5А класс», the subtitle
    bits joined by «·», and the footer naming the school, class and span."""
    class_label = f"{journal.school_class.name} класс"
    footer = f"{journal.school.short_name} · {class_label} · {span_title(journal)}"
    return SheetHeader(
        title=ellipsize(clean_text(title, 300), page.title_box.width, SANS_BOLD, page.title_pt),
        class_label=ellipsize(clean_text(class_label, 60), page.class_box.width, SANS_BOLD, page.title_pt),
        subtitle=ellipsize(
            clean_text("   ·   ".join(subtitle), 600), page.subtitle_box.width, SANS, page.subtitle_pt
        ),
        footer=ellipsize(clean_text(footer, 400), page.footer_box.width * 0.7, SANS, page.footer_pt),
    )


def lessons_sheets(
    journal: ClassJournal, course: Course, geometry: LessonsGeometry = LESSONS
) -> tuple[LessonsSheet, ...]:
    """The lessons pages of one course: every lesson (missed ones too, J5) on as many ruled lines
    as its wrapped topic needs (≤ 4), lessons never split across sheets and spread evenly over the
    fewest sheets (`balanced_runs`: no sheet of two lessons after a full one). No lessons, no sheet."""
    g = geometry
    lessons = sorted(
        journal.course_lessons(course), key=lambda lesson: (lesson.date, lesson.number, lesson.id)
    )
    widths = [g.column_box(i).width for i in range(4)]
    entries = []
    for lesson in lessons:
        columns = (
            (format_date_short(lesson.date)[:5],),
            wrap(clean_text(lesson.topic), widths[1], SANS, g.text_pt, g.topic_lines),
            wrap(clean_text(lesson.homework), widths[2], SANS, g.text_pt, g.homework_lines),
            wrap(_lesson_teacher(journal, lesson), widths[3], SANS, g.text_pt, g.teacher_lines),
        )
        entries.append((lesson, columns, max(len(c) for c in columns)))

    if not entries:
        return ()
    pages = [[entries[i] for i in run] for run in balanced_runs([e[2] for e in entries], g.lines)]

    sheets = []
    for page in pages:
        columns: list[list[str]] = [[], [], [], []]
        rules = []
        for _lesson, texts, height in page:
            for column, text in zip(columns, texts, strict=True):
                column.extend(text)
                column.extend([""] * (height - len(text)))
            rules.append(Box(g.left, g.body_top + len(columns[0]) * g.line_height, g.width, 0.0))
        first, last = page[0][0].date, page[-1][0].date
        part = f"уроки с {_day_month(first)} по {_day_month(last)}" if len(pages) > 1 else ""
        sheets.append(
            LessonsSheet(
                header=_header(journal, course, g.page, part),
                columns=tuple(
                    TextBlock(g.column_box(i), tuple(c), g.text_pt, g.line_height)
                    for i, c in enumerate(columns)
                ),  # type: ignore[arg-type]
                rules=tuple(rules),
                lessons=tuple(lesson.id for lesson, _, _ in page),
            )
        )
    return tuple(sheets)


def _lesson_teacher(journal: ClassJournal, lesson: Lesson) -> str:
    """Who taught: the teacher, «замена: Петров П. П.» for a substitution, or «урок не проведён»."""
    if lesson.status is LessonStatus.MISSED:
        return "урок не проведён"
    if lesson.substitute_teacher_id is not None:
        substitute = journal.teacher_by_id.get(lesson.substitute_teacher_id)
        return clean_text(f"замена: {substitute.short_name if substitute else 'учитель не указан'}", 200)
    teacher = journal.teacher_by_id.get(lesson.teacher_id)
    return clean_text(teacher.short_name if teacher else "", 200)
