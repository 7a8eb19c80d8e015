"""Benchmark: full RFC 8493 validation of stored bundles vs plain hashlib over the same files.

    .venv/bin/python -m benchmarks.verify_throughput                 # 8 bags × 128 MiB in a temp dir
    .venv/bin/python -m benchmarks.verify_throughput --bags 2 --mib 32 --repeat 1   # quick look

The exit code is 0 when `journal-archive verify --all` itself reaches the target.

The target (auditors' issue): `verify --all` reaches at least 70 % of the throughput of
computing the same SHA-256 and SHA-512 digests with plain `hashlib` over the same
files in one process. The bags are written by documents.bag.write_bag straight into a
filesystem target's layout (`school/year/class/bundle`), and each is validated through
`TargetSource`, as a fixity audit of a target does. Both sides read the same files
from the page cache (a warm-up pass reads everything first); each is timed `--repeat`
times, alternating, and the best run counts. MB is 10^6 bytes.

- `hashlib`: for each file, 1 MiB reads, each chunk fed to sha256 and then sha512, one thread;
- `validate`: validators.bagit_rfc8493.validate_bag over every bundle (all RFC checks,
  files hashed once, the two digests in two threads for files of 4 MiB and more);
- `validate-1t`: the same with threading switched off, to show what the threads bring;
- `check`: validators.bundle_checks.check_stored_bundle per bundle — what `verify --all` and
  the fixity audit run: RFC 8493 plus our layer (PDF/A, XSD, seal, read-only storage, the
  catalog's anchor; the synthetic bags have no PDF or XML, so of that layer only the anchor
  and the storage checks cost anything here);
- `cli`: the command itself, `journal-archive --home H verify --all --target bench`, in a
  subprocess (interpreter start-up and imports included), over a home whose catalog was
  rebuilt from the bag set (rebuild_catalog with verify, which also records the anchors).

The payload is random-ish: one random MiB per file, repeated (hashing cost does not
depend on the bytes), so making 1 GiB takes seconds. The temp dir is removed at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import validators.bagit_rfc8493 as rfc8493
from documents.bag import BagInfo, bag_readme, write_bag
from pipeline.settings import CONFIG_NAME, load_settings
from storage.catalog import open_catalog, rebuild_catalog, recorded_digests
from storage.filesystem import FilesystemTarget
from storage.layout import bundle_id, bundle_key
from validators.bundle_checks import check_stored_bundle

MIB = 1 << 20
FILE_SHARES = (0.5, 0.25, 0.125, 0.0625, 0.0625)
"""How a bag's payload is split into files: a big PDF, smaller ones."""


def make_bag_set(root: Path, bags: int, mib_per_bag: int) -> FilesystemTarget:
    target = FilesystemTarget("bench", root)
    target.init_root()  # a run never creates a target's root: `targets init` does
    for number in range(1, bags + 1):
        class_name = f"{number}А"
        bundle = bundle_id("2024/2025", class_name, "Q1", 1)
        payload = {}
        for index, share in enumerate(FILE_SHARES):
            block = os.urandom(MIB)
            size = max(1, int(mib_per_bag * share))
            payload[f"part-{index}.bin"] = block * size
        info = BagInfo(
            source_organization="Школа № 1",
            external_description=f"Тестовый пакет {number}",
            external_identifier=bundle,
            academic_year="2024/2025",
            school_class=class_name,
            period_code="Q1",
            period="I четверть",
            bundle_kind="period",
            bundle_version=1,
            retention_class="period",
            retain_until=dt.date(2030, 6, 30),
            source_fingerprint="sha256:" + "0" * 64,
            bagging_date=dt.date(2024, 10, 25),
        )
        readme = bag_readme("Тестовый пакет", bundle, {name: "Данные." for name in payload})
        key = bundle_key("school-1", "2024/2025", class_name, bundle)
        bag = write_bag(root.joinpath(*key.split("/")), payload, info, readme)
        for path in bag.rglob("*"):  # as a filesystem target stores it (verify reports writable files)
            if path.is_file():
                path.chmod(0o444)
    return target


def plain_hashlib(paths: list[Path]) -> int:
    total = 0
    for path in paths:
        sha256, sha512 = hashlib.sha256(), hashlib.sha512()
        with path.open("rb") as stream:
            while chunk := stream.read(MIB):
                sha256.update(chunk)
                sha512.update(chunk)
                total += len(chunk)
        sha256.hexdigest(), sha512.hexdigest()
    return total


def validate_all(target: FilesystemTarget) -> int:
    total = 0
    for key in target.list_bundles():
        report = rfc8493.validate_bag(rfc8493.TargetSource(target, key))
        if not report.valid:
            raise SystemExit(rfc8493.format_report([report]))
        total += report.bytes_hashed
    return total


def validate_all_one_thread(target: FilesystemTarget) -> int:
    saved = rfc8493.THREADED_MIN_SIZE
    rfc8493.THREADED_MIN_SIZE = sys.maxsize
    try:
        return validate_all(target)
    finally:
        rfc8493.THREADED_MIN_SIZE = saved


def make_home(home: Path, bag_root: Path) -> Path:
    """A journal-archive home whose targets are the bag set ("bench") and an empty spare, catalogued."""
    home.mkdir(parents=True, exist_ok=True)
    (home / CONFIG_NAME).write_text(
        '[source]\nurl = "sqlite:///journal.sqlite"\n\n'
        f'[[targets]]\nname = "bench"\ntype = "filesystem"\npath = "{bag_root}"\n\n'
        '[[targets]]\nname = "spare"\ntype = "filesystem"\npath = "spare"\n',
        encoding="utf-8",
    )
    settings = load_settings(home)
    problems = rebuild_catalog(settings.catalog_path, [FilesystemTarget("bench", bag_root)], verify=True)
    if problems:
        raise SystemExit("\n".join(problems))
    return home


def check_all(target: FilesystemTarget, home: Path) -> int:
    db = open_catalog(load_settings(home).catalog_path)
    total = 0
    try:
        for key in target.list_bundles():
            digests = recorded_digests(db, key.rsplit("/", 1)[1])
            report = check_stored_bundle(target, key, recorded_digests=digests)
            if not report.valid or not digests:
                raise SystemExit(rfc8493.format_report([report]))
            total += report.bytes_hashed
    finally:
        db.close()
    return total


def cli_verify(home: Path, octets: int) -> int:
    command = [str(Path(sys.executable).with_name("journal-archive")), "--home", str(home)]
    done = subprocess.run(
        [*command, "verify", "--all", "--target", "bench"], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(done.stdout + done.stderr)
    return octets


def best_rate(run: Callable[[], int], results: dict[str, list[float]], name: str) -> None:
    started = time.perf_counter()
    octets = run()
    results.setdefault(name, []).append(octets / 1e6 / (time.perf_counter() - started))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bags", type=int, default=8)
    parser.add_argument("--mib", type=int, default=128, help="payload MiB per bag")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=Path, help="reuse or keep the bag set here instead of a temp dir")
    args = parser.parse_args(argv)

    temp = None if args.dir else Path(tempfile.mkdtemp(prefix="verify-throughput-"))
    root = args.dir or temp
    try:
        started = time.perf_counter()
        target = FilesystemTarget("bench", root)
        if not target.list_bundles():
            target = make_bag_set(root, args.bags, args.mib)
        paths = [
            root.joinpath(*key.split("/"), *relpath.split("/"))
            for key in target.list_bundles()
            for relpath in target.iter_files(key)
        ]
        size = sum(path.stat().st_size for path in paths)
        print(
            f"bag set: {len(target.list_bundles())} bags, {len(paths)} files, {size / 1e6:.0f} MB "
            f"(ready in {time.perf_counter() - started:.1f} s) at {root}"
        )
        home = make_home(Path(tempfile.mkdtemp(prefix="verify-home-")), root)
        plain_hashlib(paths)  # warm the page cache
        hashed = sum(p.stat().st_size for p in paths if not p.name.startswith("tagmanifest-"))

        results: dict[str, list[float]] = {}
        for _ in range(args.repeat):
            best_rate(lambda: plain_hashlib(paths), results, "hashlib")
            best_rate(lambda: validate_all(target), results, "validate")
            best_rate(lambda: validate_all_one_thread(target), results, "validate-1t")
            best_rate(lambda: check_all(target, home), results, "check")
            best_rate(lambda: cli_verify(home, hashed), results, "cli")
        shutil.rmtree(home, ignore_errors=True)
        best = {name: max(rates) for name, rates in results.items()}
        for name, rate in best.items():
            runs = ", ".join(f"{r:.0f}" for r in results[name])
            print(f"{name:12} {rate:7.0f} MB/s   (runs: {runs})")
        ratios = {name: best[name] / best["hashlib"] for name in best if name != "hashlib"}
        print(
            "ratio to hashlib (target ≥ 0.70 for verify --all): "
            + ", ".join(f"{name} {ratio:.2f}" for name, ratio in ratios.items())
        )
        return 0 if ratios["cli"] >= 0.7 else 1
    finally:
        if temp is not None:
            for folder, dirs, _ in os.walk(temp):
                for name in dirs:
                    Path(folder, name).chmod(0o755)
            shutil.rmtree(temp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
