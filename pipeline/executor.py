"""The executor seam: how the archive fans its classes out.

One class's archive is one call of a plain function (`archive_period_class`,
`archive_year_class`); an `Executor` decides where that call runs. The local
process pool is the first implementation (one worker per core: WeasyPrint uses one
core per document); a Prefect work pool is another, behind the same interface. An
executor is a value handed to whoever fans out — no module-level pool or callback.
A run hands over all its classes at once (`submit_all`), so an executor may group them: the
work pool archives several classes in one flow run, as each flow run costs a process start.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class Executor(Protocol):
    """Runs class archives somewhere and hands back a future of each."""

    def submit(self, function: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]: ...

    def submit_all(
        self, function: Callable[..., T], calls: Sequence[tuple[Any, ...]], /, **kwargs: Any
    ) -> list[Future[T]]:
        """A future of each `function(*call, **kwargs)`, in the order of `calls`."""
        ...

    def shutdown(self) -> None: ...


def worker_count() -> int:
    """The cores this process may use."""
    return max(1, len(os.sched_getaffinity(0)))


class InlineExecutor:
    """Runs each call at once in the calling thread: for tests that step through."""

    def submit(self, function: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        try:
            future.set_result(function(*args, **kwargs))
        except BaseException as error:  # the future carries it, as a pool's would
            future.set_exception(error)
        return future

    def submit_all(
        self, function: Callable[..., T], calls: Sequence[tuple[Any, ...]], /, **kwargs: Any
    ) -> list[Future[T]]:
        return [self.submit(function, *call, **kwargs) for call in calls]

    def shutdown(self) -> None:
        pass


class LocalProcessExecutor:
    """One worker process per core (at most one per class), started with spawn, not fork:
    the caller may run threads (Prefect does), which fork would copy half-way."""

    def __init__(self, classes: int, workers: int | None = None) -> None:
        self.workers = max(1, min(workers or worker_count(), classes))
        self._pool = ProcessPoolExecutor(
            max_workers=self.workers, mp_context=multiprocessing.get_context("spawn")
        )

    def submit(self, function: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        return self._pool.submit(function, *args, **kwargs)

    def submit_all(
        self, function: Callable[..., T], calls: Sequence[tuple[Any, ...]], /, **kwargs: Any
    ) -> list[Future[T]]:
        return [self._pool.submit(function, *call, **kwargs) for call in calls]

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class HeadStart:
    """An executor whose calls may be started before they are asked for.

    The CLI knows which classes have work as soon as the catalog has been read, several seconds
    before Prefect's temporary server answers; it `start`s them on the process pool then, and
    when the flow hands the same call (equal function and arguments) to `submit`, it gets the
    call already under way instead of a second one. Every other call goes to the pool as usual.
    The caller owns the pool and shuts it down.
    """

    def __init__(self, executor: Executor) -> None:
        self.executor = executor
        self._started: list[tuple[tuple[object, ...], Future[Any]]] = []
        self._lock = threading.Lock()  # the flow's task threads submit side by side

    def start(self, function: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future = self.executor.submit(function, *args, **kwargs)
        with self._lock:
            self._started.append(((function, args, sorted(kwargs.items())), future))
        return future

    def submit(self, function: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        call = (function, args, sorted(kwargs.items()))
        with self._lock:
            for index, (started, future) in enumerate(self._started):
                if started == call:  # Settings compare by value: the flow loads its own copy
                    del self._started[index]
                    return future
        return self.executor.submit(function, *args, **kwargs)

    def submit_all(
        self, function: Callable[..., T], calls: Sequence[tuple[Any, ...]], /, **kwargs: Any
    ) -> list[Future[T]]:
        return [self.submit(function, *call, **kwargs) for call in calls]

    def shutdown(self) -> None:
        self.executor.shutdown()


def local_executor(classes: int) -> Executor:
    """The executor for `classes` classes on this machine: a process pool, one worker per core or class.

    One class too: in its own process it runs beside the caller's Prefect start-up (the temporary
    server, the flow run's states) instead of after it — measured, `archive year --class 5А` of
    the demo school took 16 s inline and 13.5 s so (README, «Performance»)."""
    return LocalProcessExecutor(classes)
