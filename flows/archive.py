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

from flows.pipeline import ClassArchiveResult, archive_period_class
from flows.settings import Settings, load_settings
from journal.source import open_source, select_class_names

ResultCallback = Callable[[ClassArchiveResult], None]

_pool: Executor | None = None
_on_result: ResultCallback | None = None


def worker_count() -> int:
    return max(1, len(os.sched_getaffinity(0)))


@contextlib.contextmanager
def reporting_to(callback: ResultCallback) -> Iterator[None]:
    """Call `callback` with each class's result as it finishes (the CLI's progress bar)."""
    global _on_result
    _on_result = callback
    try:
        yield
    finally:
        _on_result = None


@task(name="archive-class", task_run_name="archive {class_name} {period}", retries=0)
def archive_class(settings: Settings, year: str, class_name: str, period: str) -> ClassArchiveResult:
    logger = get_run_logger()
    if _pool is not None:
        result = _pool.submit(archive_period_class, settings, year, class_name, period).result()
    else:
        result = archive_period_class(settings, year, class_name, period)
    log = logger.info if result.ok else logger.error
    log(
        "%s: %s %s (%s листов, ошибок %s, предупреждений %s) %s",
        class_name,
        result.status,
        result.bundle_id,
        result.sheets,
        result.errors,
        result.warnings,
        result.message,
    )
    if _on_result is not None:
        _on_result(result)
    return result


@flow(name="archive_period", task_runner=ThreadPoolTaskRunner(max_workers=worker_count()))
def archive_period(
    year: str, period: str, class_names: list[str] | None = None, home: str | None = None
) -> list[ClassArchiveResult]:
    """Archive every class whose reporting period is `period` (or just `class_names`), in parallel (R1).

    Parameters are plain values so that the same flow runs from the CLI and from a
    Prefect deployment (`journal-archive serve`); `home` is the journal-archive home.
    """
    global _pool
    settings = load_settings(Path(home) if home else None)
    engine = open_source(settings.source_url)
    try:
        names = select_class_names(engine, year, period, tuple(class_names or ()))
    finally:
        engine.dispose()
    workers = max(1, min(worker_count(), len(names)))
    context = multiprocessing.get_context("spawn")  # no fork: Prefect runs threads in this process
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        _pool = pool
        try:
            futures = [archive_class.submit(settings, year, name, period) for name in names]
            return [future.result() for future in futures]
        finally:
            _pool = None
