"""An unchanged re-run is found without the orchestrator: `already_archived` (issue 13, R9).

It may only say «без изменений» when every bundle the run would write is archived from the
same data and present on every target; anything else is left to the full run.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from documents.xml_format import journal_xml
from pipeline.archive import (
    ArchiveStatus,
    already_archived,
    archive_period_class,
    extract_journal,
    fingerprint,
    split_already_archived,
)
from pipeline.executor import HeadStart, InlineExecutor
from pipeline.fingerprints import remembered_fingerprint, snapshot_key
from pipeline.settings import Settings, load_settings
from storage.catalog import list_bundles
from tests.homes import bundle_dirs_on, make_demo_home, run_cli

YEAR = "2024/2025"
CLASS = "5А"


@pytest.fixture(scope="module")
def archived(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = make_demo_home(tmp_path_factory.mktemp("rerun") / "home")
    result = archive_period_class(settings, YEAR, CLASS, "Q1")
    assert result.status == ArchiveStatus.CREATED, result
    return settings


def test_an_archived_unchanged_class_is_reported_unchanged_with_its_bundle(archived: Settings) -> None:
    results = already_archived(archived, YEAR, CLASS, "Q1")
    assert results is not None
    assert [(r.class_name, r.status, r.bundle_id) for r in results] == [
        (CLASS, ArchiveStatus.UNCHANGED, "2024-2025-5a-q1-v1")
    ]


def test_a_period_never_archived_is_left_to_the_full_run(archived: Settings) -> None:
    assert already_archived(archived, YEAR, CLASS, "Q2") is None
    assert already_archived(archived, YEAR, CLASS, None) is None  # the year: no sealed bundles yet


def test_a_changed_mark_is_left_to_the_full_run(archived: Settings, tmp_path: Path) -> None:
    settings = copy_of(archived, tmp_path / "copy")
    change_a_q1_mark(settings)
    assert already_archived(settings, YEAR, CLASS, "Q1") is None


def test_a_remembered_fingerprint_spares_writing_journal_xml(
    archived: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Archiving remembered the snapshot's fingerprint (pipeline.fingerprints): the check finds the
    class unchanged without writing journal.xml; without the cache file it has to write it."""
    settings = copy_of(archived, tmp_path / "copy")
    journal = extract_journal(settings, YEAR, CLASS, "Q1")
    assert remembered_fingerprint(settings.fingerprints_path, snapshot_key(journal)) == (
        fingerprint(journal_xml(journal))
    )

    def no_xml(*args: object, **kwargs: object) -> bytes:
        raise AssertionError("journal.xml written")

    monkeypatch.setattr("pipeline.archive.journal_xml", no_xml)
    results = already_archived(settings, YEAR, CLASS, "Q1")
    assert results is not None and results[0].status == ArchiveStatus.UNCHANGED
    settings.fingerprints_path.unlink()
    assert already_archived(settings, YEAR, CLASS, "Q1") is None  # it tried to write the XML


def test_the_snapshot_key_follows_every_change_of_the_data_and_of_the_xml_writer(
    archived: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = copy_of(archived, tmp_path / "copy")
    cache = settings.fingerprints_path
    before = snapshot_key(extract_journal(settings, YEAR, CLASS, "Q1"))
    assert snapshot_key(extract_journal(settings, YEAR, CLASS, "Q1")) == before  # same data
    entries = cache_entries(cache)
    change_a_q1_mark(settings)
    changed = extract_journal(settings, YEAR, CLASS, "Q1")
    assert snapshot_key(changed).span == before.span and snapshot_key(changed) != before
    assert remembered_fingerprint(cache, snapshot_key(changed)) is None
    assert archive_period_class(settings, YEAR, CLASS, "Q1").bundle_id == "2024-2025-5a-q1-v2"
    # the span's one entry is now the new snapshot's: the cache does not grow with every change
    assert remembered_fingerprint(cache, snapshot_key(changed)) == fingerprint(journal_xml(changed))
    assert remembered_fingerprint(cache, before) is None
    assert cache_entries(cache) == entries
    monkeypatch.setattr("pipeline.fingerprints._writer_digest", lambda: b"another release of journal.xml")
    assert snapshot_key(changed).digest not in (
        before.digest,
        snapshot_key(extract_journal(settings, YEAR, CLASS, "Q1")),
    )


def cache_entries(cache: Path) -> int:
    db = sqlite3.connect(cache)
    try:
        return db.execute("SELECT count(*) FROM span_fingerprints").fetchone()[0]
    finally:
        db.close()


def test_an_unreadable_fingerprint_cache_only_costs_writing_the_xml(
    archived: Settings, tmp_path: Path
) -> None:
    settings = copy_of(archived, tmp_path / "copy")
    settings.fingerprints_path.write_bytes(b"not a database " * 100)
    results = already_archived(settings, YEAR, CLASS, "Q1")
    assert results is not None and results[0].status == ArchiveStatus.UNCHANGED
    change_a_q1_mark(settings)
    assert already_archived(settings, YEAR, CLASS, "Q1") is None


def test_a_missing_copy_is_left_to_the_full_run_which_completes_it(
    archived: Settings, tmp_path: Path
) -> None:
    settings = copy_of(archived, tmp_path / "copy")
    secondary = settings.targets()[1]
    for folder in bundle_dirs_on(secondary, "2024-2025-5a-q1-v1"):  # type: ignore[arg-type]
        for path in [folder, *folder.rglob("*")]:
            path.chmod(0o700)
        shutil.rmtree(folder)
    assert already_archived(settings, YEAR, CLASS, "Q1") is None
    assert archive_period_class(settings, YEAR, CLASS, "Q1").status == ArchiveStatus.UNCHANGED
    assert already_archived(settings, YEAR, CLASS, "Q1") is not None


def copy_of(settings: Settings, home: Path) -> Settings:
    """Another home with the same journal, catalog and targets (each test changes its own copy)."""
    shutil.copytree(settings.home, home, symlinks=True)
    for path in [home, *home.rglob("*")]:
        if path.is_dir() and not path.is_symlink():
            path.chmod(path.stat().st_mode | 0o700)  # copied read-only bundle folders stay writable here
    return load_settings(home)


def test_split_leaves_exactly_the_classes_with_work_to_the_run(archived: Settings) -> None:
    with_work: list[str] = []
    done, left = split_already_archived(
        [(archived, (CLASS,))], YEAR, "Q1", InlineExecutor(), lambda s, name: with_work.append(name)
    )
    assert [(r.class_name, r.status) for r in done] == [(CLASS, ArchiveStatus.UNCHANGED)] and left == []
    assert with_work == []
    done, left = split_already_archived(
        [(archived, ("1А", CLASS))], YEAR, "Q2", InlineExecutor(), lambda s, name: with_work.append(name)
    )
    assert done == [] and left == [(archived, ("1А", CLASS))]
    assert with_work == ["1А", CLASS]  # each handed over as soon as it is known to have work


def test_a_call_started_ahead_is_the_one_the_flow_gets_and_runs_once(archived: Settings) -> None:
    """HeadStart: the CLI starts a class before the flow exists; the flow's equal call (its own copy
    of the settings, loaded again) gets that call's future, and a different call runs on its own."""
    calls: list[tuple[str, str]] = []

    def archive(settings: Settings, year: str, class_name: str) -> str:
        calls.append((year, class_name))
        return class_name

    executor = HeadStart(InlineExecutor())
    started = executor.start(archive, archived, YEAR, CLASS)
    assert executor.submit(archive, load_settings(archived.home), YEAR, CLASS) is started
    assert executor.submit(archive, archived, YEAR, "1А").result() == "1А"
    assert calls == [(YEAR, CLASS), (YEAR, "1А")]


def test_the_cli_re_run_of_an_unchanged_class_starts_no_flow_and_a_changed_one_only_its_class(
    archived: Settings, tmp_path: Path
) -> None:
    settings = copy_of(archived, tmp_path / "copy")
    unchanged = run_cli(
        "archive",
        "period",
        "--year",
        YEAR,
        "--period",
        "Q1",
        home=settings.home,
        env={"PYTHONPROFILEIMPORTTIME": "1"},  # every module imported, on stderr
    )
    assert unchanged.returncode == 0, unchanged.stderr
    assert "2024-2025-5a-q1-v1" in unchanged.stdout and "без изменений" in unchanged.stdout
    assert flow_runs(settings) == []  # Prefect was never started
    imported = {line.rsplit("|", 1)[-1].strip() for line in unchanged.stderr.splitlines() if "|" in line}
    assert "pipeline.archive" in imported and "prefect" not in imported  # nor even imported (~1 s)

    change_a_q1_mark(settings)
    changed = run_cli("archive", "period", "--year", YEAR, "--period", "Q1", home=settings.home)
    assert changed.returncode == 0, changed.stderr
    # 5А was started before Prefect's server was up, and the flow followed that one run of it:
    # a second run would have reported «без изменений» for v2, and any third version would show.
    line = next(line for line in changed.stdout.splitlines() if line.startswith(CLASS))
    assert "2024-2025-5a-q1-v2" in line and "создан" in line, changed.stdout
    assert flow_runs(settings) == ["archive_period"]
    with settings.open_catalog() as catalog:
        versions = [r.bundle_id for r in list_bundles(catalog, year=YEAR, class_name=CLASS)]
    assert sorted(versions) == ["2024-2025-5a-q1-v1", "2024-2025-5a-q1-v2"]


def flow_runs(settings: Settings) -> list[str]:
    """The names of the flows Prefect ran in this home (its own database)."""
    database = settings.home / "prefect" / "prefect.db"
    if not database.exists():
        return []
    db = sqlite3.connect(database)
    try:
        return [
            name for (name,) in db.execute("SELECT f.name FROM flow_run r JOIN flow f ON f.id = r.flow_id")
        ]
    finally:
        db.close()


def change_a_q1_mark(settings: Settings) -> None:
    """Turn one «5» of 5А in the first quarter into «4» (or a «4» into «5») in the SQLite journal."""
    db = sqlite3.connect(settings.home / "journal.sqlite")
    with db:
        row = db.execute(
            """SELECT m.rowid, m.value FROM mark m
               JOIN lesson l ON l.year_id = m.year_id AND l.id = m.lesson_id
               JOIN course c ON c.year_id = l.year_id AND c.id = l.course_id
               JOIN school_class k ON k.year_id = c.year_id AND k.id = c.class_id
               JOIN reporting_period p ON p.year_id = l.year_id AND p.code = 'Q1'
               WHERE k.name = ? AND m.value IN ('4', '5') AND l.date BETWEEN p.start_date AND p.end_date
               ORDER BY m.rowid LIMIT 1""",
            (CLASS,),
        ).fetchone()
        db.execute("UPDATE mark SET value = ? WHERE rowid = ?", ("4" if row[1] == "5" else "5", row[0]))
    db.close()


def test_classes_with_work_start_largest_first(tmp_path: Path) -> None:
    """A run starts the classes with the most lessons first, so a large class does not finish alone
    at the end while the other cores idle; the lessons are counted in the journal source itself."""
    from pipeline.archive import class_lesson_counts, largest_first

    school = make_demo_home(tmp_path / "home", size="small")
    names = ("1А", "5А", "9А", "10А")
    lessons = class_lesson_counts(school, YEAR, None, names)
    assert all(lessons[name] > 0 for name in names) and lessons["1А"] < lessons["5А"]
    order = largest_first(school, YEAR, None, names)
    assert sorted(order) == sorted(names) and order[-1] == "1А"
    assert [lessons[name] for name in order] == sorted(lessons.values(), reverse=True)


def test_the_snapshot_repr_shows_every_field_of_every_record() -> None:
    """snapshot_key digests repr(journal) in place of journal.xml: every field of every record of the
    model must be in it (no repr=False, no hand-written __repr__ that leaves something out)."""
    import dataclasses
    import inspect

    import journal.model as model

    records = [
        cls
        for _, cls in inspect.getmembers(model, inspect.isclass)
        if dataclasses.is_dataclass(cls) and cls.__module__ == model.__name__
    ]
    assert len(records) > 10
    for cls in records:
        assert all(f.repr for f in dataclasses.fields(cls)), cls
    assert "__repr__" not in inspect.getsource(model)
