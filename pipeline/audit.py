"""The fixity audit as plain functions: check every replica, repair the bad from the good, report (R7, R8).

R7 asks the archive to control integrity for the whole retention period, R8 keeps
two copies in different rooms; together they mean a copy found damaged is restored
from the other while the other is still good. For each bundle in the catalog:

1. every replica is checked by validators.bundle_checks.check_stored_bundle — RFC 8493,
   PDF/A, the bundle's own XSD, the seal, read-only storage, and the catalog's anchor
   (the SHA-256 of tagmanifest-sha256.txt recorded at archive time), so a bag rewritten
   consistently is caught too;
2. a replica that is missing, damaged or otherwise INVALID is repaired when another
   replica checked VALID: that copy is fetched into the work folder, checked again
   there, and put in place with the target's `replace_bundle`. A filesystem target
   swaps the folder atomically; an S3 Object Lock target cannot remove the damaged
   versions, so it writes fresh locked versions over them (the damaged ones stay in
   the bucket's history) — the action says which. The repaired replica is checked again;
3. every check goes into the catalog's fixity history with its time and target, and
   what was done (`record_fixity_check`): a repaired replica has two entries, the
   damage found and the check after the repair;
4. a bundle whose anchor the catalog does not know (catalog from before anchors, or a
   rebuilt one) gets it from the first replica that checks VALID, and the digest says so.

One digest per run, in Russian, is written to `home/audits/<UTC time>.txt`
(`format_digest`). When a copy was found bad, every `[alerts] urls` is notified
(pipeline.alerts) and the digest ends with whether that worked.
Nothing here imports Prefect: flows.audit wraps `run_audit`.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from journal.russian import count_words, format_date
from pipeline.alerts import AlertResult, ReplicaState, alert_message, send_alert
from pipeline.settings import Settings, select_targets
from pipeline.verify import Verifier, depth_line, seal_certificate, tsa_certificate
from storage.catalog import (
    ANCHOR_FILE,
    BundleRecord,
    anchor_digest,
    anchor_of,
    anchor_origin_replica,
    list_bundles,
    record_anchor,
    record_fixity_check,
)
from storage.database import Database
from storage.layout import work_prefix
from storage.modes import PRIVATE_FILE_MODE, private_dir
from storage.replication import fetch_bundle
from storage.target import ReplicaStatus, StorageError, Target
from validators.bundle_checks import BundleReport

AUDITS_DIR = "audits"


@dataclass(frozen=True, slots=True)
class ReplicaOutcome:
    """One replica in one audit: what the check found, and where it stands after any repair."""

    bundle_id: str
    key: str
    target: str
    found: ReplicaStatus  # verified, corrupt or missing, as checked
    problems: tuple[str, ...]  # Russian, each naming the file
    status: ReplicaStatus  # after the repair, if there was one
    action: str = ""  # Russian: what was done about it
    repaired_from: str = ""  # the target the good copy came from
    after: tuple[str, ...] = ()  # problems still found after a repair
    note: str = ""  # e.g. the anchor was taken from this copy
    seal_expires: dt.datetime | None = None  # when the seal's evidence (or certificate) ends unless renewed

    @property
    def repaired(self) -> bool:
        return self.found != ReplicaStatus.VERIFIED and self.status == ReplicaStatus.VERIFIED

    @property
    def failed(self) -> bool:
        """Still not a good copy when the audit ends."""
        return self.status != ReplicaStatus.VERIFIED


@dataclass(frozen=True, slots=True)
class AuditRun:
    outcomes: tuple[ReplicaOutcome, ...]
    started: dt.datetime
    finished: dt.datetime
    digest: str  # the Russian digest
    digest_path: Path
    alert: AlertResult | None = None  # the notification, when the audit found damage and [alerts] urls is set

    @property
    def damaged(self) -> tuple[ReplicaOutcome, ...]:
        """Every copy found bad, repaired or not: what makes `audit` exit non-zero for cron."""
        return tuple(o for o in self.outcomes if o.found != ReplicaStatus.VERIFIED)

    @property
    def failed(self) -> tuple[ReplicaOutcome, ...]:
        return tuple(o for o in self.outcomes if o.failed)


BundleCallback = Callable[[BundleRecord, list[ReplicaOutcome]], None]


def run_audit(
    settings: Settings,
    target_names: Sequence[str] | None = None,
    *,
    max_rate_mb_s: float | None = None,
    on_bundle: BundleCallback | None = None,
    deep: bool = False,
) -> AuditRun:
    """Audit every bundle of the catalog on the chosen targets (all by default), write the digest.

    `deep` adds the structural re-validation (PDF/A, XSD) to the hashing (pipeline.verify)."""
    targets = select_targets(settings, target_names)
    started = _now()
    outcomes: list[ReplicaOutcome] = []
    db = settings.open_catalog()
    try:
        for record in list_bundles(db):
            found = audit_bundle(settings, record, targets, db, max_rate_mb_s=max_rate_mb_s, deep=deep)
            outcomes += found
            if on_bundle is not None:
                on_bundle(record, found)
    finally:
        db.close()
    finished = _now()
    digest = format_digest(outcomes, started, finished, targets=[t.name for t in targets])
    digest += format_renewals(outcomes, finished, settings.renew_within_days)
    digest += depth_line(deep) + "\n"
    path = write_digest(settings, digest, started)
    alert = alert_people(settings, outcomes, started, path)
    if alert is not None:  # the digest says whether anyone was told
        digest += alert.line() + "\n"
        with path.open("a", encoding="utf-8") as handle:
            handle.write(alert.line() + "\n")
    return AuditRun(tuple(outcomes), started, finished, digest, path, alert)


def alert_people(
    settings: Settings, outcomes: Sequence[ReplicaOutcome], started: dt.datetime, digest_path: Path
) -> AlertResult | None:
    """Notify `[alerts] urls` when a copy was found bad (pipeline.alerts); None when nothing was sent."""
    if not settings.alert_urls:
        return None
    states = [ReplicaState(o.bundle_id, o.target, o.found, o.repaired) for o in outcomes]
    bundles = len({o.bundle_id for o in outcomes})
    message = alert_message(states, bundles, len(outcomes), started, settings.timezone, digest_path)
    if message is None:
        return None
    return send_alert(settings.alert_urls, *message)


def audit_bundle(
    settings: Settings,
    record: BundleRecord,
    targets: Sequence[Target],
    db: Database,
    *,
    max_rate_mb_s: float | None = None,
    deep: bool = False,
) -> list[ReplicaOutcome]:
    """Check one bundle on `targets`, repair bad replicas from a good one, record every check.

    The good copy may come from a configured target outside `targets` (an audit of
    one target still repairs it from the other); that target's check is recorded and
    reported too.
    """
    verifier = Verifier(
        db, seal_certificate(settings), max_rate_mb_s, deep, tsa_certificate(settings), at=None
    )
    checker = _Checker(verifier, record, db)
    checked = list(targets)
    reports = {target.name: checker.check(target) for target in targets}
    source = next((t for t in targets if reports[t.name].valid), None)
    if source is None and any(not report.valid for report in reports.values()):
        for other in settings.targets():
            if other.name in reports:
                continue
            reports[other.name] = checker.check(other)
            checked.append(other)
            if reports[other.name].valid:
                source = other
                break

    bad = [t for t in checked if not reports[t.name].valid]
    repairs: dict[str, Repair] = {}
    if bad:
        repairs = _repair(settings, record, bad, source, checker)

    outcomes = []
    for target in checked:
        report = reports[target.name]
        found = _status(report)
        problems = _messages(report)
        note = checker.notes.get(target.name, "")
        if target.name not in repairs:
            record_fixity_check(
                db, record.bundle_id, target.name, found, checker.times[target.name], problems, note
            )
            outcomes.append(
                ReplicaOutcome(
                    record.bundle_id,
                    record.key,
                    target.name,
                    found,
                    problems,
                    found,
                    note=note,
                    seal_expires=_seal_expires(report),
                )
            )
            continue
        status, action, after = repairs[target.name]
        record_fixity_check(
            db, record.bundle_id, target.name, found, checker.times[target.name], problems, action
        )
        if after is not None:  # the target was rewritten: the check after it
            record_fixity_check(
                db,
                record.bundle_id,
                target.name,
                status,
                _now(),
                after,
                "повторная проверка после восстановления",
            )
        outcomes.append(
            ReplicaOutcome(
                record.bundle_id,
                record.key,
                target.name,
                found,
                problems,
                status,
                action,
                source.name if source is not None and after is not None else "",
                after or (),
                note,
            )
        )
    return outcomes


class _Checker:
    """Checks replicas of one bundle with the one Verifier, taking the anchor from the first good
    replica when the catalog has none, and noting when each check ran."""

    def __init__(self, verifier: Verifier, record: BundleRecord, db: Database) -> None:
        self.verifier = verifier
        self.record = record
        self.db = db
        self.times: dict[str, dt.datetime] = {}
        self.notes: dict[str, str] = {}

    def check(self, target: Target) -> BundleReport:
        self.times[target.name] = _now()
        report = self.verifier.stored(target, self.record)
        if report.valid and anchor_of(self.db, self.record.bundle_id) is None:
            try:
                with target.open_file(self.record.key, ANCHOR_FILE) as stream:
                    digest = anchor_digest(stream)
            except (OSError, StorageError):
                return report
            record_anchor(self.db, self.record.bundle_id, digest, origin=anchor_origin_replica(target.name))
            self.notes[target.name] = (
                f"каталог не знал контрольной суммы {ANCHOR_FILE}; она взята с этой копии"
            )
        return report

    def check_copy(self, folder: Path) -> BundleReport:
        return self.verifier.folder(folder, self.record.bundle_id)


Repair = tuple[ReplicaStatus, str, tuple[str, ...] | None]
"""(status after, action, problems found by the check after the repair — None if nothing was written)."""


def _repair(
    settings: Settings,
    record: BundleRecord,
    bad: Sequence[Target],
    source: Target | None,
    checker: _Checker,
) -> dict[str, Repair]:
    """{target name: Repair} for each bad replica."""
    if source is None:
        action = "восстановить не удалось: исправной копии нет ни на одном хранилище"
        return {t.name: (_status_of(checker, t), action, None) for t in bad}
    repairs = {}
    private_dir(settings.work_dir)
    with tempfile.TemporaryDirectory(prefix=work_prefix("repair"), dir=settings.work_dir) as temp:
        try:
            copy = fetch_bundle(source, record.key, Path(temp) / record.bundle_id)
            copy_report = checker.check_copy(copy)
        except (OSError, StorageError) as error:
            action = f"восстановить не удалось: копия с {source.name} не читается: {error}"
            return {t.name: (_status_of(checker, t), action, None) for t in bad}
        if not copy_report.valid:
            first = copy_report.problems[0].message
            action = f"восстановить не удалось: копия с {source.name} при чтении не прошла проверку ({first})"
            return {t.name: (_status_of(checker, t), action, None) for t in bad}
        for target in bad:
            try:
                target.replace_bundle(record.key, copy)
            except StorageError as error:
                repairs[target.name] = (
                    _status_of(checker, target),
                    f"восстановить не удалось: {error}",
                    None,
                )
                continue
            after = checker.verifier.stored(target, record)
            repairs[target.name] = (_status(after), _repair_action(target, source), _messages(after))
    return repairs


def _repair_action(target: Target, source: Target) -> str:
    if target.keeps_damaged_versions:  # e.g. an S3 Object Lock target: nothing locked can be removed
        return (
            f"записана свежая проверенная копия с {source.name}: хранилище с блокировкой объектов "
            "(Object Lock) получило новые заблокированные версии файлов; повреждённые версии удалить нельзя, "
            "они остаются в истории корзины"
        )
    return f"копия заменена проверенной копией с {source.name}"


def _status_of(checker: _Checker, target: Target) -> ReplicaStatus:
    """The state of a replica that could not be repaired: as found (missing stays missing)."""
    try:
        return ReplicaStatus.CORRUPT if target.has_bundle(checker.record.key) else ReplicaStatus.MISSING
    except StorageError:
        return ReplicaStatus.MISSING


def _status(report: BundleReport) -> ReplicaStatus:
    if report.valid:
        return ReplicaStatus.VERIFIED
    return ReplicaStatus.MISSING if report.missing else ReplicaStatus.CORRUPT


def _messages(report: BundleReport) -> tuple[str, ...]:
    return tuple(f"{p.message} [{p.rule}]" for p in report.problems)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# --- the digest --------------------------------------------------------------------


def format_digest(
    outcomes: Sequence[ReplicaOutcome],
    started: dt.datetime,
    finished: dt.datetime,
    *,
    targets: Sequence[str] = (),
) -> str:
    """One run's digest for the administrator and the auditor, in Russian (R7).

    How many bundles and copies were checked, every copy that was found bad with
    each reason, what was repaired and how, what is still bad; then the bottom line.
    """
    started, finished = started.astimezone(dt.UTC), finished.astimezone(dt.UTC)
    seconds = max(0, round((finished - started).total_seconds()))
    names = list(targets) or sorted({o.target for o in outcomes})
    bundles = len({o.bundle_id for o in outcomes})
    bad = [o for o in outcomes if o.found != ReplicaStatus.VERIFIED]
    repaired = [o for o in bad if o.repaired]
    failed = [o for o in outcomes if o.failed]
    lines = [
        "Аудит сохранности электронного архива классных журналов (R7, R8)",
        f"Начат {format_date(started.date())} в {started:%H:%M:%S} UTC, закончен в {finished:%H:%M:%S} UTC "
        f"(за {count_words(seconds, 'секунду', 'секунды', 'секунд')}).",
        f"Хранилища: {', '.join(names) if names else 'не заданы'}.",
        "",
    ]
    if not outcomes:
        lines.append("В каталоге нет пакетов — проверять нечего.")
        return "\n".join(lines) + "\n"
    lines += [
        f"Проверено: {count_words(bundles, 'пакет', 'пакета', 'пакетов')}, "
        f"{count_words(len(outcomes), 'копия', 'копии', 'копий')}.",
        f"Исправных при проверке: {len(outcomes) - len(bad)}; с ошибками: {len(bad)}; "
        f"восстановлено: {len(repaired)}; не восстановлено: {len(bad) - len(repaired)}.",
    ]
    for outcome in bad:
        lines += [
            "",
            f"• {outcome.bundle_id} на хранилище {outcome.target}: копия {outcome.found.title}.",
        ]
        lines += [f"    – {problem}" for problem in outcome.problems]
        lines.append(f"  Что сделано: {outcome.action or 'ничего'}.")
        if outcome.repaired:
            lines.append(f"  Повторная проверка: копия {ReplicaStatus.VERIFIED.title}.")
        elif outcome.after:
            lines.append("  Повторная проверка: копия по-прежнему неисправна:")
            lines += [f"    – {problem}" for problem in outcome.after]
    notes = [o for o in outcomes if o.note]
    if notes:
        lines.append("")
        lines += [f"Примечание: {o.bundle_id} на {o.target}: {o.note}." for o in notes]
    lines.append("")
    if failed:
        lines.append(
            f"ВНИМАНИЕ: {count_words(len(failed), 'копия остаётся', 'копии остаются', 'копий остаются')} "
            "неисправными: "
            + "; ".join(f"{o.bundle_id} на {o.target}" for o in failed)
            + ". Нужна помощь администратора."
        )
    elif repaired:
        lines.append("Итог: после восстановления все копии исправны.")
    else:
        lines.append("Итог: все копии исправны.")
    return "\n".join(lines) + "\n"


def _seal_expires(report: BundleReport) -> dt.datetime | None:
    seal = report.seal
    if seal is None:
        return None
    return seal.evidence_expires or seal.certificate_expires


def format_renewals(outcomes: Sequence[ReplicaOutcome], now: dt.datetime, within_days: int) -> str:
    """The digest's paragraph on sealed bundles whose evidence expires within `within_days` (R3, R7)."""
    due: dict[str, dt.datetime] = {}
    for outcome in outcomes:
        ends = outcome.seal_expires
        if ends is not None and ends - now <= dt.timedelta(days=within_days):
            due[outcome.bundle_id] = min(ends, due.get(outcome.bundle_id, ends))
    if not due:
        return ""
    lines = [
        "",
        f"Доказательства печати истекают в ближайшие {count_words(within_days, 'день', 'дня', 'дней')} "
        "([seal] renew_within_days) — продлите их: journal-archive evidence renew",
    ]
    lines += [f"  {bundle}: до {format_date(ends.date())}" for bundle, ends in sorted(due.items())]
    return "\n".join(lines) + "\n"


def write_digest(settings: Settings, digest: str, started: dt.datetime) -> Path:
    """Write the digest to `home/audits/YYYY-MM-DDTHHMMSSZ.txt` (a suffix if that second is taken)."""
    folder = private_dir(settings.home / AUDITS_DIR)
    stem = f"{started.astimezone(dt.UTC):%Y-%m-%dT%H%M%SZ}"
    for number in range(1, 1000):
        path = folder / (f"{stem}.txt" if number == 1 else f"{stem}-{number}.txt")
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(digest)
        except FileExistsError:
            continue
        return path
    raise OSError(f"{folder}: не удалось выбрать имя для сводки аудита {stem}")
