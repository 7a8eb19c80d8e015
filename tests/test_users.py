"""Web accounts without a browser: the users commands, Argon2, throttling, sessions (issue 12, A2).

The clock is an input: throttling and session expiry are shown by passing times, never by waiting.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from flows.cli import main
from pipeline import access_log
from pipeline.inventory import rebuild
from pipeline.settings import load_settings
from pipeline.users import (
    FAILURE_WINDOW,
    MAX_FAILURES,
    SESSION_LIFETIME,
    LoginRefused,
    UserError,
    add_user,
    disable_user,
    log_in,
    session_of,
)

T0 = dt.datetime(2025, 6, 2, 9, 0, tzinfo=dt.UTC)
PASSWORD = "длинный-пароль"


def invoke(home: Path, *args: str, input: str | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, ["--home", str(home), *args], input=input)


def test_users_add_asks_twice_stores_argon2_lists_and_disables(tmp_path: Path) -> None:
    added = invoke(
        tmp_path, "users", "add", "sveta", "--role", "secretary", input=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert added.exit_code == 0, added.output
    assert "sveta (секретарь) добавлен" in added.output
    mismatch = invoke(
        tmp_path, "users", "add", "olga", "--role", "auditor", input=f"{PASSWORD}\nдругой-пароль\n"
    )
    assert mismatch.exit_code != 0  # the two entries must match; click asks again and then runs out of input
    stored = (
        sqlite3.connect(tmp_path / "catalog.sqlite").execute("SELECT password_hash FROM users").fetchall()
    )
    assert len(stored) == 1 and stored[0][0].startswith("$argon2id$") and PASSWORD not in stored[0][0]
    listed = invoke(tmp_path, "users", "list")
    assert "sveta" in listed.output and "секретарь" in listed.output and "активен" in listed.output
    assert invoke(tmp_path, "users", "disable", "sveta").exit_code == 0
    assert "отключён" in invoke(tmp_path, "users", "list").output
    unknown = invoke(tmp_path, "users", "disable", "nobody")
    assert unknown.exit_code == 2 and "Пользователя «nobody» нет" in unknown.output


def test_bad_names_roles_and_short_passwords_are_refused(tmp_path: Path) -> None:
    settings = load_settings(tmp_path)
    for name, role, password in (
        ("a/../b", "admin", PASSWORD),
        ("ivan", "director", PASSWORD),
        ("ivan", "admin", "123"),
    ):
        with pytest.raises(UserError):
            add_user(settings, name, role, password, T0)
    add_user(settings, "ivan", "admin", PASSWORD, T0)
    with pytest.raises(UserError, match="уже есть"):
        add_user(settings, "ivan", "auditor", PASSWORD, T0)


def test_login_is_throttled_and_opens_again_after_the_window(tmp_path: Path) -> None:
    settings = load_settings(tmp_path)
    add_user(settings, "olga", "auditor", PASSWORD, T0)
    for minute in range(MAX_FAILURES):
        with pytest.raises(LoginRefused, match="Неверное имя"):
            log_in(settings, "olga", "wrong", "10.0.0.5", T0 + dt.timedelta(minutes=minute))
    with pytest.raises(LoginRefused, match="Слишком много"):  # even the right password, while throttled
        log_in(settings, "olga", PASSWORD, "10.0.0.6", T0 + dt.timedelta(minutes=MAX_FAILURES))
    later = T0 + FAILURE_WINDOW + dt.timedelta(minutes=MAX_FAILURES)
    assert log_in(settings, "olga", PASSWORD, "10.0.0.6", later).user.name == "olga"


def test_a_session_ends_at_its_expiry_and_when_the_user_is_disabled(tmp_path: Path) -> None:
    settings = load_settings(tmp_path)
    add_user(settings, "boss", "admin", PASSWORD, T0)
    session = log_in(settings, "boss", PASSWORD, "127.0.0.1", T0)
    assert session_of(settings, session.token, T0 + SESSION_LIFETIME - dt.timedelta(seconds=1)) is not None
    assert session_of(settings, session.token, T0 + SESSION_LIFETIME) is None
    assert session_of(settings, "a guessed token", T0) is None
    again = log_in(settings, "boss", PASSWORD, "127.0.0.1", T0)
    disable_user(settings, "boss")
    assert session_of(settings, again.token, T0) is None
    with pytest.raises(LoginRefused):
        log_in(settings, "boss", PASSWORD, "127.0.0.1", T0)


def test_catalog_rebuild_keeps_users_and_the_access_log(tmp_path: Path) -> None:
    settings = load_settings(tmp_path)
    add_user(settings, "sveta", "secretary", PASSWORD, T0)
    access_log.record(settings, T0, "sveta", "secretary", access_log.Action.RETRIEVE, "2024-2025-5a-year-v1")
    rebuild(settings)
    assert log_in(settings, "sveta", PASSWORD, "127.0.0.1", T0).user.name == "sveta"
    entries = access_log.entries(settings)
    assert [(e.user_name, e.action, e.subject) for e in entries if e.action == "выдача пакета"] == [
        ("sveta", "выдача пакета", "2024-2025-5a-year-v1")
    ]
    assert "2024-2025-5a-year-v1" in access_log.csv_text(settings)
