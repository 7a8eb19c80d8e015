"""The people who use the web page: accounts, passwords, sessions and login throttling.

Users live in the catalog database (storage.accounts). Passwords are hashed with
Argon2id (argon2-cffi's defaults, rehashed when those change). A session is a random
token in an HttpOnly cookie; the catalog keeps only its SHA-256, so a copy of the
catalog opens no session. Each session has its own CSRF token for its forms. After
`MAX_FAILURES` wrong passwords for one name within `FAILURE_WINDOW` that name's logins
are refused until the window has passed; after `MAX_CLIENT_FAILURES` (any names) so
are the logins from that address.

Time is always passed in (`now`), so tests decide the clock.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from pipeline.settings import Settings
from storage import accounts
from storage.database import Database

SESSION_LIFETIME = dt.timedelta(hours=8)  # one working day
MAX_FAILURES = 5  # for one user name
MAX_CLIENT_FAILURES = 20  # from one address, any names (a school office shares one address)
FAILURE_WINDOW = dt.timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 8
NAME_PATTERN = re.compile(r"^[\w.@-]{2,64}$")

_HASHER = PasswordHasher()


class Role(StrEnum):
    SECRETARY = "secretary"
    AUDITOR = "auditor"
    ADMIN = "admin"

    @property
    def title(self) -> str:
        return {"secretary": "секретарь", "auditor": "аудитор", "admin": "администратор"}[self.value]


class UserError(Exception):
    """A user could not be added or changed; the message says why, in Russian."""


class LoginRefused(Exception):
    """The login failed; the message is what the login page shows (it never says which part was wrong)."""


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: Role
    disabled: bool = False
    created: str = ""


@dataclass(frozen=True, slots=True)
class Session:
    """A logged-in user; `token` goes into the cookie, `csrf` into every form."""

    user: User
    token: str
    csrf: str
    expires: dt.datetime


def _user(record: accounts.UserRecord) -> User:
    return User(record.name, Role(record.role), record.disabled, record.created)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def add_user(settings: Settings, name: str, role: str, password: str, now: dt.datetime) -> User:
    """Add a user with an Argon2id hash of `password`."""
    if not NAME_PATTERN.match(name):
        raise UserError(f"Имя «{name}» не подходит: 2–64 буквы, цифры или знаки . _ @ -")
    try:
        role = Role(role)
    except ValueError:
        raise UserError(f"Роли «{role}» нет: secretary, auditor или admin") from None
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"Пароль короче {MIN_PASSWORD_LENGTH} знаков")
    db = accounts.open_accounts(settings.catalog_location)
    try:
        if not accounts.insert_user(db, name, role.value, _HASHER.hash(password), now):
            raise UserError(f"Пользователь «{name}» уже есть")
    finally:
        db.close()
    return User(name, role, False, accounts.stamp(now))


def list_users(settings: Settings) -> list[User]:
    """The accounts, none when the home has no catalog yet (a listing creates nothing)."""
    if not settings.has_catalog():
        return []
    db = accounts.open_accounts(settings.catalog_location)
    try:
        return [_user(record) for record in accounts.all_users(db)]
    finally:
        db.close()


def disable_user(settings: Settings, name: str) -> None:
    """Disable a user; their open sessions end at once."""
    db = accounts.open_accounts(settings.catalog_location)
    try:
        if not accounts.disable(db, name):
            raise UserError(f"Пользователя «{name}» нет")
    finally:
        db.close()


def log_in(settings: Settings, name: str, password: str, client: str, now: dt.datetime) -> Session:
    """Check the password and open a session, or raise LoginRefused (throttled after repeated failures)."""
    db = accounts.open_accounts(settings.catalog_location)
    try:
        by_name, by_client = accounts.login_failures_since(db, name, client, now - FAILURE_WINDOW)
        limits = ((by_name, MAX_FAILURES), (by_client, MAX_CLIENT_FAILURES))
        over = [failures[-limit] for failures, limit in limits if len(failures) >= limit]
        if over:
            oldest = dt.datetime.fromisoformat(max(over))
            minutes = max(1, -(-int((oldest + FAILURE_WINDOW - now).total_seconds()) // 60))
            raise LoginRefused(
                f"Слишком много неудачных попыток входа. Вход временно закрыт, повторите через {minutes} мин."
            )
        record = accounts.find_user(db, name)
        if record is None or record.disabled or not _password_matches(db, record, password):
            accounts.record_login_failure(db, name, client, now)
            raise LoginRefused("Неверное имя пользователя или пароль.")
        accounts.clear_login_failures(db, name)
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        expires = now + SESSION_LIFETIME
        accounts.insert_session(db, _digest(token), name, csrf, now, expires, client)
        return Session(_user(record), token, csrf, expires)
    finally:
        db.close()


def _password_matches(db: Database, record: accounts.UserRecord, password: str) -> bool:
    try:
        _HASHER.verify(record.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    if _HASHER.check_needs_rehash(record.password_hash):
        accounts.set_password_hash(db, record.name, _HASHER.hash(password))
    return True


def session_of(settings: Settings, token: str | None, now: dt.datetime) -> Session | None:
    """The live session for a cookie's token: None if absent, unknown, expired or the user is disabled."""
    if not token:
        return None
    db = accounts.open_accounts(settings.catalog_location)
    try:
        found = accounts.find_session(db, _digest(token), now)
    finally:
        db.close()
    if found is None:
        return None
    return Session(_user(found.user), token, found.csrf, dt.datetime.fromisoformat(found.expires))


def log_out(settings: Settings, token: str) -> None:
    db = accounts.open_accounts(settings.catalog_location)
    try:
        accounts.delete_session(db, _digest(token))
    finally:
        db.close()


def same_token(expected: str, given: str | None) -> bool:
    """Constant-time comparison of a CSRF token."""
    return bool(given) and hmac.compare_digest(expected.encode(), str(given).encode())
