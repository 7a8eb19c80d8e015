"""The end of retention by the book: draft the destruction act, approve it, apply it (R2, R3, R7).

Nothing is destroyed without an act the director approved (Rosarchive rules for
organisations, order of 31.07.2023 № 77):

1. `draft_act` lists every bundle past its Retain-Until on a day (today, or `as_of` to
   look ahead) as «Акт о выделении к уничтожению документов, не подлежащих хранению»:
   act.pdf (PDF/A-3b), act.csv and act.json in `home/acts/act-N/`;
2. `approve_act` records who approved it and when, with the SHA-256 of every file of the
   act as it was approved (approval.json);
3. `apply_act` refuses an unapproved act, an act changed since approval, an act whose
   files no longer match the catalog, or any listed bundle not yet expired on `today`;
   then archives the approved act as a bundle of its own kind (kept permanently) and
   deletes exactly its bundles on every target, each target's own guard refusing a day
   early (an Object Lock until the lock ends). Every deletion becomes a tombstone in the
   catalog (`record_destruction`), so no command reports a destroyed bundle missing.

`today` is always the caller's: the CLI passes the real local date, tests an injected one.
`catalog rebuild` restores the tombstones from the archived acts (`restore_tombstones`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from documents.act import (
    ACT_CSV_NAME,
    ACT_JSON_NAME,
    ACT_PDF_NAME,
    ActEntry,
    ActError,
    DestructionAct,
    act_json,
    read_act_json,
    retention_words,
)
from documents.bag import BagInfo, bag_readme, write_bag
from documents.kinds import DESTRUCTION_ACT, build_payload, case_title
from documents.xml_format import JOURNAL_XML_NAME, read_journal_xml
from journal.model import class_name_sort_key
from journal.names import year_name
from journal.russian import format_date
from pipeline.archive import NewVersion, record_stored_bundle, store_replicas
from pipeline.errors import RetentionActError
from pipeline.settings import Settings
from storage.bagformat import PAYLOAD_DIR
from storage.catalog import (
    BundleRecord,
    CatalogError,
    destruction_of,
    find_bundle,
    list_bundles,
    mark_superseded,
    record_bundle,
    record_destruction,
    record_fixity_check,
)
from storage.database import Database
from storage.layout import bundle_key
from storage.modes import private_dir, write_private
from storage.retention import RETENTION_RULES, BundleKind, RetentionClass, is_expired, retain_until
from storage.target import ReplicaStatus, StorageError, Target

APPROVAL_NAME = "approval.json"
ACT_FILES = (ACT_PDF_NAME, ACT_CSV_NAME, ACT_JSON_NAME)


def expired(settings: Settings, today: dt.date) -> list[BundleRecord]:
    """Bundles still kept whose Retain-Until has passed on `today` (a bundle is kept through its last day)."""
    if not settings.has_catalog():
        return []
    db = settings.open_catalog()
    try:
        return [r for r in list_bundles(db) if is_expired(today, dt.date.fromisoformat(r.retain_until))]
    finally:
        db.close()


# --- drafting ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActFolder:
    """An act in `home/acts/act-N/`: what it says, and its approval once given."""

    path: Path
    act: DestructionAct
    approval: dict[str, object] | None

    @property
    def approved(self) -> bool:
        return self.approval is not None

    @property
    def ref(self) -> dict[str, str]:
        """The act as a tombstone names it (storage.catalog.record_destruction)."""
        if self.approval is None:
            raise RetentionActError(f"{self.act.heading} не утверждён")
        return {
            "act_id": act_bundle_id(self.act),
            "act_number": str(self.act.number),
            "act_date": self.act.date,
            "approved_by": str(self.approval["approved_by"]),
            "approved_on": str(self.approval["approved_on"]),
        }


def act_bundle_id(act: DestructionAct) -> str:
    return f"act-{act.number}-v1"


def in_school_order(records: Sequence[BundleRecord]) -> list[BundleRecord]:
    """The act's lines by year, then class as the school counts them (1А, 5А, 10А, not 10А before 1А)."""
    return sorted(records, key=lambda r: (r.year, class_name_sort_key(r.class_name), r.bundle_id))


def draft_act(settings: Settings, today: dt.date, as_of: dt.date | None = None) -> ActFolder | None:
    """Draft the act for every bundle past its Retain-Until on `as_of` (default `today`); None if there
    is none. Bundles already listed in an approved act are left to that act."""
    as_of = as_of or today
    if as_of < today:
        raise RetentionActError(
            f"акт составляется на сегодня ({format_date(today)}) или на будущий день, а не на прошедший"
        )
    listed = {
        entry.bundle_id for folder in act_folders(settings) if folder.approved for entry in folder.act.entries
    }
    records = [r for r in expired(settings, as_of) if r.bundle_id not in listed]
    if not records:
        return None
    records = in_school_order(records)
    targets = settings.targets()
    entries = tuple(_entry(targets, record) for record in records)
    act = DestructionAct(
        number=next_act_number(settings),
        date=today.isoformat(),
        as_of=as_of.isoformat(),
        school_name=records[0].school_name,
        school=records[0].school,
        director_post=settings.director_post,
        director_name=settings.director,
        entries=entries,
    )
    data = act_json(act)
    private_dir(settings.acts_dir)
    folder = settings.acts_dir / f"act-{act.number}"
    with tempfile.TemporaryDirectory(prefix=f".act-{act.number}-", dir=settings.acts_dir) as work:
        payload = build_payload(DESTRUCTION_ACT, act, Path(work), data, duplex=False)
        staging = Path(work) / "act"
        private_dir(staging)
        for name in ACT_FILES:
            write_private(staging / name, payload.files[name])
        staging.rename(folder)
    return ActFolder(folder, act, None)


def _entry(targets: Sequence[Target], record: BundleRecord) -> ActEntry:
    """One line of the act; the first and last dates are read from the bundle's own journal.xml."""
    rule = RETENTION_RULES[RetentionClass(record.retention_class)]
    first, last, note = _extreme_dates(targets, record)
    if record.superseded_by:
        note = "; ".join(filter(None, [f"заменён версией {record.superseded_by}", note]))
    return ActEntry(
        bundle_id=record.bundle_id,
        version=record.version,
        title=case_title(record.kind, record.class_name, record.year, record.span_name),
        first_day=first,
        last_day=last,
        retention=retention_words(rule.years),
        retention_source=rule.source,
        retain_until=record.retain_until,
        note=note,
        record=dataclasses.asdict(record),
    )


def _extreme_dates(targets: Sequence[Target], record: BundleRecord) -> tuple[str, str, str]:
    path = f"{PAYLOAD_DIR}/{JOURNAL_XML_NAME}"
    for target in targets:
        try:
            journal = read_journal_xml(
                target.read_file(record.key, path), f"{target.name}:{record.key}/{path}"
            )
        except Exception:
            continue
        return journal.start.isoformat(), journal.end.isoformat(), ""
    start, end = _academic_year(record.year)
    return start, end, "крайние даты — границы учебного года: journal.xml не прочитан ни на одном хранилище"


def _academic_year(name: str) -> tuple[str, str]:
    first = int(year_name(name)[:4])
    return dt.date(first, 9, 1).isoformat(), dt.date(first + 1, 8, 31).isoformat()


def act_folders(settings: Settings) -> list[ActFolder]:
    """Every act drafted in this home, by number."""
    if not settings.acts_dir.is_dir():
        return []
    found = []
    for path in settings.acts_dir.iterdir():
        if path.is_dir() and path.name.startswith("act-") and (path / ACT_JSON_NAME).is_file():
            found.append(read_act_folder(path))
    return sorted(found, key=lambda folder: folder.act.number)


def read_act_folder(path: Path) -> ActFolder:
    act = read_act_json((path / ACT_JSON_NAME).read_bytes(), str(path / ACT_JSON_NAME))
    approval_path = path / APPROVAL_NAME
    approval = json.loads(approval_path.read_text(encoding="utf-8")) if approval_path.is_file() else None
    return ActFolder(path, act, approval)


def next_act_number(settings: Settings) -> int:
    """One more than any act drafted here or archived (the catalog survives a lost acts/ folder)."""
    numbers = [folder.act.number for folder in act_folders(settings)]
    if settings.has_catalog():
        db = settings.open_catalog()
        try:
            for record in list_bundles(db, kind=BundleKind.DESTRUCTION_ACT, include_destroyed=True):
                numbers.append(int(record.span.removeprefix("act-")))
        finally:
            db.close()
    return max(numbers, default=0) + 1


def find_act(settings: Settings, ref: str | Path) -> ActFolder:
    """The act named on the command line: its number («1», «№ 1») or its folder."""
    text = str(ref).strip().lstrip("№").strip()
    path = settings.acts_dir / f"act-{text}" if text.isdigit() else Path(ref)
    if not (path / ACT_JSON_NAME).is_file():
        known = ", ".join(str(f.act.number) for f in act_folders(settings)) or "нет ни одного"
        raise RetentionActError(f"акта {ref} нет в {settings.acts_dir} (составленные акты: {known})")
    try:
        return read_act_folder(path)
    except (ActError, OSError, ValueError) as error:
        raise RetentionActError(str(error)) from error


# --- approving -----------------------------------------------------------------------------


def file_digests(path: Path) -> dict[str, str]:
    return {name: hashlib.sha256((path / name).read_bytes()).hexdigest() for name in ACT_FILES}


def approve_act(
    settings: Settings, ref: str | Path, by: str, today: dt.date, on: dt.date | None = None
) -> ActFolder:
    """Record the director's approval of an act as it stands now (approval.json)."""
    folder = find_act(settings, ref)
    act, on = folder.act, on or today
    by = " ".join(by.split())
    if not by:
        raise RetentionActError("укажите, кто утвердил акт: --by «ФИО, должность»")
    if folder.approved:
        raise RetentionActError(
            f"{act.heading} уже утверждён {folder.approval['approved_on']}: {folder.approval['approved_by']}"
        )
    if on > today:
        raise RetentionActError(f"дата утверждения {format_date(on)} ещё не наступила")
    if on < act.as_of_day:
        raise RetentionActError(
            f"{act.heading} составлен по состоянию на {format_date(act.as_of_day)}; "
            "утвердить его можно не раньше этого дня"
        )
    approval = {
        "act_number": act.number,
        "approved_by": by,
        "approved_on": on.isoformat(),
        "files_sha256": file_digests(folder.path),
    }
    data = json.dumps(approval, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    write_private(folder.path / APPROVAL_NAME, data)
    return read_act_folder(folder.path)


# --- applying ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Deletion:
    bundle_id: str
    target: str
    state: str  # "deleted", "absent", "refused", "earlier"
    detail: str = ""


@dataclass(frozen=True)
class AppliedAct:
    folder: ActFolder
    act_bundle: str  # the archived act's bundle id
    deletions: tuple[Deletion, ...]

    @property
    def refused(self) -> tuple[Deletion, ...]:
        return tuple(d for d in self.deletions if d.state == "refused")


def apply_act(settings: Settings, ref: str | Path, today: dt.date) -> AppliedAct:
    """Destroy exactly the bundles of an approved, unchanged act on every target (see the module doc)."""
    folder = find_act(settings, ref)
    act = folder.act
    if folder.approval is None:
        raise RetentionActError(
            f"{act.heading} не утверждён: ничего не удалено. Утвердите его: "
            f"journal-archive retention approve {act.number} --by «ФИО, должность»"
        )
    changed = [
        name
        for name, digest in file_digests(folder.path).items()
        if folder.approval.get("files_sha256", {}).get(name) != digest
    ]
    if changed:
        raise RetentionActError(
            f"{act.heading} изменён после утверждения ({', '.join(changed)}): ничего не удалено. "
            "Составьте и утвердите новый акт."
        )
    approved_on = dt.date.fromisoformat(str(folder.approval["approved_on"]))
    if approved_on > today or act.as_of_day > today:
        raise RetentionActError(f"{act.heading} относится к дню, который ещё не наступил: ничего не удалено")
    not_yet = [e for e in act.entries if not is_expired(today, dt.date.fromisoformat(e.retain_until))]
    if not_yet:
        raise RetentionActError(
            f"{act.heading}: срок хранения ещё не истёк на {format_date(today)} у "
            + ", ".join(f"{e.bundle_id} (хранить до {e.retain_until})" for e in not_yet)
            + ": ничего не удалено"
        )
    targets = settings.targets()
    db = settings.open_catalog()
    try:
        for entry in act.entries:
            record = find_bundle(db, entry.bundle_id)
            if (
                record is None
                or record.key != entry.record.get("key")
                or record.retain_until != entry.retain_until
            ):
                raise RetentionActError(
                    f"{act.heading}: пакет {entry.bundle_id} в каталоге не тот, что в акте "
                    "(список изменился): ничего не удалено. Составьте новый акт."
                )
        act_bundle = archive_act(settings, db, folder, targets, today)
        deletions: list[Deletion] = []
        for entry in act.entries:
            deletions += _destroy(db, folder, entry, targets, today)
    finally:
        db.close()
    return AppliedAct(folder, act_bundle, tuple(deletions))


def _destroy(
    db: Database, folder: ActFolder, entry: ActEntry, targets: Sequence[Target], today: dt.date
) -> list[Deletion]:
    key = str(entry.record["key"])
    until = dt.date.fromisoformat(entry.retain_until)
    done = destruction_of(db, entry.bundle_id)
    already = {target for target, _ in done.targets} if done else set()
    action = f"уничтожен по акту № {folder.act.number} от {format_date(folder.act.day)}"
    deletions = []
    for target in targets:
        if target.name in already:
            deletions.append(Deletion(entry.bundle_id, target.name, "earlier"))
            continue
        try:
            deleted = target.delete_bundle_if_expired(key, today, until)
        except StorageError as error:  # a lock, a later date in the bag, an unreachable store
            deletions.append(Deletion(entry.bundle_id, target.name, "refused", str(error)))
            continue
        now = dt.datetime.now(dt.UTC)
        record_destruction(db, entry.bundle_id, folder.ref, target.name, now)
        record_fixity_check(db, entry.bundle_id, target.name, ReplicaStatus.MISSING, now, (), action)
        deletions.append(Deletion(entry.bundle_id, target.name, "deleted" if deleted else "absent"))
    return deletions


def archive_act(
    settings: Settings, db: Database, folder: ActFolder, targets: Sequence[Target], today: dt.date
) -> str:
    """Archive the approved act exactly as approved, as a bundle of its own kind kept permanently;
    at least one verified copy before anything is deleted. A second run finds it archived."""
    act = folder.act
    bundle = act_bundle_id(act)
    if find_bundle(db, bundle) is not None:
        return bundle
    files = {name: (folder.path / name).read_bytes() for name in (*ACT_FILES, APPROVAL_NAME)}
    academic_year = _academic_year_of(act.day)
    key = bundle_key(act.school, academic_year, "acts", bundle)
    spec = DESTRUCTION_ACT
    info = BagInfo(
        source_organization=act.school_name,
        external_description=spec.describe(act),
        external_identifier=bundle,
        academic_year=academic_year,
        school_class="—",
        period_code=spec.span_code(act),
        period=act.heading,
        bundle_kind=spec.kind,
        bundle_version=1,
        retention_class=spec.retention_class,
        retain_until=retain_until(act.day, spec.retention_class),
        source_fingerprint="sha256:" + hashlib.sha256(files[ACT_JSON_NAME]).hexdigest(),
        bagging_date=today,
        data_date=act.day,
    )
    readme = bag_readme(spec.describe(act), bundle, spec.describe_files(list(files)))
    private_dir(settings.work_dir)
    with tempfile.TemporaryDirectory(prefix=f"{bundle}-", dir=settings.work_dir) as work:
        bag = write_bag(Path(work) / bundle, files, info, readme)
        replicas = store_replicas(targets, key, bag)
        if not any(r.status == ReplicaStatus.VERIFIED for r in replicas):
            problems = "; ".join(p for r in replicas for p in r.problems)
            raise RetentionActError(
                f"{act.heading} не удалось сохранить в архиве ({problems}): ничего не удалено"
            )
        record_stored_bundle(db, key, bag, NewVersion(bundle, key, 1), replicas, sealed=False)
    return bundle


def _academic_year_of(day: dt.date) -> str:
    first = day.year if day.month >= 9 else day.year - 1
    return f"{first}/{first + 1}"


# --- what a rebuild restores ----------------------------------------------------------------


def restore_tombstones(settings: Settings) -> list[str]:
    """After `catalog rebuild`: every bundle an archived act lists and some target no longer holds
    becomes a tombstone again (its record taken from the act); returns the problems met."""
    problems: list[str] = []
    targets = settings.targets()
    db = settings.open_catalog()
    try:
        for act_record in list_bundles(db, kind=BundleKind.DESTRUCTION_ACT):
            try:
                folder = _archived_act(targets, act_record)
            except (RetentionActError, ActError) as error:
                problems.append(str(error))
                continue
            for entry in folder.act.entries:
                _restore(db, folder, entry, targets)
    finally:
        db.close()
    return problems


def _archived_act(targets: Sequence[Target], record: BundleRecord) -> ActFolder:
    reasons = []
    for target in targets:
        try:
            act = read_act_json(target.read_file(record.key, f"{PAYLOAD_DIR}/{ACT_JSON_NAME}"), record.key)
            approval = json.loads(target.read_file(record.key, f"{PAYLOAD_DIR}/{APPROVAL_NAME}"))
        except (OSError, StorageError, ValueError) as error:
            reasons.append(f"{target.name}: {error}")
            continue
        return ActFolder(Path(record.key), act, approval)
    raise RetentionActError(f"архивный акт {record.bundle_id} не читается: {'; '.join(reasons)}")


def _restore(db: Database, folder: ActFolder, entry: ActEntry, targets: Sequence[Target]) -> None:
    key = str(entry.record["key"])
    gone = [t for t in targets if not _holds(t, key)]
    if not gone:
        return  # the act was archived but this bundle was not deleted anywhere
    if find_bundle(db, entry.bundle_id) is None:
        fields = {k: v for k, v in entry.record.items() if k in BundleRecord.__dataclass_fields__}
        try:
            record_bundle(db, dataclasses.replace(BundleRecord(**fields), superseded_by=None))
        except CatalogError:
            return
        newer = fields.get("superseded_by")
        if newer and find_bundle(db, str(newer)) is not None:
            mark_superseded(db, entry.bundle_id, str(newer))
    known = destruction_of(db, entry.bundle_id)
    kept = {target for target, _ in known.targets} if known else set()  # with its time, by the rebuild
    for target in gone:
        if target.name not in kept:
            record_destruction(db, entry.bundle_id, folder.ref, target.name, None)


def _holds(target: Target, key: str) -> bool:
    try:
        return target.has_bundle(key)
    except StorageError:
        return True  # unknown is never taken for destroyed
