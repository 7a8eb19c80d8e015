"""Preparing storage targets: a folder target's root exists only once `targets init` made it (R8).

At run time a missing root, or a root whose identity file names another target, is an
error for that target (storage.filesystem.FilesystemTarget.check_root), never a reason to
create a folder: a disk that is not mounted must not be replaced by the local disk.
"""

from __future__ import annotations

import datetime as dt
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import RetirementRefused
from pipeline.settings import RETIRED_KEY, ConfigError, Settings, select_targets
from storage.catalog import forget_target, list_bundles, record_fixity_check
from storage.filesystem import FilesystemTarget
from storage.target import ReplicaStatus, StorageError
from storage.targets import init_folder_target

MIN_VERIFIED_REPLICAS = 2
"""R8: a target may be retired only while every live bundle keeps this many verified copies elsewhere."""


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


@dataclass(frozen=True)
class Retirement:
    name: str
    root: str  # where its files stay for the operator (a folder, or bucket/prefix)
    bundles: int  # live bundles, each with at least two verified replicas on the remaining targets
    remaining: tuple[str, ...]


def retire_target(settings: Settings, name: str, now: dt.datetime | None = None) -> Retirement:
    """Stop using target `name` (media migration, R8) once no live bundle depends on it.

    Every live bundle (not destroyed) is verified now on every other target — the weekly
    audit's check: checksums, seal and the catalog's anchor — and each check is recorded in
    the fixity history. A verdict recorded earlier is not trusted: the medium being kept
    may have failed since. If any bundle would keep fewer than two verified replicas,
    RetirementRefused names them and nothing changes. Otherwise the configuration gets
    `retired = true` in the target's [[targets]] entry (the configuration stays the one
    place saying which targets are used) and the catalog forgets its replica states;
    its files are left where they are for the operator.
    """
    from pipeline.verify import verifier_for

    (old,) = select_targets(settings, [name])
    sharing = [s.name for s in settings.schools if any(e.get("name") == name for e in s.target_entries)]
    if len(sharing) > 1:  # its bundles are several schools': checking one school's would not do
        raise ConfigError(
            f"Хранилище {name} общее для школ {', '.join(sharing)}: вывод общего хранилища из работы "
            "пока не поддерживается; перенесите копии (replicate --to НОВОЕ для каждой школы) и "
            f"допишите {RETIRED_KEY} = true в его раздел [[targets]] вручную"
        )
    remaining = [target for target in settings.targets() if target.name != name]
    if len(remaining) < MIN_VERIFIED_REPLICAS:
        raise ConfigError(
            f"Хранилище {name} нельзя вывести: останется меньше двух хранилищ (R8); "
            "сначала добавьте новое (targets init, replicate --to)"
        )
    now = now or dt.datetime.now(dt.UTC)
    short: list[str] = []
    with verifier_for(settings, deep=False) as verifier:
        db = verifier.db
        records = list_bundles(db) if db is not None else []  # no catalog: no bundle depends on it
        for record in records:
            assert db is not None
            good = []
            for target in remaining:
                report = verifier.stored(target, record)
                status = (
                    ReplicaStatus.VERIFIED
                    if report.valid
                    else (ReplicaStatus.MISSING if report.missing else ReplicaStatus.CORRUPT)
                )
                problems = tuple(f"{p.message} [{p.rule}]" for p in report.problems)
                record_fixity_check(
                    db, record.bundle_id, target.name, status, now, problems, f"проверка перед выводом {name}"
                )
                if report.valid:
                    good.append(target.name)
            if len(good) < MIN_VERIFIED_REPLICAS:
                where = ", ".join(good) if good else "нигде"
                short.append(f"{record.bundle_id} (проверенные копии: {where})")
        if short:
            raise RetirementRefused(
                f"Хранилище {name} нельзя вывести: меньше двух проверенных копий на других хранилищах "
                f"у пакетов {'; '.join(short)}. Сначала: journal-archive replicate --to НОВОЕ"
            )
        mark_retired(settings.config_path, name, now.date())
        if db is not None:
            forget_target(db, name)
    where = str(old.root) if isinstance(old, FilesystemTarget) else str(getattr(old, "where", old.name))
    return Retirement(name, where, len(records), tuple(t.name for t in remaining))


def mark_retired(config_path: Path, name: str, on: dt.date) -> None:
    """Add `retired = true` to target `name`'s [[targets]] section, keeping every other line and comment.

    The edit is checked by reading the configuration back; a layout it cannot edit safely
    (targets written as inline tables) is refused with what to add by hand."""
    lines = config_path.read_text(encoding="utf-8").splitlines(keepends=True)
    headers = [i for i, line in enumerate(lines) if line.strip() == "[[targets]]"]
    for start in headers:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")), len(lines))
        try:
            entry = tomllib.loads("".join(lines[start + 1 : end]))
        except tomllib.TOMLDecodeError:
            continue
        if entry.get("name") == name:
            note = f"# {on.isoformat()}: journal-archive targets retire — its files are left in place\n"
            lines[start + 1 : start + 1] = [note, f"{RETIRED_KEY} = true\n"]
            break
    else:
        raise ConfigError(
            f"{config_path}: не найден раздел [[targets]] хранилища {name}; "
            f"допишите в него {RETIRED_KEY} = true вручную"
        )
    text = "".join(lines)
    try:
        after = tomllib.loads(text).get("targets", [])
    except tomllib.TOMLDecodeError as error:
        after, reason = [], str(error)
    else:
        reason = "раздел не изменился"
    if not any(entry.get("name") == name and entry.get(RETIRED_KEY) is True for entry in after):
        raise ConfigError(
            f"{config_path}: не удалось отметить хранилище {name} ({reason}); "
            f"допишите в его раздел [[targets]] {RETIRED_KEY} = true вручную"
        )
    temp = config_path.with_name(f"{config_path.name}.tmp-{os.getpid()}")
    temp.write_text(text, encoding="utf-8")
    os.chmod(temp, config_path.stat().st_mode & 0o7777)  # as private as the configuration was
    os.replace(temp, config_path)
