"""The home's `work/` folder: where bundles are built before they are stored, and what runs leave there.

Every folder a run makes in `work/` is named `<what>.pid<PID>-<random>` (storage.layout.work_prefix):
a run killed half-way (power cut, SIGKILL) leaves its build folder behind — up to a whole bag —
and the next run removes every such folder whose process is gone. A folder of a run that is
still going (another class, another command) is never touched. Nothing in `work/` is ever the
only copy of anything: a bundle counts as archived only once it is on a target.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from storage.layout import WORK_PID_MARK
from storage.modes import PRIVATE_DIR_MODE


def clean_stale_work(work_dir: Path) -> list[str]:
    """Remove build folders in `work_dir` left by processes that no longer run; return their names."""
    if not work_dir.is_dir():
        return []
    removed = []
    for entry in sorted(work_dir.iterdir()):
        if _owner_alive(entry.name):
            continue
        _remove(entry)
        removed.append(entry.name)
    return removed


def _owner_alive(name: str) -> bool:
    """Whether the process that named `name` (`….pid<PID>-…`) still runs; a name without one has no owner."""
    head, mark, tail = name.rpartition(WORK_PID_MARK)
    if not mark or not head:
        return False
    digits = tail.split("-", 1)[0]
    if not digits.isdigit():
        return False
    try:
        os.kill(int(digits), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def _remove(path: Path) -> None:
    """Remove a file or a folder tree, including read-only parts (sealed 0o500 folders, 0o400 files)."""
    if path.is_symlink() or not path.is_dir():
        path.unlink(missing_ok=True)
        return
    path.chmod(PRIVATE_DIR_MODE)
    for folder, dirs, _ in os.walk(path):
        for name in dirs:
            Path(folder, name).chmod(PRIVATE_DIR_MODE)
    shutil.rmtree(path, ignore_errors=True)
