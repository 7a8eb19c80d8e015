"""Benchmark: `verify --all` over a real archive (the demo school's bundles) against plain hashlib.

    .venv/bin/python -m benchmarks.verify_archive                   # demo "small": Q1, Q2 and the year
    .venv/bin/python -m benchmarks.verify_archive --size school     # 44 classes (takes minutes to build)
    .venv/bin/python -m benchmarks.verify_archive --home DIR        # an archive made already, e.g. by
                                                                     # benchmarks.archive_school --keep DIR

Issue 13's goal: the routine `verify --all` reaches at least 1.6× the throughput of one core of
`hashlib` (SHA-256 and SHA-512 of every file) over the same files, because anchored checksums pin
the bytes and replicas are checked in parallel; the full structural check (`--deep`: PDF/A and
XSD as well) is printed beside it. Everything runs on one target ("primary") from the page cache
(a warm-up pass reads every file first). MB is 10^6 bytes; the best of `--repeat` runs counts.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from pipeline.archive import archive_period_class, archive_year_class, class_names_for
from pipeline.executor import worker_count
from pipeline.school import make_demo_school
from pipeline.settings import Settings, load_settings
from pipeline.verify import verify_catalog

YEAR = "2024/2025"
GOAL = 1.6


def hash_files(files: list[Path]) -> None:
    for path in files:
        sha256, sha512 = hashlib.sha256(), hashlib.sha512()
        with path.open("rb") as stream:
            while chunk := stream.read(1 << 20):
                sha256.update(chunk)
                sha512.update(chunk)


def best(runs: int, action: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times)


def build_archive(home: Path, size: str) -> tuple[Settings, float]:
    """The demo school of `size` archived for Q1, Q2 and the year, and how long that took."""
    settings = load_settings(home)
    make_demo_school(settings, size, 2024, source_url=None, force=True)
    settings = load_settings(home)  # the demo prepared the two folder targets
    started = time.perf_counter()
    for period in ("Q1", "Q2"):
        for name in class_names_for(settings, YEAR, period):
            archive_period_class(settings, YEAR, name, period)
    for name in class_names_for(settings, YEAR, None):
        archive_year_class(settings, YEAR, name, allow_errors=True)
    return settings, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="small", choices=("class", "small", "school"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--home", type=Path, help="verify this home's archive instead of building one")
    args = parser.parse_args()
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    with tempfile.TemporaryDirectory(prefix="verify-archive-") as tmp:
        if args.home:
            settings, built = load_settings(args.home), 0.0
        else:
            settings, built = build_archive(Path(tmp) / "home", args.size)
        root = settings.home / "archive" / "primary"
        files = [p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")]
        size = sum(p.stat().st_size for p in files)
        hash_files(files)  # warm the page cache
        hashed = best(args.repeat, lambda: hash_files(files))
        routine = best(args.repeat, lambda: verify_catalog(settings, ["primary"]))
        alone = best(args.repeat, lambda: verify_catalog(settings, ["primary"], workers=1))
        deep = best(args.repeat, lambda: verify_catalog(settings, ["primary"], deep=True))
        bundles = len(verify_catalog(settings, ["primary"]))
    mb = size / 1e6
    print(
        f"archive: {bundles} bundles, {len(files)} files, {mb:.0f} MB on one target (built in {built:.0f} s)"
    )
    print(f"workers: {worker_count()} threads")
    print(f"hashlib, one core     {mb / hashed:7.0f} MB/s  1.00")
    ratio = hashed / routine
    verdict = "met" if ratio >= GOAL else "NOT met"
    print(f"verify --all          {mb / routine:7.0f} MB/s  {ratio:.2f}  (goal ≥ {GOAL}: {verdict})")
    print(f"  the same, 1 worker  {mb / alone:7.0f} MB/s  {hashed / alone:.2f}")
    print(f"verify --all --deep   {mb / deep:7.0f} MB/s  {hashed / deep:.2f}")


if __name__ == "__main__":
    main()
