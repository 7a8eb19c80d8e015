"""The retention sweep: bundles past their retain-until date, and deleting exactly those.

A bundle is deleted only when the catalog *and* the bundle's own bag-info agree it
has expired (the target re-reads `Retain-Until` and takes the later date), only
where the target allows it (an S3 Object Lock refuses until the lock runs out),
and never a day early. Its catalog entry stays, with the deletion in its history.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from storage.catalog import BundleRecord, list_bundles, record_fixity_check
from storage.database import Database
from storage.retention import is_expired
from storage.target import ReplicaStatus, StorageError, Target

DELETED_ACTION = "удалён по истечении срока хранения"


@dataclass(frozen=True, slots=True)
class SweepOutcome:
    bundle_id: str
    target: str
    deleted: bool
    detail: str  # why not, when not


def expired_bundles(db: Database, today: dt.date) -> list[BundleRecord]:
    """Bundles whose retain-until date has passed by `today` (a bundle is kept through its last day)."""
    return [r for r in list_bundles(db) if is_expired(today, dt.date.fromisoformat(r.retain_until))]


def sweep_expired(db: Database, targets: Sequence[Target], today: dt.date) -> list[SweepOutcome]:
    """Delete every expired bundle from every target that holds it and allows it; record each deletion."""
    outcomes = []
    for record in expired_bundles(db, today):
        until = dt.date.fromisoformat(record.retain_until)
        for target in targets:
            try:
                deleted = target.delete_bundle_if_expired(record.key, today, until)
            except StorageError as error:  # the target refused: a lock, a later date in the bag, a fault
                outcomes.append(SweepOutcome(record.bundle_id, target.name, False, str(error)))
                continue
            if deleted:
                now = dt.datetime.now(dt.UTC)
                record_fixity_check(
                    db, record.bundle_id, target.name, ReplicaStatus.MISSING, now, (), DELETED_ACTION
                )
            outcomes.append(
                SweepOutcome(record.bundle_id, target.name, deleted, "" if deleted else "нет на хранилище")
            )
    return outcomes
