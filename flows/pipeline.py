"""The archive pipeline as plain functions: extract → validate → render → bag → store ×2 → verify → catalog.

The Prefect flows in `flows.archive` only string these together and fan out per
class; everything here runs and is tested without an orchestrator (no Prefect
import). One class's failure is returned as a result, never raised, so the
other classes go on.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import functools
import hashlib
import tempfile
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from documents.bag import BagInfo, bag_readme, read_bag_info, write_bag
from documents.changes import diff_marks, format_changes, summarize_changes
from documents.csv_export import CSV_METADATA_NAME, csv_metadata, journal_csv_files
from documents.layout import sheet_count
from documents.pades import sign_payload_pdfs
from documents.pdf import render_journal_pdf
from documents.seal import SealError, seal_bag, seal_readme_text
from documents.summary import render_summary_pdf, summary_csv_files
from documents.xml_format import (
    JOURNAL_XML_NAME,
    JOURNAL_XSD_NAME,
    JOURNAL_XSD_PATH,
    journal_xml,
    read_journal_xml,
    validate_journal_xml,
)
from flows.settings import Settings
from journal.model import ClassJournal
from journal.source import SourceError, extract_class_journal, open_source, select_class_names
from storage.bagformat import PAYLOAD_DIR
from storage.catalog import (
    ANCHOR_FILE,
    BundleRecord,
    CatalogError,
    anchor_digest,
    bundle_record,
    find_bundle,
    latest_version,
    open_catalog,
    record_anchor,
    record_bundle,
    record_replica,
    supersede_period_bundles,
)
from storage.layout import bundle_id, bundle_key, safe_name
from storage.replication import complete_replicas
from storage.retention import BundleKind, retain_until, retention_class_of
from storage.targets import ReplicaStatus, StorageError, Target, replicate_bundle
from validators.journal_rules import Finding, Severity, has_errors, validate_class_journal

JOURNAL_PDF_NAME = "journal.pdf"
SUMMARY_PDF_NAME = "summary.pdf"


class ArchiveStatus:
    CREATED = "создан"
    UNCHANGED = "без изменений"
    UNDER_REPLICATED = "не на всех хранилищах"  # completed by the next run or `replicate`
    BLOCKED = "остановлен"
    FAILED = "ошибка"


@dataclass(frozen=True)
class ClassArchiveResult:
    """What happened to one class: the row of the administrator's table."""

    class_name: str
    status: str
    kind: str = ""  # storage.retention.BundleKind value
    bundle_id: str = ""
    pages: int = 0
    sheets: int = 0
    errors: int = 0
    warnings: int = 0
    replicas: tuple[tuple[str, str], ...] = ()  # (target, status)
    message: str = ""
    findings: tuple[Finding, ...] = field(default=(), repr=False)

    @property
    def findings_summary(self) -> str:
        """«0 ошибок, 2 предупреждения в журнале», or "" when the journal broke no rule."""
        if not self.errors and not self.warnings:
            return ""
        return f"{Severity.ERROR.count(self.errors)}, {Severity.WARNING.count(self.warnings)} в журнале"

    @property
    def ok(self) -> bool:
        return self.status in (ArchiveStatus.CREATED, ArchiveStatus.UNCHANGED)


@dataclass(frozen=True)
class Payload:
    """The files of data/ and what the PDF came to."""

    files: dict[str, bytes]
    pages: int
    sheets: int


PAYLOAD_DESCRIPTIONS = {
    JOURNAL_PDF_NAME: "Классный журнал для печати, PDF/A-3b: титульный лист с содержанием и числом листов, "
    "листы отметок и содержания уроков, отчёты, заверительный лист. Внутри PDF вложены те же данные "
    "в CSV и XML.",
    JOURNAL_XML_NAME: "Все данные журнала в XML; структура описана в journal.xsd.",
    JOURNAL_XSD_NAME: "XML-схема (XSD) файла journal.xml: по ней любой проверяющий XML-инструмент "
    "убедится, что файл полон и правилен.",
    CSV_METADATA_NAME: "Описание таблиц CSV (W3C CSVW): названия и типы столбцов, связи таблиц.",
    SUMMARY_PDF_NAME: "Сводные ведомости итоговых оценок и посещаемости для печати, PDF/A-3b: "
    "титульный лист с содержанием и числом листов, ведомости, заверительный лист. "
    "Внутри PDF вложены те же данные в CSV и XML.",
}
CSV_DESCRIPTION = "Таблица данных журнала в CSV (UTF-8, RFC 4180); столбцы описаны в csv-metadata.json."


def fingerprint(xml: bytes) -> str:
    """The source fingerprint: the XML carries every field of the snapshot, so equal XML = equal data."""
    return "sha256:" + hashlib.sha256(xml).hexdigest()


def render_payload(journal: ClassJournal, work: Path, xml: bytes, *, duplex: bool = False) -> Payload:
    """Every file of the bundle's data/: PDF/A, CSV tables with CSVW metadata, XML with its XSD (R5).

    The PDF carries the other files inside it as PDF/A-3 associated files, so it alone holds
    the data; `duplex` counts its sheets for two-sided printing."""
    problems = validate_journal_xml(xml)
    if problems:
        raise ValueError(f"journal.xml не соответствует схеме: {problems[0]}")
    files = dict(journal_csv_files(journal))
    files[CSV_METADATA_NAME] = csv_metadata(journal)
    files[JOURNAL_XML_NAME] = xml
    files[JOURNAL_XSD_NAME] = JOURNAL_XSD_PATH.read_bytes()
    pdf_path = work / JOURNAL_PDF_NAME
    rendered = render_journal_pdf(journal, pdf_path, attachments=files, duplex=duplex)
    files[JOURNAL_PDF_NAME] = pdf_path.read_bytes()
    return Payload(files=files, pages=rendered.pages, sheets=rendered.sheets)


def render_summary_payload(journal: ClassJournal, work: Path, xml: bytes, *, duplex: bool = False) -> Payload:
    """The 25-year bundle's data/: the сводные ведомости as PDF/A-3b, their CSV, the year's XML (R3, R6)."""
    files = dict(summary_csv_files(journal))
    files[JOURNAL_XML_NAME] = xml
    files[JOURNAL_XSD_NAME] = JOURNAL_XSD_PATH.read_bytes()
    pdf_path = work / SUMMARY_PDF_NAME
    pages = render_summary_pdf(journal, pdf_path, attachments=files)
    files[SUMMARY_PDF_NAME] = pdf_path.read_bytes()
    return Payload(files=files, pages=pages, sheets=sheet_count(pages, duplex))


def payload_descriptions(files: dict[str, bytes]) -> dict[str, str]:
    return {name: PAYLOAD_DESCRIPTIONS.get(name, CSV_DESCRIPTION) for name in files}


def previous_snapshot(targets: list[Target], record: BundleRecord) -> ClassJournal | None:
    """The snapshot a previous version archived, read back from the first target that has it."""
    for target in targets:
        try:
            data = target.read_file(record.key, f"{PAYLOAD_DIR}/{JOURNAL_XML_NAME}")
            return read_journal_xml(data, f"{target.name}:{record.key}/{PAYLOAD_DIR}/{JOURNAL_XML_NAME}")
        except Exception:
            continue
    return None


def class_names_for(
    settings: Settings, year: str, period: str | None, class_names: Sequence[str] | None = None
) -> tuple[str, ...]:
    """The classes to archive: `class_names`, or every class whose year is split into `period` (J4)."""
    engine = open_source(settings.source_url)
    try:
        return select_class_names(engine, year, period, tuple(class_names or ()))
    finally:
        engine.dispose()


def archive_period_class(settings: Settings, year: str, class_name: str, period: str) -> ClassArchiveResult:
    """Archive one class's journal for one reporting period (R1, R5, R7, R8, R9); never raises."""
    try:
        return _archive_period_class(settings, year, class_name, period)
    except Exception as error:  # one class's failure must not stop the others
        return failed_result(class_name, BundleKind.PERIOD, error)


OWN_ERRORS = (SourceError, SealError, StorageError, CatalogError)
"""Errors whose message is already worded for the administrator."""


def failed_result(class_name: str, kind: BundleKind, error: Exception) -> ClassArchiveResult:
    """A class that could not be archived: our own errors speak for themselves, others show their type."""
    if isinstance(error, OWN_ERRORS):
        detail = str(error)
    else:
        detail = "".join(traceback.format_exception_only(error)).strip()
    return ClassArchiveResult(class_name, ArchiveStatus.FAILED, kind=kind, message=detail)


@contextlib.contextmanager
def class_lock(settings: Settings, year: str, class_name: str) -> Iterator[None]:
    """Serialise runs for one class and year across processes: two runs never make two versions."""
    settings.locks_dir.mkdir(parents=True, exist_ok=True)
    path = settings.locks_dir / f"{safe_name(year)}-{safe_name(class_name)}.lock"
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _archive_period_class(settings: Settings, year: str, class_name: str, period: str) -> ClassArchiveResult:
    engine = open_source(settings.source_url)
    try:
        journal = extract_class_journal(engine, year, class_name, period)
    finally:
        engine.dispose()
    # The names as the journal spells them («q1» asked → Q1, «5a» → 5А): ids, keys and locks use these.
    year, class_name, period = journal.year.name, journal.school_class.name, journal.period.code
    findings = validate_class_journal(journal)
    if settings.block_on_errors and has_errors(findings):
        return blocked_result(class_name, findings)
    plan = BundlePlan(
        kind=BundleKind.PERIOD,
        span_code=period,
        description=f"Электронный классный журнал {class_name} класса, {journal.span_name} {year}",
        render=functools.partial(render_payload, duplex=settings.duplex),
    )
    with class_lock(settings, year, class_name):
        return store_bundle(settings, journal, plan, findings)


@dataclass(frozen=True)
class BundlePlan:
    """One bundle of a class: its kind, its span code in bag-info and ids, and how its data/ is rendered."""

    kind: BundleKind
    span_code: str  # Q1…, or the year bundles' codes
    description: str  # External-Description, and the README's title
    render: Callable[[ClassJournal, Path, bytes], Payload]
    seal: bool = False


def finding_fields(findings: Sequence[Finding]) -> dict[str, object]:
    errors = sum(f.severity is Severity.ERROR for f in findings)
    return {"errors": errors, "warnings": len(findings) - errors, "findings": tuple(findings)}


def blocked_result(class_name: str, findings: Sequence[Finding], kind: str = "") -> ClassArchiveResult:
    """A class whose journal has errors, when errors block archiving: the row names the first error."""
    first_error = next(f for f in findings if f.severity is Severity.ERROR)
    return ClassArchiveResult(
        class_name, ArchiveStatus.BLOCKED, kind=kind, message=first_error.message, **finding_fields(findings)
    )


def store_bundle(
    settings: Settings, journal: ClassJournal, plan: BundlePlan, findings: Sequence[Finding]
) -> ClassArchiveResult:
    """Render, bag, store on every target, verify and catalogue one bundle, unless it is unchanged (R9).

    The caller holds the class lock, so two runs never race for the same version.
    """
    year, class_name = journal.year.name, journal.school_class.name
    counts = finding_fields(findings)
    targets = settings.targets()
    xml = journal_xml(journal)
    source_fingerprint = fingerprint(xml)
    catalog = open_catalog(settings.catalog_path)
    try:
        school = safe_name(journal.school.short_name)
        latest = latest_version(catalog, year, class_name, plan.span_code, plan.kind, school=school)
        if latest is not None and latest.source_fingerprint == source_fingerprint:
            # Nothing new to write; complete the copies an earlier run could not make (R8).
            repairs = complete_replicas(catalog, targets, settings.work_dir, [latest])
            problems = [problem for repair in repairs for problem in repair.problems]
            return ClassArchiveResult(
                class_name,
                ArchiveStatus.UNDER_REPLICATED if problems else ArchiveStatus.UNCHANGED,
                kind=plan.kind,
                bundle_id=latest.bundle_id,
                replicas=tuple((r.target, str(r.status)) for r in repairs),
                message="; ".join(problems),
                **counts,
            )
        version = latest.version + 1 if latest else 1
        bundle = bundle_id(year, class_name, plan.span_code, version)
        key = bundle_key(school, year, class_name, bundle)
        changes_text = None
        changes_summary = ""
        if latest is not None:
            old = previous_snapshot(targets, latest)
            changes = diff_marks(old, journal) if old is not None else []
            changes_text = format_changes(changes, latest.bundle_id)
            changes_summary = summarize_changes(changes)

        settings.work_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=f"{bundle}-", dir=settings.work_dir) as work_name:
            work = Path(work_name)
            payload = plan.render(journal, work, xml)
            if plan.seal:  # the year's PDFs: the school's PAdES signature after the rendered bytes
                sign_payload_pdfs(
                    payload.files,
                    settings.seal_key,
                    settings.seal_certificate,
                    signer_name=journal.school.name,
                    tsa_url=settings.tsa_url,
                    trust=[p for p in (settings.seal_certificate, settings.tsa_certificate) if p.is_file()],
                )
            retention = retention_class_of(plan.kind)
            info = BagInfo(
                source_organization=journal.school.name,
                organization_address=journal.school.address,
                external_description=plan.description,
                external_identifier=bundle,
                academic_year=year,
                school_class=class_name,
                period_code=plan.span_code,
                period=journal.span_name,
                bundle_kind=plan.kind,
                bundle_version=version,
                retention_class=retention,
                retain_until=retain_until(journal.year.end, retention),
                source_fingerprint=source_fingerprint,
                bagging_date=journal.end,
                supersedes=latest.bundle_id if latest else "",
                changes=changes_summary,
            )
            readme = bag_readme(
                plan.description,
                bundle,
                payload_descriptions(payload.files),
                has_changes=changes_text is not None,
            )
            if plan.seal:
                readme += "\n" + seal_readme_text()
            bag_dir = write_bag(work / bundle, payload.files, info, readme, changes_text)
            if plan.seal:  # a sealed bag is never modified again (R2, R3, R7)
                seal_bag(  # the real time of sealing, proven by the TSA's timestamp when one is configured
                    bag_dir,
                    settings.seal_key,
                    settings.seal_certificate,
                    tsa_url=settings.tsa_url,
                    tsa_certificate=settings.tsa_certificate,
                )
            replicas = replicate_bundle(targets, key, bag_dir)
            if any(replica.status == ReplicaStatus.VERIFIED for replica in replicas):
                # Catalogued only once at least one verified copy exists; otherwise the next run retries.
                record_bundle(
                    catalog, bundle_record(key, read_bag_info(bag_dir), changes_text or "", sealed=plan.seal)
                )
                with (bag_dir / ANCHOR_FILE).open("rb") as anchor:  # what a rewritten bag cannot match (R7)
                    record_anchor(catalog, bundle, anchor_digest(anchor))
                checked_at = dt.datetime.now(dt.UTC)
                for replica in replicas:
                    record_replica(
                        catalog, bundle, replica.target, replica.status, checked_at, replica.problems
                    )
    finally:
        catalog.close()
    verified = [r for r in replicas if r.status == ReplicaStatus.VERIFIED]
    status = ArchiveStatus.CREATED if len(verified) == len(replicas) else ArchiveStatus.UNDER_REPLICATED
    if not verified:
        status = ArchiveStatus.FAILED
    return ClassArchiveResult(
        class_name,
        status,
        kind=plan.kind,
        bundle_id=bundle,
        pages=payload.pages,
        sheets=payload.sheets,
        replicas=tuple((replica.target, str(replica.status)) for replica in replicas),
        message="; ".join(problem for replica in replicas for problem in replica.problems),
        **counts,
    )


# --- The year archive (R2, R3, R6) ---------------------------------------------------

YEAR_SPAN = "year"
SUMMARY_SPAN = "summary"


def archive_year_class(
    settings: Settings, year: str, class_name: str, *, allow_errors: bool = False
) -> list[ClassArchiveResult]:
    """Seal a class's year: the whole journal (5 years, R2) and its summary sheets (25 years, R3).

    Validation errors stop the class unless `allow_errors` (the documented override):
    a sealed bundle is never changed again, so it should not seal known mistakes by accident.
    Never raises; a failure is the class's result.
    """
    try:
        engine = open_source(settings.source_url)
        try:
            journal = extract_class_journal(engine, year, class_name, None)
        finally:
            engine.dispose()
        findings = validate_class_journal(journal)
        if has_errors(findings) and not allow_errors:
            return [blocked_result(class_name, findings, kind=BundleKind.YEAR)]
        plans = (
            BundlePlan(
                kind=BundleKind.YEAR,
                span_code=YEAR_SPAN,
                description=f"Классный журнал {class_name} класса за {year} учебный год",
                render=functools.partial(render_payload, duplex=settings.duplex),
                seal=True,
            ),
            BundlePlan(
                kind=BundleKind.SUMMARY,
                span_code=SUMMARY_SPAN,
                description=f"Сводные ведомости итоговых оценок и посещаемости {class_name} класса "
                f"за {year} учебный год",
                render=functools.partial(render_summary_payload, duplex=settings.duplex),
                seal=True,
            ),
        )
        with class_lock(settings, year, class_name):
            results = [store_bundle(settings, journal, plan, findings) for plan in plans]
            if all(result.ok for result in results):
                catalog = open_catalog(settings.catalog_path)
                try:
                    supersede_period_bundles(catalog, find_bundle(catalog, results[0].bundle_id))
                finally:
                    catalog.close()
        return results
    except Exception as error:  # one class's failure must not stop the others
        return [failed_result(class_name, BundleKind.YEAR, error)]
