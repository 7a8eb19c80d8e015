"""Prefect flows: thin wrappers that fan the plain pipeline steps out over classes.

Rendering is CPU-bound and one WeasyPrint document uses one core, so classes are
archived in a process pool with one worker per core. Prefect itself stays in
this process: in ephemeral mode (no server configured) a Prefect task runner
with worker processes would start one temporary API server per worker
(STACK-NOTES), so each Prefect task runs in a thread and hands its class to the
pool. Every class is its own task run, visible in the logs and in the UI.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.task_runners import ThreadPoolTaskRunner

from journal.russian import count_words
from pipeline.archive import ClassArchiveResult, archive_period_class, archive_year_class, class_names_for
from pipeline.settings import Settings, load_settings
from storage.retention import BUNDLE_KIND_TITLES

ResultCallback = Callable[[ClassArchiveResult], None]

_pool: Executor | None = None
_on_result: ResultCallback | None = None


def worker_count() -> int:
    return max(1, len(os.sched_getaffinity(0)))


@contextlib.contextmanager
def reporting_to(callback: ResultCallback) -> Iterator[None]:
    """Call `callback` with each class's results as they finish (the CLI's progress bar)."""
    global _on_result
    _on_result = callback
    try:
        yield
    finally:
        _on_result = None


@contextlib.contextmanager
def worker_pool(classes: int) -> Iterator[None]:
    """One worker process per core (at most one per class) for the duration of a flow run."""
    global _pool
    workers = max(1, min(worker_count(), classes))
    context = multiprocessing.get_context("spawn")  # no fork: Prefect runs threads in this process
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        _pool = pool
        try:
            yield
        finally:
            _pool = None


def run_in_pool(function: Callable[..., object], *args: object, **kwargs: object) -> object:
    return _pool.submit(function, *args, **kwargs).result() if _pool else function(*args, **kwargs)


def report(results: list[ClassArchiveResult]) -> list[ClassArchiveResult]:
    """Log each bundle's outcome to Prefect and tell the CLI."""
    logger = get_run_logger()
    for result in results:
        log = logger.info if result.ok else logger.error
        log(result_line(result))
        if _on_result is not None:
            _on_result(result)
    return results


def result_line(result: ClassArchiveResult) -> str:
    """One bundle's outcome in Russian, for the Prefect log."""
    parts = [f"{result.class_name} · {BUNDLE_KIND_TITLES.get(result.kind, result.kind)}: {result.status}"]
    if result.bundle_id:
        parts.append(result.bundle_id)
    if result.sheets:
        parts.append(count_words(result.sheets, "лист", "листа", "листов"))
    if result.findings_summary:
        parts.append(result.findings_summary)
    if result.message:
        parts.append(result.message)
    return "; ".join(parts)


@task(name="archive-class-period", task_run_name="archive {class_name} {period}")
def archive_class_period(
    settings: Settings, year: str, class_name: str, period: str
) -> list[ClassArchiveResult]:
    return report([run_in_pool(archive_period_class, settings, year, class_name, period)])


@task(name="archive-class-year", task_run_name="seal {class_name} {year}")
def archive_class_year(
    settings: Settings, year: str, class_name: str, allow_errors: bool
) -> list[ClassArchiveResult]:
    return report(run_in_pool(archive_year_class, settings, year, class_name, allow_errors=allow_errors))


@flow(name="archive_period", task_runner=ThreadPoolTaskRunner(max_workers=worker_count()))
def archive_period(
    year: str, period: str, class_names: list[str] | None = None, home: str | None = None
) -> list[ClassArchiveResult]:
    """Archive every class whose reporting period is `period` (or just `class_names`), in parallel (R1).

    Parameters are plain values so that the same flow runs from the CLI and from a
    Prefect deployment (`journal-archive serve`); `home` is the journal-archive home.
    """
    settings = load_settings(Path(home) if home else None)
    names = class_names_for(settings, year, period, class_names)
    with worker_pool(len(names)):
        futures = [archive_class_period.submit(settings, year, name, period) for name in names]
        return [result for future in futures for result in future.result()]


@flow(name="archive_year", task_runner=ThreadPoolTaskRunner(max_workers=worker_count()))
def archive_year(
    year: str, class_names: list[str] | None = None, home: str | None = None, allow_errors: bool = False
) -> list[ClassArchiveResult]:
    """Close the year: for every class a sealed journal bundle (5 years) and summary bundle (25 years)."""
    settings = load_settings(Path(home) if home else None)
    names = class_names_for(settings, year, None, class_names)
    with worker_pool(len(names)):
        futures = [archive_class_year.submit(settings, year, name, allow_errors) for name in names]
        return [result for future in futures for result in future.result()]
