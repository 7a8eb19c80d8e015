"""What the archive holds: the catalog as staff read it, rebuilding it, completing replicas (R7, R8)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from documents.kinds import kind_title
from journal.model import class_name_sort_key
from journal.names import class_key, year_name
from journal.russian import format_date
from pipeline.settings import Settings, every_school, select_targets
from storage.catalog import (
    CatalogError,
    destruction_of,
    find_bundle,
    fixity_history,
    list_bundles,
    rebuild_catalog,
    replicas_of,
)
from storage.database import Database
from storage.replication import ReplicaRepair, complete_replicas


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
