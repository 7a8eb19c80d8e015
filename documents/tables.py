"""Ruled tables laid out in Python, cut into parts that each fit a box on one sheet.

The journal's lists and reports (students, attendance, P1, P2, the contents) are tables whose
rows vary in height (wrapped names, one line per guardian). Like the marks grid
(documents/layout.py), they are laid out here to the millimetre — every cell's text fitted,
wrapped or ellipsized with the real font metrics — so that each part is known to fit its
sheet before WeasyPrint sees it, and the number of sheets is known up front (R2). WeasyPrint
gets one pre-formatted text block per column (and per bold or spanning row) and one inline
SVG of rules: a few dozen boxes per sheet, not a box per cell.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from documents.fonts import SANS, SANS_BOLD, clean_text, ellipsize, wrap
from documents.layout import Box, TextBlock, centred_lines, leading_mm


class RowKind(StrEnum):
    BODY = "body"
    TOTAL = "total"  # bold, tinted: «Итого по классу»
    GROUP = "group"  # one bold line across the table: «II четверть»; repeated on a continuation part
    NOTE = "note"  # a paragraph under (or between) the ruled rows, no rules


@dataclass(frozen=True, slots=True)
class Column:
    """A column: its heading, width in mm (0: shares what the fixed columns leave), alignment,
    an optional heading shared with its neighbours (`group`) and how many lines a cell may take."""

    title: str
    width: float = 0.0
    align: str = ""  # "", "center", "right"
    group: str = ""
    lines: int = 1


@dataclass(frozen=True, slots=True)
class Row:
    """A row: one text per column (a tuple of texts is one line each), or one text for GROUP/NOTE."""

    cells: tuple[str | tuple[str, ...], ...]
    kind: RowKind = RowKind.BODY


@dataclass(frozen=True, slots=True)
class TableStyle:
    text_pt: float = 8.0
    head_pt: float = 7.0
    line_height: float = 4.3
    padding: float = 1.2
    head_padding: float = 0.9
    group_lines: int = 2
    note_lines: int = 12


TABLE_STYLE = TableStyle()


@dataclass(frozen=True, slots=True)
class TablePart:
    """One sheet's share of a table: text blocks and the SVG path data of its tints and rules
    (coordinates in mm relative to `box`, the area the table may take)."""

    box: Box
    height: float  # used from the top of `box`
    heads: tuple[TextBlock, ...]
    blocks: tuple[TextBlock, ...]
    head_fill: str
    group_fill: str
    total_fill: str
    rules: str
    frame: str
    rows: tuple[Row, ...]  # the rows it shows, for tests and cross-checks

    @property
    def text(self) -> str:
        return "\n".join(b.text for b in (*self.heads, *self.blocks))


def resolve_widths(columns: Sequence[Column], width: float) -> tuple[float, ...]:
    """Column widths in mm: fixed ones as given, the rest share what is left equally."""
    fixed = sum(c.width for c in columns)
    flexible = [c for c in columns if not c.width]
    left = width - fixed
    if left < (10 * len(flexible) if flexible else -0.01) or (not flexible and abs(left) > 0.01):
        raise ValueError(f"columns of {fixed:.1f} mm do not fit a table {width:.1f} mm wide")
    share = left / len(flexible) if flexible else 0.0
    return tuple(c.width or share for c in columns)


def _path_rect(left: float, top: float, width: float, height: float) -> str:
    return f"M{_n(left)} {_n(top)}h{_n(width)}v{_n(height)}h{_n(-width)}z"


def _n(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def layout_table(
    columns: Sequence[Column],
    rows: Sequence[Row],
    box: Box,
    style: TableStyle = TABLE_STYLE,
    *,
    first_box: Box | None = None,
) -> tuple[TablePart, ...]:
    """The table cut into parts: the first fits `first_box` (default `box`), every other `box`.

    Every part repeats the heading; a part that begins inside a group repeats the group's line
    with «(продолжение)»; a group line is never left alone at the bottom of a part. Parts are
    balanced: as many as needed, each about as full as the others. An empty
    table still gives one part (its heading), so a section always has a sheet.
    """
    if first_box is not None and abs(first_box.width - box.width) > 0.01:
        raise ValueError("a table's parts must all be as wide as each other")
    widths = resolve_widths(columns, box.width)
    lefts = [sum(widths[:i]) for i in range(len(widths))]
    lh = style.line_height
    fitted = [_fit_row(row, columns, widths, style) for row in rows]

    head_height, heads, head_rules = _head(columns, widths, lefts, style)

    def capacity(part_index: int) -> int:
        b = first_box if part_index == 0 and first_box is not None else box
        return int((b.height - head_height + 0.01) // lh)

    def cut(most: int) -> list[list[int | tuple[str, int]]]:
        """The rows cut into parts of at most `most` lines (and what each part's box holds)."""
        parts: list[list[int | tuple[str, int]]] = []  # row indexes, or (a continued group's text, lines)
        current: list[int | tuple[str, int]] = []
        used = 0
        group: int | None = None
        for i, (row, lines) in enumerate(zip(rows, fitted, strict=True)):
            height = max(len(cell) for cell in lines)
            need = height
            if row.kind is RowKind.GROUP and i + 1 < len(rows):
                need += max(len(c) for c in fitted[i + 1])
            if current and used + need > min(most, capacity(len(parts))):
                parts.append(current)
                current, used = [], 0
                if group is not None and row.kind is not RowKind.GROUP:
                    text = f"{rows[group].cells[0]} (продолжение)"
                    cont = len(_fit_row(Row((text,), RowKind.GROUP), columns, widths, style)[0])
                    current.append((text, cont))
                    used += cont
            if row.kind is RowKind.GROUP:
                group = i
            current.append(i)
            used += height
        parts.append(current)
        return parts

    # The fewest parts, then as even as they can be (issue 15: 28 students print as 14 + 14, not
    # 23 + 5): the smallest line limit that still needs no more parts.
    most = max(capacity(0), capacity(1))
    parts = cut(most)
    while len(parts) > 1 and most > 1 and len(candidate := cut(most - 1)) == len(parts):
        parts, most = candidate, most - 1
    boxes: list[Box] = []
    for index in range(len(parts)):
        boxes.append(first_box if index == 0 and first_box is not None else box)
    return tuple(
        _part(columns, rows, fitted, part, part_box, widths, lefts, head_height, heads, head_rules, style)
        for part, part_box in zip(parts, boxes, strict=True)
    )


def _fit_row(
    row: Row, columns: Sequence[Column], widths: Sequence[float], style: TableStyle
) -> tuple[tuple[str, ...], ...]:
    """The lines of each cell of a row, every line fitted to its column."""
    pad = 2 * style.padding
    if row.kind in (RowKind.GROUP, RowKind.NOTE):
        bold = row.kind is RowKind.GROUP
        limit = style.group_lines if bold else style.note_lines
        text = clean_text(str(row.cells[0]), 4000)
        return (wrap(text, sum(widths) - pad, SANS_BOLD if bold else SANS, style.text_pt, limit),)
    if len(row.cells) != len(columns):
        raise ValueError(f"a table row has {len(row.cells)} cells for {len(columns)} columns")
    font = SANS_BOLD if row.kind is RowKind.TOTAL else SANS
    cells = []
    for cell, column, width in zip(row.cells, columns, widths, strict=True):
        if isinstance(cell, tuple):
            lines = tuple(
                ellipsize(clean_text(line, 1000), width - pad, font, style.text_pt)
                for line in cell[: max(column.lines, 1)]
            ) or ("",)
        else:
            lines = wrap(clean_text(cell, 4000), width - pad, font, style.text_pt, column.lines)
        cells.append(lines)
    return tuple(cells)


def _head(
    columns: Sequence[Column], widths: Sequence[float], lefts: Sequence[float], style: TableStyle
) -> tuple[float, list[tuple[tuple[str, ...], float, float, float, float]], str]:
    """Heading cells as (lines, left, top, width, height) relative to the table, its height and rules."""
    pad = 2 * style.padding
    leading = leading_mm(style.head_pt)
    groups: list[tuple[str, int, int]] = []  # (title, first column, count)
    for i, column in enumerate(columns):
        if column.group and groups and groups[-1][0] == column.group and groups[-1][1] + groups[-1][2] == i:
            title, first, count = groups[-1]
            groups[-1] = (title, first, count + 1)
        elif column.group:
            groups.append((column.group, i, 1))

    def lines(text: str, width: float, most: int) -> tuple[str, ...]:
        return wrap(clean_text(text, 300), width - pad, SANS_BOLD, style.head_pt, most)

    titles = [lines(c.title, w, 5) for c, w in zip(columns, widths, strict=True)]
    group_titles = [lines(g, sum(widths[f : f + n]), 2) for g, f, n in groups]
    group_h = max((len(t) for t in group_titles), default=0) * leading
    group_h = group_h + 2 * style.head_padding if groups else 0.0
    sub_h = max((len(t) for t, c in zip(titles, columns, strict=True) if c.group), default=0) * leading
    solo_h = max((len(t) for t, c in zip(titles, columns, strict=True) if not c.group), default=0) * leading
    height = max(solo_h, group_h + sub_h) + 2 * style.head_padding
    cells = []
    rules = []
    for title, column, left, width in zip(titles, columns, lefts, widths, strict=True):
        top = group_h if column.group else 0.0
        cells.append((title, left, top, width, height - top))
        if left:
            rules.append(f"M{_n(left)} {_n(top)}V{_n(height)}")
    for (_, first, count), title in zip(groups, group_titles, strict=True):
        left = lefts[first]
        width = sum(widths[first : first + count])
        cells.append((title, left, 0.0, width, group_h))
        rules.append(f"M{_n(left)} {_n(group_h)}h{_n(width)}")
        if left:
            rules.append(f"M{_n(left)} 0V{_n(group_h)}")
    return height, cells, "".join(rules)


def _part(
    columns: Sequence[Column],
    rows: Sequence[Row],
    fitted: Sequence[tuple[tuple[str, ...], ...]],
    part: Sequence[int | tuple[str, int]],
    box: Box,
    widths: Sequence[float],
    lefts: Sequence[float],
    head_height: float,
    heads: Sequence[tuple[tuple[str, ...], float, float, float, float]],
    head_rules: str,
    style: TableStyle,
) -> TablePart:
    lh = style.line_height
    pad = style.padding
    total_width = sum(widths)
    head_blocks = tuple(
        _head_block(lines, Box(box.left + left, box.top + top, width, height), style)
        for lines, left, top, width, height in heads
    )
    normal: list[list[str]] = [[] for _ in columns]
    bold: list[list[str]] = [[] for _ in columns]
    spans: list[TextBlock] = []
    group_fill, total_fill, rules = [], [], [head_rules]
    frame = [_path_rect(0, 0, total_width, head_height)]
    y = head_height
    line = 0
    shown: list[Row] = []
    previous_ruled = True  # the heading's bottom edge is drawn by the frame
    for item in part:
        if isinstance(item, tuple):
            text, _ = item
            row = Row((text,), RowKind.GROUP)
            cells = _fit_row(row, columns, widths, style)
        else:
            row = rows[item]
            cells = fitted[item]
        shown.append(row)
        height = max(len(c) for c in cells)
        top = y
        if row.kind in (RowKind.GROUP, RowKind.NOTE):
            is_group = row.kind is RowKind.GROUP
            block_box = Box(box.left + pad, box.top + top, total_width - 2 * pad, height * lh)
            spans.append(TextBlock(block_box, cells[0], style.text_pt, lh, bold=is_group))
            for column in range(len(columns)):
                normal[column].extend([""] * height)
                bold[column].extend([""] * height)
            if is_group:
                group_fill.append(_path_rect(0, top, total_width, height * lh))
                bottom = _n(top + height * lh)
                rules.append(f"M0 {_n(top)}V{bottom}M{_n(total_width)} {_n(top)}V{bottom}")
                rules.append(f"M0 {_n(top + height * lh)}h{_n(total_width)}")
                if not previous_ruled:
                    rules.append(f"M0 {_n(top)}h{_n(total_width)}")
            previous_ruled = is_group
        else:
            target, other = (bold, normal) if row.kind is RowKind.TOTAL else (normal, bold)
            for column, cell in enumerate(cells):
                target[column].extend([*cell, *[""] * (height - len(cell))])
                other[column].extend([""] * height)
            if row.kind is RowKind.TOTAL:
                total_fill.append(_path_rect(0, top, total_width, height * lh))
            bottom = top + height * lh
            if not previous_ruled:
                rules.append(f"M0 {_n(top)}h{_n(total_width)}")
            rules.append(f"M0 {_n(bottom)}h{_n(total_width)}")
            rules.append("".join(f"M{_n(x)} {_n(top)}V{_n(bottom)}" for x in (*lefts[1:], 0.0, total_width)))
            previous_ruled = True
        y += height * lh
        line += height
    blocks: list[TextBlock] = []
    for column, (left, width) in enumerate(zip(lefts, widths, strict=True)):
        for lines, is_bold in ((normal[column], False), (bold[column], True)):
            used = [i for i, text in enumerate(lines) if text]
            if not used:
                continue
            first, last = used[0], used[-1]
            block_box = Box(
                box.left + left + pad,
                box.top + head_height + first * lh,
                width - 2 * pad,
                (last - first + 1) * lh,
            )
            blocks.append(
                TextBlock(
                    block_box,
                    tuple(lines[first : last + 1]),
                    style.text_pt,
                    lh,
                    align=columns[column].align,
                    bold=is_bold,
                )
            )
    return TablePart(
        box=box,
        height=y,
        heads=head_blocks,
        blocks=(*blocks, *spans),
        head_fill=_path_rect(0, 0, total_width, head_height),
        group_fill="".join(group_fill),
        total_fill="".join(total_fill),
        rules="".join(rules),
        frame="".join(frame),
        rows=tuple(shown),
    )


def _head_block(lines: tuple[str, ...], box: Box, style: TableStyle) -> TextBlock:
    block = centred_lines(lines, box, style.head_pt)
    return TextBlock(block.box, block.lines, block.size_pt, block.leading, align="center", bold=True)
