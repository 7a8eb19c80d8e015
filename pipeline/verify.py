"""One verify for every caller: `verify`, the fixity audit and `retrieve` check bundles the same way.

A bundle is checked by validators.bundle_checks (RFC 8493, PDF/A, XSD, the seal, the
catalog's anchor); what this module adds is the one rule for what to check it
against: the anchor the catalog recorded for the bundle, and the school's seal
certificate when the home has one. Each caller differs only in where the bundle is
(a target, a folder) and what it does with the report.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pipeline.executor import worker_count
from pipeline.settings import CONFIG_NAME, Settings, load_settings, select_targets
from storage.bagformat import BAG_INFO_FILE, BagFormatError, Label, parse_bag_info
from storage.catalog import BundleRecord, list_bundles, recorded_digests
from storage.database import Database
from storage.target import StorageError, Target
from validators.bagit_rfc8493 import DirectorySource, Problem, format_report
from validators.bundle_checks import (
    RULE_CATALOG,
    RULE_PDFA,
    RULE_SEAL,
    RULE_XSD,
    BundleReport,
    check_bundle,
    check_stored_bundle,
)

NOT_IN_CATALOG = "не в каталоге"
"""How `verify --all` marks a bundle found on a target that the catalog does not know."""

__all__ = ["Verifier", "format_report", "verifier_for", "verify_catalog", "verify_folders"]


def seal_certificate(settings: Settings | None) -> Path | None:
    """The certificate seals are checked against: the school's, when the home has it; else None,
    and validators.bundle_checks trusts the certificate inside the seal (and says so)."""
    if settings is None or not settings.seal_certificate.is_file():
        return None
    return settings.seal_certificate


def tsa_certificate(settings: Settings | None) -> Path | None:
    """The TSA certificate the seals' timestamps are checked against, when the home has one."""
    if settings is None or not settings.tsa_certificate.is_file():
        return None
    return settings.tsa_certificate


@dataclass(frozen=True)
class Verifier:
    """Checks bundles of one home: against the catalog's anchors and the school's seal certificate."""

    db: Database | None  # the catalog; None outside a home (a folder from elsewhere)
    certificate: Path | None
    max_rate_mb_s: float | None = None
    deep: bool = True  # False: no PDF/A and XSD re-validation where the catalog's anchor pins the bytes
    tsa_certificate: Path | None = None  # the TSAs' trust anchors for the seals' timestamps
    at: dt.datetime | None = None  # check the seals' evidence as of this time (default: now)

    def digests(self, bundle_id: str) -> dict[str, str]:
        """What the catalog recorded for a bundle when it was archived; {} if it does not know it."""
        return recorded_digests(self.db, bundle_id) if self.db is not None and bundle_id else {}

    def stored(
        self, target: Target, record: BundleRecord, digests: dict[str, str] | None = None
    ) -> BundleReport:
        """A replica where it is stored, read in place (streamed, never unpacked). `digests` are the
        catalog's for the bundle when the caller has read them already (another thread)."""
        return check_stored_bundle(
            target,
            record.key,
            max_rate_mb_s=self.max_rate_mb_s,
            recorded_digests=self.digests(record.bundle_id) if digests is None else digests,
            seal_certificate=self.certificate,
            deep=self.deep,
            tsa_certificate=self.tsa_certificate,
            at=self.at,
        )

    def folder(self, path: Path, bundle_id: str | None = None) -> BundleReport:
        """A bundle folder on disk; its id is read from its bag-info.txt unless given."""
        if bundle_id is None:
            bundle_id = _bundle_id_of(path)
        return check_bundle(
            DirectorySource(path),
            max_rate_mb_s=self.max_rate_mb_s,
            recorded_digests=self.digests(bundle_id),
            seal_certificate=self.certificate,
            deep=self.deep,
            tsa_certificate=self.tsa_certificate,
            at=self.at,
        )


def _bundle_id_of(path: Path) -> str:
    try:
        return parse_bag_info((path / BAG_INFO_FILE).read_bytes()).get(Label.EXTERNAL_IDENTIFIER, "")
    except (OSError, BagFormatError):
        return ""  # the bag check reports an unreadable bag-info.txt


@contextmanager
def verifier_for(
    settings: Settings | None,
    max_rate_mb_s: float | None = None,
    *,
    deep: bool = True,
    at: dt.datetime | None = None,
) -> Iterator[Verifier]:
    """A Verifier of a home's catalog (when it has one) and seal certificate, open for the block."""
    exists = settings is not None and settings.has_catalog()
    db = settings.open_catalog() if exists else None
    try:
        yield Verifier(db, seal_certificate(settings), max_rate_mb_s, deep, tsa_certificate(settings), at)
    finally:
        if db is not None:
            db.close()


def settings_if_home(home: Path) -> Settings | None:
    """The settings of `home` if it is a journal-archive home; None (nothing created) otherwise."""
    return load_settings(home) if (home / CONFIG_NAME).is_file() else None


def verify_folders(
    paths: Sequence[Path],
    settings: Settings | None,
    max_rate_mb_s: float | None = None,
    *,
    deep: bool = True,
    at: dt.datetime | None = None,
) -> list[BundleReport]:
    """Bundle folders on disk; the catalog's anchor is used when this home's catalog knows the bundle."""
    with verifier_for(settings, max_rate_mb_s, deep=deep, at=at) as verifier:
        return [verifier.folder(path) for path in paths]


def verify_catalog(
    settings: Settings,
    target_names: Sequence[str] = (),
    max_rate_mb_s: float | None = None,
    on_replica: Callable[[], None] | None = None,
    *,
    deep: bool = False,
    workers: int | None = None,
    at: dt.datetime | None = None,
) -> list[BundleReport]:
    """Every bundle in the catalog on every chosen target (all by default), read in place; then every
    bundle a target holds that the catalog does not know (a run killed between storing and
    cataloguing), checked too and marked «не в каталоге» — no anchor vouches for it.

    Replicas are checked side by side, one worker per core by default (check_replicas). With
    `max_rate_mb_s` (a cap for the whole run) they run one at a time. Reports come back in
    catalog order; `on_replica` is called in this thread as each replica is done."""
    targets = select_targets(settings, target_names)
    with verifier_for(settings, max_rate_mb_s, deep=deep, at=at) as verifier:
        records = list_bundles(verifier.db) if verifier.db is not None else []
        jobs = [
            (target, record, verifier.digests(record.bundle_id)) for record in records for target in targets
        ]
        workers = 1 if max_rate_mb_s else (workers or worker_count())
        reports = check_replicas(verifier, jobs, max(1, workers), on_replica)
        known = {record.key for record in records}
        for target in targets:
            for key in _stored_keys(target, settings.school_folder):
                if key not in known:
                    reports.append(_not_in_catalog(verifier, target, key))
        return reports


Job = tuple[Target, BundleRecord, dict[str, str]]
"""One replica to check: where, which bundle, and the catalog's digests for it."""


def check_replicas(
    verifier: Verifier, jobs: Sequence[Job], workers: int, on_replica: Callable[[], None] | None = None
) -> list[BundleReport]:
    """Verifier.stored of every job on `workers` threads, reports in the jobs' order; `on_replica`
    is called in this thread as each replica is done.

    Threads, not processes: hashlib releases the GIL on large buffers, so threads hash on every
    core while one of them does the per-file Python work (listing, opening, manifests, the
    seal). Forked worker processes (this one working too) were measured for issue 13 (README,
    «Performance») and were no faster on the demo archive, while forking a large interpreter and
    copying the pages its workers touch cost ~20 ms more CPU on ~70 ms of work; fork is also
    unsafe in a process running threads (the web page, Prefect)."""
    reports: dict[int, BundleReport] = {}
    with ThreadPoolExecutor(max_workers=workers) as threads:
        futures = {threads.submit(verifier.stored, *job): i for i, job in enumerate(jobs)}
        for future in as_completed(futures):
            reports[futures[future]] = future.result()
            if on_replica is not None:
                on_replica()
    return [reports[i] for i in range(len(jobs))]


def depth_line(deep: bool) -> str:
    """Which depth ran, in words, under every verify and audit report."""
    if deep:
        return "Глубина проверки: полная — контрольные суммы, PDF/A, XML по схеме, печать, якорь каталога."
    return (
        "Глубина проверки: обычная — контрольные суммы всех файлов, печать и якорь каталога; PDF/A и XML "
        "по схеме проверены при архивировании, а совпадение сумм с якорем значит, что файлы не изменились "
        "(полная проверка: --deep). Пакет без якоря в каталоге проверяется полностью."
    )


CHECK_TITLES = {
    "RFC 8493": "BagIt (RFC 8493)",
    RULE_PDFA: "PDF/A",
    RULE_XSD: "XML по схеме",
    RULE_SEAL: "печать",
    RULE_CATALOG: "якорь каталога",
}
"""The checks of validators.bundle_checks as `verify` names them for staff."""


def checks_line(report: BundleReport, has_catalog: bool) -> str:
    """Which checks ran on one bundle and why any was left out, in Russian, for `verify`'s text output.

    `has_catalog`: the home's catalog was open — without it (a folder checked outside a
    home) no anchor can vouch for the bundle."""
    ran = ", ".join(CHECK_TITLES.get(check, check) for check in report.checks if check in CHECK_TITLES)
    skipped = []
    if RULE_PDFA not in report.checks and report.files_checked:
        skipped.append("PDF/A и XML по схеме — обычная глубина: суммы совпали с якорем (полная: --deep)")
    if RULE_SEAL not in report.checks and report.files_checked:
        skipped.append("печать — пакет не опечатан (в нём нет файла печати)")
    if RULE_CATALOG not in report.checks and report.files_checked:
        skipped.append(
            "якорь каталога — пакета нет в каталоге этого архива"
            if has_catalog
            else "якорь каталога — папка проверяется вне архива (каталога нет)"
        )
    if not report.files_checked and report.checks == ("RFC 8493",):
        skipped.append("остальные — файлы пакета не прочитаны")
    line = f"{report.bag}: проверено — {ran}"
    return line + (f"; не проверено: {'; '.join(skipped)}" if skipped else "")


def _stored_keys(target: Target, school: str | None) -> list[str]:
    """The bundles a target holds (of `school` only, when the target may be shared by several); none
    when it cannot be listed (its replicas are reported missing)."""
    try:
        keys = target.list_bundles()
    except StorageError:
        return []
    return [key for key in keys if school is None or key.startswith(f"{school}/")]


def _not_in_catalog(verifier: Verifier, target: Target, key: str) -> BundleReport:
    """A bundle on a target that the catalog does not know: its own checks, and the warning that says so."""
    report = check_stored_bundle(
        target,
        key,
        max_rate_mb_s=verifier.max_rate_mb_s,
        seal_certificate=verifier.certificate,
        tsa_certificate=verifier.tsa_certificate,
        at=verifier.at,
    )
    warning = Problem(
        "",
        RULE_CATALOG,
        f"{NOT_IN_CATALOG}: пакет {key} есть на хранилище {target.name}, но каталог его не знает "
        "(запуск прервался до записи в каталог?); проверен без отпечатка из каталога",
    )
    return dataclasses.replace(report, warnings=(warning, *report.warnings))


def replica_count(settings: Settings, target_names: Sequence[str] = ()) -> int:
    """How many replicas `verify_catalog` will check (for a progress bar)."""
    if not settings.has_catalog():
        return 0
    db = settings.open_catalog()
    try:
        return len(list_bundles(db)) * len(select_targets(settings, target_names))
    finally:
        db.close()
