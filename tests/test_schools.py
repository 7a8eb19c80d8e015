"""Several schools in one installation, and the catalog on PostgreSQL (issue 13: scale out).

The catalog keys bundles by (school, bundle id): two schools' «5А» give the same bundle id
`2024-2025-5a-q1-v1` under different folders. With `[catalog] url = "postgresql://…"` the
catalog and the per-class lock live on the server (the real one at 127.0.0.1:5432), so runs
on different machines never make two versions of one bundle.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import shutil
import sqlite3
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from flows.cli import main
from journal.model import SchoolYear
from journal.source import create_schema, open_source, read_school_year, write_school_year
from pipeline import access_log
from pipeline.archive import ArchiveStatus, archive_period_class, class_lock
from pipeline.retention import apply_act, approve_act, draft_act
from pipeline.settings import ConfigError, Settings, load_settings, schools_to_run, select_school
from pipeline.targets import init_home_targets
from pipeline.users import add_user, disable_user, log_in, session_of
from storage import accounts
from storage.catalog import (
    BundleRecord,
    CatalogError,
    anchor_of,
    destruction_of,
    find_bundle,
    fixity_history,
    latest_version,
    list_bundles,
    open_catalog,
    record_anchor,
    record_bundle,
    record_destruction,
    record_fixity_check,
    record_replica,
    replicas_of,
)
from storage.database import lock_id, to_postgresql
from storage.target import ReplicaStatus
from tests.factories import YEAR_NAME, make_school_year

T0 = dt.datetime(2025, 6, 2, 9, 0, tzinfo=dt.UTC)
BUNDLE = "2024-2025-5a-q1-v1"


def record(school: str, version: int = 1, **changes: object) -> BundleRecord:
    bundle = f"2024-2025-5a-q1-v{version}"
    values: dict[str, object] = {
        "bundle_id": bundle,
        "key": f"{school}/2024-2025/5a/{bundle}",
        "school": school,
        "school_name": f"Школа {school}",
        "year": "2024/2025",
        "class_name": "5А",
        "span": "Q1",
        "span_name": "I четверть",
        "kind": "period",
        "version": version,
        "supersedes": f"2024-2025-5a-q1-v{version - 1}" if version > 1 else None,
        "retention_class": "quarter",
        "retain_until": "2030-12-31",
        "source_fingerprint": f"sha256:{school}{version}",
        "created": "2025-06-02",
        "changes_summary": "1 отметка изменена" if version > 1 else "",
        "changes_text": "Изменения\n" if version > 1 else "",
    }
    return BundleRecord(**{**values, **changes})  # type: ignore[arg-type]


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_location(request: pytest.FixtureRequest, tmp_path: Path) -> str | Path:
    """The embedded catalog file, and a fresh database on the real PostgreSQL server."""
    if request.param == "postgresql":
        return request.getfixturevalue("postgres_url")
    return tmp_path / "catalog.sqlite"


# --- the catalog on either database ---------------------------------------------------------


def test_catalog_round_trip_records_lists_history_and_tombstones(catalog_location: str | Path) -> None:
    db = open_catalog(catalog_location)
    try:
        record_bundle(db, record("school-17"))
        record_bundle(db, record("school-17", 2))
        record_bundle(db, record("school-17", 2))  # the same again: a no-op
        for version in (1, 2):
            record_replica(db, f"2024-2025-5a-q1-v{version}", "primary", ReplicaStatus.VERIFIED, T0)
        record_replica(db, BUNDLE, "primary", ReplicaStatus.CORRUPT, T0, ["journal.pdf: сумма не совпала"])
        record_anchor(db, BUNDLE, "AB" * 32, recorded_at=T0)
        record_fixity_check(db, BUNDLE, "primary", ReplicaStatus.VERIFIED, T0, action="проверена")
        record_fixity_check(db, BUNDLE, "primary", ReplicaStatus.CORRUPT, T0, ["повреждён"], "восстановлена")

        latest = latest_version(db, "2024/2025", "5А", "Q1", "period")
        assert latest is not None and latest.bundle_id == "2024-2025-5a-q1-v2"
        assert latest.changes_text == "Изменения\n"
        first = find_bundle(db, BUNDLE)
        assert first is not None and first.superseded_by == "2024-2025-5a-q1-v2"
        assert [r.bundle_id for r in list_bundles(db, current_only=True)] == ["2024-2025-5a-q1-v2"]
        assert [(r.target, r.status) for r in replicas_of(db, BUNDLE)] == [("primary", ReplicaStatus.CORRUPT)]
        assert [(c.status, c.action) for c in fixity_history(db, BUNDLE)] == [
            (ReplicaStatus.VERIFIED, "проверена"),
            (ReplicaStatus.CORRUPT, "восстановлена"),
        ]  # in the order recorded, though both carry one time
        anchor = anchor_of(db, BUNDLE)
        assert anchor is not None and anchor.sha256 == "ab" * 32
        with pytest.raises(CatalogError, match="другая контрольная сумма"):
            record_anchor(db, BUNDLE, "cd" * 32)
        with pytest.raises(CatalogError, match="другими данными"):
            record_bundle(db, record("school-17", source_fingerprint="sha256:other"))

        act = {
            "act_id": "act-1-v1",
            "act_number": "1",
            "act_date": "2031-01-10",
            "approved_by": "Иванова И. И., директор",
            "approved_on": "2031-01-12",
        }
        record_destruction(db, BUNDLE, act, "primary", T0)
        record_destruction(db, BUNDLE, act, "primary", T0)  # again: the tombstone stays one
        tomb = destruction_of(db, BUNDLE)
        assert (
            tomb is not None
            and tomb.act_number == "1"
            and tomb.targets == (("primary", "2025-06-02T09:00:00+00:00"),)
        )
        assert [r.bundle_id for r in list_bundles(db)] == ["2024-2025-5a-q1-v2"]
        assert len(list_bundles(db, include_destroyed=True)) == 2
    finally:
        db.close()


def test_two_schools_bundles_with_one_id_coexist(catalog_location: str | Path) -> None:
    db = open_catalog(catalog_location)
    try:
        for school in ("school-17", "school-18"):
            record_bundle(db, record(school))
        record_replica(db.for_school("school-17"), BUNDLE, "primary", ReplicaStatus.VERIFIED, T0)
        record_replica(db.for_school("school-18"), BUNDLE, "primary", ReplicaStatus.CORRUPT, T0)
        assert [r.key for r in list_bundles(db)] == [
            f"school-17/2024-2025/5a/{BUNDLE}",
            f"school-18/2024-2025/5a/{BUNDLE}",
        ]
        for school, status in (("school-17", ReplicaStatus.VERIFIED), ("school-18", ReplicaStatus.CORRUPT)):
            scoped = db.for_school(school)
            found = find_bundle(scoped, BUNDLE)
            assert found is not None and found.school == school
            assert [r.status for r in replicas_of(scoped, BUNDLE)] == [status]
            assert [r.school for r in list_bundles(scoped)] == [school]
        with pytest.raises(CatalogError, match=r"нескольких школ.*--school"):
            find_bundle(db, BUNDLE)  # which school's? the connection sees both
        with pytest.raises(CatalogError, match="другой школы"):
            record_bundle(db.for_school("school-17"), record("school-19"))
    finally:
        db.close()


def test_web_accounts_and_sessions_live_in_the_postgresql_catalog(postgres_url: str, tmp_path: Path) -> None:
    (tmp_path / "journal-archive.toml").write_text(
        f'[source]\nurl = "sqlite:///journal.sqlite"\n\n[catalog]\nurl = "{postgres_url}"\n', encoding="utf-8"
    )
    settings = load_settings(tmp_path)
    add_user(settings, "boss", "admin", "длинный-пароль", T0)
    session = log_in(settings, "boss", "длинный-пароль", "127.0.0.1", T0)
    assert session_of(settings, session.token, T0) is not None
    disable_user(settings, "boss")
    assert session_of(settings, session.token, T0) is None
    assert not (tmp_path / "catalog.sqlite").exists()  # nothing went to the embedded file
    with psycopg.connect(postgres_url) as server:
        assert server.execute("SELECT name, disabled FROM users").fetchall() == [("boss", 1)]
    db = accounts.open_accounts(postgres_url)
    try:
        assert [user.name for user in accounts.all_users(db)] == ["boss"]
    finally:
        db.close()


def test_one_dialect_translated_for_postgresql_in_one_place() -> None:
    assert to_postgresql("SELECT a FROM t WHERE b = ? AND c LIKE 'x%?'") == (
        "SELECT a FROM t WHERE b = %s AND c LIKE 'x%%?'"
    )
    assert lock_id("class", "school-17", "2024-2025", "5a") == lock_id(
        "class", "school-17", "2024-2025", "5a"
    )
    assert lock_id("class", "school-17", "2024-2025", "5a") != lock_id(
        "class", "school-18", "2024-2025", "5a"
    )
    assert -(2**63) <= lock_id("x") < 2**63


def test_a_catalog_from_before_schools_is_keyed_by_school_when_opened(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    old = sqlite3.connect(path)
    old.executescript(
        """
        CREATE TABLE bundles (bundle_id TEXT PRIMARY KEY, key TEXT NOT NULL UNIQUE, school TEXT NOT NULL,
            school_name TEXT NOT NULL, year TEXT NOT NULL, class_name TEXT NOT NULL, span TEXT NOT NULL,
            span_name TEXT NOT NULL, kind TEXT NOT NULL, version INTEGER NOT NULL, supersedes TEXT,
            retention_class TEXT NOT NULL, retain_until TEXT NOT NULL, source_fingerprint TEXT NOT NULL,
            created TEXT NOT NULL, sealed TEXT, superseded_by TEXT);
        CREATE TABLE replicas (bundle_id TEXT NOT NULL REFERENCES bundles (bundle_id), target TEXT NOT NULL,
            status TEXT NOT NULL, checked_at TEXT, detail TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (bundle_id, target));
        CREATE TABLE fixity_checks (bundle_id TEXT NOT NULL, target TEXT NOT NULL, checked_at TEXT NOT NULL,
            status TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '', action TEXT NOT NULL DEFAULT '');
        CREATE TABLE anchors (bundle_id TEXT PRIMARY KEY, file TEXT NOT NULL, sha256 TEXT NOT NULL,
            recorded_at TEXT NOT NULL, origin TEXT NOT NULL);
        INSERT INTO bundles VALUES ('2024-2025-5a-q1-v1', 'mbou-sosh-no-17/2024-2025/5a/2024-2025-5a-q1-v1',
            'mbou-sosh-no-17', 'Школа', '2024/2025', '5А', 'Q1', 'I четверть', 'period', 1, NULL, 'quarter',
            '2030-12-31', 'sha256:x', '2025-06-02', NULL, NULL);
        INSERT INTO replicas VALUES ('2024-2025-5a-q1-v1', 'primary', 'verified',
            '2025-06-02T09:00:00+00:00', '');
        INSERT INTO fixity_checks VALUES ('2024-2025-5a-q1-v1', 'primary', '2025-06-02T09:00:00+00:00',
            'verified', '', 'проверена');
        INSERT INTO anchors VALUES ('2024-2025-5a-q1-v1', 'tagmanifest-sha256.txt', 'ab', '2025-06-02',
            'run');
        """
    )
    old.close()
    db = open_catalog(path)
    try:
        found = find_bundle(db, BUNDLE)
        assert found is not None and found.school == "mbou-sosh-no-17"
        assert [r.status for r in replicas_of(db, BUNDLE)] == [ReplicaStatus.VERIFIED]
        assert [c.action for c in fixity_history(db, BUNDLE)] == ["проверена"]
        assert anchor_of(db, BUNDLE) is not None
        record_bundle(db, record("school-18"))  # the same id at another school is now possible
        assert len(list_bundles(db)) == 2
        assert not db.execute("SELECT name FROM sqlite_master WHERE name LIKE 'old_%'").fetchall()
    finally:
        db.close()


# --- settings: [[schools]] ---------------------------------------------------------------------

TWO_SCHOOLS = """
[[targets]]
name = "primary"
type = "filesystem"
path = "archive/primary"

[[targets]]
name = "secondary"
type = "filesystem"
path = "archive/secondary"

[[schools]]
name = "Школа А"
folder = "school-a"
source_url = "sqlite:///a.sqlite"

[[schools]]
name = "Школа Б"
folder = "school-b"
source_url = "sqlite:///b.sqlite"
timezone = "Asia/Yekaterinburg"
"""


def write_config(home: Path, text: str) -> Settings:
    home.mkdir(parents=True, exist_ok=True)
    (home / "journal-archive.toml").write_text(text, encoding="utf-8")
    return load_settings(home)


def test_a_school_is_selected_by_name_or_folder_and_one_school_needs_none(tmp_path: Path) -> None:
    settings = write_config(tmp_path, TWO_SCHOOLS)
    with pytest.raises(ConfigError, match=r"Укажите школу: --school \(Школа А, Школа Б\)"):
        select_school(settings, None)
    b = select_school(settings, "школа б")
    assert (b.school_folder, b.source_url, b.timezone) == (
        "school-b",
        f"sqlite:///{tmp_path / 'b.sqlite'}",
        "Asia/Yekaterinburg",
    )
    assert [t.name for t in b.targets()] == ["primary", "secondary"]  # shared targets
    assert select_school(settings, "school-a").school.name == "Школа А"  # type: ignore[union-attr]
    assert [s.school_folder for s in schools_to_run(settings, None)] == ["school-a", "school-b"]
    with pytest.raises(ConfigError, match="Школы «Школа В» нет"):
        select_school(settings, "Школа В")

    one = write_config(tmp_path / "one", '[source]\nurl = "sqlite:///journal.sqlite"\n')
    assert select_school(one, None) is one and one.school_folder is None  # today's configuration
    with pytest.raises(ConfigError, match="нет разделов"):
        select_school(one, "Школа А")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[source]\nurl = "sqlite:///j.sqlite"\n' + TWO_SCHOOLS, r"в каждой школе \(source_url"),
        (TWO_SCHOOLS.replace('folder = "school-b"', 'folder = "school-a"'), "один folder: school-a"),
        (TWO_SCHOOLS.replace('source_url = "sqlite:///b.sqlite"', ""), "«Школа Б»: не указан адрес журнала"),
        (TWO_SCHOOLS.replace('folder = "school-b"', 'folder = "Школа Б"'), "folder — имя папки"),
        (
            TWO_SCHOOLS + '\n[[schools.targets]]\nname = "primary"\ntype = "filesystem"\npath = "x"\n',
            "хранилище primary названо в нескольких местах",
        ),
        ('[source]\nurl = "sqlite:///j.sqlite"\n[catalog]\nurl = "mysql://x"\n', r"\[catalog\] url"),
    ],
)
def test_bad_school_configurations_are_refused_in_russian(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        write_config(tmp_path, text)


def test_demo_writes_several_schools_and_commands_ask_which(tmp_path: Path) -> None:
    runner = CliRunner()
    made = runner.invoke(main, ["--home", str(tmp_path), "demo", "--size", "class", "--schools", "2"])
    assert made.exit_code == 0, made.output
    assert "«МБОУ СОШ № 17»" in made.output and "«МБОУ СОШ № 18»" in made.output
    settings = load_settings(tmp_path)
    assert [(s.name, s.folder) for s in settings.schools] == [
        ("МБОУ СОШ № 17", "school-17"),
        ("МБОУ СОШ № 18", "school-18"),
    ]
    assert all(Path(s.source_url.removeprefix("sqlite:///")).is_file() for s in settings.schools)
    listed = runner.invoke(main, ["--home", str(tmp_path), "catalog", "list"])
    assert listed.exit_code == 2 and "Укажите школу: --school" in listed.output
    one = runner.invoke(main, ["--home", str(tmp_path), "catalog", "list", "--school", "school-18"])
    assert one.exit_code == 0 and "В каталоге нет пакетов." in one.output
    checked = runner.invoke(
        main, ["--home", str(tmp_path), "check", "--year", "2024/2025", "--school", "school-17"]
    )
    assert "Проверка журналов: 2024/2025" in checked.output


def test_each_school_seals_with_its_own_certificate(tmp_path: Path) -> None:
    """A seal says which school applied it: school 18's bundles are never sealed with school 17's key."""
    from documents.seal import seal_certificates, signer_name
    from pipeline.archive import seal_bundle
    from tests.bundles import write_sample_bag

    runner = CliRunner()
    made = runner.invoke(main, ["--home", str(tmp_path), "demo", "--size", "class", "--schools", "2"])
    assert made.exit_code == 0, made.output
    installation = load_settings(tmp_path)
    sealed_by = {}
    for folder in ("school-17", "school-18"):
        school = select_school(installation, folder)
        assert school.seal_key == tmp_path / "keys" / folder / "seal-key.pem"
        bag = write_sample_bag(tmp_path / "bags" / folder)
        seal_bundle(school, bag)
        sealed_by[folder] = [signer_name(c) for c in seal_certificates(bag / "seal.p7s")]
    assert sealed_by == {
        "school-17": ["МБОУ «Средняя общеобразовательная школа № 17»"],
        "school-18": ["МБОУ «Средняя общеобразовательная школа № 18»"],
    }


# --- the per-class lock and two machines: a PostgreSQL catalog ------------------------------------


def two_school_home(home: Path, catalog_url: str) -> Settings:
    """Two schools whose journals both hold the test school year (so both have a «5А»), sharing two
    folder targets, with the catalog on the PostgreSQL server at `catalog_url` (or in the home)."""
    catalog = f'[catalog]\nurl = "{catalog_url}"\n' if catalog_url else ""  # "": the SQLite file in the home
    settings = write_config(home, catalog + TWO_SCHOOLS)
    for school in schools_to_run(settings, None):
        engine = open_source(school.source_url, create=True)
        try:
            create_schema(engine)
            write_school_year(engine, make_school_year())
        finally:
            engine.dispose()
    init_home_targets(select_school(settings, "school-a"))
    return settings


def test_the_class_lock_is_the_catalog_servers_advisory_lock(postgres_url: str, tmp_path: Path) -> None:
    settings = select_school(two_school_home(tmp_path, postgres_url), "school-a")
    held = lock_id("class", "school-a", "2024-2025", "5a")
    other_school = lock_id("class", "school-b", "2024-2025", "5a")
    with psycopg.connect(postgres_url, autocommit=True) as other_machine:

        def free(key: int) -> bool:
            taken = other_machine.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0]
            if taken:
                other_machine.execute("SELECT pg_advisory_unlock(%s)", (key,))
            return bool(taken)

        with class_lock(settings, YEAR_NAME, "5А", "school-a"):
            assert not free(held)
            assert free(other_school)
        assert free(held)
    assert not settings.locks_dir.exists()  # no lock file: the server holds the lock


def test_two_processes_archiving_one_class_make_one_version(postgres_url: str, tmp_path: Path) -> None:
    installation = two_school_home(tmp_path, postgres_url)
    school_a = select_school(installation, "school-a")
    context = multiprocessing.get_context("fork")  # two processes, each its own connections and lock
    with ProcessPoolExecutor(max_workers=2, mp_context=context) as machines:
        runs = [machines.submit(archive_period_class, school_a, YEAR_NAME, "5А", "Q1") for _ in range(2)]
        results = [run.result() for run in runs]
    assert sorted(r.status for r in results) == sorted([ArchiveStatus.CREATED, ArchiveStatus.UNCHANGED])
    assert {r.bundle_id for r in results} == {BUNDLE}  # the second waited, then found it unchanged

    school_b = archive_period_class(select_school(installation, "school-b"), YEAR_NAME, "5А", "Q1")
    assert (school_b.status, school_b.bundle_id) == (ArchiveStatus.CREATED, BUNDLE)
    assert school_b.school == "Школа Б"
    db = installation.open_catalog()
    try:
        assert [(r.key, r.version) for r in list_bundles(db)] == [
            (f"school-a/2024-2025/5a/{BUNDLE}", 1),
            (f"school-b/2024-2025/5a/{BUNDLE}", 1),
        ]
    finally:
        db.close()
    for target in school_a.targets():
        assert target.list_bundles() == [f"school-a/2024-2025/5a/{BUNDLE}", f"school-b/2024-2025/5a/{BUNDLE}"]


# --- catalog rebuild on PostgreSQL --------------------------------------------------------------

AFTER_RETENTION = dt.date(2031, 1, 2)  # the injected clock: the quarter bundles' Retain-Until has passed


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_url(request: pytest.FixtureRequest) -> str:
    """No [catalog] url (the SQLite file in the home), and a fresh database on the real PostgreSQL server."""
    return request.getfixturevalue("postgres_url") if request.param == "postgresql" else ""


def destroyed_at_school_a(home: Path, catalog_url: str, keep_on: str | None = None) -> Settings:
    """Two schools with their 5А's first quarter archived; school A's destroyed by an approved act on
    every target (and put back on target `keep_on`, as a copy the act did not reach would be)."""
    installation = two_school_home(home, catalog_url)
    school_a, school_b = (select_school(installation, name) for name in ("school-a", "school-b"))
    for school in (school_a, school_b):
        assert archive_period_class(school, YEAR_NAME, "5А", "Q1").ok
    key = f"school-a/2024-2025/5a/{BUNDLE}"
    kept = {t.name: t.root / key for t in school_a.targets() if t.name == keep_on}  # type: ignore[attr-defined]
    for name, folder in kept.items():
        shutil.copytree(folder, home / f"saved-{name}", symlinks=True)
    draft_act(school_a, AFTER_RETENTION)
    approve_act(school_a, "1", "Ёлкина Т. В., директор", AFTER_RETENTION)
    applied = apply_act(school_a, "1", AFTER_RETENTION)
    assert {(d.bundle_id, d.state) for d in applied.deletions} == {(BUNDLE, "deleted")}
    for name, folder in kept.items():
        shutil.copytree(home / f"saved-{name}", folder, symlinks=True)
    return installation


def test_catalog_rebuild_restores_every_schools_bundles_tombstones_and_web_tables(
    catalog_url: str, tmp_path: Path
) -> None:
    """`catalog rebuild`, of the SQLite file and of the catalog on the server alike: from the targets
    alone, both schools' bundles come back (replicas verified), a bundle destroyed by an act becomes a
    tombstone again from the archived act, and the web page's users, access log and the fixity
    history stay (A2, R7)."""
    installation = destroyed_at_school_a(tmp_path, catalog_url)
    add_user(installation, "sveta", "secretary", "пароль-для-теста", T0)
    access_log.record(installation, T0, "sveta", "secretary", access_log.Action.RETRIEVE, BUNDLE)
    db = open_catalog(installation.catalog_location, "school-b")
    try:
        record_fixity_check(db, BUNDLE, "primary", ReplicaStatus.VERIFIED, T0)
        db.execute("DELETE FROM replicas")  # what a rebuild must bring back from the targets
        db.execute("DELETE FROM anchors")
    finally:
        db.close()

    rebuilt = CliRunner().invoke(main, ["--home", str(tmp_path), "catalog", "rebuild"])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "Каталог восстановлен по хранилищам: 2 пакета." in rebuilt.output  # b's Q1 and a's act

    db = open_catalog(installation.catalog_location)
    try:
        school_b_db, school_a_db = db.for_school("school-b"), db.for_school("school-a")
        assert [(r.target, r.status) for r in replicas_of(school_b_db, BUNDLE)] == [
            ("primary", ReplicaStatus.VERIFIED),
            ("secondary", ReplicaStatus.VERIFIED),
        ]
        assert anchor_of(school_b_db, BUNDLE) is not None
        assert fixity_history(school_b_db, BUNDLE)[0].checked_at == T0.isoformat()
        tombstone = destruction_of(school_a_db, BUNDLE)
        assert tombstone is not None and tombstone.act_number == "1"
        assert {target for target, _ in tombstone.targets} == {"primary", "secondary"}
        assert destruction_of(school_b_db, BUNDLE) is None
        assert {r.key for r in list_bundles(db, include_destroyed=True)} >= {
            f"school-a/2024-2025/5a/{BUNDLE}",
            f"school-b/2024-2025/5a/{BUNDLE}",
        }
    finally:
        db.close()
    assert log_in(installation, "sveta", "пароль-для-теста", "127.0.0.1", T0).user.name == "sveta"
    assert (access_log.Action.RETRIEVE, BUNDLE) in [
        (e.action, e.subject) for e in access_log.entries(installation)
    ]


# --- the demo of one chosen school -------------------------------------------------------------


def demo_year(settings: Settings) -> SchoolYear:
    """The demo year the selected school's journal holds."""
    engine = open_source(settings.source_url)
    try:
        return read_school_year(engine, "2024/2025")
    finally:
        engine.dispose()


def demo_school_names(settings: Settings) -> tuple[str, str]:
    """(name, short name) of the school the selected school's journal names."""
    school = demo_year(settings).school
    return school.name, school.short_name


def test_demo_of_one_chosen_school_names_that_school(tmp_path: Path) -> None:
    """`demo --school X` writes X's journal under X's name, as `demo --schools N` wrote it (same seed)."""
    runner = CliRunner()
    home = ["--home", str(tmp_path)]
    assert runner.invoke(main, [*home, "demo", "--size", "class", "--schools", "2"]).exit_code == 0
    school_18 = select_school(load_settings(tmp_path), "school-18")
    written = demo_year(school_18)
    again = runner.invoke(main, [*home, "demo", "--size", "class", "--school", "school-18", "--force"])
    assert again.exit_code == 0, again.output
    assert "Демо-школа «МБОУ СОШ № 18»" in again.output
    assert demo_school_names(school_18) == (
        "МБОУ «Средняя общеобразовательная школа № 18»",
        "МБОУ СОШ № 18",
    )
    assert demo_year(school_18) == written

    named = write_config(tmp_path / "named", TWO_SCHOOLS)
    made = runner.invoke(main, ["--home", str(named.home), "demo", "--size", "class", "--school", "school-b"])
    assert made.exit_code == 0, made.output
    assert demo_school_names(select_school(named, "school-b")) == ("Школа Б", "Школа Б")


def test_a_rebuild_keeps_the_times_of_a_tombstone_whose_bundle_a_target_still_holds(
    catalog_url: str, tmp_path: Path
) -> None:
    """The catalog's own memory of a destruction (when each copy was deleted) is not replaced by the
    act's timeless record while the bundle is still on some target (R7: every statement true)."""
    installation = destroyed_at_school_a(tmp_path, catalog_url, keep_on="secondary")

    def tombstone() -> object:
        db = open_catalog(installation.catalog_location, "school-a")
        try:
            return destruction_of(db, BUNDLE)
        finally:
            db.close()

    before = tombstone()
    assert before is not None and all(when for _, when in before.targets)  # type: ignore[attr-defined]
    rebuilt = CliRunner().invoke(main, ["--home", str(tmp_path), "catalog", "rebuild"])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert tombstone() == before
