"""Source fingerprints remembered per snapshot, so that a re-run need not write journal.xml to know
that a class has not changed (issue 13, R9).

A bundle's source fingerprint is the SHA-256 of its journal.xml (pipeline.archive.fingerprint),
which carries every field of the snapshot. Writing journal.xml is over half of checking an
unchanged class (~135 ms of ~250 ms for a senior class's year, the rest is reading the journal),
so each snapshot's fingerprint is remembered here under a digest of the snapshot itself — its
`repr`, which shows every field of every record (~18 ms) — and of what writes the XML
(documents/xml_format.py, journal/model.py, lxml and libxml2's versions): equal digests give
equal journal.xml. A new release of either module is a new key, so its first run writes the XML
again, exactly as before.

It is only a cache, a file in the home (FINGERPRINTS_FILE): holding hashes, no personal data;
deleting it costs one slower re-run; if it cannot be read or written, the XML is written instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import sqlite3
from collections.abc import Iterator
from functools import cache
from pathlib import Path

from journal.model import ClassJournal
from storage.modes import write_private

LOG = logging.getLogger(__name__)

FINGERPRINTS_FILE = "fingerprints.sqlite"
"""The cache's file in the home (Settings.fingerprints_path)."""


@cache
def _writer_digest() -> bytes:
    """What journal.xml's bytes depend on besides the snapshot: the code and library that write it."""
    from lxml import etree

    import documents.xml_format
    import journal.model

    digest = hashlib.sha256()
    for module in (documents.xml_format, journal.model):
        digest.update(Path(str(module.__file__)).read_bytes())
    digest.update(repr((etree.LXML_VERSION, etree.LIBXML_VERSION)).encode())
    return digest.digest()


def snapshot_digest(journal: ClassJournal) -> str:
    """A digest of the snapshot and of the code that writes its journal.xml."""
    digest = hashlib.sha256(_writer_digest())
    digest.update(repr(journal).encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


@contextlib.contextmanager
def _cache(path: Path) -> Iterator[sqlite3.Connection]:
    if not path.exists():
        write_private(path, b"")  # owner-only like everything in the home (A2), whatever the umask
    db = sqlite3.connect(path, timeout=10)  # the pool's processes write side by side
    try:
        with db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS fingerprints (snapshot TEXT PRIMARY KEY, fingerprint TEXT)"
            )
        yield db
    finally:
        db.close()


def remembered_fingerprint(path: Path, snapshot: str) -> str | None:
    """The source fingerprint remembered for `snapshot` (a snapshot_digest), if any."""
    if not path.exists():
        return None
    try:
        with _cache(path) as db:
            query = "SELECT fingerprint FROM fingerprints WHERE snapshot = ?"
            row = db.execute(query, (snapshot,)).fetchone()
    except sqlite3.Error as error:  # unreadable: the caller writes the XML instead
        LOG.warning("fingerprint cache %s not read: %s", path, error)
        return None
    return row[0] if row else None


def remember_fingerprint(path: Path, snapshot: str, fingerprint: str) -> None:
    """Remember the source fingerprint of `snapshot`; a cache that cannot be written is left as it is."""
    try:
        with _cache(path) as db, db:
            db.execute("INSERT OR REPLACE INTO fingerprints VALUES (?, ?)", (snapshot, fingerprint))
    except (sqlite3.Error, OSError) as error:
        LOG.warning("fingerprint cache %s not written: %s", path, error)
