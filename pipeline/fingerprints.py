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

It is only a cache, a file in the home (FINGERPRINTS_FILE): one entry per class and period (the
latest snapshot's), hashes only, no personal data; deleting it costs one slower re-run; if it
cannot be read or written, the XML is written instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from journal.model import ClassJournal
from storage.modes import write_private

LOG = logging.getLogger(__name__)

FINGERPRINTS_FILE = "fingerprints.sqlite"
"""The cache's file in the home (Settings.fingerprints_path)."""


@cache
def _writer_digest() -> bytes:
    """What journal.xml's bytes depend on besides the snapshot: the code and library that write it.
    (Imported here: pipeline.settings imports this module at every command's start.)"""
    from lxml import etree

    import documents.xml_format
    import journal.model

    digest = hashlib.sha256()
    for module in (documents.xml_format, journal.model):
        digest.update(Path(str(module.__file__)).read_bytes())
    digest.update(repr((etree.LXML_VERSION, etree.LIBXML_VERSION)).encode())
    return digest.digest()


@dataclass(frozen=True, slots=True)
class SnapshotKey:
    """Where a snapshot's fingerprint is remembered (`span`: one row per class and period, so the
    cache keeps one entry per span however often the data changes) and what it must match
    (`digest`: of the snapshot and of the code that writes its journal.xml)."""

    span: str
    digest: str


def snapshot_key(journal: ClassJournal) -> SnapshotKey:
    """The snapshot's key; its digest alone decides whether a remembered fingerprint is its own."""
    digest = hashlib.sha256(_writer_digest())
    digest.update(repr(journal).encode("utf-8", "surrogatepass"))
    period = journal.period.code if journal.period else ""
    school, year, class_name = journal.school, journal.year.name, journal.school_class.name
    span = "|".join((str(school.id), school.name, year, class_name, period))
    return SnapshotKey(span, digest.hexdigest())


@contextlib.contextmanager
def _cache(path: Path) -> Iterator[sqlite3.Connection]:
    if not path.exists():
        write_private(path, b"")  # owner-only like everything in the home (A2), whatever the umask
    db = sqlite3.connect(path, timeout=10)  # the pool's processes write side by side
    try:
        with db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS span_fingerprints "
                "(span TEXT PRIMARY KEY, snapshot TEXT NOT NULL, fingerprint TEXT NOT NULL)"
            )
        yield db
    finally:
        db.close()


def remembered_fingerprint(path: Path, key: SnapshotKey) -> str | None:
    """The source fingerprint remembered for the snapshot of `key`, if its span's entry is of it."""
    if not path.exists():
        return None
    try:
        with _cache(path) as db:
            query = "SELECT fingerprint FROM span_fingerprints WHERE span = ? AND snapshot = ?"
            row = db.execute(query, (key.span, key.digest)).fetchone()
    except sqlite3.Error as error:  # unreadable: the caller writes the XML instead
        LOG.warning("fingerprint cache %s not read: %s", path, error)
        return None
    return row[0] if row else None


def remember_fingerprint(path: Path, key: SnapshotKey, fingerprint: str) -> None:
    """Remember the source fingerprint of the snapshot of `key` (in place of its span's earlier one);
    a cache that cannot be written is left as it is."""
    try:
        with _cache(path) as db, db:
            db.execute(
                "INSERT OR REPLACE INTO span_fingerprints VALUES (?, ?, ?)",
                (key.span, key.digest, fingerprint),
            )
    except (sqlite3.Error, OSError) as error:
        LOG.warning("fingerprint cache %s not written: %s", path, error)
