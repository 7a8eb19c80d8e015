"""Benchmark: `archive year` of the demo school from scratch, re-run unchanged, and with one mark changed.

    .venv/bin/python -m benchmarks.archive_school                  # 44 classes (several minutes)
    .venv/bin/python -m benchmarks.archive_school --size small     # 4 classes, a quick look
    .venv/bin/python -m benchmarks.archive_school --keep DIR       # keep the archived school (then
                                                                    # benchmarks.verify_archive --home DIR)

Issue 13's goals on the 2-core machine, each printed beside its figure:

- the school's year from scratch (both bundles per class, both targets, read back) ≤ 120 s;
- an unchanged re-run ≤ 10 s;
- one class with one changed mark: only that class is made again, ≤ 15 s.

The three runs are the real command (`journal-archive archive year`, a subprocess: Prefect's
temporary server, the process pool and all). Then, with `--profile N` (default 3 classes),
cProfile runs the plain pipeline for N classes of a copy of the school in this process and
prints where one class's time goes, step by step (`pipeline/archive.py`'s named steps), so
the largest costs besides rendering are visible. The temporary folder is removed (not `--keep`'s).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import os
import pstats
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pipeline.executor import worker_count

YEAR = "2024/2025"
SCRATCH_GOAL_S = 120.0
UNCHANGED_GOAL_S = 10.0
ONE_MARK_GOAL_S = 15.0
CHANGED_CLASS = "5А"

# (title, the functions whose cumulative time it is): pipeline/archive.py's named steps in order,
# then what `build_payload` spends its time on (indented; part of the payload line above them)
STEPS = (
    ("extract (SQL → snapshot)", ("extract_journal",)),
    ("journal rules J1–J6", ("validate_class_journal",)),
    ("journal.xml + XSD", ("journal_xml",)),
    ("documents (build_payload)", ("build_payload",)),
    ("  HTML + WeasyPrint", ("_render_chunk",)),
    ("  merge + PDF/A (pikepdf)", ("_merge",)),
    ("seal the PDFs (PAdES)", ("sign_pdfs",)),
    ("bag (BagIt, checksums)", ("bag_bundle",)),
    ("seal the bag (CMS + timestamp)", ("seal_bundle",)),
    ("store ×2 + read-back", ("store_replicas",)),
    ("catalog", ("record_stored_bundle", "latest_version")),
)


def run(home: Path, *args: str) -> tuple[float, str]:
    """Wall time and output of one `journal-archive` command in `home`."""
    command = [str(Path(sys.executable).with_name("journal-archive")), "--home", str(home), *args]
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return elapsed, done.stdout


def made_bundles(output: str) -> list[str]:
    """The bundle ids the run's table says were made («создан»)."""
    return re.findall(r"^\S+\s+(\S+)\s.*\bсоздан\b", output, flags=re.MULTILINE)


def change_one_mark(journal: Path, class_name: str) -> None:
    """Turn one «5» of `class_name` into «4» (or a «4» into «5») straight in the SQLite journal."""
    db = sqlite3.connect(journal)
    try:
        row = db.execute(
            """SELECT m.rowid, m.value FROM mark m
               JOIN lesson l ON l.year_id = m.year_id AND l.id = m.lesson_id
               JOIN course c ON c.year_id = l.year_id AND c.id = l.course_id
               JOIN school_class k ON k.year_id = c.year_id AND k.id = c.class_id
               WHERE k.name = ? AND m.value IN ('4', '5') ORDER BY m.rowid LIMIT 1""",
            (class_name,),
        ).fetchone()
        db.execute("UPDATE mark SET value = ? WHERE rowid = ?", ("4" if row[1] == "5" else "5", row[0]))
        db.commit()
    finally:
        db.close()


def verdict(figure: float, goal: float) -> str:
    return f"goal ≤ {goal:.0f} s: {'met' if figure <= goal else 'NOT met'}"


def profile_classes(size: str, classes: int) -> None:
    """cProfile of the plain pipeline for `classes` classes in this process, step by step."""
    from pipeline.archive import archive_year_class, class_names_for
    from pipeline.school import make_demo_school
    from pipeline.settings import load_settings

    with tempfile.TemporaryDirectory(prefix="archive-school-profile-") as tmp:
        settings = load_settings(Path(tmp))
        make_demo_school(settings, size, 2024, source_url=None, force=True)
        settings = load_settings(Path(tmp))
        names = class_names_for(settings, YEAR, None)[:classes]
        profiler = cProfile.Profile()
        started = time.perf_counter()
        profiler.enable()
        for name in names:
            archive_year_class(settings, YEAR, name, allow_errors=True)
        profiler.disable()
        total = time.perf_counter() - started
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    cumulative: dict[str, float] = {}
    for (_file, _line, function), (_cc, _nc, _tt, ct, _callers) in stats.items():
        cumulative[function] = max(cumulative.get(function, 0.0), ct)
    print(f"\nwhere one core's time goes (cProfile, {len(names)} classes, {total:.1f} s, both bundles each):")
    for title, functions in STEPS:
        spent = sum(cumulative.get(function, 0.0) for function in functions)
        print(f"  {title:32} {spent / len(names):6.2f} s/class  {100 * spent / total:5.1f} %")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="school", choices=("class", "small", "school"))
    parser.add_argument("--profile", type=int, default=3, help="classes to profile in-process (0: none)")
    parser.add_argument("--keep", type=Path, help="make the school in this new folder and keep it")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        home = args.keep or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="archive-school-")))
        run(home, "demo", "--size", args.size, "--force")
        scratch, output = run(home, "archive", "year", "--year", YEAR, "--allow-errors")
        bundles = len(made_bundles(output))
        sheets = sum(int(n) for n in re.findall(r"^\S+\s+\S+\s+\d+\s+(\d+)\s", output, flags=re.MULTILINE))
        unchanged, output = run(home, "archive", "year", "--year", YEAR, "--allow-errors")
        still = len(made_bundles(output))
        change_one_mark(home / "journal.sqlite", CHANGED_CLASS)
        one_mark, output = run(home, "archive", "year", "--year", YEAR, "--allow-errors")
        remade = made_bundles(output)
    print(f"machine: {worker_count()} cores; demo --size {args.size}: {bundles} bundles, {sheets} sheets")
    remade_text = ", ".join(remade) or "—"
    rows = (
        ("archive year from scratch", scratch, SCRATCH_GOAL_S, f"made: {bundles}"),
        ("unchanged re-run", unchanged, UNCHANGED_GOAL_S, f"made: {still}"),
        (f"one mark changed in {CHANGED_CLASS}", one_mark, ONE_MARK_GOAL_S, f"made: {remade_text}"),
    )
    for title, figure, goal, made in rows:
        print(f"{title:28} {figure:6.1f} s  ({verdict(figure, goal)}); {made}")
    if args.profile:
        profile_classes(args.size, args.profile)


if __name__ == "__main__":
    main()
