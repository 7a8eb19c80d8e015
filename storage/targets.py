"""Storage targets behind one small interface, and the filesystem target (R7, R8, R9).

A target holds bundles under keys `school/year/class/bundle-id` (storage.layout).
The interface is shaped so that an S3 Object Lock target fits it unchanged: a
bundle is a set of objects `key/relative/path`; `put_bundle` writes them all or
nothing visible; `delete_bundle_if_expired` refuses before the retain-until date.
A locking target takes that date from the bundle's own bag-info.txt
(`Retain-Until`), so the lock and the bag can never disagree.

The filesystem target writes a bundle into a hidden temporary folder under its
root, fsyncs every file and folder, makes files read-only (0o444) and folders
0o555, and renames the folder into place: a bundle is visible only when
complete. A crash leaves only a hidden `.incomplete-<pid>-…` folder, which the
next write removes once that process is gone.
"""

from __future__ import annotations

import datetime as dt
import filecmp
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

from storage.bagformat import BAG_INFO_FILE, BagFormatError, Label, check_fixity, parse_bag_info
from storage.layout import DEFAULT_TARGETS, LayoutError, check_key, check_relpath, path_inside
from storage.retention import is_expired

TEMP_PREFIX = ".incomplete-"
FILE_MODE = 0o444
DIR_MODE = 0o555


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
    read_only: bool  # cannot be changed through this target (0o444 file, locked object)


@dataclass(frozen=True, slots=True)
class StoredBundle:
    target: str
    key: str
    files: tuple[str, ...]  # relative paths, sorted
    created: bool  # False when an identical bundle was already there


@runtime_checkable
class Target(Protocol):
    """Where bundles are kept. Keys are checked by storage.layout.check_key."""

    name: str

    def put_bundle(self, key: str, source_dir: Path) -> StoredBundle:
        """Store all files under `source_dir` at `key`, all or nothing; no-op if identical, refuse if not."""
        ...

    def has_bundle(self, key: str) -> bool: ...

    def list_bundles(self) -> list[str]:
        """Keys of complete bundles, sorted."""
        ...

    def iter_files(self, key: str) -> Iterator[str]:
        """Relative paths of a bundle's files, sorted."""
        ...

    def open_file(self, key: str, relpath: str) -> BinaryIO: ...

    def read_file(self, key: str, relpath: str) -> bytes: ...

    def stat(self, key: str, relpath: str) -> FileStat: ...

    def delete_bundle_if_expired(self, key: str, today: dt.date, retain_until: dt.date) -> bool:
        """Delete a bundle whose retention has ended; RetentionError before then; False if absent."""
        ...


@dataclass(frozen=True)
class FilesystemTarget:
    """A target that is a folder: `root/school/year/class/bundle-id/…`."""

    name: str
    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root).expanduser().absolute())

    # --- writing ---

    def put_bundle(self, key: str, source_dir: Path) -> StoredBundle:
        try:
            return self._put_bundle(key, source_dir)
        except OSError as error:  # e.g. the target's disk is not mounted: the root is missing or a file
            raise StorageError(f"{self.name}: не удалось записать пакет {key}: {error}") from error

    def _put_bundle(self, key: str, source_dir: Path) -> StoredBundle:
        final = self._path(key)
        files = source_files(Path(source_dir))
        self.clean_incomplete()
        if final.exists():
            return self._existing(key, Path(source_dir), files)
        self.root.mkdir(parents=True, exist_ok=True)
        temp = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-", dir=self.root))
        try:
            _copy_tree(Path(source_dir), temp, files)
            _make_parents(final.parent, self.root.resolve())
            try:
                os.rename(temp, final)
            except OSError:
                if final.exists():  # another writer won the race: same rules as above
                    _remove_tree(temp)
                    return self._existing(key, Path(source_dir), files)
                raise
            _fsync_dir(final.parent)
            mtime = Path(source_dir).stat().st_mtime_ns
            os.utime(final, ns=(mtime, mtime))
            final.chmod(DIR_MODE)
        except OSError as error:
            _remove_tree(temp)
            raise StorageError(f"{self.name}: не удалось записать пакет {key}: {error}") from error
        except BaseException:
            _remove_tree(temp)
            raise
        return StoredBundle(self.name, key, tuple(files), created=True)

    def _existing(self, key: str, source_dir: Path, files: list[str]) -> StoredBundle:
        stored = list(self.iter_files(key))
        if stored != files:
            differing = sorted(set(stored) ^ set(files))[0]
        else:
            differing = next(
                (f for f in files if not filecmp.cmp(source_dir / f, self._path(key, f), shallow=False)), None
            )
        if differing is not None:
            raise BundleExistsError(
                f"{self.name}: пакет {key} уже записан с другим содержимым ({differing}); "
                "записанный пакет не изменяется — нужна новая версия"
            )
        self._path(key).chmod(DIR_MODE)  # in case a crash came between rename and chmod
        return StoredBundle(self.name, key, tuple(files), created=False)

    def clean_incomplete(self) -> list[str]:
        """Remove hidden temporary folders left by writers that no longer run; return their names."""
        removed = []
        if not self.root.is_dir():
            return removed
        for entry in sorted(self.root.iterdir()):
            if entry.name.startswith(TEMP_PREFIX) and not _process_alive(entry.name):
                _remove_tree(entry)
                removed.append(entry.name)
        return removed

    def delete_bundle_if_expired(self, key: str, today: dt.date, retain_until: dt.date) -> bool:
        """Delete a bundle after its retain-until date, the later of the given and its own bag-info's."""
        if not self.has_bundle(key):
            return False
        declared = declared_retain_until(self, key, self.name)
        until = max(retain_until, declared)
        if not is_expired(today, until):
            raise RetentionError(
                f"{self.name}: пакет {key} хранится до {until.isoformat()} включительно; "
                "удалять раньше нельзя"
            )
        _remove_tree(self._move_aside(key))
        return True

    def replace_bundle(self, key: str, source_dir: Path) -> StoredBundle:
        """Repair (R7): swap a damaged copy for a verified one, e.g. after a fixity audit found it bad.

        The damaged copy is moved into a hidden temporary folder first and removed only
        once the good copy is in place; a crash in between leaves the bundle missing on
        this target (found and repaired by the next audit), never half-written.
        """
        aside = self._move_aside(key) if self.has_bundle(key) else None
        stored = self.put_bundle(key, source_dir)
        if aside is not None:
            _remove_tree(aside)
        return stored

    def _move_aside(self, key: str) -> Path:
        """Move a stored bundle into a hidden temporary folder of the root, atomically; return that folder."""
        final = self._path(key)
        trash = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-", dir=self.root))
        final.chmod(0o755)  # moving a folder to another parent rewrites its ".." entry
        try:
            os.rename(final, trash / "bundle")
        except OSError as error:
            final.chmod(DIR_MODE)
            _remove_tree(trash)
            raise StorageError(f"{self.name}: не удалось убрать пакет {key}: {error}") from error
        _fsync_dir(final.parent)
        return trash

    # --- reading ---

    def has_bundle(self, key: str) -> bool:
        return self._path(key).is_dir()

    def list_bundles(self) -> list[str]:
        keys: list[str] = []
        if self.root.is_dir():
            _collect_keys(self.root, [], keys)
        return keys

    def iter_files(self, key: str) -> Iterator[str]:
        bundle = self._path(key)
        if not bundle.is_dir():
            raise BundleNotFoundError(f"{self.name}: пакет {key} не найден")
        found = []
        for folder, dirs, names in os.walk(bundle):
            dirs[:] = [d for d in dirs if not Path(folder, d).is_symlink()]
            for name in names:
                path = Path(folder, name)
                if path.is_file() and not path.is_symlink():
                    found.append(path.relative_to(bundle).as_posix())
        yield from sorted(found)

    def open_file(self, key: str, relpath: str) -> BinaryIO:
        path = self._path(key, relpath)
        if path.is_symlink() or not path.is_file():
            raise FileNotFoundError(f"{self.name}: нет файла {key}/{relpath}")
        return path.open("rb")

    def read_file(self, key: str, relpath: str) -> bytes:
        with self.open_file(key, relpath) as stream:
            return stream.read()

    def stat(self, key: str, relpath: str) -> FileStat:
        info = self._path(key, relpath).lstat()
        return FileStat(size=info.st_size, read_only=not info.st_mode & 0o222)

    def _path(self, key: str, relpath: str | None = None) -> Path:
        try:
            check_key(key)
            if relpath is None:
                return path_inside(self.root, key)
            return path_inside(self.root, key, relpath)
        except LayoutError as error:
            raise StorageError(f"{self.name}: {error}") from error


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


def targets_from_config(entries: Sequence[Mapping[str, object]] | None, base: Path) -> list[Target]:
    """Targets named in the configuration, or the embedded default when there are none.

    A folder is `{name = "primary", type = "filesystem", path = "archive/primary"}`
    (a relative path is relative to `base`, the home); an S3 bucket is
    `{name = "cloud", type = "s3", bucket = "journals", endpoint_url = "…", …}`
    (storage.s3.s3_target_from_config; keys come from environment variables it names).
    R8 asks for at least two media: fewer than two targets, a repeated name, two
    targets in one folder (or one inside the other), or two in one bucket under
    overlapping prefixes are refused with a message naming them.
    """
    if not entries:
        entries = [{"name": name, "type": "filesystem", "path": path} for name, path in DEFAULT_TARGETS]
    targets: list[Target] = []
    for number, entry in enumerate(entries, start=1):
        name, kind = entry.get("name"), entry.get("type", "filesystem")
        if kind == "s3":
            from storage.s3 import s3_target_from_config  # storage.s3 imports this module

            targets.append(s3_target_from_config(entry, number))
            continue
        path = entry.get("path")
        if not isinstance(name, str) or not name or not isinstance(path, str) or not path:
            raise StorageError(f"Хранилище № {number} в настройках: нужны name и path")
        if kind != "filesystem":
            raise StorageError(f"Хранилище {name}: тип «{kind}» не поддерживается (есть: filesystem, s3)")
        targets.append(FilesystemTarget(name, (base / Path(path).expanduser()).resolve()))
    if len(targets) < 2:
        raise StorageError("Нужно не меньше двух хранилищ на разных носителях (R8), а задано одно")
    for i, first in enumerate(targets):
        for second in targets[i + 1 :]:
            if first.name == second.name:
                raise StorageError(f"Два хранилища с одним именем {first.name}")
            shared = _shared_place(first, second)
            if shared:
                raise StorageError(f"Хранилища {first.name} и {second.name} {shared}")
    return targets


def _shared_place(first: Target, second: Target) -> str:
    """Why two targets are one medium ("в одной папке: …"), or "" when they are apart."""
    from storage.s3 import S3Target  # storage.s3 imports this module

    if isinstance(first, FilesystemTarget) and isinstance(second, FilesystemTarget):
        a, b = first.root, second.root
        if a == b or a in b.parents or b in a.parents:
            return f"в одной папке: {a}, {b}"
    if isinstance(first, S3Target) and isinstance(second, S3Target):
        same_bucket = (first.endpoint_url, first.bucket) == (second.endpoint_url, second.bucket)
        if same_bucket and (first.prefix.startswith(second.prefix) or second.prefix.startswith(first.prefix)):
            prefixes = f"«{first.prefix}» и «{second.prefix}»"
            return f"в одной корзине {first.bucket}: префиксы {prefixes} пересекаются"
    return ""


# --- filesystem helpers ----------------------------------------------------------


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


def _copy_tree(source: Path, temp: Path, files: list[str]) -> None:
    """Copy files with their mtimes, fsync each, make them read-only; fsync and lock folders."""
    folders = set()
    for relpath in files:
        src, dst = source / relpath, temp / relpath
        dst.parent.mkdir(parents=True, exist_ok=True)
        folders.update(p for p in dst.parents if temp in p.parents)
        with src.open("rb") as reader, dst.open("xb") as writer:
            shutil.copyfileobj(reader, writer, 1 << 20)
            writer.flush()
            os.fsync(writer.fileno())
        mtime = src.stat().st_mtime_ns
        os.utime(dst, ns=(mtime, mtime))
        dst.chmod(FILE_MODE)
    for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
        _fsync_dir(folder)
        mtime = (source / folder.relative_to(temp)).stat().st_mtime_ns
        os.utime(folder, ns=(mtime, mtime))
        folder.chmod(DIR_MODE)
    _fsync_dir(temp)


def _make_parents(folder: Path, root: Path) -> None:
    """Create `folder` and its missing parents under root, fsyncing each parent that gained an entry."""
    missing = [p for p in [folder, *folder.parents] if root in p.parents and not p.exists()]
    for path in reversed(missing):
        path.mkdir(exist_ok=True)
        _fsync_dir(path.parent)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_tree(path: Path) -> None:
    """Remove a folder tree including read-only parts (unlinking needs a writable folder)."""
    if not path.exists():
        return
    for folder, dirs, _ in os.walk(path):
        for name in dirs:
            Path(folder, name).chmod(0o755)
    path.chmod(0o755)
    shutil.rmtree(path)


def _process_alive(temp_name: str) -> bool:
    """Whether the process that named a temporary folder `.incomplete-<pid>-…` still runs."""
    try:
        pid = int(temp_name[len(TEMP_PREFIX) :].split("-", 1)[0])
    except ValueError:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _collect_keys(folder: Path, parts: list[str], keys: list[str]) -> None:
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith(".") or entry.is_symlink() or not entry.is_dir():
            continue
        if len(parts) == 3:
            key = "/".join([*parts, entry.name])
            try:
                keys.append(check_key(key))
            except LayoutError:
                continue
        else:
            _collect_keys(entry, [*parts, entry.name], keys)
