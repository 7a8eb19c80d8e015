"""What killed runs leave behind is cleaned or shown, never silently kept (R7, R9).

A run killed half-way leaves its build folder in the home's work/ (up to a whole bag):
the next run removes every build folder whose process is gone and keeps those of runs
still going. A bundle that reached a target but not the catalog is invisible to the
catalog: `verify --all` lists it as «не в каталоге» after checking it.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from flows.cli import main
from pipeline.archive import ArchiveStatus, archive_period_class
from pipeline.settings import Settings
from pipeline.workspace import clean_stale_work
from storage.layout import work_prefix
from tests.homes import forget_bundle, make_demo_home

YEAR = "2024/2025"
CLASS = "5А"


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return make_demo_home(tmp_path_factory.mktemp("home"))


def test_a_run_removes_build_folders_of_killed_runs_and_keeps_live_ones(home: Settings) -> None:
    work = home.work_dir
    work.mkdir(parents=True, exist_ok=True)
    killed = work / f"2024-2025-5a-q1-v1.pid{_dead_pid()}-k1ll3d"
    (killed / "2024-2025-5a-q1-v1" / "data").mkdir(parents=True)
    (killed / "2024-2025-5a-q1-v1" / "data" / "journal.pdf").write_bytes(b"%PDF- half a bag")
    (killed / "2024-2025-5a-q1-v1" / "data").chmod(0o555)  # read-only parts are removed too
    older = work / "2024-2025-5a-q1-v1-abc123"  # a build folder named before folders carried their pid
    older.mkdir()
    live = work / f"{work_prefix('2024-2025-5b-q1-v1')}l1v3"  # a run in progress (this process)
    live.mkdir()

    result = archive_period_class(home, YEAR, CLASS, "Q1")
    assert result.status == ArchiveStatus.CREATED, result
    assert sorted(p.name for p in work.iterdir()) == [live.name]
    assert clean_stale_work(work) == []


def test_clean_stale_work_names_what_it_removed(tmp_path: Path) -> None:
    stale = tmp_path / f"replicate.pid{_dead_pid()}-x"
    stale.mkdir()
    mine = tmp_path / f"repair.pid{os.getpid()}-y"
    mine.mkdir()
    assert clean_stale_work(tmp_path) == [stale.name]
    assert mine.is_dir()
    assert clean_stale_work(tmp_path / "absent") == []


def test_verify_all_lists_a_bundle_the_catalog_does_not_know(home: Settings) -> None:
    result = archive_period_class(home, YEAR, CLASS, "Q2")
    assert result.status == ArchiveStatus.CREATED, result
    forget_bundle(home, result.bundle_id, keep_on="primary")  # killed after primary, before the catalog

    checked = CliRunner().invoke(main, ["--home", str(home.home), "verify", "--all"])
    lines = checked.output.splitlines()
    (line,) = [
        i for i, text in enumerate(lines) if text.startswith("VALID  primary:") and result.bundle_id in text
    ]
    assert "не в каталоге" in lines[line + 1] and result.bundle_id in lines[line + 1]
    assert "secondary:" not in " ".join(
        t for t in lines if result.bundle_id in t
    )  # it never reached secondary
    assert checked.exit_code == 0, checked.output  # the catalogued bundles are fine; this one is listed
