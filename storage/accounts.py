"""The web page's own tables in the catalog database: users, sessions, failed logins, the access log, runs.

None of this comes from a bundle, so like the fixity history it is the catalog's own
memory: `storage.catalog.rebuild_catalog` carries these tables over to the rebuilt
catalog. The access log is kept because access to children's personal data must be
accountable (A2): who handed out, downloaded or verified what, when and from where.
Rows are only ever appended to it.

Times are UTC ISO 8601 strings (seconds); callers pass the time in, so a test's
clock decides what "now" is.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from storage.catalog import open_catalog
from storage.database import Database, IntegrityError

ACCOUNTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name          TEXT PRIMARY KEY,
    role          TEXT NOT NULL CHECK (role IN ('secretary', 'auditor', 'admin')),
    password_hash TEXT NOT NULL,           -- Argon2id, PHC string
    disabled      INTEGER NOT NULL DEFAULT 0,
    created       TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS web_sessions (
    token_sha256 TEXT PRIMARY KEY,         -- the cookie holds the token, the catalog only its digest
    user_name    TEXT NOT NULL REFERENCES users (name),
    csrf         TEXT NOT NULL,            -- the form token of this session
    created      TEXT NOT NULL,
    expires      TEXT NOT NULL,
    client       TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS login_failures (
    user_name TEXT NOT NULL,
    client    TEXT NOT NULL,
    failed_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS login_failures_name ON login_failures (user_name, failed_at);
CREATE TABLE IF NOT EXISTS access_log (    -- A2: appended to, never changed
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    at        TEXT NOT NULL,
    user_name TEXT NOT NULL,
    role      TEXT NOT NULL,
    action    TEXT NOT NULL,               -- Russian: what was done
    subject   TEXT NOT NULL DEFAULT '',    -- the bundle or file
    client    TEXT NOT NULL DEFAULT '',    -- from where: the client's address
    outcome   TEXT NOT NULL DEFAULT ''     -- Russian: how it ended
);
CREATE TABLE IF NOT EXISTS web_runs (      -- archive runs and verifications started from the web page
    run_id    TEXT PRIMARY KEY,
    kind      TEXT NOT NULL,               -- archive, verify
    title     TEXT NOT NULL,
    user_name TEXT NOT NULL,
    started   TEXT NOT NULL,
    finished  TEXT,
    outcome   TEXT NOT NULL DEFAULT '',
    rows      TEXT NOT NULL DEFAULT '[]'   -- JSON: the result table
);
"""

ACCOUNT_TABLES = ("users", "web_sessions", "login_failures", "access_log", "web_runs")
"""The tables a catalog rebuild carries over (no bundle holds them)."""


def stamp(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).isoformat(timespec="seconds")


def open_accounts(catalog: str | Path) -> Database:
    """The catalog database (file or `postgresql://` URL) with the web page's tables (created if needed)."""
    db = open_catalog(catalog)
    db.executescript(ACCOUNTS_SCHEMA)
    return db


# --- users ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UserRecord:
    name: str
    role: str
    password_hash: str
    disabled: bool
    created: str


def insert_user(db: Database, name: str, role: str, password_hash: str, now: dt.datetime) -> bool:
    """Add a user; False if the name is taken."""
    try:
        with db:
            db.execute(
                "INSERT INTO users (name, role, password_hash, created) VALUES (?, ?, ?, ?)",
                (name, role, password_hash, stamp(now)),
            )
    except IntegrityError:
        return False
    return True


def find_user(db: Database, name: str) -> UserRecord | None:
    row = db.execute(
        "SELECT name, role, password_hash, disabled, created FROM users WHERE name = ?", (name,)
    ).fetchone()
    return UserRecord(row[0], row[1], row[2], bool(row[3]), row[4]) if row else None


def all_users(db: Database) -> list[UserRecord]:
    rows = db.execute("SELECT name, role, password_hash, disabled, created FROM users ORDER BY name")
    return [UserRecord(n, r, h, bool(d), c) for n, r, h, d, c in rows]


def set_password_hash(db: Database, name: str, password_hash: str) -> None:
    with db:
        db.execute("UPDATE users SET password_hash = ? WHERE name = ?", (password_hash, name))


def disable(db: Database, name: str) -> bool:
    """Disable a user and end their sessions; False if there is no such user."""
    with db:
        changed = db.execute("UPDATE users SET disabled = 1 WHERE name = ?", (name,)).rowcount
        db.execute("DELETE FROM web_sessions WHERE user_name = ?", (name,))
    return bool(changed)


# --- sessions ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SessionRecord:
    user: UserRecord
    csrf: str
    expires: str


def insert_session(
    db: Database,
    token_sha256: str,
    user_name: str,
    csrf: str,
    now: dt.datetime,
    expires: dt.datetime,
    client: str,
) -> None:
    with db:
        db.execute("DELETE FROM web_sessions WHERE expires <= ?", (stamp(now),))
        db.execute(
            "INSERT INTO web_sessions (token_sha256, user_name, csrf, created, expires, client)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (token_sha256, user_name, csrf, stamp(now), stamp(expires), client),
        )


def find_session(db: Database, token_sha256: str, now: dt.datetime) -> SessionRecord | None:
    """The live session of an enabled user with this token digest, or None."""
    row = db.execute(
        "SELECT u.name, u.role, u.password_hash, u.disabled, u.created, s.csrf, s.expires"
        " FROM web_sessions s JOIN users u ON u.name = s.user_name"
        " WHERE s.token_sha256 = ? AND s.expires > ? AND u.disabled = 0",
        (token_sha256, stamp(now)),
    ).fetchone()
    if row is None:
        return None
    return SessionRecord(UserRecord(row[0], row[1], row[2], bool(row[3]), row[4]), row[5], row[6])


def delete_session(db: Database, token_sha256: str) -> None:
    with db:
        db.execute("DELETE FROM web_sessions WHERE token_sha256 = ?", (token_sha256,))


# --- failed logins ----------------------------------------------------------------


def record_login_failure(db: Database, user_name: str, client: str, now: dt.datetime) -> None:
    with db:
        db.execute(
            "INSERT INTO login_failures (user_name, client, failed_at) VALUES (?, ?, ?)",
            (user_name, client, stamp(now)),
        )


def login_failures_since(
    db: Database, user_name: str, client: str, since: dt.datetime
) -> tuple[list[str], list[str]]:
    """Failure times (oldest first) since `since`: for this name, and from this client (any name)."""
    by_name = db.execute(
        "SELECT failed_at FROM login_failures WHERE user_name = ? AND failed_at > ? ORDER BY failed_at",
        (user_name, stamp(since)),
    )
    by_client = db.execute(
        "SELECT failed_at FROM login_failures WHERE client = ? AND failed_at > ? ORDER BY failed_at",
        (client, stamp(since)),
    )
    return [row[0] for row in by_name], [row[0] for row in by_client]


def clear_login_failures(db: Database, user_name: str) -> None:
    with db:
        db.execute("DELETE FROM login_failures WHERE user_name = ?", (user_name,))


# --- the access log (A2) ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AccessEntry:
    id: int
    at: str
    user_name: str
    role: str
    action: str
    subject: str
    client: str
    outcome: str


def append_access(
    db: Database,
    now: dt.datetime,
    user_name: str,
    role: str,
    action: str,
    subject: str,
    client: str,
    outcome: str,
) -> None:
    with db:
        db.execute(
            "INSERT INTO access_log (at, user_name, role, action, subject, client, outcome)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (stamp(now), user_name, role, action, subject, client, outcome),
        )


def access_entries(db: Database, limit: int | None = None) -> list[AccessEntry]:
    """Newest first."""
    sql = "SELECT id, at, user_name, role, action, subject, client, outcome FROM access_log ORDER BY id DESC"
    rows = db.execute(sql + (" LIMIT ?" if limit else ""), (limit,) if limit else ())
    return [AccessEntry(*row) for row in rows]


# --- runs started from the web page ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunRecord:
    run_id: str
    kind: str
    title: str
    user_name: str
    started: str
    finished: str | None
    outcome: str
    rows: list[dict[str, str]]


def insert_run(db: Database, run_id: str, kind: str, title: str, user_name: str, now: dt.datetime) -> None:
    with db:
        db.execute(
            "INSERT INTO web_runs (run_id, kind, title, user_name, started) VALUES (?, ?, ?, ?, ?)",
            (run_id, kind, title, user_name, stamp(now)),
        )


def finish_run(
    db: Database,
    run_id: str,
    now: dt.datetime,
    outcome: str,
    rows: Sequence[dict[str, str]],
) -> None:
    with db:
        db.execute(
            "UPDATE web_runs SET finished = ?, outcome = ?, rows = ? WHERE run_id = ?",
            (stamp(now), outcome, json.dumps(list(rows), ensure_ascii=False), run_id),
        )


def runs_of_kind(db: Database, kind: str, limit: int = 50) -> list[RunRecord]:
    rows = db.execute(
        "SELECT run_id, kind, title, user_name, started, finished, outcome, rows FROM web_runs"
        " WHERE kind = ? ORDER BY started DESC, rowid DESC LIMIT ?",
        (kind, limit),
    )
    return [RunRecord(*row[:7], json.loads(row[7])) for row in rows]


def find_run(db: Database, run_id: str) -> RunRecord | None:
    row = db.execute(
        "SELECT run_id, kind, title, user_name, started, finished, outcome, rows FROM web_runs"
        " WHERE run_id = ?",
        (run_id,),
    ).fetchone()
    return RunRecord(*row[:7], json.loads(row[7])) if row else None
