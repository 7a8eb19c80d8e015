"""The journal itself: the demo school, checking the journal against its rules, importing an archived XML.

Plain functions behind `journal-archive demo`, `check` and `import`; they return values
and the CLI prints them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from documents.seal import create_demo_signing_pair
from documents.xml_format import read_journal_xml, school_year_of
from journal.demo import generate_demo_school
from journal.model import ClassJournal, SchoolYear
from journal.source import (
    create_schema,
    extract_class_journal,
    list_classes,
    open_source,
    remove_sqlite_database,
    select_class_names,
    write_school_year,
)
from pipeline.settings import Settings
from pipeline.targets import InitialisedTarget, init_home_targets
from validators.journal_rules import Finding, format_report, has_errors, validate_class_journal


@dataclass(frozen=True)
class DemoSchool:
    data: SchoolYear
    written_to: str  # the journal database, password hidden
    seal_certificate: Path | None  # made now; None when the home already had a seal
    targets: tuple[InitialisedTarget, ...] = ()  # folder targets inside the home prepared now


def make_demo_school(
    settings: Settings, size: str, seed: int, *, source_url: str | None, force: bool
) -> DemoSchool:
    """Generate the deterministic demo year into the journal database, the demo seal if there is none,
    and the roots of the folder targets inside the home (the default two), so the demo works at once."""
    url = source_url or settings.source_url
    if force:
        remove_sqlite_database(url)
    school = generate_demo_school(size=size, seed=seed)
    engine = open_source(url, create=True)
    try:
        create_schema(engine)
        write_school_year(engine, school.data)
        written_to = engine.url.render_as_string(hide_password=True)
    finally:
        engine.dispose()
    data = school.data
    made = None
    if not settings.seal_key.exists() and not settings.seal_certificate.exists():
        key, certificate = create_demo_signing_pair(
            settings.seal_key.parent, data.school.name, data.year.start, common_name=data.school.short_name
        )
        if (key, certificate) != (settings.seal_key, settings.seal_certificate):
            key.rename(settings.seal_key)
            certificate.rename(settings.seal_certificate)
        made = settings.seal_certificate
    return DemoSchool(data, written_to, made, tuple(init_home_targets(settings)))


@dataclass(frozen=True)
class JournalCheck:
    findings: tuple[Finding, ...]
    report: str  # the Russian report

    @property
    def has_errors(self) -> bool:
        return has_errors(self.findings)


def check_journals(
    source_url: str, year: str, period: str | None, class_names: Sequence[str]
) -> JournalCheck:
    """Every named class (all by default) checked against the journal rules J1–J6."""
    engine = open_source(source_url)
    try:
        findings = tuple(
            finding
            for name in select_class_names(engine, year, period, tuple(class_names))
            for finding in validate_class_journal(extract_class_journal(engine, year, name, period))
        )
    finally:
        engine.dispose()
    span = f"период {period}" if period else "учебный год"
    return JournalCheck(findings, format_report(findings, title=f"Проверка журналов: {year}, {span}"))


def classes_without(settings: Settings, year: str, names: Sequence[str]) -> list[str]:
    """The year's classes not among `names`: those that split the year into other periods (J4)."""
    engine = open_source(settings.source_url)
    try:
        return [c.name for c in list_classes(engine, year) if c.name not in names]
    finally:
        engine.dispose()


def import_journal_xml(xml_file: Path, source_url: str) -> ClassJournal:
    """Read an archived journal.xml back into a journal database (R10)."""
    journal = read_journal_xml(xml_file.read_bytes(), str(xml_file))
    engine = open_source(source_url, create=True)
    try:
        create_schema(engine)
        write_school_year(engine, school_year_of(journal))
    finally:
        engine.dispose()
    return journal
