"""Preparing storage targets: a folder target's root exists only once `targets init` made it (R8).

At run time a missing root, or a root whose identity file names another target, is an
error for that target (storage.filesystem.FilesystemTarget.check_root), never a reason to
create a folder: a disk that is not mounted must not be replaced by the local disk.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.settings import ConfigError, Settings, select_targets
from storage.filesystem import FilesystemTarget
from storage.target import StorageError
from storage.targets import init_folder_target


@dataclass(frozen=True)
class InitialisedTarget:
    name: str
    root: Path
    identity: str


def init_target(settings: Settings, name: str) -> InitialisedTarget:
    """Create the root of the folder target `name` with its identity file; record the id in the home."""
    (target,) = select_targets(settings, [name])
    if not isinstance(target, FilesystemTarget):
        raise ConfigError(
            f"Хранилище {name} — не папка: корзину S3 создаёт администратор хранилища, "
            "а journal-archive только проверяет её"
        )
    try:
        identity = init_folder_target(target, settings.home)
    except OSError as error:
        raise StorageError(
            f"{name}: не удалось записать метку хранилища в {settings.home}: {error}"
        ) from error
    return InitialisedTarget(target.name, target.root, identity)


def init_home_targets(settings: Settings) -> list[InitialisedTarget]:
    """Initialise the folder targets that lie inside the home and have no root yet (the demo's two folders).

    A target outside the home (another disk, a network share) is never created here: only
    `targets init NAME` does that, on purpose, once the medium is really there.
    """
    made = []
    for target in settings.targets():
        if not isinstance(target, FilesystemTarget) or settings.home not in target.root.parents:
            continue
        if target.root_identity() is None:
            made.append(init_target(settings, target.name))
    return made
