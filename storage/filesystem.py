"""The filesystem target: bundles as read-only folders under a root (R7, R8, R9).

The target writes a bundle into a hidden temporary folder under its root, fsyncs
every file and folder, makes files read-only and owner-only (0o400) and folders 0o500, and
renames
the folder into place: a bundle is visible only when complete. A crash leaves only
a hidden `.incomplete-<pid>-…` folder, which the next write removes once that
process is gone. It satisfies storage.target.Target.

A root is made only by `init_root` (`journal-archive targets init NAME`), which writes an
identity file into it. A write never creates a root: a folder on a disk that is not
mounted must not silently become a folder on the local disk, and a root whose identity
file is missing or names another target (a different disk mounted at the same path) is
refused, so the bundle counts as under-replicated instead of falsely stored (R8).
"""

from __future__ import annotations

import datetime as dt
import errno
import filecmp
import functools
import os
import shutil
import stat
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from storage.layout import LayoutError, check_key, check_relpath, resolve_inside
from storage.modes import PRIVATE_DIR_MODE, SEALED_DIR_MODE, SEALED_FILE_MODE, private_dir, write_private
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
FILE_MODE = SEALED_FILE_MODE
DIR_MODE = SEALED_DIR_MODE
IDENTITY_FILE = ".journal-archive-target"
"""In every target root, written by `init_root`: which target this folder is (name and a random id)."""


class TargetRootError(StorageError):
    """A target root that is missing or is not the initialised folder of this target."""


@dataclass(frozen=True)
class FilesystemTarget:
    """A target that is a folder: `root/school/year/class/bundle-id/…`.

    `identity` is the id `init_root` wrote into the root, as the home recorded it; when
    given, a root with another id is refused. Without it any root initialised for a
    target of this name is accepted.
    """

    name: str
    root: Path
    identity: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root).expanduser().absolute())

    @functools.cached_property
    def _real_root(self) -> str:
        """The root with symlinks resolved, once per target object (every file read checks against it)."""
        return os.path.realpath(self.root)

    @functools.cached_property
    def _plain_folders(self) -> set[str]:
        """Folders under the root already seen to be real folders, not symlinks (see path_inside)."""
        return set()

    # --- the root ---

    def root_identity(self) -> tuple[str, str] | None:
        """(name, id) from the root's identity file, or None when there is no readable one."""
        try:
            text = (self.root / IDENTITY_FILE).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None
        fields = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
        fields = {key.strip(): value.strip() for key, value in fields.items()}
        if not fields.get("name") or not fields.get("id"):
            return None
        return fields["name"], fields["id"]

    def check_root(self) -> None:
        """Refuse to write into a root that is missing or not this target's (TargetRootError, in Russian)."""
        hint = f"папку хранилища создаёт только команда journal-archive targets init {self.name}"
        if not self.root.is_dir():
            raise TargetRootError(
                f"{self.name}: нет папки хранилища {self.root} (диск не подключён?); {hint}"
            )
        found = self.root_identity()
        if found is None:
            raise TargetRootError(
                f"{self.name}: папка {self.root} не подготовлена как хранилище (нет файла {IDENTITY_FILE}); "
                f"{hint}"
            )
        name, identity = found
        if name != self.name or (self.identity is not None and identity != self.identity):
            raise TargetRootError(
                f"{self.name}: в папке {self.root} другое хранилище ({name}, метка {identity}"
                + (f", ожидалась {self.identity}" if self.identity else "")
                + "): подключён не тот диск?"
            )

    def init_root(self) -> str:
        """Create the root (with its parents) and its identity file; return the id. Idempotent:
        an initialised root keeps its id; a root initialised for another target is refused."""
        found = self.root_identity()
        if found is not None:
            if found[0] != self.name:
                raise TargetRootError(
                    f"{self.name}: папка {self.root} уже подготовлена для хранилища {found[0]}"
                )
            return found[1]
        identity = uuid.uuid4().hex
        try:
            private_dir(self.root)  # owner-only (A2): the bundles under it hold personal data
            temp = self.root / f"{IDENTITY_FILE}.tmp-{os.getpid()}"
            write_private(temp, f"# journal-archive storage target\nname = {self.name}\nid = {identity}\n")
            with temp.open("rb") as stream:
                os.fsync(stream.fileno())
            os.rename(temp, self.root / IDENTITY_FILE)
            _fsync_dir(self.root)
        except OSError as error:
            raise StorageError(f"{self.name}: не удалось подготовить папку {self.root}: {error}") from error
        return identity

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
        self.check_root()
        self.clean_incomplete()
        if final.exists():
            return self._existing(key, Path(source_dir), files)
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
        self.check_root()
        final = self._path(key)
        trash = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-", dir=self.root))
        final.chmod(PRIVATE_DIR_MODE)  # moving a folder to another parent rewrites its ".." entry
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

    def stat_files(self, key: str) -> dict[str, FileStat]:
        """One walk of the bundle's folder (os.scandir: the kind of each entry comes with the
        listing, one lstat per file for its size and mode); symlinks are skipped, as in iter_files."""
        bundle = self._path(key)
        if not bundle.is_dir():
            raise BundleNotFoundError(f"{self.name}: пакет {key} не найден")
        found: dict[str, FileStat] = {}
        _stat_tree(str(bundle), "", found)
        for relpath in found:
            try:
                check_relpath(relpath)
            except LayoutError as error:  # as stat() of that file would refuse it
                raise StorageError(f"{self.name}: {error}") from error
        return dict(sorted(found.items()))

    def open_file(self, key: str, relpath: str) -> BinaryIO:
        path = self._where(key, relpath)
        try:
            regular = stat.S_ISREG(os.lstat(path).st_mode)  # not a symlink, folder or special file
        except (FileNotFoundError, NotADirectoryError):
            regular = False
        if not regular:
            raise FileNotFoundError(f"{self.name}: нет файла {key}/{relpath}")
        try:  # O_NOFOLLOW: a file swapped for a symlink since the lstat is not followed
            return os.fdopen(os.open(path, os.O_RDONLY | os.O_NOFOLLOW), "rb")
        except OSError as error:
            if error.errno == errno.ELOOP:
                raise FileNotFoundError(f"{self.name}: нет файла {key}/{relpath}") from error
            raise

    def read_file(self, key: str, relpath: str) -> bytes:
        with self.open_file(key, relpath) as stream:
            return stream.read()

    def stat(self, key: str, relpath: str) -> FileStat:
        info = self._path(key, relpath).lstat()
        return FileStat(size=info.st_size, read_only=not info.st_mode & 0o222)

    def _path(self, key: str, relpath: str | None = None) -> Path:
        return Path(self._where(key, relpath))

    def _where(self, key: str, relpath: str | None = None) -> str:
        """The path of a bundle (or one of its files) as a string; StorageError if it may not be used."""
        try:
            check_key(key)
            pieces = (key,) if relpath is None else (key, relpath)
            return resolve_inside(
                self.root, *pieces, real_root=self._real_root, plain_folders=self._plain_folders
            )
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
        path.mkdir(mode=PRIVATE_DIR_MODE, exist_ok=True)
        path.chmod(PRIVATE_DIR_MODE)  # whatever the umask (A2)
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
    path.chmod(PRIVATE_DIR_MODE)
    for folder, dirs, _ in os.walk(path):
        for name in dirs:
            Path(folder, name).chmod(PRIVATE_DIR_MODE)
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


def _stat_tree(folder: str, prefix: str, found: dict[str, FileStat]) -> None:
    """The regular files under `folder` (not following symlinks) into `found`, as "prefix/name"."""
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                _stat_tree(entry.path, f"{prefix}{entry.name}/", found)
            elif entry.is_file(follow_symlinks=False):
                info = entry.stat(follow_symlinks=False)
                found[prefix + entry.name] = FileStat(size=info.st_size, read_only=not info.st_mode & 0o222)


def _collect_keys(folder: Path, parts: list[str], keys: list[str]) -> None:
    with os.scandir(folder) as listing:
        entries = sorted((entry for entry in listing), key=lambda entry: entry.name)
    for entry in entries:
        if entry.name.startswith(".") or not entry.is_dir(follow_symlinks=False):
            continue  # hidden, a symlink, or not a folder
        if len(parts) == 3:
            key = "/".join([*parts, entry.name])
            try:
                keys.append(check_key(key))
            except LayoutError:
                continue
        else:
            _collect_keys(Path(entry.path), [*parts, entry.name], keys)


def _add_file(final: Path, data: bytes, root: Path, opened: list[Path]) -> None:
    """One new file under `root` (the bundle folder); folders opened for writing go into `opened`."""
    for parent in [root, *sorted(p for p in final.parents if root in p.parents)]:
        if parent.is_dir() and parent not in opened:
            parent.chmod(PRIVATE_DIR_MODE)
            opened.append(parent)
    if not final.parent.is_dir():
        final.parent.mkdir(mode=PRIVATE_DIR_MODE)
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
