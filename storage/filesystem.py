"""The filesystem target: bundles as read-only folders under a root (R7, R8, R9).

The target writes a bundle into a hidden temporary folder under its root, fsyncs
every file and folder, makes files read-only (0o444) and folders 0o555, and renames
the folder into place: a bundle is visible only when complete. A crash leaves only
a hidden `.incomplete-<pid>-…` folder, which the next write removes once that
process is gone. It satisfies storage.target.Target.
"""

from __future__ import annotations

import datetime as dt
import filecmp
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from storage.layout import LayoutError, check_key, path_inside
from storage.target import (
    BundleExistsError,
    BundleNotFoundError,
    FileStat,
    StorageError,
    StoredBundle,
    refuse_before_retention_ends,
    refuse_taken_names,
    source_files,
)

TEMP_PREFIX = ".incomplete-"
FILE_MODE = 0o444
DIR_MODE = 0o555


@dataclass(frozen=True)
class FilesystemTarget:
    """A target that is a folder: `root/school/year/class/bundle-id/…`."""

    name: str
    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root).expanduser().absolute())

    @property
    def keeps_damaged_versions(self) -> bool:
        """A repair removes the damaged folder once the good copy is in place: no history is kept."""
        return False

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
        refuse_before_retention_ends(self, key, today, retain_until, self.name)
        _remove_tree(self._move_aside(key))
        return True

    def add_files(self, key: str, files: Mapping[str, bytes]) -> None:
        """New files only: each written under a hidden name, fsynced, linked into place (a link never
        replaces a name) and made read-only; the bundle's read-only folders are opened only meanwhile."""
        refuse_taken_names(self, key, files)
        opened: list[Path] = []
        try:
            for relpath, data in files.items():
                _add_file(self._path(key, relpath), data, self._path(key), opened)
        except OSError as error:
            raise StorageError(f"{self.name}: не удалось добавить файлы к {key}: {error}") from error
        finally:
            for path in reversed(opened):
                path.chmod(DIR_MODE)

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


# --- filesystem helpers ----------------------------------------------------------


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


def _add_file(final: Path, data: bytes, root: Path, opened: list[Path]) -> None:
    """One new file under `root` (the bundle folder); folders opened for writing go into `opened`."""
    for parent in [root, *sorted(p for p in final.parents if root in p.parents)]:
        if parent.is_dir() and parent not in opened:
            parent.chmod(0o755)
            opened.append(parent)
    if not final.parent.is_dir():
        final.parent.mkdir()
        opened.append(final.parent)
    link_new_file(final, data, FILE_MODE)
    directory = os.open(final.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    if final.read_bytes() != data:
        raise OSError(f"{final.name} записан с ошибкой")


def link_new_file(final: Path, data: bytes, mode: int, mtime: float | None = None) -> None:
    """Write `data` to `final`, which must not exist: under a hidden partial name, fsynced, with
    `mode` (and `mtime`), then hard-linked into place — a link never replaces a name, so an
    archived file is never overwritten, even by a race (FileExistsError)."""
    partial = final.with_name(f".{final.name}.part")
    with partial.open("xb") as stream:
        stream.write(data)
        stream.flush()
        os.fsync(stream.fileno())
    partial.chmod(mode)
    if mtime is not None:
        os.utime(partial, (mtime, mtime))
    try:
        os.link(partial, final)
    finally:
        partial.unlink()
