"""Prefect flows: thin wrappers that fan the plain pipeline steps out over classes.

Rendering is CPU-bound and one WeasyPrint document uses one core, so classes run on
an executor (pipeline.executor: a process pool with one worker per core). Prefect
itself stays in this process: in ephemeral mode (no server configured) a Prefect task
runner with worker processes would start one temporary API server per worker
(STACK-NOTES), so each Prefect task runs in a thread and hands its class to the
executor. Every class is its own task run, visible in the logs and in the UI. From the CLI the
executor arrives with the classes that have work already running (pipeline.executor.HeadStart):
they started while Prefect's temporary server was starting, and their task runs follow them.

With a shared Prefect server configured (`[prefect] api_url`), the classes go to the work pool
instead (flows.pool): they are flow runs of the `archive_classes` deployment, a few classes
each, done by whichever worker takes them, and this flow waits for them all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import as_completed
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ThreadPoolTaskRunner

from pipeline.archive import (
    ClassArchiveResult,
    ClassRuns,
    archive_period_class,
    archive_year_class,
    class_archive_call,
    school_classes,
)
from pipeline.executor import Executor, local_executor, worker_count
from pipeline.settings import Settings, load_settings

ResultCallback = Callable[[ClassArchiveResult], None]


def report(results: list[ClassArchiveResult], on_result: ResultCallback | None) -> list[ClassArchiveResult]:
    """Log each bundle's outcome to Prefect and tell the caller (the CLI's progress bar)."""
    logger = get_run_logger()
    for result in results:
        log = logger.info if result.ok else logger.error
        log(result.line)
        if on_result is not None:
            on_result(result)
    return results


# The executor and the callback are live objects, not data: never part of a task's cache key.
@task(name="archive-class-period", task_run_name="archive {class_name} {period}", cache_policy=NO_CACHE)
def archive_class_period(
    executor: Executor,
    settings: Settings,
    year: str,
    class_name: str,
    period: str,
    on_result: ResultCallback | None = None,
) -> list[ClassArchiveResult]:
    function, args, kwargs = class_archive_call(settings, year, class_name, period)
    return report([executor.submit(function, *args, **kwargs).result()], on_result)


@task(name="archive-class-year", task_run_name="seal {class_name} {year}", cache_policy=NO_CACHE)
def archive_class_year(
    executor: Executor,
    settings: Settings,
    year: str,
    class_name: str,
    allow_errors: bool,
    on_result: ResultCallback | None = None,
) -> list[ClassArchiveResult]:
    function, args, kwargs = class_archive_call(settings, year, class_name, None, allow_errors)
    return report(executor.submit(function, *args, **kwargs).result(), on_result)


# `on_result` is typed Any: Prefect builds a JSON schema of a flow's parameters for deployments,
# and a callable has none. A deployment never passes it.
@flow(name="archive_period", task_runner=ThreadPoolTaskRunner(max_workers=worker_count()))
def archive_period(
    year: str,
    period: str,
    class_names: list[str] | None = None,
    home: str | None = None,
    on_result: Any = None,
    school: str | None = None,
    executor: Any = None,
) -> list[ClassArchiveResult]:
    """Archive every class whose reporting period is `period` (or just `class_names`), in parallel (R1).

    Parameters are plain values so that the same flow runs from the CLI and from a
    Prefect deployment (`journal-archive serve`); `home` is the journal-archive home;
    `on_result` (CLI only) is called with each bundle's result as it finishes; `school`
    names one school of several ([[schools]]), by default every school's classes run;
    `executor` (CLI only) is the pool the CLI already started some classes on
    (pipeline.executor.HeadStart), shut down by the CLI; by default the flow makes its own.
    """
    runs = school_classes(load_settings(Path(home) if home else None), school, year, period, class_names)
    if runs and runs[0][0].uses_work_pool:
        return on_work_pool(runs, year, period, on_result=on_result)
    with class_executor(runs, executor) as classes:
        futures = [
            archive_class_period.submit(classes, settings, year, name, period, on_result)
            for settings, names in runs
            for name in names
        ]
        return [result for future in futures for result in future.result()]


@flow(name="archive_year", task_runner=ThreadPoolTaskRunner(max_workers=worker_count()))
def archive_year(
    year: str,
    class_names: list[str] | None = None,
    home: str | None = None,
    allow_errors: bool = False,
    on_result: Any = None,
    school: str | None = None,
    executor: Any = None,
) -> list[ClassArchiveResult]:
    """Close the year: for every class a sealed journal bundle (5 years) and summary bundle (25 years)."""
    runs = school_classes(load_settings(Path(home) if home else None), school, year, None, class_names)
    if runs and runs[0][0].uses_work_pool:
        return on_work_pool(runs, year, None, allow_errors=allow_errors, on_result=on_result)
    with class_executor(runs, executor) as classes:
        futures = [
            archive_class_year.submit(classes, settings, year, name, allow_errors, on_result)
            for settings, names in runs
            for name in names
        ]
        return [result for future in futures for result in future.result()]


@contextmanager
def class_executor(runs: ClassRuns, given: Executor | None) -> Iterator[Executor]:
    """The executor the flow's classes run on: the caller's (which the caller shuts down), else a
    local one for these classes, shut down when the flow ends."""
    if given is not None:
        yield given
        return
    executor = local_executor(sum(len(names) for _, names in runs))
    try:
        yield executor
    finally:
        executor.shutdown()


def on_work_pool(
    runs: list[tuple[Settings, tuple[str, ...]]],
    year: str,
    period: str | None,
    *,
    allow_errors: bool = False,
    on_result: ResultCallback | None = None,
) -> list[ClassArchiveResult]:
    """Every school's classes as flow runs on the work pool (flows.pool), reported as each class
    ends; the results in the order of the classes."""
    from flows.pool import work_pool_executor

    executor = work_pool_executor(runs[0][0])  # one server and pool for the whole installation
    try:
        if period:
            calls = [(settings, year, name, period) for settings, names in runs for name in names]
            futures = executor.submit_all(archive_period_class, calls)
        else:
            calls = [(settings, year, name) for settings, names in runs for name in names]
            futures = executor.submit_all(archive_year_class, calls, allow_errors=allow_errors)
        for future in as_completed(futures):
            report(as_list(future.result()), on_result)
        return [result for future in futures for result in as_list(future.result())]
    finally:
        executor.shutdown()


def as_list(value: ClassArchiveResult | list[ClassArchiveResult]) -> list[ClassArchiveResult]:
    """A period archive's one result, or a year archive's list, as a list."""
    return value if isinstance(value, list) else [value]
