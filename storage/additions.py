"""Adding new files to a stored bundle, never changing one: how evidence is renewed (R7, R9).

A stored bundle is immutable, but its evidence must grow (a new archive timestamp before the
last expires). Only *new* names are written: a folder target gets each file under a hidden
name, fsynced, linked into place (a link never replaces an existing file) and made read-only
(its folders, read-only too, are opened for writing only while the files are added);
an S3 target gets new objects, each locked in COMPLIANCE mode until the bundle's Retain-Until,
with a server-checked SHA-256. An existing name is refused, so nothing archived is rewritten.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from storage.targets import DIR_MODE, FILE_MODE, StorageError, Target, declared_retain_until


def add_files(target: Target, key: str, files: Mapping[str, bytes]) -> None:
    """Write `files` ({bundle-relative path: bytes}) into the stored bundle `key` as new files."""
    existing = set(target.iter_files(key))
    taken = sorted(set(files) & existing)
    if taken:
        raise StorageError(f"{target.name}: {key}/{taken[0]} уже есть; записанные файлы не перезаписываются")
    put_small: Any = getattr(target, "_put_small", None)
    if put_small is not None:  # S3 Object Lock
        from storage.s3 import lock_until

        until = lock_until(declared_retain_until(target, key, f"{target.name}:{key}"))
        for relpath, data in files.items():
            put_small(key, relpath, data, until)
            if target.read_file(key, relpath) != data:
                raise StorageError(f"{target.name}: {key}/{relpath} записан с ошибкой")
        return
    folder = getattr(target, "_path", None)
    if folder is None:
        raise StorageError(f"{target.name}: хранилище не умеет добавлять файлы к пакету")
    opened: list[Path] = []
    try:
        for relpath, data in files.items():
            _add_file(folder(key, relpath), data, folder(key), opened)
    except OSError as error:
        raise StorageError(f"{target.name}: не удалось добавить файлы к {key}: {error}") from error
    finally:
        for path in reversed(opened):
            path.chmod(DIR_MODE)


def _add_file(final: Path, data: bytes, root: Path, opened: list[Path]) -> None:
    """One new file under `root` (the bundle folder); folders opened for writing go into `opened`."""
    for parent in [root, *sorted(p for p in final.parents if root in p.parents)]:
        if parent.is_dir() and parent not in opened:
            parent.chmod(0o755)
            opened.append(parent)
    if not final.parent.is_dir():
        final.parent.mkdir()
        opened.append(final.parent)
    partial = final.with_name(f".{final.name}.part")
    with partial.open("xb") as stream:
        stream.write(data)
        stream.flush()
        os.fsync(stream.fileno())
    partial.chmod(FILE_MODE)
    try:
        os.link(partial, final)  # never replaces: fails if the name exists
    finally:
        partial.unlink()
    directory = os.open(final.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    if final.read_bytes() != data:
        raise OSError(f"{final.name} записан с ошибкой")
