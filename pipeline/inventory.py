"""What the archive holds: the catalog as staff read it, rebuilding it, completing replicas (R7, R8)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from documents.act import retention_words
from documents.inventory import CopyState, Inventory, InventoryEntry, inventory_csv, render_inventory_pdf
from documents.kinds import case_title, kind_title
from journal.model import class_name_sort_key
from journal.names import class_key, year_name
from journal.russian import count_words, format_date
from pipeline.settings import Settings, every_school, select_targets
from storage.catalog import (
    BundleRecord,
    CatalogError,
    destruction_of,
    find_bundle,
    fixity_history,
    list_bundles,
    rebuild_catalog,
    replicas_of,
)
from storage.database import Database
from storage.modes import PRIVATE_FILE_MODE, private_dir, write_private
from storage.replication import ReplicaRepair, complete_replicas
from storage.retention import RETENTION_RULES, RetentionClass
from storage.target import ReplicaStatus


@dataclass(frozen=True)
class CatalogRow:
    """One bundle as `catalog list` shows it, in staff's words."""

    year: str
    class_name: str
    kind: str
    span: str
    version: str
    bundle_id: str
    created: str
    retain_until: str
    replicas: str
    superseded: str


def catalog_rows(
    settings: Settings,
    year: str | None = None,
    class_name: str | Sequence[str] | None = None,
    *,
    show_all: bool = False,
) -> list[CatalogRow]:
    """The catalog's bundles (current versions unless `show_all`), in school order; names match loosely.
    `class_name` is one class or several (`catalog list --class 5А --class 6Б`)."""
    if not settings.has_catalog():
        return []
    db = settings.open_catalog()
    try:
        records = list_bundles(
            db, year=year_name(year) if year else None, current_only=not show_all, include_destroyed=show_all
        )
        if class_name:
            names = [class_name] if isinstance(class_name, str) else class_name
            wanted = {class_key(name) for name in names}
            records = [r for r in records if class_key(r.class_name) in wanted]
        records.sort(key=lambda r: (r.year, class_name_sort_key(r.class_name), r.kind, r.span, r.version))
        return [
            CatalogRow(
                r.year,
                r.class_name,
                kind_title(r.kind),
                r.span_name,
                f"v{r.version}",
                r.bundle_id,
                r.created,
                r.retain_until,
                replicas_text(db, r.bundle_id),
                f"заменён {r.superseded_by}" if r.superseded_by else "",
            )
            for r in records
        ]
    finally:
        db.close()


def replicas_text(db: Database, bundle_id: str) -> str:
    """Where the copies are, or «уничтожен по акту № 1 от 2 января 2031 г.» (and what is left, if any)."""
    replicas = replicas_of(db, bundle_id)
    destroyed = destruction_of(db, bundle_id)
    if destroyed is None:
        return ", ".join(f"{p.target}: {p.status.title}" for p in replicas)
    act_date = format_date(dt.date.fromisoformat(destroyed.act_date))
    text = f"уничтожен по акту № {destroyed.act_number} от {act_date}"
    gone = {target for target, _ in destroyed.targets}
    left = [p.target for p in replicas if p.target not in gone]
    return text + (f"; ещё хранится на: {', '.join(left)}" if left else "")


CATALOG_HEADERS = (
    "Год",
    "Класс",
    "Вид",
    "Период",
    "Версия",
    "Пакет",
    "Дата",
    "Хранить до",
    "Копии",
    "Замена",
)
"""`catalog list` column titles, in CatalogRow's field order (the table, CSV and JSON alike)."""


def catalog_csv(rows: list[CatalogRow]) -> str:
    """`catalog list --format csv`: RFC 4180, the table's Russian column titles."""
    import csv
    import io

    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CATALOG_HEADERS)
    writer.writerows(dataclasses.astuple(row) for row in rows)
    return buffer.getvalue()


def catalog_json(rows: list[CatalogRow]) -> str:
    """`catalog list --format json`: one object per bundle, field names in English."""
    import json

    return json.dumps([dataclasses.asdict(row) for row in rows], ensure_ascii=False, indent=2) + "\n"


@dataclass(frozen=True)
class HistoryRow:
    checked_at: str  # UTC
    target: str
    status: str  # in staff's words
    detail: str
    action: str


def bundle_history(settings: Settings, bundle_id: str) -> list[HistoryRow]:
    """`catalog history BUNDLE`: every recorded check of every replica of a bundle (R7), oldest first."""
    if not settings.has_catalog():
        raise CatalogError("Каталога ещё нет: в архиве нет пакетов")
    db = settings.open_catalog()
    try:
        if find_bundle(db, bundle_id) is None:
            raise CatalogError(f"Пакета {bundle_id} нет в каталоге")
        return [
            HistoryRow(c.checked_at, c.target, c.status.title, c.detail, c.action)
            for c in fixity_history(db, bundle_id)
        ]
    finally:
        db.close()


@dataclass(frozen=True)
class Rebuilt:
    bundles: int
    problems: list[str]

    @property
    def summary(self) -> str:
        """«Каталог восстановлен по хранилищам: 22 пакета.»"""
        bundles = count_words(self.bundles, "пакет", "пакета", "пакетов")
        return f"Каталог восстановлен по хранилищам: {bundles}."


def rebuild(settings: Settings) -> Rebuilt:
    """Recreate the catalog from what the storage targets hold, verifying every replica."""
    from pipeline.retention import restore_tombstones

    schools = every_school(settings)
    targets = {target.name: target for school in schools for target in school.targets()}
    problems = rebuild_catalog(settings.catalog_location, list(targets.values()), verify=True)
    for school in schools:
        problems += restore_tombstones(school)
    db = settings.open_catalog()
    try:
        return Rebuilt(len(list_bundles(db)), problems)
    finally:
        db.close()


def replicate(settings: Settings, year: str | None = None, to: str | None = None) -> list[ReplicaRepair]:
    """Copy live bundles (not destroyed) to every target that lacks them, or only to target `to`
    (`replicate --to NEW`: media migration), from a verified copy; each new copy is read back (R8)."""
    targets = settings.targets()
    if to is not None:
        select_targets(settings, [to])  # an unknown or retired name stops here
    db = settings.open_catalog()
    try:
        records = list_bundles(db, year=year_name(year) if year else None)
        return complete_replicas(db, targets, settings.work_dir, records, to=to)
    finally:
        db.close()


# --- the yearly inventory (опись) -------------------------------------------------------------


@dataclass(frozen=True)
class MadeInventory:
    pdf: Path
    csv: Path
    bundles: int
    copies: int
    pages: int


def inventory_of(settings: Settings, year: str, today: dt.date) -> Inventory:
    """Every bundle the catalog knows for `year` — superseded versions and destroyed bundles too —
    with each copy's state as last checked; made on `today` (the injected clock)."""
    if not settings.has_catalog():
        raise CatalogError("Каталога ещё нет: в архиве нет пакетов")
    name = year_name(year)
    db = settings.open_catalog()  # the selected school's bundles only
    try:
        records = list_bundles(db, year=name, current_only=False, include_destroyed=True)
        if not records:
            raise CatalogError(f"В каталоге нет пакетов за {name} учебный год")
        records.sort(key=lambda r: (class_name_sort_key(r.class_name), r.kind, r.span, r.version))
        entries = tuple(_inventory_entry(db, record) for record in records)
    finally:
        db.close()
    inventory = Inventory(records[0].school_name, name, today.isoformat(), entries)
    if inventory.latest_record > inventory.made_on:  # an inventory never predates what it lists
        raise CatalogError(
            f"Опись не может быть составлена {format_date(today)}: каталог записывает события "
            f"{format_date(dt.date.fromisoformat(inventory.latest_record))} — часы компьютера отстают?"
        )
    return inventory


def _inventory_entry(db: Database, record: BundleRecord) -> InventoryEntry:
    destroyed = destruction_of(db, record.bundle_id)
    gone = {target for target, _ in destroyed.targets} if destroyed else set()
    copies = tuple(
        CopyState(r.target, r.status.title, _utc_minutes(r.checked_at), r.status is ReplicaStatus.VERIFIED)
        for r in replicas_of(db, record.bundle_id)
        if r.target not in gone
    )
    notes = []
    if record.superseded_by:
        notes.append(f"заменён версией {record.superseded_by}")
    if destroyed is not None:
        act_date = format_date(dt.date.fromisoformat(destroyed.act_date))
        notes.append(f"уничтожен по акту № {destroyed.act_number} от {act_date}")
    return InventoryEntry(
        bundle_id=record.bundle_id,
        title=case_title(record.kind, record.class_name, record.year, record.span_name),
        kind=kind_title(record.kind),
        class_name=record.class_name,
        period=record.span_name,
        version=record.version,
        created=record.created,
        retention=retention_words(RETENTION_RULES[RetentionClass(record.retention_class)].years),
        retain_until=record.retain_until,
        copies=copies,
        note="; ".join(notes),
    )


def _utc_minutes(checked_at: str | None) -> str:
    """«2031-01-02 10:15» from the catalog's ISO 8601 UTC time; "" if the copy was never checked."""
    if not checked_at:
        return ""
    return dt.datetime.fromisoformat(checked_at).astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M")


def inventory_file_stem(settings: Settings, year: str) -> str:
    """«inventory-2024-2025»: the inventory's PDF and CSV are this with .pdf and .csv; with several
    schools ([[schools]]) the school's folder comes first: «inventory-school-7-2024-2025»."""
    school = f"{settings.school_folder}-" if len(settings.schools) > 1 and settings.school_folder else ""
    return f"inventory-{school}" + year_name(year).replace("/", "-")


def make_inventory(
    settings: Settings, year: str, today: dt.date, to_dir: Path | None = None
) -> MadeInventory:
    """Write the yearly inventory as PDF/A-3b and CSV into `to_dir` (default `home/inventories`),
    owner-only (A2); the same catalog state and day give the same bytes."""
    inventory = inventory_of(settings, year, today)
    folder = private_dir(to_dir, ours=False) if to_dir is not None else private_dir(settings.inventories_dir)
    stem = inventory_file_stem(settings, year)
    csv_path, pdf_path = folder / f"{stem}.csv", folder / f"{stem}.pdf"
    data = inventory_csv(inventory)
    with tempfile.TemporaryDirectory(prefix=f".{stem}-", dir=folder) as work:
        partial = Path(work) / pdf_path.name
        pages = render_inventory_pdf(inventory, partial, csv_name=csv_path.name, csv_data=data)
        partial.chmod(PRIVATE_FILE_MODE)
        write_private(csv_path, data)
        os.replace(partial, pdf_path)
    copies = sum(len(entry.copies) for entry in inventory.entries)
    return MadeInventory(pdf_path, csv_path, len(inventory.entries), copies, pages)
