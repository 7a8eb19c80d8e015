"""Building the configured storage targets (R8): the one place that knows every kind of target.

The interface, its errors and states are in storage.target; the folder target in
storage.filesystem, the S3 Object Lock target in storage.s3. Both import only
storage.target, and only this module imports them, so there is no import cycle.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from storage.filesystem import FilesystemTarget
from storage.layout import DEFAULT_TARGETS, TARGET_IDS_FILE
from storage.modes import write_private
from storage.s3 import S3Target, s3_target_from_config
from storage.target import StorageError, Target


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
    identities = recorded_identities(base)
    targets: list[Target] = []
    for number, entry in enumerate(entries, start=1):
        name, kind = entry.get("name"), entry.get("type", "filesystem")
        if kind == "s3":
            targets.append(s3_target_from_config(entry, number))
            continue
        path = entry.get("path")
        if not isinstance(name, str) or not name or not isinstance(path, str) or not path:
            raise StorageError(f"Хранилище № {number} в настройках: нужны name и path")
        if kind != "filesystem":
            raise StorageError(f"Хранилище {name}: тип «{kind}» не поддерживается (есть: filesystem, s3)")
        root = (base / Path(path).expanduser()).resolve()
        targets.append(FilesystemTarget(name, root, identities.get(name)))
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


def recorded_identities(base: Path) -> dict[str, str]:
    """The ids the home recorded when its folder targets were initialised (name → id); {} if none."""
    try:
        data = json.loads((base / TARGET_IDS_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        raise StorageError(f"Не читается {base / TARGET_IDS_FILE}: {error}") from error
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise StorageError(f"{base / TARGET_IDS_FILE}: ожидалось «имя хранилища → метка»")
    return data


def init_folder_target(target: FilesystemTarget, base: Path) -> str:
    """Create a folder target's root with its identity file and record the id in the home (`base`)."""
    identity = target.init_root()
    identities = recorded_identities(base)
    if identities.get(target.name) != identity:
        identities[target.name] = identity
        path = base / TARGET_IDS_FILE
        temp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
        write_private(temp, json.dumps(identities, ensure_ascii=False, indent=2) + "\n")
        os.replace(temp, path)
    return identity
