"""Completing under-replicated bundles from a verified copy (R8).

When a target was unreachable during an archive run, the bundle lives on fewer
targets than configured. `complete_replicas` copies it from a target whose copy
verifies against its own manifests to every target that lacks it, and reads the
new copy back. A copy that is never verified is never used as a source.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from storage.catalog import BundleRecord, record_replica
from storage.database import Database
from storage.layout import path_inside, work_prefix
from storage.modes import PRIVATE_FILE_MODE, private_dir
from storage.target import ReplicaStatus, StorageError, Target, verify_stored_bundle


@dataclass(frozen=True, slots=True)
class ReplicaRepair:
    bundle_id: str
    target: str
    source: str  # the target it was copied from, "" if there was no good copy
    status: ReplicaStatus
    problems: tuple[str, ...]


def fetch_bundle(target: Target, key: str, directory: Path) -> Path:
    """Copy a stored bundle's files into `directory` (streamed, file by file), owner-only whatever
    the umask (A2): files 0o600, folders 0o700."""
    private_dir(directory)
    for relpath in target.iter_files(key):
        destination = path_inside(directory, relpath)
        for folder in reversed(destination.relative_to(directory).parents[:-1]):
            private_dir(directory / folder)
        descriptor = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE_MODE)
        with target.open_file(key, relpath) as source, os.fdopen(descriptor, "wb") as sink:
            os.fchmod(sink.fileno(), PRIVATE_FILE_MODE)
            shutil.copyfileobj(source, sink, 1 << 20)
    return directory


def good_source(targets: Sequence[Target], key: str) -> Target | None:
    """The first target whose copy of `key` is complete and matches its manifests."""
    for target in targets:
        try:
            if target.has_bundle(key) and not verify_stored_bundle(target, key):
                return target
        except StorageError:
            continue
    return None


def complete_replicas(
    db: Database,
    targets: Sequence[Target],
    work_dir: Path,
    records: Sequence[BundleRecord],
    *,
    to: str | None = None,
) -> list[ReplicaRepair]:
    """Put each of `records` on every target that lacks it (only on target `to` when given: a new
    medium being filled); record each outcome in the catalog."""
    repairs: list[ReplicaRepair] = []
    for record in records:
        missing = [t for t in targets if (to is None or t.name == to) and not _has(t, record.key)]
        if not missing:
            continue
        source = good_source([t for t in targets if t not in missing], record.key)
        now = dt.datetime.now(dt.UTC)
        if source is None:
            for target in missing:
                problem = (
                    f"{record.bundle_id}: нет проверенной копии, с которой можно восстановить {target.name}"
                )
                repairs.append(
                    ReplicaRepair(record.bundle_id, target.name, "", ReplicaStatus.MISSING, (problem,))
                )
            continue
        work_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=work_prefix("replicate"), dir=work_dir) as temp:
            copy = fetch_bundle(source, record.key, Path(temp) / record.bundle_id)
            for target in missing:
                try:
                    target.put_bundle(record.key, copy)
                    problems = tuple(verify_stored_bundle(target, record.key))
                except StorageError as error:
                    problems = (str(error),)
                status = ReplicaStatus.CORRUPT if problems else ReplicaStatus.VERIFIED
                if problems and not _has(target, record.key):
                    status = ReplicaStatus.MISSING
                record_replica(db, record.bundle_id, target.name, status, now, problems)
                repairs.append(ReplicaRepair(record.bundle_id, target.name, source.name, status, problems))
    return repairs


def _has(target: Target, key: str) -> bool:
    try:
        return target.has_bundle(key)
    except StorageError:
        return False
