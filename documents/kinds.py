"""The registry of bundle kinds: what each kind of bundle holds, how it is rendered, how long it is kept.

Everything that differs between a quarter journal, a sealed year journal and the
25-year summary sheets is one `BundleKindSpec` entry here; the pipeline, the CLI
choices (`retrieve --kind`), README.txt descriptions, the catalog's wording and the
retention rules read it. Adding a kind is one entry (with `register_kind`) and one
module for its documents.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from documents.act import ACT_FILE_DESCRIPTIONS, ACT_PDF_NAME, ACT_TITLE, act_data_files
from documents.csv_export import CSV_METADATA_NAME, csv_metadata, journal_csv_files
from documents.xml_format import JOURNAL_XML_NAME, JOURNAL_XSD_NAME, JOURNAL_XSD_PATH, validate_journal_xml
from journal.model import ClassJournal
from storage.retention import BundleKind, RetentionClass

CSV_DESCRIPTION = "Таблица данных журнала в CSV (UTF-8, RFC 4180); столбцы описаны в csv-metadata.json."
"""README.txt's line for every CSV table that its kind does not describe by name."""


class Rendered(Protocol):
    """What a PDF renderer returns: pages, and sheets (pages, or half of them for duplex printing)."""

    @property
    def pages(self) -> int: ...

    @property
    def sheets(self) -> int: ...


PdfRenderer = Callable[..., Rendered]
"""render(journal, path, *, attachments: Mapping[str, bytes], duplex: bool) → pages and sheets."""


@dataclass(frozen=True)
class Payload:
    """The files of data/ and what the PDF came to."""

    files: dict[str, bytes]
    pages: int
    sheets: int


@dataclass(frozen=True)
class BundleKindSpec:
    """One kind of bundle, everything about it that is not the same for all kinds."""

    kind: str  # bag-info `Bundle-Kind`, and the catalog's kind
    title: str  # what staff call it: «журнал за год»
    option: str  # its word on the command line (`retrieve --kind journal`)
    retention_class: RetentionClass
    span_code: Callable[[ClassJournal], str]  # Period-Code in bag-info and the bundle id: Q1, year…
    describe: Callable[[ClassJournal], str]  # External-Description and README.txt's title
    pdf_name: str
    render_pdf: PdfRenderer
    data_files: Callable[[ClassJournal, bytes], dict[str, bytes]]  # (journal, journal.xml) → the rest
    file_descriptions: Mapping[str, str]  # README.txt's line per payload file; CSV_DESCRIPTION otherwise
    sealed: bool = False  # sealed with the school's key; never changed again (R2, R3, R7)
    closes_year: bool = False  # written by `archive year`
    case_title: Callable[[str, str, str], str] | None = None  # (class, year, span) → a file's title in acts

    def describe_files(self, names: list[str]) -> dict[str, str]:
        return {name: self.file_descriptions.get(name, CSV_DESCRIPTION) for name in names}


def build_payload(
    spec: BundleKindSpec, journal: ClassJournal, work: Path, xml: bytes, *, duplex: bool
) -> Payload:
    """Every file of a bundle's data/: the data files, and the PDF that carries them inside it (PDF/A-3).

    The PDF alone then holds the data too; `duplex` counts its sheets for two-sided printing."""
    files = spec.data_files(journal, xml)
    pdf_path = work / spec.pdf_name
    rendered = spec.render_pdf(journal, pdf_path, attachments=files, duplex=duplex)
    files[spec.pdf_name] = pdf_path.read_bytes()
    return Payload(files=files, pages=rendered.pages, sheets=rendered.sheets)


# --- The kinds of a class journal (R1, R2, R3, R5, R6) ------------------------------------------

JOURNAL_PDF_NAME = "journal.pdf"
SUMMARY_PDF_NAME = "summary.pdf"

_DATA_DESCRIPTIONS = {
    JOURNAL_XML_NAME: "Все данные журнала в XML; структура описана в journal.xsd.",
    JOURNAL_XSD_NAME: "XML-схема (XSD) файла journal.xml: по ней любой проверяющий XML-инструмент "
    "убедится, что файл полон и правилен.",
    CSV_METADATA_NAME: "Описание таблиц CSV (W3C CSVW): названия и типы столбцов, связи таблиц.",
}
JOURNAL_FILE_DESCRIPTIONS = {
    JOURNAL_PDF_NAME: "Классный журнал для печати, PDF/A-3b: титульный лист с содержанием и числом листов, "
    "листы отметок и содержания уроков, отчёты, заверительный лист. Внутри PDF вложены те же данные "
    "в CSV и XML.",
    **_DATA_DESCRIPTIONS,
}
SUMMARY_FILE_DESCRIPTIONS = {
    SUMMARY_PDF_NAME: "Сводные ведомости итоговых оценок и посещаемости для печати, PDF/A-3b: "
    "титульный лист с содержанием и числом листов, ведомости, заверительный лист. "
    "Внутри PDF вложены те же данные в CSV и XML.",
    **_DATA_DESCRIPTIONS,
}


def journal_data_files(journal: ClassJournal, xml: bytes) -> dict[str, bytes]:
    """CSV tables with their CSVW metadata, the XML and its XSD (R5); the XML is checked first."""
    problems = validate_journal_xml(xml)
    if problems:
        raise ValueError(f"journal.xml не соответствует схеме: {problems[0]}")
    files = dict(journal_csv_files(journal))
    files[CSV_METADATA_NAME] = csv_metadata(journal)
    files[JOURNAL_XML_NAME] = xml
    files[JOURNAL_XSD_NAME] = JOURNAL_XSD_PATH.read_bytes()
    return files


def summary_data_files(journal: ClassJournal, xml: bytes) -> dict[str, bytes]:
    """The summary sheets' CSV and the year's XML with its XSD (R3, R6)."""
    from documents.summary import summary_csv_files

    files = dict(summary_csv_files(journal))
    files[JOURNAL_XML_NAME] = xml
    files[JOURNAL_XSD_NAME] = JOURNAL_XSD_PATH.read_bytes()
    return files


# The renderers are imported when a bundle is rendered, not when a command reads the registry:
# WeasyPrint takes a second to import.


def render_journal(
    journal: ClassJournal, target: Path, *, attachments: Mapping[str, bytes], duplex: bool
) -> Rendered:
    from documents.pdf import render_journal_pdf

    return render_journal_pdf(journal, target, attachments=attachments, duplex=duplex)


def render_summary(
    journal: ClassJournal, target: Path, *, attachments: Mapping[str, bytes], duplex: bool
) -> Rendered:
    from documents.summary import render_summary_pdf

    return render_summary_pdf(journal, target, attachments=attachments, duplex=duplex)


def _class_and_year(journal: ClassJournal) -> tuple[str, str]:
    return journal.school_class.name, journal.year.name


PERIOD = BundleKindSpec(
    kind=BundleKind.PERIOD,
    title="журнал за период",
    option="period",
    retention_class=RetentionClass.QUARTER,
    span_code=lambda journal: journal.period.code,
    describe=lambda journal: (
        f"Электронный классный журнал {journal.school_class.name} класса, "
        f"{journal.span_name} {journal.year.name}"
    ),
    pdf_name=JOURNAL_PDF_NAME,
    render_pdf=render_journal,
    data_files=journal_data_files,
    file_descriptions=JOURNAL_FILE_DESCRIPTIONS,
    case_title=lambda class_name, year, span: (
        f"Классный журнал {class_name} класса, {span} {year} учебного года"
    ),
)
YEAR = BundleKindSpec(
    kind=BundleKind.YEAR,
    title="журнал за год",
    option="journal",
    retention_class=RetentionClass.JOURNAL_5Y,
    span_code=lambda journal: "year",
    describe=lambda journal: "Классный журнал {} класса за {} учебный год".format(*_class_and_year(journal)),
    pdf_name=JOURNAL_PDF_NAME,
    render_pdf=render_journal,
    data_files=journal_data_files,
    file_descriptions=JOURNAL_FILE_DESCRIPTIONS,
    sealed=True,
    closes_year=True,
    case_title=lambda class_name, year, span: f"Классный журнал {class_name} класса, {year} учебный год",
)
SUMMARY = BundleKindSpec(
    kind=BundleKind.SUMMARY,
    title="сводные ведомости",
    option="summary",
    retention_class=RetentionClass.SUMMARY_25Y,
    span_code=lambda journal: "summary",
    describe=lambda journal: (
        "Сводные ведомости итоговых оценок и посещаемости {} класса за {} учебный год".format(
            *_class_and_year(journal)
        )
    ),
    pdf_name=SUMMARY_PDF_NAME,
    render_pdf=render_summary,
    data_files=summary_data_files,
    file_descriptions=SUMMARY_FILE_DESCRIPTIONS,
    sealed=True,
    closes_year=True,
    case_title=lambda class_name, year, span: (
        f"Сводные ведомости итоговых оценок и посещаемости {class_name} класса, {year} учебный год"
    ),
)


# --- The destruction act (kept permanently) ----------------------------------------------
# Its callables take a documents.act.DestructionAct where the journal kinds take a ClassJournal.


def _render_act(act: Any, target: Path, *, attachments: Mapping[str, bytes], duplex: bool) -> Rendered:
    from documents.act import render_act_pdf

    return render_act_pdf(act, target, attachments=attachments, duplex=duplex)


DESTRUCTION_ACT = BundleKindSpec(
    kind=BundleKind.DESTRUCTION_ACT,
    title="акт о выделении к уничтожению",
    option="act",
    retention_class=RetentionClass.PERMANENT,
    span_code=lambda act: f"act-{act.number}",
    describe=lambda act: f"{ACT_TITLE}: {act.heading}",
    pdf_name=ACT_PDF_NAME,
    render_pdf=_render_act,
    data_files=act_data_files,
    file_descriptions=ACT_FILE_DESCRIPTIONS,
)

KINDS: dict[str, BundleKindSpec] = {}


def register_kind(spec: BundleKindSpec) -> BundleKindSpec:
    """Add a kind; its `kind` and `option` must be new."""
    if spec.kind in KINDS or any(other.option == spec.option for other in KINDS.values()):
        raise ValueError(f"bundle kind {spec.kind!r} (option {spec.option!r}) is registered already")
    KINDS[spec.kind] = spec
    return spec


for _spec in (PERIOD, YEAR, SUMMARY, DESTRUCTION_ACT):
    register_kind(_spec)


def kind_spec(kind: str) -> BundleKindSpec:
    """The registry entry of a catalog or bag-info kind."""
    try:
        return KINDS[str(kind)]
    except KeyError:
        raise ValueError(f"неизвестный вид пакета: {kind}") from None


def kind_title(kind: str) -> str:
    """What staff call a kind; an unknown kind (from a newer version) is shown as it is written."""
    spec = KINDS.get(str(kind))
    return spec.title if spec else str(kind)


def year_end_kinds() -> tuple[BundleKindSpec, ...]:
    """The kinds `archive year` writes for each class, in the registry's order."""
    return tuple(spec for spec in KINDS.values() if spec.closes_year)


def case_title(kind: str, class_name: str, year: str, span_name: str) -> str:
    """A bundle's title as an act lists it: «Классный журнал 5А класса, 2024/2025 учебный год»."""
    spec = KINDS.get(str(kind))
    if spec is not None and spec.case_title is not None:
        return spec.case_title(class_name, year, span_name)
    return f"{kind_title(kind).capitalize()} {class_name} класса, {span_name} {year}"


def retrievable_kinds() -> dict[str, BundleKindSpec]:
    """The sealed kinds a secretary retrieves, by their command-line word (`retrieve --kind`)."""
    return {spec.option: spec for spec in KINDS.values() if spec.sealed}
