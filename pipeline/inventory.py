"""What the archive holds: the catalog as staff read it, rebuilding it, completing replicas (R7, R8)."""

from __future__ import annotations

from dataclasses import dataclass

from documents.kinds import kind_title
from journal.model import class_name_sort_key
from journal.names import class_key, year_name
from pipeline.settings import Settings
from storage.catalog import list_bundles, open_catalog, rebuild_catalog, replicas_of
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
    settings: Settings, year: str | None = None, class_name: str | None = None, *, show_all: bool = False
) -> list[CatalogRow]:
    """The catalog's bundles (current versions unless `show_all`), in school order; names match loosely."""
    if not settings.catalog_path.is_file():
        return []
    db = open_catalog(settings.catalog_path)
    try:
        records = list_bundles(db, year=year_name(year) if year else None, current_only=not show_all)
        if class_name:
            records = [r for r in records if class_key(r.class_name) == class_key(class_name)]
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
                ", ".join(f"{p.target}: {p.status.title}" for p in replicas_of(db, r.bundle_id)),
                f"заменён {r.superseded_by}" if r.superseded_by else "",
            )
            for r in records
        ]
    finally:
        db.close()


@dataclass(frozen=True)
class Rebuilt:
    bundles: int
    problems: list[str]


def rebuild(settings: Settings) -> Rebuilt:
    """Recreate the catalog from what the storage targets hold, verifying every replica."""
    problems = rebuild_catalog(settings.catalog_path, settings.targets(), verify=True)
    db = open_catalog(settings.catalog_path)
    try:
        return Rebuilt(len(list_bundles(db)), problems)
    finally:
        db.close()


def replicate(settings: Settings, year: str | None = None) -> list[ReplicaRepair]:
    """Copy bundles to every target that lacks them, from a verified copy (R8)."""
    db = open_catalog(settings.catalog_path)
    try:
        records = list_bundles(db, year=year_name(year) if year else None)
        return complete_replicas(db, settings.targets(), settings.work_dir, records)
    finally:
        db.close()
