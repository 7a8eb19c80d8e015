"""The catalog as the web page shows it: bundles in staff's words, fixity history, audit digests, verify.

Search matches names loosely (journal.names: «5a» finds «5А», «2024-2025» finds
«2024/2025»). Each bundle carries its kind in words, its retention, its replicas
and when each was last verified. Verification is the one verify (pipeline.verify)
of the chosen bundles' replicas where they are stored.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from documents.kinds import KINDS, kind_title
from journal.model import class_name_sort_key
from journal.names import class_key, year_name
from journal.russian import format_date, format_date_short
from pipeline.audit import AUDITS_DIR
from pipeline.settings import Settings
from pipeline.verify import format_report, verifier_for
from storage.catalog import find_bundle, fixity_history, list_bundles, replicas_of
from storage.retention import RETENTION_RULES
from storage.target import ReplicaStatus
from validators.bundle_checks import BundleReport

__all__ = ["BundleReport", "format_report"]


def local_time(stamp: str | None) -> str:
    """A catalog UTC time as the school reads it: «05.09.2024 14:03» in this machine's zone."""
    if not stamp:
        return ""
    when = dt.datetime.fromisoformat(stamp)
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    when = when.astimezone()
    return f"{format_date_short(when.date())} {when:%H:%M}"


def kind_choices() -> list[tuple[str, str]]:
    """(word, title) of every bundle kind, for the search form."""
    return [(spec.option, spec.title) for spec in KINDS.values()]


def _kind_of_option(option: str) -> str | None:
    return next((spec.kind for spec in KINDS.values() if spec.option == option), None)


@dataclass(frozen=True)
class ReplicaView:
    target: str
    state: str  # «проверена», «повреждена»…
    verified: bool
    checked: str  # local time of the last check, "" if never


@dataclass(frozen=True)
class BundleView:
    bundle_id: str
    year: str
    class_name: str
    kind: str
    kind_title: str
    span: str
    version: int
    created: str
    retention: str  # in words
    retain_until: str
    sealed: bool
    superseded_by: str
    replicas: tuple[ReplicaView, ...]

    @property
    def last_verified(self) -> str:
        times = [r.checked for r in self.replicas if r.verified and r.checked]
        return max(times, key=_sortable) if times else ""

    @property
    def all_verified(self) -> bool:
        return bool(self.replicas) and all(r.verified for r in self.replicas)


def _sortable(shown: str) -> str:
    day, time = shown.split(" ")
    d, m, y = day.split(".")
    return f"{y}{m}{d}{time}"


def _view(db, record) -> BundleView:  # type: ignore[no-untyped-def]
    rule = RETENTION_RULES.get(record.retention_class)
    return BundleView(
        bundle_id=record.bundle_id,
        year=record.year,
        class_name=record.class_name,
        kind=record.kind,
        kind_title=kind_title(record.kind),
        span=record.span_name,
        version=record.version,
        created=format_date_short(dt.date.fromisoformat(record.created)),
        retention=rule.description if rule else record.retention_class,
        retain_until=format_date(dt.date.fromisoformat(record.retain_until)),
        sealed=bool(record.sealed),
        superseded_by=record.superseded_by or "",
        replicas=tuple(
            ReplicaView(
                r.target, r.status.title, r.status == ReplicaStatus.VERIFIED, local_time(r.checked_at)
            )
            for r in replicas_of(db, record.bundle_id)
        ),
    )


def find_bundles(
    settings: Settings,
    year: str | None = None,
    class_name: str | None = None,
    kind: str | None = None,
    *,
    show_all: bool = False,
) -> list[BundleView]:
    """Catalogued bundles (current versions unless `show_all`) in school order; names match loosely."""
    if not settings.has_catalog():
        return []
    db = settings.open_catalog()
    try:
        kind_code = _kind_of_option(kind) if kind else None
        if kind and kind_code is None:
            return []
        records = list_bundles(
            db, year=year_name(year) if year else None, kind=kind_code, current_only=not show_all
        )
        if class_name:
            records = [r for r in records if class_key(r.class_name) == class_key(class_name)]
        order = {spec.kind: number for number, spec in enumerate(KINDS.values())}
        records.sort(
            key=lambda r: (
                r.year,
                class_name_sort_key(r.class_name),
                order.get(r.kind, 99),
                r.span,
                r.version,
            )
        )
        return [_view(db, record) for record in records]
    finally:
        db.close()


def years(settings: Settings) -> list[str]:
    """The academic years the catalog holds, newest first."""
    if not settings.has_catalog():
        return []
    db = settings.open_catalog()
    try:
        return sorted({record.year for record in list_bundles(db)}, reverse=True)
    finally:
        db.close()


def bundle(settings: Settings, bundle_id: str) -> BundleView | None:
    if not settings.has_catalog():
        return None
    db = settings.open_catalog()
    try:
        record = find_bundle(db, bundle_id)
        return _view(db, record) if record else None
    finally:
        db.close()


@dataclass(frozen=True)
class FixityView:
    checked: str
    target: str
    state: str
    verified: bool
    detail: str
    action: str


def history(settings: Settings, bundle_id: str) -> list[FixityView]:
    """Every recorded check of a bundle's replicas, newest first (R7)."""
    if not settings.has_catalog():
        return []
    db = settings.open_catalog()
    try:
        checks = fixity_history(db, bundle_id)
    finally:
        db.close()
    return [
        FixityView(
            local_time(c.checked_at),
            c.target,
            c.status.title,
            c.status == ReplicaStatus.VERIFIED,
            c.detail,
            c.action,
        )
        for c in reversed(checks)
    ]


# --- audit digests ------------------------------------------------------------------

DIGEST_NAME = re.compile(r"^[0-9T:Z-]+\.txt$")


@dataclass(frozen=True)
class DigestView:
    name: str
    written: str
    failed: bool  # the digest ends with the warning that some copies stay bad


def digests(settings: Settings) -> list[DigestView]:
    """The fixity audit's digests in home/audits, newest first."""
    folder = settings.home / AUDITS_DIR
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.glob("*.txt"), reverse=True):
        text = path.read_text(encoding="utf-8")
        written = local_time(dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC).isoformat())
        found.append(DigestView(path.name, written, "ВНИМАНИЕ" in text))
    return found


def digest_text(settings: Settings, name: str) -> str | None:
    """One digest by its file name; None for anything that is not a digest's name (no paths)."""
    if not DIGEST_NAME.match(name):
        return None
    path = settings.home / AUDITS_DIR / name
    return path.read_text(encoding="utf-8") if path.is_file() else None


# --- verification -------------------------------------------------------------------


def replicas_to_verify(settings: Settings, bundle_ids: Sequence[str] | None) -> int:
    """How many replicas `verify_bundles` will check (for the progress bar)."""
    if not settings.has_catalog():
        return 0
    db = settings.open_catalog()
    try:
        records = list_bundles(db)
    finally:
        db.close()
    chosen = [r for r in records if bundle_ids is None or r.bundle_id in bundle_ids]
    return len(chosen) * len(settings.targets())


def verify_bundles(
    settings: Settings,
    bundle_ids: Sequence[str] | None,
    on_replica: Callable[[BundleReport], None] | None = None,
) -> list[BundleReport]:
    """The one verify of the chosen bundles (every bundle if None) on every target, read in place."""
    targets = settings.targets()
    with verifier_for(settings) as verifier:
        records = list_bundles(verifier.db) if verifier.db is not None else []
        reports = []
        for record in records:
            if bundle_ids is not None and record.bundle_id not in bundle_ids:
                continue
            for target in targets:
                report = verifier.stored(target, record)
                reports.append(report)
                if on_replica is not None:
                    on_replica(report)
        return reports


def report_json(reports: Sequence[BundleReport]) -> str:
    """The JSON report, as `journal-archive verify --json` prints it."""
    return format_report(reports, json=True)


def reports_dir(settings: Settings) -> Path:
    return settings.home / "web" / "reports"
