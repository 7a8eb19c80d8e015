"""The catalog: a small SQLite index of bundles, where they are kept, and what changed.

The catalog is a convenience, never the record: everything in it except replica
check times is read from the bundles themselves (bag-info.txt, CHANGES.txt), so
`rebuild_catalog` can recreate it from the storage targets alone. Recording a
bundle and rebuilding go through the same `read_bundle_record`, so they agree.

Two things are the catalog's own and come from no bundle: the fixity history
(every audit of every replica, R7) and each bundle's anchor, the SHA-256 of its
tagmanifest-sha256.txt recorded when it was archived (`record_anchor`). The anchor
is what a bag rewritten consistently cannot match; after a rebuild it is taken from
the first verified replica, which is weaker, and its `origin` says so.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import BinaryIO

from storage.bagformat import (
    BAG_INFO_FILE,
    CHANGES_FILE,
    SEAL_FILE,
    BagFormatError,
    Label,
    digests_of,
    parse_bag_info,
    tagmanifest_name,
)
from storage.database import Database, connect, is_postgresql_url
from storage.layout import LayoutError, key_parts
from storage.retention import BundleKind
from storage.target import ReplicaStatus, StorageError, Target, verify_stored_bundle


class CatalogError(Exception):
    """A catalog operation refused or impossible; the message names the bundle."""


SCHEMA = """
CREATE TABLE IF NOT EXISTS bundles (
    school             TEXT NOT NULL,      -- the school's folder name in keys
    bundle_id          TEXT NOT NULL,      -- External-Identifier, e.g. 2024-2025-5a-q1-v2: unique per school
    key                TEXT NOT NULL UNIQUE, -- school/year/class/bundle-id on every target
    school_name        TEXT NOT NULL,      -- Source-Organization
    year               TEXT NOT NULL,      -- Academic-Year, 2024/2025
    class_name         TEXT NOT NULL,      -- School-Class, 5А
    span               TEXT NOT NULL,      -- Period-Code: Q1…Q4, T1…T3, H1, H2 or the year's code
    span_name          TEXT NOT NULL,      -- Period: I четверть
    kind               TEXT NOT NULL,      -- Bundle-Kind: period, year, summary
    version            INTEGER NOT NULL,   -- Bundle-Version, from 1
    supersedes         TEXT,               -- Supersedes: the bundle id (same school) this version replaces
    retention_class    TEXT NOT NULL,      -- Retention-Class
    retain_until       TEXT NOT NULL,      -- Retain-Until, YYYY-MM-DD
    source_fingerprint TEXT NOT NULL,      -- Source-Fingerprint
    created            TEXT NOT NULL,      -- Bagging-Date, YYYY-MM-DD: the day the bundle was made
    sealed             TEXT,               -- date of the seal; NULL until sealing exists
    superseded_by      TEXT,               -- the newer version, derived from its Supersedes
    PRIMARY KEY (school, bundle_id),
    UNIQUE (school, year, class_name, span, kind, version)
);
CREATE TABLE IF NOT EXISTS replicas (
    school     TEXT NOT NULL,
    bundle_id  TEXT NOT NULL,
    target     TEXT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('stored', 'verified', 'missing', 'corrupt')),
    checked_at TEXT,                       -- UTC, ISO 8601; NULL if never read back
    detail     TEXT NOT NULL DEFAULT '',   -- the problems found, one per line
    PRIMARY KEY (school, bundle_id, target),
    FOREIGN KEY (school, bundle_id) REFERENCES bundles (school, bundle_id)
);
CREATE TABLE IF NOT EXISTS changes (
    school     TEXT NOT NULL,
    bundle_id  TEXT NOT NULL,
    supersedes TEXT NOT NULL,
    summary    TEXT NOT NULL,              -- bag-info Changes
    text       TEXT NOT NULL,              -- CHANGES.txt
    PRIMARY KEY (school, bundle_id),
    FOREIGN KEY (school, bundle_id) REFERENCES bundles (school, bundle_id)
);
CREATE TABLE IF NOT EXISTS fixity_checks ( -- every check of every replica, kept for the whole retention (R7)
    school     TEXT NOT NULL,
    bundle_id  TEXT NOT NULL,
    target     TEXT NOT NULL,
    checked_at TEXT NOT NULL,              -- UTC, ISO 8601
    status     TEXT NOT NULL,              -- verified, missing, corrupt
    detail     TEXT NOT NULL DEFAULT '',   -- the problems found, one per line
    action     TEXT NOT NULL DEFAULT ''    -- what was done about it, e.g. the repair
);
CREATE INDEX IF NOT EXISTS fixity_checks_bundle ON fixity_checks (school, bundle_id, checked_at);
CREATE TABLE IF NOT EXISTS destructions ( -- tombstones: bundles destroyed by an approved act
    school      TEXT NOT NULL,
    bundle_id   TEXT NOT NULL,
    act_id      TEXT NOT NULL,             -- the act's bundle id, e.g. act-1-v1
    act_number  TEXT NOT NULL,             -- № of the act
    act_date    TEXT NOT NULL,             -- YYYY-MM-DD, the act's date
    approved_by TEXT NOT NULL,             -- «ФИО, должность» of who approved it
    approved_on TEXT NOT NULL,             -- YYYY-MM-DD
    PRIMARY KEY (school, bundle_id),
    FOREIGN KEY (school, bundle_id) REFERENCES bundles (school, bundle_id)
);
CREATE TABLE IF NOT EXISTS destroyed_replicas (
    school       TEXT NOT NULL,
    bundle_id    TEXT NOT NULL,
    target       TEXT NOT NULL,
    destroyed_at TEXT,                     -- UTC, ISO 8601; NULL when restored from the act by a rebuild
    PRIMARY KEY (school, bundle_id, target),
    FOREIGN KEY (school, bundle_id) REFERENCES destructions (school, bundle_id)
);
CREATE TABLE IF NOT EXISTS anchors (       -- what the bag alone cannot forge (R7): see record_anchor
    school      TEXT NOT NULL,
    bundle_id   TEXT NOT NULL,
    file        TEXT NOT NULL,             -- the tag file digested: tagmanifest-sha256.txt
    sha256      TEXT NOT NULL,             -- its SHA-256, lower-case hex
    recorded_at TEXT NOT NULL,             -- UTC, ISO 8601
    origin      TEXT NOT NULL,             -- Russian: where the digest came from (archive run, or a replica)
    PRIMARY KEY (school, bundle_id),
    FOREIGN KEY (school, bundle_id) REFERENCES bundles (school, bundle_id)
);
"""

KEYED_TABLES = (
    "bundles",
    "replicas",
    "changes",
    "fixity_checks",
    "destructions",
    "destroyed_replicas",
    "anchors",
)
"""The catalog's tables keyed by (school, bundle id); a catalog from before schools has no `school` in
replicas and the rest, and is migrated when opened (migrate_catalog)."""


@dataclass(frozen=True, slots=True)
class BundleRecord:
    bundle_id: str
    key: str
    school: str
    school_name: str
    year: str
    class_name: str
    span: str
    span_name: str
    kind: str
    version: int
    supersedes: str | None
    retention_class: str
    retain_until: str
    source_fingerprint: str
    created: str
    sealed: str | None = None
    superseded_by: str | None = None
    changes_summary: str = ""  # kept in the changes table
    changes_text: str = ""


_BUNDLE_COLUMNS = tuple(f.name for f in fields(BundleRecord))[:-2]


@dataclass(frozen=True, slots=True)
class ReplicaRecord:
    bundle_id: str
    target: str
    status: ReplicaStatus
    checked_at: str | None
    detail: str


def open_catalog(location: str | Path, school: str | None = None) -> Database:
    """Open (creating if needed) the catalog: a `postgresql://` URL, else the SQLite file at `location`.

    `school` (a school's folder in keys) scopes the connection: the functions below then see
    and write only that school's bundles, so one bundle id can exist at two schools."""
    db = connect(location, school)
    try:
        migrate_catalog(db)
        db.executescript(SCHEMA)
    except BaseException:
        db.close()
        raise
    return db


def migrate_catalog(db: Database) -> None:
    """Key a catalog from before schools by (school, bundle id): each row takes its bundle's school.

    Only SQLite catalogs predate schools. The old tables are copied into the new ones in one
    transaction (one script), so a failed migration leaves the catalog as it was."""
    columns = db.columns("replicas")
    if db.is_postgresql or not columns or "school" in columns:
        return
    old = {table: db.columns(table) for table in KEYED_TABLES}
    script = ["PRAGMA foreign_keys = OFF", "BEGIN"]
    script += [f'ALTER TABLE "{table}" RENAME TO "old_{table}"' for table, names in old.items() if names]
    script += ["DROP INDEX IF EXISTS fixity_checks_bundle", SCHEMA.strip().rstrip(";")]
    for table, names in old.items():
        if not names:
            continue
        school = (
            "o.school"
            if table == "bundles"
            else ("COALESCE((SELECT b.school FROM old_bundles b WHERE b.bundle_id = o.bundle_id), '')")
        )
        listed = [name for name in names if name != "school"]
        script.append(
            f"INSERT INTO {table} (school, {', '.join(listed)})"
            f" SELECT {school}, {', '.join('o.' + name for name in listed)} FROM old_{table} o"
        )
    script += [f'DROP TABLE "old_{table}"' for table, names in reversed(old.items()) if names]
    script += ["COMMIT", "PRAGMA foreign_keys = ON"]
    try:
        db.executescript(";\n".join(script) + ";")
    except sqlite3.DatabaseError as error:
        db.connection.rollback()
        db.execute("PRAGMA foreign_keys = ON")
        raise CatalogError(f"Каталог не переведён на ключи по школам: {error}") from error


def school_of(db: Database, bundle_id: str) -> str | None:
    """The school whose bundle `bundle_id` is: the connection's school, else the one school that has
    such a bundle (None if none has); CatalogError when several schools have one and none was chosen."""
    if db.school is not None:
        return db.school
    rows = db.execute(
        "SELECT school FROM bundles WHERE bundle_id = ? ORDER BY school", (bundle_id,)
    ).fetchall()
    if len(rows) > 1:
        raise CatalogError(
            f"Пакет {bundle_id} есть у нескольких школ ({', '.join(r[0] for r in rows)}): "
            "укажите школу (--school)"
        )
    return rows[0][0] if rows else None


# --- reading a record out of a bundle ---------------------------------------------


def bundle_record(
    key: str, info: Mapping[str, str], changes_text: str = "", *, sealed: bool = False
) -> BundleRecord:
    """The catalog record of the bundle at `key`, from its bag-info.txt fields and CHANGES.txt."""
    try:
        school, _, _, bundle = key_parts(key)
        record = BundleRecord(
            bundle_id=info[Label.EXTERNAL_IDENTIFIER],
            key=key,
            school=school,
            school_name=info[Label.SOURCE_ORGANIZATION],
            year=info[Label.ACADEMIC_YEAR],
            class_name=info[Label.SCHOOL_CLASS],
            span=info[Label.PERIOD_CODE],
            span_name=info[Label.PERIOD],
            kind=info[Label.BUNDLE_KIND],
            version=int(info[Label.BUNDLE_VERSION]),
            supersedes=info.get(Label.SUPERSEDES) or None,
            retention_class=info[Label.RETENTION_CLASS],
            retain_until=dt.date.fromisoformat(info[Label.RETAIN_UNTIL]).isoformat(),
            source_fingerprint=info[Label.SOURCE_FINGERPRINT],
            created=dt.date.fromisoformat(info[Label.BAGGING_DATE]).isoformat(),
            changes_summary=info.get(Label.CHANGES, ""),
            changes_text=changes_text,
            sealed=dt.date.fromisoformat(info[Label.BAGGING_DATE]).isoformat() if sealed else None,
        )
    except KeyError as error:
        raise CatalogError(f"Пакет {key}: в {BAG_INFO_FILE} нет метки {error.args[0]}") from error
    except (ValueError, LayoutError) as error:
        raise CatalogError(f"Пакет {key}: {error}") from error
    if record.bundle_id != bundle:
        raise CatalogError(f"Пакет {key}: в {BAG_INFO_FILE} указан другой идентификатор {record.bundle_id}")
    return record


def read_bundle_record(target: Target, key: str) -> BundleRecord:
    """The catalog record of a stored bundle, read from the target alone."""
    try:
        info = parse_bag_info(target.read_file(key, BAG_INFO_FILE))
        files = set(target.iter_files(key))
        changes = target.read_file(key, CHANGES_FILE).decode("utf-8") if CHANGES_FILE in files else ""
    except (OSError, StorageError, BagFormatError, UnicodeDecodeError) as error:
        raise CatalogError(f"{target.name}: пакет {key} не читается: {error}") from error
    return bundle_record(key, info, changes, sealed=SEAL_FILE in files)


# --- writing ---------------------------------------------------------------------


def record_bundle(db: Database, record: BundleRecord) -> None:
    """Add a bundle; recording the same record again is a no-op, a different one is refused.

    A bundle that supersedes another marks that one as superseded.
    """
    if db.school is not None and record.school != db.school:
        raise CatalogError(f"Пакет {record.key} другой школы, чем {db.school}")
    db = db.for_school(record.school)
    with db:
        existing = find_bundle(db, record.bundle_id)
        if existing is not None:
            if _comparable(existing) != _comparable(record):
                raise CatalogError(f"Пакет {record.bundle_id} уже есть в каталоге с другими данными")
        else:
            placeholders = ", ".join("?" for _ in _BUNDLE_COLUMNS)
            db.execute(
                f"INSERT INTO bundles ({', '.join(_BUNDLE_COLUMNS)}) VALUES ({placeholders})",
                astuple(record)[: len(_BUNDLE_COLUMNS)],
            )
            if record.supersedes:
                db.execute(
                    "INSERT INTO changes (school, bundle_id, supersedes, summary, text)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (
                        record.school,
                        record.bundle_id,
                        record.supersedes,
                        record.changes_summary,
                        record.changes_text,
                    ),
                )
        if record.supersedes and find_bundle(db, record.supersedes) is not None:
            _mark_superseded(db, record.school, record.supersedes, record.bundle_id)
        newer = db.execute(
            "SELECT bundle_id FROM bundles WHERE school = ? AND supersedes = ?",
            (record.school, record.bundle_id),
        ).fetchone()
        if newer:
            _mark_superseded(db, record.school, record.bundle_id, newer[0])


def mark_superseded(db: Database, bundle_id: str, superseded_by: str) -> None:
    """Record that `superseded_by` replaces `bundle_id` (R9: the old one stays, marked)."""
    with db:
        _mark_superseded(db, _known_school(db, bundle_id), bundle_id, superseded_by)


def _mark_superseded(db: Database, school: str, bundle_id: str, superseded_by: str) -> None:
    row = db.execute(
        "SELECT superseded_by FROM bundles WHERE school = ? AND bundle_id = ?", (school, bundle_id)
    ).fetchone()
    if row is None:
        raise CatalogError(f"Пакета {bundle_id} нет в каталоге")
    if row[0] not in (None, superseded_by):
        raise CatalogError(f"Пакет {bundle_id} уже заменён версией {row[0]}, а не {superseded_by}")
    db.execute(
        "UPDATE bundles SET superseded_by = ? WHERE school = ? AND bundle_id = ?",
        (superseded_by, school, bundle_id),
    )


def _known_school(db: Database, bundle_id: str, hint: str = "") -> str:
    """school_of a bundle the catalog must have; CatalogError naming it otherwise."""
    school = school_of(db, bundle_id)
    if school is None or find_bundle(db.for_school(school), bundle_id) is None:
        raise CatalogError(f"Пакета {bundle_id} нет в каталоге{hint}")
    return school


def record_replica(
    db: Database,
    bundle_id: str,
    target: str,
    status: ReplicaStatus | str,
    checked_at: dt.datetime | None = None,
    detail: Sequence[str] = (),
) -> None:
    """Record where a bundle is kept and how it was last found; replaces the previous entry."""
    when = checked_at.astimezone(dt.UTC).isoformat(timespec="seconds") if checked_at else None
    with db:
        school = _known_school(db, bundle_id, ": сначала record_bundle")
        db.execute(
            "INSERT INTO replicas (school, bundle_id, target, status, checked_at, detail)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (school, bundle_id, target) DO UPDATE SET"
            " status = excluded.status, checked_at = excluded.checked_at, detail = excluded.detail",
            (school, bundle_id, target, ReplicaStatus(status).value, when, "\n".join(detail)),
        )


def forget_target(db: Database, target: str) -> int:
    """Drop the replica states of a target no longer used (`targets retire`); its fixity history stays."""
    with db:
        if db.school is not None:
            return db.execute(
                "DELETE FROM replicas WHERE school = ? AND target = ?", (db.school, target)
            ).rowcount
        return db.execute("DELETE FROM replicas WHERE target = ?", (target,)).rowcount


# --- queries ---------------------------------------------------------------------


def latest_version(
    db: Database, year: str, class_name: str, span: str, kind: str, school: str | None = None
) -> BundleRecord | None:
    """The newest version of a class's bundle for a span, or None if it was never archived."""
    found = list_bundles(
        db, school=school, year=year, class_name=class_name, span=span, kind=kind, include_destroyed=True
    )  # a destroyed version's number is never given again
    return max(found, key=lambda record: record.version, default=None)


def list_bundles(
    db: Database,
    *,
    school: str | None = None,
    year: str | None = None,
    class_name: str | None = None,
    span: str | None = None,
    kind: str | None = None,
    current_only: bool = False,
    include_destroyed: bool = False,
) -> list[BundleRecord]:
    """Bundles matching every given filter, by key; `current_only` leaves out superseded ones.

    A bundle destroyed by an act (a tombstone, `record_destruction`) is left out unless
    `include_destroyed`: nothing is kept of it any more, so nothing may report it missing."""
    filters = {
        "school": school or db.school,
        "year": year,
        "class_name": class_name,
        "span": span,
        "kind": kind,
    }
    where = [f"b.{column} = ?" for column, value in filters.items() if value is not None]
    if current_only:
        where.append("b.superseded_by IS NULL")
    if not include_destroyed:
        where.append(
            "NOT EXISTS (SELECT 1 FROM destructions d"
            " WHERE d.school = b.school AND d.bundle_id = b.bundle_id)"
        )
    return _select(db, where, [value for value in filters.values() if value is not None])


def _select(db: Database, where: list[str], params: list[object]) -> list[BundleRecord]:
    sql = (
        f"SELECT {', '.join('b.' + c for c in _BUNDLE_COLUMNS)}, "
        "COALESCE(c.summary, ''), COALESCE(c.text, '') "
        "FROM bundles b LEFT JOIN changes c ON c.school = b.school AND c.bundle_id = b.bundle_id"
        + (" WHERE " + " AND ".join(where) if where else "")
        + " ORDER BY b.key"
    )
    return [BundleRecord(*row) for row in db.execute(sql, params)]


def replicas_of(db: Database, bundle_id: str) -> list[ReplicaRecord]:
    rows = db.execute(
        "SELECT bundle_id, target, status, checked_at, detail FROM replicas"
        " WHERE school = ? AND bundle_id = ? ORDER BY target",
        (school_of(db, bundle_id), bundle_id),
    )
    return [ReplicaRecord(b, t, ReplicaStatus(s), c, d) for b, t, s, c, d in rows]


@dataclass(frozen=True, slots=True)
class FixityCheck:
    bundle_id: str
    target: str
    checked_at: str
    status: ReplicaStatus
    detail: str
    action: str


def record_fixity_check(
    db: Database,
    bundle_id: str,
    target: str,
    status: ReplicaStatus | str,
    checked_at: dt.datetime,
    problems: Sequence[str] = (),
    action: str = "",
) -> None:
    """Append one audit result to the bundle's fixity history and update its replica's state."""
    when = checked_at.astimezone(dt.UTC).isoformat(timespec="seconds")
    with db:
        db.execute(
            "INSERT INTO fixity_checks (school, bundle_id, target, checked_at, status, detail, action)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                _known_school(db, bundle_id),
                bundle_id,
                target,
                when,
                ReplicaStatus(status).value,
                "\n".join(problems),
                action,
            ),
        )
    record_replica(db, bundle_id, target, status, checked_at, problems)


def fixity_history(db: Database, bundle_id: str) -> list[FixityCheck]:
    rows = db.execute(
        "SELECT bundle_id, target, checked_at, status, detail, action FROM fixity_checks"
        " WHERE school = ? AND bundle_id = ? ORDER BY checked_at, rowid",
        (school_of(db, bundle_id), bundle_id),
    )
    return [FixityCheck(b, t, c, ReplicaStatus(s), d, a) for b, t, c, s, d, a in rows]


# --- tombstones: what an approved act destroyed -----------------------------------------


@dataclass(frozen=True, slots=True)
class Destruction:
    """A bundle destroyed by an approved act: which act, and on which targets when."""

    bundle_id: str
    act_id: str
    act_number: str
    act_date: str
    approved_by: str
    approved_on: str
    targets: tuple[tuple[str, str | None], ...]  # (target, UTC time or None if restored by a rebuild)


def record_destruction(
    db: Database,
    bundle_id: str,
    act: Mapping[str, str],
    target: str,
    destroyed_at: dt.datetime | None,
) -> None:
    """Record that `target` no longer holds `bundle_id`, destroyed by `act` (act_id, act_number,
    act_date, approved_by, approved_on); the first such record makes the bundle a tombstone."""
    when = destroyed_at.astimezone(dt.UTC).isoformat(timespec="seconds") if destroyed_at else None
    with db:
        school = _known_school(db, bundle_id)
        db.execute(
            "INSERT INTO destructions (school, bundle_id, act_id, act_number, act_date, approved_by,"
            " approved_on) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (school, bundle_id) DO NOTHING",
            (
                school,
                bundle_id,
                act["act_id"],
                act["act_number"],
                act["act_date"],
                act["approved_by"],
                act["approved_on"],
            ),
        )
        db.execute(
            "INSERT INTO destroyed_replicas (school, bundle_id, target, destroyed_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (school, bundle_id, target) DO UPDATE SET destroyed_at = excluded.destroyed_at",
            (school, bundle_id, target, when),
        )


def destruction_of(db: Database, bundle_id: str) -> Destruction | None:
    """The tombstone of a bundle, or None while it is kept."""
    school = school_of(db, bundle_id)
    row = db.execute(
        "SELECT bundle_id, act_id, act_number, act_date, approved_by, approved_on FROM destructions"
        " WHERE school = ? AND bundle_id = ?",
        (school, bundle_id),
    ).fetchone()
    if row is None:
        return None
    targets = db.execute(
        "SELECT target, destroyed_at FROM destroyed_replicas"
        " WHERE school = ? AND bundle_id = ? ORDER BY target",
        (school, bundle_id),
    ).fetchall()
    return Destruction(*row, targets=tuple((t, w) for t, w in targets))


# --- anchors: the catalog's own memory of each bundle (R7) ----------------------------

ANCHOR_FILE = tagmanifest_name("sha256")
"""The tag file whose SHA-256 the catalog keeps. It lists the SHA-256 of every tag file, the
payload manifest among them, which lists every payload file: one digest pins the whole bag."""

ANCHOR_ORIGIN_ARCHIVE = "записана при архивировании"


@dataclass(frozen=True, slots=True)
class Anchor:
    """The SHA-256 of a bundle's ANCHOR_FILE as the catalog remembers it, and where it came from.

    A bag's manifests vouch only for each other: whoever rewrites a payload file and
    then every manifest and tagmanifest consistently has a bag that validates. The
    anchor is kept outside the bag, so such a bag still fails against the catalog.
    """

    bundle_id: str
    file: str
    sha256: str
    recorded_at: str
    origin: str


def anchor_digest(stream: BinaryIO) -> str:
    """The SHA-256 (hex) of an ANCHOR_FILE read from `stream`."""
    return digests_of(stream, ("sha256",))["sha256"]


def record_anchor(
    db: Database,
    bundle_id: str,
    digest: str,
    *,
    origin: str = ANCHOR_ORIGIN_ARCHIVE,
    recorded_at: dt.datetime | None = None,
) -> None:
    """Remember the SHA-256 of a bundle's tagmanifest-sha256.txt; once recorded it never changes.

    Recorded by the archive run from the bag it has just written. A rebuilt catalog
    cannot recover it from the targets alone: rebuild_catalog and the fixity audit take
    it from the first replica that verifies and say so in `origin`. Recording the same
    digest again is a no-op; a different one is refused (CatalogError).
    """
    digest = digest.lower()
    when = (recorded_at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).isoformat(timespec="seconds")
    with db:
        school = _known_school(db, bundle_id, ": сначала record_bundle")
        known = anchor_of(db.for_school(school), bundle_id)
        if known is not None:
            if known.sha256 != digest:
                raise CatalogError(
                    f"Пакет {bundle_id}: в каталоге уже записана другая контрольная сумма {known.file}"
                )
            return
        db.execute(
            "INSERT INTO anchors (school, bundle_id, file, sha256, recorded_at, origin)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (school, bundle_id, ANCHOR_FILE, digest, when, origin),
        )


def anchor_of(db: Database, bundle_id: str) -> Anchor | None:
    row = db.execute(
        "SELECT bundle_id, file, sha256, recorded_at, origin FROM anchors WHERE school = ? AND bundle_id = ?",
        (school_of(db, bundle_id), bundle_id),
    ).fetchone()
    return Anchor(*row) if row else None


def recorded_digests(db: Database, bundle_id: str) -> dict[str, str]:
    """{tag file: SHA-256} the catalog remembers for a bundle, for validators.bundle_checks; {} if none."""
    anchor = anchor_of(db, bundle_id)
    return {anchor.file: anchor.sha256} if anchor else {}


def find_bundle(db: Database, bundle_id: str) -> BundleRecord | None:
    rows = _select(db, ["b.school = ?", "b.bundle_id = ?"], [school_of(db, bundle_id), bundle_id])
    return rows[0] if rows else None


def _comparable(record: BundleRecord) -> tuple:
    """A record without what the catalog derives or adds later (superseded_by, sealed)."""
    values = {f.name: getattr(record, f.name) for f in fields(BundleRecord)}
    del values["superseded_by"], values["sealed"]
    return tuple(values.values())


# --- rebuilding ------------------------------------------------------------------


def supersede_period_bundles(db: Database, year_bundle: BundleRecord) -> None:
    """R1: a class's period bundles are kept until its year bundle is sealed; then they are superseded."""
    current = list_bundles(
        db,
        school=year_bundle.school,
        year=year_bundle.year,
        class_name=year_bundle.class_name,
        kind=BundleKind.PERIOD,
        current_only=True,
    )
    for record in current:
        mark_superseded(db.for_school(record.school), record.bundle_id, year_bundle.bundle_id)


DERIVED_TABLES = ("bundles", "replicas", "changes", "anchors")
"""What a rebuild reads back from the bundles; every other table is the catalog's own memory."""


def _keep_fixity_history(db: Database, old_catalog: Path) -> list[str]:
    """Carry the fixity history and every other table no bundle holds (e.g. the web page's users and
    access log, storage.accounts) over from the catalog being replaced."""
    if not old_catalog.exists():
        return []
    try:
        with db:
            db.execute("ATTACH DATABASE ? AS old", (str(old_catalog),))
            own = db.execute(
                "SELECT name, sql FROM old.sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
                " ORDER BY rootpage"
            ).fetchall()
            for name, sql in own:
                if name in DERIVED_TABLES:
                    continue
                if not db.execute("SELECT 1 FROM main.sqlite_master WHERE name = ?", (name,)).fetchone():
                    db.execute(sql)
                db.execute(f'INSERT INTO main."{name}" SELECT * FROM old."{name}"')
    except sqlite3.DatabaseError as error:
        return [f"{old_catalog}: история проверок не перенесена ({error})"]
    finally:
        with contextlib.suppress(sqlite3.DatabaseError):
            db.execute("DETACH DATABASE old")
    return []


def rebuild_catalog(
    catalog_path: str | Path, targets: Sequence[Target], *, verify: bool = False
) -> list[str]:
    """Recreate the catalog from the bundles on the targets alone; return the problems met.

    Each bundle's record comes from its bag-info.txt and CHANGES.txt; superseded_by
    follows from the Supersedes of newer versions. A replica is "stored", or, with
    `verify`, read back and "verified" or "corrupt". The anchor recorded at archive
    time (record_anchor) is lost with the old catalog: with `verify` it is taken from
    the first replica that verifies, and its origin says so — weaker than the original,
    as a bag rewritten consistently before the rebuild would be trusted. The new catalog is built
    beside the old one and replaces it in one rename, so a failed rebuild loses nothing.
    Every school's bundles are rebuilt: `targets` are all the installation's.
    """
    if is_postgresql_url(catalog_path):
        raise CatalogError(
            "Каталог на сервере PostgreSQL не восстанавливается этой командой: он общий для всех машин; "
            "восстановите базу из резервной копии сервера"
        )
    catalog_path = Path(catalog_path)
    if catalog_path.exists():
        open_catalog(catalog_path).close()  # an old catalog's own tables in today's form (migrate_catalog)
    building = catalog_path.with_name(catalog_path.name + ".rebuild")
    building.unlink(missing_ok=True)
    problems: list[str] = []
    db = open_catalog(building)
    try:
        records: dict[tuple[str, str], BundleRecord] = {}
        for target in targets:
            try:
                keys = target.list_bundles()
            except (OSError, StorageError) as error:
                problems.append(f"{target.name}: список пакетов не читается: {error}")
                continue
            for key in keys:
                try:
                    record = read_bundle_record(target, key)
                except CatalogError as error:
                    problems.append(str(error))
                    continue
                known = records.get((record.school, record.bundle_id))
                if known is not None and known != record:
                    problems.append(
                        f"{target.name}: пакет {key} отличается от копии того же пакета на другом хранилище"
                    )
                    continue
                school = db.for_school(record.school)
                if known is None:
                    records[(record.school, record.bundle_id)] = record
                    record_bundle(school, record)
                if verify:
                    found = verify_stored_bundle(target, key)
                    status = ReplicaStatus.CORRUPT if found else ReplicaStatus.VERIFIED
                    record_replica(
                        school, record.bundle_id, target.name, status, dt.datetime.now(dt.UTC), found
                    )
                    problems += found
                    if not found and anchor_of(school, record.bundle_id) is None:
                        problems += _anchor_from_replica(school, target, record)
                else:
                    record_replica(school, record.bundle_id, target.name, ReplicaStatus.STORED)
        for record in list_bundles(db, kind=BundleKind.YEAR, current_only=True):
            supersede_period_bundles(db, record)
        problems += _keep_fixity_history(db, catalog_path)
    finally:
        db.close()
    os.replace(building, catalog_path)
    return problems


def _anchor_from_replica(db: Database, target: Target, record: BundleRecord) -> list[str]:
    """Record the anchor from a replica that has just verified; the problem if it cannot be read."""
    try:
        with target.open_file(record.key, ANCHOR_FILE) as stream:
            digest = anchor_digest(stream)
    except (OSError, StorageError) as error:
        return [f"{target.name}: пакет {record.key}: {ANCHOR_FILE} не читается: {error}"]
    record_anchor(db, record.bundle_id, digest, origin=anchor_origin_replica(target.name))
    return []


def anchor_origin_replica(target: str) -> str:
    return f"взята с проверенной копии на {target} (каталог восстановлен или не знал пакета)"
