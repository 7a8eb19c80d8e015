"""Sheets → PDF/A-3b: Jinja2 (autoescaped) → WeasyPrint (in bounded chunks) → pikepdf (R2, R5, R10).

The one renderer every printed document goes through: the class journal (documents/pdf.py)
and the year summary (documents/summary.py) each lay their sheets out as a `SheetDocument`
(documents/layout.py) and hand it to `render_document`, with their metadata, the bundle's data
files as attachments (`data_attachments`) and, for the journal, an outline. Both get back a
`RenderedDocument`: pages, sheets (pages, or half of them duplex) and sections.

How it is kept fast, bounded and safe:

- Markup. Sheets arrive fully laid out (documents/layout.py): WeasyPrint only places a
  handful of absolutely positioned, pre-formatted text blocks per sheet over a background
  SVG: 16–18× faster than a one-cell-per-mark table (benchmarks/render_marks_sheets.py).
- Chunks. A document of N sheets is rendered `chunk_size` sheets at a time, each chunk
  written to a temporary PDF and released before the next, then the chunks are merged
  with pikepdf. WeasyPrint's memory therefore depends on the chunk, not the class size.
- Margins. Sheets are laid out for the front of a sheet, the bound edge on the left
  (PageGeometry); printed duplex, each back page is shifted as a whole so that its bound
  edge, now the right one, keeps the binding margin (mirrored margins).
- Numbering. «Лист N из M» is printed by the template from the sheet model, not by a
  CSS page counter: every sheet model is exactly one page (checked after each chunk), so
  N and M are known before anything is rendered. Counters would restart in every chunk
  (fixable with `@page:first { counter-reset }`, but still needing M up front) and an
  overlay pass with pikepdf would cost a second render; the title sheet (R2) needs M
  before rendering anyway. A part whose page count is not known in advance (a flowing
  report) can be rendered first, counted, and numbered the same way.
- Safety. Templates are autoescaped, so a name or topic holding HTML, `<script>` or
  `url(file:///etc/passwd)` is printed as text. The `TemplateFetcher` serves only files
  under templates/ and the font files of documents/fonts.py, and refuses every other URL
  (other files, http, data:) — nothing is fetched on behalf of the data.
- Navigation and data. The merged file gets an outline (bookmarks) if the document gives one, and
  the data it was made from (CSV, XML) is embedded as PDF/A-3 associated files by
  `finish_pdfa` (documents/pdfa.py, the one place for PDF/A post-processing).
- Determinism. Dates come from the data (`PdfMeta`), SOURCE_DATE_EPOCH is set while
  rendering, and documents/pdfa.py saves with a content-derived /ID.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import mimetypes
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

import pikepdf
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from weasyprint import HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

from documents.fonts import FONT_FILES, TEMPLATES_DIR, clean_text, font_path
from documents.layout import (
    LESSONS,
    MARKS,
    PAGE,
    Box,
    LessonsGeometry,
    MarksGeometry,
    PageGeometry,
    Section,
    Sheet,
    SheetDocument,
    TextBlock,
)
from documents.pdfa import PDF_VARIANT, Attachment, PdfMeta, finish_pdfa

CHUNK_SHEETS = 24
"""Sheets per WeasyPrint document. Measured: 8–48 render at the same speed (the per-document
overhead is ~60 ms); each chunk embeds its own font subsets (~20 KB), and peak RSS grows by
~1 MB per sheet of chunk — 24 keeps a worker near 120–150 MB whatever the class size."""

DOCUMENT_TEMPLATE = "journal/document.html"
TEMPLATES_URL = TEMPLATES_DIR.as_uri() + "/"

LOG = logging.getLogger(__name__)


class LayoutError(RuntimeError):
    """A chunk did not come out as one page per sheet — a layout bug, never silently accepted."""


# --- Templates ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Geometry:
    """What templates (sheets and grid SVGs) know of the layout: layout.py's geometry values."""

    page: PageGeometry = PAGE
    marks: MarksGeometry = MARKS
    lessons: LessonsGeometry = LESSONS


GEOMETRY = Geometry()

SVG_CONTEXT = {"journal/marks_grid.svg": {"g": MARKS}, "journal/lessons_grid.svg": {"g": LESSONS}}
"""The grid backgrounds are Jinja templates drawn from the layout's geometry (one place for it)."""


def _num(value: float) -> str:
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _mm(value: float) -> str:
    return f"{_num(value)}mm"


def _place(box: Box) -> str:
    return f"left:{_mm(box.left)};top:{_mm(box.top)};width:{_mm(box.width)};height:{_mm(box.height)}"


def _place_line(box: Box) -> str:
    """A one-line box: its text vertically centred by a line as tall as the box."""
    return f"{_place(box)};line-height:{_mm(box.height)}"


def _sheet_style(page: int, duplex: bool) -> str:
    """The style of a sheet's page: the back of a duplex sheet is shifted (mirrored margins)."""
    shift = PAGE.shift(page, duplex)
    return f"left:{_mm(shift)}" if shift else ""


def _block_style(block: TextBlock) -> str:
    style = f"{_place(block.box)};font-size:{_num(block.size_pt)}pt;line-height:{_mm(block.leading)}"
    if block.spacing_mm:
        style += f";letter-spacing:{_mm(block.spacing_mm)}"
    if block.align:
        style += f";text-align:{block.align}"
    if block.bold:
        style += ";font-weight:bold"
    return style


@cache
def template_env() -> Environment:
    """The Jinja2 environment over templates/: autoescaped everywhere, undefined names are errors."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters.update(
        num=_num,
        mm=_mm,
        place=_place,
        place_line=_place_line,
        block_style=_block_style,
        sheet_style=_sheet_style,
    )
    return env


# --- Fetching -------------------------------------------------------------------


class FetchRefused(ValueError):
    """A URL outside templates/ and our fonts was asked for."""


class TemplateFetcher(URLFetcher):
    """A WeasyPrint URL fetcher that serves templates/ and the font files, and nothing else.

    It records every URL asked for (`requested`) and every one refused (`refused`), so a
    caller — or a test — can see that the data made WeasyPrint fetch nothing.
    """

    def __init__(self) -> None:
        super().__init__(allowed_protocols=("file",), allow_redirects=False)
        self.requested: list[str] = []
        self.refused: list[str] = []

    def fetch(self, url: str, headers: object = None) -> URLFetcherResponse:
        self.requested.append(url)
        try:
            path, body = _local_resource(url)
        except FetchRefused:
            self.refused.append(url)
            LOG.warning("refused to fetch %s", url[:200])
            raise
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return URLFetcherResponse(url, body, {"Content-Type": mime})


def _local_resource(url: str) -> tuple[Path, bytes]:
    parts = urlsplit(url)
    if parts.scheme != "file" or parts.netloc not in ("", "localhost") or parts.query:
        raise FetchRefused(f"not a local template file: {url[:200]}")
    path = Path(url2pathname(unquote(parts.path))).resolve()
    templates = TEMPLATES_DIR.resolve()
    if path.parent == templates / "fonts" and path.name in FONT_FILES:
        return path, font_path(path.name).read_bytes()
    if not path.is_relative_to(templates) or not path.is_file():
        raise FetchRefused(f"outside templates/: {url[:200]}")
    name = path.relative_to(templates).as_posix()
    if name in SVG_CONTEXT:
        return path, _rendered_svg(name)
    return path, path.read_bytes()


@cache
def _rendered_svg(name: str) -> bytes:
    return template_env().get_template(name).render(**SVG_CONTEXT[name]).encode()


# --- Rendering ------------------------------------------------------------------


@contextlib.contextmanager
def _source_date_epoch(when: dt.datetime) -> Iterator[None]:
    """SOURCE_DATE_EPOCH from the data while rendering: fontTools' subsetter (used when
    harfbuzz-subset is missing) stamps it into fonts instead of the current time."""
    previous = os.environ.get("SOURCE_DATE_EPOCH")
    os.environ["SOURCE_DATE_EPOCH"] = str(int(when.timestamp()))
    try:
        yield
    finally:
        if previous is None:
            del os.environ["SOURCE_DATE_EPOCH"]
        else:
            os.environ["SOURCE_DATE_EPOCH"] = previous


def sheets_html(sheets: Sequence[Sheet], meta: PdfMeta, *, duplex: bool = False) -> str:
    """The HTML of one chunk of sheets; `duplex` mirrors the margins of every back (even) page."""
    return (
        template_env()
        .get_template(DOCUMENT_TEMPLATE)
        .render(sheets=sheets, meta=meta, geo=GEOMETRY, duplex=duplex)
    )


def render_sheets_pdf(
    sheets: Sequence[Sheet],
    target: Path,
    meta: PdfMeta,
    *,
    chunk_size: int = CHUNK_SHEETS,
    url_fetcher: TemplateFetcher | None = None,
    bookmarks: Sequence[Bookmark] = (),
    attachments: Sequence[Attachment] = (),
    duplex: bool = False,
) -> int:
    """Render numbered sheets to one PDF/A-3b file at `target`; returns the page count.

    Sheets must be numbered 1…M (layout.number_sheets). They are rendered `chunk_size`
    at a time so memory stays flat however many there are. `duplex`: every even page is the
    back of a sheet and is shifted so that its bound edge, the right one, keeps the binding
    margin (PageGeometry.shift).
    """
    if not sheets:
        raise ValueError(f"no sheets to render for «{meta.title}»")
    for expected, sheet in enumerate(sheets, start=1):
        if (sheet.number, sheet.total) != (expected, len(sheets)):
            raise ValueError(
                f"sheet {expected} of «{meta.title}» is numbered {sheet.number} of {sheet.total}"
            )
    fetcher = url_fetcher or TemplateFetcher()
    image_cache: dict = {}  # the grid SVGs, parsed once per document instead of once per chunk
    with tempfile.TemporaryDirectory(prefix="sheets-") as tmp, _source_date_epoch(meta.created):
        parts = []
        for start in range(0, len(sheets), chunk_size):
            chunk = sheets[start : start + chunk_size]
            part = Path(tmp) / f"part-{start:06d}.pdf"
            _render_chunk(chunk, part, meta, fetcher, image_cache, duplex)
            parts.append(part)
        return _merge(parts, target, meta, bookmarks, attachments)


def _render_chunk(
    chunk: Sequence[Sheet],
    part: Path,
    meta: PdfMeta,
    fetcher: TemplateFetcher,
    image_cache: dict,
    duplex: bool,
) -> None:
    html = HTML(string=sheets_html(chunk, meta, duplex=duplex), base_url=TEMPLATES_URL, url_fetcher=fetcher)
    document = html.render(font_config=FontConfiguration(), cache=image_cache)
    if len(document.pages) != len(chunk):
        raise LayoutError(
            f"«{meta.title}»: sheets {chunk[0].number}–{chunk[-1].number} "
            f"came out as {len(document.pages)} pages instead of {len(chunk)}"
        )
    document.write_pdf(part, pdf_variant=PDF_VARIANT)
    # Nothing of the chunk is kept: Python's collector frees its (cyclic) layout tree while the next
    # chunk renders. Peak RSS stays ~150 MB for a 300-sheet class; an explicit gc.collect() per chunk
    # only cost time.


@dataclass(frozen=True, slots=True)
class Bookmark:
    """An outline entry: a title, the page it opens (1-based) and entries under it."""

    title: str
    page: int
    children: tuple[Bookmark, ...] = ()


def _merge(
    parts: Sequence[Path],
    target: Path,
    meta: PdfMeta,
    bookmarks: Sequence[Bookmark],
    attachments: Sequence[Attachment],
) -> int:
    """Append every chunk's pages to the first chunk (which keeps its OutputIntent and XMP), add the
    outline, then finish (clean, embed the attachments, stamp metadata, save)."""
    with contextlib.ExitStack() as stack:
        pdf = stack.enter_context(pikepdf.open(parts[0]))
        for part in parts[1:]:
            pdf.pages.extend(stack.enter_context(pikepdf.open(part)).pages)
        if bookmarks:
            _add_outline(pdf, bookmarks)
        finish_pdfa(pdf, target, meta, attachments)
        return len(pdf.pages)


def _add_outline(pdf: pikepdf.Pdf, bookmarks: Sequence[Bookmark]) -> None:
    pages = len(pdf.pages)

    def item(mark: Bookmark) -> pikepdf.OutlineItem:
        if not 1 <= mark.page <= pages:
            raise ValueError(f"bookmark «{mark.title}» points at page {mark.page} of {pages}")
        entry = pikepdf.OutlineItem(clean_text(mark.title, 200), mark.page - 1)
        entry.children.extend(item(child) for child in mark.children)
        return entry

    with pdf.open_outline() as outline:
        outline.root.extend(item(mark) for mark in bookmarks)
    pdf.Root.PageMode = pikepdf.Name.UseOutlines  # a viewer opens with the bookmarks shown


# --- Documents ------------------------------------------------------------------


@dataclass(frozen=True)
class RenderedDocument:
    """What a rendered document came to: pages, sheets (pages, or half of them duplex) and sections."""

    pages: int
    sheets: int
    sections: tuple[Section, ...] = ()
    duplex: bool = False


def render_document(
    document: SheetDocument,
    target: Path,
    meta: PdfMeta,
    *,
    attachments: Sequence[Attachment] = (),
    bookmarks: Sequence[Bookmark] = (),
    chunk_size: int = CHUNK_SHEETS,
    url_fetcher: TemplateFetcher | None = None,
) -> RenderedDocument:
    """A laid-out, numbered document as one PDF/A-3b file at `target`, and what it came to."""
    pages = render_sheets_pdf(
        document.sheets,
        Path(target),
        meta,
        chunk_size=chunk_size,
        url_fetcher=url_fetcher,
        bookmarks=bookmarks,
        attachments=attachments,
        duplex=document.duplex,
    )
    return RenderedDocument(pages, document.sheet_count, document.sections, document.duplex)


def render_html_pdf(html: str, target: Path, meta: PdfMeta, attachments: Sequence[Attachment]) -> int:
    """One HTML page set (an act, an inventory: no numbered sheets to chunk) as PDF/A-3b at `target`,
    `attachments` inside it; returns the page count."""
    document = HTML(string=html, base_url=TEMPLATES_URL, url_fetcher=TemplateFetcher())
    with tempfile.TemporaryDirectory(prefix="document-") as tmp, _source_date_epoch(meta.created):
        part = Path(tmp) / "document.pdf"
        document.write_pdf(part, pdf_variant=PDF_VARIANT)
        with pikepdf.open(part) as pdf:
            pages = len(pdf.pages)
            finish_pdfa(pdf, target, meta, attachments)
    return pages


ATTACHMENT_TYPES = {
    ".csv": ("text/csv", "Data"),
    ".json": ("application/json", "Data"),
    ".xsd": ("application/xml", "Data"),
    ".xml": ("application/xml", "Source"),
}
"""MIME type and /AFRelationship by file extension. journal.xml is the Source: the document is
made from exactly that data and importing it rebuilds the journal (R10); the CSV tables, their
CSVW description and the XSD are Data behind what is printed."""


def data_attachments(
    files: Mapping[str, bytes], descriptions: Mapping[str, str], *, fallback: str, document: str
) -> tuple[Attachment, ...]:
    """A bundle's data files as PDF/A-3 attachments, in name order, with type, relationship and a
    Russian description: `descriptions[name]`, else «{fallback}: {name}». `document` names the PDF
    in the error for a file of another type."""
    attachments = []
    for name in sorted(files):
        suffix = Path(name).suffix.lower()
        if suffix not in ATTACHMENT_TYPES:
            raise ValueError(f"{name}: only CSV, JSON, XML and XSD files are embedded in the {document} PDF")
        mime, relationship = ATTACHMENT_TYPES[suffix]
        description = descriptions.get(name) or f"{fallback}: {name}"
        attachments.append(Attachment(name, files[name], mime, clean_text(description, 500), relationship))
    return tuple(attachments)
