"""A storage target is really there, or the run says it is not (R8).

A folder target's root is created only by `journal-archive targets init NAME`, which
writes an identity file into it; a run never creates a root. A disk that is not
mounted (the root, or its parent, missing) or another disk mounted at the same path
(an identity file of another target) makes that replica missing, the bundle
under-replicated, and the run says why in Russian. `demo` prepares the two default
folders inside the home, so the embedded default works at once.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from flows.cli import main
from pipeline.archive import ArchiveStatus, archive_period_class
from pipeline.settings import CONFIG_NAME, load_settings
from storage.catalog import open_catalog, replicas_of
from storage.filesystem import IDENTITY_FILE, FilesystemTarget, TargetRootError
from storage.layout import TARGET_IDS_FILE
from storage.target import ReplicaStatus, replicate_bundle
from tests.bundles import sample_key, write_sample_bag
from tests.homes import make_demo_home

YEAR = "2024/2025"
CLASS = "5А"


def test_a_write_never_creates_a_missing_root(tmp_path: Path) -> None:
    bag = write_sample_bag(tmp_path / "work")
    unmounted = tmp_path / "media" / "backup-disk" / "journals"  # the disk's mount point is absent
    target = FilesystemTarget("secondary", unmounted)
    with pytest.raises(TargetRootError, match=r"нет папки хранилища .*targets init secondary"):
        target.put_bundle(sample_key(bag), bag)
    assert not (tmp_path / "media").exists()
    (replica,) = replicate_bundle([target], sample_key(bag), bag)
    assert replica.status == ReplicaStatus.MISSING and "диск не подключён" in replica.problems[0]
    assert not (tmp_path / "media").exists()


def test_a_root_without_identity_or_with_another_identity_is_refused(tmp_path: Path) -> None:
    bag = write_sample_bag(tmp_path / "work")
    root = tmp_path / "disk"
    root.mkdir()
    with pytest.raises(TargetRootError, match=rf"не подготовлена как хранилище .*{IDENTITY_FILE}"):
        FilesystemTarget("primary", root).put_bundle(sample_key(bag), bag)
    identity = FilesystemTarget("primary", root).init_root()
    assert FilesystemTarget("primary", root).init_root() == identity  # idempotent
    with pytest.raises(TargetRootError, match="другое хранилище"):
        FilesystemTarget("secondary", root).put_bundle(sample_key(bag), bag)  # the other disk's folder
    with pytest.raises(TargetRootError, match="ожидалась 0123"):
        FilesystemTarget("primary", root, identity="0123").put_bundle(sample_key(bag), bag)
    stored = FilesystemTarget("primary", root, identity=identity).put_bundle(sample_key(bag), bag)
    assert stored.created


def _point_secondary_at(home: Path, path: Path) -> None:
    config = home / CONFIG_NAME
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace('path = "archive/secondary"', f'path = "{path}"'), encoding="utf-8")


def test_a_run_with_an_absent_medium_is_under_replicated_until_targets_init(tmp_path: Path) -> None:
    home = tmp_path / "home"
    settings = make_demo_home(home)
    assert (home / "archive" / "primary" / IDENTITY_FILE).is_file()  # demo prepared the default folders
    assert (home / "archive" / "secondary" / IDENTITY_FILE).is_file()
    disk = tmp_path / "media" / "usb" / "journals"
    _point_secondary_at(home, disk)
    settings = load_settings(home)

    result = archive_period_class(settings, YEAR, CLASS, "Q1")
    assert result.status == ArchiveStatus.UNDER_REPLICATED, result
    assert dict(result.replicas) == {"primary": "verified", "secondary": "missing"}
    assert "secondary: нет папки хранилища" in result.message and str(disk) in result.message
    assert not (tmp_path / "media").exists()  # nothing written to the local disk in the disk's place
    db = open_catalog(settings.catalog_path)
    try:
        states = {r.target: r.status for r in replicas_of(db, result.bundle_id)}
    finally:
        db.close()
    assert states == {"primary": ReplicaStatus.VERIFIED, "secondary": ReplicaStatus.MISSING}

    made = CliRunner().invoke(main, ["--home", str(home), "targets", "init", "secondary"])
    assert made.exit_code == 0, made.output
    assert f"Хранилище secondary готово: {disk}" in made.output
    assert (disk / IDENTITY_FILE).is_file()
    again = archive_period_class(load_settings(home), YEAR, CLASS, "Q1")
    assert again.status == ArchiveStatus.UNCHANGED, again  # the missing copy made from the verified one
    assert dict(again.replicas) == {"secondary": "verified"}

    # Another disk mounted at the same path: initialised too, but not the one this home recorded.
    (disk / IDENTITY_FILE).chmod(0o644)
    (disk / IDENTITY_FILE).write_text("name = secondary\nid = feedface\n", encoding="utf-8")
    swapped = archive_period_class(load_settings(home), YEAR, CLASS, "Q2")
    assert swapped.status == ArchiveStatus.UNDER_REPLICATED, swapped
    assert "другое хранилище (secondary, метка feedface, ожидалась" in swapped.message
    assert (home / TARGET_IDS_FILE).is_file()


def test_targets_init_refuses_an_unknown_name(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--home", str(tmp_path / "home"), "targets", "init", "tertiary"])
    assert result.exit_code == 2
    assert "Хранилища tertiary нет в настройках" in result.output
