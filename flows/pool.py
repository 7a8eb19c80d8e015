"""Class runs on a Prefect process work pool: one flow run per class, done by whichever worker takes it.

When the configuration names a shared Prefect server (`[prefect] api_url`), a run's classes do
not go to this machine's process pool but become flow runs of the `archive_class` deployment
on the work pool `[prefect] work_pool`; the workers (`journal-archive workers`, on any number
of machines) take them one at a time. `WorkPoolExecutor` is the executor seam
(pipeline.executor) for that: it submits a flow run per class and hands back a future of the
class's result, which travels back as plain JSON in a table artifact of the class's flow run
(the server's database; no result storage shared between machines is needed).

A machine that dies mid-class leaves its flow run «Running». Flow runs send heartbeats
(every HEARTBEAT_SECONDS, set in the deployment's environment) and an automation on the server
marks a run that stopped sending them as Crashed (Prefect's documented zombie detection); the
executor then submits the class again, and another worker archives it. Nothing half-made is
left: a bundle counts only once it is on a target and in the catalog, a crashed build folder is
removed by the next run on that machine, and a copy stored but not catalogued is adopted or
passed over (pipeline.archive.claim_version).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

import httpx
from prefect import flow, get_client
from prefect.artifacts import create_table_artifact
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.objects import StateType
from prefect.deployments import run_deployment
from prefect.deployments.runner import EntrypointType
from prefect.events.actions import ChangeFlowRunState
from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture
from prefect.events.schemas.events import ResourceSpecification
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound, PrefectHTTPStatusError

from pipeline.archive import (
    ClassArchiveResult,
    archive_period_class,
    archive_year_class,
    lost_result,
    of_school,
    result_data,
    result_from_data,
)
from pipeline.settings import ConfigError, Settings, load_settings, owner_only_process, select_school

T = TypeVar("T")

FLOW_NAME = "archive_class"  # its deployment is named after the work pool: archive_class/<pool>
HEARTBEAT_SECONDS = 30  # Prefect's shortest interval between a flow run's heartbeats
ATTEMPTS = 3  # runs of one class before the parent gives up on it (crashed machines)
POLL_SECONDS = 1.0  # how often the parent asks the server about its class runs
WORKER_QUERY_ENV = "PREFECT_WORKER_QUERY_SECONDS"
WORKER_QUERY_SECONDS = 2  # how often an idle worker asks for a class (Prefect's default: 15 s)
STOP_SECONDS = 10  # how long a stopped worker may take to finish before it is killed
RESULT_ARTIFACT = "Результат архивирования класса"  # the description of the result table artifact


@flow(name=FLOW_NAME, log_prints=False)
def archive_class(
    year: str,
    class_name: str,
    period: str | None = None,
    home: str | None = None,
    allow_errors: bool = False,
    school: str | None = None,
) -> list[dict[str, Any]]:
    """One class on a worker: its period bundle (`period` given) or its year-end bundles (R1–R3);
    `school` is the folder of one of several [[schools]].

    The result rows also go into a table artifact: that is how the run that submitted this one
    reads them, from any machine."""
    owner_only_process()  # a worker may be a bare `prefect worker start`: children's data stays private (A2)
    settings = select_school(load_settings(Path(home) if home else None), school)
    if period:
        results = [archive_period_class(settings, year, class_name, period)]
    else:
        results = archive_year_class(settings, year, class_name, allow_errors=allow_errors)
    rows = [result_data(result) for result in results]
    create_table_artifact(rows, description=RESULT_ARTIFACT)
    return rows


def class_run_parameters(
    function: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> dict[str, Any]:
    """The `archive_class` parameters of one call of archive_period_class / archive_year_class."""
    if function is archive_period_class:
        settings, year, class_name, period = args
        return {
            "year": year,
            "class_name": class_name,
            "period": period,
            "home": str(settings.home),
            "school": settings.school_folder,
        }
    if function is archive_year_class:
        settings, year, class_name = args
        return {
            "year": year,
            "class_name": class_name,
            "home": str(settings.home),
            "allow_errors": bool(kwargs.get("allow_errors", False)),
            "school": settings.school_folder,
        }
    raise TypeError(f"the work pool runs class archives only, not {function.__qualname__}")


@dataclass
class _ClassRun:
    """One class the parent waits for: its future, its parameters and which attempt this is."""

    future: Future[Any]
    settings: Settings  # the school's
    parameters: dict[str, Any]
    one_result: bool  # a period archive answers one result; a year archive a list
    attempt: int = 1


class WorkPoolExecutor:
    """The executor seam on a Prefect work pool: each class is a flow run of the deployment.

    One thread polls the server for all the runs this executor waits for (a municipality's
    run may have thousands of classes); a crashed run is submitted again, up to `attempts`."""

    def __init__(self, settings: Settings, *, attempts: int = ATTEMPTS, poll_seconds: float = POLL_SECONDS):
        self.settings = settings
        self.attempts = attempts
        self.poll_seconds = poll_seconds
        self._runs: dict[UUID, _ClassRun] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll, name="work-pool-poll", daemon=True)
        self._poller.start()

    def submit(self, function: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        run = _ClassRun(
            Future(), args[0], class_run_parameters(function, args, kwargs), function is archive_period_class
        )
        try:
            self._start(run)
        except Exception as error:  # the server refused or is unreachable: this class's failure
            run.future.set_result(self._lost(run, f"запуск на сервере Prefect не создан: {error}"))
        return run.future

    def shutdown(self) -> None:
        self._stop.set()
        self._poller.join()
        with self._lock:
            waiting, self._runs = list(self._runs.values()), {}
        for run in waiting:
            run.future.cancel()

    def _start(self, run: _ClassRun) -> None:
        parameters = run.parameters
        school = f"{parameters['school']} " if parameters.get("school") else ""
        name = f"{school}{parameters['class_name']} {parameters.get('period') or 'год'} {parameters['year']}"
        flow_run = run_deployment(
            deployment_name(self.settings),
            parameters=parameters,
            flow_run_name=name if run.attempt == 1 else f"{name} (попытка {run.attempt})",
            timeout=0,
        )
        with self._lock:
            self._runs[flow_run.id] = run

    def _poll(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            with self._lock:
                ids = list(self._runs)
            if not ids:
                continue
            try:
                with get_client(sync_client=True) as client:
                    flow_runs = client.read_flow_runs(
                        flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids)), limit=len(ids)
                    )
                    for flow_run in flow_runs:
                        if flow_run.state is not None and flow_run.state.is_final():
                            self._finished(client, flow_run)
            except Exception:  # the server did not answer this time: ask again at the next poll
                continue

    def _finished(self, client: Any, flow_run: Any) -> None:
        """Resolve the future of a run that ended, or submit its class again if it crashed.

        A network error while reading the results propagates to `_poll`, which leaves the run
        in place and asks again at the next poll."""
        with self._lock:
            run = self._runs.get(flow_run.id)
        if run is None:
            return
        state = flow_run.state
        outcome: Any = None
        if state.type == StateType.COMPLETED:
            try:
                results = read_class_results(client, flow_run.id)
            except (LookupError, ValueError, TypeError) as error:  # a run that left no usable table
                outcome = self._lost(run, f"результат запуска {flow_run.name} не прочитан: {error}")
            else:
                outcome = results[0] if run.one_result else results
        elif state.type != StateType.CRASHED or run.attempt >= self.attempts:
            pool = self.settings.work_pool
            how = f"запуск {flow_run.name} на рабочем пуле «{pool}» завершился: {state.name}"
            if state.message:
                how += f" ({state.message})"
            outcome = self._lost(run, how)
        with self._lock:
            self._runs.pop(flow_run.id, None)
        if outcome is not None:
            run.future.set_result(outcome)
            return
        run.attempt += 1  # the machine died or the run was lost: another worker takes the class
        try:
            self._start(run)
        except Exception as error:  # the server refused or is unreachable: this class's failure
            run.future.set_result(self._lost(run, f"повторный запуск не создан: {error}"))

    def _lost(self, run: _ClassRun, reason: str) -> ClassArchiveResult | list[ClassArchiveResult]:
        result = of_school(
            run.settings, [lost_result(run.parameters["class_name"], run.parameters.get("period"), reason)]
        )
        return result[0] if run.one_result else result


def read_class_results(client: Any, flow_run_id: UUID) -> list[ClassArchiveResult]:
    """The results an `archive_class` flow run left in its table artifact."""
    artifacts = client.read_artifacts(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
    for artifact in artifacts:
        if artifact.description == RESULT_ARTIFACT:
            rows = json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data
            return [result_from_data(row) for row in rows]
    raise LookupError("нет таблицы результатов")


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
    """`archive_class/<pool>`: one deployment per work pool, so `workers --pool` never moves another's."""
    return f"{FLOW_NAME}/{settings.work_pool}"


def lost_runs_automation_name(settings: Settings) -> str:
    return f"journal-archive: lost class runs on {settings.work_pool}"


def register_work_pool(settings: Settings) -> UUID:
    """Create the process work pool, the `archive_class` deployment on it and the automation that
    marks a class run Crashed when its heartbeats stop; idempotent. Returns the deployment's id."""
    with get_client(sync_client=True) as client:
        try:
            client.read_work_pool(settings.work_pool)
        except ObjectNotFound:
            with contextlib.suppress(ObjectAlreadyExists):  # another machine's workers made it just now
                client.create_work_pool(WorkPoolCreate(name=settings.work_pool, type="process"))
    deployment = archive_class.to_deployment(
        name=settings.work_pool,
        work_pool_name=settings.work_pool,
        entrypoint_type=EntrypointType.MODULE_PATH,
        job_variables={
            "env": {
                "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(HEARTBEAT_SECONDS),
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            }
        },
        description="Архив одного класса (период или год) на рабочем пуле; запускается архивом всех классов",
    )
    deployment_id = deployment.apply()
    register_lost_runs_automation(settings, deployment_id)
    return deployment_id


def register_lost_runs_automation(settings: Settings, deployment_id: UUID) -> None:
    """Prefect's zombie detection for class runs: no heartbeat for `lost_after_seconds` → Crashed."""
    name = lost_runs_automation_name(settings)
    automation = AutomationCore(
        name=name,
        description="Запуск класса, переставший подавать признаки жизни (машина выключилась), "
        "помечается Crashed; архив всех классов запускает класс снова на другом работнике.",
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
