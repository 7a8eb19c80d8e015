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
    PERMANENT = "permanent"  # kept for ever: the acts that record what was destroyed


class BundleKind(StrEnum):
    """The built-in kinds of bundle; the value is what bag-info.txt says in `Bundle-Kind`.

    What each kind holds, what staff call it and its retention class are entries of the
    registry in documents/kinds.py, which may hold further kinds."""

    PERIOD = "period"  # one class, one reporting period (quarter, trimester or half-year), R1
    YEAR = "year"  # one class, the whole year: all journal sheets, R2
    SUMMARY = "summary"  # one class, the year's summary sheets of final marks, R3
    DESTRUCTION_ACT = "destruction-act"  # an approved act on destroying bundles whose retention ended


@dataclass(frozen=True, slots=True)
class RetentionRule:
    retention_class: RetentionClass
    years: int | None  # None: kept permanently
    requirement: str
    description: str  # Russian, for README.txt and reports
    source: str = ""  # Russian: where the rule comes from, for the destruction act's basis


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
        "положение об электронном классном журнале, п. 5.1, 5.2",
    ),
    RetentionClass.JOURNAL_5Y: RetentionRule(
        RetentionClass.JOURNAL_5Y,
        5,
        "R2",
        "классный журнал за учебный год; хранится 5 лет",
        "положение об электронном классном журнале, п. 5.2",
    ),
    RetentionClass.SUMMARY_25Y: RetentionRule(
        RetentionClass.SUMMARY_25Y,
        25,
        "R3",
        "сводная ведомость итоговых оценок; хранится 25 лет",
        "положение об электронном классном журнале, п. 5.3",
    ),
    RetentionClass.PERMANENT: RetentionRule(
        RetentionClass.PERMANENT,
        None,
        "R7",
        "акт о выделении к уничтожению документов; хранится постоянно",
        "правила организации хранения документов (приказ Росархива от 31.07.2023 № 77)",
    ),
}


PERMANENTLY = dt.date.max
"""The Retain-Until of a bundle kept permanently (9999-12-31): it never expires."""


def retain_until(academic_year_end: dt.date, retention_class: RetentionClass | str) -> dt.date:
    """The last day a bundle must be kept, counted from 1 January after the year closes.

    retain_until(date(2025, 5, 31), "journal-5y") → 2030-12-31;
    retain_until(date(2025, 5, 31), "summary-25y") → 2050-12-31.
    """
    rule = RETENTION_RULES[RetentionClass(retention_class)]
    if rule.years is None:
        return PERMANENTLY
    return dt.date(academic_year_end.year + rule.years, 12, 31)


def is_expired(today: dt.date, until: dt.date) -> bool:
    """True once `until` has passed: a bundle is kept through its whole last day."""
    return today > until
