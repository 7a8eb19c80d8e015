"""Tell people when an audit found a problem (R7, R8, A2): every Apprise URL in `[alerts] urls`.

A weekly audit that repairs or fails to repair a copy in the night is worth nothing if
nobody reads its digest, so the audit sends a short Russian notification through
Apprise (which comes with Prefect): e-mail (`mailto://…`, `mailtos://…`) or any other
service Apprise knows. The notification holds only what A2 allows outside the archive:
bundle ids (year, class, period, kind), target names, states and counts — never a
problem's text (it names files and could quote data), never a mark or a pupil's name.
The details stay in the digest on the archive's server.

Sending never stops the audit: a failed or unknown URL is reported (`AlertResult`) and
written into the digest, and the audit's exit code already says that something is wrong.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from journal.russian import count_words, format_date
from storage.target import ReplicaStatus

TITLE_REPAIRED = "Архив классных журналов: аудит нашёл и восстановил повреждённые копии"
TITLE_FAILED = "Архив классных журналов: аудит нашёл повреждённые копии, не все восстановлены"


@dataclass(frozen=True, slots=True)
class ReplicaState:
    """What an alert may say about one replica: ids, names and states only (A2)."""

    bundle_id: str
    target: str
    found: ReplicaStatus
    repaired: bool


@dataclass(frozen=True, slots=True)
class AlertResult:
    """What became of one audit's notification: sent to how many URLs, which failed (Russian)."""

    sent: int
    failures: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.failures

    def line(self) -> str:
        """One Russian line for the digest and the log."""
        if self.ok:
            return f"Оповещение отправлено: {count_words(self.sent, 'адрес', 'адреса', 'адресов')}."
        return (
            f"Оповещение НЕ отправлено ({len(self.failures)} из {self.sent + len(self.failures)}): "
            + "; ".join(self.failures)
            + "."
        )


def alert_message(
    states: Sequence[ReplicaState],
    bundles: int,
    replicas: int,
    started: dt.datetime,
    timezone: str,
    digest_path: Path,
) -> tuple[str, str] | None:
    """(title, body) in Russian for an audit that found damage, or None when every copy was good."""
    bad = [s for s in states if s.found != ReplicaStatus.VERIFIED]
    if not bad:
        return None
    failed = [s for s in bad if not s.repaired]
    local = started.astimezone(ZoneInfo(timezone))
    lines = [
        f"Аудит сохранности архива, начатый {format_date(local.date())} в {local:%H:%M} ({timezone}), "
        "нашёл неисправные копии.",
        f"Проверено: {count_words(bundles, 'пакет', 'пакета', 'пакетов')}, "
        f"{count_words(replicas, 'копия', 'копии', 'копий')}; с ошибками: {len(bad)}; "
        f"восстановлено: {len(bad) - len(failed)}; не восстановлено: {len(failed)}.",
        "",
    ]
    for state in bad:
        outcome = "восстановлена" if state.repaired else "НЕ восстановлена"
        copy = f"копия {state.found.title}, {outcome}"
        lines.append(f"• {state.bundle_id} на хранилище {state.target}: {copy}.")
    lines += [
        "",
        f"Подробности — в сводке аудита на сервере архива: {digest_path}",
    ]
    if failed:
        lines.append("Неисправные копии нужно восстановить: journal-archive audit, затем verify --all.")
    return (TITLE_FAILED if failed else TITLE_REPAIRED), "\n".join(lines) + "\n"


def send_alert(urls: Sequence[str], title: str, body: str) -> AlertResult:
    """Send to every URL; never raises — each URL that is unknown or fails is named (without its password)."""
    import apprise  # comes with Prefect; imported here so that a run with no alerts does not load it

    sent, failures = 0, []
    for number, url in enumerate(urls, start=1):
        try:
            service = apprise.Apprise.instantiate(url)
        except Exception as error:  # an Apprise plugin may raise on a malformed URL
            service, reason = None, str(error)
        else:
            reason = ""
        if service is None:
            failures.append(f"адрес № {number} в [alerts] urls не распознан{': ' + reason if reason else ''}")
            continue
        where = service.url(privacy=True)
        try:
            ok = service.notify(body=body, title=title)
        except Exception as error:  # a plugin that raises must not end the audit
            failures.append(f"{where}: {error}")
            continue
        if ok:
            sent += 1
        else:
            failures.append(f"{where}: сервер не принял сообщение")
    return AlertResult(sent, tuple(failures))
