"""The archive pipeline as plain functions: extract → validate → render → bag → store ×2 → verify → catalog.

The Prefect flows in `flows.archive` only string these together and fan out per
class; everything here runs and is tested without an orchestrator (no Prefect
import). One class's failure is returned as a result, never raised, so the
other classes go on.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import fcntl
import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from documents.bag import BagInfo, bag_readme, read_bag_info, write_bag
from documents.changes import diff_marks, format_changes, summarize_changes
from documents.kinds import PERIOD, BundleKindSpec, Payload, build_payload, kind_title, year_end_kinds
from documents.seal import SealError, seal_bag, seal_readme_text
from documents.xml_format import JOURNAL_XML_NAME, JournalXmlError, journal_xml, read_journal_xml
from journal.model import ClassJournal
from journal.russian import count_words
from journal.source import (
    SourceError,
    count_class_lessons,
    extract_class_journal,
    list_classes,
    open_source,
    select_class_names,
)
from pipeline.errors import ClassNameClash, PreviousVersionUnreadable, staff_message
from pipeline.executor import Executor
from pipeline.fingerprints import remember_fingerprint, remembered_fingerprint, snapshot_key
from pipeline.settings import Settings, schools_to_run
from pipeline.workspace import clean_stale_work
from storage.bagformat import PAYLOAD_DIR, manifest_name
from storage.catalog import (
    ANCHOR_FILE,
    BundleRecord,
    CatalogError,
    anchor_digest,
    bundle_record,
    find_bundle,
    latest_version,
    list_bundles,
    record_anchor,
    record_bundle,
    record_replica,
    supersede_period_bundles,
)
from storage.database import Database, advisory_lock
from storage.layout import bundle_id, bundle_key, safe_name, work_prefix
from storage.modes import PRIVATE_FILE_MODE, private_dir
from storage.replication import complete_replicas, fetch_bundle
from storage.retention import BundleKind, retain_until
from storage.target import (
    Replica,
    ReplicaStatus,
    StorageError,
    Target,
    replicate_bundle,
    verify_stored_bundle,
)
from validators.journal_rules import (
    FINDINGS_FILE_DESCRIPTIONS,
    Finding,
    JournalDataError,
    Severity,
    findings_files,
    has_errors,
    validate_class_journal,
)


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
    kind: str = ""  # documents.kinds: the bundle kind
    bundle_id: str = ""
    pages: int = 0
    sheets: int = 0
    errors: int = 0
    warnings: int = 0
    replicas: tuple[tuple[str, str], ...] = ()  # (target, status)
    message: str = ""
    findings: tuple[Finding, ...] = field(default=(), repr=False)
    school: str = ""  # the school's name when the configuration has several ([[schools]])
    message_is_journal_data: bool = False  # the message quotes the journal (a student, a mark): not logged

    @property
    def findings_summary(self) -> str:
        """«0 ошибок, 2 предупреждения в журнале», or "" when the journal broke no rule."""
        if not self.errors and not self.warnings:
            return ""
        return f"{Severity.ERROR.count(self.errors)}, {Severity.WARNING.count(self.warnings)} в журнале"

    @property
    def ok(self) -> bool:
        return self.status in (ArchiveStatus.CREATED, ArchiveStatus.UNCHANGED)

    @property
    def line(self) -> str:
        """The bundle's outcome in one Russian line (the Prefect log): class, kind, bundle id and counts,
        never a student's name or a mark (152-ФЗ, A2) — a message quoting the journal is left to the
        administrator's table and `check`."""
        parts = [f"{self.class_name} · {kind_title(self.kind)}: {self.status}"]
        if self.bundle_id:
            parts.append(self.bundle_id)
        if self.sheets:
            parts.append(count_words(self.sheets, "лист", "листа", "листов"))
        if self.findings_summary:
            parts.append(self.findings_summary)
        if self.message and self.message_is_journal_data:
            parts.append(f"подробности: journal-archive check --class {self.class_name}")
        elif self.message:
            parts.append(self.message)
        return "; ".join(parts)


def result_data(result: ClassArchiveResult) -> dict[str, object]:
    """A class's result as plain JSON data: how it travels back from a flow run on another machine."""
    data = dataclasses.asdict(result)
    data["findings"] = [
        {**dataclasses.asdict(f), "severity": str(f.severity), "date": f.date.isoformat() if f.date else None}
        for f in result.findings
    ]
    return data


def result_from_data(data: dict[str, object]) -> ClassArchiveResult:
    """The result `result_data` wrote, as it was."""
    findings = tuple(
        Finding(
            **{
                **f,
                "severity": Severity(f["severity"]),
                "date": dt.date.fromisoformat(f["date"]) if f["date"] else None,
            }
        )
        for f in data.get("findings", ())  # type: ignore[union-attr]
    )
    replicas = tuple((str(target), str(status)) for target, status in data.get("replicas", ()))  # type: ignore[union-attr]
    return ClassArchiveResult(**{**data, "findings": findings, "replicas": replicas})  # type: ignore[arg-type]


def outcome_line(results: Sequence[ClassArchiveResult]) -> str:
    """«Без сбоев: 3 пакета из 4.» under the administrator's table."""
    ok = count_words(sum(r.ok for r in results), "пакет", "пакета", "пакетов")
    return f"Без сбоев: {ok} из {len(results)}."


def previous_snapshot(targets: Sequence[Target], record: BundleRecord) -> ClassJournal:
    """The snapshot a previous version archived, read back from the first target that has it intact.

    CHANGES.txt of the new version states what changed against this snapshot (R9); if no
    target yields it, the class fails rather than claim «Отметки не изменились»."""
    path = f"{PAYLOAD_DIR}/{JOURNAL_XML_NAME}"
    reasons = []
    for target in targets:
        try:
            data = target.read_file(record.key, path)
            return read_journal_xml(data, f"{target.name}:{record.key}/{path}")
        except Exception as error:  # any unreadable copy: try the next target, then fail loudly
            reasons.append(f"{target.name}: {error}")
    raise PreviousVersionUnreadable(
        f"Предыдущая версия {record.bundle_id} не читается ни на одном хранилище ({'; '.join(reasons)}), "
        "поэтому нельзя установить, что изменилось: новая версия не записана. Восстановите копию "
        "(journal-archive audit) и повторите архивирование."
    )


def class_names_for(
    settings: Settings, year: str, period: str | None, class_names: Sequence[str] | None = None
) -> tuple[str, ...]:
    """The classes to archive: `class_names`, or every class whose year is split into `period` (J4)."""
    engine = open_source(settings.source_url)
    try:
        return select_class_names(engine, year, period, tuple(class_names or ()))
    finally:
        engine.dispose()


def class_lesson_counts(
    settings: Settings, year: str, period: str | None, class_names: Sequence[str]
) -> dict[str, int]:
    """Each class's lessons in the period (the year with None): how much its archive renders."""
    engine = open_source(settings.source_url)
    try:
        return count_class_lessons(engine, year, period, class_names)
    finally:
        engine.dispose()


def school_classes(
    settings: Settings, school: str | None, year: str, period: str | None, class_names: Sequence[str] | None
) -> list[tuple[Settings, tuple[str, ...]]]:
    """(a school's settings, its classes to archive) for the school named, or for every school of
    the configuration when none is ([[schools]]); a one-school configuration is that school."""
    return [
        (one, class_names_for(one, year, period, class_names)) for one in schools_to_run(settings, school)
    ]


OWN_ERRORS = (
    SourceError,
    SealError,
    StorageError,
    CatalogError,
    PreviousVersionUnreadable,
    ClassNameClash,
    JournalXmlError,
    JournalDataError,
)
"""Errors whose message is already worded for the administrator (bad journal data among them)."""
JOURNAL_DATA_ERRORS = (JournalDataError, JournalXmlError)
"""Errors whose message may quote the journal (a student, a mark): shown to staff, never logged."""


def failed_result(class_name: str, kind: str, error: Exception) -> ClassArchiveResult:
    """A class that could not be archived: our own errors speak for themselves; anything else is a
    fault of the program, told in Russian without Python's names, its traceback going to the log."""
    detail = staff_message(error, OWN_ERRORS, context=f"class {class_name}")
    quotes_journal = isinstance(error, JOURNAL_DATA_ERRORS)
    return ClassArchiveResult(
        class_name, ArchiveStatus.FAILED, kind=kind, message=detail, message_is_journal_data=quotes_journal
    )


def lost_result(class_name: str, period: str | None, reason: str) -> ClassArchiveResult:
    """A class whose run elsewhere (a work pool's flow run) ended without a result, `reason` saying how."""
    kind = BundleKind.PERIOD if period else BundleKind.YEAR
    return ClassArchiveResult(
        class_name,
        ArchiveStatus.FAILED,
        kind=kind,
        message=f"{reason}; пакет не записан, повторите архивирование этого класса",
    )


def school_folder(settings: Settings, journal: ClassJournal) -> str:
    """The school's folder in bundle keys: the configured school's, else the journal's school name."""
    return settings.school_folder or safe_name(journal.school.short_name)


@contextlib.contextmanager
def class_lock(settings: Settings, year: str, class_name: str, school: str = "") -> Iterator[None]:
    """Serialise runs for one school's class and year: two runs never make two versions.

    With a PostgreSQL catalog the lock is the catalog server's advisory lock, so runs on
    different machines wait for each other; with the embedded catalog, a lock file in the home."""
    if settings.catalog_url:
        with advisory_lock(settings.catalog_url, "class", school, safe_name(year), safe_name(class_name)):
            yield
        return
    private_dir(settings.locks_dir)
    prefix = f"{safe_name(school)}-" if school else ""
    path = settings.locks_dir / f"{prefix}{safe_name(year)}-{safe_name(class_name)}.lock"
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, PRIVATE_FILE_MODE), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def finding_fields(findings: Sequence[Finding]) -> dict[str, object]:
    errors = sum(f.severity is Severity.ERROR for f in findings)
    return {"errors": errors, "warnings": len(findings) - errors, "findings": tuple(findings)}


def blocked_result(class_name: str, findings: Sequence[Finding], kind: str = "") -> ClassArchiveResult:
    """A class whose journal has errors, when errors block archiving: the row names the first error."""
    first_error = next(f for f in findings if f.severity is Severity.ERROR)
    return ClassArchiveResult(
        class_name,
        ArchiveStatus.BLOCKED,
        kind=kind,
        message=first_error.message,
        message_is_journal_data=True,
        **finding_fields(findings),
    )


# --- The steps of one bundle: extract → render → bag → seal → store → record ----------------


def fingerprint(xml: bytes) -> str:
    """The source fingerprint: the XML carries every field of the snapshot, so equal XML = equal data."""
    return "sha256:" + hashlib.sha256(xml).hexdigest()


def extract_journal(settings: Settings, year: str, class_name: str, period: str | None) -> ClassJournal:
    """One class's snapshot for a reporting period, or for the whole year when `period` is None.

    A class whose name gives the same bundle ids and folders as another class's of the year
    («5А/..» and «5А» both give `5a`) is refused, naming both: two classes never share an id.
    """
    engine = open_source(settings.source_url)
    try:
        journal = extract_class_journal(engine, year, class_name, period)
        check_distinct_class_id(journal.school_class.name, [c.name for c in list_classes(engine, year)])
        return journal
    finally:
        engine.dispose()


def check_distinct_class_id(class_name: str, year_classes: Sequence[str]) -> None:
    """ClassNameClash when another class of the year maps to the same name in bundle ids and keys."""
    own = safe_name(class_name)
    others = [name for name in year_classes if name != class_name and safe_name(name) == own]
    if others:
        names = ", ".join(f"«{name}»" for name in [class_name, *others])
        raise ClassNameClash(
            f"Классы {names} получают один и тот же идентификатор пакета и папку («{own}»): "
            "архивы разных классов смешались бы. Переименуйте класс в журнале так, чтобы названия "
            "различались буквами или цифрами."
        )


@dataclass(frozen=True)
class NewVersion:
    """The version a run is about to write, and what it says about the one it supersedes (R9)."""

    bundle_id: str
    key: str
    version: int
    supersedes: str = ""
    changes_text: str | None = None  # CHANGES.txt; None for a first version
    changes_summary: str = ""  # bag-info `Changes`


def next_version(
    targets: Sequence[Target],
    latest: BundleRecord | None,
    journal: ClassJournal,
    spec: BundleKindSpec,
    school: str = "",
) -> NewVersion:
    """Id, key and version of the bundle to write, with the mark changes against `latest` (R9).

    `school` is the folder the key starts with (school_folder); by default the journal's school name."""
    year, class_name = journal.year.name, journal.school_class.name
    version = latest.version + 1 if latest else 1
    bundle = bundle_id(year, class_name, spec.span_code(journal), version)
    key = bundle_key(school or safe_name(journal.school.short_name), year, class_name, bundle)
    if latest is None:
        return NewVersion(bundle, key, version)
    changes = diff_marks(previous_snapshot(targets, latest), journal)
    return NewVersion(
        bundle,
        key,
        version,
        supersedes=latest.bundle_id,
        changes_text=format_changes(changes, latest.bundle_id),
        changes_summary=summarize_changes(changes),
    )


def with_findings(payload: Payload, journal: ClassJournal, findings: Sequence[Finding]) -> Payload:
    """The payload plus the journal check as archived (journal-check.txt and .json): what was wrong with
    the journal then stays with it, since marks are archived as they are and never corrected (R9)."""
    span = f"{journal.span_name} {journal.year.name}" if journal.period else journal.span_name
    title = f"Проверка журнала {journal.school_class.name} класса: {span}"
    files = {**payload.files, **findings_files(findings, title=title)}
    return Payload(files=files, pages=payload.pages, sheets=payload.sheets)


def bag_bundle(
    work: Path,
    journal: ClassJournal,
    spec: BundleKindSpec,
    version: NewVersion,
    payload: Payload,
    source_fingerprint: str,
    bagged_on: dt.date,
) -> Path:
    """Pack `payload` as the BagIt bag of `version`, with bag-info, a Russian README.txt and CHANGES.txt.

    `bagged_on` is the real day of bagging (bag-info Bagging-Date); file times come from the data."""
    description = spec.describe(journal)
    info = BagInfo(
        source_organization=journal.school.name,
        organization_address=journal.school.address,
        external_description=description,
        external_identifier=version.bundle_id,
        academic_year=journal.year.name,
        school_class=journal.school_class.name,
        period_code=spec.span_code(journal),
        period=journal.span_name,
        bundle_kind=spec.kind,
        bundle_version=version.version,
        retention_class=spec.retention_class,
        retain_until=retain_until(journal.year.end, spec.retention_class),
        source_fingerprint=source_fingerprint,
        bagging_date=bagged_on,
        data_date=journal.end,
        supersedes=version.supersedes,
        changes=version.changes_summary,
    )
    readme = bag_readme(
        description,
        version.bundle_id,
        {**spec.describe_files(list(payload.files)), **_present(FINDINGS_FILE_DESCRIPTIONS, payload.files)},
        has_changes=version.changes_text is not None,
    )
    if spec.sealed:
        readme += "\n" + seal_readme_text()
    return write_bag(work / version.bundle_id, payload.files, info, readme, version.changes_text)


def sign_pdfs(settings: Settings, payload: Payload, journal: ClassJournal) -> None:
    """The school's PAdES signature on the payload's PDFs, an incremental update after the rendered,
    reproducible bytes (B-T with the TSA when one is configured, B-LT validation data)."""
    from documents.pades import sign_payload_pdfs  # pyHanko: imported by the runs that sign, not the checks

    sign_payload_pdfs(
        payload.files,
        settings.seal_key,
        settings.seal_certificate,
        signer_name=journal.school.name,
        tsa_url=settings.tsa_url,
        trust=[p for p in (settings.seal_certificate, settings.tsa_certificate) if p.is_file()],
    )


def seal_bundle(settings: Settings, bag_dir: Path) -> None:
    """Seal a complete bag with the school's key at the real time of sealing, proven by the TSA's
    timestamp when one is configured; a sealed bag is never modified again (R2, R3, R7)."""
    seal_bag(
        bag_dir,
        settings.seal_key,
        settings.seal_certificate,
        tsa_url=settings.tsa_url,
        tsa_certificate=settings.tsa_certificate,
    )


def store_replicas(targets: Sequence[Target], key: str, bag_dir: Path) -> list[Replica]:
    """Write the bag to every target and read each copy back against its manifests (R7, R8)."""
    return replicate_bundle(list(targets), key, bag_dir)


def claim_version(
    settings: Settings,
    targets: Sequence[Target],
    work: Path,
    journal: ClassJournal,
    spec: BundleKindSpec,
    version: NewVersion,
    payload: Payload,
    source_fingerprint: str,
    bagged_on: dt.date,
) -> tuple[Path, NewVersion]:
    """The bag to store and its version, so that one bundle id names one content on every target (R9).

    A run killed after a bundle reached a target but before the catalog recorded it leaves
    that bundle under the id this run would use. If every copy found there holds the payload
    this run would write (the same data/ manifest) and one of them verifies, that copy is
    adopted: fetched and stored on the other targets as it is, seal included. Otherwise the
    id is taken by another content, and this run writes the next version instead, on every
    target; the bundle it passes over stays where it is (`verify --all`: «не в каталоге»).
    """
    while True:
        bag_dir = bag_bundle(work, journal, spec, version, payload, source_fingerprint, bagged_on)
        holders = [target for target in targets if _holds(target, version.key)]
        if not holders:
            if spec.sealed:
                seal_bundle(settings, bag_dir)
            return bag_dir, version
        adopted = adopt_stored(holders, version.key, bag_dir, work / f"adopted-{version.bundle_id}")
        if adopted is not None:
            return adopted, version
        number = version.version + 1
        bundle = bundle_id(journal.year.name, journal.school_class.name, spec.span_code(journal), number)
        key = bundle_key(
            school_folder(settings, journal), journal.year.name, journal.school_class.name, bundle
        )
        version = dataclasses.replace(version, bundle_id=bundle, key=key, version=number)


def adopt_stored(holders: Sequence[Target], key: str, bag_dir: Path, destination: Path) -> Path | None:
    """A verified copy of the bundle at `key` fetched into `destination`, if every holder's copy has
    the payload of `bag_dir` (the same data/ manifest); None if any differs or none verifies."""
    manifest = manifest_name("sha256")
    ours = (bag_dir / manifest).read_bytes()
    try:
        if any(target.read_file(key, manifest) != ours for target in holders):
            return None
    except (OSError, StorageError):
        return None
    for target in holders:
        try:
            if not verify_stored_bundle(target, key):
                return fetch_bundle(target, key, destination)
        except (OSError, StorageError):
            continue
    return None


def _holds(target: Target, key: str) -> bool:
    """Whether a target holds `key`; an unreachable target holds nothing (storing there fails anyway)."""
    try:
        return target.has_bundle(key)
    except StorageError:
        return False


def record_stored_bundle(
    catalog: Database,
    key: str,
    bag_dir: Path,
    version: NewVersion,
    replicas: Sequence[Replica],
    sealed: bool,
) -> None:
    """Catalogue a bundle with at least one verified copy: its record, anchor and replicas (R7)."""
    info = read_bag_info(bag_dir)
    record_bundle(catalog, bundle_record(key, info, version.changes_text or "", sealed=sealed))
    with (bag_dir / ANCHOR_FILE).open("rb") as anchor:  # what a rewritten bag cannot match (R7)
        record_anchor(catalog, version.bundle_id, anchor_digest(anchor))
    checked_at = dt.datetime.now(dt.UTC)
    for replica in replicas:
        record_replica(
            catalog, version.bundle_id, replica.target, replica.status, checked_at, replica.problems
        )


def _present(descriptions: dict[str, str], files: dict[str, bytes]) -> dict[str, str]:
    return {name: text for name, text in descriptions.items() if name in files}


def _replica_rows(replicas: Sequence[Replica]) -> tuple[tuple[str, str], ...]:
    return tuple((replica.target, str(replica.status)) for replica in replicas)


def local_today() -> dt.date:
    """Today in this machine's time zone: the day an act (bagging, sealing) happens here."""
    return dt.datetime.now().astimezone().date()


def archive_bundle(
    settings: Settings,
    journal: ClassJournal,
    spec: BundleKindSpec,
    findings: Sequence[Finding],
    *,
    today: Callable[[], dt.date] | None = None,
    xml: bytes | None = None,
) -> ClassArchiveResult:
    """One bundle of a class, start to end, unless it is unchanged (R9): the steps above in order.

    The caller holds the class lock, so two runs never race for the same version. `today` is the
    clock of the acts recorded in the bundle (default: local_today); `xml` is the journal's
    journal.xml when the caller made it already (the year's kinds share one snapshot).
    """
    class_name = journal.school_class.name
    counts = finding_fields(findings)
    targets = settings.targets()
    xml = journal_xml(journal) if xml is None else xml
    source_fingerprint = fingerprint(xml)
    remember_fingerprint(settings.fingerprints_path, snapshot_key(journal), source_fingerprint)
    catalog = settings.open_catalog()
    try:
        latest = latest_version(
            catalog,
            journal.year.name,
            class_name,
            spec.span_code(journal),
            spec.kind,
            school=school_folder(settings, journal),
        )
        if latest is not None and latest.source_fingerprint == source_fingerprint:
            # Nothing new to write; complete the copies an earlier run could not make (R8).
            repairs = complete_replicas(catalog, targets, settings.work_dir, [latest])
            problems = [problem for repair in repairs for problem in repair.problems]
            return ClassArchiveResult(
                class_name,
                ArchiveStatus.UNDER_REPLICATED if problems else ArchiveStatus.UNCHANGED,
                kind=spec.kind,
                bundle_id=latest.bundle_id,
                replicas=tuple((r.target, str(r.status)) for r in repairs),
                message="; ".join(problems),
                **counts,
            )
        version = next_version(targets, latest, journal, spec, school_folder(settings, journal))
        private_dir(settings.work_dir)
        with tempfile.TemporaryDirectory(
            prefix=work_prefix(version.bundle_id), dir=settings.work_dir
        ) as work_name:
            work = Path(work_name)
            payload = build_payload(spec, journal, work, xml, duplex=settings.duplex)
            if spec.sealed:
                sign_pdfs(settings, payload, journal)
            payload = with_findings(payload, journal, findings)
            bag_dir, version = claim_version(
                settings,
                targets,
                work,
                journal,
                spec,
                version,
                payload,
                source_fingerprint,
                (today or local_today)(),
            )
            replicas = store_replicas(targets, version.key, bag_dir)
            if any(replica.status == ReplicaStatus.VERIFIED for replica in replicas):
                # Catalogued only once at least one verified copy exists; otherwise the next run retries.
                record_stored_bundle(catalog, version.key, bag_dir, version, replicas, spec.sealed)
    finally:
        catalog.close()
    verified = [r for r in replicas if r.status == ReplicaStatus.VERIFIED]
    status = ArchiveStatus.CREATED if len(verified) == len(replicas) else ArchiveStatus.UNDER_REPLICATED
    if not verified:
        status = ArchiveStatus.FAILED
    return ClassArchiveResult(
        class_name,
        status,
        kind=spec.kind,
        bundle_id=version.bundle_id,
        pages=payload.pages,
        sheets=payload.sheets,
        replicas=_replica_rows(replicas),
        message="; ".join(problem for replica in replicas for problem in replica.problems),
        **counts,
    )


# --- A class's archives: a reporting period (R1) and the year (R2, R3, R6) --------------------


def already_archived(
    settings: Settings, year: str, class_name: str, period: str | None
) -> list[ClassArchiveResult] | None:
    """A class's «без изменений» results when every bundle this run would write is archived already
    from the same data and present on every target; None when there is anything to do or report.

    It extracts the journal and writes journal.xml only — not even that when the snapshot's
    fingerprint is remembered (pipeline.fingerprints) — with no rules, no rendering, no lock (it
    changes nothing), so a re-run of an unchanged school can say so without starting the
    orchestrator. Anything else (no earlier version, a missing copy, any error) is None: the
    full run handles and reports it.
    """
    specs = [PERIOD] if period else list(year_end_kinds())
    try:
        with settings.open_catalog() as catalog:
            journal = extract_journal(settings, year, class_name, period)
            snapshot = snapshot_key(journal)
            source_fingerprint = remembered_fingerprint(settings.fingerprints_path, snapshot)
            if source_fingerprint is None:
                # Not checked against the XSD: a fingerprint equal to an archived one is of a file
                # that was checked when it was archived, and any other makes the full run check it.
                source_fingerprint = fingerprint(journal_xml(journal, validate=False))
                remember_fingerprint(settings.fingerprints_path, snapshot, source_fingerprint)
            school, targets = school_folder(settings, journal), settings.targets()
            results = []
            for spec in specs:
                latest = latest_version(
                    catalog,
                    journal.year.name,
                    journal.school_class.name,
                    spec.span_code(journal),
                    spec.kind,
                    school=school,
                )
                if latest is None or latest.source_fingerprint != source_fingerprint:
                    return None
                if not all(_holds(target, latest.key) for target in targets):
                    return None  # the full run completes the copies (R8); a destroyed one has none
                results.append(
                    ClassArchiveResult(
                        journal.school_class.name,
                        ArchiveStatus.UNCHANGED,
                        kind=spec.kind,
                        bundle_id=latest.bundle_id,
                    )
                )
            return of_school(settings, results)
    except Exception:  # whatever it is, the full run meets it again and reports it in words
        return None


ClassRuns = Sequence[tuple[Settings, tuple[str, ...]]]


def split_already_archived(
    runs: ClassRuns,
    year: str,
    period: str | None,
    executor: Executor,
    on_work: Callable[[Settings, str], object] = lambda settings, name: None,
) -> tuple[list[ClassArchiveResult], list[tuple[Settings, tuple[str, ...]]]]:
    """(the results of the classes already archived unchanged, the (school, classes) runs left to do).

    A class the catalog has never seen this year has work: it goes to `on_work` at once, without
    its journal being read. The others are checked with `already_archived` on `executor`, and each
    found to have work goes to `on_work` as soon as that is known — so the caller can start it
    while the rest are still being checked."""
    checks: dict[Future[list[ClassArchiveResult] | None], tuple[Settings, str]] = {}
    for settings, names in runs:
        archived = archived_class_names(settings, year)
        for name in largest_first(settings, year, period, names):
            if name in archived:
                checks[executor.submit(already_archived, settings, year, name, period)] = (settings, name)
            else:
                on_work(settings, name)
    found: dict[tuple[str | None, str], list[ClassArchiveResult]] = {}
    for future in as_completed(checks):
        settings, name = checks[future]
        results = future.result()
        if results is None:
            on_work(settings, name)
        else:
            found[(settings.school_folder, name)] = results
    done = [
        result
        for settings, names in runs
        for name in names
        for result in found.get((settings.school_folder, name), [])
    ]
    left = [
        (settings, remaining)
        for settings, names in runs
        if (remaining := tuple(name for name in names if (settings.school_folder, name) not in found))
    ]
    return done, left


def largest_first(settings: Settings, year: str, period: str | None, names: Sequence[str]) -> list[str]:
    """`names`, the classes with the most lessons first (longest work first: the run's last class to
    finish is then a small one, not a large one holding one core while the others idle)."""
    lessons = class_lesson_counts(settings, year, period, names)
    return sorted(names, key=lambda name: -lessons[name])


def archived_class_names(settings: Settings, year: str) -> set[str]:
    """The classes of the school with any bundle of `year` in the catalog: one query for them all."""
    with settings.open_catalog() as catalog:
        return {record.class_name for record in list_bundles(catalog, year=year)}


def class_archive_call(
    settings: Settings, year: str, class_name: str, period: str | None, allow_errors: bool = False
) -> tuple[Callable[..., object], tuple[object, ...], dict[str, object]]:
    """The one call that archives a class — (function, arguments, keywords) — for a period or the
    year: what the flows hand to their executor, and what the CLI starts ahead of them."""
    if period:
        return archive_period_class, (settings, year, class_name, period), {}
    return archive_year_class, (settings, year, class_name), {"allow_errors": allow_errors}


def archive_period_class(settings: Settings, year: str, class_name: str, period: str) -> ClassArchiveResult:
    """Archive one class's journal for one reporting period (R1, R5, R7, R8, R9); never raises."""
    return of_school(settings, [_archive_period_class(settings, year, class_name, period)])[0]


def of_school(settings: Settings, results: list[ClassArchiveResult]) -> list[ClassArchiveResult]:
    """The results labelled with the school's name when the configuration has several."""
    if settings.school is None or len(settings.schools) < 2:
        return results
    return [dataclasses.replace(result, school=settings.school.name) for result in results]


def _archive_period_class(settings: Settings, year: str, class_name: str, period: str) -> ClassArchiveResult:
    try:
        clean_stale_work(settings.work_dir)  # build folders of killed runs (their processes are gone)
        journal = extract_journal(settings, year, class_name, period)
        # The names as the journal spells them («q1» asked → Q1, «5a» → 5А): ids, keys and locks use these.
        year, class_name = journal.year.name, journal.school_class.name
        findings = validate_class_journal(journal)
        if settings.block_on_errors and has_errors(findings):
            return blocked_result(class_name, findings)
        with class_lock(settings, year, class_name, school_folder(settings, journal)):
            return archive_bundle(settings, journal, PERIOD, findings)
    except Exception as error:  # one class's failure must not stop the others
        return failed_result(class_name, BundleKind.PERIOD, error)


def archive_year_class(
    settings: Settings, year: str, class_name: str, *, allow_errors: bool = False
) -> list[ClassArchiveResult]:
    """Seal a class's year: every kind that closes the year (the journal, 5 years, R2; the summary
    sheets, 25 years, R3).

    Validation errors stop the class unless `allow_errors` (the documented override):
    a sealed bundle is never changed again, so it should not seal known mistakes by accident.
    Never raises; a failure is the class's result.
    """
    return of_school(settings, _archive_year_class(settings, year, class_name, allow_errors=allow_errors))


def _archive_year_class(
    settings: Settings, year: str, class_name: str, *, allow_errors: bool
) -> list[ClassArchiveResult]:
    try:
        clean_stale_work(settings.work_dir)  # build folders of killed runs (their processes are gone)
        journal = extract_journal(settings, year, class_name, None)
        findings = validate_class_journal(journal)
        if has_errors(findings) and not allow_errors:
            return [blocked_result(class_name, findings, kind=BundleKind.YEAR)]
        school = school_folder(settings, journal)
        with class_lock(settings, journal.year.name, journal.school_class.name, school):
            xml = journal_xml(journal)  # one snapshot, one journal.xml for every kind of the year
            results = [
                archive_bundle(settings, journal, spec, findings, xml=xml) for spec in year_end_kinds()
            ]
            if all(result.ok for result in results):
                catalog = settings.open_catalog()
                try:
                    supersede_period_bundles(catalog, find_bundle(catalog, results[0].bundle_id))
                finally:
                    catalog.close()
        return results
    except Exception as error:  # one class's failure must not stop the others
        return [failed_result(class_name, BundleKind.YEAR, error)]
