"""Runs started from the web page: an archive or a verification in a background thread, with progress.

The administrator's archive run is the plain pipeline fan-out (`archive_classes`: one
class per call of `archive_period_class` / `archive_year_class` on the local executor,
one worker process per core), run in a thread of the web process so the page answers
while it works. A `Run` holds the progress the polling page shows (a row per class,
updated as each class finishes); when it ends its result table is written to the
catalog's `web_runs`, so past runs stay visible after a restart.

Where the classes run is the board's executor factory: the local process pool by default;
flows/web.py hands in the Prefect work pool's executor when a Prefect server is configured,
so the classes are flow runs of the `archive_classes` deployment (a few classes each) on the
pool's workers.
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import as_completed
from dataclasses import dataclass, field

from pipeline.archive import (
    ArchiveStatus,
    ClassArchiveResult,
    archive_period_class,
    archive_year_class,
    class_names_for,
    outcome_line,
)
from pipeline.bundles import report_json, reports_dir, verify_bundles
from pipeline.errors import staff_message
from pipeline.executor import Executor, local_executor
from pipeline.kinds import kind_title
from pipeline.settings import Settings
from storage import accounts
from storage.accounts import RunRecord
from storage.modes import private_dir, write_private

Clock = Callable[[], dt.datetime]
ExecutorFactory = Callable[[int], Executor]
"""The executor for a run of that many classes."""
QUEUED = "в очереди"


def archive_classes(
    settings: Settings,
    year: str,
    period: str | None,
    class_names: Sequence[str],
    *,
    allow_errors: bool = False,
    executor: Executor | None = None,
    on_class: Callable[[str, list[ClassArchiveResult]], None] | None = None,
) -> list[ClassArchiveResult]:
    """Archive a period (the year if `period` is None) of `class_names` on an executor, class by class."""
    executor = executor or local_executor(len(class_names))
    try:
        if period is None:
            calls = [(settings, year, name) for name in class_names]
            submitted = executor.submit_all(archive_year_class, calls, allow_errors=allow_errors)
        else:
            submitted = executor.submit_all(
                archive_period_class, [(settings, year, n, period) for n in class_names]
            )
        futures = dict(zip(submitted, class_names, strict=True))
        results: list[ClassArchiveResult] = []
        for future in as_completed(futures):
            value = future.result()
            found = value if isinstance(value, list) else [value]
            results += found
            if on_class is not None:
                on_class(futures[future], found)
        return results
    finally:
        executor.shutdown()


@dataclass
class Run:
    """One run's live state; the lock guards `rows`, `done`, `finished` and `outcome`."""

    run_id: str
    kind: str  # "archive" or "verify"
    title: str
    user_name: str
    started: dt.datetime
    total: int
    done: int = 0
    rows: list[dict[str, str]] = field(default_factory=list)
    finished: dt.datetime | None = None
    outcome: str = ""
    failed: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def snapshot(self) -> RunRecord:
        with self.lock:
            return RunRecord(
                self.run_id,
                self.kind,
                self.title,
                self.user_name,
                accounts.stamp(self.started),
                accounts.stamp(self.finished) if self.finished else None,
                self.outcome,
                [dict(row) for row in self.rows],
            )


class RunBoard:
    """The runs of this web process; finished ones are also in the catalog."""

    def __init__(self, settings: Settings, clock: Clock, executor: ExecutorFactory = local_executor) -> None:
        self.settings = settings
        self.clock = clock
        self.executor = executor
        self._runs: dict[str, Run] = {}
        self._lock = threading.Lock()

    def get(self, run_id: str) -> RunRecord | None:
        with self._lock:
            run = self._runs.get(run_id)
        if run is not None:
            return run.snapshot()
        db = accounts.open_accounts(self.settings.catalog_location)
        try:
            return accounts.find_run(db, run_id)
        finally:
            db.close()

    def past(self, kind: str) -> list[RunRecord]:
        db = accounts.open_accounts(self.settings.catalog_location)
        try:
            stored = accounts.runs_of_kind(db, kind)
        finally:
            db.close()
        with self._lock:
            live = [
                run.snapshot() for run in self._runs.values() if run.kind == kind and run.finished is None
            ]
        return live + stored

    def _start(
        self,
        kind: str,
        title: str,
        user_name: str,
        total: int,
        rows: list[dict[str, str]],
        work: Callable[[Run], str],
    ) -> Run:
        run = Run(secrets.token_hex(8), kind, title, user_name, self.clock(), total, rows=rows)
        db = accounts.open_accounts(self.settings.catalog_location)
        try:
            accounts.insert_run(db, run.run_id, kind, title, user_name, run.started)
        finally:
            db.close()
        with self._lock:
            self._runs[run.run_id] = run
        threading.Thread(target=self._work, args=(run, work), name=f"run-{run.run_id}", daemon=True).start()
        return run

    def _work(self, run: Run, work: Callable[[Run], str]) -> None:
        try:
            outcome, failed = work(run), False
        except Exception as error:  # the run's failure is its outcome, shown on its page
            outcome, failed = "Сбой: " + staff_message(error, context=f"run {run.run_id}"), True
        with run.lock:
            run.finished = self.clock()
            run.outcome = outcome
            run.failed = failed
            rows = [dict(row) for row in run.rows]
        db = accounts.open_accounts(self.settings.catalog_location)
        try:
            accounts.finish_run(db, run.run_id, run.finished, outcome, rows)
        finally:
            db.close()

    # --- the two kinds of run ---

    def start_archive(
        self,
        user_name: str,
        year: str,
        period: str | None,
        class_names: Sequence[str] = (),
        schools: Sequence[Settings] | None = None,
    ) -> Run:
        """Archive a period (or the year) for the chosen classes, or all; bad input raises at once.
        `schools` (several schools' settings, one after another) names each row's school; None is the
        board's own school."""
        work_list = [
            (scope, class_names_for(scope, year, period, class_names))
            for scope in (schools if schools is not None else [self.settings])
        ]
        for scope, _ in work_list:
            scope.targets()  # a bad target configuration stops here
        span = f"период {period.upper()}" if period else "год (опечатанные пакеты)"
        count = sum(len(names) for _, names in work_list)
        title = f"Архив {year}: {span}, {count} кл.{_which_schools(schools)}"
        rows = [
            {
                **_school_column(scope, schools),
                "class": name,
                "bundle": "",
                "kind": "",
                "status": QUEUED,
                "remarks": "",
            }
            for scope, names in work_list
            for name in names
        ]

        def work(run: Run) -> str:
            results: list[ClassArchiveResult] = []
            for scope, names in work_list:
                school = _school_column(scope, schools)

                def on_class(
                    name: str, found: list[ClassArchiveResult], school: dict[str, str] = school
                ) -> None:
                    with run.lock:
                        first = next(
                            i
                            for i, row in enumerate(run.rows)
                            if row["class"] == name and _same_school(row, school)
                        )
                        run.rows[first : first + 1] = [{**school, **_result_row(r)} for r in found]
                        run.done += 1

                results += archive_classes(
                    scope, year, period, names, executor=self.executor(len(names)), on_class=on_class
                )
            return outcome_line(results)

        return self._start("archive", title, user_name, count, rows, work)

    def start_verify(
        self,
        user_name: str,
        bundle_ids: Sequence[str] | None,
        total: int,
        schools: Sequence[Settings] | None = None,
    ) -> Run:
        """Verify the chosen bundles (all if None) on every target; the JSON report is kept under the home.
        `schools` as for start_archive."""
        scopes = schools if schools is not None else [self.settings]
        title = "Проверка всех пакетов" if bundle_ids is None else "Проверка пакета " + ", ".join(bundle_ids)
        title += _which_schools(schools)

        def work(run: Run) -> str:
            reports = []
            for scope in scopes:
                school = _school_column(scope, schools)

                def on_replica(report, school: dict[str, str] = school) -> None:  # type: ignore[no-untyped-def]
                    target, _, key = report.bag.partition(":")
                    with run.lock:
                        run.rows.append(
                            {
                                **school,
                                "bundle": key.rsplit("/", 1)[-1],
                                "target": target,
                                "status": "исправна" if report.valid else "повреждена",
                                "remarks": "; ".join(p.message for p in report.problems),
                            }
                        )
                        run.done += 1

                reports += verify_bundles(scope, bundle_ids, on_replica)
            folder = reports_dir(self.settings)
            private_dir(folder)
            write_private(folder / f"{run.run_id}.json", report_json(reports))
            bad = sum(not r.valid for r in reports)
            return f"Проверено копий: {len(reports)}; исправны: {len(reports) - bad}; повреждены: {bad}."

        return self._start("verify", title, user_name, total, [], work)


def _school_name(settings: Settings) -> str:
    return settings.school.name if settings.school is not None else ""


def _which_schools(schools: Sequence[Settings] | None) -> str:
    """The end of a run's title naming its school, or «все школы (N)»; nothing on a one-school page."""
    if schools is None:
        return ""
    return ", " + (_school_name(schools[0]) if len(schools) == 1 else f"все школы ({len(schools)})")


def _school_column(settings: Settings, schools: Sequence[Settings] | None) -> dict[str, str]:
    """A row's «Школа» when the run spans a choice of schools; nothing on a one-school page."""
    return {} if schools is None else {"school": _school_name(settings)}


def _same_school(row: dict[str, str], school: dict[str, str]) -> bool:
    return row.get("school", "") == school.get("school", "")


def _result_row(result: ClassArchiveResult) -> dict[str, str]:
    return {
        "class": result.class_name,
        "bundle": result.bundle_id,
        "kind": kind_title(result.kind) if result.kind else "",
        "status": result.status,
        "remarks": result.message or result.findings_summary,
        "failed": "" if result.ok else "1",
    }


def run_failed(record: RunRecord) -> bool:
    """A finished run with any class not archived (or a crash)."""
    return record.outcome.startswith("Сбой") or any(row.get("failed") for row in record.rows)


__all__ = ["QUEUED", "ArchiveStatus", "ExecutorFactory", "Run", "RunBoard", "archive_classes", "run_failed"]
