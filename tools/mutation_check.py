"""Mutation check of the protections: break each one, run the tests that guard it, expect a failure.

    .venv/bin/python tools/mutation_check.py                 # every mutation below
    .venv/bin/python tools/mutation_check.py --only s3-head-check --only xml-parser
    .venv/bin/python tools/mutation_check.py --list
    .venv/bin/python tools/mutation_check.py --each --only xml-parser   # every named test must fail

Each entry of MUTATIONS replaces one line of a protection with a broken one, runs the
named tests with pytest, expects at least one of them to fail, and puts the file back
(bytes and mtime) whatever happens. A mutation the tests do not notice is SURVIVED: a
protection that could be removed with every test green. Exit code 0 when every
mutation was caught, 1 otherwise (also when a line is not found: the code moved, and
the entry needs updating). Run it before changing any module listed here; it is not part
of the test suite and not run in CI. Lines are matched without their indentation, which
the broken line takes over.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Mutation:
    name: str
    path: str  # relative to the repository root
    original: str  # the line as it is, without indentation; must occur exactly once
    broken: str  # what replaces it
    tests: tuple[str, ...]  # pytest arguments: files or node ids


# --- the protections: update paths and lines here when the code moves ----------------------------

P = "tests/test_protections.py::"
MUTATIONS: tuple[Mutation, ...] = (
    Mutation(
        "folder-read-back",
        "storage/target.py",
        "problems = tuple(verify_stored_bundle(target, key))",
        "problems = ()  # MUTATION: read-back finds nothing",
        (
            P + "test_a_file_damaged_after_writing_to_a_folder_is_refused_by_the_read_back",
            P + "test_a_period_bundle_with_no_good_copy_is_not_archived",
        ),
    ),
    Mutation(
        "s3-head-check",
        "storage/s3.py",
        "self._check_stored(key, files, until)",
        "pass  # MUTATION: no HEAD check before the marker",
        (P + "test_an_object_changed_on_the_server_before_the_head_check_is_refused",),
    ),
    Mutation(
        "xml-parser",
        "documents/xml_format.py",
        "return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)",
        "return etree.XMLParser(resolve_entities=True, no_network=False, load_dtd=True, huge_tree=False)",
        (
            P + "test_an_external_entity_given_to_the_parser_stays_unresolved",
            P + "test_an_external_dtd_given_to_the_parser_is_not_loaded",
            P + "test_a_bundle_xsd_with_a_file_entity_is_not_expanded",
        ),
    ),
    Mutation(
        "xml-resolve-entities",
        "documents/xml_format.py",
        "return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)",
        "return etree.XMLParser(resolve_entities=True, no_network=True, load_dtd=False, huge_tree=False)",
        (
            P + "test_an_external_entity_given_to_the_parser_stays_unresolved",
            P + "test_a_bundle_xsd_with_a_file_entity_is_not_expanded",
        ),
    ),
    Mutation(
        "xml-load-dtd",
        "documents/xml_format.py",
        "return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)",
        "return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=True, huge_tree=False)",
        (P + "test_an_external_dtd_given_to_the_parser_is_not_loaded",),
    ),
    Mutation(
        "manifest-checksums",
        "storage/bagformat.py",
        "mismatched = [m for m in listing if listed[m][path] != actual[_algorithm_of(m)]]",
        "mismatched = []  # MUTATION: checksums never differ",
        ("tests/test_storage.py",),
    ),
    Mutation(
        "dot-dot-paths",
        "storage/layout.py",
        'or any(part in ("", ".", "..") for part in relpath.split("/"))',
        'or any(part in ("", ".") for part in relpath.split("/"))',
        ("tests/test_storage.py",),
    ),
    Mutation(
        "retention-last-day",
        "storage/retention.py",
        "return today > until",
        "return today >= until",
        ("tests/test_storage.py",),
    ),
    Mutation(
        "object-lock-date",
        "storage/s3.py",
        "return dt.datetime.combine(retain_until + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)",
        "return dt.datetime.combine(retain_until, dt.time(), tzinfo=dt.UTC)",
        ("tests/test_s3_target.py::test_lock_ends_after_the_retain_until_day_in_utc",),
    ),
    Mutation(
        "seal-signature",
        "documents/seal.py",
        "if outcome.ok:",
        "if True:  # MUTATION: every signature is good",
        ("tests/test_seal.py",),
    ),
    Mutation(
        "catalog-anchor",
        "validators/bundle_checks.py",
        "if hasher.hexdigest() != recorded[path].lower():",
        "if False:  # MUTATION: the catalog's digest is never compared",
        ("tests/test_verify_audit.py::test_consistently_rewritten_bag_fails_on_the_catalog_anchor",),
    ),
    Mutation(
        "check-period-filter",
        "pipeline/school.py",
        "for finding in validate_class_journal(extract_class_journal(engine, year, name, period))",
        "for finding in validate_class_journal(extract_class_journal(engine, year, name, None))",
        ("tests/test_cli.py::test_check_of_one_period_and_class",),
    ),
    Mutation(
        "check-class-filter",
        "pipeline/school.py",
        "for name in select_class_names(engine, year, period, tuple(class_names))",
        "for name in select_class_names(engine, year, period, ())",
        ("tests/test_cli.py::test_check_of_one_period_and_class",),
    ),
    Mutation(
        "j6-rounding",
        "journal/model.py",
        "return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))",
        "return int(value.quantize(Decimal(1)))  # MUTATION: banker's rounding",
        ("tests/test_journal_rules.py",),
    ),
    Mutation(
        "j6-too-few-marks",
        "validators/journal_rules.py",
        "and len(numbers) < MIN_PERIOD_MARKS",
        "and len(numbers) < MIN_PERIOD_MARKS - 1",
        ("tests/test_journal_rules.py",),
    ),
)


# --- running ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    mutation: Mutation
    line: int  # 0 when the line was not found
    verdict: str  # caught, SURVIVED, NOT FOUND, ERROR
    detail: str


def locate(text: str, original: str) -> list[int]:
    """Indexes of the lines that are `original` apart from indentation."""
    return [i for i, line in enumerate(text.splitlines(keepends=True)) if line.strip() == original.strip()]


def run_tests(tests: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-rf", "-p", "no:cacheprovider", *tests]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)


def judge(mutation: Mutation, line: int, result: subprocess.CompletedProcess[str]) -> Outcome:
    failed = re.findall(r"^FAILED (\S+)", result.stdout, flags=re.MULTILINE)
    if result.returncode == 1 and failed:
        return Outcome(mutation, line, "caught", failed[0])
    if result.returncode == 0:
        return Outcome(mutation, line, "SURVIVED", "every test passed")
    tail = (result.stdout + result.stderr).strip().splitlines()[-1:] or [""]
    return Outcome(mutation, line, "ERROR", f"pytest exit code {result.returncode}: {tail[0]}")


def apply_and_test(mutation: Mutation, each: bool = False) -> Outcome:
    path = ROOT / mutation.path
    if not path.is_file():
        return Outcome(mutation, 0, "NOT FOUND", f"no file {mutation.path}")
    data = path.read_bytes()
    times = path.stat()
    lines = data.decode("utf-8").splitlines(keepends=True)
    found = locate(data.decode("utf-8"), mutation.original)
    if len(found) != 1:
        return Outcome(mutation, 0, "NOT FOUND", f"the original line occurs {len(found)} times")
    index = found[0]
    line = lines[index]
    indent = line[: len(line) - len(line.lstrip())]
    ending = line[len(line.rstrip("\r\n")) :]
    lines[index] = indent + mutation.broken.strip() + ending
    try:
        path.write_text("".join(lines), encoding="utf-8")
        if not each:
            return judge(mutation, index + 1, run_tests(mutation.tests))
        outcomes = [judge(mutation, index + 1, run_tests((test,))) for test in mutation.tests]
    finally:
        path.write_bytes(data)
        os.utime(path, ns=(times.st_atime_ns, times.st_mtime_ns))  # cached bytecode matches again
    missed = [(test, o) for test, o in zip(mutation.tests, outcomes, strict=True) if o.verdict != "caught"]
    if missed:
        test, outcome = missed[0]
        return Outcome(mutation, index + 1, outcome.verdict, f"{test}: {outcome.detail}")
    return Outcome(mutation, index + 1, "caught", f"each of the {len(outcomes)} test arguments failed")


def print_table(outcomes: list[Outcome]) -> None:
    rows = [("mutation", "where", "result", "detail")]
    rows += [(o.mutation.name, f"{o.mutation.path}:{o.line or '?'}", o.verdict, o.detail) for o in outcomes]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for number, row in enumerate(rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)), row[3])
        if number == 0:
            print("  ".join("─" * width for width in widths), "─" * 6)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", default=[], help="run only this mutation (repeatable)")
    parser.add_argument("--list", action="store_true", help="list the mutations and exit")
    parser.add_argument(
        "--each", action="store_true", help="run each test argument on its own and expect every one to fail"
    )
    args = parser.parse_args(argv)
    names = {m.name for m in MUTATIONS}
    unknown = sorted(set(args.only) - names)
    if unknown:
        parser.error(f"unknown mutation {', '.join(unknown)} (known: {', '.join(sorted(names))})")
    chosen = [m for m in MUTATIONS if not args.only or m.name in args.only]
    if args.list:
        for m in chosen:
            print(f"{m.name}: {m.path}: {m.original.strip()}  →  {m.broken.strip()}")
        return 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so `finally` restores the file
    outcomes = []
    for mutation in chosen:
        print(f"… {mutation.name} ({mutation.path})", file=sys.stderr, flush=True)
        outcomes.append(apply_and_test(mutation, each=args.each))
    print_table(outcomes)
    return 0 if all(o.verdict == "caught" for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
