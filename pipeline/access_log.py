"""Who handed out, downloaded or verified what, when and from where (A2).

Access to children's personal data must be accountable: every retrieval, download,
verification, archive run and login through the web page is appended to the access
log in the catalog database (storage.accounts), which an administrator views and
exports as CSV.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

from pipeline.settings import Settings
from storage import accounts
from storage.accounts import AccessEntry


class Action:
    """What was done, as the log says it."""

    LOGIN = "вход"
    LOGIN_FAILED = "неудачный вход"
    LOGOUT = "выход"
    RETRIEVE = "выдача пакета"
    DOWNLOAD = "скачивание"
    VERIFY = "проверка"
    ARCHIVE = "архивирование"
    REFUSED = "отказ в доступе"
    EXPORT = "выгрузка журнала доступа"


def record(
    settings: Settings,
    now: dt.datetime,
    user_name: str,
    role: str,
    action: str,
    subject: str = "",
    client: str = "",
    outcome: str = "",
) -> None:
    db = accounts.open_accounts(settings.catalog_location)
    try:
        accounts.append_access(db, now, user_name, role, action, subject, client, outcome)
    finally:
        db.close()


def entries(settings: Settings, limit: int | None = None) -> list[AccessEntry]:
    """The log, newest first."""
    db = accounts.open_accounts(settings.catalog_location)
    try:
        return accounts.access_entries(db, limit)
    finally:
        db.close()


CSV_HEADER = ("№", "Время (UTC)", "Пользователь", "Роль", "Действие", "Что", "Откуда", "Итог")


def csv_text(settings: Settings) -> str:
    """The whole log as CSV (UTF-8 with BOM, so a spreadsheet opens the Cyrillic right), oldest first."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for e in reversed(entries(settings)):
        writer.writerow((e.id, e.at, e.user_name, e.role, e.action, e.subject, e.client, e.outcome))
    return out.getvalue()
