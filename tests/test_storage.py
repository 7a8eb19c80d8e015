"""Storage: names and guards, retention, the filesystem target, replication and the catalog (R1–R3, R7–R9)."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from storage.catalog import (
    BundleRecord,
    CatalogError,
    latest_version,
    list_bundles,
    open_catalog,
    read_bundle_record,
    rebuild_catalog,
    record_bundle,
    record_replica,
    replicas_of,
)
from storage.filesystem import IDENTITY_FILE, TEMP_PREFIX, FilesystemTarget
from storage.layout import (
    LayoutError,
    bundle_id,
    bundle_key,
    check_key,
    check_relpath,
    path_inside,
    safe_name,
    safe_names,
)
from storage.retention import RetentionClass, retain_until
from storage.target import (
    BundleExistsError,
    ReplicaStatus,
    RetentionError,
    StorageError,
    Target,
    replicate_bundle,
    verify_stored_bundle,
)
from storage.targets import targets_from_config
from tests.bundles import YEAR_END, folder_target, sample_key, write_sample_bag

# --- names and guards ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5А", "5a"),
        ("10Б", "10b"),
        ("11 Щ", "11-shch"),
        ("2024/2025", "2024-2025"),
        ("Q1", "q1"),
        ("5А/../../x", "5a-x"),
        ("МБОУ СШ № 7", "mbou-ssh-no-7"),
        ("Ёлкино", "elkino"),
        ("Café", "cafe"),
    ],
)
def test_safe_name_transliterates_to_ascii(text: str, expected: str) -> None:
    assert safe_name(text) == expected


@pytest.mark.parametrize("text", ["", ".", "..", "/", "№", "../..", "ъь"])
def test_safe_name_is_never_empty_or_a_dot_name(text: str) -> None:
    name = safe_name(text)
    assert name not in ("", ".", "..")
    assert all(c.isascii() and (c.isalnum() or c == "-") for c in name)
    check_key(f"{name}/{name}/{name}/{name}")


def test_safe_names_refuses_two_classes_in_one_folder() -> None:
    assert safe_names(["5А", "5Б"]) == {"5А": "5a", "5Б": "5b"}
    with pytest.raises(LayoutError, match="5A"):
        safe_names(["5А", "5A"])


def test_bundle_id_and_key_are_deterministic() -> None:
    assert bundle_id("2024/2025", "5А", "Q1", 1) == "2024-2025-5a-q1-v1"
    assert bundle_id("2024/2025", "10Б", "year", 3) == "2024-2025-10b-year-v3"
    key = bundle_key("school-7", "2024/2025", "5А/../../x", bundle_id("2024/2025", "5А/../../x", "Q1", 1))
    assert key == "school-7/2024-2025/5a-x/2024-2025-5a-x-q1-v1"
    with pytest.raises(LayoutError):
        bundle_id("2024/2025", "5А", "Q1", 0)


@pytest.mark.parametrize(
    "key", ["../etc/passwd/x", "/etc/a/b/c", "a/b/c", "a/b/c/d/e", "a/b/../d", "a/b/c/.hidden", "a/b/c/D", ""]
)
def test_check_key_refuses_bad_keys(key: str) -> None:
    with pytest.raises(LayoutError):
        check_key(key)


@pytest.mark.parametrize(
    "relpath", ["../etc", "/etc/passwd", "data/../../x", "data//x", "./x", "a\\b", "a%2f"]
)
def test_check_relpath_refuses_escapes(relpath: str) -> None:
    with pytest.raises(LayoutError):
        check_relpath(relpath)


def test_path_inside_refuses_symlinks_leaving_the_root(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "school").symlink_to(outside)
    (root / "inner").symlink_to(root / "real")
    with pytest.raises(LayoutError, match="за пределы"):
        path_inside(root, "school/2024-2025/5a/b")
    assert path_inside(root, "inner/x") == root.resolve() / "inner" / "x"


# --- retention -------------------------------------------------------------------


def test_retain_until_counts_from_january_after_the_year() -> None:
    assert retain_until(YEAR_END, "journal-5y") == dt.date(2030, 12, 31)
    assert retain_until(dt.date(2025, 6, 30), RetentionClass.SUMMARY_25Y) == dt.date(2050, 12, 31)
    assert retain_until(YEAR_END, "quarter") == dt.date(2030, 12, 31)  # conservative, see retention.py
    with pytest.raises(ValueError):
        retain_until(YEAR_END, "forever")


# --- filesystem target -----------------------------------------------------------


def modes(directory: Path) -> dict[str, int]:
    return {p.relative_to(directory).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in directory.rglob("*")}


def test_put_bundle_stores_read_only_and_verifies(tmp_path: Path) -> None:
    bag = write_sample_bag(tmp_path / "work")
    target = folder_target("primary", tmp_path / "primary")
    assert isinstance(target, Target)
    key = sample_key(bag)
    stored = target.put_bundle(key, bag)
    assert stored.created and "data/journal.pdf" in stored.files
    assert target.list_bundles() == [key]
    assert target.has_bundle(key)
    assert list(target.iter_files(key)) == list(stored.files)
    assert target.read_file(key, "data/journal.pdf") == (bag / "data/journal.pdf").read_bytes()
    assert verify_stored_bundle(target, key) == []
    placed = tmp_path / "primary" / key
    assert set(modes(placed).values()) == {0o400, 0o500}  # read-only and owner-only (A2)
    assert stat.S_IMODE(placed.stat().st_mode) == 0o500
    assert {p: m for p, m in modes(placed).items() if m == 0o500} == {"data": 0o500, "data/csv": 0o500}
    school_year_class = [p for p in placed.parents if p.is_relative_to(target.root)]
    assert {stat.S_IMODE(p.stat().st_mode) for p in school_year_class} == {0o700}
    assert placed.stat().st_mtime_ns == bag.stat().st_mtime_ns  # tar of the stored copy is reproducible too
    assert target.stat(key, "bagit.txt").read_only
    with pytest.raises(StorageError):
        target.read_file(key, "../../../../../etc/passwd")


def test_putting_the_same_bundle_again_is_a_no_op_and_a_different_one_is_refused(tmp_path: Path) -> None:
    bag = write_sample_bag(tmp_path / "work")
    target = folder_target("primary", tmp_path / "primary")
    key = sample_key(bag)
    target.put_bundle(key, bag)
    before = (tmp_path / "primary" / key / "bag-info.txt").stat()
    assert not target.put_bundle(key, bag).created
    assert (tmp_path / "primary" / key / "bag-info.txt").stat().st_ino == before.st_ino

    other = write_sample_bag(tmp_path / "other", payload={"journal.pdf": b"%PDF changed"})
    with pytest.raises(BundleExistsError, match="другим содержимым"):
        target.put_bundle(key, other)
    assert verify_stored_bundle(target, key) == []
    assert target.read_file(key, "data/journal.pdf") == (bag / "data/journal.pdf").read_bytes()


def test_put_refuses_bad_keys(tmp_path: Path) -> None:
    bag = write_sample_bag(tmp_path / "work")
    target = folder_target("primary", tmp_path / "primary")
    for key in ["../etc/x/y", "/tmp/a/b/c", "school/2024-2025/5a/../x"]:
        with pytest.raises(StorageError):
            target.put_bundle(key, bag)
    assert not (tmp_path / "primary").exists() or target.list_bundles() == []


def test_a_failing_write_leaves_no_visible_and_no_half_written_bundle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bag = write_sample_bag(tmp_path / "work")
    target = folder_target("primary", tmp_path / "primary")
    key = sample_key(bag)
    real_fsync, calls = os.fsync, []

    def failing_fsync(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 4:
            raise OSError(5, "Input/output error")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(StorageError, match="primary: не удалось записать пакет"):
        target.put_bundle(key, bag)
    monkeypatch.undo()
    assert target.list_bundles() == []
    assert not target.has_bundle(key)
    assert [p.name for p in (tmp_path / "primary").iterdir()] == [IDENTITY_FILE]  # temp folder cleaned
    assert target.put_bundle(key, bag).created
    assert verify_stored_bundle(target, key) == []


def test_a_crash_leaves_only_a_hidden_temp_folder_that_the_next_write_removes(tmp_path: Path) -> None:
    root = tmp_path / "primary"
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    crashed = root / f"{TEMP_PREFIX}{int(dead.stdout)}-abc"
    (crashed / "data").mkdir(parents=True)
    (crashed / "data" / "journal.pdf").write_bytes(b"%PDF half")
    running = root / f"{TEMP_PREFIX}{os.getpid()}-xyz"  # a writer of this very process, still at work
    running.mkdir()
    target = folder_target("primary", root)
    assert target.list_bundles() == []
    bag = write_sample_bag(tmp_path / "work")
    target.put_bundle(sample_key(bag), bag)
    assert not crashed.exists()
    assert running.exists()
    assert target.list_bundles() == [sample_key(bag)]


def test_verify_stored_bundle_names_target_and_file(tmp_path: Path) -> None:
    bag = write_sample_bag(tmp_path / "work")
    target = folder_target("secondary", tmp_path / "secondary")
    key = sample_key(bag)
    target.put_bundle(key, bag)
    pdf = tmp_path / "secondary" / key / "data" / "journal.pdf"
    pdf.chmod(0o644)
    pdf.write_bytes(b"%PDF forged")
    problems = verify_stored_bundle(target, key)
    assert f"secondary: {key}/data/journal.pdf: контрольная сумма не совпадает" in problems[0]
    assert f"secondary: {key}/data/journal.pdf: файл доступен для изменения" in problems
    assert verify_stored_bundle(target, "school-7/2024-2025/5a/none-v1") == [
        "secondary: пакет school-7/2024-2025/5a/none-v1 не найден"
    ]


def test_delete_refuses_before_retain_until(tmp_path: Path) -> None:
    bag = write_sample_bag(tmp_path / "work")
    target = folder_target("primary", tmp_path / "primary")
    key = sample_key(bag)
    target.put_bundle(key, bag)
    with pytest.raises(RetentionError, match="2030-12-31"):
        target.delete_bundle_if_expired(key, dt.date(2030, 12, 31), dt.date(2030, 12, 31))
    # The bundle's own Retain-Until wins over an earlier date from a caller.
    with pytest.raises(RetentionError, match="2030-12-31"):
        target.delete_bundle_if_expired(key, dt.date(2026, 1, 1), dt.date(2025, 12, 31))
    assert verify_stored_bundle(target, key) == []
    assert target.delete_bundle_if_expired(key, dt.date(2031, 1, 1), dt.date(2030, 12, 31))
    assert target.list_bundles() == []
    assert not target.delete_bundle_if_expired(key, dt.date(2031, 1, 1), dt.date(2030, 12, 31))
    assert [p.name for p in (tmp_path / "primary").iterdir() if p.name.startswith(TEMP_PREFIX)] == []


def test_replicate_bundle_to_two_targets(tmp_path: Path) -> None:
    bag = write_sample_bag(tmp_path / "work")
    targets = [folder_target("primary", tmp_path / "a"), folder_target("secondary", tmp_path / "b")]
    replicas = replicate_bundle(targets, sample_key(bag), bag)
    assert [(r.target, r.status, r.created, r.problems) for r in replicas] == [
        ("primary", ReplicaStatus.VERIFIED, True, ()),
        ("secondary", ReplicaStatus.VERIFIED, True, ()),
    ]
    assert [r.created for r in replicate_bundle(targets, sample_key(bag), bag)] == [False, False]


def test_targets_default_to_two_folders_and_refuse_a_single_medium(tmp_path: Path) -> None:
    targets = targets_from_config(None, tmp_path)
    assert [(t.name, t.root) for t in targets] == [
        ("primary", tmp_path.resolve() / "archive" / "primary"),
        ("secondary", tmp_path.resolve() / "archive" / "secondary"),
    ]
    one = [{"name": "primary", "path": "a"}]
    with pytest.raises(StorageError, match="R8"):
        targets_from_config(one, tmp_path)
    with pytest.raises(StorageError, match="одной папке"):
        targets_from_config([*one, {"name": "copy", "path": "a/inner"}], tmp_path)
    with pytest.raises(StorageError, match="s3"):
        targets_from_config([*one, {"name": "cloud", "type": "s3", "path": "bucket"}], tmp_path)


# --- catalog ---------------------------------------------------------------------


def catalog_content(path: Path) -> dict[str, list[tuple]]:
    db = sqlite3.connect(path)
    try:
        return {
            "bundles": db.execute("SELECT * FROM bundles ORDER BY bundle_id").fetchall(),
            "changes": db.execute("SELECT * FROM changes ORDER BY bundle_id").fetchall(),
            "replicas": db.execute("SELECT bundle_id, target, status FROM replicas ORDER BY 1, 2").fetchall(),
        }
    finally:
        db.close()


def archive_two_versions(tmp_path: Path) -> tuple[list[FilesystemTarget], Path]:
    """v1 of 5А Q1 on both targets, then v2 superseding it, all recorded in a catalog."""
    targets = [folder_target("primary", tmp_path / "a"), folder_target("secondary", tmp_path / "b")]
    catalog = tmp_path / "catalog.sqlite"
    db = open_catalog(catalog)
    v1 = write_sample_bag(tmp_path / "work")
    v2 = write_sample_bag(
        tmp_path / "work",
        2,
        payload={"journal.pdf": b"%PDF v2"},
        supersedes=v1.name,
        changes="Изменения по сравнению с версией 2024-2025-5a-q1-v1\n",
    )
    for bag in (v1, v2):
        key = sample_key(bag)
        replicas = replicate_bundle(targets, key, bag)
        record_bundle(db, read_bundle_record(targets[0], key))
        for replica in replicas:
            record_replica(
                db, bag.name, replica.target, replica.status, dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
            )
    with pytest.raises(CatalogError, match="нет в каталоге"):
        record_replica(db, "2024-2025-5a-q1-v9", "primary", ReplicaStatus.STORED)
    db.close()
    return targets, catalog


def test_catalog_records_versions_and_supersession(tmp_path: Path) -> None:
    _, catalog = archive_two_versions(tmp_path)
    db = open_catalog(catalog)
    latest = latest_version(db, "2024/2025", "5А", "Q1", "period")
    assert latest is not None and latest.bundle_id == "2024-2025-5a-q1-v2" and latest.version == 2
    assert latest.supersedes == "2024-2025-5a-q1-v1"
    assert latest.changes_text.startswith("Изменения по сравнению с версией 2024-2025-5a-q1-v1")
    first = list_bundles(db, class_name="5А")[0]
    assert (first.bundle_id, first.superseded_by) == ("2024-2025-5a-q1-v1", "2024-2025-5a-q1-v2")
    assert first.retain_until == "2030-12-31" and first.retention_class == "quarter"
    assert [r.bundle_id for r in list_bundles(db, current_only=True)] == ["2024-2025-5a-q1-v2"]
    assert latest_version(db, "2024/2025", "5А", "Q2", "period") is None
    assert [(r.target, r.status) for r in replicas_of(db, latest.bundle_id)] == [
        ("primary", ReplicaStatus.VERIFIED),
        ("secondary", ReplicaStatus.VERIFIED),
    ]
    record_bundle(db, first)  # the same again: no-op
    changed = BundleRecord(**{**{f: getattr(first, f) for f in first.__slots__}, "source_fingerprint": "x"})
    with pytest.raises(CatalogError, match="2024-2025-5a-q1-v1"):
        record_bundle(db, changed)
    db.close()


def test_catalog_rebuilt_from_targets_alone_equals_the_original(tmp_path: Path) -> None:
    targets, catalog = archive_two_versions(tmp_path)
    original = catalog_content(catalog)
    catalog.unlink()
    assert rebuild_catalog(catalog, targets) == []
    rebuilt = catalog_content(catalog)
    assert rebuilt["bundles"] == original["bundles"]
    assert rebuilt["changes"] == original["changes"]
    assert [r[:2] for r in rebuilt["replicas"]] == [r[:2] for r in original["replicas"]]
    assert {r[2] for r in rebuilt["replicas"]} == {"stored"}

    assert rebuild_catalog(catalog, targets, verify=True) == []
    assert catalog_content(catalog)["replicas"] == original["replicas"]  # all verified again
    assert not catalog.with_name(catalog.name + ".rebuild").exists()


def test_rebuild_reports_a_corrupt_replica(tmp_path: Path) -> None:
    targets, catalog = archive_two_versions(tmp_path)
    key = sample_key(Path("2024-2025-5a-q1-v1"))
    info = tmp_path / "b" / key / "data" / "journal.pdf"
    info.chmod(0o644)
    info.write_bytes(b"forged")
    problems = rebuild_catalog(catalog, targets, verify=True)
    assert problems[0].startswith(f"secondary: {key}/data/journal.pdf: контрольная сумма не совпадает")
    assert all(p.startswith(f"secondary: {key}/") for p in problems)
    assert f"secondary: {key}/bag-info.txt: Payload-Oxum" in "\n".join(problems)
    statuses = {(r[0], r[1]): r[2] for r in catalog_content(catalog)["replicas"]}
    assert statuses["2024-2025-5a-q1-v1", "secondary"] == "corrupt"
    assert statuses["2024-2025-5a-q1-v1", "primary"] == "verified"
