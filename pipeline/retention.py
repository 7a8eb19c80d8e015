"""The retention sweep as the administrator runs it: what has expired, and deleting exactly that."""

from __future__ import annotations

import datetime as dt

from pipeline.settings import Settings
from storage.catalog import BundleRecord, open_catalog
from storage.sweep import SweepOutcome, expired_bundles, sweep_expired


def expired(settings: Settings, today: dt.date) -> list[BundleRecord]:
    """Bundles past their Retain-Until on `today` (a bundle is kept through its last day)."""
    if not settings.catalog_path.is_file():
        return []
    db = open_catalog(settings.catalog_path)
    try:
        return expired_bundles(db, today)
    finally:
        db.close()


def delete_expired(settings: Settings, today: dt.date) -> list[SweepOutcome]:
    """Delete every expired bundle where its target allows it; each deletion is recorded."""
    db = open_catalog(settings.catalog_path)
    try:
        return sweep_expired(db, settings.targets(), today)
    finally:
        db.close()
