"""Benchmark: one Prefect worker against two on this machine, for the same archive job.

    .venv/bin/python -m benchmarks.work_pool                    # 3 demo schools "small", Q1: 9 classes
    .venv/bin/python -m benchmarks.work_pool --year             # their year instead: 12 classes, sealed
    .venv/bin/python -m benchmarks.work_pool --size class       # 3 classes: a short check that it works

A real `prefect server start` on 127.0.0.1 (its own PREFECT_HOME, nothing sent out), the
`archive_classes` deployment (`journal-archive deploy`), then the same job (three demo schools in
one installation, `demo --schools 3`) twice, each time in a fresh home with the same journals and
its own work pool: once with `journal-archive workers --count 1`, once with `--count 2`. Each run
is the administrator's command (`journal-archive archive …`) from start to its table, timed once
the server counts the workers online (a machine's workers are a service that is already
running; the split into flow runs follows the workers online, flows.pool.run_count). Issue 13's goals,
printed beside the figures: two workers at least 1.8× one worker, and a peak RSS of at most
400 MB per worker, for the class run it started (the whole worker, with `prefect worker` and
`journal-archive workers`, is printed too; sampled every 0.1 s).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from pipeline.settings import CONFIG_NAME

YEAR = "2024/2025"
SPEED_UP_GOAL = 1.8
RSS_GOAL_MB = 400
BIN = Path(sys.executable).parent
PAGE = os.sysconf("SC_PAGE_SIZE")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(folder: Path) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    port = free_port()
    env = {
        **os.environ,
        "PREFECT_HOME": str(folder / "prefect-home"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "false",
    }
    log = (folder / "server.log").open("wb")
    server = subprocess.Popen(
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    api_url = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{api_url}/health", timeout=2):
                return server, {**env, "PREFECT_API_URL": api_url}
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"Prefect server did not start: see {folder / 'server.log'}")


def make_home(
    home: Path, schools: int, size: str, api_url: str, pool: str, env: dict[str, str]
) -> dict[str, str]:
    """A demo home whose configuration names the server and the work pool `pool`; the environment
    its commands run in."""
    env = {**env, "JOURNAL_ARCHIVE_HOME": str(home)}
    env.pop("PREFECT_API_URL", None)  # the configuration names the server
    run([str(BIN / "journal-archive"), "demo", "--schools", str(schools), "--size", size], env)
    config = home / CONFIG_NAME
    text = config.read_text(encoding="utf-8")
    text = text.replace('# api_url = "http://127.0.0.1:4200/api"', f'api_url = "{api_url}"')
    config.write_text(text.replace('work_pool = "journal-archive"', f'work_pool = "{pool}"'))
    run([str(BIN / "journal-archive"), "deploy"], env)
    return env


def run(command: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")


def processes_under(pid: int) -> dict[int, int]:
    """Every process under `pid` (not `pid` itself), with its depth: 1 for children, 2 for theirs…"""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    depth, level, frontier = {}, 1, {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier and child not in depth}
        depth.update(dict.fromkeys(frontier, level))
        level += 1
    return depth


def rss_mb(pid: int) -> float:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE / 1e6
    except (OSError, IndexError, ValueError):
        return 0.0


@dataclass
class Peaks:
    """Per worker: the largest class run process seen, and the whole worker (every process) at once."""

    class_run: float = 0.0
    worker: float = 0.0


def post(url: str, body: dict) -> list[dict]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


def online_workers(api_url: str, pool: str) -> int:
    """How many workers of `pool` the server counts online."""
    return len(
        post(f"{api_url}/work_pools/{pool}/workers/filter", {"workers": {"status": {"any_": ["ONLINE"]}}})
    )


def flow_runs_on(api_url: str, pool: str) -> int:
    """How many flow runs the job made on `pool`: its classes, a few per run."""
    return len(post(f"{api_url}/flow_runs/filter", {"work_pools": {"name": {"any_": [pool]}}}))


def timed_run(
    env: dict[str, str], workers: int, job: list[str], api_url: str, pool: str
) -> tuple[float, Peaks]:
    """Wall seconds of `job` with `workers` workers, and the largest peak RSS (MB) of one worker:
    `journal-archive workers` (depth 0) starts `prefect worker` (1), which starts class runs (2)."""
    started = [
        subprocess.Popen(
            [str(BIN / "journal-archive"), "workers", "--count", "1"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for _ in range(workers)
    ]
    peaks = Peaks()
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.1):
            for worker in started:
                under = processes_under(worker.pid)
                sizes = {pid: rss_mb(pid) for pid in under}
                runs = [size for pid, size in sizes.items() if under[pid] >= 2]
                peaks.class_run = max(peaks.class_run, *runs, 0.0)
                peaks.worker = max(peaks.worker, rss_mb(worker.pid) + sum(sizes.values()))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    deadline = time.monotonic() + 180
    while online_workers(api_url, pool) < workers:  # not part of the job's time
        if time.monotonic() > deadline:
            raise SystemExit(f"the workers of {pool} did not come online")
        time.sleep(0.5)
    began = time.perf_counter()
    run([str(BIN / "journal-archive"), "-q", "archive", *job], env)
    wall = time.perf_counter() - began
    stop.set()
    sampler.join()
    for worker in started:
        os.killpg(worker.pid, signal.SIGTERM)
    for worker in started:
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
    return wall, peaks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="small", choices=("class", "small", "school"))
    parser.add_argument("--schools", type=int, default=3)
    parser.add_argument("--period", default="Q1", help="The reporting period to archive (default Q1).")
    parser.add_argument("--year", action="store_true", help="Archive the year (sealed bundles) instead.")
    args = parser.parse_args()
    job = ["year", "--year", YEAR, "--allow-errors"] if args.year else ["period", "--year", YEAR]
    job += [] if args.year else ["--period", args.period]
    with tempfile.TemporaryDirectory(prefix="work-pool-") as tmp:
        folder = Path(tmp)
        server, env = start_server(folder)
        try:
            api_url = env["PREFECT_API_URL"]
            figures, notes = {}, {}
            for workers in (1, 2):
                pool = f"bench-{workers}"
                home_env = make_home(folder / f"home-{workers}", args.schools, args.size, api_url, pool, env)
                load = os.getloadavg()[0]
                figures[workers] = timed_run(home_env, workers, job, api_url, pool)
                notes[workers] = (
                    f"{flow_runs_on(api_url, pool)} flow runs of classes; "
                    f"load average (1 min) {load:.1f} before, {os.getloadavg()[0]:.1f} after"
                )
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    (one, peaks_one), (two, peaks_two) = figures[1], figures[2]
    speed_up = one / two
    print(f"job: archive {' '.join(job)}, {args.schools} demo schools «{args.size}», {os.cpu_count()} cores")
    for label, wall, peaks, note in (
        ("one worker: ", one, peaks_one, notes[1]),
        ("two workers:", two, peaks_two, notes[2]),
    ):
        print(
            f"{label} {wall:6.1f} s ({note}); peak RSS of a class run {peaks.class_run:.0f} MB, "
            f"of a whole worker (with prefect worker and journal-archive workers) {peaks.worker:.0f} MB"
        )
    verdict = "met" if speed_up >= SPEED_UP_GOAL else "NOT met"
    print(f"speed-up: {speed_up:.2f}×  (goal ≥ {SPEED_UP_GOAL}×: {verdict})")
    peak = max(peaks_one.class_run, peaks_two.class_run)
    verdict = "met" if peak <= RSS_GOAL_MB else "NOT met"
    print(f"peak RSS per worker's class run: {peak:.0f} MB  (goal ≤ {RSS_GOAL_MB} MB: {verdict})")


if __name__ == "__main__":
    main()
