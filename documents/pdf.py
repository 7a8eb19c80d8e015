"""The class journal as one PDF/A-3b file (R2, R5, R10): its metadata, outline and attachments.

The sheets are laid out by documents/sections.py (from the parts in documents/layout.py) and
rendered by documents/render.py, the renderer the year summary uses too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path

from documents.csv_export import CSV_METADATA_NAME, TABLES
from documents.fonts import clean_text
from documents.layout import Section
from documents.pdfa import Attachment, PdfMeta
from documents.render import (
    CHUNK_SHEETS,
    Bookmark,
    RenderedDocument,
    TemplateFetcher,
    data_attachments,
    render_document,
)
from documents.sections import journal_document
from documents.xml_format import XML_ATTACHMENT_DESCRIPTIONS
from journal.model import ClassJournal, data_time


def journal_meta(journal: ClassJournal) -> PdfMeta:
    """Title and dates of a class journal's PDF: dated at the end of the span it covers, midnight UTC."""
    span = journal.period.name if journal.period else "учебный год"
    created = data_time(journal.end)
    title = f"Классный журнал {journal.school_class.name} класса, {span} {journal.year.name}"
    return PdfMeta(
        title=clean_text(title, 300),
        author=clean_text(journal.school.name, 300),
        subject="Титульный лист, список обучающихся, отметки и содержание уроков, посещаемость, "
        "отчёты об успеваемости и ведении журнала, заверительный лист",
        created=created,
    )


_DESCRIPTIONS = {
    **{table.url: f"{table.title}: {table.description}" for table in TABLES},
    **XML_ATTACHMENT_DESCRIPTIONS,
    CSV_METADATA_NAME: "Описание таблиц CSV (W3C CSVW): названия и типы столбцов, связи таблиц.",
}


def journal_attachments(files: Mapping[str, bytes]) -> tuple[Attachment, ...]:
    """The bundle's data files as PDF/A-3 attachments, with type, relationship and a Russian description."""
    return data_attachments(files, _DESCRIPTIONS, fallback="Данные журнала", document="journal")


def journal_bookmarks(sections: Sequence[Section]) -> tuple[Bookmark, ...]:
    """One outline entry per section; a course's marks and lessons sheets under the course's name."""
    marks: list[Bookmark] = []
    for section in sections:
        if not section.group:
            marks.append(Bookmark(section.title, section.first_page))
            continue
        child = Bookmark(section.part.capitalize(), section.first_page)
        if marks and marks[-1].title == section.group and marks[-1].children:
            marks[-1] = dataclasses.replace(marks[-1], children=(*marks[-1].children, child))
        else:
            marks.append(Bookmark(section.group, section.first_page, (child,)))
    return tuple(marks)


def render_journal_pdf(
    journal: ClassJournal,
    target: Path,
    *,
    attachments: Mapping[str, bytes] | None = None,
    duplex: bool = False,
    chunk_size: int = CHUNK_SHEETS,
    url_fetcher: TemplateFetcher | None = None,
) -> RenderedDocument:
    """The class journal for its span as one PDF/A-3b file (R2): title sheet with contents and
    sheet count, students, marks and lessons sheets, attendance, reports, certification sheet;
    an outline per section; `attachments` (file name → bytes: the CSV and XML of the bundle)
    embedded as associated files. `duplex` counts two pages a sheet."""
    document = journal_document(journal, duplex=duplex)
    return render_document(
        document,
        target,
        journal_meta(journal),
        attachments=journal_attachments(attachments or {}),
        bookmarks=journal_bookmarks(document.sections),
        chunk_size=chunk_size,
        url_fetcher=url_fetcher,
    )
