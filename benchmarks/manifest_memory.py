"""Benchmark: peak memory of validate_bag on bags with huge manifests (issue 14).

    .venv/bin/python -m benchmarks.manifest_memory                  # 1,000,000-line manifest
    .venv/bin/python -m benchmarks.manifest_memory --lines 300000   # another size

Before the fix a 1,000,000-line manifest cost about 1.3 GB in `verify`: the file was
read whole, decoded whole, split into a list of lines and then parsed. Now tag files
are streamed in 1 MiB chunks, and a manifest past MAX_MANIFEST_LINES lines (or
MAX_MANIFEST_BYTES bytes) is refused with an error naming it and the limit.

Each case runs validate_bag in a fresh interpreter and reports its peak resident
memory (ru_maxrss), beside the goal:

- `small`: a three-file bag, for the interpreter and imports alone;
- `N lines`: a bag whose manifest-sha256.txt has `--lines` entries (default 1,000,000, 111 MB)
  for files the bag lacks: refused, unread past the byte or line limit; goal: at most GOAL_MB;
- `over the limit`: 10,000 lines more than MAX_MANIFEST_LINES, under the byte limit: refused
  while streaming at the line limit; goal: at most GOAL_MB;
- `at the limit`: MAX_MANIFEST_LINES entries, each for a file the bag lacks, so every
  entry is kept and reported missing (the worst a bag within the limit can do);
  goal: at most GOAL_MB.

The exit code is 0 when every case meets its goal. The temp dir is removed at the end.
"""

from __future__ import annotations

import argparse
import hashlib
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from validators.bagit_rfc8493 import MAX_MANIFEST_LINES, DirectorySource, validate_bag

GOAL_MB = 400
"""Peak resident memory a check of one bag may reach, whatever its manifest declares."""


def make_bag(root: Path, lines: int) -> Path:
    """A bag with one payload file whose manifest-sha256.txt lists `lines` more files it lacks
    (`lines` + 1 lines in all)."""
    bag = root / f"bag-{lines}"
    (bag / "data").mkdir(parents=True)
    (bag / "data" / "journal.txt").write_bytes(b"5A\n")
    (bag / "bagit.txt").write_text("BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n")
    digest = hashlib.sha256(b"5A\n").hexdigest()
    with (bag / "manifest-sha256.txt").open("w", encoding="utf-8") as manifest:
        manifest.write(f"{digest}  data/journal.txt\n")
        for i in range(lines):
            manifest.write(f"{i:064x}  data/lessons/2024-2025/5A/lesson-{i:07}.pdf\n")
    return bag


def peak_mb(bag: Path) -> tuple[float, float, int, bool]:
    """(peak MB, seconds, problems, valid) of validate_bag on `bag`, run in a fresh interpreter."""
    command = [sys.executable, "-m", "benchmarks.manifest_memory", "--child", str(bag)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout.split()
    return float(output[0]), float(output[1]), int(output[2]), output[3] == "True"


def child(bag: Path) -> None:
    started = time.perf_counter()
    report = validate_bag(DirectorySource(bag))
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(f"{peak:.0f} {seconds:.2f} {len(report.problems)} {report.valid}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return 0

    root = Path(tempfile.mkdtemp(prefix="manifest-memory-"))
    try:
        over = MAX_MANIFEST_LINES + 10_000
        cases = [
            ("small", make_bag(root, 2), None),
            (f"{args.lines:,} lines", make_bag(root, args.lines), GOAL_MB),
            (f"over the limit ({over:,} lines)", make_bag(root, over - 1), GOAL_MB),
            (f"at the limit ({MAX_MANIFEST_LINES:,} lines)", make_bag(root, MAX_MANIFEST_LINES - 1), GOAL_MB),
        ]
        print(f"{'case':<32} {'manifest MB':>11} {'peak MB':>8} {'goal MB':>8} {'s':>6} {'problems':>9}")
        ok = True
        for name, bag, goal in cases:
            size = (bag / "manifest-sha256.txt").stat().st_size / 1e6
            peak, seconds, problems, valid = peak_mb(bag)
            met = goal is None or peak <= goal
            ok &= met
            print(
                f"{name:<32} {size:>11.1f} {peak:>8.0f} {goal or '-':>8} {seconds:>6.2f} {problems:>9}"
                f"  {'ok' if met else 'OVER GOAL'}{'' if not valid else ' (valid)'}"
            )
        return 0 if ok else 1
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
