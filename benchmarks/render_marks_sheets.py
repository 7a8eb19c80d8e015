"""Benchmark: marks sheets as positioned text blocks (ours) vs a plain one-cell-per-mark <table>.

    .venv/bin/python -m benchmarks.render_marks_sheets            # synthetic class, 30 × 35 × 12 courses
    .venv/bin/python -m benchmarks.render_marks_sheets --source demo --demo-size small

Every measurement runs in its own subprocess, so each peak RSS (ru_maxrss) is its own:

- `table`   — the marks sheets as plain tables, one <td> per mark, automatic table layout,
              rendered in documents of CHUNK_SHEETS sheets like ours;
- `table-best` — the table's best case: `table-layout: fixed` and one sheet per document
              (a table document grows super-linearly in time and memory);
- `blocks`  — the same sheets with our templates (documents/render.py, chunked, merged, PDF/A);
- `journal` — the class's whole period journal as archived: title sheet, student list, marks +
              lessons sheets of every course, attendance, P1/P2 reports, certification sheet;
- `large`   — a class 4× as long and 2× as wide (year-like), to show memory stays flat.

Each run warms up first (imports, fonts) and then times rendering only (sheet models and
table rows are built before the clock starts), except `journal` and `large`, which time
layout + rendering as the archive does. Targets on the 2-core machine: blocks/table ≥ 15×;
journal ≥ 8 sheets/s per core; peak RSS ≤ 400 MB per worker.

Data: `--source synthetic` (default) builds the spec's benchmark class in benchmarks/synthetic.py
(30 students × 12 courses × 35 lessons). `--source demo` uses the demo school
(`journal.demo.generate_demo_school(size, seed)`), stores it in a temporary SQLite journal and
extracts the first period of the class with the most marks (`large`: its whole year) with
`journal.source.extract_class_journal` — the same path the archive flow takes.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from jinja2 import Environment

from documents.layout import (
    FIGURE_SPACE,
    MARKS,
    NUMBER_GAP,
    MarksSheet,
    cell_text,
    courses_in_print_order,
    final_column,
    grid_lessons,
    journal_sheets,
    marks_sheets,
    number_sheets,
)
from documents.pdf import journal_meta, render_journal_pdf
from documents.render import CHUNK_SHEETS, render_sheets_pdf
from journal.model import ClassJournal, Course

TABLE_TEMPLATE = """<!DOCTYPE html>
<html lang="ru"><head><meta charset="utf-8"><style>
@page { size: A4 landscape; margin: {{ g.page.margin_edge }}mm {{ g.page.margin_right }}mm
        {{ g.page.margin_edge }}mm {{ g.page.margin_left }}mm; }
body { font-family: "DejaVu Sans Condensed"; font-size: {{ g.name_pt }}pt; }
h1 { font-size: 11pt; margin: 0 0 1mm; } p { margin: 0 0 2mm; font-size: 8pt; }
table { border-collapse: collapse; width: {{ g.width }}mm; break-after: page; }
td, th { border: 0.12mm solid #7a7a7a; height: {{ g.row_height }}mm; padding: 0; text-align: center;
         overflow: hidden; white-space: nowrap; font-family: "DejaVu Sans Mono"; }
th { background: #e9edf2; font-size: {{ g.head_pt }}pt; font-family: "DejaVu Sans Condensed"; }
td.num { width: {{ g.number_width }}mm; text-align: right; } td.name { width: {{ g.name_width }}mm;
         text-align: left; font-family: "DejaVu Sans Condensed"; text-overflow: ellipsis; }
td.final { width: {{ g.final_width }}mm; } tr:nth-child(even) td { background: #f2f4f7; }
</style></head><body>
{% for s in sheets %}
<h1>{{ s.header.title }}</h1><p>{{ s.header.subtitle }}</p>
<table><tr><th rowspan="2" style="width:{{ g.number_width }}mm">№</th>
<th rowspan="2" style="width:{{ g.name_width }}mm">Ф. И. О. обучающегося</th>
{% for m in s.months %}<th colspan="{{ (m.box.width / g.cell_width)|round|int }}">{{ m.text }}</th>
{%- endfor %}
<th rowspan="2" style="width:{{ g.final_width }}mm">{{ s.final_title.lines|join(" ") }}</th></tr>
<tr>{% for d in days[loop.index0] %}<th>{{ d }}</th>{% endfor %}</tr>
{% for row in rows[loop.index0] %}
<tr><td class="num">{{ row.number }}</td><td class="name">{{ row.name }}</td>
{% for c in row.cells %}<td>{{ c }}</td>{% endfor %}<td class="final">{{ row.final }}</td></tr>
{% endfor %}</table>
<p>Лист {{ s.number }} из {{ s.total }}</p>
{% endfor %}
</body></html>"""


def load_class(args: argparse.Namespace, large: bool = False) -> ClassJournal:
    """The class the benchmark renders (see the module docstring); `large`: twice the students
    and four times the lessons (synthetic) or the whole year instead of a quarter (demo)."""
    if args.source == "synthetic":
        from benchmarks.synthetic import synthetic_class_journal

        factor = (2, 4) if large else (1, 1)
        return synthetic_class_journal(
            args.students * factor[0], args.courses, args.lessons * factor[1], args.seed
        )
    from journal.demo import generate_demo_school  # the demo school, once it exists
    from journal.source import create_schema, extract_class_journal, open_source, write_school_year

    data = generate_demo_school(args.demo_size, args.seed).data
    # The class with the most marks: the marks sheets are what is being measured.
    class_of_course = {c.id: c.class_id for c in data.courses}
    class_of_lesson = {ls.id: class_of_course[ls.course_id] for ls in data.lessons}
    marks = {c.id: 0 for c in data.classes}
    for m in data.marks:
        marks[class_of_lesson[m.lesson_id]] += 1
    biggest = max(data.classes, key=lambda c: (marks[c.id], -c.id))
    period = next(p for p in data.periods if p.scheme == biggest.period_scheme and p.ordinal == 1)
    with tempfile.TemporaryDirectory(prefix="bench-source-") as tmp:
        engine = open_source(f"sqlite:///{tmp}/journal.sqlite", create=True)
        try:
            create_schema(engine)
            write_school_year(engine, data)
            return extract_class_journal(engine, data.year.name, biggest.name, None if large else period.code)
        finally:
            engine.dispose()


def _table_rows(journal: ClassJournal, course: Course, sheet: MarksSheet) -> tuple[list[int], list[dict]]:
    """The plain-table version of a marks sheet: the same texts, one string per cell."""
    lessons = [journal.lesson_by_id[i] for i in sheet.lessons]
    subject_id = course.subject_id
    lesson_ids = [ls.id for ls in grid_lessons(journal, course)]
    marks: dict[tuple[int, int], list[str]] = {}
    for m in sorted(journal.marks, key=lambda m: m.id):
        marks.setdefault((m.lesson_id, m.student_id), []).append(m.value)
    absent = {(a.lesson_id, a.student_id) for a in journal.absences}
    period, _ = final_column(journal)
    last = sheet.lessons[-1:] == tuple(lesson_ids[-1:])
    rows = []
    for sid, line in zip(sheet.students, sheet.names.lines, strict=True):
        number, name = line.split(NUMBER_GAP, 1)
        final = journal.final_mark(sid, subject_id, period) if last else ""
        cells = [cell_text(marks.get((ls.id, sid), []), (ls.id, sid) in absent) for ls in lessons]
        rows.append(
            {"number": number.strip(FIGURE_SPACE), "name": name, "cells": cells, "final": final or ""}
        )
    return [ls.date.day for ls in lessons], rows


def _marks_only(journal: ClassJournal) -> tuple[MarksSheet, ...]:
    return number_sheets([s for s in journal_sheets(journal) if isinstance(s, MarksSheet)])


def _table_data(journal: ClassJournal) -> list[tuple[MarksSheet, list[int], list[dict]]]:
    """Every marks sheet with its table rows, course by course as journal_sheets orders them."""
    data = []
    sheets = iter(_marks_only(journal))
    for course in courses_in_print_order(journal):
        for _ in marks_sheets(journal, course):
            sheet = next(sheets)
            data.append((sheet, *_table_rows(journal, course, sheet)))
    return data


def run_table(journal: ClassJournal, out: Path, *, best: bool = False) -> dict:
    """The plain table: automatic table layout, sheets chunked like ours (CHUNK_SHEETS per document).

    `best`: the table's best case instead — `table-layout: fixed` and one sheet per document,
    which dodges the super-linear growth of big table documents.
    """
    from weasyprint import CSS, HTML

    data = _table_data(journal)
    template = Environment(autoescape=True).from_string(TABLE_TEMPLATE)
    fixed = [CSS(string="table { table-layout: fixed; }")] if best else []
    size = 1 if best else CHUNK_SHEETS

    def render(chunk) -> None:
        sheets, days, rows = zip(*chunk, strict=True)
        html = template.render(sheets=sheets, days=days, rows=rows, g=MARKS)
        HTML(string=html).write_pdf(out, pdf_variant="pdf/a-3b", stylesheets=fixed)

    render(data[:1])  # warm-up
    start = time.perf_counter()
    for first in range(0, len(data), size):
        render(data[first : first + size])
    return _result("table-best" if best else "table", len(data), time.perf_counter() - start)


def run_blocks(journal: ClassJournal, out: Path) -> dict:
    sheets = _marks_only(journal)
    meta = journal_meta(journal)
    render_sheets_pdf(number_sheets(sheets[:1]), out, meta)  # warm-up
    start = time.perf_counter()
    count = render_sheets_pdf(sheets, out, meta)
    return _result("blocks", count, time.perf_counter() - start)


def run_journal(journal: ClassJournal, out: Path, name: str = "journal") -> dict:
    render_sheets_pdf(number_sheets(journal_sheets(journal)[:1]), out, journal_meta(journal))  # warm-up
    start = time.perf_counter()
    count = render_journal_pdf(journal, out).pages  # layout included, title to certification sheet
    return _result(name, count, time.perf_counter() - start)


def _result(name: str, sheets: int, seconds: float) -> dict:
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"run": name, "sheets": sheets, "seconds": seconds, "rate": sheets / seconds, "peak_mb": peak_mb}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", choices=("synthetic", "demo"), default="synthetic")
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--courses", type=int, default=12)
    parser.add_argument("--lessons", type=int, default=35, help="lessons per course")
    parser.add_argument("--demo-size", default="small")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument(
        "--run", choices=("table", "table-best", "blocks", "journal", "large"), help=argparse.SUPPRESS
    )
    parser.add_argument("--skip-table", action="store_true", help="skip the slow <table> baseline")
    args = parser.parse_args(argv)

    if args.run:  # a child: one measurement, one JSON line
        journal = load_class(args, large=args.run == "large")
        with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
            out = Path(tmp) / "out.pdf"
            if args.run == "table-best":
                result = run_table(journal, out, best=True)
            elif args.run == "large":
                result = run_journal(journal, out, "large")
            else:
                runner = {"table": run_table, "blocks": run_blocks, "journal": run_journal}[args.run]
                result = runner(journal, out)
        print(json.dumps(result))
        return 0

    tables = [] if args.skip_table else ["table", "table-best"]
    runs = [*tables, "blocks", "journal", "large"]
    results = {}
    base = [a for a in (argv if argv is not None else sys.argv[1:]) if a != "--skip-table"]
    for run in runs:
        child = subprocess.run(
            [sys.executable, "-m", "benchmarks.render_marks_sheets", *base, "--run", run],
            capture_output=True,
            text=True,
            check=False,
        )
        if child.returncode:
            print(f"{run}: failed\n{child.stderr.strip()}", file=sys.stderr)
            return 1
        results[run] = json.loads(child.stdout.strip().splitlines()[-1])
        r = results[run]
        print(
            f"{run:8s} {r['sheets']:4d} sheets  {r['seconds']:6.2f} s  {r['rate']:6.2f} sheets/s  "
            f"peak RSS {r['peak_mb']:5.0f} MB",
            flush=True,
        )
    for table in tables:
        print(f"ratio blocks/{table}: {results['blocks']['rate'] / results[table]['rate']:.1f}×")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
