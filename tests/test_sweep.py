"""The retention sweep deletes exactly the bundles past their date, never a day early (R2, R3)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from storage.catalog import fixity_history, open_catalog, read_bundle_record, record_bundle
from storage.filesystem import FilesystemTarget
from storage.sweep import DELETED_ACTION, expired_bundles, sweep_expired
from tests.bundles import folder_target, sample_key, write_sample_bag


def stored_sample(tmp_path: Path) -> tuple[list[FilesystemTarget], str, Path]:
    targets = [folder_target("primary", tmp_path / "a"), folder_target("secondary", tmp_path / "b")]
    bag = write_sample_bag(tmp_path / "work")
    key = sample_key(bag)
    for target in targets:
        target.put_bundle(key, bag)
    catalog = tmp_path / "catalog.sqlite"
    db = open_catalog(catalog)
    record_bundle(db, read_bundle_record(targets[0], key))
    db.close()
    return targets, key, catalog


def test_nothing_is_deleted_on_the_last_day_of_retention(tmp_path: Path) -> None:
    targets, key, catalog = stored_sample(tmp_path)
    db = open_catalog(catalog)
    last_day = dt.date(2030, 12, 31)
    assert expired_bundles(db, last_day) == []
    assert sweep_expired(db, targets, last_day) == []
    assert all(target.has_bundle(key) for target in targets)


def test_an_expired_bundle_is_deleted_everywhere_and_its_history_kept(tmp_path: Path) -> None:
    targets, key, catalog = stored_sample(tmp_path)
    db = open_catalog(catalog)
    day_after = dt.date(2031, 1, 1)
    (record,) = expired_bundles(db, day_after)
    outcomes = sweep_expired(db, targets, day_after)
    assert [(o.target, o.deleted) for o in outcomes] == [("primary", True), ("secondary", True)]
    assert not any(target.has_bundle(key) for target in targets)
    assert [check.action for check in fixity_history(db, record.bundle_id)] == [DELETED_ACTION] * 2
