"""A municipality's run on a Prefect process work pool (issue 13), against real servers.

Three demo schools with their catalog on the real PostgreSQL (advisory class locks), a real
`prefect server start` on 127.0.0.1 with its own PREFECT_HOME, the `archive_classes`
deployment registered by `journal-archive deploy`, two workers started by
`journal-archive workers` (each its own process group, as if on its own machine), and one
`archive period` for every class of every school: nine classes in flow runs of a few classes
each. Mid-run one worker's machine "dies": the worker and the flow-run process that is building a
bundle are SIGKILLed. Prefect's zombie detection (flow-run heartbeats and the automation `deploy`
registers) marks that run Crashed; the parent submits the classes of that run that left no result
again and the other worker archives them. Checked: one set of bundles (one version of each, the
same on both targets, each verified), both workers took classes, the killed one's unfinished
classes were finished by the other, and nothing half-made is left (R7, R8, R9).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from flows.pool import plan_batches, result_description, run_count
from pipeline.settings import CONFIG_NAME, ConfigError, load_settings
from tests.homes import make_demo_home, run_cli

YEAR = "2024/2025"
PERIOD = "Q1"
LOST_AFTER_SECONDS = 35  # the shortest Prefect allows beside its 30 s between heartbeats, plus margin
SCRIPT = Path(sys.executable).with_name("journal-archive")
PREFECT = Path(sys.executable).with_name("prefect")
SUBMITTED = re.compile(r"Worker '([^']+)' submitting flow run '([0-9a-f-]+)'")
ABORTED = re.compile(r"Aborted submission of flow run '([0-9a-f-]+)'")  # another worker was first


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def stop_group(process: subprocess.Popen[bytes], timeout: float = 15) -> None:
    """SIGTERM the process's group (it runs in its own session), then SIGKILL what is left."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=timeout)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@dataclass(frozen=True)
class PrefectServer:
    api_url: str
    env: dict[str, str]  # the environment of every process that talks to it
    log_path: Path


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    """`prefect server start` on a free 127.0.0.1 port with its own PREFECT_HOME (its own SQLite)."""
    folder = tmp_path_factory.mktemp("prefect-server")
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(folder / "prefect-home"),
        "PREFECT_API_URL": api_url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "false",
    }
    log_path = folder / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(PREFECT), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{api_url}/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"Prefect server did not start:\n{log_path.read_text()[-3000:]}", pytrace=False)
            time.sleep(0.5)
        yield PrefectServer(api_url, env, log_path)
    finally:
        stop_group(process)


SCHOOLS = ("school-17", "school-18", "school-19")  # `demo --schools 3 --size small`
CLASSES = ("1А", "5А", "9А")  # each school's classes with a Q1 (its 10А has trimesters)


@pytest.fixture
def pool_home(tmp_path: Path, prefect_server: PrefectServer, postgres_url: str) -> Path:
    """Three demo schools with a PostgreSQL catalog and [prefect] naming the server; `deploy` run."""
    home = tmp_path / "home"
    made = subprocess.run(
        [str(SCRIPT), "--home", str(home), "demo", "--schools", "3", "--size", "small"],
        capture_output=True,
        text=True,
        env={**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"},
    )
    assert made.returncode == 0, made.stdout + made.stderr
    config = home / CONFIG_NAME
    text = config.read_text(encoding="utf-8")
    text = text.replace('# api_url = "http://127.0.0.1:4200/api"', f'api_url = "{prefect_server.api_url}"')
    text = text.replace("lost_after_seconds = 90", f"lost_after_seconds = {LOST_AFTER_SECONDS}")
    config.write_text(text + f'\n[catalog]\nurl = "{postgres_url}"\n', encoding="utf-8")
    settings = load_settings(home)
    assert settings.uses_work_pool and settings.catalog_url == postgres_url
    assert [school.folder for school in settings.schools] == list(SCHOOLS)
    deployed = cli(home, prefect_server, "deploy")
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    assert "archive_classes/journal-archive" in deployed.stdout
    return home


def cli(
    home: Path, server: PrefectServer, *args: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    env = {**server.env, "JOURNAL_ARCHIVE_HOME": str(home)}
    env.pop("PREFECT_API_URL")  # the configuration names the server, as on a school's machine
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=timeout)


@dataclass
class Worker:
    """`journal-archive workers --count 1` in its own session: one machine's worker."""

    process: subprocess.Popen[bytes]
    log_path: Path

    def submitted(self) -> dict[str, str]:
        """Flow run id → worker name of the runs this worker started, from its own log lines."""
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        aborted = set(ABORTED.findall(text))
        return {run_id: name for name, run_id in SUBMITTED.findall(text) if run_id not in aborted}

    def pids(self) -> set[int]:
        """This worker's process and every process under it (the prefect worker, its flow runs)."""
        found = {self.process.pid}
        changed = True
        while changed:
            changed = False
            for entry in Path("/proc").iterdir():
                if entry.name.isdigit() and int(entry.name) not in found:
                    try:
                        parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                    except (OSError, IndexError, ValueError):
                        continue
                    if parent in found:
                        found.add(int(entry.name))
                        changed = True
        return found


@pytest.fixture
def two_workers(pool_home: Path, prefect_server: PrefectServer, tmp_path: Path) -> Iterator[list[Worker]]:
    env = {**prefect_server.env, "JOURNAL_ARCHIVE_HOME": str(pool_home)}
    env.pop("PREFECT_API_URL")
    workers = []
    for number in (1, 2):
        log_path = tmp_path / f"worker-{number}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [str(SCRIPT), "-v", "workers", "--count", "1"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        workers.append(Worker(process, log_path))
    try:
        deadline = time.monotonic() + 120
        while len(online_workers(prefect_server)) < len(workers):  # as machines whose workers run
            for worker in workers:
                assert worker.process.poll() is None, worker.log_path.read_text(encoding="utf-8")
            assert time.monotonic() < deadline, "the workers did not come online"
            time.sleep(0.5)
        yield workers
    finally:
        for worker in workers:
            stop_group(worker.process)


def building_pid(work_dir: Path) -> int | None:
    """The process building a bundle now: the pid in a build folder's name (`….pid<PID>-…`)."""
    for entry in work_dir.glob("*.pid*-*") if work_dir.is_dir() else []:
        digits = entry.name.rpartition(".pid")[2].split("-", 1)[0]
        if digits.isdigit() and Path("/proc", digits).exists():
            return int(digits)
    return None


@pytest.mark.slow  # a real Prefect server, two workers and a lost run: about two to three minutes
def test_a_run_spreads_over_two_workers_and_survives_a_killed_one(
    pool_home: Path, prefect_server: PrefectServer, two_workers: list[Worker]
) -> None:
    work_dir = load_settings(pool_home).work_dir
    env = {**prefect_server.env, "JOURNAL_ARCHIVE_HOME": str(pool_home)}
    env.pop("PREFECT_API_URL")
    run = subprocess.Popen(
        [str(SCRIPT), "archive", "period", "--year", YEAR, "--period", PERIOD],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # Wait until a flow run that has finished a class is building the next one's bundle, then
    # kill that worker's "machine": the run is lost half-done.
    killed: Worker | None = None
    victim = None
    deadline = time.monotonic() + 150
    while killed is None:
        for worker in two_workers:
            assert worker.process.poll() is None, worker.log_path.read_text(encoding="utf-8")
        assert run.poll() is None, "the run ended before a flow run was building its second class"
        assert time.monotonic() < deadline, "no flow run started building its second class"
        victim = building_pid(work_dir)
        owner = next((w for w in two_workers if victim in w.pids()), None) if victim else None
        current = list(owner.submitted())[-1:] if owner else []  # a worker runs one flow run at a time
        if current and result_descriptions(prefect_server, current[0]):
            killed = owner
        time.sleep(0.2)
    for pid in killed.pids():
        with contextlib.suppress(ProcessLookupError):  # a short-lived child may end before its kill
            os.kill(pid, signal.SIGKILL)
    killed.process.wait()

    stdout, stderr = run.communicate(timeout=300)
    assert run.returncode == 0, stdout + stderr
    survivor = next(w for w in two_workers if w is not killed)

    # One set of bundles: one version of each school's Q1 journals, the same on both targets,
    # each copy intact; nothing else on any target.
    keys = set()
    for school in SCHOOLS:
        listed = cli(
            pool_home, prefect_server, "catalog", "list", "--all", "--format", "json", "--school", school
        )
        assert listed.returncode == 0, listed.stdout + listed.stderr
        rows = sorted((row["class_name"], row["bundle_id"]) for row in json.loads(listed.stdout))
        slugs = {name: name.lower().replace("а", "a") for name in CLASSES}
        assert rows == [(name, f"2024-2025-{slugs[name]}-q1-v1") for name in CLASSES]
        keys |= {f"{school}/2024-2025/{slug}/2024-2025-{slug}-q1-v1" for slug in slugs.values()}
        verified = cli(pool_home, prefect_server, "verify", "--all", "--school", school)
        assert verified.returncode == 0, verified.stdout + verified.stderr
    for target in load_settings(pool_home).targets():
        assert sorted(target.list_bundles()) == sorted(keys), target.name  # no partial or second copy
    # The killed build folder was cleared by a later class run on this machine.
    assert not list(work_dir.glob(f"*.pid{victim}-*"))

    # Both workers took runs of several classes; the classes the killed run left without a result
    # (the one it was building at least) were finished by the other worker.
    killed_runs, survivor_runs = killed.submitted(), survivor.submitted()
    assert killed_runs and survivor_runs
    assert not set(killed_runs) & set(survivor_runs)
    flow_runs = read_flow_runs(prefect_server, [*killed_runs, *survivor_runs])
    assert any(len(r["parameters"]["classes"]) > 1 for r in flow_runs)
    crashed = [r for r in flow_runs if r["id"] in killed_runs and r["state_type"] == "CRASHED"]
    assert len(crashed) == 1, flow_runs  # marked by the zombie automation `deploy` registered
    reported = result_descriptions(prefect_server, crashed[0]["id"])
    lost = [c for c in crashed[0]["parameters"]["classes"] if result_description(c) not in reported]
    assert reported and lost  # killed half-done
    again = [r["parameters"]["classes"] for r in flow_runs if r["name"].endswith("(попытка 2)")]
    assert again == [lost]  # only the classes without a result were submitted again
    finished = [c for r in flow_runs if r["id"] in survivor_runs for c in r["parameters"]["classes"]]
    assert all(c in finished for c in lost)
    assert all(r["state_type"] == "COMPLETED" for r in flow_runs if r["id"] in survivor_runs)
    assert "Без сбоев: 9 пакетов из 9." in stdout


def post(server: PrefectServer, path: str, body: dict) -> list[dict]:
    """An answer of the server's REST API."""
    request = urllib.request.Request(
        f"{server.api_url}{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


def online_workers(server: PrefectServer) -> list[dict]:
    """The workers of the pool the server counts online."""
    return post(
        server, "/work_pools/journal-archive/workers/filter", {"workers": {"status": {"any_": ["ONLINE"]}}}
    )


def result_descriptions(server: PrefectServer, flow_run_id: str) -> set[str]:
    """The descriptions of the artifacts a flow run left: a class's result table names the class."""
    found = post(server, "/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": [flow_run_id]}}})
    return {artifact["description"] for artifact in found}


def read_flow_runs(server: PrefectServer, ids: list[str]) -> list[dict]:
    """Flow runs by id from the server's REST API."""
    return post(server, "/flow_runs/filter", {"flow_runs": {"id": {"any_": ids}}})


def test_classes_are_split_into_runs_of_about_equal_work() -> None:
    weights = [260, 356, 396] * 3  # the demo's Q1 of three schools: 1А, 5А, 9А (lessons + CLASS_LESSONS)
    runs = plan_batches(weights, 4)
    assert sorted(i for run in runs for i in run) == list(range(9))  # every class, once
    assert all(run == sorted(run) for run in runs)  # in the order given
    totals = [sum(weights[i] for i in run) for run in runs]
    assert totals == sorted(totals, reverse=True)  # the heaviest run is submitted first
    assert max(totals) - min(totals) <= max(weights)
    assert plan_batches([900, 100, 100, 100, 100, 100], 2) == [[0], [1, 2, 3, 4, 5]]
    assert plan_batches([1, 1], 4) == [[0], [1]]
    assert plan_batches([], 3) == []


def test_the_number_of_runs_follows_the_workers_online() -> None:
    assert [run_count(9, workers) for workers in (1, 2, 3, 5)] == [1, 2, 3, 5]
    assert run_count(9, 0) == 9  # no worker known online: one class per run
    assert run_count(1000, 4) == 100  # a municipality: at most MAX_CLASSES_PER_RUN classes per run


def test_the_web_page_sends_classes_to_the_work_pool_only_when_a_server_is_configured(tmp_path: Path) -> None:
    """Issue 12: the administrator's archive is flow runs of the deployment with a Prefect server,
    else the web process's own worker pool."""
    from flows.pool import WorkPoolExecutor
    from flows.web import class_executor
    from pipeline.executor import LocalProcessExecutor, local_executor

    settings = load_settings(tmp_path)
    assert class_executor(settings) is local_executor
    local = class_executor(settings)(2)
    assert isinstance(local, LocalProcessExecutor)
    local.shutdown()
    config = settings.config_path
    config.write_text(
        config.read_text(encoding="utf-8").replace(
            '# api_url = "http://127.0.0.1:4200/api"', 'api_url = "http://127.0.0.1:9/api"'
        ),
        encoding="utf-8",
    )
    pooled = class_executor(load_settings(tmp_path))(2)
    assert isinstance(pooled, WorkPoolExecutor)
    pooled.shutdown()


@pytest.mark.parametrize(
    ("line", "named"),
    [
        ('api_url = "127.0.0.1:4200"', "[prefect] api_url"),
        ('work_pool = ""', "[prefect] work_pool"),
        ("lost_after_seconds = 30", "[prefect] lost_after_seconds"),
    ],
)
def test_a_bad_prefect_section_is_named(tmp_path: Path, line: str, named: str) -> None:
    settings = load_settings(tmp_path)
    text = settings.config_path.read_text(encoding="utf-8")
    key = line.split(" =")[0]
    lines = [line if row.lstrip("# ").startswith(key + " =") else row for row in text.splitlines()]
    settings.config_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(named)):
        load_settings(tmp_path)


def test_an_unreachable_prefect_server_is_named_before_any_work(tmp_path: Path) -> None:
    settings = make_demo_home(tmp_path)
    closed = f"http://127.0.0.1:{free_port()}/api"  # nothing listens there
    config = settings.config_path
    text = config.read_text(encoding="utf-8").replace(
        '# api_url = "http://127.0.0.1:4200/api"', f'api_url = "{closed}"'
    )
    config.write_text(text, encoding="utf-8")
    for args in (("deploy",), ("workers", "--count", "1"), ("archive", "year", "--year", "2024/2025")):
        result = run_cli(*args, home=tmp_path)
        assert result.returncode == 2, result.stdout + result.stderr
        assert f"Сервер Prefect {closed}" in result.stderr and "не отвечает" in result.stderr
        assert "Traceback" not in result.stderr
