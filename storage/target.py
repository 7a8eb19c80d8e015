"""The storage interface: the `Target` protocol, its errors and replica states, and the helpers
every target shares (R7, R8, R9).

A target holds bundles under keys `school/year/class/bundle-id` (storage.layout).
The interface is shaped so that an S3 Object Lock target fits it unchanged: a
bundle is a set of objects `key/relative/path`; `put_bundle` writes them all or
nothing visible; `delete_bundle_if_expired` refuses before the retain-until date.
A locking target takes that date from the bundle's own bag-info.txt
(`Retain-Until`), so the lock and the bag can never disagree.

The implementations live in storage.filesystem (a folder) and storage.s3 (a bucket
with Object Lock); storage.targets builds them from the configuration. This module
imports neither, so nothing here can form an import cycle with them.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

from storage.bagformat import BAG_INFO_FILE, BagFormatError, Label, check_fixity, parse_bag_info
from storage.layout import LayoutError, check_relpath
from storage.retention import is_expired


class StorageError(Exception):
    """A storage operation that failed or was refused; the message names the target and bundle."""


class BundleExistsError(StorageError):
    """The key already holds a bundle with different content: bundles are never overwritten (R9)."""


class BundleNotFoundError(StorageError):
    pass


class RetentionError(StorageError):
    """A deletion refused because the bundle's retention has not ended."""


class ReplicaStatus(StrEnum):
    STORED = "stored"  # present on the target, not read back
    VERIFIED = "verified"  # read back and matching its manifests
    MISSING = "missing"
    CORRUPT = "corrupt"

    @property
    def title(self) -> str:
        """The state in staff's words."""
        return REPLICA_STATUS_TITLES[self]


REPLICA_STATUS_TITLES = {
    ReplicaStatus.STORED: "записана, не проверена",
    ReplicaStatus.VERIFIED: "проверена",
    ReplicaStatus.MISSING: "отсутствует",
    ReplicaStatus.CORRUPT: "повреждена",
}
"""The one wording of a replica's state for staff: catalog list, audit digest, Prefect logs."""


@dataclass(frozen=True, slots=True)
class FileStat:
    size: int
    read_only: bool  # cannot be changed through this target (0o400 file, locked object)


@dataclass(frozen=True, slots=True)
class StoredBundle:
    target: str
    key: str
    files: tuple[str, ...]  # relative paths, sorted
    created: bool  # False when an identical bundle was already there


@runtime_checkable
class Target(Protocol):
    """Where bundles are kept: every method the pipeline, the checks and the audit call on a target.

    Keys are checked by storage.layout.check_key. Every failure is a StorageError whose
    Russian message names the target and the bundle (FileNotFoundError for a missing file).
    """

    @property
    def name(self) -> str:
        """The target's name in the configuration, the catalog and every message."""
        ...

    @property
    def keeps_damaged_versions(self) -> bool:
        """Whether `replace_bundle` leaves the damaged copy readable in the target's history.

        True for an S3 Object Lock target (locked versions cannot be removed, only covered
        by new ones); False for a folder, where the damaged copy is gone after the repair.
        """
        ...

    def put_bundle(self, key: str, source_dir: Path) -> StoredBundle:
        """Store all files under `source_dir` at `key`, all or nothing; no-op if identical, refuse if not."""
        ...

    def replace_bundle(self, key: str, source_dir: Path) -> StoredBundle:
        """Repair (R7): make the stored bundle at `key` the verified copy in `source_dir`."""
        ...

    def has_bundle(self, key: str) -> bool:
        """Whether a complete bundle is stored at `key`."""
        ...

    def list_bundles(self) -> list[str]:
        """Keys of complete bundles, sorted."""
        ...

    def iter_files(self, key: str) -> Iterator[str]:
        """Relative paths of a bundle's files, sorted; BundleNotFoundError if there is no bundle."""
        ...

    def open_file(self, key: str, relpath: str) -> BinaryIO:
        """One file of a bundle, streamed."""
        ...

    def read_file(self, key: str, relpath: str) -> bytes:
        """One file of a bundle, whole."""
        ...

    def stat(self, key: str, relpath: str) -> FileStat:
        """A file's size, and whether it can still be changed through this target."""
        ...

    def stat_files(self, key: str) -> dict[str, FileStat]:
        """`stat` of every file of a bundle, by relative path in sorted order (iter_files' paths);
        BundleNotFoundError if there is no bundle. A folder answers it in one walk."""
        ...

    def add_files(self, key: str, files: Mapping[str, bytes]) -> None:
        """Write new files ({bundle-relative path: bytes}) into a stored bundle, never changing one:
        evidence renewal (R7). An existing name is refused (StorageError); each file is read back."""
        ...

    def delete_bundle_if_expired(self, key: str, today: dt.date, retain_until: dt.date) -> bool:
        """Delete a bundle whose retention has ended; RetentionError before then; False if absent."""
        ...


def refuse_taken_names(target: Target, key: str, files: Mapping[str, bytes]) -> None:
    """add_files' rule for every target: a name the bundle already has is never written again."""
    taken = sorted(set(files) & set(target.iter_files(key)))
    if taken:
        raise StorageError(f"{target.name}: {key}/{taken[0]} уже есть; записанные файлы не перезаписываются")


def declared_retain_until(target: Target, key: str, where: str) -> dt.date:
    """The `Retain-Until` a stored bundle declares in its bag-info.txt; unreadable means no deletion."""
    try:
        value = parse_bag_info(target.read_file(key, BAG_INFO_FILE))[Label.RETAIN_UNTIL]
        return dt.date.fromisoformat(value)
    except (OSError, BagFormatError, KeyError, ValueError) as error:
        raise RetentionError(
            f"{where}: у пакета {key} не читается срок хранения (Retain-Until в {BAG_INFO_FILE}); "
            "удаление отменено"
        ) from error


def refuse_before_retention_ends(
    target: Target, key: str, today: dt.date, retain_until: dt.date, where: str
) -> None:
    """The retention guard of every target: RetentionError unless `today` is past both the given
    date and the bundle's own Retain-Until (the later wins; a bundle is kept through its last day)."""
    until = max(retain_until, declared_retain_until(target, key, where))
    if not is_expired(today, until):
        raise RetentionError(
            f"{where}: пакет {key} хранится до {until.isoformat()} включительно; удалять раньше нельзя"
        )


def verify_stored_bundle(target: Target, key: str) -> list[str]:
    """Read every file of a stored bundle back and check it against the bundle's manifests.

    Problems are in Russian and name the target and the file; files that can still
    be changed (not read-only) are reported too. An empty list means intact.
    """
    if not target.has_bundle(key):
        return [f"{target.name}: пакет {key} не найден"]
    files = list(target.iter_files(key))
    stats = {path: target.stat(key, path) for path in files}
    problems = check_fixity(
        files, lambda path: target.open_file(key, path), {p: s.size for p, s in stats.items()}
    )
    problems += [f"{path}: файл доступен для изменения" for path in files if not stats[path].read_only]
    return [f"{target.name}: {key}/{problem}" for problem in problems]


@dataclass(frozen=True, slots=True)
class Replica:
    target: str
    key: str
    status: ReplicaStatus
    created: bool
    problems: tuple[str, ...]


def replicate_bundle(targets: Sequence[Target], key: str, source_dir: Path) -> list[Replica]:
    """Put a bundle on every target and read it back (R8); one target failing never stops the others."""
    replicas = []
    for target in targets:
        try:
            stored = target.put_bundle(key, source_dir)
        except StorageError as error:
            status = ReplicaStatus.CORRUPT if _has_bundle(target, key) else ReplicaStatus.MISSING
            replicas.append(Replica(target.name, key, status, False, (str(error),)))
            continue
        try:
            problems = tuple(verify_stored_bundle(target, key))
            status = ReplicaStatus.CORRUPT if problems else ReplicaStatus.VERIFIED
        except StorageError as error:  # stored, but the target went away before it could be read back
            problems, status = (str(error),), ReplicaStatus.STORED
        replicas.append(Replica(target.name, key, status, stored.created, problems))
    return replicas


def _has_bundle(target: Target, key: str) -> bool:
    """has_bundle for a target that may be unreachable (a network store): unknown counts as absent."""
    try:
        return target.has_bundle(key)
    except StorageError:
        return False


def source_files(source_dir: Path) -> list[str]:
    """Sorted relative paths of the regular files to store; links and special files are refused."""
    if not source_dir.is_dir():
        raise StorageError(f"Нет папки пакета {source_dir}")
    files = []
    for folder, dirs, names in os.walk(source_dir):
        for name in sorted(dirs + names):
            path = Path(folder, name)
            relpath = path.relative_to(source_dir).as_posix()
            if path.is_symlink() or not (path.is_dir() or path.is_file()):
                raise StorageError(f"{source_dir}: {relpath} — не обычный файл; такие не сохраняются")
            try:
                check_relpath(relpath)
            except LayoutError as error:
                raise StorageError(f"{source_dir}: {error}") from error
            if path.is_file():
                files.append(relpath)
    return sorted(files)
