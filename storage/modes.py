"""Owner-only modes for everything journal-archive writes (152-ФЗ, A2).

Journals hold children's marks and names: personal data that only those entitled may
read. Nothing we write is readable by other OS accounts, whatever the umask: a stored
bundle's files are 0o400 and its folders 0o500 (no one may change them, its owner may
read them); what we keep changing — the catalog, the configuration, the seal key,
receipts, work folders — is 0o600 / 0o700. Who may read what is the README's
«Who may read what».
"""

from __future__ import annotations

import os
from pathlib import Path

SEALED_FILE_MODE = 0o400
"""A file of a stored bundle: nobody changes it, only the owner reads it."""
SEALED_DIR_MODE = 0o500
"""A folder of a stored bundle: nobody adds or removes a name, only the owner lists it."""
PRIVATE_FILE_MODE = 0o600
"""A file we keep changing (catalog, configuration, key, receipts, bags being built)."""
PRIVATE_DIR_MODE = 0o700
"""A folder we keep changing (home, target roots and their school/year/class folders, work)."""
PRIVATE_UMASK = 0o077
"""The process umask of the command line and the web page, for files other libraries create
(SQLite's journal, Prefect's database): group and others get nothing."""


def private_dir(path: Path, *, ours: bool = True) -> Path:
    """Create `path` owner-only (0o700); returns it. Parents it had to create are owner-only too;
    existing parents are left as they are (a mount point is the operator's). An existing `path` is
    made owner-only when it is `ours` (the home, its folders), left alone when the user named it
    (`retrieve --to ~/Desktop`: what we write into it is owner-only)."""
    path = Path(path)
    missing = [folder for folder in (path, *path.parents) if not folder.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=PRIVATE_DIR_MODE, exist_ok=True)
        folder.chmod(PRIVATE_DIR_MODE)
    if ours:
        path.chmod(PRIVATE_DIR_MODE)
    return path


def write_private(path: Path, data: bytes | str) -> Path:
    """Write a whole file readable and writable by its owner only (0o600), whatever the umask."""
    path = Path(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE_MODE)
    with os.fdopen(descriptor, "wb") as stream:
        os.fchmod(stream.fileno(), PRIVATE_FILE_MODE)  # an existing file keeps its mode through O_CREAT
        stream.write(raw)
    return path
