"""Class runs on a Prefect process work pool: a few classes per flow run, done by whichever worker takes it.

When the configuration names a shared Prefect server (`[prefect] api_url`), a run's classes do
not go to this machine's process pool but become flow runs of the `archive_classes` deployment
on the work pool `[prefect] work_pool`; the workers (`journal-archive workers`, on any number
of machines) take them one at a time. `WorkPoolExecutor` is the executor seam
(pipeline.executor) for that: it hands back a future of each class's result, which travels back
as plain JSON in a table artifact of its flow run (the server's database; no result storage
shared between machines is needed).

Why several classes per flow run: a process worker starts a new Python process for each flow
run, and Prefect's start in it (the process, imports, the flow run's states on the server) costs
seconds before any work, as long as a short class's archive. So the classes are split into
RUNS_PER_WORKER flow run per online worker (at most MAX_CLASSES_PER_RUN classes each), balanced
by their lessons (`plan_batches`): the size of a class's journal, which sets how long its
rendering takes. Measured on two workers (README, «Performance»): one run per worker instead of
two made the three-school quarter 1.31× → 1.45× as fast as one worker; the balance by lessons
leaves little for a worker that finishes early to take over.

A machine that dies mid-run leaves its flow run «Running». Flow runs send heartbeats (every
HEARTBEAT_SECONDS, set in the deployment's environment) and an automation on the server marks a
run that stopped sending them as Crashed (Prefect's documented zombie detection); the executor
then submits the classes of that run that left no result again, and another worker archives
them. Nothing half-made is left: a bundle counts only once it is on a target and in the catalog,
a crashed build folder is removed by the next run on that machine, a copy stored but not
catalogued is adopted or passed over (pipeline.archive.claim_version), and a class archived just
before the crash but without its result is «без изменений» the second time.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

import httpx
from prefect import flow, get_client
from prefect.artifacts import create_table_artifact
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    FlowRunFilter,
    FlowRunFilterId,
    WorkerFilter,
    WorkerFilterStatus,
)
from prefect.client.schemas.objects import StateType
from prefect.client.schemas.sorting import ArtifactSort
from prefect.deployments import run_deployment
from prefect.deployments.runner import EntrypointType
from prefect.events.actions import ChangeFlowRunState
from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture
from prefect.events.schemas.events import ResourceSpecification
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound, PrefectHTTPStatusError

from pipeline.archive import (
    archive_period_class,
    archive_year_class,
    class_lesson_counts,
    lost_result,
    of_school,
    result_data,
    result_from_data,
)
from pipeline.settings import ConfigError, Settings, load_settings, owner_only_process, select_school

T = TypeVar("T")

FLOW_NAME = "archive_classes"  # its deployment is named after the work pool: archive_classes/<pool>
RUNS_PER_WORKER = 1  # flow runs per online worker: each run is a process start (~5 s of Prefect and imports)
MAX_CLASSES_PER_RUN = 10  # a municipality's classes still spread evenly; a poll reads few results
CLASS_LESSONS = 100  # a class's own steps (extraction, seal, storing) weigh about as much as 100 lessons
HEARTBEAT_SECONDS = 30  # Prefect's shortest interval between a flow run's heartbeats
ATTEMPTS = 3  # runs of one class before the parent gives up on it (crashed machines)
POLL_SECONDS = 1.0  # how often the parent asks the server about its flow runs
RESULTS_PAGE = 200  # the server's largest page of artifacts
WORKER_QUERY_ENV = "PREFECT_WORKER_QUERY_SECONDS"
WORKER_QUERY_SECONDS = 2  # how often an idle worker asks for a class (Prefect's default: 15 s)
STOP_SECONDS = 10  # how long a stopped worker may take to finish before it is killed
RESULT_ARTIFACT = "Результат архивирования класса"  # begins each result table's description


@flow(name=FLOW_NAME, log_prints=False)
def archive_classes(
    year: str,
    classes: list[dict[str, str | None]],
    period: str | None = None,
    home: str | None = None,
    allow_errors: bool = False,
) -> int:
    """Classes on one worker, one after another: each its period bundle (`period` given) or its
    year-end bundles (R1–R3). Each of `classes` is {"class_name": …, "school": the folder of one
    of several [[schools]], or None}.

    Each class's result rows go into a table artifact as soon as it is done: that is how the run
    that submitted this one reads them, from any machine, class by class."""
    owner_only_process()  # a worker may be a bare `prefect worker start`: children's data stays private (A2)
    installation = load_settings(Path(home) if home else None)
    for entry in classes:
        settings = select_school(installation, entry["school"])
        class_name = str(entry["class_name"])
        if period:
            results = [archive_period_class(settings, year, class_name, period)]
        else:
            results = archive_year_class(settings, year, class_name, allow_errors=allow_errors)
        create_table_artifact(
            [result_data(result) for result in results], description=result_description(entry)
        )
    return len(classes)


def result_description(entry: dict[str, str | None]) -> str:
    """The description of a class's result table: how the waiting run finds that class's results."""
    school = f" ({entry['school']})" if entry.get("school") else ""
    return f"{RESULT_ARTIFACT} {entry['class_name']}{school}"


def plan_batches(weights: Sequence[int], runs: int) -> list[list[int]]:
    """The indexes of `weights` in `runs` groups of about equal total weight: heaviest first, each
    to the lightest group so far (Graham's rule, within 4/3 of the best). Each group keeps the given
    order; the heaviest group comes first, as workers take the first submitted first."""
    groups: list[list[int]] = [[] for _ in range(max(1, min(runs, len(weights))))]
    totals = [0] * len(groups)
    for index in sorted(range(len(weights)), key=lambda i: (-weights[i], i)):
        lightest = min(range(len(groups)), key=lambda g: (totals[g], g))
        groups[lightest].append(index)
        totals[lightest] += weights[index]
    heaviest_first = sorted(range(len(groups)), key=lambda g: (-totals[g], g))
    return [sorted(groups[g]) for g in heaviest_first if groups[g]]


def run_count(classes: int, workers: int) -> int:
    """How many flow runs share `classes` classes among `workers` online workers; with none
    known online, one per class (workers about to start may be many)."""
    if workers < 1:
        return classes
    return min(classes, max(RUNS_PER_WORKER * workers, math.ceil(classes / MAX_CLASSES_PER_RUN)))


@dataclass
class _Class:
    """One class the parent waits for: its future, its school's settings and its entry in a run."""

    future: Future[Any]
    settings: Settings  # the school's
    entry: dict[str, str | None]  # {"class_name", "school"}: an item of archive_classes' `classes`
    one_result: bool  # a period archive answers one result; a year archive a list


@dataclass
class _Batch:
    """One flow run the parent waits for: the parameters its classes share, the classes it has not
    had results of yet, and which attempt this is."""

    shared: dict[str, Any]  # year, period, home, allow_errors
    classes: list[_Class]
    attempt: int = 1


def class_call(
    function: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Settings, dict[str, Any], dict[str, str | None]]:
    """One call of archive_period_class / archive_year_class as (the school's settings, the
    `archive_classes` parameters it shares with the other classes of its run, its entry)."""
    if function is archive_period_class:
        settings, year, class_name, period = args
        shared = {"year": year, "period": period, "home": str(settings.home)}
    elif function is archive_year_class:
        settings, year, class_name = args
        shared = {"year": year, "home": str(settings.home), "allow_errors": bool(kwargs.get("allow_errors"))}
    else:
        raise TypeError(f"the work pool runs class archives only, not {function.__qualname__}")
    return settings, shared, {"class_name": class_name, "school": settings.school_folder}


class WorkPoolExecutor:
    """The executor seam on a Prefect work pool: classes are flow runs of the deployment, a few each.

    One thread polls the server for all the runs this executor waits for (a municipality's
    run may have thousands of classes) and resolves each class's future as its result appears;
    the classes of a crashed run are submitted again, up to `attempts`."""

    def __init__(self, settings: Settings, *, attempts: int = ATTEMPTS, poll_seconds: float = POLL_SECONDS):
        self.settings = settings
        self.attempts = attempts
        self.poll_seconds = poll_seconds
        self._batches: dict[UUID, _Batch] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll, name="work-pool-poll", daemon=True)
        self._poller.start()

    def submit(self, function: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        return self.submit_all(function, [args], **kwargs)[0]

    def submit_all(
        self, function: Callable[..., T], calls: Sequence[tuple[Any, ...]], /, **kwargs: Any
    ) -> list[Future[T]]:
        """Split the classes into flow runs (plan_batches) and submit them, the heaviest first."""
        if not calls:
            return []
        groups: dict[str, tuple[dict[str, Any], list[_Class]]] = {}
        futures: list[Future[T]] = []
        for args in calls:
            settings, shared, entry = class_call(function, args, kwargs)
            one = _Class(Future(), settings, entry, function is archive_period_class)
            groups.setdefault(json.dumps(shared, sort_keys=True), (shared, []))[1].append(one)
            futures.append(one.future)
        workers = online_workers(self.settings)
        for shared, classes in groups.values():
            weights = class_weights(shared, classes)
            for indexes in plan_batches(weights, run_count(len(classes), workers)):
                self._start(_Batch(shared, [classes[i] for i in indexes]))
        return futures

    def shutdown(self) -> None:
        self._stop.set()
        self._poller.join()
        with self._lock:
            waiting, self._batches = list(self._batches.values()), {}
        for batch in waiting:
            for one in batch.classes:
                one.future.cancel()

    def _start(self, batch: _Batch) -> None:
        """Submit the batch's flow run; if the server refuses, its classes fail with the reason."""
        try:
            flow_run = run_deployment(
                deployment_name(self.settings),
                parameters={**batch.shared, "classes": [one.entry for one in batch.classes]},
                flow_run_name=run_name(batch),
                timeout=0,
            )
        except Exception as error:  # the server refused or is unreachable: these classes' failure
            how = "запуск" if batch.attempt == 1 else "повторный запуск"
            self._lose(batch, batch.classes, f"{how} на сервере Prefect не создан: {error}")
            return
        with self._lock:
            self._batches[flow_run.id] = batch

    def _poll(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            with self._lock:
                ids = list(self._batches)
            if not ids:
                continue
            try:
                with get_client(sync_client=True) as client:
                    flow_runs = client.read_flow_runs(
                        flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids)), limit=len(ids)
                    )
                    started = [
                        r for r in flow_runs if r.state and (r.state.is_running() or r.state.is_final())
                    ]
                    results = read_class_results(client, [r.id for r in started]) if started else {}
                for flow_run in started:
                    self._update(flow_run, results)
            except Exception:  # the server did not answer this time: ask again at the next poll
                continue

    def _update(self, flow_run: Any, results: dict[tuple[UUID, str], Any]) -> None:
        """Resolve the futures of the run's classes that have results; when the run has ended,
        submit its other classes again if it crashed, else fail them naming how it ended.

        The states were read before the results: a run seen ended has all its results in them."""
        with self._lock:
            batch = self._batches.get(flow_run.id)
        if batch is None:
            return
        waiting = []
        for one in batch.classes:
            rows = results.get((flow_run.id, result_description(one.entry)))
            if rows is None:
                waiting.append(one)
                continue
            try:
                found = [result_from_data(row) for row in rows]
                one.future.set_result(found[0] if one.one_result else found)
            except (LookupError, ValueError, TypeError) as error:  # a table this version cannot read
                self._lose(batch, [one], f"результат запуска {flow_run.name} не прочитан: {error}")
        batch.classes = waiting
        state = flow_run.state
        if not state.is_final():
            return
        with self._lock:
            self._batches.pop(flow_run.id, None)
        if not waiting:
            return
        if state.type == StateType.CRASHED and batch.attempt < self.attempts:
            # The machine died or the run was lost: another worker takes the classes left.
            self._start(_Batch(batch.shared, waiting, batch.attempt + 1))
            return
        pool = self.settings.work_pool
        how = f"запуск {flow_run.name} на рабочем пуле «{pool}» завершился: {state.name}"
        if state.type == StateType.COMPLETED:
            how = f"запуск {flow_run.name} не оставил результата класса"
        elif state.message:
            how += f" ({state.message})"
        self._lose(batch, waiting, how)

    def _lose(self, batch: _Batch, classes: list[_Class], reason: str) -> None:
        """Resolve the classes' futures with a failed result saying why (`lost_result`)."""
        for one in classes:
            lost = of_school(
                one.settings, [lost_result(str(one.entry["class_name"]), batch.shared.get("period"), reason)]
            )
            one.future.set_result(lost[0] if one.one_result else lost)


def online_workers(settings: Settings) -> int:
    """The workers of the pool the server counts online (each takes one flow run at a time)."""
    try:
        with get_client(sync_client=True) as client:
            online = WorkerFilter(status=WorkerFilterStatus(any_=["ONLINE"]))
            return len(client.read_workers_for_work_pool(settings.work_pool, worker_filter=online))
    except Exception:  # not known: run_count then gives each class its own run
        return 0


def class_weights(shared: dict[str, Any], classes: list[_Class]) -> list[int]:
    """Each class's lessons in the span plus CLASS_LESSONS: its weight when the runs are balanced
    (the demo's Q1: 1А, 160 lessons, 3.1 s; 9А, 296 lessons, 4.8 s)."""
    schools: dict[str | None, tuple[Settings, list[str]]] = {}
    for one in classes:
        schools.setdefault(one.entry["school"], (one.settings, []))[1].append(str(one.entry["class_name"]))
    counts: dict[tuple[str | None, str], int] = {}
    for school, (settings, names) in schools.items():
        try:
            found = class_lesson_counts(settings, shared["year"], shared.get("period"), names)
        except Exception:  # an unreadable journal: its class run meets the error and reports it
            found = {}
        counts.update({(school, name): lessons for name, lessons in found.items()})
    return [
        CLASS_LESSONS + counts.get((one.entry["school"], str(one.entry["class_name"])), 0) for one in classes
    ]


def run_name(batch: _Batch) -> str:
    """«school-17 5А, 9А; school-18 1А Q1 2024/2025», with «(попытка 2)» when submitted again."""
    by_school: dict[str | None, list[str]] = {}
    for one in batch.classes:
        by_school.setdefault(one.entry["school"], []).append(str(one.entry["class_name"]))
    classes = "; ".join(
        f"{school} {', '.join(names)}" if school else ", ".join(names) for school, names in by_school.items()
    )
    name = f"{classes} {batch.shared.get('period') or 'год'} {batch.shared['year']}"
    return name if batch.attempt == 1 else f"{name} (попытка {batch.attempt})"


def read_class_results(client: Any, flow_run_ids: list[UUID]) -> dict[tuple[UUID, str], Any]:
    """The result rows (result_data) `archive_classes` flow runs left so far, by (flow run, its
    result_description)."""
    found: dict[tuple[UUID, str], Any] = {}
    runs = ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=flow_run_ids))
    offset = 0
    while True:  # newest first: an artifact made while paging moves the others on, never skips one
        page = client.read_artifacts(
            artifact_filter=runs, sort=ArtifactSort.CREATED_DESC, limit=RESULTS_PAGE, offset=offset
        )
        for artifact in page:
            if artifact.description and artifact.description.startswith(RESULT_ARTIFACT):
                rows = json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data
                found[(artifact.flow_run_id, artifact.description)] = rows
        if len(page) < RESULTS_PAGE:
            return found
        offset += RESULTS_PAGE


# --- Registering the pool, the deployment and the zombie detection ---------------------------


def check_server(settings: Settings) -> None:
    """ConfigError naming the server unless the configured Prefect server answers its health check."""
    url = f"{settings.prefect_api_url}/health"
    try:
        httpx.get(url, timeout=10).raise_for_status()
    except httpx.HTTPError as error:
        raise ConfigError(
            f"Сервер Prefect {settings.prefect_api_url} ([prefect] api_url в {settings.config_path}) "
            f"не отвечает: {error}"
        ) from error


def deployment_name(settings: Settings) -> str:
    """`archive_classes/<pool>`: one deployment per work pool, so `workers --pool` never moves another's."""
    return f"{FLOW_NAME}/{settings.work_pool}"


def lost_runs_automation_name(settings: Settings) -> str:
    return f"journal-archive: lost class runs on {settings.work_pool}"


def register_work_pool(settings: Settings) -> UUID:
    """Create the process work pool, the `archive_classes` deployment on it and the automation that
    marks a class run Crashed when its heartbeats stop; idempotent. Returns the deployment's id."""
    with get_client(sync_client=True) as client:
        try:
            client.read_work_pool(settings.work_pool)
        except ObjectNotFound:
            with contextlib.suppress(ObjectAlreadyExists):  # another machine's workers made it just now
                client.create_work_pool(WorkPoolCreate(name=settings.work_pool, type="process"))
    deployment = archive_classes.to_deployment(
        name=settings.work_pool,
        work_pool_name=settings.work_pool,
        entrypoint_type=EntrypointType.MODULE_PATH,
        job_variables={
            "env": {
                "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(HEARTBEAT_SECONDS),
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            }
        },
        description="Архив нескольких классов (период или год) на рабочем пуле; "
        "их запускает архив всех классов",
    )
    deployment_id = deployment.apply()
    register_lost_runs_automation(settings, deployment_id)
    return deployment_id


def register_lost_runs_automation(settings: Settings, deployment_id: UUID) -> None:
    """Prefect's zombie detection for class runs: no heartbeat for `lost_after_seconds` → Crashed."""
    name = lost_runs_automation_name(settings)
    automation = AutomationCore(
        name=name,
        description="Запуск классов, переставший подавать признаки жизни (машина выключилась), "
        "помечается Crashed; архив всех классов запускает его незаконченные классы снова "
        "на другом работнике.",
        trigger=EventTrigger(
            after={"prefect.flow-run.heartbeat"},
            expect={
                "prefect.flow-run.heartbeat",
                "prefect.flow-run.Completed",
                "prefect.flow-run.Failed",
                "prefect.flow-run.Cancelled",
                "prefect.flow-run.Crashed",
            },
            match=ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]}),
            match_related=ResourceSpecification(
                {"prefect.resource.id": f"prefect.deployment.{deployment_id}"}
            ),
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=dt.timedelta(seconds=settings.lost_after_seconds),
        ),
        actions=[
            ChangeFlowRunState(
                state=StateType.CRASHED,
                message=f"нет признаков жизни {settings.lost_after_seconds} с: машина работника недоступна",
            )
        ],
    )
    with get_client(sync_client=True) as client:
        existing = client.read_automations_by_name(name)
        if existing:  # machines starting their workers at once may race: keep one, updated
            for extra in existing[1:]:
                with contextlib.suppress(ObjectNotFound, PrefectHTTPStatusError):
                    client.delete_automation(extra.id)
            with contextlib.suppress(ObjectNotFound, PrefectHTTPStatusError):
                client.update_automation(existing[0].id, automation)
                return
        client.create_automation(automation)


def worker_command(settings: Settings, name: str) -> list[str]:
    """`prefect worker start` for one worker of the pool that takes one class at a time (one core)."""
    prefect = Path(sys.executable).with_name("prefect")
    return [
        str(prefect), "worker", "start",
        "--pool", settings.work_pool,
        "--type", "process",
        "--name", name,
        "--limit", "1",
    ]  # fmt: skip


def run_workers(settings: Settings, count: int) -> int:
    """Run `count` workers on this machine until they end or this process is interrupted (Ctrl-C,
    SIGTERM); returns the first non-zero exit code of a worker, else 0."""
    host = socket.gethostname()
    env = {**os.environ}
    env.setdefault(WORKER_QUERY_ENV, str(WORKER_QUERY_SECONDS))
    processes = [
        subprocess.Popen(worker_command(settings, f"{host}-{os.getpid()}-{number}"), env=env)
        for number in range(1, count + 1)
    ]
    signal.signal(signal.SIGTERM, _interrupted)  # a service manager's stop: stop the workers too
    try:
        codes = [process.wait() for process in processes]
    except KeyboardInterrupt:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return 0
    return next((code for code in codes if code), 0)


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def work_pool_executor(settings: Settings) -> WorkPoolExecutor:
    """The executor of a run when the configuration names a Prefect server (Settings.uses_work_pool)."""
    return WorkPoolExecutor(settings)
