"""The journal itself: the demo school, checking the journal against its rules, importing an archived XML.

Plain functions behind `journal-archive demo`, `check` and `import`; they return values
and the CLI prints them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from documents.layout import span_title
from documents.seal import create_demo_signing_pair
from documents.xml_format import read_journal_xml, school_year_of
from journal.demo import DEMO_SCHOOL_NUMBER, generate_demo_school
from journal.model import ClassJournal, SchoolYear
from journal.russian import count_words
from journal.source import (
    create_schema,
    extract_class_journal,
    list_classes,
    open_source,
    remove_sqlite_database,
    select_class_names,
    write_school_year,
)
from pipeline.settings import ConfigError, Settings, load_settings, school_settings
from pipeline.targets import InitialisedTarget, init_home_targets
from validators.journal_rules import Finding, format_report, has_errors, validate_class_journal


@dataclass(frozen=True)
class DemoSchool:
    data: SchoolYear
    written_to: str  # the journal database, password hidden
    seal_certificate: Path | None  # made now; None when the home already had a seal
    targets: tuple[InitialisedTarget, ...] = ()  # folder targets inside the home prepared now


def journal_counts(students: int, lessons: int, marks: int) -> str:
    """«101 уч., 4047 уроков, 6394 отметки»: what `demo` and `import` wrote, each noun agreeing."""
    return f"{students} уч., {count_words(lessons, 'урок', 'урока', 'уроков')}, " + count_words(
        marks, "отметка", "отметки", "отметок"
    )


def imported_line(journal: ClassJournal) -> str:
    """What `import` says it wrote: «Импортирован журнал 5А класса, I четверть 2024/2025 учебного года: …»."""
    counts = journal_counts(len(journal.students), len(journal.lessons), len(journal.marks))
    return f"Импортирован журнал {journal.school_class.name} класса, {span_title(journal)}: {counts}."


def make_demo_school(
    settings: Settings,
    size: str,
    seed: int,
    *,
    source_url: str | None,
    force: bool,
) -> DemoSchool:
    """Generate the deterministic demo year into the journal database, the demo seal if there is none,
    and the roots of the folder targets inside the home (the default two), so the demo works at once.

    For a school of [[schools]] the journal names that school (demo_identity), so
    `demo --school X` writes what `demo --schools N` wrote for X."""
    url = source_url or settings.source_url
    if force:
        remove_sqlite_database(url)
    number, name, seed = demo_identity(settings, seed)
    school = generate_demo_school(size=size, seed=seed, number=number, name=name)
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


SCHOOLS_NOTE = """
# Several schools in one installation (written by `journal-archive demo --schools N`): each has its own
# journal and its own folder on the targets (keys school/year/class/bundle); all share the [[targets]] above.
"""


DEMO_SCHOOL_NAME = "МБОУ СОШ № {number}"
"""The short name of a numbered demo school, as `demo --schools N` writes it into [[schools]]."""
_NUMBERED_DEMO_SCHOOL = re.compile(re.escape(DEMO_SCHOOL_NAME).replace(re.escape("{number}"), r"(\d+)"))


def demo_identity(settings: Settings, seed: int) -> tuple[int, str | None, int]:
    """(number, name, seed) of the demo journal of the selected school. Without [[schools]]: № 17 and
    `seed`. A [[schools]] school keeps its configured name (a name like «МБОУ СОШ № 18» gives the
    number), and its seed is `seed` plus its place in the list, as `demo --schools N` numbers them."""
    if settings.school is None:
        return DEMO_SCHOOL_NUMBER, None, seed
    place = settings.schools.index(settings.school)
    numbered = _NUMBERED_DEMO_SCHOOL.fullmatch(settings.school.name)
    if numbered:
        return int(numbered.group(1)), None, seed + place
    return DEMO_SCHOOL_NUMBER + place, settings.school.name, seed + place


def demo_school_entries(count: int) -> str:
    """The [[schools]] entries of `count` demo schools, numbered from № 17."""
    entries = []
    for index in range(count):
        number = DEMO_SCHOOL_NUMBER + index
        entries.append(
            f'[[schools]]\nname = "{DEMO_SCHOOL_NAME.format(number=number)}"\nfolder = "school-{number}"\n'
            f'source_url = "sqlite:///journal-school-{number}.sqlite"\n'
        )
    return SCHOOLS_NOTE + "\n".join(entries)


def make_demo_schools(
    settings: Settings, count: int, size: str, seed: int, *, force: bool
) -> list[DemoSchool]:
    """`count` demo schools in one installation: [[schools]] entries in the configuration (unless it
    already lists schools: then its first `count`), each school's journal (seeds seed, seed+1, …).

    The configuration's [source] gives way to the schools' own journals (it is commented out)."""
    if count < 1:
        raise ConfigError("--schools: нужно число школ от 1")
    if not settings.schools:
        text = settings.config_path.read_text(encoding="utf-8")
        text = re.sub(r"(?m)^\[source\]\n(?:(?!\[)[^\n]*\n)*", _commented, text)
        settings.config_path.write_text(
            text.rstrip("\n") + "\n" + demo_school_entries(count), encoding="utf-8"
        )
        settings = load_settings(settings.home)
    if len(settings.schools) < count:
        raise ConfigError(
            f"В файле настроек {settings.config_path} {len(settings.schools)} школ [[schools]], а не {count}"
        )
    return [
        make_demo_school(school_settings(settings, school), size, seed, source_url=None, force=force)
        for school in settings.schools[:count]
    ]


def _commented(match: re.Match[str]) -> str:
    return "".join(f"# {line}" if line.strip() else line for line in match.group(0).splitlines(keepends=True))


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
