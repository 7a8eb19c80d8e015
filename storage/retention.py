"""Retention facts in one place: which bundle is kept how long (R1, R2, R3, R7).

Russian archival practice counts a retention period from 1 January of the year
after the year in which the file (дело) was closed. A journal of the academic
year 2024/2025 is closed in 2025, so counting starts on 2026-01-01 and five years
end on 2030-12-31; twenty-five years end on 2050-12-31. The date a bundle may be
deleted is written into the bundle itself (bag-info `Retain-Until`), so the bag,
the catalog and a locking target (S3 Object Lock) can never disagree about it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum


class RetentionClass(StrEnum):
    """How long a bundle is kept; the value is what bag-info.txt says in `Retention-Class`."""

    QUARTER = "quarter"
    JOURNAL_5Y = "journal-5y"
    SUMMARY_25Y = "summary-25y"


class BundleKind(StrEnum):
    """What a bundle holds; the value is what bag-info.txt says in `Bundle-Kind`."""

    PERIOD = "period"  # one class, one reporting period (quarter, trimester or half-year), R1
    YEAR = "year"  # one class, the whole year: all journal sheets, R2
    SUMMARY = "summary"  # one class, the year's summary sheets of final marks, R3


BUNDLE_KIND_TITLES: dict[BundleKind, str] = {
    BundleKind.PERIOD: "журнал за период",
    BundleKind.YEAR: "журнал за год",
    BundleKind.SUMMARY: "сводные ведомости",
}
"""What staff call each kind of bundle (catalog list, receipts)."""


@dataclass(frozen=True, slots=True)
class RetentionRule:
    retention_class: RetentionClass
    years: int
    requirement: str
    description: str  # Russian, for README.txt and reports


RETENTION_RULES: dict[RetentionClass, RetentionRule] = {
    # R1 says a quarter archive is kept "until a newer archive supersedes it", i.e. until
    # the class's year bundle is sealed. That event is not known when the bundle is
    # written, yet a locking target needs a date at write time and must never be asked
    # to shorten it. So a period bundle gets the conservative date of the journal it is
    # part of (5 years, R2): it holds nothing the year bundle does not keep as long,
    # superseding is recorded in the catalog, and nothing is ever deleted early.
    RetentionClass.QUARTER: RetentionRule(
        RetentionClass.QUARTER,
        5,
        "R1",
        "архив за учебный период; хранится до замены годовым архивом класса, "
        "удаляется не раньше срока хранения журнала (5 лет)",
    ),
    RetentionClass.JOURNAL_5Y: RetentionRule(
        RetentionClass.JOURNAL_5Y, 5, "R2", "классный журнал за учебный год; хранится 5 лет"
    ),
    RetentionClass.SUMMARY_25Y: RetentionRule(
        RetentionClass.SUMMARY_25Y, 25, "R3", "сводная ведомость итоговых оценок; хранится 25 лет"
    ),
}

RETENTION_CLASS_OF_KIND: dict[BundleKind, RetentionClass] = {
    BundleKind.PERIOD: RetentionClass.QUARTER,
    BundleKind.YEAR: RetentionClass.JOURNAL_5Y,
    BundleKind.SUMMARY: RetentionClass.SUMMARY_25Y,
}


def retention_class_of(kind: BundleKind | str) -> RetentionClass:
    """The retention class a kind of bundle gets."""
    return RETENTION_CLASS_OF_KIND[BundleKind(kind)]


def retain_until(academic_year_end: dt.date, retention_class: RetentionClass | str) -> dt.date:
    """The last day a bundle must be kept, counted from 1 January after the year closes.

    retain_until(date(2025, 5, 31), "journal-5y") → 2030-12-31;
    retain_until(date(2025, 5, 31), "summary-25y") → 2050-12-31.
    """
    rule = RETENTION_RULES[RetentionClass(retention_class)]
    return dt.date(academic_year_end.year + rule.years, 12, 31)


def is_expired(today: dt.date, until: dt.date) -> bool:
    """True once `until` has passed: a bundle is kept through its whole last day."""
    return today > until
