"""Renewing the evidence of sealed bundles before it expires (R3, R7; documents/evidence.py).

A bundle's evidence expires with the certificate of the TSA that issued its newest timestamp
(a seal without a timestamp: with the school's certificate). `renew_due` adds the next evidence
record, one and the same, to every replica of each sealed bundle whose evidence expires within
`[seal] renew_within_days` of the clock: new files only, so Object Lock buckets and read-only
folders take it, and the payload and its manifests are never touched.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from documents import evidence
from documents._exec.tsa_client import TimestampError
from documents.seal import SealCheck, check_seal, load_certificates
from pipeline.errors import EvidenceError
from pipeline.settings import ConfigError, Settings
from storage.bagformat import PAYLOAD_DIR
from storage.catalog import list_bundles
from storage.target import StorageError, Target


@dataclass(frozen=True, slots=True)
class Renewal:
    """What renewal did for one bundle, in Russian for the report."""

    bundle_id: str
    expires: dt.datetime | None  # the evidence's expiry before renewal
    added: tuple[str, ...]  # the new files (same on every replica)
    message: str
    ok: bool


def expiry(check: SealCheck) -> dt.datetime | None:
    """When the seal stops being provable unless renewed: the evidence's, else the certificate's end."""
    return check.evidence_expires or check.certificate_expires


def is_due(check: SealCheck, now: dt.datetime, within_days: int) -> bool:
    ends = expiry(check)
    return ends is not None and ends - now <= dt.timedelta(days=within_days)


def trust_chain(settings: Settings) -> list:  # type: ignore[type-arg]
    """Certificates a new record stores besides those already in the bag: the TSA trust anchors."""
    if settings.tsa_certificate.is_file():
        return load_certificates(settings.tsa_certificate)
    return []


def read_tag_files(target: Target, key: str, folder: Path) -> list[str]:
    """Copy a stored bundle's files outside data/ (tag files and evidence, kilobytes) into `folder`."""
    paths = [p for p in target.iter_files(key) if not p.startswith(PAYLOAD_DIR + "/")]
    for path in paths:
        local = folder.joinpath(*path.split("/"))
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_bytes(target.read_file(key, path))
    return paths


def _existing(path: Path) -> Path | None:
    return path if path.is_file() else None


def renew_due(
    settings: Settings,
    *,
    force: bool = False,
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> list[Renewal]:
    """Renew every sealed bundle in the catalog whose evidence is due (all with `force`)."""
    if not settings.tsa_url:
        raise ConfigError(f"{settings.config_path}: не задан [seal] tsa_url — продлить доказательства нельзя")
    now = clock()
    db = settings.open_catalog()
    try:
        records = [r for r in list_bundles(db) if r.sealed]
    finally:
        db.close()
    targets = settings.targets()
    results = []
    for record in records:
        holders = [t for t in targets if _has(t, record.key)]
        if not holders:
            continue
        results.append(_renew_one(settings, record.bundle_id, record.key, holders, now, force))
    return results


def renew_folders(settings: Settings, paths: Sequence[Path]) -> list[tuple[Path, list[str]]]:
    """Add the next evidence record to bundle folders on disk (an auditor's copy); (folder, new files)."""
    if not settings.tsa_url:
        raise ConfigError(f"{settings.config_path}: не задан [seal] tsa_url — продлить доказательства нельзя")
    done = []
    for path in paths:
        try:
            done.append((path, evidence.renew_folder(path, settings.tsa_url, trust_chain(settings))))
        except (OSError, TimestampError) as error:
            raise EvidenceError(f"{path}: {error}") from error
    return done


def _has(target: Target, key: str) -> bool:
    try:
        return target.has_bundle(key)
    except StorageError:
        return False


def _renew_one(
    settings: Settings, bundle_id: str, key: str, holders: list[Target], now: dt.datetime, force: bool
) -> Renewal:
    with tempfile.TemporaryDirectory(prefix="renew-") as tmp:
        folder = Path(tmp)
        try:
            read_tag_files(holders[0], key, folder)
        except (OSError, StorageError) as error:
            return Renewal(bundle_id, None, (), f"не прочитан с {holders[0].name}: {error}", False)
        check = check_seal(
            folder,
            _existing(settings.seal_certificate),
            tsa_certificate=_existing(settings.tsa_certificate),
            at=now,
        )
        ends = expiry(check)
        if check.problems:
            return Renewal(
                bundle_id, ends, (), "печать не проходит проверку: " + "; ".join(check.problems), False
            )
        if not force and not is_due(check, now, settings.renew_within_days):
            return Renewal(bundle_id, ends, (), "продлевать пока не нужно", True)
        try:
            files = evidence.new_record(
                lambda path: folder.joinpath(*path.split("/")).read_bytes(),
                evidence.tag_paths(folder),
                settings.tsa_url or "",
                chain=trust_chain(settings),
            )
        except TimestampError as error:
            return Renewal(bundle_id, ends, (), str(error), False)
    failed = []
    for target in holders:
        try:
            target.add_files(key, files)
        except StorageError as error:
            failed.append(str(error))
    added = tuple(files)
    if failed:
        return Renewal(bundle_id, ends, added, "; ".join(failed), False)
    places = ", ".join(t.name for t in holders)
    return Renewal(bundle_id, ends, added, f"добавлена запись доказательств на {places}", True)
